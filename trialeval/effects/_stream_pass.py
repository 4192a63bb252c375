"""What one block of whole persons adds to the streamed effects: the first pass and the band's pass.

Pass 1 (:func:`first_pass`) checks the block's keys and adds, per (week, arm) and outcome, the moments
(:class:`~trialeval.stats.moments.CellMoments`), the count of values other than 0 and 1 and the count of
non-zero values; per arm the moments of each person's mean over weeks 1–K (the summary); the rows of
the hours week. Pass 2 (:func:`band_pass`) adds each outcome's WᵀW (weeks × weeks; W the influences
summed per person) once the arm means are known. Every partial result adds up with ``+`` in file order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from trialeval.effects._stream_read import Block
from trialeval.exceptions import InputDataError
from trialeval.io import describe_rows
from trialeval.stats.moments import CellMoments, _from_sums


def _pad(a: np.ndarray, lo: int, new_lo: int, new_span: int, per: int, fill: float) -> np.ndarray:
    """Per-week array ``a`` (``per`` cells a week, weeks from ``lo``) placed into weeks ``[new_lo, +new_span)``."""
    out = np.full(new_span * per, fill, dtype=a.dtype)
    start = (lo - new_lo) * per
    out[start:start + len(a)] = a
    return out


def _pad_moments(m: CellMoments, lo: int, new_lo: int, new_span: int) -> CellMoments:
    return CellMoments(_pad(m.n, lo, new_lo, new_span, 2, 0.0), _pad(m.mean, lo, new_lo, new_span, 2, np.nan),
                       _pad(m.m2, lo, new_lo, new_span, 2, 0.0))


@dataclass
class WeekCells:
    """Per week from ``lo`` (``span`` weeks): rows of the cohort, and per outcome the cells ``2·week + t``."""

    lo: int
    span: int
    rows: np.ndarray
    moments: dict[str, CellMoments]
    non01: dict[str, np.ndarray]
    nonzero: dict[str, np.ndarray]

    def rebase(self, lo: int, span: int) -> WeekCells:
        if (lo, span) == (self.lo, self.span):
            return self
        return WeekCells(
            lo, span, _pad(self.rows, self.lo, lo, span, 1, 0),
            {o: _pad_moments(m, self.lo, lo, span) for o, m in self.moments.items()},
            {o: _pad(a, self.lo, lo, span, 1, 0) for o, a in self.non01.items()},
            {o: _pad(a, self.lo, lo, span, 2, 0.0) for o, a in self.nonzero.items()})

    def __add__(self, other: WeekCells) -> WeekCells:
        if other.span == 0:
            return self
        if self.span == 0:
            return other
        lo = min(self.lo, other.lo)
        span = max(self.lo + self.span, other.lo + other.span) - lo
        a, b = self.rebase(lo, span), other.rebase(lo, span)
        return WeekCells(lo, span, a.rows + b.rows, {o: a.moments[o] + b.moments[o] for o in a.moments},
                         {o: a.non01[o] + b.non01[o] for o in a.non01},
                         {o: a.nonzero[o] + b.nonzero[o] for o in a.nonzero})


@dataclass
class FirstPass:
    """What pass 1 gathered; ``+`` adds two partial results (the left one earlier in the file)."""

    cells: WeekCells
    summary: dict[str, CellMoments] = field(default_factory=dict)   # arms (control, treated): person means
    hours: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    n_rows: int = 0
    arm_rows: np.ndarray = field(default_factory=lambda: np.zeros(2, np.int64))    # rows: control, treated

    def __add__(self, other: FirstPass) -> FirstPass:
        return FirstPass(self.cells + other.cells,
                         {o: self.summary[o] + other.summary[o] for o in self.summary},
                         self.hours + other.hours, self.n_rows + other.n_rows, self.arm_rows + other.arm_rows)


@dataclass(frozen=True)
class PassOptions:
    """The options the passes need."""

    source: str
    outcomes: tuple[str, ...]
    min_weeks: int | None = None
    summary_weeks: int | None = None
    hours_week: int | None = None
    hours_column: str = "ordinary_hours"


def empty_first_pass(opts: PassOptions) -> FirstPass:
    cells = WeekCells(0, 0, np.zeros(0, np.int64), {o: CellMoments.empty(0) for o in opts.outcomes},
                      {o: np.zeros(0, np.int64) for o in opts.outcomes}, {o: np.zeros(0) for o in opts.outcomes})
    summary = {o: CellMoments.empty(2) for o in opts.outcomes} if opts.summary_weeks is not None else {}
    return FirstPass(cells, summary)


def check_keys(block: Block, source: str) -> None:
    """Arm constant within each person; no person twice in one week (weeks increase within a person)."""
    if block.n_rows < 2:
        return
    inside = block.starts[1:-1] - 1               # pairs of rows (i, i + 1) that are two persons: not compared
    differs = block.t[1:] != block.t[:-1]
    differs[inside] = False
    if differs.any():
        first_t = np.repeat(block.t[block.starts[:-1]], np.diff(block.starts))
        raise InputDataError(f"{source}: column 'arm' must be constant within each person; it varies in "
                             f"{describe_rows(block.file_rows(first_t != block.t))}")
    week = block.week
    falls = week[1:] <= week[:-1]
    falls[inside] = False
    if not falls.any():
        return
    person = block.person()
    order = np.lexsort((week, person))
    dup = (person[order][1:] == person[order][:-1]) & (week[order][1:] == week[order][:-1])
    if dup.any():
        mask = np.zeros(block.n_rows, dtype=bool)
        mask[order[1:][dup]] = mask[order[:-1][dup]] = True
        raise InputDataError(f"{source}: column 'person_id' appears twice in the same week in "
                             f"{describe_rows(block.file_rows(mask))}")


def cohort_rows(block: Block, min_weeks: int | None) -> np.ndarray | None:
    """Rows of persons in the fixed cohort (last observed week ≥ ``min_weeks``); None: every row."""
    if min_weeks is None or block.n_rows == 0:
        return None
    last = np.maximum.reduceat(block.week, block.starts[:-1])
    return np.repeat(last >= min_weeks, np.diff(block.starts))


def first_pass(block: Block, opts: PassOptions) -> FirstPass:
    """Pass 1 over one block: keys checked, per-week cells, summary person means, the hours week's rows."""
    check_keys(block, opts.source)
    if block.n_rows == 0:
        return empty_first_pass(opts)
    keep = cohort_rows(block, opts.min_weeks)
    cells = _regular_cells(block, opts.outcomes) if keep is None or bool(keep.all()) else None
    if cells is None:
        cells = _cells(block, keep, opts.outcomes)
    treated = int(np.count_nonzero(block.t))
    part = FirstPass(cells, n_rows=block.n_rows, arm_rows=np.array([block.n_rows - treated, treated], np.int64))
    if opts.summary_weeks is not None:
        part.summary = _summary_moments(block, keep, opts)
    if opts.hours_week is not None:
        at = block.week == opts.hours_week
        h = block.values[opts.hours_column][at].astype(np.float64)
        part.hours = [(block.t[at][~np.isnan(h)], h[~np.isnan(h)])]
    return part


