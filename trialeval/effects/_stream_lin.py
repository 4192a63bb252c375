"""Lin's covariate adjustment with HC2 standard errors, streamed: co-moments per (week, arm), then the leverages.

Each week's regression is y on [1, t, Zc, t·Zc] with Zc the covariates centred in the week's sample
(:class:`~trialeval.effects.estimators.Lin`, ``estimatr::lm_lin``). Streamed, it takes three passes after
pass 1:

1. :func:`covariate_pass`: the covariates' levels among the rows that enter (categorical columns become
   dummies without their first level, as in memory) and the rows where a covariate is missing;
2. :func:`moment_pass`: per outcome and (week, arm) the count, the means and the co-moment matrix of
   (Z, y) and each covariate's smallest and largest value — they add up exactly as the arm moments do
   (Chan's update) — from which each week's XᵀX and Xᵀy follow in closed form; the columns are pivoted
   and the rank is found as the in-memory pivoted QR does (largest remaining norm first, tolerance 1e-7);
3. :func:`leverage_pass`: with (XᵀX)⁻¹ and β known, each row's leverage h, residual e and the weight
   a = ((XᵀX)⁻¹x)_t give the HC2 variance Σ a² e² / (1 − h) per week, and with the band each person's
   influences a·√ω·sign(e) summed per week (WᵀW).

Memory: per outcome weeks × 2 × (covariates + 1)² numbers, plus one batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from trialeval.effects._stream_read import _BOOLEAN_WORDS, _TRUE_WORDS, Block, GroupLabels, _as_float
from trialeval.effects.estimators import hc2_weights
from trialeval.exceptions import InputDataError
from trialeval.io import describe_rows

#: Rank tolerance of the pivoted decomposition, relative to the largest column norm (as in memory).
RANK_TOL = 1e-7


# ---- pass 2: the covariates' kinds, levels and missing values --------------------------------------
@dataclass
class CovariateScan:
    """Per covariate: whether it is numeric (every value a number), its text levels among the rows that
    enter, the file rows (the first ten) and number of rows that enter with it missing, and the distinct
    (person, value) pairs; ``persons``: the persons with rows that enter."""

    numeric: dict[str, bool]
    levels: dict[str, set[str]]
    missing_rows: dict[str, list[int]]
    missing: dict[str, int]
    pairs: dict[str, int]
    persons: int = 0

    def __add__(self, other: CovariateScan) -> CovariateScan:
        return CovariateScan({c: a and other.numeric[c] for c, a in self.numeric.items()},
                             {c: a | other.levels[c] for c, a in self.levels.items()},
                             {c: (a + other.missing_rows[c])[:10] for c, a in self.missing_rows.items()},
                             {c: a + other.missing[c] for c, a in self.missing.items()},
                             {c: a + other.pairs[c] for c, a in self.pairs.items()}, self.persons + other.persons)


def empty_scan(covariates: list[str]) -> CovariateScan:
    return CovariateScan({c: True for c in covariates}, {c: set() for c in covariates},
                         {c: [] for c in covariates}, {c: 0 for c in covariates}, {c: 0 for c in covariates})


def _numbers(values: np.ndarray, arrow_type: pa.DataType | None) -> np.ndarray | None:
    """The distinct values of a covariate as numbers, as pandas reads the column (None: text)."""
    if arrow_type is not None and (pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type)
                                   or pa.types.is_boolean(arrow_type)):
        return values.astype(np.float64)
    if arrow_type is not None:                  # Parquet text stays text; only a CSV's words are parsed
        return None
    text = [str(v) for v in values]
    if text and set(text) <= _BOOLEAN_WORDS:
        return np.isin(np.asarray(text, dtype=object), list(_TRUE_WORDS)).astype(np.float64)
    num = _as_float(pa.array(text, type=pa.string()))
    return None if np.isnan(num).any() else num


def covariate_pass(block: Block, covariates: list[str], selected: np.ndarray, csv: bool,
                   types: dict[str, pa.DataType]) -> CovariateScan:
    """Pass 2 over one block: kinds, levels among ``selected`` rows and missing values there."""
    out = empty_scan(covariates)
    person = block.person()[selected]
    out.persons = len(np.unique(person))
    for c in covariates:
        lab = block.labels[c]
        out.numeric[c] = _numbers(lab.values, None if csv else types[c]) is not None
        used = np.unique(lab.codes[selected])
        out.levels[c] = {str(lab.values[i]) for i in used if i >= 0}
        code = lab.codes[selected]
        out.pairs[c] = len(np.unique(person[code >= 0] * (len(lab.values) + 1) + code[code >= 0]))
        miss = selected & (lab.codes < 0)
        if miss.any():
            out.missing[c] = int(miss.sum())
            out.missing_rows[c] = [int(r) for r in block.file_rows(miss)[:10]]
    return out


@dataclass(frozen=True)
class CovariateSpec:
    """How a block's covariate columns become the matrix Z (as :func:`_covariate_matrix` builds it)."""

    covariates: list[str]
    numeric: dict[str, bool]
    levels: dict[str, list[str]]            # text covariates: the dummies' levels (the first level left out)
    csv: bool
    types: dict[str, pa.DataType]

    @property
    def names(self) -> list[str]:
        out = []
        for c in self.covariates:
            out.extend([c] if self.numeric[c] else [f"{c}{lev}" for lev in self.levels[c]])
        return out

    def matrix(self, block: Block, lo: int = 0, hi: int | None = None) -> np.ndarray:
        """Z for the block's rows ``[lo, hi)`` (NaN where a covariate is missing)."""
        cols = []
        for c in self.covariates:
            full = block.labels[c]
            lab = GroupLabels(full.values, full.codes[lo:hi])
            if self.numeric[c]:
                num = _numbers(lab.values, None if self.csv else self.types[c])
                assert num is not None
                cols.append(np.append(num, np.nan)[lab.codes][:, None])        # code −1: missing
            else:
                text = [str(v) for v in lab.values]
                for lev in self.levels[c]:         # compared per distinct value, taken per row by its code
                    hit = np.array([v == lev for v in text] + [np.nan], dtype=np.float64)
                    cols.append(hit[lab.codes][:, None])
        return np.hstack(cols) if cols else np.empty((len(block.week[lo:hi]), 0))


