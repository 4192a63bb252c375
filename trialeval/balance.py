"""Balance tests (``trialeval balance``): do the arms look alike, and the drawn group like the pool?

Per covariate the two groups are compared on non-missing values (missing values are counted per group,
never imputed):

* **continuous** (numeric, not 0/1): means, difference ``d = mean_T − mean_C``, standardised mean
  difference ``SMD = d / sqrt((s²_T + s²_C) / 2)`` with sample variances (``ddof = 1``), variance ratio
  ``s²_T / s²_C`` and the Welch t-test p-value (R ``t.test(var.equal = FALSE)``);
* **binary** (bool, true/false text, or numeric with values in {0, 1}): one row, the share of 1/true;
* **categorical** (text, pandas ``category``, or named in ``categorical=``): one row per level with the
  shares by group. For binary and categorical rows ``SMD = d / sqrt((p_T(1−p_T) + p_C(1−p_C)) / 2)`` and
  the variance ratio is ``p_T(1−p_T) / (p_C(1−p_C))``. The p-value is the covariate's, repeated on each of
  its level rows: Pearson's chi-square test of the level × group table *without* continuity correction
  (R ``chisq.test(correct = FALSE)``), or Fisher's exact test (R ``fisher.test``) when the table is 2 × 2
  and an expected count is below 5.

Rows are flagged ``|smd|>0.1`` and ``|smd|>0.25``. A covariate that is entirely missing, constant, or
missing in one group gets a row whose ``test`` column says why it was not tested.

The omnibus F-test of joint orthogonality regresses the treatment indicator on all covariates
(categoricals as dummies, listwise deletion of incomplete rows) and compares with the intercept-only
model, or with the stratum-fixed-effects-only model when ``strata_fe=True`` (R
``anova(lm(d ~ block), lm(d ~ block + x))``). Its randomisation-inference p-value re-assigns the arms by
permuting them within the randomisation blocks (``strata``) ``ri_draws`` times and recomputing F with
matrix algebra; the p-value is the share of draws with F at least the observed one, reported with its
Monte-Carlo standard error ``sqrt(p(1 − p) / draws)``.

Exported tables obey the small-cell rule (``min_cell``): a row whose statistics rest on
1 to ``min_cell − 1`` persons in some cell is blanked and flagged ``suppressed``.
"""

from __future__ import annotations

import html
import math
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from trialeval import layout
from trialeval.balance_formats import (  # noqa: F401  (FORMATS is also importable from here)
    FORMATS,
    _display,
    _latex,
    _markdown,
    _omnibus_text,
    _records,
    _text_table,
)
from trialeval.balance_omnibus import (  # noqa: F401  (the omnibus names are also importable from here)
    _CHUNK,
    _DEFAULT_BLOCKS,
    OMNIBUS_COLUMNS,
    Kind,
    _binary_values,
    _block_columns,
    _kind,
    _levels,
    _omnibus,
    _protect_omnibus,
    design_matrix,
)
from trialeval.config import EligibilityRule, apply_eligibility
from trialeval.design import Design, require_unweighted
from trialeval.disclosure import DEFAULT_MIN_CELL, check_not_person_id, secondary_rows, small_count, write_export
from trialeval.exceptions import DesignError, EstimationError, InputDataError, TrialevalWarning
from trialeval.io import (
    LEDGER_COLUMNS,
    check_ids,
    make_rng,
    require_columns,
    row_error,
    write_text,
)
from trialeval.stats.moments import CellMoments

Representativeness = Literal["both", "treatment"]
OutputFormat = Literal["csv", "xlsx", "latex", "markdown"]

#: Columns of ``balance.csv``.
BALANCE_COLUMNS = (
    "covariate", "level", "mean_treatment", "mean_control", "difference", "smd", "variance_ratio",
    "p_value", "test", "n_missing_treatment", "n_missing_control", "flag",
)
#: The representativeness table: the balance columns with the groups renamed drawn / not drawn.
REPRESENTATIVENESS_COLUMNS = tuple(
    c.replace("treatment", "drawn").replace("control", "not_drawn") for c in BALANCE_COLUMNS
)
_SUFFIX = {"csv": ".csv", "xlsx": ".xlsx", "latex": ".tex", "markdown": ".md"}
_FORMAT_OF = {".csv": "csv", ".xlsx": "xlsx", ".tex": "latex", ".md": "markdown"}
_THRESHOLDS = (0.1, 0.25)


