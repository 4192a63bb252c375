"""Checks and encodings of the effects step's inputs (the panel's columns and the arguments)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from trialeval.exceptions import EstimationError, InputDataError
from trialeval.io import ARMS, row_error
from trialeval.stats.moments import CHUNK_ROWS, cell_code
from trialeval.timeaxis import WEEKS_SINCE_VISITATION

#: The outcomes a panel built by ``trialeval panel`` carries, in display order.
KNOWN_OUTCOMES = (
    "has_ordinary_hours", "ordinary_hours", "in_internship", "in_wage_subsidy", "company_directed",
    "reached_13_weeks", "reached_13_weeks_same_workplace", "self_supporting",
)
#: Columns of a panel that are never outcomes.
DESIGN_COLUMNS = ("person_id", "arm", WEEKS_SINCE_VISITATION.column, "municipality", "stratum", "wave",
                  "visitation_date", "followup_end", "excluded", "weight")


def _as_list(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return list(value)


def _check_int(name: str, value: Any, low: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise InputDataError(f"effects: '{name}' must be a whole number >= {low}; got {value!r}")
    return int(value)


def _whole(name: str, value: Any, low: int) -> int:
    """:func:`_check_int` for an argument that must be given (None is refused too)."""
    checked = _check_int(name, value, low)
    if checked is None:
        raise InputDataError(f"effects: '{name}' must be a whole number >= {low}; got None")
    return checked


def _require_both_arms(present: Sequence[str], source: str, groups: Sequence[str] = ARMS) -> None:
    """An effect compares the groups: a panel of one group (e.g. a filtered or mis-joined file) is an
    error. ``groups`` are the labels: the programme group, then the reference group."""
    present = [a for a in groups if a in set(present)]
    if len(present) == 1:
        raise EstimationError(f"{source}: the panel has only arm '{present[0]}'; effects need both arms "
                              f"({groups[0]} and {groups[1]})")


def _default_outcomes(panel: pd.DataFrame, exclude: set[str]) -> list[str]:
    known = [c for c in KNOWN_OUTCOMES if c in panel.columns]
    if known:
        return known
    return [c for c in panel.columns if c not in exclude and c not in DESIGN_COLUMNS
            and (pd.api.types.is_numeric_dtype(panel[c]) or pd.api.types.is_bool_dtype(panel[c]))]


def _constant_within(group: np.ndarray, n_groups: int, values: np.ndarray, source: str, column: str,
                     what: str) -> None:
    """Raise if ``values`` (integer codes) differ between rows of one group."""
    first = np.zeros(n_groups, dtype=values.dtype)
    first[group] = values                                  # any row's value; a mismatch shows either way
    bad = first[group] != values
    if bad.any():
        raise row_error(source, column, f"must be constant within each {what}; it varies", bad)


def _codes(s: pd.Series, source: str, column: str, *, names: bool = True) -> tuple[np.ndarray, Any]:
    """Integer codes of a column (int32: a panel has < 2³¹ persons) and its distinct values, sorted.

    Codes follow the sorted values, so the seeded draws (band, randomisation inference) do not depend on
    the order of the panel's rows.
    An empty value is an error. Without ``names`` the distinct values may stay an arrow array (only
    their number is used), which spares a million Python strings for ``person_id``.
    """
    arrow = _arrow_codes(s)
    if arrow is not None:                                    # arrow strings: no Python objects per row
        return arrow[0], (np.asarray(arrow[1].to_pylist(), dtype=object) if names else arrow[1])
    if isinstance(s.dtype, pd.CategoricalDtype):              # `panel` writes categoricals: no hashing
        cat_codes, categories = s.cat.codes.to_numpy(), np.asarray(s.cat.categories, dtype=object)
        order = np.argsort(categories.astype(str), kind="stable")
        rank = np.empty(len(order), dtype=np.int32)
        rank[order] = np.arange(len(order), dtype=np.int32)
        if (cat_codes < 0).any():
            raise row_error(source, column, "is empty", cat_codes < 0)
        return rank[cat_codes], categories[order]
    codes, uniques = pd.factorize(s, sort=True)
    if (codes < 0).any():
        raise row_error(source, column, "is empty", codes < 0)
    return codes.astype(np.int32), np.asarray(uniques, dtype=object)


def _arrow_codes(s: pd.Series) -> tuple[np.ndarray, Any] | None:
    """Codes of an arrow-backed text column by arrow's dictionary encoding (None: not such a column)."""
    if not hasattr(s.array, "__arrow_array__"):
        return None
    import pyarrow as pa

    try:
        arr = pa.chunked_array(s.array.__arrow_array__())
    except (TypeError, ValueError, pa.ArrowException):
        return None
    if arr.null_count or not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return None
    import pyarrow.compute as pc

    enc = arr.dictionary_encode().unify_dictionaries()
    if enc.num_chunks == 0:
        return np.zeros(0, dtype=np.int32), pa.array([], type=pa.string())
    codes = np.concatenate([c.indices.to_numpy(zero_copy_only=False) for c in enc.chunks])
    dictionary = enc.chunk(0).dictionary
    order = pc.array_sort_indices(dictionary).to_numpy()
    rank = np.empty(len(order), dtype=np.int32)
    rank[order] = np.arange(len(order), dtype=np.int32)
    return rank[codes], dictionary.take(pa.array(order))


