"""The Rademacher multiplier band over a panel file in batches of persons: multipliers that do not depend
on the batches.

The band's bootstrap statistic with Rademacher multipliers is ``T_d = Σ_u ξ_ud W_u`` (W_u the influences
of unit u summed per week, ξ_ud = ±1), which needs one ±1 per unit and draw. The units are numbered —
persons in the order of the panel (file order), clusters by their sorted label — and the ±1 of units
``[j·BLOCK, (j + 1)·BLOCK)`` come from a generator seeded by (seed, j): a unit's multipliers are a function
of the seed and its number only, the same whatever the batches and workers, and the same in memory
(:func:`~trialeval.effects.inference._sup_t_critical` draws them with :func:`rademacher`). Memory: draws ×
weeks per outcome (``T``) plus one batch.

Persons are numbered from pass 1's runs (:class:`PersonRuns`: how many persons each run of a batch
holds, keyed by its first file row); the band's pass (:func:`dim_band_pass`,
:func:`~trialeval.effects._stream_groups.blocked_influences`, Lin's leverages) then adds ``Wᵀξ`` batch
by batch (:class:`Multiplied`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from trialeval.effects._stream_pass import PassOptions, cohort_rows, week_index
from trialeval.effects._stream_read import Block
from trialeval.stats.moments import CellMoments

#: Units whose multipliers one generator draws.
BLOCK = 1024


def rademacher(seed: int, numbers: np.ndarray, draws: int) -> np.ndarray:
    """The ±1 multipliers (units × draws, float) of the units numbered ``numbers``."""
    numbers = np.asarray(numbers, dtype=np.int64)
    out = np.empty((len(numbers), draws))
    width = (draws + 7) // 8
    j = numbers // BLOCK
    for blk in np.unique(j):
        sel = np.flatnonzero(j == blk)
        raw = np.frombuffer(np.random.default_rng([seed, int(blk)]).bytes(BLOCK * width), dtype=np.uint8)
        bits = np.unpackbits(raw.reshape(BLOCK, width)[numbers[sel] - blk * BLOCK], axis=1, count=draws)
        out[sel] = bits * 2.0 - 1.0
    return out


def multiply(W: np.ndarray, numbers: np.ndarray, seed: int, draws: int) -> tuple[np.ndarray, np.ndarray]:
    """``(Wᵀξ, Σ W²)`` of units × weeks ``W`` (units numbered ``numbers``), a slice of units at a time."""
    nw = W.shape[1]
    T, ss = np.zeros((nw, draws)), np.einsum("ij,ij->j", W, W)
    step = max(1, 4_000_000 // max(draws, 1))
    for lo in range(0, len(numbers), step):
        T += W[lo:lo + step].T @ rademacher(seed, numbers[lo:lo + step], draws)
    return T, ss


@dataclass
class Multiplied:
    """Per outcome ``T = Wᵀξ`` (weeks × draws) and ``Σ W²`` per week; adds up with ``+``."""

    T: dict[str, np.ndarray]
    ss: dict[str, np.ndarray]

    def __add__(self, other: Multiplied) -> Multiplied:
        return Multiplied({o: v + other.T[o] for o, v in self.T.items()},
                          {o: v + other.ss[o] for o, v in self.ss.items()})


def empty_multiplied(outcomes: tuple[str, ...] | list[str], nw: int, draws: int) -> Multiplied:
    return Multiplied({o: np.zeros((nw, draws)) for o in outcomes}, {o: np.zeros(nw) for o in outcomes})


@dataclass
class PersonRuns:
    """Persons per run (a batch's inner persons, or one stitched edge person), keyed by its first file row."""

    runs: dict[int, int] = field(default_factory=dict)

    def __add__(self, other: PersonRuns) -> PersonRuns:
        return PersonRuns({**self.runs, **other.runs})

    def offsets(self) -> dict[int, int]:
        """Each run's first person number (persons numbered in file order)."""
        keys = sorted(self.runs)
        first = np.r_[0, np.cumsum([self.runs[k] for k in keys])[:-1]] if keys else []
        return {k: int(f) for k, f in zip(keys, first)}


def person_runs(block: Block) -> PersonRuns:
    """The block's runs of persons and their sizes."""
    if isinstance(block.rows, int):
        return PersonRuns({block.rows: block.n_persons})
    first = np.asarray(block.rows)[block.starts[:-1]]
    return PersonRuns({int(k): 1 for k in first})


def person_numbers(block: Block, offsets: dict[int, int]) -> np.ndarray:
    """Each person's number in the file (persons in file order)."""
    if isinstance(block.rows, int):
        return offsets[block.rows] + np.arange(block.n_persons, dtype=np.int64)
    first = np.asarray(block.rows)[block.starts[:-1]]
    return np.array([offsets[int(k)] for k in first], dtype=np.int64)


def dim_band_pass(block: Block, opts: PassOptions, week_list: np.ndarray, arms: dict[str, CellMoments],
                  offsets: dict[int, int], seeds: dict[str, int], draws: int) -> Multiplied:
    """Per outcome ``Wᵀξ`` of one block: W (persons × weeks) the influences of the difference in means,
    ψ = ±(y − ȳ_w,arm) / √(n (n − 1)) (as :func:`~trialeval.effects.estimators.dim_influence`)."""
    nw = len(week_list)
    keep = cohort_rows(block, opts.min_weeks)
    w = week_index(block, week_list)
    sel = w >= 0 if keep is None else (w >= 0) & keep
    key = block.person() * nw + w
    numbers = person_numbers(block, offsets)
    out = empty_multiplied(opts.outcomes, nw, draws)
    for o in opts.outcomes:
        y = block.values[o]
        m = sel & ~np.isnan(y) if y.dtype.kind == "f" else sel
        n, mean = arms[o].n, arms[o].mean
        cell = 2 * w[m] + block.t[m]
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = np.where(n >= 2, 1.0 / np.sqrt(n * (n - 1)), 0.0)
            psi = np.nan_to_num((2.0 * block.t[m] - 1) * (y[m] - mean[cell]) * scale[cell])
        W = np.bincount(key[m], weights=psi, minlength=block.n_persons * nw).reshape(block.n_persons, nw)
        out.T[o], out.ss[o] = multiply(W, numbers, seeds[o], draws)
    return out