# --------------------------------------------------------------------------------------------------
# the result


@dataclass(frozen=True, eq=False)
class BalanceResult:
    """Balance of treatment vs control, the omnibus tests, and (optionally) representativeness.

    Use :meth:`to_frame` (``balance.csv``), :meth:`omnibus` (``balance_omnibus.csv``),
    :meth:`representativeness` (``balance_representativeness.csv``), :meth:`summary`, :meth:`plot`.
    """

    balance_table: pd.DataFrame
    omnibus_table: pd.DataFrame
    representativeness_table: pd.DataFrame | None
    kinds: Mapping[str, str]
    n_treatment: int
    n_control: int
    n_drawn: int | None = None
    n_not_drawn: int | None = None
    strata: tuple[str, ...] = ()
    strata_fe: bool = False
    ri_draws: int = 2000
    seed: int | None = None
    alpha: float = 0.05
    min_cell: int = DEFAULT_MIN_CELL
    representativeness_mode: str = "both"
    groups: tuple[str, str] = Design().labels  # the labels of the role columns *_treatment, *_control

    @property
    def covariates(self) -> tuple[str, ...]:
        return tuple(self.kinds)

    def to_frame(self) -> pd.DataFrame:
        """The balance table (``balance.csv``): one row per covariate or level of a categorical."""
        return self.balance_table.copy()

    def tidy(self, table: Literal["balance", "representativeness"] = "balance") -> pd.DataFrame:
        """One row per covariate (or level of a categorical) in the broom sense: ``term``
        (``covariate`` or ``covariate=level``), ``estimate`` (difference of the group means or shares),
        ``smd``, ``variance_ratio``, ``p_value``, ``test``, the two means and ``flag`` (rows resting on
        small cells are blank, as exported)."""
        from trialeval._balance_text import tidy

        return tidy(self._table(table))

    def omnibus(self) -> pd.DataFrame:
        """The omnibus tests (``balance_omnibus.csv``): the F-test and its randomisation p-value.

        Row ``f_test`` holds F, its degrees of freedom and the F-distribution p-value; row
        ``randomisation_inference`` holds the same F and df with the randomisation p-value, the
        Monte-Carlo standard error of that p-value in ``mc_se`` and the number of draws in ``draws``.
        ``n_used`` persons entered the regression, ``n_dropped`` were dropped for missing covariates.
        """
        return self.omnibus_table.copy()

    def representativeness(self) -> pd.DataFrame | None:
        """Drawn persons vs eligible candidates not drawn (``balance_representativeness.csv``), or None.

        Same statistics as :meth:`to_frame`; ``mean_drawn``/``n_missing_drawn`` describe the drawn group
        (both arms, or the treatment arm only), ``mean_not_drawn``/``n_missing_not_drawn`` the eligible
        candidates never drawn, and ``difference`` is drawn − not drawn.
        """
        return None if self.representativeness_table is None else self.representativeness_table.copy()

    @cached_property
    def flagged(self) -> pd.DataFrame:
        """Rows of the balance table with ``|SMD| > 0.1``."""
        t = self.balance_table
        return t.loc[t["flag"].str.startswith("|smd|")].copy()

    def summary(self, lang: str = "en") -> str:
        """A readable report: the balance table with flags, the omnibus tests, representativeness; numbers
        in ``lang`` (en or da)."""
        from trialeval._balance_text import summary_text

        return summary_text(self, lang)

    def plot(self, ax: Any = None, lang: str | None = None) -> Any:
        """Love plot of the SMDs (with the representativeness SMDs as open circles when present); with
        ``lang`` the covariates by their readable labels in that language."""
        from trialeval.plots import love_plot

        comparison = None
        if self.representativeness_table is not None:
            comparison = self.representativeness_table
        return love_plot(self.balance_table, comparison=comparison, ax=ax, lang=lang)

    def to_dict(self) -> dict[str, Any]:
        """Plain Python (JSON-ready: NaN becomes None)."""
        rep = self.representativeness_table
        return {
            "n_treatment": self.n_treatment, "n_control": self.n_control, "groups": list(self.groups),
            "n_drawn": self.n_drawn, "n_not_drawn": self.n_not_drawn,
            "kinds": dict(self.kinds), "strata": list(self.strata), "strata_fe": self.strata_fe,
            "ri_draws": self.ri_draws, "seed": self.seed, "alpha": self.alpha, "min_cell": self.min_cell,
            "representativeness_mode": self.representativeness_mode,
            "balance": _records(self.balance_table),
            "omnibus": _records(self.omnibus_table),
            "representativeness": None if rep is None else _records(rep),
        }

    def _repr_html_(self) -> str:
        parts = [f"<h4>Balance: {html.escape(self.groups[0])} (n={self.n_treatment}) vs "
                 f"{html.escape(self.groups[1])} (n={self.n_control})</h4>",
                 self.balance_table.to_html(index=False, na_rep=""),
                 "<h4>Omnibus tests</h4>", self.omnibus_table.to_html(index=False, na_rep="")]
        if self.representativeness_table is not None:
            parts += [f"<h4>Representativeness: drawn (n={self.n_drawn}) vs eligible not drawn "
                      f"(n={self.n_not_drawn})</h4>",
                      self.representativeness_table.to_html(index=False, na_rep="")]
        return "\n".join(parts)

    def to_markdown(self, table: Literal["balance", "omnibus", "representativeness"] = "balance") -> str:
        """One of the tables as a GitHub-flavoured Markdown pipe table (numbers to 3 decimals)."""
        return _markdown(_display(self._table(table)))

    def to_latex(self, table: Literal["balance", "omnibus", "representativeness"] = "balance") -> str:
        """One of the tables as a LaTeX ``tabular`` (booktabs rules; numbers to 3 decimals)."""
        return _latex(_display(self._table(table)))

    def _table(self, name: str) -> pd.DataFrame:
        tables = {"balance": self.balance_table, "omnibus": self.omnibus_table,
                  "representativeness": self.representativeness_table}
        if name not in tables:
            raise InputDataError(f"table must be one of {', '.join(tables)}; got {name!r}")
        if tables[name] is None:
            raise InputDataError("no representativeness table: balance() was called without a population")
        table = tables[name]
        assert table is not None  # checked just above
        return table

    def write(self, path: str | os.PathLike[str], format: OutputFormat | None = None) -> list[Path]:
        """Write the tables: ``path``, ``<stem>_omnibus<suffix>`` and ``<stem>_representativeness<suffix>``.

        The format follows ``format`` or else the extension (``.csv``, ``.xlsx``, ``.tex``, ``.md``).
        Each file is written atomically. Returns the paths written.

        Examples
        --------
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> result = balance(_example_ledger(), ri_draws=200, rng=1)
        >>> [p.name for p in result.write(d / "balance.csv")]
        ['balance.csv', 'balance_omnibus.csv']
        """
        path = Path(path)
        fmt = output_format(path, format)
        targets = [(path, self.balance_table, "balance"),
                   (layout.balance_omnibus(path), self.omnibus_table, "omnibus")]
        if self.representativeness_table is not None:
            targets.append((layout.balance_representativeness(path),
                            self.representativeness_table, "representativeness"))
        if fmt in ("latex", "markdown"):
            render = _latex if fmt == "latex" else _markdown
            texts = [(p, render(_display(t))) for p, t, _ in targets]  # render all before writing any
            for p, text in texts:
                write_text(text, p)
        else:
            for p, t, sheet in targets:
                _write_frame(t, p, fmt, sheet)
        return [p for p, _, _ in targets]


