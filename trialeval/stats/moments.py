"""Per-cell moments: count, mean and sum of squared deviations, additive across row partitions.

A *cell* is any grouping of rows given as an integer code (e.g. ``2·week + treated``). For each cell
:class:`CellMoments` holds n, the mean and M2 = Σ (y − ȳ)², optionally with weights the sum of weights,
the weighted mean and the weighted M2. Two values computed on disjoint sets of rows add up exactly as
the one-pass value on their union (the parallel-variance formula of Chan, Golub & LeVeque 1979), so a
panel built chunk by chunk, or by several workers, is reduced by ``+``.

Inside one batch of rows the moments are taken about a value of the cell itself (any of its rows) and
then about the cell mean (two passes over the batch), so a cell whose values are all equal has its mean
equal to that value and M2 exactly 0 — no rounding noise that would turn a zero variance into a tiny
positive one. Integer outcomes use exact integer sums of y and y² instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Rows per batch when codes are made from several key columns: no row-sized temporaries of a long panel.
CHUNK_ROWS = 1 << 22


def cell_code(parts: Sequence[tuple[np.ndarray, int]], lo: int = 0, hi: int | None = None) -> np.ndarray:
    """The integer cell code Σ part × multiplier of rows ``lo:hi`` (e.g. 2·week + treated).

    Examples
    --------
    >>> import numpy as np
    >>> cell_code([(np.array([0, 1, 2]), 2), (np.array([1, 0, 1]), 1)]).tolist()
    [1, 2, 5]
    """
    code = parts[0][0][lo:hi].astype(np.intp) * parts[0][1]
    for a, mult in parts[1:]:
        code += a[lo:hi].astype(np.intp) * mult if mult != 1 else a[lo:hi]
    return code


def _chan(na: np.ndarray, ma: np.ndarray, m2a: np.ndarray, nb: np.ndarray, mb: np.ndarray, m2b: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parallel-variance combination of (n, mean, M2) triples; an empty side (n = 0) is the identity."""
    n = na + nb
    with np.errstate(invalid="ignore", divide="ignore"):
        delta = mb - ma
        mean = np.where(nb == 0, ma, np.where(na == 0, mb, ma + delta * (nb / n)))
        m2 = np.where(nb == 0, m2a, np.where(na == 0, m2b, m2a + m2b + delta * delta * (na * nb / n)))
    return n, mean, m2


