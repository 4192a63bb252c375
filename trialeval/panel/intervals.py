"""Interval arithmetic on day ranges relative to visitation: days of overlap with periods, coverage,
pro-rata hours (all vectorised; no loop over persons or spells).

Day ``0`` is the visitation date; with periods of ``L`` days (``period_days``, the time axis's period
length), period index ``j`` of a window starting at relative day ``lo`` covers the days
``[lo + Lj, lo + Lj + L - 1]``. Ranges are inclusive and already clipped to the window.

Periods of unequal length (months) are given instead by ``starts``: per row of the dense array its
periods' first relative days and, last, the day after its last period (``(rows, n_periods + 1)``,
increasing along each row); period ``j`` of row ``g`` covers ``[starts[g, j], starts[g, j + 1] - 1]``.
"""

from __future__ import annotations

import numpy as np

from trialeval.timeaxis import DAYS_PER_WEEK


def _expand_weeks(group: np.ndarray, a: np.ndarray, b: np.ndarray, lo: int, n_weeks: int, period_days: int,
                  overlap: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """One row per (interval, period) it touches: the dense cell ``group * n_weeks + j`` and overlap days.

    ``a, b`` are inclusive day ranges relative to visitation, already clipped to ``[lo, lo + L n_weeks)``
    for ``L = period_days``; period index ``j`` covers relative days ``[lo + Lj, lo + Lj + L - 1]``.
    Interior periods overlap all ``L`` days, so only the first and last period of each interval need
    arithmetic.
    """
    ja = (a - lo) // period_days
    jb = (b - lo) // period_days
    count = jb - ja + 1
    total = int(count.sum())
    first = np.cumsum(count) - count
    cells = np.repeat(group * n_weeks + ja - first, count) + np.arange(total, dtype=np.int64)
    if not overlap:
        return cells, None
    days = np.full(total, period_days, dtype=np.int64)
    days[first] = np.minimum(b, lo + period_days * ja + period_days - 1) - a + 1
    days[first + count - 1] = b - np.maximum(a, lo + period_days * jb) + 1
    return cells, days


def _expand_periods(group: np.ndarray, a: np.ndarray, b: np.ndarray, starts: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_expand_weeks` for periods of unequal length given by ``starts`` (see the module notes).

    ``a, b`` must lie within their row's periods, ``[starts[g, 0], starts[g, -1] - 1]``. Returns one row per
    (interval, period) it touches: the dense cell ``group * n_periods + j``, the overlap days, the period's
    length, and per interval the number of periods it touches.
    """
    n_groups, n_bounds = starts.shape
    n_periods = n_bounds - 1
    base = int(starts.min()) if starts.size else 0
    span = (int(starts.max()) - base + 1) if starts.size else 1
    # Rows of increasing starts laid end to end on one line keep it sorted: one search finds every period.
    line = (starts - base + np.arange(n_groups, dtype=np.int64)[:, None] * span).ravel()
    offset = group.astype(np.int64) * span - base
    ja = np.searchsorted(line, a + offset, side="right") - 1 - group.astype(np.int64) * n_bounds
    jb = np.searchsorted(line, b + offset, side="right") - 1 - group.astype(np.int64) * n_bounds
    count = jb - ja + 1
    total = int(count.sum())
    first = np.cumsum(count) - count
    j = np.repeat(ja - first, count) + np.arange(total, dtype=np.int64)
    g = np.repeat(group.astype(np.int64), count)
    period_first, period_next = starts[g, j], starts[g, j + 1]
    days = np.minimum(np.repeat(b, count), period_next - 1) - np.maximum(np.repeat(a, count), period_first) + 1
    return g * n_periods + j, days, period_next - period_first, count


def _sum_cells(cells: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum ``values`` over equal ``cells``; returns the distinct cells (sorted) and their sums.

    A stable sort keeps the rows of a cell in input order, so each sum adds the same values in the same
    order as a :func:`numpy.bincount` over the input would; cells made spell by spell, person after
    person, are nearly sorted already, which a stable sort is fast on.
    """
    order = np.argsort(cells, kind="stable")
    ordered = cells[order]
    new = np.ones(len(ordered), dtype=bool)
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    return ordered[new], np.bincount(np.cumsum(new) - 1, weights=values[order], minlength=int(new.sum()))


def _merge_intervals(
    group: np.ndarray, a: np.ndarray, b: np.ndarray, lo: int, span: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Union of the intervals within each group, as disjoint intervals (touching ones are joined).

    ``b - lo`` must lie in ``[0, span)``; the running maximum of the ends is taken over keys
    ``group * span + (b - lo)``, which never leak from one group into the next.
    """
    if len(a) == 0:
        return group, a, b
    order = np.lexsort((a, group))
    group, a, b = group[order], a[order], b[order]
    running = np.maximum.accumulate(group * span + (b - lo)) - group * span + lo
    new = np.ones(len(a), dtype=bool)
    new[1:] = (group[1:] != group[:-1]) | (a[1:] > running[:-1] + 1)
    starts = np.flatnonzero(new)
    return group[starts], a[starts], np.maximum.reduceat(b, starts)


def _coverage(group: np.ndarray, a: np.ndarray, b: np.ndarray, n_groups: int, n_weeks: int, lo: int,
              min_days: int, period_days: int, starts: np.ndarray | None = None) -> np.ndarray:
    """Dense ``(n_groups, n_weeks)`` bool: the union of a group's intervals covers >= min_days of the period
    (periods of ``period_days`` days from ``lo``, or the rows' ``starts``)."""
    out = np.zeros(n_groups * n_weeks, dtype=bool)
    if starts is not None:
        if min_days > 1:
            group, a, b = _merge_intervals(group, a, b, int(starts.min()), int(np.ptp(starts)) + 1)
        period_cells, period_days_, length, _ = _expand_periods(group, a, b, starts)
        full = period_days_ == length
        out[period_cells[full]] = True
        partial, total = _sum_cells(period_cells[~full], period_days_[~full])
        out[partial[total >= min_days]] = True
        return out.reshape(n_groups, n_weeks)
    if min_days <= 1:
        cells, _ = _expand_weeks(group, a, b, lo, n_weeks, period_days, overlap=False)
        out[cells] = True
        return out.reshape(n_groups, n_weeks)
    # Disjoint intervals never count a day twice; a period is fully inside at most one of them, and only
    # partial periods (first or last of an interval) can be shared by several.
    group, a, b = _merge_intervals(group, a, b, lo, period_days * n_weeks)
    cells, days = _expand_weeks(group, a, b, lo, n_weeks, period_days)
    assert days is not None                  # always given with overlap=True
    out[cells[days == period_days]] = True
    partial, total = _sum_cells(cells[days < period_days], days[days < period_days])
    out[partial[total >= min_days]] = True
    return out.reshape(n_groups, n_weeks)


def _prorata_hours(group: np.ndarray, a: np.ndarray, b: np.ndarray, hours_per_week: np.ndarray, lo: int,
                   n_weeks: int, period_days: int, starts: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Hours per touched cell: ``Σ hours_per_week × overlap_days / DAYS_PER_WEEK`` over the intervals
    touching it (hours are a weekly rate whatever the period length).

    Hours are summed, not merged: two overlapping spells of 20 hours a week make 40. Returns the distinct
    cells ``group * n_weeks + j`` (sorted) and their hours; cells no interval touches are not returned.
    """
    if starts is not None:
        period_cells, overlap, _, count = _expand_periods(group, a, b, starts)
        return _sum_cells(period_cells, np.repeat(hours_per_week, count) * overlap / DAYS_PER_WEEK)
    cells, days = _expand_weeks(group, a, b, lo, n_weeks, period_days)
    assert days is not None                  # always given with overlap=True
    spell_periods = (b - lo) // period_days - (a - lo) // period_days + 1
    return _sum_cells(cells, np.repeat(hours_per_week, spell_periods) * days / DAYS_PER_WEEK)
