"""The per-chunk kernel: the spells of one chunk of persons into its compact person-week block, and the
chunk loop that runs it on a pool of threads.

Vectorised over persons and spells (no loop over either): each spell becomes a day range relative to its
person's visitation date, clipped to that person's observed window (:func:`_clip_spells`); every outcome
rule of :mod:`trialeval.panel.rules` turns those ranges into a dense ``persons x weeks`` array. From the
dense arrays the kernel takes the chunk's share of the running per-week sums (:func:`_chunk_sums`) and,
when the panel is written or kept, packs the observed cells one bit per indicator with hours kept
sparsely (:func:`_compact`).

:func:`_run_chunks` runs the kernel for several chunks at once on threads (numpy releases the GIL in
the heavy work) and hands the chunks to the store one at a time in person order, so the panel and its
sums are the same whatever the number of workers.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from trialeval.progress import tick
from trialeval.panel.rules import Rule, _ChunkSpells
from trialeval.panel.spells import _HOURS, _Spells
from trialeval.stats.moments import CellMoments
from trialeval.timeaxis import add_months


@dataclass(frozen=True)
class _ChunkSums:
    """One chunk's share of the running sums, per cell ``group * n_weeks + j`` of the sums' layout."""

    n: np.ndarray                   # persons observed per cell
    s1: dict[str, np.ndarray]       # per indicator: persons with the indicator set
    hours: CellMoments              # moments of the cells' positive hours (the zeros are added later)


@dataclass(frozen=True)
class _Chunk:
    """Observed cells of persons ``[start, stop)`` of the ledger, in long (person, week) order.

    ``flags``, ``hours_row`` and ``hours`` are empty when the panel is neither written nor kept; ``sums``
    is the chunk's share of the running sums when the kernel computed it.
    """

    start: int
    stop: int
    flags: np.ndarray       # one bit per indicator outcome
    hours_row: np.ndarray   # rows with ordinary hours > 0
    hours: np.ndarray       # their hours
    sums: _ChunkSums | None = None


@dataclass(frozen=True)
class _Context:
    """What every chunk shares: the persons' windows, the outcome rules and the layout of the sums."""

    v: np.ndarray           # visitation day number per person (ledger order)
    last_week: np.ndarray   # last observed week per person
    n_obs: np.ndarray       # observed weeks per person
    k_min: int              # first week of the window
    n_weeks: int
    min_days: int
    period_days: int        # days in a period of the time axis
    rules: tuple[tuple[str, Rule], ...]     # (indicator outcome, rule) in panel order
    group: np.ndarray | None = None         # per person: the sums' group (None: no sums in the kernel)
    group_weeks: np.ndarray | None = None   # per group: its persons' observed weeks
    compact: bool = True                    # keep the observed cells (to write or keep the panel)
    lookback: int = 0                       # weeks before the window that rules read (rolling sums)
    months: bool = False                    # periods are months from each person's v (see _month_outcomes)
    week_rules: frozenset[str] = frozenset()    # outcomes counted in weeks whatever the periods
    on_chunk: ChunkHook | None = None       # called with each chunk's dense arrays (effects' extra sums)


#: ``(ctx, p0, p1, flags, hours_cells, hours)``: a chunk's dense indicator arrays (``persons x weeks``, set
#: also in weeks a person does not observe) and its ordinary hours by cell, on the chunk's thread.
ChunkHook = Callable[["_Context", int, int, dict[str, np.ndarray], np.ndarray, np.ndarray], None]


class _Store(Protocol):
    def add(self, chunk: _Chunk) -> None: ...


