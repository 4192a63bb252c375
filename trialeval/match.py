"""A matched comparison group for the programme group of a ledger (``trialeval match``).

Risk-set matching: each programme person is compared with candidates who could have been in the programme
at that person's visitation date.

1. **Programme persons**: the ledger's programme group (its first group), excluded persons left out unless
   ``keep_excluded``.
2. **Candidates**: the population's persons who meet the trial's eligibility rules, are not in the ledger
   at all and — unless ``same_municipalities`` — live outside the programme's municipalities.
3. **Risk sets**: one row per candidate and programme visitation month; exact matching on the month and on
   the declared ``exact`` columns.
4. **Covariates**: the declared population columns, and history covariates from the spells (weeks in each
   spell type, ordinary hours, weeks on benefit in the 52/104/156 weeks before the date), measured at the
   programme person's visitation date and, for a candidate, at the first day of the month (once per
   candidate and month, so the cost grows with candidates × months).
5. **Matching**: the logit propensity score (glm's fit) and greedy nearest neighbour on it, programme persons
   in descending score order, 1:``ratio``, caliper in SDs of the logit (:mod:`trialeval.matching`, equal
   to R's MatchIt). Without replacement a candidate is used once across all months. With ``replace`` a
   candidate can be matched again — in another month, or in the same one — and each match is a ledger row
   of its own with the match's ``match_id`` and pseudo visitation date; its weight is 1/k (k the programme
   person's number of matches), scaled so that the comparison weights add up to the number of distinct
   comparison persons, so that a person's weights add up to MatchIt's weight for that person.
6. **ATT weighting** (``method = "weighting"``) instead of matching: every candidate row of a month and
   exact cell with a programme person is kept with the odds weight p/(1 − p) = exp(logit) (WeightIt's and
   MatchIt's ATT weights, not normalised), programme persons weight 1; its pseudo visitation date is the
   first day of the month (the date its history was measured at), and ``match_id`` numbers the persons, so
   that a candidate's months form one cluster.

The output is a ledger: the programme rows (``arm`` = ``programme``) and the comparison rows
(``arm`` = ``comparison``) with ``weight``, ``match_id`` (the programme person's number; without
replacement a comparison row takes its first match's) and ``visitation_date`` (a comparison person's
pseudo visitation date). When a person has several rows, ``unit_id`` — ``<person_id>~<k>`` for the k-th
of them, the person_id otherwise — is the key the panel uses for each. Programme persons without a match
are listed with the reason and left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from trialeval.balance_weighted import WeightedBalance, balance_before_after
from trialeval.config import TrialConfig, apply_eligibility
from trialeval.exceptions import ConfigError, InputDataError
from trialeval.history import DEFAULT_WINDOWS, history_columns, history_covariates
from trialeval.matching import design_matrix, logit_propensity, nearest_neighbour

PROGRAMME, COMPARISON = "programme", "comparison"
METHODS = ("nearest", "weighting")
DEFAULT_CALIPER = 0.2


@dataclass(frozen=True)
class MatchSettings:
    """``[matching]`` of the trial config, checked, with its defaults."""

    covariates: tuple[str, ...]
    exact: tuple[str, ...] = ()
    history_windows: tuple[int, ...] = ()
    history_measures: tuple[str, ...] = ()
    method: str = "nearest"
    ratio: int = 1
    replace: bool = False
    caliper: float | None = DEFAULT_CALIPER
    same_municipalities: bool = False

    @classmethod
    def from_config(cls, table: Mapping[str, Any], source: str = "trial.toml") -> MatchSettings:
        where = f"{source}: [matching]"
        covariates = table.get("covariates")
        if not covariates or not all(isinstance(c, str) for c in covariates):
            raise ConfigError(f"{where} covariates must list the population columns to match on")
        history = dict(table.get("history", {}))
        unknown = set(history) - {"weeks", "measures"}
        if unknown:
            raise ConfigError(f"{where} history has unknown key(s) {', '.join(sorted(unknown))}; allowed: weeks, measures")
        windows = tuple(history.get("weeks", DEFAULT_WINDOWS if history else ()))
        if not all(isinstance(w, int) and 1 <= w <= 520 for w in windows):
            raise ConfigError(f"{where} history.weeks must be whole numbers of weeks from 1 to 520")
        method = table.get("method", "nearest")
        if method not in METHODS:
            raise ConfigError(f"{where} method must be \"nearest\" or \"weighting\"; got {method!r}")
        if not isinstance(table.get("replace", False), bool):
            raise ConfigError(f"{where} replace must be true or false")
        ratio = table.get("ratio", 1)
        if not isinstance(ratio, int) or ratio < 1:
            raise ConfigError(f"{where} ratio must be a whole number ≥ 1")
        caliper = table.get("caliper", DEFAULT_CALIPER)
        if caliper is not None and not (isinstance(caliper, (int, float)) and caliper > 0):
            raise ConfigError(f"{where} caliper must be a positive number of standard deviations")
        return cls(tuple(covariates), tuple(table.get("exact", ())), windows,
                   tuple(history.get("measures", ("internship", "ordinary_hours", "benefit"))) if windows else (),
                   method, ratio, bool(table.get("replace", False)), float(caliper) if caliper is not None else None,
                   bool(table.get("same_municipalities", False)))

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True, eq=False)
class ComparisonResult:
    """The matched ledger, the programme persons left unmatched and why, and the risk sets' scores."""

    ledger: pd.DataFrame
    unmatched: pd.DataFrame
    risk_sets: pd.DataFrame
    settings: MatchSettings
    counts: dict[str, int] = field(default_factory=dict)
    risk_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def balance(self) -> WeightedBalance:
        """Balance of the covariates and history in the risk sets before matching and in the matched ledger."""
        risk = self.risk_sets
        # a risk-set row matched several times (with replacement) counts once, with its weights added
        weights = pd.Series(self.ledger["weight"].to_numpy()).groupby(self.risk_rows, sort=False).sum()
        after = risk.iloc[weights.index.to_numpy()]
        return balance_before_after(risk, after, balance_columns(self.settings),
                                    programme=risk["programme"].to_numpy(),
                                    programme_after=after["programme"].to_numpy(),
                                    weights_after=weights.to_numpy())

    def _repr_html_(self) -> str:
        """A compact view for notebooks: the summary (and the table, when there is one)."""
        from trialeval._console import summary_html

        return summary_html(self)

    def summary(self) -> str:
        c, s = self.counts, self.settings
        text = f"{c['programme']:,} programme persons, {c['candidates']:,} eligible candidates in {c['months']} visitation month(s): "
        if s.method == "weighting":
            text += (f"{c['matched']:,} weighted against {c['comparison']:,} candidate-months of "
                     f"{c.get('comparison_persons', c['comparison']):,} persons (ATT odds weights)")
        else:
            text += (f"{c['matched']:,} matched with {c.get('comparison_persons', c['comparison']):,} comparison "
                     f"persons (nearest neighbour on the logit score, 1:{s.ratio}, caliper {s.caliper} SD"
                     + (f", with replacement: {c['comparison']:,} matches)" if s.replace else ")"))
        if len(self.unmatched):
            text += f"; {len(self.unmatched):,} programme persons unmatched (listed with the reason)"
        return text