def output_format(path: str | os.PathLike[str], format: str | None = None) -> str:
    """The output format: ``format`` if given (it must not contradict a known extension), else by extension.

    Examples
    --------
    >>> output_format("balance.xlsx"), output_format("t.txt", "latex")
    ('xlsx', 'latex')
    """
    suffix = Path(path).suffix.lower()
    implied = _FORMAT_OF.get(suffix)
    if format is None:
        if implied is None:
            raise InputDataError(
                f"{path}: cannot tell the output format from '{suffix}'; use .csv, .xlsx, .tex or .md "
                "or give --format"
            )
        return implied
    if format not in FORMATS:
        raise InputDataError(f"format must be one of {', '.join(FORMATS)}; got {format!r}")
    if implied is not None and implied != format:
        raise InputDataError(f"{path}: extension '{suffix}' contradicts format '{format}'")
    if format in ("csv", "xlsx") and implied is None:
        raise InputDataError(f"{path}: format '{format}' needs the extension {_SUFFIX[format]}")
    return format


def _write_frame(df: pd.DataFrame, path: Path, fmt: str, sheet: str) -> None:
    out = df.copy()
    for col in ("n_missing_treatment", "n_missing_control", "n_missing_drawn", "n_missing_not_drawn"):
        if col in out and fmt == "xlsx":  # openpyxl cannot write pd.NA
            out[col] = out[col].astype("float64")
    write_export(out, path, sheet_name=sheet)


