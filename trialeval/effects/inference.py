"""Inference on per-week estimates: t intervals, Holm, the sup-t band and randomisation inference."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Literal

import numpy as np

from trialeval.progress import tick

Multiplier = Literal["gaussian", "rademacher"]
ProgressCallback = Callable[[int, int], None]


def _t_inference(effect: np.ndarray, se: np.ndarray, df: np.ndarray, alpha: float
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CI and two-sided p from the t distribution, as ``estimatr``'s ``add_cis_pvals``."""
    from scipy import special      # imported when first needed, not when the command starts

    with np.errstate(invalid="ignore", divide="ignore"):
        df = np.where(df > 0, df, np.nan)
        crit = special.stdtrit(df, 1 - alpha / 2)          # the t quantile (scipy.stats.t.ppf computes this)
        p = 2 * special.stdtr(df, -np.abs(effect / se))    # the t upper tail (scipy.stats.t.sf)
    return effect - crit * se, effect + crit * se, p


def _holm(p: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values (NaN entries are left out of the family)."""
    p = np.asarray(p, dtype=float)
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = len(ok)
    if m:
        order = ok[np.argsort(p[ok], kind="stable")]
        adj = np.maximum.accumulate((m - np.arange(m)) * p[order])
        out[order] = np.minimum(adj, 1.0)
    return out




def person_numbers(person: np.ndarray, n: int) -> np.ndarray:
    """Each person code's number in the order persons first appear in the rows (a person-ordered panel:
    its order of persons, as a panel file is read)."""
    if not len(person):
        return np.zeros(n, np.int64)
    runs = person[np.r_[0, np.flatnonzero(person[1:] != person[:-1]) + 1]]
    codes, first = np.unique(runs, return_index=True)
    number = np.zeros(n, np.int64)
    number[codes[np.argsort(first, kind="stable")]] = np.arange(len(codes))
    return number


def _unit_week_blocks(psi: np.ndarray, unit: np.ndarray, w: np.ndarray, n_units: int, nw: int,
                      step: int) -> Iterator[np.ndarray]:
    """Yield dense blocks W[a:b] of W (units × weeks, the influences summed per unit), ``step`` units each.

    Rows must be sorted by unit (the caller sorts when they are not), so each block is a slice.
    """
    bounds = np.searchsorted(unit, np.arange(0, n_units + step, step))
    for a, (lo, hi) in zip(range(0, n_units, step), zip(bounds[:-1], bounds[1:])):
        b = min(a + step, n_units)
        yield np.bincount((unit[lo:hi] - a) * nw + w[lo:hi], weights=psi[lo:hi],
                          minlength=(b - a) * nw).reshape(b - a, nw)


def _sup_t_critical(psi: np.ndarray, unit: np.ndarray, w: np.ndarray, n_units: int, nw: int, alpha: float,
                    rng: np.random.Generator, draws: int, multiplier: Multiplier,
                    unit_number: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """(1 − α) quantile of max_w |Σ_i ξ_i ψ_iw| / sd_w with one multiplier ξ per unit (person/cluster).

    Gaussian multipliers make the bootstrap statistic exactly N(0, WᵀW) given the data, so it is
    drawn from that normal directly (cheap for any number of persons); Rademacher multipliers are
    drawn per unit by :func:`~trialeval.effects._stream_band.rademacher` from one seed, each unit's ±1 a
    function of its number (``unit_number[unit]``: persons in the panel's order; default the unit code,
    clusters by sorted label), as the streamed path draws them. Returns the critical value and the mask
    of weeks in the band.
    """
    if multiplier == "rademacher":
        from trialeval.effects._stream_band import multiply

        seed = int(rng.integers(2**62))
        unit = unit if unit_number is None else unit_number[unit]
    if len(unit) > 1 and not np.all(unit[1:] >= unit[:-1]):
        order = np.argsort(unit, kind="stable")
        psi, unit, w = psi[order], unit[order], w[order]
    if multiplier == "gaussian":
        S = np.zeros((nw, nw))
        for block in _unit_week_blocks(psi, unit, w, n_units, nw, max(1, 8_000_000 // nw)):
            S += block.T @ block
        return _sup_t_gaussian(S, alpha, rng, draws)
    T = np.zeros((nw, draws))
    ss = np.zeros(nw)
    step = max(1, 4_000_000 // draws)
    for a, block in zip(range(0, n_units, step), _unit_week_blocks(psi, unit, w, n_units, nw, step)):
        t, s2 = multiply(block, np.arange(a, a + block.shape[0]), seed, draws)
        T += t
        ss += s2
    return _rademacher_critical(T, ss, alpha)


def _rademacher_critical(T: np.ndarray, ss: np.ndarray, alpha: float) -> tuple[float, np.ndarray]:
    """The sup-t critical value from ``T = Wᵀξ`` (weeks × draws) and ``Σ W²`` per week, and the band's weeks."""
    sd = np.sqrt(ss)
    ok = np.isfinite(sd) & (sd > 0)
    if not ok.any():
        return np.nan, ok
    sup = np.abs(T[ok] / sd[ok][:, None]).max(axis=0)
    return float(np.quantile(sup, 1 - alpha)), ok