def _shifted(code: np.ndarray, y: np.ndarray, size: int, n: np.ndarray, w: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
    """(Weighted) mean and M2 per cell of one batch: about a value of the cell, then about its mean."""
    y = y.astype(np.float64, copy=False)
    ref = np.zeros(size)
    ref[code] = y                                        # some value of each cell's own rows
    z = y - ref[code]                                    # exactly 0 throughout a constant cell
    with np.errstate(invalid="ignore", divide="ignore"):
        mz = np.bincount(code, weights=z if w is None else w * z, minlength=size) / n
        d = z - mz[code]
        m2 = np.bincount(code, weights=d * d if w is None else w * d * d, minlength=size)
    return ref + mz, np.where(n > 0, m2, 0.0)


@dataclass(frozen=True, eq=False)
class CellMoments:
    """Count, mean and sum of squared deviations (M2) per cell, optionally also weighted.

    Attributes
    ----------
    n
        Rows per cell (float64, so sums of many batches stay exact up to 2⁵³).
    mean
        Mean per cell; NaN where the cell is empty.
    m2
        Σ (y − mean)² per cell; 0 where the cell is empty.
    weight, wmean, wm2
        With weights: Σ w, Σ w·y / Σ w and Σ w (y − wmean)² per cell; None without.

    Examples
    --------
    >>> import numpy as np
    >>> m = CellMoments.from_values(np.array([0, 0, 1, 1, 1]), np.array([1.0, 3.0, 2.0, 2.0, 2.0]), 2)
    >>> m.n.tolist(), m.mean.tolist(), m.m2.tolist(), m.variance().tolist()
    ([2.0, 3.0], [2.0, 2.0], [2.0, 0.0], [2.0, 0.0])
    >>> a = CellMoments.from_values(np.array([0, 1]), np.array([1.0, 2.0]), 2)
    >>> b = CellMoments.from_values(np.array([0, 1, 1]), np.array([3.0, 2.0, 2.0]), 2)
    >>> (a + b).m2.tolist()
    [2.0, 0.0]
    """

    n: np.ndarray
    mean: np.ndarray
    m2: np.ndarray
    weight: np.ndarray | None = None
    wmean: np.ndarray | None = None
    wm2: np.ndarray | None = None

    # ---- construction ----------------------------------------------------------------------------
    @classmethod
    def empty(cls, size: int, *, weighted: bool = False) -> CellMoments:
        """``size`` empty cells: the identity of ``+``."""
        nan = np.full(size, np.nan)
        w = (np.zeros(size), nan.copy(), np.zeros(size)) if weighted else (None, None, None)
        return cls(np.zeros(size), nan, np.zeros(size), *w)

    @classmethod
    def from_values(cls, codes: np.ndarray, values: np.ndarray, size: int,
                    weights: np.ndarray | None = None) -> CellMoments:
        """Moments per cell of ``values`` grouped by ``codes`` (integers in ``[0, size)``), vectorised.

        Integer and boolean values use exact sums of y and y²; floats are taken about a value of the
        cell and then about the cell mean, so a constant cell has M2 exactly 0.
        """
        codes = np.asarray(codes)
        values = np.asarray(values)
        n = np.bincount(codes, minlength=size).astype(np.float64)
        if values.dtype.kind in "iub":
            mean, m2 = _from_sums(n, *_integer_sums(codes, values, size))
        else:
            mean, m2 = _shifted(codes, values, size, n)
        if weights is None:
            return cls(n, mean, m2)
        w = np.asarray(weights, dtype=np.float64)
        weight = np.bincount(codes, weights=w, minlength=size)
        wmean, wm2 = _shifted(codes, values, size, weight, w)
        return cls(n, mean, m2, weight, wmean, wm2)

    @classmethod
    def from_rows(cls, parts: Sequence[tuple[np.ndarray, int]], ys: Sequence[np.ndarray], size: int,
                  chunk: int = CHUNK_ROWS) -> list[CellMoments]:
        """Moments of each y in ``ys`` per cell ``Σ part × multiplier`` (:func:`cell_code`), by batches.

        Codes are made once per batch of ``chunk`` rows and shared by the outcomes, so a panel of tens
        of millions of rows with int8 outcomes and int16 weeks is never copied whole. Integer outcomes
        keep exact running sums of y and y²; float outcomes add the batches' moments (``+``).
        """
        n = np.zeros(size)
        integer = [y.dtype.kind in "iub" for y in ys]
        sums = [(np.zeros(size), np.zeros(size)) for _ in ys]
        floats: list[CellMoments] = [cls.empty(size) for _ in ys]
        for lo in range(0, len(ys[0]) if ys else 0, chunk):
            code = cell_code(parts, lo, lo + chunk)
            nc = np.bincount(code, minlength=size).astype(np.float64)
            n += nc
            for j, y in enumerate(ys):
                part = y[lo:lo + chunk]
                if integer[j]:
                    s1, s2 = _integer_sums(code, part, size)
                    sums[j][0][:] += s1
                    sums[j][1][:] += s2
                else:
                    floats[j] = floats[j] + cls(nc, *_shifted(code, part, size, nc))
        out = []
        for j in range(len(ys)):
            out.append(cls(n, *_from_sums(n, *sums[j])) if integer[j] else floats[j])
        return out

    @classmethod
    def from_sums(cls, n: np.ndarray, mean: np.ndarray, m2: np.ndarray) -> CellMoments:
        """From running sums kept elsewhere (e.g. while a panel was built): n, mean and M2 per cell."""
        n = np.nan_to_num(np.asarray(n, dtype=np.float64))
        return cls(n, np.where(n > 0, np.asarray(mean, dtype=np.float64), np.nan),
                   np.where(n > 0, np.asarray(m2, dtype=np.float64), 0.0))

    # ---- algebra ---------------------------------------------------------------------------------
    def combine(self, other: CellMoments) -> CellMoments:
        """The moments of the union of the two sets of rows (cell by cell)."""
        n, mean, m2 = _chan(self.n, self.mean, self.m2, other.n, other.mean, other.m2)
        mine, theirs = self._weighted(), other._weighted()
        if mine is None or theirs is None:
            return CellMoments(n, mean, m2)
        return CellMoments(n, mean, m2, *_chan(*mine, *theirs))

    def _weighted(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        if self.weight is None or self.wmean is None or self.wm2 is None:
            return None
        return self.weight, self.wmean, self.wm2

    def __add__(self, other: CellMoments) -> CellMoments:
        return self.combine(other)

    def __getitem__(self, key: Any) -> CellMoments:
        """The cells ``key`` (a slice or index array), e.g. ``m[1::2]`` for the treated cells."""
        pick = [None if a is None else a[key] for a in (self.weight, self.wmean, self.wm2)]
        return CellMoments(self.n[key], self.mean[key], self.m2[key], *pick)

    def __len__(self) -> int:
        return len(self.n)

    def collapse(self, groups: np.ndarray, size: int) -> CellMoments:
        """Cells merged into ``size`` groups (``groups[i]`` the group of cell i), by the same formula."""
        n = np.bincount(groups, weights=self.n, minlength=size)
        filled = self.n > 0
        ref = np.zeros(size)                 # one cell's mean per group: cells that agree add exactly 0
        ref[groups[filled]] = self.mean[filled]
        with np.errstate(invalid="ignore", divide="ignore"):
            shift = np.where(filled, self.mean - ref[groups], 0.0)
            mean = ref + np.bincount(groups, weights=self.n * shift, minlength=size) / n
            d = np.where(filled, self.mean - mean[groups], 0.0)
            m2 = np.bincount(groups, weights=self.m2 + self.n * d * d, minlength=size)
        return CellMoments(n, mean, np.where(n > 0, m2, 0.0))

    # ---- statistics ------------------------------------------------------------------------------
    def variance(self, ddof: int = 1, *, weighted: bool = False) -> np.ndarray:
        """M2 / (n − ddof) per cell (NaN where n ≤ ddof); weighted: wM2 / (Σw − ddof), frequency weights."""
        if weighted:
            pair = self._weighted()
            if pair is None:
                raise ValueError("these moments were computed without weights")
            n, _, m2 = pair
        else:
            n, m2 = self.n, self.m2
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > ddof, m2 / (n - ddof), np.nan)


def _integer_sums(codes: np.ndarray, values: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact Σy and Σy² per cell of integer values (one sum for 0/1 values, where y² = y)."""
    if len(values) and (int(values.min()) < 0 or int(values.max()) > 1):
        y = values.astype(np.float64)
        return np.bincount(codes, weights=y, minlength=size), np.bincount(codes, weights=y * y, minlength=size)
    s1 = np.bincount(codes, weights=values.astype(np.float64), minlength=size)
    return s1, s1


def _from_sums(n: np.ndarray, s1: np.ndarray, s2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s1 / n
        m2 = np.maximum(s2 - s1 * s1 / n, 0.0)
    return mean, np.where(n > 0, m2, 0.0)