def spec_from_scan(scan: CovariateScan, covariates: list[str], source: str, csv: bool,
                   types: dict[str, pa.DataType]) -> CovariateSpec:
    """The covariates' encoding; a covariate missing where a row enters is an error naming the rows."""
    for c in covariates:
        if scan.missing[c]:
            where = describe_rows(scan.missing_rows[c])
            if scan.missing[c] > len(scan.missing_rows[c]):
                where = f"{scan.missing[c]} rows (the first: {where})"
            raise InputDataError(f"{source}: column '{c}' is missing (covariates must be complete) in {where}")
    for c in covariates:            # a text covariate that names persons would put them into the tables
        if not scan.numeric[c] and scan.persons >= 3 and scan.persons == scan.pairs[c] == len(scan.levels[c]):
            raise InputDataError(
                f"{source}: covariates (--covariates): '{c}' is unique per person and would disclose persons in "
                "the exported tables; use a column that groups persons (e.g. municipality, stratum)")
    levels = {c: sorted(scan.levels[c])[1:] for c in covariates if not scan.numeric[c]}
    return CovariateSpec(covariates, dict(scan.numeric), levels, csv, types)


# ---- pass 3: co-moments per (week, arm) ----------------------------------------------------------------
@dataclass
class CoMoments:
    """Per cell (``2·w + t``): count, means of v = (Z, y), co-moment Σ(v − v̄)(v − v̄)ᵀ, min and max of Z."""

    n: np.ndarray
    mean: np.ndarray           # cells × (p + 1)
    comoment: np.ndarray       # cells × (p + 1) × (p + 1)
    zmin: np.ndarray           # cells × p
    zmax: np.ndarray

    def __add__(self, other: CoMoments) -> CoMoments:
        n = self.n + other.n
        with np.errstate(invalid="ignore", divide="ignore"):
            delta = np.nan_to_num(other.mean) - np.nan_to_num(self.mean)
            share = np.where(n > 0, other.n / n, 0.0)
        mean = np.where((self.n > 0)[:, None], np.nan_to_num(self.mean) + delta * share[:, None],
                        np.nan_to_num(other.mean))
        cross = np.where((self.n > 0) & (other.n > 0), self.n * share, 0.0)
        comoment = self.comoment + other.comoment + cross[:, None, None] * delta[:, :, None] * delta[:, None, :]
        return CoMoments(n, mean, comoment, np.fmin(self.zmin, other.zmin), np.fmax(self.zmax, other.zmax))


