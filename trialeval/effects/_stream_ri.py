"""Randomisation inference over a panel file in batches of persons: re-randomisations that do not depend
on the batches, drawn the same way in memory.

Each draw's assignment needs the units' arms at once, which a file read in batches does not give. So the
units of a stratum are numbered (persons in file order, clusters by sorted label: 0 … N_s − 1) and each
draw's assignment is built from a fixed binary tree over those numbers: the number treated among the
first half of a node is hypergeometric given the node's number treated, and within a leaf of at most
:data:`LEAF` units the treated are a uniform subset. Each node draws from its own generator, seeded by
(seed, stratum, node), so a unit's arm in a draw is a function of the seed and the unit's place only:
the same whatever the batches and the workers, and every draw is a complete randomisation within strata
(the numbers treated per stratum are the observed ones). The in-memory path
(:func:`~trialeval.effects.inference._ri_pvalues`) draws from the same tree (:func:`tree_sums`), so one
seed gives one p-value.

Persons: pass A counts the units (persons with a row that enters) per stratum and arm in each run of
persons (:func:`count_pass`); pass B adds, per draw and reported week, the sums and counts of the outcome
over the persons drawn treated (:func:`draw_pass`). Clusters: one pass adds the sums and counts per
(cluster, week) (:func:`cluster_pass`), then the draws run over the clusters
(:func:`cluster_draw_sums`). Memory: draws × weeks per outcome (and clusters × weeks), plus one batch.
"""

from __future__ import annotations

from collections.abc import Callable
import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trialeval.effects._stream_groups import typed_labels
from trialeval.effects._stream_read import Block
from trialeval.exceptions import InputDataError
from trialeval.io import describe_rows

#: Largest node of the tree whose treated persons are drawn directly (a uniform subset).
LEAF = 64


@dataclass
class UnitCounts:
    """Per run of persons (keyed by its first file row): stratum labels and units per stratum and arm."""

    runs: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=dict)

    def __add__(self, other: UnitCounts) -> UnitCounts:
        return UnitCounts({**self.runs, **other.runs})


def subtree(seed: int, stratum: int, lo: int, hi: int, treated: np.ndarray, a: int, b: int) -> np.ndarray:
    """Draws × persons ``[a, b)`` of node ``[lo, hi)``: True where drawn treated, given ``treated`` per draw."""
    if hi - lo <= LEAF:
        keys = np.random.default_rng([seed, stratum, lo, hi]).random((len(treated), hi - lo))
        rank = np.argsort(np.argsort(keys, axis=1, kind="stable"), axis=1, kind="stable")
        return (rank < treated[:, None])[:, a - lo:b - lo]
    mid = lo + (hi - lo) // 2
    left = np.random.default_rng([seed, stratum, lo, hi]).hypergeometric(treated, (hi - lo) - treated, mid - lo) \
        if mid > lo else np.zeros_like(treated)
    parts = []
    if a < mid:
        parts.append(subtree(seed, stratum, lo, mid, left, a, min(b, mid)))
    if b > mid:
        parts.append(subtree(seed, stratum, mid, hi, treated - left, max(a, mid), b))
    return np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]


def ri_pvalues(s1: np.ndarray, c1: np.ndarray, total_s: np.ndarray, total_c: np.ndarray,
               observed: np.ndarray, draws: int) -> np.ndarray:
    """Fisher p-values per week from the drawn treated sums ``s1`` and counts ``c1`` (draws × weeks).

    p = (1 + #{|τ*| ≥ |τ|}) / (1 + draws), with the in-memory path's tolerance for ties.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        tau = s1 / c1 - (total_s - s1) / (total_c - c1)
    obs = observed[None, :]
    hits = np.sum(np.abs(tau) >= np.abs(obs) - 1e-12 * np.maximum(1.0, np.abs(obs)), axis=0)
    return np.where(np.isfinite(observed), (1 + hits) / (1 + draws), np.nan)


def _runs(block: Block) -> tuple[np.ndarray, np.ndarray]:
    """Each person's run (index into the keys) and the runs' keys (first file row): a batch's inner persons
    are one run; the stitched edge persons are a run each."""
    if isinstance(block.rows, int):
        return np.zeros(block.n_persons, np.int64), np.array([block.rows], np.int64)
    return np.arange(block.n_persons), np.asarray(block.rows)[block.starts[:-1]].astype(np.int64)


def _units(block: Block, w: np.ndarray, stratum: str | None, source: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The block's units (persons with a row that enters): their person index, stratum label code, arm."""
    person = block.person()
    unit = np.flatnonzero(np.bincount(person[w >= 0], minlength=block.n_persons) > 0)
    t = block.t[block.starts[:-1]][unit]
    if stratum is None:
        return unit, np.zeros(len(unit), np.int64), t
    codes = block.labels[stratum].codes
    first = np.repeat(codes[block.starts[:-1]], np.diff(block.starts))
    if (first != codes).any():
        raise InputDataError(f"{source}: column '{stratum}' must be constant within each person; it varies in "
                             f"{describe_rows(block.file_rows(first != codes))}")
    return unit, codes[block.starts[:-1]][unit], t