def _cells(block: Block, keep: np.ndarray | None, outcomes: Sequence[str]) -> WeekCells:
    """The block's (week, arm) cells from a cell code per row (the rows in ``keep``, the cohort)."""
    week, t = block.week, block.t
    if keep is not None:
        week, t = week[keep], t[keep]
    lo = int(week.min()) if len(week) else 0
    span = int(week.max()) - lo + 1 if len(week) else 0
    wk = (week - lo).astype(np.intp)
    code = 2 * wk + t
    values = {o: block.values[o] if keep is None else block.values[o][keep] for o in outcomes}
    flags = [o for o in outcomes if _is_flag(values[o])]
    moments: dict[str, CellMoments] = _flag_moments({o: values[o] for o in flags}, code, 2 * span)
    non01 = {o: np.zeros(span, np.int64) for o in flags}
    nonzero = {o: np.round(moments[o].n * np.nan_to_num(moments[o].mean)) for o in flags}
    for o in outcomes:
        if o not in moments:
            moments[o], non01[o], nonzero[o] = _value_moments(values[o], code, 2 * span)
    return WeekCells(lo, span, np.bincount(wk, minlength=span), moments, non01, nonzero)


def _regular_weeks(block: Block) -> tuple[int, int] | None:
    """``(lo, m)`` when every person of the block has the weeks ``lo … lo + m − 1`` in order (as the
    panel command writes a panel whose persons are all observed equally long), else None."""
    p, n = block.n_persons, block.n_rows
    if p == 0 or n % p:
        return None
    m = n // p
    if not bool((np.diff(block.starts) == m).all()):
        return None
    lo = int(block.week[0])
    if not bool((block.week.reshape(p, m) == np.arange(lo, lo + m, dtype=block.week.dtype)).all()):
        return None
    return lo, m