def _programme(ledger: pd.DataFrame, keep_excluded: bool) -> pd.DataFrame:
    groups = list(dict.fromkeys(ledger["arm"].astype(str)))
    first = "treatment" if "treatment" in groups else groups[0]
    rows = ledger.loc[ledger["arm"].astype(str) == first]
    if not keep_excluded and "excluded" in rows:
        rows = rows.loc[~rows["excluded"].astype(str).str.lower().isin(("true", "1"))]
    if rows.empty:
        raise InputDataError("the ledger has no programme persons to match")
    return rows


def _candidates(population: pd.DataFrame, ledger: pd.DataFrame, config: TrialConfig, programme: pd.DataFrame,
                settings: MatchSettings, source: str) -> pd.DataFrame:
    eligible, _ = apply_eligibility(population, config.rules, source, config.rule_groups)
    eligible = eligible.loc[~eligible["person_id"].isin(ledger["person_id"])]
    if not settings.same_municipalities and "municipality" in eligible:
        eligible = eligible.loc[~eligible["municipality"].isin(programme["municipality"].unique())]
    if eligible.empty:
        raise InputDataError(f"{source}: no eligible candidates outside the programme group"
                             + ("" if settings.same_municipalities else " and its municipalities"))
    return eligible


def match_comparison(ledger: pd.DataFrame, population: pd.DataFrame, spells: Any, config: TrialConfig, *,
                     keep_excluded: bool = False, source: str = "population") -> ComparisonResult:
    """Build the matched comparison group (see the module text)."""
    settings = MatchSettings.from_config(config.matching, config.source)
    needed = ["person_id", *settings.covariates, *settings.exact]
    missing = [c for c in needed if c not in population]
    if missing:
        raise InputDataError(f"{source}: missing column(s) for matching: {', '.join(missing)}")
    programme = _programme(ledger, keep_excluded)
    candidates = _candidates(population, ledger, config, programme, settings, source)
    visit = pd.to_datetime(programme["visitation_date"])
    months = visit.dt.to_period("M")
    extra = ["municipality"] if "municipality" in population else []
    features = population.set_index("person_id")[list(dict.fromkeys([*settings.covariates, *settings.exact, *extra]))]
    prog = pd.DataFrame({"person_id": programme["person_id"].to_numpy(), "date": visit.to_numpy(),
                         "month": months.astype(str).to_numpy(), "programme": True})
    cand = pd.concat([pd.DataFrame({"person_id": candidates["person_id"].to_numpy(),
                                    "date": m.to_timestamp(), "month": str(m), "programme": False})
                      for m in sorted(months.unique())], ignore_index=True)
    risk = pd.concat([prog, cand], ignore_index=True)
    risk = risk.join(features, on="person_id")
    history = history_columns(settings.history_measures, settings.history_windows)
    if history:
        risk[history] = _history(risk, spells, settings)
    exact = risk["month"].astype(str)
    for col in settings.exact:
        exact = exact + "|" + risk[col].astype(str)
    treated = risk["programme"].to_numpy()
    terms = [*settings.covariates, *history]
    score = logit_propensity(risk, treated, terms, source)
    risk["score"] = score
    if settings.method == "weighting":
        out, unmatched = _weighting(risk, exact.to_numpy())
    else:
        out, unmatched = _nearest(risk, exact.to_numpy(), settings, programme)
    out = _with_units(out)
    risk_rows = out.pop("_risk_row").to_numpy()
    counts = {"programme": len(programme), "candidates": len(candidates), "months": int(months.nunique()),
              "matched": int((out["arm"] == PROGRAMME).sum()), "comparison": int((out["arm"] == COMPARISON).sum())}
    if settings.replace or settings.method == "weighting":
        counts["comparison_persons"] = int(out.loc[out["arm"] == COMPARISON, "person_id"].nunique())
    return ComparisonResult(out, unmatched, risk, settings, counts, risk_rows)