# --------------------------------------------------------------------------------------------------
# the public function


def balance(
    ledger: pd.DataFrame,
    covariates: Sequence[str] | None = None,
    *,
    population: pd.DataFrame | None = None,
    eligibility: Sequence[EligibilityRule] = (),
    eligibility_groups: Sequence[Sequence[EligibilityRule]] = (),
    representativeness: Representativeness = "both",
    categorical: Sequence[str] = (),
    strata: str | Sequence[str] | None = None,
    strata_fe: bool = False,
    ri_draws: int = 2000,
    rng: np.random.Generator | int | None = None,
    alpha: float = 0.05,
    min_cell: int = DEFAULT_MIN_CELL,
    drop_excluded: bool = False,
    source: str = "ledger",
    progress: Callable[[int, int], None] | None = None,
    design: Design | None = None,
) -> BalanceResult:
    """Balance tests of treatment vs control, the omnibus F-test with a randomisation p-value, and
    (with ``population``) the drawn group vs the eligible candidates not drawn.

    Parameters
    ----------
    ledger
        Assignments ledger: ``person_id``, ``arm`` and the covariate columns.
    covariates
        Columns to compare; default every ledger column that is not a contract column.
    population
        Candidates. With it, the representativeness table compares the drawn persons with the
        candidates that meet ``eligibility`` and are not in the ledger.
    eligibility
        The config's eligibility rules, applied to ``population``.
    eligibility_groups
        The config's ``[eligibility] any_of`` groups: one of them must hold too.
    representativeness
        ``"both"`` compares both arms with the not-drawn; ``"treatment"`` only the treatment arm.
    categorical
        Covariates to treat as categorical even if numeric (e.g. a coded education level).
    strata
        Columns whose combinations are the randomisation blocks; default those of ``wave``,
        ``municipality`` and ``stratum`` the ledger has (none: one block).
    strata_fe
        Add block fixed effects to both models of the F-test.
    ri_draws
        Re-randomisations for the randomisation-inference p-value (0 skips it).
    rng
        Seed or generator for the re-randomisations.
    alpha
        Significance level used in :meth:`BalanceResult.summary`.
    min_cell
        Blank statistics resting on 1 to ``min_cell − 1`` persons with or without a level, in a group
        or missing (the disclosure rule of :mod:`trialeval.disclosure`); 0 disables. Default 5.
    drop_excluded
        Drop rows with ``excluded`` true (default: intention-to-treat, everyone drawn), with a warning.
    source
        Name of the ledger in messages.
    progress
        Optional ``callback(done, total)`` over the re-randomisations.
    design
        The trial's :class:`~trialeval.design.Design`: its programme group (the ``*_treatment`` columns)
        is compared with its reference group (``*_control``); a design that is not randomised refuses the
        randomisation p-value (``ri_draws`` > 0). Without one the groups are ``treatment`` and ``control``.
        A ``weight`` column that is not all 1 is an error: weighted comparisons are not available yet.

    Returns
    -------
    BalanceResult

    Examples
    --------
    >>> result = balance(_example_ledger(), ["age", "gender"], ri_draws=500, rng=7)
    >>> result.to_frame()[["covariate", "level", "test"]].values.tolist()
    [['age', '', 'welch_t'], ['gender', 'F', 'chi_square'], ['gender', 'M', 'chi_square']]
    >>> result.omnibus()["test"].tolist()
    ['f_test', 'randomisation_inference']
    """
    _check_options(representativeness, ri_draws, alpha, min_cell)
    if ri_draws and design is not None:
        design.require_randomised()
    seed = rng if isinstance(rng, (int, np.integer)) else None
    rng = make_rng(rng)

    ledger, covariates = _checked_ledger(ledger, covariates, categorical, drop_excluded, source, design)
    groups = (design or Design()).labels
    treated = (ledger["arm"].astype(str) == groups[0]).to_numpy()
    if treated.all() or not treated.any():
        raise EstimationError(f"{source}: both arms are needed; found only "
                              f"'{groups[0] if treated.any() else groups[1]}'")

    check_not_person_id(ledger, covariates, "covariates (--covariates)", source, categories=categorical,
                        measurements=True)
    kinds = {c: _kind(ledger[c], c in categorical, source) for c in covariates}
    table = _compare(ledger, kinds, treated, min_cell)

    block_cols = _block_columns(ledger, strata, source)
    if strata_fe and not block_cols:
        raise DesignError(f"{source}: stratum fixed effects need a stratum column; none of "
                          f"{', '.join(_DEFAULT_BLOCKS)} is present")
    omnibus = _protect_omnibus(_omnibus(ledger, kinds, treated, block_cols, strata_fe, int(ri_draws), rng,
                                        progress), min_cell)

    rep_table, n_drawn, n_not = None, None, None
    if population is not None:
        rep_table, n_drawn, n_not = _representativeness(
            ledger, treated if representativeness == "treatment" else np.ones(len(ledger), dtype=bool),
            population, kinds, categorical, eligibility, min_cell, eligibility_groups)

    return BalanceResult(
        balance_table=table, omnibus_table=omnibus, representativeness_table=rep_table, kinds=kinds,
        n_treatment=int(treated.sum()), n_control=int((~treated).sum()), n_drawn=n_drawn,
        n_not_drawn=n_not, strata=tuple(block_cols), strata_fe=strata_fe, ri_draws=int(ri_draws),
        seed=None if seed is None else int(seed), alpha=alpha, min_cell=min_cell,
        representativeness_mode=representativeness, groups=groups,
    )