def _sup_t_gaussian(S: np.ndarray, alpha: float, rng: np.random.Generator, draws: int
                    ) -> tuple[float, np.ndarray]:
    """The sup-t critical value with Gaussian multipliers from S = WᵀW (weeks × weeks), and the band's weeks.

    Given the data the bootstrap statistic is N(0, S) exactly, so ``draws`` standard normal vectors of
    the band's weeks are drawn and mapped through a root of the correlation matrix.
    """
    sd = np.sqrt(np.diag(S))
    ok = np.isfinite(sd) & (sd > 0)
    if not ok.any():
        return np.nan, ok
    C = S[np.ix_(ok, ok)] / np.outer(sd[ok], sd[ok])
    lam, vec = np.linalg.eigh(C)
    root = vec * np.sqrt(np.clip(lam, 0, None))
    sup = np.abs(rng.standard_normal((draws, ok.sum())) @ root.T).max(axis=1)
    return float(np.quantile(sup, 1 - alpha)), ok


def _ri_pvalues(ys: list[np.ndarray], rows: list[np.ndarray], w_rows: list[np.ndarray], unit_treated: np.ndarray,
                stratum: np.ndarray, nw: int, observed: list[np.ndarray], draws: int,
                rng: np.random.Generator, progress: ProgressCallback | None,
                unit_number: np.ndarray | None = None) -> list[np.ndarray]:
    """Fisher p-values of the difference in means per week, re-randomising arms within strata.

    ``rows[j]`` holds the unit of each observation of outcome j; ``stratum`` the stratum code of each
    unit, −1 for a unit without a row that enters (left out). The units of each stratum are numbered by
    ``unit_number`` (persons in the panel's order; default the unit code: clusters by sorted label) and
    each draw's arms come from the seeded tree of :mod:`~trialeval.effects._stream_ri` (the numbers
    treated per stratum stay as observed), the very draws of the streamed path; the same draws serve
    every outcome. p = (1 + #{|τ*| ≥ |τ|}) / (1 + draws).
    """
    import scipy.sparse as sp      # only randomisation inference needs it: not loaded at start-up

    from trialeval.effects._stream_ri import ri_pvalues, tree_places, tree_sums

    present = np.flatnonzero(stratum >= 0)
    key = present if unit_number is None else unit_number[present]
    k, place, size, order = tree_places(stratum[present], key)
    treated = np.bincount(k, weights=unit_treated[present], minlength=len(size)).astype(np.int64)
    index = np.full(len(unit_treated), -1, np.int64)
    index[present] = np.arange(len(present))
    n = len(present)
    values = [(sp.csr_matrix((y.astype(np.float64), (index[u], w)), shape=(n, nw)),
               sp.csr_matrix((np.ones(len(y)), (index[u], w)), shape=(n, nw))) for y, u, w in zip(ys, rows, w_rows)]
    seed = int(rng.integers(2**62))

    def report(done: int, total: int) -> None:
        tick(progress, done, total, "Randomisation inference", "units")

    sums = tree_sums(seed, draws, k, place, size, treated, order, values, report)
    return [ri_pvalues(s1, c1, np.asarray(Y.sum(axis=0)).ravel(), np.asarray(C.sum(axis=0)).ravel(), obs, draws)
            for (s1, c1), (Y, C), obs in zip(sums, values, observed)]