def _history(risk: pd.DataFrame, spells: Any, settings: MatchSettings) -> pd.DataFrame:
    """History at each risk-set row's date: one panel build per distinct date group (ids unique within)."""
    parts = []
    for (is_programme, month), rows in risk.groupby(["programme", "month"], sort=True):
        parts.append(history_covariates(rows.rename(columns={"date": "visitation_date"}), spells,
                                        windows=settings.history_windows, measures=settings.history_measures))
    return pd.concat(parts).loc[risk.index]


def _ledger_rows(risk: pd.DataFrame, rows: np.ndarray, arm: str, weight: np.ndarray, match_id: np.ndarray,
                 dates: np.ndarray, programme: pd.DataFrame | None) -> pd.DataFrame:
    base = risk.iloc[rows]
    out = pd.DataFrame({"_risk_row": rows, "person_id": base["person_id"].to_numpy(), "arm": arm,
                        "visitation_date": pd.to_datetime(dates).strftime("%Y-%m-%d"),
                        "weight": weight, "match_id": match_id, "propensity_logit": base["score"].to_numpy()})
    if "municipality" in base:
        out["municipality"] = base["municipality"].to_numpy()
    return out


def _nearest(risk: pd.DataFrame, exact: np.ndarray, settings: MatchSettings, programme: pd.DataFrame
             ) -> tuple[pd.DataFrame, pd.DataFrame]:
    treated = risk["programme"].to_numpy()
    result = nearest_neighbour(risk["score"].to_numpy(), treated, ratio=settings.ratio, replace=settings.replace,
                               caliper=settings.caliper, exact=exact, unit_id=risk["person_id"].to_numpy())
    matched = result.matched
    t_rows = result.treated_rows
    ids = np.arange(1, len(t_rows) + 1)
    prog = _ledger_rows(risk, t_rows[matched], PROGRAMME, result.weights[t_rows[matched]], ids[matched],
                        risk["date"].to_numpy()[t_rows[matched]], programme)
    slots_t, slots_k = np.nonzero(result.matches >= 0)
    control_rows = result.matches[slots_t, slots_k]
    if settings.replace:
        comp = _ledger_rows(risk, control_rows, COMPARISON, _replace_weights(risk, control_rows, result.matches,
                                                                             slots_t), ids[slots_t],
                            risk["date"].to_numpy()[t_rows[slots_t]], programme)
    else:
        first = pd.Series(slots_t).groupby(control_rows).min()          # each unit is matched once
        comp = _ledger_rows(risk, first.index.to_numpy(), COMPARISON, result.weights[first.index.to_numpy()],
                            ids[first.to_numpy()], risk["date"].to_numpy()[t_rows[first.to_numpy()]], programme)
    out = pd.concat([prog, comp], ignore_index=True).sort_values(["match_id", "arm"], ascending=[True, False],
                                                                 ignore_index=True)
    in_cell = pd.Series(exact[~treated]).value_counts()
    reasons = np.where(pd.Series(exact[t_rows]).map(in_cell).fillna(0).to_numpy() == 0,
                       "no eligible candidate in the same visitation month and exact cell",
                       "no candidate left within the caliper")
    unmatched = pd.DataFrame({"person_id": risk["person_id"].to_numpy()[t_rows[~matched]],
                              "reason": reasons[~matched]})
    return out, unmatched


