"""The drawn group against the whole eligible population (``balance --population`` for a selection design).

A selection design draws its participants at random and gives all of them the programme: there is no
control group to balance against. What can be checked is whether the drawn group looks like the population
it was drawn from. The comparison is with the **whole** eligible population, the drawn persons included
(they are part of it), so the two groups overlap and no test of a difference applies: the table is
descriptive.

Per covariate, as in :mod:`trialeval.balance` (same rules, same small-cell suppression): the means or the
level shares of the drawn group and of the population, the difference, the standardised mean difference
``d / sqrt((s²_drawn + s²_population) / 2)`` (for a share p the variance is p(1 − p)), the variance ratio and
a flag where |SMD| > 0.1 or > 0.25.

- **Drawn**: the ledger's persons, or — with ``drop_excluded`` — those not excluded after the draw.
- **Population**: the population file's persons who meet the eligibility rules, plus any drawn person not
  among them (for instance one who no longer meets a rule), so that the drawn are always included.
- The covariates of a drawn person come from the population file (the same measurement as everyone
  else's); a drawn person missing from it keeps the ledger's values.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from trialeval.config import EligibilityRule, apply_eligibility
from trialeval.disclosure import DEFAULT_MIN_CELL
from trialeval.exceptions import InputDataError, TrialevalWarning
from trialeval.io import require_columns

#: Columns of the table.
POPULATION_COLUMNS = ("covariate", "level", "mean_drawn", "mean_population", "difference", "smd",
                      "variance_ratio", "n_missing_drawn", "n_missing_population", "flag")


@dataclass(frozen=True, eq=False)
class PopulationBalance:
    """The drawn group against the eligible population: the table and the group sizes."""

    table: pd.DataFrame
    n_drawn: int
    n_population: int
    n_dropped: int = 0
    n_added: int = 0

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def _repr_html_(self) -> str:
        """A compact view for notebooks: the summary (and the table, when there is one)."""
        from trialeval._console import summary_html

        return summary_html(self)

    def summary(self) -> str:
        flagged = self.table.loc[self.table["flag"].str.startswith("|smd|"), "covariate"].unique().tolist()
        worst = self.table["smd"].abs().max()
        dropped = f", {self.n_dropped:,} excluded after the draw left out" if self.n_dropped else ""
        text = (f"Drawn group ({self.n_drawn:,} persons{dropped}) against the whole eligible population "
                f"({self.n_population:,} persons, the drawn included): largest |SMD| "
                f"{'n/a' if pd.isna(worst) else f'{worst:.3f}'}")
        text += f"; above 0.1: {', '.join(flagged)}" if flagged else "; none above 0.1"
        return text + " (descriptive: the drawn are part of the population, so no test applies)"


def population_balance(ledger: pd.DataFrame, population: pd.DataFrame, covariates: Sequence[str], *,
                       eligibility: Sequence[EligibilityRule] = (),
                       eligibility_groups: Sequence[Sequence[EligibilityRule]] = (),
                       drop_excluded: bool = False, categorical: Sequence[str] = (),
                       min_cell: int = DEFAULT_MIN_CELL, source: str = "ledger",
                       population_source: str = "population") -> PopulationBalance:
    """Compare the drawn group (``ledger``) with the whole eligible ``population`` (see the module text).

    Examples
    --------
    >>> ledger = pd.DataFrame({"person_id": ["a", "b"], "arm": "programme", "age": [40.0, 50.0]})
    >>> pop = pd.DataFrame({"person_id": list("abcd"), "age": [40.0, 50.0, 20.0, 30.0]})
    >>> r = population_balance(ledger, pop, ["age"], min_cell=0)
    >>> r.table[["mean_drawn", "mean_population", "difference"]].values.tolist()
    [[45.0, 35.0, 10.0]]
    """
    from trialeval.balance import _compare, _kind

    require_columns(ledger, ["person_id"], source)
    require_columns(population, ["person_id", *covariates], population_source)
    drawn = ledger.reset_index(drop=True)
    n_dropped = 0
    if drop_excluded and "excluded" in drawn.columns:
        excluded = drawn["excluded"].fillna(False).astype(bool).to_numpy()
        n_dropped = int(excluded.sum())
        if n_dropped:
            warnings.warn(f"{source}: {n_dropped} excluded person(s) left out of the drawn group; it is then no "
                          "longer a random selection of the eligible population alone", TrialevalWarning,
                          stacklevel=2)
        drawn = drawn.loc[~excluded].reset_index(drop=True)
    if drawn.empty:
        raise InputDataError(f"{source}: no drawn persons to compare with the population")
    ids = population["person_id"].astype(str)
    if ids.duplicated().any():
        raise InputDataError(f"{population_source}: person_id is not unique")
    eligible, _ = apply_eligibility(population, tuple(eligibility), population_source, eligibility_groups)
    # the drawn take the population file's values; one missing from it keeps the ledger's
    by_id = population.assign(person_id=ids).set_index("person_id")[list(covariates)]
    drawn_ids = drawn["person_id"].astype(str)
    known = drawn_ids.isin(by_id.index).to_numpy()
    if not known.all():
        require_columns(drawn, list(covariates), source)
    drawn_values = pd.concat([by_id.loc[drawn_ids[known]].reset_index(drop=True),
                              drawn.loc[~known, list(covariates)].reset_index(drop=True)], ignore_index=True)
    everyone = ledger.assign(person_id=ledger["person_id"].astype(str))
    outside = everyone.loc[~everyone["person_id"].isin(set(eligible["person_id"].astype(str)))]
    added = pd.concat([by_id.loc[outside["person_id"][outside["person_id"].isin(by_id.index)]],
                       outside.loc[~outside["person_id"].isin(by_id.index)].set_index("person_id")[list(covariates)]
                       if not outside["person_id"].isin(by_id.index).all() else by_id.iloc[:0]])
    pop_values = pd.concat([eligible[list(covariates)].reset_index(drop=True), added.reset_index(drop=True)],
                           ignore_index=True)
    both = pd.concat([drawn_values, pop_values], ignore_index=True)
    kinds = {c: _kind(both[c], c in categorical, population_source) for c in covariates}
    first = np.r_[np.ones(len(drawn_values), dtype=bool), np.zeros(len(pop_values), dtype=bool)]
    table = _compare(both, kinds, first, min_cell).drop(columns=["p_value", "test"])
    table.columns = list(POPULATION_COLUMNS)
    return PopulationBalance(table, len(drawn_values), len(pop_values), n_dropped, len(added))


__all__ = ["POPULATION_COLUMNS", "PopulationBalance", "population_balance"]
