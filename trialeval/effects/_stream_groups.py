"""The streamed blocked and clustered estimators: moments per (block or cluster, week, arm), added up per batch.

With ``blocks`` (estimatr's blocked estimator) or ``cluster`` (CR2 with Bell–McCaffrey df) the first
pass also adds, per value of the grouping column, week and arm, the moments of every outcome
(:class:`GroupCells`). Both estimators are closed forms of these moments: the blocked estimate is
:func:`~trialeval.effects.estimators.blocked_from_moments` and the CR2 variance
:func:`~trialeval.effects.estimators.cr2_from_sums` (the residual sum of a cluster-week is
``Σ_arm n·(ȳ_cell − ȳ_arm)``), the very functions the in-memory estimators call. Memory is bounded by
(values of the grouping column) × weeks × 2 cells per outcome, never by the rows.

The Gaussian sup-t band of the clustered estimator comes from the same cells (its unit is the cluster);
the blocked estimator's band needs a second pass (:func:`blocked_influences`), whose unit is the person.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from trialeval.effects._stream_pass import week_index
from trialeval.effects._stream_read import Block, GroupLabels
from trialeval.exceptions import InputDataError
from trialeval.io import describe_rows
from trialeval.stats.moments import CellMoments


def _place(a: np.ndarray, pos: np.ndarray, woff: int, n_labels: int, span: int, per: int, fill: float
           ) -> np.ndarray:
    """Array ``a`` (labels × weeks × ``per``) placed at label rows ``pos`` and weeks from ``woff``."""
    old = a.reshape(len(pos), -1, per)
    out = np.full((n_labels, span, per), fill, dtype=a.dtype)
    out[pos, woff:woff + old.shape[1]] = old
    return out.ravel()


@dataclass
class GroupCells:
    """Per value of the grouping column (``labels``, sorted), week from ``lo`` and arm: moments per outcome.

    Cells are ``(label·span + week − lo)·2 + t``. ``arm_rows`` counts every row (also rows outside the
    cohort) per label and arm, ``pairs`` the persons per label; ``persons`` the persons seen.
    """

    labels: np.ndarray
    lo: int
    span: int
    moments: dict[str, CellMoments]
    nonzero: dict[str, np.ndarray]
    arm_rows: np.ndarray
    pairs: np.ndarray
    persons: int = 0

    def rebase(self, labels: np.ndarray, lo: int, span: int) -> GroupCells:
        if len(labels) == len(self.labels) and (lo, span) == (self.lo, self.span):
            return self
        pos = np.searchsorted(labels, self.labels)
        L, off = len(labels), self.lo - lo

        def put(a: np.ndarray, fill: float) -> np.ndarray:
            return _place(a, pos, off, L, span, 2, fill) if self.span else np.full(L * span * 2, fill)

        moments = {o: CellMoments(put(m.n, 0.0), put(m.mean, np.nan), put(m.m2, 0.0)) for o, m in self.moments.items()}
        arm_rows = np.zeros((L, 2), np.int64)
        arm_rows[pos] = self.arm_rows
        pairs = np.zeros(L, np.int64)
        pairs[pos] = self.pairs
        return GroupCells(labels, lo, span, moments, {o: put(a, 0.0) for o, a in self.nonzero.items()},
                          arm_rows, pairs, self.persons)

    def __add__(self, other: GroupCells) -> GroupCells:
        if not len(other.labels):
            return GroupCells(self.labels, self.lo, self.span, self.moments, self.nonzero, self.arm_rows,
                              self.pairs, self.persons + other.persons)
        if not len(self.labels):
            return other + self
        labels = np.union1d(self.labels, other.labels)
        spans = [(g.lo, g.lo + g.span) for g in (self, other) if g.span]
        lo = min(s[0] for s in spans) if spans else 0
        span = max(s[1] for s in spans) - lo if spans else 0
        a, b = self.rebase(labels, lo, span), other.rebase(labels, lo, span)
        return GroupCells(labels, lo, span, {o: a.moments[o] + b.moments[o] for o in a.moments},
                          {o: a.nonzero[o] + b.nonzero[o] for o in a.nonzero}, a.arm_rows + b.arm_rows,
                          a.pairs + b.pairs, a.persons + b.persons)

    def week_major(self, outcome: str, week_list: np.ndarray) -> tuple[CellMoments, np.ndarray]:
        """The reported weeks' moments and non-zero counts in the in-memory layout ``(w·L + label)·2 + t``."""
        L, nw = len(self.labels), len(week_list)
        idx = week_list - self.lo
        inside = (idx >= 0) & (idx < self.span)

        def pick(a: np.ndarray, fill: float) -> np.ndarray:
            out = np.full((nw, L, 2), fill)
            if self.span and inside.any():
                out[inside] = a.reshape(L, self.span, 2)[:, idx[inside]].transpose(1, 0, 2)
            return out.ravel()

        m = self.moments[outcome]
        return (CellMoments.from_sums(pick(m.n, 0.0), pick(m.mean, np.nan), pick(m.m2, 0.0)),
                pick(self.nonzero[outcome], 0.0))