def _replace_weights(risk: pd.DataFrame, control_rows: np.ndarray, matches: np.ndarray,
                     slots_t: np.ndarray) -> np.ndarray:
    """One weight per match of a comparison person (matching with replacement): 1/k for a match of a
    programme person with k matches, scaled so that the weights add up to the number of distinct comparison
    persons; a person's weights then add up to MatchIt's weight of that person."""
    k = (matches >= 0).sum(axis=1)[slots_t]
    w = 1.0 / k
    persons = pd.unique(risk["person_id"].to_numpy()[control_rows])
    return np.asarray(w * (len(persons) / w.sum()), dtype=np.float64)


def _weighting(risk: pd.DataFrame, exact: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """ATT weighting: every candidate row of a month and exact cell with a programme person, weighted by
    the odds of its propensity score p / (1 − p) = exp(logit); programme persons weight 1. A candidate's
    rows (one per month) form one cluster: ``match_id`` numbers the persons."""
    treated = risk["programme"].to_numpy()
    cells = pd.Series(exact)
    has_t = cells.map(cells[treated].value_counts()).fillna(0).to_numpy() > 0
    has_c = cells.map(cells[~treated].value_counts()).fillna(0).to_numpy() > 0
    keep = has_t & has_c
    rows = np.flatnonzero(keep)
    score = risk["score"].to_numpy()
    weight = np.where(treated[rows], 1.0, np.exp(score[rows]))
    codes = pd.factorize(risk["person_id"].to_numpy()[rows])[0] + 1
    out = _ledger_rows(risk, rows, PROGRAMME, weight, codes, risk["date"].to_numpy()[rows], None)
    out["arm"] = np.where(treated[rows], PROGRAMME, COMPARISON)
    out = out.sort_values(["arm", "match_id", "visitation_date"], ascending=[False, True, True], ignore_index=True)
    lost = np.flatnonzero(treated & ~keep)
    unmatched = pd.DataFrame({"person_id": risk["person_id"].to_numpy()[lost],
                              "reason": "no eligible candidate in the same visitation month and exact cell"})
    return out, unmatched


def _with_units(out: pd.DataFrame) -> pd.DataFrame:
    """Add ``unit_id``, the panel's person key, when a person has several rows (matched in several months,
    or several times): ``<person_id>~<k>`` for the k-th of a person's rows, the person_id otherwise."""
    ids = out["person_id"].astype(str)
    several = ids.duplicated(keep=False)
    if several.any():
        k = out.groupby(ids).cumcount() + 1
        out["unit_id"] = np.where(several, ids + "~" + k.astype(str), ids)
    return out


def balance_columns(settings: MatchSettings) -> list[str]:
    """The columns balance compares before and after: the covariates and history columns."""
    return [*settings.covariates, *history_columns(settings.history_measures, settings.history_windows)]


__all__ = ["COMPARISON", "ComparisonResult", "MatchSettings", "PROGRAMME", "balance_columns", "match_comparison",
           "design_matrix"]