def _check_options(representativeness: str, ri_draws: int, alpha: float, min_cell: int) -> None:
    """Stop on an option of :func:`balance` outside its range."""
    if representativeness not in ("both", "treatment"):
        raise InputDataError(f"representativeness must be 'both' or 'treatment'; got {representativeness!r}")
    if isinstance(ri_draws, bool) or int(ri_draws) != ri_draws or ri_draws < 0:
        raise InputDataError(f"ri_draws must be a whole number ≥ 0; got {ri_draws!r}")
    if not 0 < alpha < 1:
        raise InputDataError(f"alpha must be in (0, 1); got {alpha}")
    if min_cell < 0:
        raise InputDataError(f"min_cell must be ≥ 0; got {min_cell}")


def _checked_ledger(ledger: pd.DataFrame, covariates: Sequence[str] | None, categorical: Sequence[str],
                    drop_excluded: bool, source: str, design: Design | None = None
                    ) -> tuple[pd.DataFrame, list[str]]:
    """The ledger :func:`balance` compares (checked, re-indexed, excluded rows dropped on request) and its
    covariates (default: every column that is not a contract column)."""
    require_columns(ledger, ["person_id", "arm"], source)
    check_ids(ledger, source)
    bad_arm = ~ledger["arm"].astype(str).isin((design or Design()).labels)
    if bad_arm.any():
        raise (design or Design()).label_error(source, bad_arm.to_numpy(), declared=design is not None)
    if "weight" in ledger.columns:
        require_unweighted(pd.to_numeric(ledger["weight"], errors="coerce").to_numpy(dtype=np.float64), source)
    ledger = ledger.reset_index(drop=True)
    if drop_excluded and "excluded" in ledger.columns:
        excluded = ledger["excluded"].fillna(False).astype(bool)
        if excluded.any():
            warnings.warn(f"{source}: {int(excluded.sum())} excluded person(s) dropped; the comparison is no "
                          "longer intention-to-treat", TrialevalWarning, stacklevel=3)
        ledger = ledger.loc[~excluded].reset_index(drop=True)

    if covariates is None:
        covariates = [c for c in ledger.columns if c not in LEDGER_COLUMNS and c not in ("person_id", "arm")]
        if not covariates:
            raise InputDataError(f"{source}: no covariate columns besides the ledger's own; name covariates")
    covariates = list(dict.fromkeys(covariates))
    require_columns(ledger, covariates, source)
    unknown = [c for c in categorical if c not in covariates]
    if unknown:
        raise InputDataError(f"categorical names {', '.join(map(repr, unknown))}, not among the covariates")
    return ledger, covariates