def empty_groups(outcomes: tuple[str, ...], labels: np.ndarray | None = None) -> GroupCells:
    return GroupCells(np.zeros(0, dtype=object) if labels is None else labels[:0], 0, 0,
                      {o: CellMoments.empty(0) for o in outcomes}, {o: np.zeros(0) for o in outcomes},
                      np.zeros((0, 2), np.int64), np.zeros(0, np.int64))


def group_pass(block: Block, column: str, outcomes: tuple[str, ...], keep: np.ndarray | None, source: str,
               per_person: bool) -> GroupCells:
    """One block's cells per (value of ``column``, week, arm); ``per_person``: the value must be constant
    within each person (blocks), checked here."""
    labels: GroupLabels = block.labels[column]
    code = labels.codes
    if per_person and block.n_rows:
        first = np.repeat(code[block.starts[:-1]], np.diff(block.starts))
        if (first != code).any():
            raise InputDataError(f"{source}: column '{column}' must be constant within each person; it varies in "
                                 f"{describe_rows(block.file_rows(first != code))}")
    L = len(labels.values)
    arm_rows = np.bincount(2 * code.astype(np.int64) + block.t, minlength=2 * L).reshape(L, 2)
    person = block.person()
    pair = np.unique(person.astype(np.int64) * max(L, 1) + code)
    pairs = np.bincount(pair % max(L, 1), minlength=L) if L else np.zeros(0, np.int64)
    week, t = block.week, block.t
    if keep is not None:
        week, t, code = week[keep], t[keep], code[keep]
    if not len(week):
        return GroupCells(labels.values, 0, 0, {o: CellMoments.empty(0) for o in outcomes},
                          {o: np.zeros(0) for o in outcomes}, arm_rows, pairs, block.n_persons)
    lo = int(week.min())
    span = int(week.max()) - lo + 1
    cell = (code.astype(np.int64) * span + (week - lo)) * 2 + t
    size = L * span * 2
    moments, nonzero = {}, {}
    for o in outcomes:
        y = block.values[o] if keep is None else block.values[o][keep]
        c = cell
        if y.dtype.kind == "f":
            ok = ~np.isnan(y)
            if not ok.all():
                y, c = y[ok], c[ok]
        moments[o] = CellMoments.from_values(c, y, size)
        nonzero[o] = np.bincount(c, weights=(y != 0), minlength=size)
    return GroupCells(labels.values, lo, span, moments, nonzero, arm_rows, pairs, block.n_persons)