def default_workers() -> int:
    """Threads the kernel uses by default: every core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:              # pragma: no cover  (not on Linux)
        return max(1, os.cpu_count() or 1)


def _run_chunks(ctx: _Context, sp: _Spells, store: _Store, chunk_persons: int,
                progress: Callable[[int, int], None] | None, workers: int = 1) -> None:
    """Build every chunk of ``chunk_persons`` persons with the kernel and hand it to the store in order.

    With ``workers > 1`` up to ``workers`` chunks are built at once on threads; the store still gets
    them one at a time in person order, so the result does not depend on ``workers``. At most
    ``workers + 1`` chunks are in flight, which bounds the memory.
    """
    n_persons = len(ctx.n_obs)
    bounds = np.searchsorted(sp.person, np.arange(0, n_persons + chunk_persons, chunk_persons))
    n_chunks = -(-n_persons // chunk_persons)
    is_hours = np.zeros(len(bounds), dtype=np.int64)
    if n_chunks:
        cum = np.concatenate([[0], np.cumsum(sp.kind == _HOURS)])
        is_hours = cum[np.minimum(bounds, len(sp.kind))]

    def build(c: int) -> _Chunk:
        p0, p1 = c * chunk_persons, min((c + 1) * chunk_persons, n_persons)
        return _build_chunk(ctx, p0, p1, sp, slice(bounds[c], bounds[c + 1]),
                            slice(int(is_hours[c]), int(is_hours[c + 1])))

    def done(c: int, chunk: _Chunk) -> None:
        store.add(chunk)
        tick(progress, min((c + 1) * chunk_persons, n_persons), n_persons, "Building the panel", "persons")

    if workers <= 1 or n_chunks <= 1:
        for c in range(n_chunks):
            done(c, build(c))
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque[Future[_Chunk]] = deque()
        for c in range(n_chunks):
            pending.append(pool.submit(build, c))
            if len(pending) > workers:
                done(c - len(pending) + 1, pending.popleft().result())
        while pending:
            done(n_chunks - len(pending), pending.popleft().result())


def _build_chunk(ctx: _Context, p0: int, p1: int, sp: _Spells, rows: slice, hours_rows: slice) -> _Chunk:
    """Outcomes of persons ``[p0, p1)`` as dense ``persons x weeks`` arrays, then summed and compacted.

    ``rows`` are the spells of those persons and ``hours_rows`` the hours of their ordinary-hours spells.
    """
    outcomes = _month_outcomes if ctx.months else _week_outcomes
    flags, hours_cells, hours = outcomes(ctx, p0, p1, sp, rows, hours_rows)
    if ctx.on_chunk is not None:
        ctx.on_chunk(ctx, p0, p1, flags, hours_cells, hours)
    sums = _chunk_sums(ctx, p0, p1, flags, hours_cells, hours) if ctx.group is not None else None
    if not ctx.compact:
        return _Chunk(p0, p1, np.zeros(0, np.uint8), np.zeros(0, np.int32), np.zeros(0), sums)
    return _compact(ctx, p0, p1, flags, hours_cells, hours, sums)


_Outcomes = tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]


def _week_outcomes(ctx: _Context, p0: int, p1: int, sp: _Spells, rows: slice, hours_rows: slice) -> _Outcomes:
    """Every rule on periods of ``ctx.period_days`` days; the weeks only rolling sums read are dropped."""
    lo = ctx.period_days * (ctx.k_min - 1 - ctx.lookback)
    spells = _clip_spells(ctx, p0, sp, rows, hours_rows, lo, ctx.period_days * ctx.last_week[p0:p1] - 1,
                          n_weeks=ctx.n_weeks + ctx.lookback, week_one=-ctx.k_min + 1 + ctx.lookback,
                          period_days=ctx.period_days, min_days=ctx.min_days)
    flags: dict[str, np.ndarray] = {}
    for name, rule in ctx.rules:
        flags[name] = rule(spells, flags)
    hours_cells, hours = spells.hours
    if ctx.lookback:            # the weeks only the rules read are not part of the panel
        flags = {name: np.ascontiguousarray(dense[:, ctx.lookback:]) for name, dense in flags.items()}
        week = hours_cells % spells.n_weeks
        kept = week >= ctx.lookback
        hours_cells = hours_cells[kept] // spells.n_weeks * ctx.n_weeks + week[kept] - ctx.lookback
        hours = hours[kept]
    return flags, hours_cells, hours


def _month_outcomes(ctx: _Context, p0: int, p1: int, sp: _Spells, rows: slice, hours_rows: slice) -> _Outcomes:
    """Every rule on months counted from each person's day ``v`` (month ``m`` covers ``v + (m − 1) months``
    to ``v + m months − 1 day``), except the rules counted in weeks (``ctx.week_rules``): those run on
    7-day weeks from ``v`` and each month takes the value of the last week that ends in it or before it
    ("reached by the end of the month"; a month before the first such week takes 0).
    """
    n_p = p1 - p0
    v = ctx.v[p0:p1].astype(np.int64)
    k = np.arange(ctx.k_min, ctx.k_min + ctx.n_weeks + 1)
    day = v.astype("datetime64[D]")[:, None]
    starts = ((add_months(day, k[None, :] - 1) - day) // np.timedelta64(1, "D")).astype(np.int64)
    last_day = starts[np.arange(n_p), ctx.n_obs[p0:p1]] - 1
    months = _clip_spells(ctx, p0, sp, rows, hours_rows, starts[:, 0], last_day, n_weeks=ctx.n_weeks,
                          week_one=1 - ctx.k_min, period_days=31, min_days=ctx.min_days, starts=starts)
    flags: dict[str, np.ndarray] = {}
    weekly: dict[str, np.ndarray] = {}
    needed = [i for i, (name, _) in enumerate(ctx.rules) if name in ctx.week_rules]
    if needed and n_p:
        lo_w = 7 * (int(starts[:, 0].min()) // 7) - 7 * ctx.lookback
        n_w = max(1, (int(last_day.max()) - lo_w) // 7 + 1)
        weeks = _clip_spells(ctx, p0, sp, rows, hours_rows, lo_w, last_day, n_weeks=n_w, week_one=-lo_w // 7,
                             period_days=7, min_days=min(ctx.min_days, 7))
        for name, rule in ctx.rules[:needed[-1] + 1]:
            weekly[name] = rule(weeks, weekly)
        week_at_end = (starts[:, 1:] - lo_w) // 7 - 1            # the last week ending by each month's end
        ended = week_at_end >= 0
        week_at_end = np.clip(week_at_end, 0, n_w - 1)
    for name, rule in ctx.rules:
        if name in ctx.week_rules and n_p:
            flags[name] = np.take_along_axis(weekly[name], week_at_end, axis=1) & ended
        else:
            flags[name] = rule(months, flags)
    hours_cells, hours = months.hours
    return flags, hours_cells, hours


def _clip_spells(ctx: _Context, p0: int, sp: _Spells, rows: slice, hours_rows: slice, lo: int | np.ndarray,
                 last_day: np.ndarray, *, n_weeks: int, week_one: int, period_days: int, min_days: int,
                 starts: np.ndarray | None = None) -> _ChunkSpells:
    """The chunk's spells relative to visitation, clipped to each person's window [lo, last observed day]
    (``lo`` one day for all, or one per person of the chunk; ``last_day`` one per person)."""
    person = sp.person[rows]
    local = person.astype(np.int64) - p0      # int64: codes such as local * n_workplaces
    v = ctx.v[person]
    a = np.maximum(sp.start[rows] - v, lo[local] if isinstance(lo, np.ndarray) else lo)
    b = np.minimum(sp.end[rows] - v, last_day[local])
    keep = a <= b
    kind = sp.kind[rows]
    hours_pw = np.full(len(keep), np.nan)
    hours_pw[kind == _HOURS] = sp.hours[hours_rows]
    first = int(np.min(lo, initial=0)) if isinstance(lo, np.ndarray) else int(lo)
    return _ChunkSpells(
        local=local[keep], a=a[keep], b=b[keep], kind=kind[keep], hours_per_week=hours_pw[keep],
        workplace=sp.workplace[rows][keep], n_workplaces=sp.n_workplaces, n_persons=len(last_day),
        n_weeks=n_weeks, lo=first, week_one=week_one, min_days=min_days, period_days=period_days, starts=starts)


def _chunk_sums(ctx: _Context, p0: int, p1: int, flags: dict[str, np.ndarray], hours_cells: np.ndarray,
                hours: np.ndarray) -> _ChunkSums:
    """The chunk's share of the running sums, from its dense arrays.

    Persons are put in the order of their group (a group holds persons of one arm with the same number
    of observed weeks), so every indicator's count per group and week is a sum over contiguous rows;
    weeks a group does not observe are then set to zero (the dense arrays of some rules are set there).
    """
    assert ctx.group is not None and ctx.group_weeks is not None
    n_weeks, n_groups = ctx.n_weeks, len(ctx.group_weeks)
    group = ctx.group[p0:p1]
    observed = np.arange(n_weeks)[None, :] < ctx.group_weeks[:, None]           # (groups, weeks)
    counts = np.bincount(group, minlength=n_groups)
    n = (counts[:, None] * observed).astype(np.float64).ravel()
    order, segments, segment_group = _segments(group)
    s1 = {name: (_group_counts(dense, order, segments, segment_group, n_groups) * observed)
          .astype(np.float64).ravel() for name, dense in flags.items()}
    cell = group[hours_cells // n_weeks].astype(np.int64) * n_weeks + hours_cells % n_weeks
    return _ChunkSums(n, s1, CellMoments.from_values(cell, np.asarray(hours, dtype=np.float64),
                                                     n_groups * n_weeks))


#: Rows added at once as bytes of a uint64 word: one byte holds a count of at most 255.
_LANE_MAX = 255


def _segments(group: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Persons in group order, the first row of each run of at most ``_LANE_MAX`` persons of one group
    in that order, and the group of each run."""
    order = np.argsort(group, kind="stable")
    sorted_group = group[order]
    if len(order) == 0:
        return order, np.zeros(0, np.int64), np.zeros(0, np.int64)
    new = np.ones(len(order), dtype=bool)
    new[1:] = sorted_group[1:] != sorted_group[:-1]
    starts = np.flatnonzero(new)
    rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.append(starts, len(order))))
    segments = np.flatnonzero(rank % _LANE_MAX == 0)
    return order, segments, sorted_group[segments]