def _check_unique_person_weeks(person: np.ndarray, week: np.ndarray, source: str) -> None:
    """A person appears at most once per week; fast when rows are in (person, week) order, as ``panel`` writes."""
    wmin = int(week.min())
    span = int(week.max()) - wmin + 1
    ordered = True
    for lo in range(0, len(person), CHUNK_ROWS):
        key = cell_code([(person, span), (week, 1)], lo, lo + CHUNK_ROWS + 1)
        if not np.all(key[1:] > key[:-1]):
            ordered = False
            break
    if ordered:
        return
    key = cell_code([(person, span), (week, 1)])
    order = np.argsort(key, kind="stable")
    same = key[order][1:] == key[order][:-1]
    if same.any():
        dup = np.zeros(len(key), dtype=bool)
        dup[order[1:][same]] = dup[order[:-1][same]] = True
        raise row_error(source, "person_id", "appears twice in the same week", dup)


def _covariate_matrix(df: pd.DataFrame, covariates: list[str], source: str) -> tuple[np.ndarray, list[str]]:
    """Numeric covariates as floats, categorical ones as 0/1 dummies without their first level."""
    cols, names = [], []
    for c in covariates:
        s = df[c]
        if s.isna().any():
            raise row_error(source, c, "is missing (covariates must be complete)", s.isna())
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            cols.append(s.to_numpy(dtype=np.float64)[:, None])
            names.append(c)
        else:
            codes, levels = pd.factorize(s.astype(str), sort=True)
            if len(levels) > 1:
                cols.append((codes[:, None] == np.arange(1, len(levels))[None, :]).astype(np.float64))
                names.extend(f"{c}{lev}" for lev in levels[1:])
    Z = np.hstack(cols) if cols else np.empty((len(df), 0))
    return Z, names




def _week_list(present: np.ndarray, weeks: int | Sequence[int] | None, min_weeks: int | None,
               source: str) -> np.ndarray:
    """The weeks to report, from the weeks that have rows (``present``, sorted) and the arguments."""
    if weeks is None:
        week_list = present[present >= 1]
        if min_weeks is not None:
            week_list = week_list[week_list <= min_weeks]
    elif isinstance(weeks, (int, np.integer)) and not isinstance(weeks, bool):
        if weeks < 1:
            raise InputDataError(f"effects: 'weeks' must be a whole number >= 1; got {weeks}")
        week_list = present[(present >= 1) & (present <= int(weeks))]
    else:
        chosen = list(weeks) if isinstance(weeks, Sequence) and not isinstance(weeks, str) else [weeks]
        if not all(isinstance(w, (int, np.integer)) and not isinstance(w, bool) for w in chosen):
            raise InputDataError(f"effects: 'weeks' must be a whole number or a list of whole numbers; "
                                 f"got {weeks!r}")
        week_list = np.unique(np.asarray(chosen, dtype=np.int64))
    if len(week_list) == 0:
        raise EstimationError(f"{source}: no weeks to report (no rows with week >= 1"
                              + (f" among persons observed {min_weeks} weeks" if min_weeks else "") + ")")
    return week_list