def _regular_cells(block: Block, outcomes: Sequence[str]) -> WeekCells | None:
    """The cells of :func:`_cells` without a code per row, for a block of :func:`_regular_weeks` shape.

    The rows are a persons x weeks array: a 0/1 outcome's sums per week and arm are sums down the
    array's columns over each arm's persons; another outcome's non-zero values get their cell from
    their position. The sums are those of :func:`_cells` (exact integers for 0/1 outcomes; the same
    values in the same order otherwise), so the moments are the same. None when the block is not
    regular or an outcome has missing values (left to :func:`_cells`).
    """
    shape = _regular_weeks(block)
    if shape is None:
        return None
    lo, m = shape
    values = {o: block.values[o] for o in outcomes}
    if any(y.dtype.kind == "f" and bool(np.isnan(y).any()) for y in values.values()):
        return None
    p = block.n_persons
    treated = block.t[block.starts[:-1]].astype(bool)
    n = np.tile(np.array([p - np.count_nonzero(treated), np.count_nonzero(treated)], dtype=np.float64), m)
    moments, non01, nonzero = {}, {}, {}
    for o, y in values.items():
        if _is_flag(y):
            per_person = y.reshape(p, m)
            s1 = np.empty(2 * m)
            s1[1::2] = np.compress(treated, per_person, axis=0).sum(axis=0, dtype=np.int32)    # counts < 2³¹
            s1[0::2] = per_person.sum(axis=0, dtype=np.int32) - s1[1::2]
            moments[o] = CellMoments(n, *_from_sums(n, s1, s1))
            non01[o] = np.zeros(m, np.int64)
            nonzero[o] = np.round(moments[o].n * np.nan_to_num(moments[o].mean))
        else:
            at = np.flatnonzero(y != 0)                         # 3x faster than on the floats themselves
            person, week = np.divmod(at, m)
            moments[o], non01[o], nonzero[o] = _nonzero_moments(2 * week + treated[person], y[at], n)
    return WeekCells(lo, m, np.full(m, p, dtype=np.int64), moments, non01, nonzero)


def _value_moments(y: np.ndarray, code: np.ndarray, size: int) -> tuple[CellMoments, np.ndarray, np.ndarray]:
    """Moments per cell of an outcome that is not 0/1, its values other than 0/1 per week, non-zeros per cell.

    Missing values are left out. The zeros of a cell (most rows of e.g. weekly hours) enter as one
    group of known moments (mean 0, M2 0) and only the other values are summed row by row.
    """
    if y.dtype.kind == "f":
        ok = ~np.isnan(y)
        if not ok.all():
            y, code = y[ok], code[ok]
    n = np.bincount(code, minlength=size).astype(np.float64)
    nz = y != 0
    return _nonzero_moments(code[nz], y[nz], n)