def _group_counts(dense: np.ndarray, order: np.ndarray, segments: np.ndarray, segment_group: np.ndarray,
                  n_groups: int) -> np.ndarray:
    """``(n_groups, weeks)`` int64: persons per group with ``dense`` set in each week.

    Rows in group order are added eight weeks at a time as the bytes of uint64 words (a run of at most
    255 rows cannot carry from one byte into the next), then the runs of each group are added up.
    """
    n_rows, n_weeks = dense.shape
    out = np.zeros((n_groups, n_weeks), dtype=np.int64)
    if n_rows == 0:
        return out
    width = -(-n_weeks // 8) * 8
    if width == n_weeks:
        rows = dense.view(np.uint8)[order]
    else:
        rows = np.zeros((n_rows, width), dtype=np.uint8)
        rows[:, :n_weeks] = dense.view(np.uint8)[order]
    runs = np.add.reduceat(rows.view(np.uint64), segments, axis=0).view(np.uint8)[:, :n_weeks]
    first = np.flatnonzero(np.append(True, segment_group[1:] != segment_group[:-1]))
    out[segment_group[first]] = np.add.reduceat(runs, first, axis=0, dtype=np.int64)
    return out


def _compact(ctx: _Context, p0: int, p1: int, flags: dict[str, np.ndarray], hours_cells: np.ndarray,
             hours: np.ndarray, sums: _ChunkSums | None = None) -> _Chunk:
    """The observed cells of the dense arrays: indicators packed one bit each, hours as (row, value)."""
    n_p, n_weeks = p1 - p0, ctx.n_weeks
    n_bits = len(ctx.rules)
    dtype = np.uint8 if n_bits <= 8 else np.uint16 if n_bits <= 16 else np.uint32 if n_bits <= 32 else np.uint64
    packed = np.zeros((n_p, n_weeks), dtype=dtype)
    shifted = np.empty((n_p, n_weeks), dtype=dtype)
    for bit, (name, _) in enumerate(ctx.rules):
        np.left_shift(flags[name], dtype(bit), out=shifted, dtype=dtype, casting="unsafe")
        packed |= shifted
    n_obs = ctx.n_obs[p0:p1]
    offsets = np.cumsum(n_obs) - n_obs
    weeks_idx = np.arange(n_weeks)
    flat = packed.ravel() if int(n_obs.sum()) == n_p * n_weeks else packed[weeks_idx[None, :] < n_obs[:, None]]
    # Hours cells are all observed (spells were clipped to the window); map them to long rows.
    pos = hours_cells // n_weeks
    row_dtype = np.int32 if n_obs.sum() < 2**31 else np.int64
    hours_row = (offsets[pos] + hours_cells - pos * n_weeks).astype(row_dtype)
    return _Chunk(start=p0, stop=p1, flags=flat, hours_row=hours_row, hours=hours, sums=sums)