def typed_labels(labels: np.ndarray, csv: bool) -> tuple[np.ndarray, np.ndarray]:
    """The labels as the in-memory path sees them, sorted, and the position of each old label.

    A CSV is read as text here; pandas reads a column of whole numbers as integers and of numbers as
    floats, and sorts them as numbers.
    """
    values = labels
    if csv and len(labels):
        num = pd.to_numeric(pd.Series(labels, dtype=object), errors="coerce")
        if not num.isna().any():
            whole = bool((num == np.round(num)).all()) and not any("." in str(v) or "e" in str(v).lower()
                                                                   for v in labels)
            values = num.to_numpy(dtype=np.int64 if whole else np.float64)
    order = np.argsort(values, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return np.asarray(values[order], dtype=object), rank


def check_groups(groups: GroupCells, column: str, option: str, source: str, cluster: bool,
                 names: np.ndarray) -> None:
    """The checks of the in-memory path: a column naming persons is refused; a cluster has one arm."""
    L = len(names)
    numeric = np.array([isinstance(v, (int, float, np.integer, np.floating)) for v in names], dtype=bool)
    measurement = bool(numeric.all() and L and any(float(v) != round(float(v)) for v in names))
    if not measurement and groups.persons >= 3 and groups.persons == int(groups.pairs.sum()) == L:
        raise InputDataError(
            f"{source}: {option} (--{option}): '{column}' is unique per person and would disclose persons in the "
            "exported tables; use a column that groups persons (e.g. municipality, stratum)")
    if cluster:
        mixed = np.flatnonzero((groups.arm_rows[:, 0] > 0) & (groups.arm_rows[:, 1] > 0))
        if len(mixed):
            shown = ", ".join(repr(str(names[i])) for i in mixed[:5])
            raise InputDataError(
                f"{source}: column 'arm' must be constant within each cluster ('{column}': all its units share "
                f"one arm); it varies in {len(mixed)} cluster(s) ({shown})")


def relabel(groups: GroupCells, rank: np.ndarray) -> GroupCells:
    """The cells with labels in the order ``rank`` gives (new position of each old label)."""
    inverse = np.argsort(rank)
    L, S = len(rank), groups.span

    def move(a: np.ndarray) -> np.ndarray:
        return a.reshape(L, S, 2)[inverse].ravel() if S else a

    return GroupCells(groups.labels[inverse], groups.lo, S,
                      {o: CellMoments(move(m.n), move(m.mean), move(m.m2)) for o, m in groups.moments.items()},
                      {o: move(a) for o, a in groups.nonzero.items()}, groups.arm_rows[inverse],
                      groups.pairs[inverse], groups.persons)


def cluster_sums(m: CellMoments, arms: CellMoments) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per (week, cluster): rows, residual sum Σ(y − ȳ_arm of the week) and treated rows, from the cells."""
    nw = len(arms.n) // 2
    n = m.n.reshape(nw, -1, 2)
    mean = m.mean.reshape(nw, -1, 2)
    arm_mean = arms.mean.reshape(nw, 1, 2)
    with np.errstate(invalid="ignore"):
        E = np.where(n > 0, n * (mean - arm_mean), 0.0).sum(axis=2)
    return n.sum(axis=2).ravel(), E.ravel(), n[:, :, 1].ravel()


def cluster_band_matrix(ng: np.ndarray, E: np.ndarray, tg: np.ndarray, c2: np.ndarray, ok: np.ndarray,
                        n1: np.ndarray, n0: np.ndarray) -> np.ndarray:
    """The clustered estimator's influences summed per cluster (the band's unit), signed by arm: weeks ×
    clusters (its ``W @ W.T`` is the Gaussian band's matrix)."""
    nw = len(n1)
    treated = (tg > 0).reshape(nw, -1)
    Na = np.where(treated, n1[:, None], n0[:, None])
    with np.errstate(invalid="ignore", divide="ignore"):
        W = np.nan_to_num(np.where(treated, 1.0, -1.0) * np.sqrt(c2.reshape(nw, -1)) * E.reshape(nw, -1) / Na)
    W[~ok] = 0.0
    return W


@dataclass
class BandInputs:
    """Per outcome the centre and the scale·share of each (week, block, arm) cell of the blocked estimator."""

    labels: np.ndarray                                  # the labels as read (sorted, file's type)
    rank: np.ndarray                                    # position of each of them in the estimate's order
    centre: dict[str, np.ndarray] = field(default_factory=dict)
    scale: dict[str, np.ndarray] = field(default_factory=dict)


def blocked_influences(block: Block, column: str, outcomes: tuple[str, ...], keep: np.ndarray | None,
                       week_list: np.ndarray, inputs: BandInputs) -> dict[str, np.ndarray]:
    """Per outcome W (persons × weeks): each person's influences on the blocked estimate, signed by arm."""
    nw, L = len(week_list), len(inputs.labels)
    w = week_index(block, week_list, keep)
    sel = w >= 0
    labels: GroupLabels = block.labels[column]
    glob = inputs.rank[np.searchsorted(inputs.labels, labels.values)][labels.codes]
    cell = (w * L + glob) * 2 + block.t
    key = block.person() * nw + w
    p = block.n_persons
    out = {}
    for o in outcomes:
        y = block.values[o]
        m = sel & ~np.isnan(y) if y.dtype.kind == "f" else sel
        c = cell[m]
        with np.errstate(invalid="ignore"):
            psi = np.nan_to_num((2.0 * block.t[m] - 1) * (y[m] - inputs.centre[o][c]) * inputs.scale[o][c])
        out[o] = np.bincount(key[m], weights=psi, minlength=p * nw).reshape(p, nw)
    return out