def _nonzero_moments(c_nz: np.ndarray, y_nz: np.ndarray, n: np.ndarray) -> tuple[CellMoments, np.ndarray, np.ndarray]:
    """:func:`_value_moments` from the non-zero values (their cells ``c_nz``) and the rows per cell ``n``."""
    size = len(n)
    part = CellMoments.from_values(c_nz, y_nz, size)
    zeros = n - part.n
    moments = CellMoments(zeros, np.where(zeros > 0, 0.0, np.nan), np.zeros(size)) + part
    other = c_nz[y_nz != 1] // 2
    return moments, np.bincount(other, minlength=size // 2), part.n


def _is_flag(y: np.ndarray) -> bool:
    """An integer column whose values are all 0 or 1 (in this block)."""
    return y.dtype.kind in "iub" and (len(y) == 0 or (int(y.min()) >= 0 and int(y.max()) <= 1))


#: Indicators counted together: one count per (cell, pattern of their values), 2^8 patterns.
_FLAGS_AT_ONCE = 8


def _flag_moments(flags: dict[str, np.ndarray], code: np.ndarray, size: int) -> dict[str, CellMoments]:
    """Moments per cell of 0/1 outcomes from one count per (cell, pattern of the outcomes' values).

    The sums are exact integers, as :meth:`CellMoments.from_rows` keeps them for integer outcomes.
    """
    out: dict[str, CellMoments] = {}
    names = list(flags)
    for g in range(0, len(names), _FLAGS_AT_ONCE):
        group = names[g:g + _FLAGS_AT_ONCE]
        k = 1 << len(group)
        pattern = np.zeros(len(code), dtype=np.uint8)
        for j, o in enumerate(group):
            pattern |= flags[o].view(np.uint8) << np.uint8(j) if flags[o].dtype.itemsize == 1 \
                else flags[o].astype(np.uint8) << np.uint8(j)
        key = code * k
        key += pattern
        counts = np.bincount(key, minlength=size * k).reshape(size, k).astype(np.float64)
        n = counts.sum(axis=1)
        for j, o in enumerate(group):
            s1 = counts[:, (np.arange(k) >> j) & 1 == 1].sum(axis=1)
            out[o] = CellMoments(n, *_from_sums(n, s1, s1))
    return out


def _summary_moments(block: Block, keep: np.ndarray | None, opts: PassOptions) -> dict[str, CellMoments]:
    """Per arm (control, treated): moments of the means over weeks 1–K of persons observed in all of them.

    0/1 outcomes are summed per person together, one count per (person, pattern of their values).
    """
    K = opts.summary_weeks
    assert K is not None
    window = (block.week >= 1) & (block.week <= K)
    if keep is not None:
        window &= keep
    person = block.person()[window]
    p = block.n_persons
    t_person = block.t[block.starts[:-1]]
    values = {o: block.values[o][window] for o in opts.outcomes}
    flags = [o for o in opts.outcomes if _is_flag(values[o])]
    complete_all = np.bincount(person, minlength=p) == K
    sums = _flag_sums({o: values[o] for o in flags}, person, p)
    out = {}
    for o in opts.outcomes:
        if o in sums:
            complete, means = complete_all, sums[o][complete_all] / K
        else:
            y = values[o].astype(np.float64, copy=False)
            ok = ~np.isnan(y)
            complete = np.bincount(person[ok], minlength=p) == K
            m = ok & complete[person]
            means = CellMoments.from_values(person[m], y[m], p).mean[complete]
        out[o] = CellMoments.from_values(t_person[complete], means, 2)
    return out


def _flag_sums(flags: dict[str, np.ndarray], person: np.ndarray, p: int) -> dict[str, np.ndarray]:
    """Per person the sum of each 0/1 outcome, from one count per (person, pattern of the outcomes' values)."""
    out: dict[str, np.ndarray] = {}
    names = list(flags)
    for g in range(0, len(names), _FLAGS_AT_ONCE):
        group = names[g:g + _FLAGS_AT_ONCE]
        k = 1 << len(group)
        key = person * k
        for j, o in enumerate(group):
            key += flags[o].astype(np.intp) << j
        counts = np.bincount(key, minlength=p * k).reshape(p, k)
        for j, o in enumerate(group):
            out[o] = counts[:, (np.arange(k) >> j) & 1 == 1].sum(axis=1).astype(np.float64)
    return out


def week_index(block: Block, week_list: np.ndarray, keep: np.ndarray | None = None) -> np.ndarray:
    """Each row's reported-week index (−1: a week not reported, or a row outside ``keep``, the cohort)."""
    lo, hi = int(week_list.min()), int(week_list.max())
    position = np.full(hi - lo + 1, -1, dtype=np.int64)
    position[week_list - lo] = np.arange(len(week_list))
    inside = (block.week >= lo) & (block.week <= hi)
    w = np.where(inside, position[np.clip(block.week - lo, 0, hi - lo)], -1)
    return w if keep is None else np.where(keep, w, -1)


def band_pass(block: Block, opts: PassOptions, week_list: np.ndarray, arms: dict[str, CellMoments]
              ) -> dict[str, np.ndarray]:
    """Pass 2 over one block: per outcome WᵀW, W (persons × weeks) each person's influences.

    W is made dense: row i holds ψ_iw = ±(y_iw − ȳ_w,arm) / √(n (n − 1)) in the weeks person i is
    observed (0 elsewhere) — the influences of
    :func:`~trialeval.effects.estimators.dim_influence`, one row per person. The sign (the arm) drops
    out of WᵀW, so the persons of each arm are put together and their rows scaled at once.
    """
    nw = len(week_list)
    keep = cohort_rows(block, opts.min_weeks)
    w = week_index(block, week_list)
    sel = w >= 0 if keep is None else (w >= 0) & keep
    t_person = block.t[block.starts[:-1]].astype(bool)
    p, p1 = block.n_persons, int(t_person.sum())
    row = np.where(t_person, np.cumsum(t_person) - 1, p1 + np.cumsum(~t_person) - 1)    # treated first
    key = np.repeat(row * nw, np.diff(block.starts)) + w
    every = bool(sel.all())
    observed = np.zeros(p * nw)
    observed[key[sel]] = 1.0
    out = {}
    for o in opts.outcomes:
        y = block.values[o]
        m = sel
        if y.dtype.kind == "f":
            missing = np.isnan(y)
            if missing.any():
                m = sel & ~missing
        flat = np.zeros(p * nw)
        if every and m is sel:
            flat[key] = y
            seen = observed
        else:
            flat[key[m]] = y[m]
            seen = np.zeros(p * nw)
            seen[key[m]] = 1.0
        W, seen2 = flat.reshape(p, nw), seen.reshape(p, nw)
        n, mean = arms[o].n.reshape(nw, 2), arms[o].mean.reshape(nw, 2)
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = np.where(n >= 2, 1.0 / np.sqrt(n * (n - 1)), 0.0)
        centre = np.where(n >= 2, mean, 0.0)
        for rows, arm in ((slice(0, p1), 1), (slice(p1, p), 0)):
            W[rows] -= seen2[rows] * centre[:, arm]
            W[rows] *= scale[:, arm]
        out[o] = W.T @ W
    return out


def reported_cells(first: FirstPass, outcome: str, week_list: np.ndarray) -> tuple[CellMoments, np.ndarray,
                                                                                       np.ndarray]:
    """The (week, arm) cells of the reported weeks: moments, values other than 0/1, non-zero counts."""
    cells = first.cells
    idx = week_list - cells.lo
    inside = (idx >= 0) & (idx < cells.span)
    cell = np.stack([2 * idx, 2 * idx + 1], axis=1).ravel()
    ok = np.repeat(inside, 2)
    safe = np.where(ok, cell, 0)
    m = cells.moments[outcome]
    n = np.where(ok, m.n[safe] if len(m.n) else 0.0, 0.0)
    mean = np.where(ok, m.mean[safe] if len(m.n) else np.nan, np.nan)
    m2 = np.where(ok, m.m2[safe] if len(m.n) else 0.0, 0.0)
    non01 = np.where(inside, cells.non01[outcome][np.where(inside, idx, 0)] if cells.span else 0, 0)
    nonzero = np.where(ok, cells.nonzero[outcome][safe] if cells.span else 0.0, 0.0)
    return CellMoments.from_sums(n, mean, m2), non01, nonzero