def empty_comoments(cells: int, p: int) -> CoMoments:
    return CoMoments(np.zeros(cells), np.zeros((cells, p + 1)), np.zeros((cells, p + 1, p + 1)),
                     np.full((cells, p), np.inf), np.full((cells, p), -np.inf))


def comoments(cell: np.ndarray, Z: np.ndarray, y: np.ndarray, cells: int) -> CoMoments:
    """The co-moments of (Z, y) per cell of the rows given (rows sorted by cell, one product per cell)."""
    p = Z.shape[1]
    out = empty_comoments(cells, p)
    if not len(cell):
        return out
    order = np.argsort(cell, kind="stable")
    V = np.column_stack([Z, y.astype(np.float64)])[order]
    sc = cell[order]
    starts = np.flatnonzero(np.r_[True, sc[1:] != sc[:-1]])
    for a, b in zip(starts, np.r_[starts[1:], len(sc)]):
        c, part = sc[a], V[a:b]
        mean = part.mean(axis=0)
        D = part - mean
        out.n[c], out.mean[c], out.comoment[c] = b - a, mean, D.T @ D
        if p:
            out.zmin[c], out.zmax[c] = part[:, :p].min(axis=0), part[:, :p].max(axis=0)
    return out


@dataclass
class WeekFit:
    """One week's regression from its co-moments: the kept columns, β, (XᵀX)⁻¹ of them, the centre."""

    keep: np.ndarray            # column positions of X kept (pivot order cut at the rank)
    both: np.ndarray            # covariates (of the varying ones) interacted with t
    varies: np.ndarray          # covariates that vary in the week
    zbar: np.ndarray            # the week's covariate means (varying columns)
    beta: np.ndarray
    inverse: np.ndarray
    t_pos: int                  # position of t among the kept columns
    rank: int
    n: float