def run_balance(
    ledger_path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    population_path: str | os.PathLike[str] | None = None,
    config_path: str | os.PathLike[str] | None = None,
    covariates: Sequence[str] | None = None,
    categorical: Sequence[str] = (),
    strata_fe: bool = False,
    treated_only: bool = False,
    ri_draws: int = 2000,
    seed: int | None = None,
    format: OutputFormat | None = None,
    plot: str | os.PathLike[str] | None = None,
    min_cell: int | None = None,
    drop_excluded: bool | None = None,
    progress: Callable[[int, int], None] | None = None,
    lang: str | None = None,
) -> BalanceResult:
    """Read the ledger (and population, config), run :func:`balance`, write the tables and the love plot
    (its labels in ``lang``, default the config's language).

    Defaults come from ``trial.toml`` when given: covariates from ``[analysis] covariates``, the seed from
    ``[trial] seed`` (else 0, so a run is always reproducible), ``min_cell`` from
    ``[analysis] min_cell_size`` (else 5), eligibility rules and column names. Nothing is written when
    the computation fails.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _example_ledger().to_csv(d / "ledger.csv", index=False)
    >>> r = run_balance(d / "ledger.csv", d / "balance.md", covariates=["age"], ri_draws=100, min_cell=0)
    >>> sorted(p.name for p in d.iterdir())
    ['balance.md', 'balance_omnibus.md', 'ledger.csv']
    """
    from trialeval.pipeline import balance as balance_step  # the step lives in the pipeline

    return balance_step(
        ledger_path, out, population=population_path, config=config_path, covariates=covariates,
        categorical=categorical, strata_fe=strata_fe, treated_only=treated_only, ri_draws=ri_draws, seed=seed,
        format=format, plot=plot, min_cell=min_cell, drop_excluded=drop_excluded, progress=progress, lang=lang,
    ).result


# --------------------------------------------------------------------------------------------------
# per-covariate comparisons


def _small(counts: Sequence[Any] | np.ndarray, min_cell: int) -> bool:
    return bool(small_count(np.asarray(counts), min_cell).any())


def _compare(df: pd.DataFrame, kinds: Mapping[str, str], first: np.ndarray, min_cell: int) -> pd.DataFrame:
    """The balance table of group ``first`` (True) vs the rest, one block of rows per covariate."""
    rows: list[dict[str, Any]] = []
    for name, kind in kinds.items():
        s = df[name]
        if kind == "continuous":
            rows.append(_continuous_row(name, pd.to_numeric(s, errors="coerce").to_numpy(dtype=float),
                                        first, min_cell))
        else:
            if kind == "binary":
                x, label = _binary_values(s)
                codes = np.where(np.isnan(x), -1, x).astype(np.int64)
                labels = ["0", label]
                report = [1]
            else:
                codes, labels = _levels(s)
                report = list(range(len(labels)))
            rows.extend(_categorical_rows(name, codes, labels, report, first, min_cell))
    table = pd.DataFrame(rows, columns=list(BALANCE_COLUMNS))
    for col in ("n_missing_treatment", "n_missing_control"):
        table[col] = table[col].astype("Int64")
    for col in ("mean_treatment", "mean_control", "difference", "smd", "variance_ratio", "p_value"):
        table[col] = table[col].astype("float64")
    return table


