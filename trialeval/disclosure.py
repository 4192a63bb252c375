"""Disclosure control for exported aggregates: the one place the rule lives.

Statistics Denmark lets no table leave a research server with a cell built on fewer than 5 persons.
Every aggregate trialeval exports — CSV, XLSX, the HTML report, console summaries, notebook displays,
figures — passes through the functions here:

* **Persons in the cell.** A mean, share or distribution cell of fewer than ``min_cell`` persons is
  blanked (:func:`suppress_small_cells`), and so is its count.
* **Persons with or without the outcome.** A share (the mean of a 0/1 indicator) or a distribution bin
  is blanked when 1 to ``min_cell − 1`` persons have the outcome, or 1 to ``min_cell − 1`` lack it
  (:func:`small_count`); the numerator of an indicator's mean is ``round(mean × n)``. A mean of a
  continuous outcome (hours) is blanked when 1 to ``min_cell − 1`` persons have a non-zero value: the
  mean of three workers' hours would give away their hours. A count of 0 (nobody, or everybody, has
  it) is shown: structural zeros such as ``reached_13_weeks`` before week 13 reveal nothing a reader
  does not know from the definition.
* **Derived and total cells.** An effect, its CI, band and p-value come from both arms' means: a row
  with a blanked mean is blanked whole. Where a total is published (the persons per arm beside the
  per-municipality counts, an arm's persons beside the bins of a distribution, the levels of a
  categorical covariate that add up to 100 %), a lone blanked cell would be recovered by subtraction,
  so the next smallest cell of that total is blanked too (:func:`protect_counts`,
  :func:`protect_distribution`, :func:`secondary_rows`).
* **Person-identifying columns** (``person_id``, or any column whose values are unique per person) may
  not be covariates, blocks or clusters (:func:`check_not_person_id`).
* **Formula injection.** Text cells that begin with ``=``, ``+``, ``-``, ``@`` (or a tab or carriage
  return) are prefixed with ``'`` in CSV and XLSX exports (:func:`neutralise_text`,
  :func:`write_export`), so a spreadsheet shows them as text instead of running them.

``min_cell = 0`` turns every rule off (an exact working table, which must not leave the server).
Working files — the ledger, ``panel.parquet``, ``panel_at_risk.csv`` — are person-level or exact and
are never passed through here.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from trialeval.exceptions import InputDataError
from trialeval.io import write_table
from trialeval.timeaxis import WEEKS_SINCE_VISITATION

DEFAULT_MIN_CELL = 5

#: Panel outcomes that are 0/1 indicators: their mean is a share, its numerator ``round(mean × n)``.
#: Any other outcome counts as an indicator too when all its values are 0 or 1 (decided where the
#: values are seen, in :func:`trialeval.effects.effects`).
INDICATOR_OUTCOMES = (
    "has_ordinary_hours", "in_internship", "in_wage_subsidy", "company_directed", "self_supporting",
    "reached_13_weeks", "reached_13_weeks_same_workplace",
)
#: The indicator whose numerator is the number of persons with positive ``ordinary_hours``.
POSITIVE_HOURS_OF = {"ordinary_hours": "has_ordinary_hours"}

#: First characters that make a spreadsheet read a text cell as a formula (OWASP CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


# --------------------------------------------------------------------------------------------------
# The primary rules
# --------------------------------------------------------------------------------------------------


def _check_min_cell(min_cell: int) -> int:
    if isinstance(min_cell, bool) or not isinstance(min_cell, (int, np.integer)) or min_cell < 0:
        raise InputDataError(f"min_cell must be a whole number >= 0; got {min_cell!r}")
    return int(min_cell)


def small_count(counts: Sequence[float] | np.ndarray | pd.Series, min_cell: int = DEFAULT_MIN_CELL) -> np.ndarray:
    """True where a count of persons is disclosive: 1 to ``min_cell − 1`` (missing counts are not).

    Examples
    --------
    >>> small_count([0, 1, 4, 5, float("nan")]).tolist()
    [False, True, True, False, False]
    """
    c = pd.to_numeric(pd.Series(np.asarray(counts, dtype=object)), errors="coerce").to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        return (c > 0) & (c < min_cell)


def few_persons(n: Sequence[float] | np.ndarray | pd.Series, min_cell: int = DEFAULT_MIN_CELL) -> np.ndarray:
    """True where a cell holds fewer than ``min_cell`` persons (an empty cell included: it has no value).

    Examples
    --------
    >>> few_persons([0, 4, 5]).tolist()
    [True, True, False]
    """
    c = pd.to_numeric(pd.Series(np.asarray(n, dtype=object)), errors="coerce").to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        return ~(c >= min_cell) if min_cell > 0 else np.zeros(len(c), dtype=bool)


def share_disclosive(n: np.ndarray | pd.Series, mean: np.ndarray | pd.Series,
                     min_cell: int = DEFAULT_MIN_CELL) -> np.ndarray:
    """True where the share ``mean`` of ``n`` persons rests on 1 to ``min_cell − 1`` persons with or without it.

    Examples
    --------
    >>> share_disclosive([40, 40, 40, 40], [3 / 40, 38 / 40, 0.5, 0.0]).tolist()
    [True, True, False, False]
    """
    n = np.asarray(pd.to_numeric(pd.Series(np.asarray(n, dtype=object)), errors="coerce"), dtype=float)
    m = np.asarray(pd.to_numeric(pd.Series(np.asarray(mean, dtype=object)), errors="coerce"), dtype=float)
    with np.errstate(invalid="ignore"):
        have = np.round(m * n)
    return small_count(have, min_cell) | small_count(n - have, min_cell)


def _blank(table: pd.DataFrame, mask: np.ndarray, columns: Iterable[str]) -> None:
    """Set ``table[columns]`` to missing where ``mask`` (in place; integer columns become float)."""
    if not mask.any():
        return
    for col in columns:
        if col not in table.columns:
            continue
        if not pd.api.types.is_float_dtype(table[col]):
            table[col] = (table[col].astype("float64") if pd.api.types.is_numeric_dtype(table[col])
                          and not pd.api.types.is_bool_dtype(table[col]) else table[col].astype(object))
        table.loc[mask, col] = np.nan


def _mark(table: pd.DataFrame, mask: np.ndarray) -> None:
    old = table["suppressed"].to_numpy(dtype=bool) if "suppressed" in table.columns else np.zeros(len(table), bool)
    table["suppressed"] = old | mask


def suppress_small_cells(
    table: pd.DataFrame,
    count_columns: Sequence[str],
    value_columns: Sequence[str],
    min_cell: int = DEFAULT_MIN_CELL,
) -> pd.DataFrame:
    """Blank the values of rows where any count is below ``min_cell``, and mark them.

    The counts themselves are blanked too (a small count is itself disclosive) and a boolean
    ``suppressed`` column says which rows were touched.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"n_treatment": [10, 3], "n_control": [8, 9], "effect": [0.1, 0.5]})
    >>> out = suppress_small_cells(t, ["n_treatment", "n_control"], ["effect"])
    >>> out["effect"].isna().tolist(), out["suppressed"].tolist()
    ([False, True], [False, True])
    """
    min_cell = _check_min_cell(min_cell)
    out = table.copy()
    small = np.zeros(len(out), dtype=bool)
    for col in count_columns:
        small |= few_persons(out[col], min_cell)
    _blank(out, small, list(value_columns) + list(count_columns))
    _mark(out, small)
    return out


# --------------------------------------------------------------------------------------------------
# Tables of arm means (effects)
# --------------------------------------------------------------------------------------------------


def protect_effect_table(
    table: pd.DataFrame,
    min_cell: int = DEFAULT_MIN_CELL,
    *,
    indicators: Iterable[str] = INDICATOR_OUTCOMES,
    nonzero: pd.DataFrame | None = None,
    keys: Sequence[str] = ("outcome", WEEKS_SINCE_VISITATION.column),
    counts: Sequence[str] = ("n_treatment", "n_control"),
    means: Sequence[str] = ("mean_treatment", "mean_control"),
) -> pd.DataFrame:
    """An effect table (one row per outcome and week, both arms) as it may be exported.

    A row is blanked — arm means, effect, standard error, CI, band, p-values — when an arm has fewer
    than ``min_cell`` persons (its counts are blanked too), when the outcome is an indicator and 1 to
    ``min_cell − 1`` persons of an arm have it or lack it, or when the outcome is continuous and 1 to
    ``min_cell − 1`` persons of an arm have a non-zero value. The non-zero counts come from ``nonzero``
    (``outcome, week, nonzero_treatment, nonzero_control``) or, for ``ordinary_hours``, from the
    ``has_ordinary_hours`` rows of the same table. A ``suppressed`` column marks the rows.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"outcome": "in_internship", "week": [1, 2], "n_treatment": [40, 40],
    ...                   "n_control": [40, 40], "mean_treatment": [0.5, 38 / 40],
    ...                   "mean_control": [0.2, 0.5], "effect": [0.3, 0.45]})
    >>> protect_effect_table(t)["effect"].tolist()
    [0.3, nan]
    """
    min_cell = _check_min_cell(min_cell)
    out = table.copy()
    if min_cell == 0 or out.empty:
        _mark(out, np.zeros(len(out), dtype=bool))        # keeps the marks of an earlier pass
        return out
    keys, counts, means = list(keys), list(counts), list(means)
    values = [c for c in out.columns if c not in keys + counts + ["suppressed"]]
    few = np.zeros(len(out), dtype=bool)
    for c in counts:
        few |= few_persons(out[c], min_cell)
    outcome = out["outcome"].astype(str).to_numpy() if "outcome" in out.columns else np.full(len(out), "")
    indicator = np.isin(outcome, list(indicators))
    sparse = np.zeros(len(out), dtype=bool)
    for n_col, m_col in zip(counts, means):
        if m_col in out.columns:
            sparse |= indicator & share_disclosive(out[n_col], out[m_col], min_cell)
    nz = _nonzero_counts(out, nonzero, keys, counts, means)
    for col in nz.columns:
        sparse |= ~indicator & small_count(nz[col], min_cell)
    _blank(out, few, counts)
    _blank(out, few | sparse, values)
    _mark(out, few | sparse)
    return out


def _nonzero_counts(table: pd.DataFrame, nonzero: pd.DataFrame | None, keys: list[str], counts: list[str],
                    means: list[str]) -> pd.DataFrame:
    """Per row of ``table``, the persons with a non-zero value in each arm (NaN where unknown)."""
    arms = [c.removeprefix("n_") for c in counts]
    cols = [f"nonzero_{a}" for a in arms]
    result = pd.DataFrame(np.nan, index=table.index, columns=cols)
    if nonzero is not None and len(nonzero):
        joined = table[keys].merge(nonzero[keys + cols], on=keys, how="left")
        result[cols] = joined[cols].to_numpy(dtype=float)
    if "outcome" not in table.columns or not set(means) <= set(table.columns):
        return result
    outcome = table["outcome"].astype(str)
    for hours, flag in POSITIVE_HOURS_OF.items():
        src = table.loc[outcome == flag]
        if src.empty or not (outcome == hours).any():
            continue
        other = [k for k in keys if k != "outcome"]
        have = src[other].copy()
        for n_col, m_col, c in zip(counts, means, cols):
            have[c] = np.round(pd.to_numeric(src[n_col], errors="coerce") * pd.to_numeric(src[m_col], errors="coerce"))
        rows = table.loc[outcome == hours, other].merge(have, on=other, how="left")
        idx = table.index[outcome == hours]
        for c in cols:
            known = result.loc[idx, c].to_numpy(dtype=float)
            result.loc[idx, c] = np.where(np.isnan(known), rows[c].to_numpy(dtype=float), known)
    return result


# --------------------------------------------------------------------------------------------------
# Distributions and count tables with published totals (secondary suppression)
# --------------------------------------------------------------------------------------------------


def _second_cell(counts: np.ndarray, hidden: np.ndarray, candidates: np.ndarray) -> int | None:
    """Index of the smallest candidate cell that is not hidden yet (positive counts first)."""
    idx = np.flatnonzero(candidates & ~hidden)
    if not len(idx):
        return None
    c = np.nan_to_num(counts[idx].astype(float), nan=np.inf)
    order = np.lexsort((np.arange(len(idx)), c, c <= 0))   # positive before zero, then smallest, then first
    return int(idx[order[0]])


def protect_distribution(
    table: pd.DataFrame,
    group: Sequence[str],
    count: str,
    total: str,
    values: Sequence[str],
    min_cell: int = DEFAULT_MIN_CELL,
) -> pd.DataFrame:
    """A distribution (bins of persons per group, beside the group's total) as it may be exported.

    A group of fewer than ``min_cell`` persons is blanked whole, its total included. A bin is blanked
    when 1 to ``min_cell − 1`` persons are in it or 1 to ``min_cell − 1`` of the group are not. The
    bins and the persons outside every bin (e.g. zero hours) add up to the published total, so when
    exactly one of them is hidden, the smallest shown bin of the group is blanked too.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"arm": "treatment", "bin": ["a", "b", "c"], "count": [3, 10, 20],
    ...                   "n": 40, "share": [3 / 40, 10 / 40, 20 / 40]})
    >>> protect_distribution(t, ["arm"], "count", "n", ["share"])["count"].tolist()
    [nan, nan, 20.0]
    """
    min_cell = _check_min_cell(min_cell)
    out = table.copy().reset_index(drop=True)
    if min_cell == 0 or out.empty:
        _mark(out, np.zeros(len(out), dtype=bool))
        return out
    counts = pd.to_numeric(out[count], errors="coerce").to_numpy(dtype=float)
    totals = pd.to_numeric(out[total], errors="coerce").to_numpy(dtype=float)
    whole = few_persons(totals, min_cell)
    blank = np.isnan(counts)                   # blanked by an earlier pass: the table is already protected
    hidden = small_count(counts, min_cell) | small_count(totals - counts, min_cell) | whole | blank
    codes = out.groupby(list(group), sort=False, dropna=False).ngroup().to_numpy()
    for g in np.unique(codes):
        rows = np.flatnonzero(codes == g)
        if whole[rows].all() or blank[rows].any():
            continue
        rest = float(totals[rows[0]] - np.nansum(counts[rows]))       # persons in no bin: never shown
        n_hidden = int(hidden[rows].sum()) + int(small_count([rest], min_cell)[0])
        if n_hidden == 1:
            extra = _second_cell(counts[rows], hidden[rows], np.ones(len(rows), dtype=bool))
            if extra is not None:
                hidden[rows[extra]] = True
    _blank(out, whole, [total])
    _blank(out, hidden, [count, *values])
    _mark(out, hidden)
    return out


def protect_counts(table: pd.DataFrame, count_columns: Sequence[str], min_cell: int = DEFAULT_MIN_CELL,
                   ) -> pd.DataFrame:
    """A table of counts of persons whose column totals are published, as it may be exported.

    Counts of 1 to ``min_cell − 1`` are blanked; where that leaves exactly one blanked cell in a column
    (its total shown elsewhere, e.g. persons drawn per arm), the smallest other cell of that column is
    blanked too, so no subtraction recovers it. A ``suppressed`` column marks rows with a blanked cell.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"municipality": ["A", "B", "C"], "treatment": [30, 12, 2]})
    >>> protect_counts(t, ["treatment"])["treatment"].tolist()
    [30.0, nan, nan]
    """
    min_cell = _check_min_cell(min_cell)
    out = table.copy().reset_index(drop=True)
    touched = np.zeros(len(out), dtype=bool)
    for col in count_columns:
        c = pd.to_numeric(out[col], errors="coerce").to_numpy(dtype=float)
        hidden = small_count(c, min_cell)
        if hidden.sum() == 1:
            extra = _second_cell(c, hidden, np.ones(len(c), dtype=bool))
            if extra is not None:
                hidden[extra] = True
        _blank(out, hidden, [col])
        touched |= hidden
    _mark(out, touched)
    return out


def secondary_rows(groups: np.ndarray, hidden: np.ndarray, size: np.ndarray) -> np.ndarray:
    """Hide a second row in every group with exactly one hidden row (the shown row of smallest ``size``).

    For rows whose values add up within a group (the shares of a categorical covariate's levels add
    up to 100 %): a lone hidden share would be 100 % minus the others.

    Examples
    --------
    >>> import numpy as np
    >>> secondary_rows(np.array([0, 0, 0, 1, 1]), np.array([True, False, False, False, False]),
    ...                np.array([2, 9, 30, 5, 5])).tolist()
    [True, True, False, False, False]
    """
    hidden = np.asarray(hidden, dtype=bool).copy()
    groups = np.asarray(groups)
    for g in pd.unique(groups):
        rows = np.flatnonzero(groups == g)
        if hidden[rows].sum() == 1:
            extra = _second_cell(np.asarray(size, dtype=float)[rows], hidden[rows], np.ones(len(rows), bool))
            if extra is not None:
                hidden[rows[extra]] = True
    return hidden


# --------------------------------------------------------------------------------------------------
# Person-identifying columns
# --------------------------------------------------------------------------------------------------


def person_identifying(df: pd.DataFrame, column: str, person: str = "person_id", *,
                       measurements: bool = False) -> bool:
    """Whether ``column`` names persons: it is the person id, or no two persons share a value of it.

    A column of non-whole numbers (an income, an age in days / 365.25) is a measurement, not a name,
    and never counts; with ``measurements`` no numeric column counts (a numeric covariate enters a table
    only through its mean, and whole-kroner incomes differ from person to person). With fewer than three
    persons nothing does (every value is unique then).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"person_id": list("abcd"), "pnr": ["01", "02", "03", "04"],
    ...                    "sex": list("FMFM"), "income": [1.5, 2.25, 3.0, 4.75]})
    >>> [person_identifying(df, c) for c in ("person_id", "pnr", "sex", "income")]
    [True, True, False, False]
    """
    if column == person:
        return True
    if person not in df.columns or column not in df.columns:
        return False
    s = df[column]
    if measurements and pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        return False
    if pd.api.types.is_float_dtype(s):
        vals = s.dropna().to_numpy(dtype=float)
        if len(vals) and not np.array_equal(vals, np.round(vals)):
            return False
    p_codes, _ = pd.factorize(df[person])
    v_codes, v_uniques = pd.factorize(s)
    ok = (p_codes >= 0) & (v_codes >= 0)
    base = len(v_uniques) + 1
    pairs = np.unique(p_codes[ok].astype(np.int64) * base + v_codes[ok])   # distinct (person, value)
    persons, values = np.unique(pairs // base), np.unique(pairs % base)
    return bool(len(persons) >= 3 and len(persons) == len(pairs) == len(values))


def check_not_person_id(df: pd.DataFrame, columns: str | Sequence[str] | None, option: str, source: str,
                        person: str = "person_id", *, categories: Iterable[str] = (),
                        measurements: bool = False) -> None:
    """Raise :class:`InputDataError` if a column given to ``option`` identifies persons.

    With ``measurements`` (covariates), numeric columns count only when named in ``categories`` (they
    would become one level, one table row, per person).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"person_id": list("abcd"), "pnr": ["01", "02", "03", "04"]})
    >>> check_not_person_id(df, ["pnr"], "--covariates", "ledger.csv")
    Traceback (most recent call last):
    ...
    trialeval.exceptions.InputDataError: ledger.csv: --covariates: 'pnr' is unique per person and would disclose persons in the exported tables; use a column that groups persons (e.g. municipality, stratum)
    """
    if columns is None:
        return
    for col in [columns] if isinstance(columns, str) else list(columns):
        numeric_ok = measurements and col not in set(categories)
        if col and person_identifying(df, col, person, measurements=numeric_ok):
            what = "is the person id" if col == person else "is unique per person"
            raise InputDataError(
                f"{source}: {option}: '{col}' {what} and would disclose persons in the exported tables; "
                "use a column that groups persons (e.g. municipality, stratum)")


# --------------------------------------------------------------------------------------------------
# Formula injection and the export writer
# --------------------------------------------------------------------------------------------------


def neutralise_text(table: pd.DataFrame) -> pd.DataFrame:
    """A copy with text cells that begin with ``=``, ``+``, ``-``, ``@``, tab or CR prefixed by ``'``.

    Only text cells change; numbers (also negative ones) never do, nor do column types.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"outcome": ["=1+1", "-x", "hours"], "effect": [-1.0, 2.0, 3.0]})
    >>> neutralise_text(t).values.tolist()
    [["'=1+1", -1.0], ["'-x", 2.0], ['hours', 3.0]]
    """
    out = table.copy()
    for col in out.columns:
        s = out[col]
        if isinstance(s.dtype, pd.CategoricalDtype):
            s = s.astype(object)
        elif not (pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s)):
            continue
        text = s.map(lambda v: isinstance(v, str) and v.startswith(FORMULA_STARTS))
        if text.any():
            s = s.astype(object)
            s.loc[text] = "'" + s.loc[text].astype(str)
            out[col] = s
    rename = {c: "'" + c for c in out.columns if isinstance(c, str) and c.startswith(FORMULA_STARTS)}
    return out.rename(columns=rename) if rename else out


def write_export(table: pd.DataFrame, path: str | os.PathLike[str], *, sheet_name: str = "table") -> Path:
    """Write an exported aggregate table (CSV, XLSX or Parquet), CSV and XLSX with text cells neutralised.

    The table must already be disclosure-controlled; this writer guards spreadsheets against formula
    injection (Parquet is read by programs, not spreadsheets, and keeps its text) and writes atomically
    (:func:`trialeval.io.write_table`). Working files (ledger, panel) use
    :func:`~trialeval.io.write_table` directly and keep their values.

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = write_export(pd.DataFrame({"covariate": ["=cmd()"], "smd": [-0.1]}), p)
    >>> p.read_text()
    "covariate,smd\\n'=cmd(),-0.1\\n"
    """
    spreadsheet = Path(path).suffix.lower() in (".csv", ".xlsx")
    return write_table(neutralise_text(table) if spreadsheet else table, path, sheet_name=sheet_name)