def count_pass(block: Block, w: np.ndarray, stratum: str | None, source: str) -> UnitCounts:
    """Pass A over one block: per run, the stratum labels present and their units and treated units."""
    unit, code, t = _units(block, w, stratum, source)
    run, keys = _runs(block)
    values = block.labels[stratum].values if stratum else np.array(["all"], dtype=object)
    out = UnitCounts()
    for r, key in enumerate(keys):
        mine = run[unit] == r
        present = np.unique(code[mine])
        n = np.bincount(code[mine], minlength=len(values))[present]
        n1 = np.bincount(code[mine], weights=t[mine], minlength=len(values))[present].astype(np.int64)
        out.runs[int(key)] = (values[present], n, n1)
    return out


@dataclass(frozen=True)
class DrawPlan:
    """What pass B needs: the seed, the strata (sorted labels), their units and treated units, and each
    run's first place per stratum."""

    seed: int
    draws: int
    labels: np.ndarray
    size: np.ndarray
    treated: np.ndarray
    offsets: dict[int, np.ndarray]
    rank: np.ndarray


def plan_draws(counts: UnitCounts, seed: int, draws: int, csv: bool = False) -> DrawPlan:
    """Number the units of each stratum in file order: each run's first place per stratum.

    The strata are numbered in the order of their labels as the in-memory path sorts them (a CSV's
    labels are read as text here: ``csv`` sorts whole numbers as numbers).
    """
    runs = sorted(counts.runs)
    labels = np.unique(np.concatenate([counts.runs[k][0] for k in runs])) if runs else np.zeros(0, dtype=object)
    size, treated = np.zeros(len(labels), np.int64), np.zeros(len(labels), np.int64)
    offsets = {}
    for k in runs:
        values, n, n1 = counts.runs[k]
        offsets[k] = size.copy()
        pos = np.searchsorted(labels, values)
        size[pos] += n
        treated[pos] += n1
    return DrawPlan(seed, draws, labels, size, treated, offsets, typed_labels(labels, csv)[1])