def _flag(smd: float) -> str:
    if not np.isnan(smd) and abs(smd) > _THRESHOLDS[1]:
        return "|smd|>0.25"
    if not np.isnan(smd) and abs(smd) > _THRESHOLDS[0]:
        return "|smd|>0.1"
    return ""


def _ratio(a: float, b: float) -> float:
    """a / b with 0/0 = NaN and x/0 = ±inf, without numpy warnings."""
    if b == 0 or np.isnan(b) or np.isnan(a):
        return np.nan if (a == 0 or np.isnan(a) or np.isnan(b)) else math.copysign(math.inf, a)
    return a / b


def _missing_counts(missing: np.ndarray, first: np.ndarray, min_cell: int) -> tuple[Any, Any]:
    counts = [int(missing[group].sum()) for group in (first, ~first)]
    # both or neither: the persons dropped from the omnibus test add the two up
    if _small(counts, min_cell):
        return pd.NA, pd.NA
    return counts[0], counts[1]


def _continuous_row(name: str, x: np.ndarray, first: np.ndarray, min_cell: int) -> dict[str, Any]:
    a, b = x[first], x[~first]
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    miss_a, miss_b = _missing_counts(np.isnan(x), first, min_cell)
    row: dict[str, Any] = {"covariate": name, "level": "", "n_missing_treatment": miss_a,
                           "n_missing_control": miss_b, "p_value": np.nan, "flag": ""}
    # group 0 the first group (treatment), 1 the other: mean NaN when empty, variance NaN below 2 values
    seen = ~np.isnan(x)
    groups = CellMoments.from_values(np.where(first[seen], 0, 1), x[seen], 2)
    mean_a, mean_b = (float(v) for v in groups.mean)
    var_a, var_b = (float(v) for v in groups.variance(ddof=1))
    diff = mean_a - mean_b
    smd = _ratio(diff, math.sqrt((var_a + var_b) / 2)) if not np.isnan(var_a + var_b) else np.nan
    row.update(mean_treatment=mean_a, mean_control=mean_b, difference=diff, smd=smd,
               variance_ratio=_ratio(var_a, var_b))
    if not len(a) and not len(b):
        row["test"] = "not tested: all missing"
    elif not len(a) or not len(b):
        row["test"] = "not tested: missing in one group"
    elif len(a) < 2 or len(b) < 2:
        row["test"] = "not tested: fewer than 2 values in a group"
    elif var_a == 0 and var_b == 0:
        row["test"] = "not tested: constant" if diff == 0 else "not tested: no variation within groups"
    else:
        row["test"] = "welch_t"
        row["p_value"] = float(stats.ttest_ind(a, b, equal_var=False).pvalue)
    row["flag"] = _flag(row["smd"])
    if _small([len(a), len(b)], min_cell):
        row.update(mean_treatment=np.nan, mean_control=np.nan, difference=np.nan, smd=np.nan,
                   variance_ratio=np.nan, flag="suppressed")
    return row