def fit_week(cm: CoMoments, k: int) -> WeekFit | None:
    """Week ``k``'s Lin regression from the co-moments of its two cells (None: t not identified)."""
    c0, c1 = 2 * k, 2 * k + 1
    n0, n1 = cm.n[c0], cm.n[c1]
    n = n0 + n1
    p = cm.zmin.shape[1]
    lo, hi = np.fmin(cm.zmin[c0], cm.zmin[c1]), np.fmax(cm.zmax[c0], cm.zmax[c1])
    varies = hi > lo if p else np.zeros(0, bool)
    both_all = (cm.zmax[c1] > cm.zmin[c1]) & (cm.zmax[c0] > cm.zmin[c0])
    v = np.flatnonzero(varies)
    b = np.flatnonzero(both_all[v])
    zbar = (n1 * cm.mean[c1, v] + n0 * cm.mean[c0, v]) / n
    d = {a: cm.mean[c, v] - zbar for a, c in ((0, c0), (1, c1))}
    na = {0: n0, 1: n1}
    S = {a: cm.comoment[c][np.ix_(v, v)] + na[a] * np.outer(d[a], d[a]) for a, c in ((0, c0), (1, c1))}
    zy = {a: cm.comoment[c][v, p] + na[a] * d[a] * cm.mean[c, p] for a, c in ((0, c0), (1, c1))}
    q, r = len(v), len(b)
    size = 2 + q + r
    G = np.zeros((size, size))
    G[0, 0], G[0, 1], G[1, 1] = n, n1, n1
    G[0, 2:2 + q] = n1 * d[1] + n0 * d[0]
    G[1, 2:2 + q] = n1 * d[1]
    G[0, 2 + q:] = G[1, 2 + q:] = n1 * d[1][b]
    G[2:2 + q, 2:2 + q] = S[1] + S[0]
    G[2:2 + q, 2 + q:] = S[1][:, b]
    G[2 + q:, 2 + q:] = S[1][np.ix_(b, b)]
    G = np.triu(G) + np.triu(G, 1).T
    Xy = np.concatenate([[n1 * cm.mean[c1, p] + n0 * cm.mean[c0, p], n1 * cm.mean[c1, p]],
                         zy[1] + zy[0], zy[1][b]])
    keep, rank = _pivot(G)
    t_pos = int(np.flatnonzero(keep == 1)[0]) if (keep[:rank] == 1).any() else rank
    if t_pos >= rank or n <= rank:
        return None
    kept = keep[:rank]
    Gk = G[np.ix_(kept, kept)]
    scale = 1.0 / np.sqrt(np.diag(Gk))
    inverse = scale[:, None] * np.linalg.inv(scale[:, None] * Gk * scale[None, :]) * scale[None, :]
    beta = inverse @ Xy[kept]
    return WeekFit(kept, b, v, zbar, beta, inverse, t_pos, rank, n)


def _pivot(G: np.ndarray) -> tuple[np.ndarray, int]:
    """Column order and rank of X from XᵀX as a pivoted QR of X finds them: at each step the column
    with the largest remaining norm; a step whose norm is below ``RANK_TOL`` × the first ends the rank."""
    A = G.astype(np.float64).copy()
    m = len(A)
    order = np.arange(m)
    first, rank = 0.0, 0
    for j in range(m):
        rest = np.diag(A)[j:]
        i = j + int(np.argmax(rest))
        if i != j:
            A[[j, i]] = A[[i, j]]
            A[:, [j, i]] = A[:, [i, j]]
            order[[j, i]] = order[[i, j]]
        piv = A[j, j]
        norm = np.sqrt(max(piv, 0.0))
        if j == 0:
            first = norm
        if norm <= RANK_TOL * first or norm == 0.0:
            break
        rank += 1
        A[j + 1:, j + 1:] -= np.outer(A[j + 1:, j], A[j, j + 1:]) / piv
    return order, rank


def design_rows(fit: WeekFit, Z: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The rows of X (kept columns) of one week: [1, t, Zc, t·Zc]."""
    Zc = Z[:, fit.varies] - fit.zbar
    tt = t.astype(np.float64)
    X = np.column_stack([np.ones(len(t)), tt, Zc, tt[:, None] * Zc[:, fit.both]])
    return X[:, fit.keep]


@dataclass
class LeverageSums:
    """Per outcome: Σ a²ω per reported week, and with the band WᵀW."""

    meat: dict[str, np.ndarray]
    band: dict[str, np.ndarray] = field(default_factory=dict)

    def __add__(self, other: LeverageSums) -> LeverageSums:
        return LeverageSums({o: a + other.meat[o] for o, a in self.meat.items()},
                            {o: a + other.band[o] for o, a in self.band.items()})


def leverage_rows(fit: WeekFit, Z: np.ndarray, t: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of one week: a² ω and the influence a·√ω·sign(e) (ω = e²/(1 − h), 0 when not finite)."""
    X = design_rows(fit, Z, t)
    MX = X @ fit.inverse
    e = y - X @ fit.beta
    omega = hc2_weights(e, np.einsum("ij,ij->i", MX, X))
    a = MX[:, fit.t_pos]
    return a * a * omega, a * np.sqrt(omega) * np.sign(e)