@dataclass
class DrawSums:
    """Per outcome: drawn treated sums and counts (draws × weeks) and the totals per week."""

    s1: dict[str, np.ndarray]
    c1: dict[str, np.ndarray]
    total_s: dict[str, np.ndarray]
    total_c: dict[str, np.ndarray]

    def __add__(self, other: DrawSums) -> DrawSums:
        def add(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            return {o: v + b[o] for o, v in a.items()}
        return DrawSums(add(self.s1, other.s1), add(self.c1, other.c1), add(self.total_s, other.total_s),
                        add(self.total_c, other.total_c))


def empty_draw_sums(outcomes: tuple[str, ...], draws: int, nw: int) -> DrawSums:
    return DrawSums({o: np.zeros((draws, nw)) for o in outcomes}, {o: np.zeros((draws, nw)) for o in outcomes},
                    {o: np.zeros(nw) for o in outcomes}, {o: np.zeros(nw) for o in outcomes})


def _places(block: Block, unit: np.ndarray, code: np.ndarray, plan: DrawPlan, stratum: str | None
            ) -> tuple[np.ndarray, np.ndarray]:
    """Each unit's stratum (index into the plan's labels) and its place within the stratum (file order)."""
    values = block.labels[stratum].values if stratum else np.array(["all"], dtype=object)
    s = np.searchsorted(plan.labels, values)[code] if len(code) else np.zeros(0, np.int64)
    run, keys = _runs(block)
    r = run[unit]
    first = np.stack([plan.offsets[int(k)] for k in keys])[r, s] if len(unit) else np.zeros(0, np.int64)
    order = np.lexsort((np.arange(len(unit)), s, r))
    group = r[order] * (len(plan.labels) + 1) + s[order]
    start = np.r_[0, np.flatnonzero(group[1:] != group[:-1]) + 1] if len(group) else np.zeros(0, np.int64)
    within = np.arange(len(group)) - np.repeat(start, np.diff(np.r_[start, len(group)]))
    place = np.empty(len(unit), np.int64)
    place[order] = first[order] + within
    return s, place


def draw_pass(block: Block, w: np.ndarray, outcomes: tuple[str, ...], nw: int, plan: DrawPlan,
              stratum: str | None, source: str) -> DrawSums:
    """Pass B over one block: per outcome the drawn treated sums and counts, units a slice at a time."""
    unit, code, _ = _units(block, w, stratum, source)
    s, place = _places(block, unit, code, plan, stratum)
    out = empty_draw_sums(outcomes, plan.draws, nw)
    index = np.full(block.n_persons, -1, np.int64)
    index[unit] = np.arange(len(unit))
    row_unit = index[block.person()]
    step = max(1, 4_000_000 // max(plan.draws, 1))
    for lo in range(0, len(unit), step):
        hi = min(lo + step, len(unit))
        D = _assign(plan, s[lo:hi], place[lo:hi])
        rows = (w >= 0) & (row_unit >= lo) & (row_unit < hi)
        for o in outcomes:
            y = block.values[o]
            m = rows & ~np.isnan(y) if y.dtype.kind == "f" else rows
            key = (row_unit[m] - lo) * nw + w[m]
            Y = np.bincount(key, weights=y[m].astype(np.float64), minlength=(hi - lo) * nw).reshape(hi - lo, nw)
            C = np.bincount(key, minlength=(hi - lo) * nw).reshape(hi - lo, nw).astype(np.float64)
            out.s1[o] += D @ Y
            out.c1[o] += D @ C
            out.total_s[o] += Y.sum(axis=0)
            out.total_c[o] += C.sum(axis=0)
    return out


def _assign(plan: DrawPlan, s: np.ndarray, place: np.ndarray) -> np.ndarray:
    """Draws × units (1.0: drawn treated) of the plan's strata ``s`` (raw label positions) at ``place``."""
    return assign(plan.seed, plan.draws, plan.size, plan.treated, plan.rank[s] if len(s) else s, place,
                  slot=s)


def assign(seed: int, draws: int, size: np.ndarray, treated: np.ndarray, stratum: np.ndarray, place: np.ndarray,
           slot: np.ndarray | None = None) -> np.ndarray:
    """Draws × units (1.0: drawn treated): unit i is place ``place[i]`` of tree stratum ``stratum[i]``.

    Stratum k has ``size[slot]`` units of which ``treated[slot]`` treated (``slot`` the index into
    ``size`` and ``treated``; default: the stratum itself); each stratum's units are split into runs of
    consecutive places, each drawn from the tree.
    """
    slot = stratum if slot is None else slot
    out = np.zeros((draws, len(stratum)))
    for k in np.unique(slot):
        idx = np.flatnonzero(slot == k)
        idx = idx[np.argsort(place[idx], kind="stable")]
        p = place[idx]
        cuts = np.r_[0, np.flatnonzero(np.diff(p) != 1) + 1, len(p)]
        for a, b in zip(cuts[:-1], cuts[1:]):
            got = subtree(seed, int(stratum[idx[0]]), 0, int(size[k]),
                          np.full(draws, int(treated[k]), dtype=np.int64), int(p[a]), int(p[b - 1]) + 1)
            out[:, idx[a:b]] = got
    return out


def tree_places(stratum: np.ndarray, order_key: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Units numbered within their stratum by ``order_key``: each unit's tree stratum (the rank of its
    stratum code among the codes present), its place, and per tree stratum the units."""
    codes, k = np.unique(stratum, return_inverse=True)
    order = np.lexsort((order_key, k))
    size = np.bincount(k, minlength=len(codes))
    start = np.r_[0, np.cumsum(size)[:-1]]
    place = np.empty(len(k), np.int64)
    place[order] = np.arange(len(k)) - np.repeat(start, size)
    return k.astype(np.int64), place, size.astype(np.int64), order


def tree_sums(seed: int, draws: int, k: np.ndarray, place: np.ndarray, size: np.ndarray, treated: np.ndarray,
              order: np.ndarray, values: list[tuple[Any, Any]], progress: Callable[[int, int], None] | None = None
              ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per pair ``(Y, C)`` (units × weeks, dense or sparse) the drawn treated sums ``D @ Y`` and ``D @ C``
    (draws × weeks), the units taken in ``order`` (by stratum and place) a slice at a time."""
    nw = values[0][0].shape[1] if values else 0
    out = [(np.zeros((draws, nw)), np.zeros((draws, nw))) for _ in values]
    step = max(1, 4_000_000 // max(draws, 1))
    for lo in range(0, len(order), step):
        idx = order[lo:lo + step]
        D = assign(seed, draws, size, treated, k[idx], place[idx])
        for (s1, c1), (Y, C) in zip(out, values):
            s1 += _times(D, Y[idx])
            c1 += _times(D, C[idx])
        if progress is not None:
            progress(min(lo + step, len(order)), len(order))
    return out


def _times(D: np.ndarray, Y: Any) -> np.ndarray:
    """``D @ Y`` for a dense or a scipy sparse ``Y``."""
    return D @ Y if isinstance(Y, np.ndarray) else np.asarray((Y.T @ D.T).T)


@dataclass
class ClusterSums:
    """Per cluster with a row that enters (``labels`` as read, sorted): its stratum label, its arm, and per
    outcome the sums and counts of the values per reported week (clusters × weeks); adds up with ``+``.

    ``mixed`` names a cluster seen in two strata (in different batches), if any.
    """

    labels: np.ndarray
    strata: np.ndarray
    treated: np.ndarray
    Y: dict[str, np.ndarray]
    C: dict[str, np.ndarray]
    mixed: object = None

    def __add__(self, other: ClusterSums) -> ClusterSums:
        if not len(other.labels) or not len(self.labels):
            a, b = (self, other) if len(self.labels) else (other, self)
            return dataclasses.replace(a, mixed=a.mixed if a.mixed is not None else b.mixed)
        labels = np.union1d(self.labels, other.labels)
        pa_, pb = np.searchsorted(labels, self.labels), np.searchsorted(labels, other.labels)
        strata = np.empty(len(labels), dtype=object)
        strata[pb] = other.strata
        clash = strata[pa_] != self.strata
        both = np.isin(self.labels, other.labels)
        strata[pa_] = self.strata
        mixed = self.mixed if self.mixed is not None else other.mixed
        if mixed is None and (clash & both).any():
            mixed = self.labels[np.flatnonzero(clash & both)[0]]
        treated = np.zeros(len(labels), np.int64)
        treated[pb] = other.treated
        treated[pa_] = self.treated

        def put(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            out = np.zeros((len(labels), a.shape[1]))
            out[pa_] += a
            out[pb] += b
            return out

        return ClusterSums(labels, strata, treated, {o: put(v, other.Y[o]) for o, v in self.Y.items()},
                           {o: put(v, other.C[o]) for o, v in self.C.items()}, mixed)


def empty_cluster_sums(outcomes: tuple[str, ...], nw: int) -> ClusterSums:
    return ClusterSums(np.zeros(0, dtype=object), np.zeros(0, dtype=object), np.zeros(0, np.int64),
                       {o: np.zeros((0, nw)) for o in outcomes}, {o: np.zeros((0, nw)) for o in outcomes})


def cluster_pass(block: Block, w: np.ndarray, cluster: str, stratum: str | None, outcomes: tuple[str, ...],
                 nw: int, source: str) -> ClusterSums:
    """One block's :class:`ClusterSums` over its rows that enter (``w`` ≥ 0); the stratum must be constant
    within each cluster (checked here, naming rows)."""
    labels = block.labels[cluster]
    rows = w >= 0
    code = labels.codes[rows]
    L = len(labels.values)
    present = np.flatnonzero(np.bincount(code, minlength=L) > 0)
    if stratum is not None:
        scode = block.labels[stratum].codes[rows]
        first = np.zeros(L, scode.dtype)
        first[code] = scode
        bad = first[code] != scode
        if bad.any():
            raise InputDataError(f"{source}: column '{stratum}' must be constant within each cluster ('{cluster}'); "
                                 f"it varies in {describe_rows(block.file_rows(np.flatnonzero(rows)[bad]))}")
        strata = np.asarray(block.labels[stratum].values, dtype=object)[first[present]]
    else:
        strata = np.full(len(present), "all", dtype=object)
    t = np.zeros(L, np.int64)
    t[code] = block.t[rows]
    key = code.astype(np.int64) * nw + w[rows]
    Y, C = {}, {}
    for o in outcomes:
        y = block.values[o][rows]
        m = ~np.isnan(y) if y.dtype.kind == "f" else np.ones(len(y), dtype=bool)
        Y[o] = np.bincount(key[m], weights=y[m].astype(np.float64), minlength=L * nw).reshape(L, nw)[present]
        C[o] = np.bincount(key[m], minlength=L * nw).reshape(L, nw)[present].astype(np.float64)
    return ClusterSums(np.asarray(labels.values, dtype=object)[present], strata, t[present], Y, C)


def cluster_draw_sums(sums: ClusterSums, seed: int, draws: int, csv: bool
                      ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per outcome the drawn treated sums and counts (draws × weeks): clusters numbered by sorted label
    within their stratum (strata by sorted label), arms drawn from the tree as for persons."""
    order_key = typed_labels(sums.labels, csv)[1]
    strata, s = np.unique(sums.strata, return_inverse=True)
    k_code = typed_labels(strata, csv)[1][s]
    k, place, size, order = tree_places(k_code, order_key)
    treated = np.bincount(k, weights=sums.treated, minlength=len(size)).astype(np.int64)
    return tree_sums(seed, draws, k, place, size, treated, order, [(sums.Y[o], sums.C[o]) for o in sums.Y])