def _categorical_rows(name: str, codes: np.ndarray, labels: list[str], report: list[int],
                      first: np.ndarray, min_cell: int) -> list[dict[str, Any]]:
    k = len(labels)
    present = codes >= 0
    counts = np.zeros((k, 2), dtype=np.int64)
    if k:
        counts[:, 0] = np.bincount(codes[present & first], minlength=k)
        counts[:, 1] = np.bincount(codes[present & ~first], minlength=k)
    n = counts.sum(axis=0)
    miss_a, miss_b = _missing_counts(~present, first, min_cell)
    observed = counts.sum(axis=1) > 0
    p_value, test = np.nan, "chi_square"
    if n.sum() == 0:
        test = "not tested: all missing"
    elif (n == 0).any():
        test = "not tested: missing in one group"
    elif observed.sum() < 2:
        test = "not tested: constant"
    else:
        table = counts[observed]
        expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
        if table.shape[0] == 2 and (expected < 5).any():
            test = "fisher_exact"
            p_value = float(stats.fisher_exact(table).pvalue)
        else:
            p_value = float(stats.chi2_contingency(table, correction=False).pvalue)
    if n.sum() == 0:
        report = report[:1] if report else []
        if not report:
            return [{"covariate": name, "level": "", "mean_treatment": np.nan, "mean_control": np.nan,
                     "difference": np.nan, "smd": np.nan, "variance_ratio": np.nan, "p_value": np.nan,
                     "test": test, "n_missing_treatment": miss_a, "n_missing_control": miss_b,
                     "flag": ""}]
    rows = []
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = counts / n
    hidden = np.array([_small([counts[j, 0], n[0] - counts[j, 0], counts[j, 1], n[1] - counts[j, 1]], min_cell)
                       for j in report], dtype=np.bool_)
    if len(report) == k and k > 2:
        # the levels' shares add up to 100 %: a lone hidden level would be 100 % minus the others
        hidden = secondary_rows(np.zeros(len(report)), hidden, counts[report].min(axis=1))
    for i, j in enumerate(report):
        pa, pb = float(shares[j, 0]), float(shares[j, 1])
        diff = pa - pb
        va, vb = pa * (1 - pa), pb * (1 - pb)
        smd = _ratio(diff, math.sqrt((va + vb) / 2)) if not np.isnan(va + vb) else np.nan
        row = {"covariate": name, "level": labels[j], "mean_treatment": pa, "mean_control": pb,
               "difference": diff, "smd": smd, "variance_ratio": _ratio(va, vb), "p_value": p_value,
               "test": test, "n_missing_treatment": miss_a, "n_missing_control": miss_b, "flag": _flag(smd)}
        if hidden[i]:
            row.update(mean_treatment=np.nan, mean_control=np.nan, difference=np.nan, smd=np.nan,
                       variance_ratio=np.nan, flag="suppressed")
        rows.append(row)
    return rows


# --------------------------------------------------------------------------------------------------
# representativeness


def _representativeness(
    ledger: pd.DataFrame, compared: np.ndarray, population: pd.DataFrame, kinds: Mapping[str, str],
    categorical: Sequence[str], eligibility: Sequence[EligibilityRule], min_cell: int,
    eligibility_groups: Sequence[Sequence[EligibilityRule]] = (),
) -> tuple[pd.DataFrame, int, int]:
    """The ledger's ``compared`` persons (both groups, or the programme group only) vs the eligible
    candidates not in the ledger."""
    source = "population"
    require_columns(population, ["person_id", *kinds], source)
    eligible, _ = apply_eligibility(population, tuple(eligibility), source, eligibility_groups)
    not_drawn = eligible.loc[~eligible["person_id"].astype(str).isin(set(ledger["person_id"].astype(str)))]
    drawn = ledger.loc[compared]
    if not len(not_drawn):
        raise EstimationError(f"{source}: no eligible candidate is left undrawn; nothing to compare with")
    both = pd.concat([drawn[list(kinds)], not_drawn[list(kinds)]], ignore_index=True)
    rep_kinds = {c: _kind(both[c], c in categorical, source) for c in kinds}
    first = np.r_[np.ones(len(drawn), dtype=bool), np.zeros(len(not_drawn), dtype=bool)]
    table = _compare(both, rep_kinds, first, min_cell)
    table.columns = list(REPRESENTATIVENESS_COLUMNS)
    return table, int(len(drawn)), int(len(not_drawn))


def _example_ledger(n: int = 200, seed: int = 3) -> pd.DataFrame:
    """A small simulated ledger for the examples: age, gender, blocks ``stratum``."""
    rng = np.random.default_rng(seed)
    stratum = np.repeat(["s1", "s2"], n // 2)
    arm = np.concatenate([rng.permutation(np.repeat(["treatment", "control"], n // 4)) for _ in range(2)])
    return pd.DataFrame({
        "person_id": [f"p{i:04d}" for i in range(n)], "arm": arm, "visitation_date": "2016-03-01",
        "stratum": stratum,
        "age": np.round(rng.normal(42, 8, n)), "gender": rng.choice(["F", "M"], n),
    })
