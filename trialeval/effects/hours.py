"""The hours distribution: positive weekly hours by arm at one week, in bins."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from trialeval.design import Design
from trialeval.disclosure import DEFAULT_MIN_CELL
from trialeval.effects.results import HoursDistributionResult
from trialeval.exceptions import EstimationError, InputDataError
from trialeval.io import require_columns, row_error
from trialeval.timeaxis import WEEKS_SINCE_VISITATION, TimeAxis

#: Bin edges of the hours distribution: (0,5], …, (25,30], (30,37), ≥ 37.
HOURS_EDGES = (0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 37.0)


def default_hours_edges(axis: TimeAxis) -> tuple[float, ...]:
    """The default bins of hours in one period of ``axis``: :data:`HOURS_EDGES` for a week; for a month the
    same weekly hours times 52 / 12 weeks, to one decimal (full time is 37 × 52 / 12 ≈ 160.3 hours a month).

    Examples
    --------
    >>> from trialeval.timeaxis import MONTHS_SINCE_VISITATION
    >>> default_hours_edges(MONTHS_SINCE_VISITATION)
    (0.0, 21.7, 43.3, 65.0, 86.7, 108.3, 130.0, 160.3)
    """
    weeks = WEEKS_SINCE_VISITATION.periods_per_year / axis.periods_per_year
    return HOURS_EDGES if weeks == 1 else tuple(round(e * weeks, 1) for e in HOURS_EDGES)


def hours_distribution(
    panel: pd.DataFrame,
    week: int = 35,
    *,
    bins: Sequence[float] | None = None,
    column: str = "ordinary_hours",
    min_cell: int = DEFAULT_MIN_CELL,
    source: str = "panel",
    axis: TimeAxis = WEEKS_SINCE_VISITATION,
    design: Design | None = None,
) -> HoursDistributionResult:
    """Counts and shares of positive weekly hours by arm at one week, in the hours bins.

    With edges e0 < … < em the bins are (e0, e1], …, (e(m−2), e(m−1)], (e(m−1), em) and ≥ em; the
    default edges give (0,5], (5,10], …, (25,30], (30,37), ≥ 37 (full time).

    Parameters
    ----------
    panel
        Long panel with ``person_id, arm, week`` and ``column``.
    week
        The week since visitation.
    bins
        Bin edges (increasing, at least two); default :data:`HOURS_EDGES` on a weekly axis, those weekly
        hours in a month on a monthly one (:func:`default_hours_edges`).
    column
        The hours column.
    min_cell
        Smallest count an exported cell may rest on.
    source
        Name of the panel in messages.
    axis
        The time axis; its period column (``"week"``) selects the rows of period ``week``.
    design
        The trial's :class:`~trialeval.design.Design`, whose groups ``arm`` holds (the programme group's
        rows first in the table); without one ``treatment`` and ``control``.

    Examples
    --------
    >>> import pandas as pd
    >>> p = pd.DataFrame({"person_id": list("abcd"), "arm": ["treatment"] * 2 + ["control"] * 2,
    ...                   "week": 35, "ordinary_hours": [3.0, 37.0, 0.0, 31.5]})
    >>> t = hours_distribution(p, 35).to_frame()
    >>> t[t["count"] > 0][["arm", "bin", "count"]].values.tolist()
    [['treatment', '(0,5]', 1], ['treatment', '≥37', 1], ['control', '(30,37)', 1]]
    """
    period = axis.column
    require_columns(panel, ["person_id", "arm", period, column], source)
    bins = default_hours_edges(axis) if bins is None else bins
    edges = np.asarray(list(bins), dtype=np.float64)
    if len(edges) < 2 or np.any(np.diff(edges) <= 0):
        raise InputDataError(f"hours_distribution: 'bins' must be at least two increasing edges; got {list(bins)}")
    if not pd.api.types.is_numeric_dtype(panel[column]):
        raise row_error(source, column, "must be numeric", pd.to_numeric(panel[column], errors="coerce").isna())
    rows = panel[pd.to_numeric(panel[period], errors="coerce") == week]
    rows = rows[rows[column].notna()]
    if rows.empty:
        raise EstimationError(f"{source}: no person is observed with '{column}' in {axis.unit()} {week}")
    groups = (design or Design()).labels
    bad_arm = ~rows["arm"].astype(str).isin(groups)
    if bad_arm.any():
        raise (design or Design()).label_error(source, bad_arm.to_numpy(), declared=design is not None)
    h = rows[column].to_numpy(dtype=np.float64)
    arm = (rows["arm"].astype(str).to_numpy() == groups[1]).astype(np.int64)   # 0 programme, 1 reference
    fmt = [f"{e:g}" for e in edges]
    labels = [f"({a},{b}]" for a, b in zip(fmt[:-2], fmt[1:-1])] + [f"({fmt[-2]},{fmt[-1]})", f"≥{fmt[-1]}"]
    pos = h > edges[0]
    # Right-closed bins up to e(m−1); the bin below the full-time edge is open; then ≥ em.
    b = np.searchsorted(edges[1:-1], h, side="left")
    b = np.where(h >= edges[-1], len(edges) - 1, b)
    nb = len(labels)
    count = np.bincount(arm[pos] * nb + b[pos], minlength=2 * nb).reshape(2, nb)
    n_obs = np.bincount(arm, minlength=2)
    n_pos = count.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        table = pd.DataFrame({
            period: int(week), "arm": np.repeat(groups, nb), "bin": labels * 2,
            "count": count.ravel(), "n_observed": np.repeat(n_obs, nb),
            "share": (count / n_obs[:, None]).ravel(), "share_positive": (count / n_pos[:, None]).ravel(),
        })
    return HoursDistributionResult(table=table, week=int(week), column=column,
                                   edges=tuple(float(e) for e in edges), min_cell=min_cell, axis=axis,
                                   groups=groups)

