"""The streamed effects' sums taken from the panel kernel's chunks, so that no panel file is written.

``trialeval effects --ledger --spells`` with ``--summary-weeks`` or ``--band`` needs more than the
per-week sums the panel keeps: per arm the moments of each person's mean over weeks 1–K (the summary)
and each outcome's WᵀW, W the influences of the difference in means summed per person (the band). The
kernel holds each chunk of persons as dense ``persons x weeks`` arrays, so :class:`KernelStats` takes
these sums there (:data:`~trialeval.panel.kernel.ChunkHook`) and hands the streamed estimator
(:func:`trialeval.effects.stream._estimate`) what a pass over the panel file would have given. Chunks are
added in person order whatever the thread that built them, so the result does not depend on the number
of workers.

WᵀW from raw products, which add up over chunks before the arm means are known: with ``o_iw`` person i
observed in week w (in the cohort), ``y_iw`` the value where observed and 0 elsewhere, ``m_wa`` and
``s_wa = 1/√(n(n−1))`` the arm's week mean and scale (both 0 where fewer than two persons)::

    (WᵀW)_wv = Σ_a s_wa s_va [ Σ_i y_iw y_iv − m_va Σ_i y_iw o_iv − m_wa Σ_i o_iw y_iv + m_wa m_va Σ_i o_iw o_iv ]

summed over the persons i of arm a. The products of 0/1 values are exact in single precision (a chunk's
sums stay below 2²⁴).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from trialeval.effects._stream_pass import FirstPass, PassOptions, WeekCells
from trialeval.panel import PanelResult
from trialeval.panel.kernel import ChunkHook, _Context
from trialeval.stats.moments import CellMoments

_HOURS = "ordinary_hours"


class _BandSums:
    """One outcome's raw products for WᵀW, per arm (control 0, treated 1), over the panel's weeks.

    A person observed ``L`` weeks is observed in the first ``L`` columns, so the sums over persons
    observed in two weeks w and v are those over the persons with ``L > max(w, v)``: per ``L`` the persons
    and the sums of their rows give them.
    """

    def __init__(self, n_weeks: int) -> None:
        self.yy = np.zeros((2, n_weeks, n_weeks))             # Σ_i y_iw y_iv
        self.by_length = np.zeros((2, n_weeks + 1, n_weeks))  # per L: Σ_{L_i = L} y_iw
        self.persons = np.zeros((2, n_weeks + 1))             # per L: persons with L_i = L

    def add(self, other: _BandSums) -> None:
        self.yy += other.yy
        self.by_length += other.by_length
        self.persons += other.persons

    def matrix(self, positions: np.ndarray, n: np.ndarray, mean: np.ndarray) -> np.ndarray:
        """WᵀW over the panel columns ``positions``; ``n``, ``mean`` per (week, arm) as ``2·week + t``."""
        nw = len(positions)
        n2, mean2 = n.reshape(nw, 2), mean.reshape(nw, 2)
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = np.where(n2 >= 2, 1.0 / np.sqrt(n2 * (n2 - 1)), 0.0)
        centre = np.where(n2 >= 2, mean2, 0.0)
        later = np.maximum.outer(positions, positions)                 # max(w, v) as a panel column
        out = np.zeros((nw, nw))
        for t in (1, 0):
            beyond = self.persons[t][::-1].cumsum()[::-1][1:]          # j: persons with L > j
            rows = self.by_length[t][::-1].cumsum(axis=0)[::-1][1:]    # j, w: Σ_{L_i > j} y_iw
            c, yo = centre[:, t], rows[later, positions[:, None]]      # yo[w, v] = Σ_i y_iw o_iv
            m = (self.yy[t][np.ix_(positions, positions)] - yo * c[None, :] - yo.T * c[:, None]
                 + np.outer(c, c) * beyond[later])
            out += np.outer(scale[:, t], scale[:, t]) * m
        return out


class KernelStats:
    """What the streamed effects need beyond the panel's per-week sums, gathered from the kernel's chunks.

    Per arm the moments of the person means over weeks 1–K (the summary), per week the ordinary-hours
    cells that are not 0/1 and per (week, arm) those that are not 0 (the export's disclosure counts), and
    with ``band`` each outcome's raw products for WᵀW.

    Parameters
    ----------
    outcomes
        The outcomes to gather (None: every outcome of the panel).
    min_weeks, summary_weeks
        As :func:`~trialeval.effects.stream.effects_from_file`.
    band
        Also gather the band's products.
    source
        Name of the panel in messages.
    """

    def __init__(self, outcomes: Sequence[str] | None, *, min_weeks: int | None, summary_weeks: int | None,
                 band: bool, source: str) -> None:
        self.asked = None if outcomes is None else tuple(outcomes)
        self.min_weeks, self.summary_weeks, self.band, self.source = min_weeks, summary_weeks, band, source
        self._lock = threading.Lock()
        self._pending: dict[int, tuple[int, _Part]] = {}
        self._next = 0
        self.outcomes: tuple[str, ...] | None = None
        self.total: _Part | None = None
        self._t = np.zeros(0, np.int8)
        self.k_min, self.n_weeks = 1, 0

    def hook(self, arm: np.ndarray) -> ChunkHook:
        """The kernel's hook, given each person's arm code (0 the programme group) in id order."""
        self._t = (arm == 0).astype(np.int8)
        return self._chunk

    def _outcomes(self, present: Sequence[str]) -> tuple[str, ...]:
        with self._lock:
            if self.outcomes is None:
                names = self.asked if self.asked is not None else present
                self.outcomes = tuple(o for o in names if o in present)
            return self.outcomes

    def _chunk(self, ctx: _Context, p0: int, p1: int, flags: dict[str, np.ndarray], hours_cells: np.ndarray,
               hours: np.ndarray) -> None:
        outcomes = self._outcomes([*flags, _HOURS])
        self.k_min, self.n_weeks = ctx.k_min, ctx.n_weeks
        nw, t = ctx.n_weeks, self._t[p0:p1]
        length = ctx.n_obs[p0:p1].copy()          # observed weeks: the first `length` of the window
        if self.min_weeks is not None:
            length[ctx.k_min + length - 1 < self.min_weeks] = 0
        dense: dict[str, np.ndarray] = {o: flags[o] for o in outcomes if o in flags}
        part = _Part()
        if _HOURS in outcomes:
            person, week = hours_cells // nw, hours_cells % nw
            kept = week < length[person]
            cell = 2 * week[kept] + t[person[kept]]
            part.nonzero = np.bincount(cell, minlength=2 * nw).astype(np.float64)
            part.non01 = np.bincount(week[kept][hours[kept] != 1], minlength=nw)
        if self.summary_weeks is not None:
            part.summary = _summary(dense, length, t, ctx.k_min, self.summary_weeks)
            if _HOURS in outcomes:           # from the hours' cells (no dense array needed)
                part.summary[_HOURS] = _hours_summary(hours_cells, hours, nw, length, t, ctx.k_min,
                                                      self.summary_weeks)
        if self.band:
            part.band = _band_sums(dense, length, t, nw,
                                   (hours_cells, hours) if _HOURS in outcomes else None)
        with self._lock:
            self._pending[p0] = (p1, part)
            while self._next in self._pending:
                stop, part = self._pending.pop(self._next)
                self.total = part if self.total is None else self.total + part
                self._next = stop

    def first_pass(self, built: PanelResult, outcomes: Sequence[str]) -> FirstPass:
        """Pass 1 of the streamed effects: the panel's per-week sums with the kernel's own sums."""
        total = self.total or _Part()
        lo, span = self.k_min, self.n_weeks
        moments, non01, nonzero = {}, {}, {}
        rows = np.zeros(span)
        for o in outcomes:
            n, mean, ss = built._sums.moments(o, self.min_weeks)        # programme group first
            arrays = [np.empty(2 * span) for _ in range(3)]
            for cell, (a, b) in zip(arrays, ((n, 0.0), (mean, np.nan), (ss, 0.0))):
                cell[1::2], cell[0::2] = a[0], a[1]
                cell[np.isnan(cell)] = b
            moments[o] = CellMoments.from_sums(*arrays)
            rows = arrays[0][0::2] + arrays[0][1::2]
            if o == _HOURS:
                non01[o] = total.non01 if total.non01 is not None else np.zeros(span, np.int64)
                nonzero[o] = total.nonzero if total.nonzero is not None else np.zeros(2 * span)
            else:
                non01[o] = np.zeros(span, np.int64)
                nonzero[o] = np.round(moments[o].n * np.nan_to_num(moments[o].mean))
        cells = WeekCells(lo, span, rows.astype(np.int64), moments, non01, nonzero)
        summary = {o: total.summary[o] for o in outcomes} if self.summary_weeks is not None else {}
        n_all = built._sums.moments(outcomes[0], None)[0] if outcomes else np.zeros((2, 0))
        arm_rows = np.array([n_all[1].sum(), n_all[0].sum()], dtype=np.int64)      # control, treated
        return FirstPass(cells, summary, [], int(arm_rows.sum()), arm_rows)

    def band_matrices(self, popts: PassOptions, week_list: np.ndarray, arms: dict[str, CellMoments]
                      ) -> dict[str, np.ndarray]:
        """Each outcome's WᵀW over ``week_list``, centred and scaled by the arm moments ``arms``."""
        positions = np.asarray(week_list, dtype=np.int64) - self.k_min
        band = self.total.band if self.total is not None else {}
        return {o: band[o].matrix(positions, arms[o].n, arms[o].mean) for o in popts.outcomes}


@dataclass
class _Part:
    """A chunk's (or the sum of chunks') own sums; ``+`` adds a later chunk's."""

    summary: dict[str, CellMoments] = field(default_factory=dict)    # arms (control, treated): person means
    band: dict[str, _BandSums] = field(default_factory=dict)
    nonzero: np.ndarray | None = None      # ordinary hours: cells 2·week + t with hours > 0
    non01: np.ndarray | None = None        # ordinary hours: per week, cells with hours other than 0 and 1

    def __add__(self, other: _Part) -> _Part:
        for o, sums in other.band.items():
            if o in self.band:
                self.band[o].add(sums)
            else:
                self.band[o] = sums
        return _Part({o: m + other.summary[o] for o, m in self.summary.items()} or other.summary, self.band,
                     _plus(self.nonzero, other.nonzero), _plus(self.non01, other.non01))


def _plus(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    return b if a is None else a if b is None else a + b


def _summary(dense: dict[str, np.ndarray], length: np.ndarray, t: np.ndarray, k_min: int, K: int
             ) -> dict[str, CellMoments]:
    """Per arm (control, treated): moments of the means over weeks 1–K of the persons observed in all."""
    j0, j1 = 1 - k_min, K - k_min + 1               # window columns [j0, j1)
    complete = length >= j1
    out = {}
    for o, a in dense.items():
        window = a[complete, max(j0, 0):j1]
        if a.dtype == bool:
            means = np.count_nonzero(window, axis=1) / K
        elif a.dtype.kind in "ui":
            means = window.sum(axis=1, dtype=np.int64) / K
        else:
            means = window.sum(axis=1) / K
        out[o] = CellMoments.from_values(t[complete], means, 2)
    return out


def _hours_summary(cells: np.ndarray, hours: np.ndarray, nw: int, length: np.ndarray, t: np.ndarray,
                   k_min: int, K: int) -> CellMoments:
    """:func:`_summary` of ordinary hours from the chunk's cells with hours (the other cells are 0)."""
    j0, j1 = 1 - k_min, K - k_min + 1
    complete = length >= j1
    person, week = cells // nw, cells % nw
    inside = (week >= j0) & (week < j1)
    sums = np.bincount(person[inside], weights=hours[inside], minlength=len(length))
    return CellMoments.from_values(t[complete], sums[complete] / K, 2)


def _band_sums(dense: dict[str, np.ndarray], length: np.ndarray, t: np.ndarray, nw: int,
               hours: tuple[np.ndarray, np.ndarray] | None = None) -> dict[str, _BandSums]:
    """The chunk's raw products for WᵀW per outcome and arm; ``length`` the observed weeks of each person
    (0 outside the cohort), ``hours`` the ordinary hours as (cell ``person · nw + week``, value). Sums of
    0/1 values are exact in single precision (a chunk's stay below 2²⁴).

    Values outside a person's observed weeks (where rules may have set them) are left out. Only the
    persons with a value other than 0 add to the products, so only their rows are made, in the order of
    arm (control first) and observed weeks; each run of one (arm, weeks) is summed as a block.
    """
    key_all = t.astype(np.int64) * (nw + 1) + length
    persons = np.bincount(key_all, minlength=2 * (nw + 1)).reshape(2, nw + 1)
    by_key = np.lexsort((length, t))
    # Values outside the observed weeks are cleared, unless every person is observed in every week.
    observed = None if bool((length >= nw).all()) else np.arange(nw)[None, :] < length[:, None]
    exact = len(length) < 2**24
    out = {}
    for o, a in dense.items():
        if observed is not None:
            a = a & observed if a.dtype == bool else np.where(observed, a, 0)
        nonzero = np.asarray(a.any(axis=1))
        steps = _steps(a, nonzero, length) if a.dtype == bool else None
        if steps is not None:             # a 0/1 outcome that, once 1, stays 1 (reached the 13-week rule ...)
            out[o] = _step_products(steps, length[nonzero], t[nonzero], persons, nw)
            continue
        order = by_key[nonzero[by_key]]
        y = np.take(a, order, axis=0).astype(np.float32 if exact and a.dtype.kind in "bui" else np.float64,
                                             copy=False)
        out[o] = _products(y, key_all[order], t[order], persons, nw)
    if hours is not None:                 # rows made from the cells with hours: no dense array of the chunk
        person, week = np.divmod(hours[0], nw)
        kept = (week < length[person]) & (hours[1] != 0)
        person, week = person[kept], week[kept]
        present = np.zeros(len(length), dtype=bool)
        present[person] = True
        order = by_key[present[by_key]]
        row = np.empty(len(length), dtype=np.int64)
        row[order] = np.arange(len(order))
        y = np.zeros((len(order), nw))
        y[row[person], week] = hours[1][kept]
        out[_HOURS] = _products(y, key_all[order], t[order], persons, nw)
    return out


def _products(y: np.ndarray, key: np.ndarray, t: np.ndarray, persons: np.ndarray, nw: int) -> _BandSums:
    """One outcome's :class:`_BandSums` from its rows ``y`` (persons in the order of ``key`` = arm · (nw + 1)
    + observed weeks, control first); ``persons`` per arm and observed weeks."""
    sums = _BandSums(nw)
    sums.persons[:] = persons
    if len(y) == 0:
        return sums
    first = np.flatnonzero(np.append(True, key[1:] != key[:-1]))
    arm, weeks = np.divmod(key[first], nw + 1)
    for i, j, g_arm, g_weeks in zip(first, np.append(first[1:], len(key)), arm, weeks):
        sums.by_length[g_arm, g_weeks] = y[i:j].sum(axis=0)
    split = int(np.count_nonzero(t == 0))
    for g_arm, block in ((0, y[:split]), (1, y[split:])):
        sums.yy[g_arm] = block.T @ block
    return sums


#: Rows of a chunk that :func:`_steps` checks first: an outcome that is not a step (most) fails there.
_STEP_PROBE = 512


def _steps(a: np.ndarray, nonzero: np.ndarray, length: np.ndarray) -> np.ndarray | None:
    """Each person's first week with a 1, when every row of ``a`` (cleared outside the observed weeks) is
    0 up to that week and 1 from it to the end of the observed weeks; else None."""
    if len(a) > _STEP_PROBE and _steps(a[:_STEP_PROBE], nonzero[:_STEP_PROBE], length[:_STEP_PROBE]) is None:
        return None
    first = np.argmax(a, axis=1)
    if not bool(((np.count_nonzero(a, axis=1) == length - first) | ~nonzero).all()):
        return None
    return first[nonzero]


def _step_products(first: np.ndarray, length: np.ndarray, t: np.ndarray, persons: np.ndarray, nw: int
                   ) -> _BandSums:
    """:class:`_BandSums` of 0/1 rows that are 1 from week ``first`` to the last observed week, in closed
    form: with C[f, L] the persons of an arm with first week f and L observed weeks,
    Σ_i y_iw y_iv = Σ_{f ≤ min(w, v)} Σ_{L > max(w, v)} C[f, L] and Σ_{L_i = L} y_iw = Σ_{f ≤ w} C[f, L] (w < L)."""
    sums = _BandSums(nw)
    sums.persons[:] = persons
    weeks = np.arange(nw)
    low, high = np.minimum.outer(weeks, weeks), np.maximum.outer(weeks, weeks)
    for arm in (0, 1):
        mine = t == arm
        C = np.bincount(first[mine] * (nw + 1) + length[mine], minlength=nw * (nw + 1)).reshape(nw, nw + 1)
        by_first = C.cumsum(axis=0)                        # [f', L]: persons with f ≤ f' and length L
        beyond = by_first[:, ::-1].cumsum(axis=1)[:, ::-1]  # [f', L']: f ≤ f' and L ≥ L'
        sums.yy[arm] = beyond[low, high + 1]
        sums.by_length[arm] = np.where(weeks[None, :] < np.arange(nw + 1)[:, None], by_first.T, 0)
    return sums
