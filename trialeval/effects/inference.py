"""Inference on per-week estimates: t intervals, Holm, the sup-t band and randomisation inference."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Literal

import numpy as np

from trialeval.design import Design
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
                    rng: np.random.Generator, draws: int, multiplier: Multiplier) -> tuple[float, np.ndarray]:
    """(1 − α) quantile of max_w |Σ_i ξ_i ψ_iw| / sd_w with one multiplier ξ per unit (person/cluster).

    Gaussian multipliers make the bootstrap statistic exactly N(0, WᵀW) given the data, so it is
    drawn from that normal directly (cheap for any number of persons); Rademacher multipliers are
    drawn per unit. Returns the critical value and the mask of weeks in the band.
    """
    if len(unit) > 1 and not np.all(unit[1:] >= unit[:-1]):
        order = np.argsort(unit, kind="stable")
        psi, unit, w = psi[order], unit[order], w[order]
    if multiplier == "gaussian":
        S = np.zeros((nw, nw))
        for block in _unit_week_blocks(psi, unit, w, n_units, nw, max(1, 8_000_000 // nw)):
            S += block.T @ block
        return _sup_t_gaussian(S, alpha, rng, draws)
    else:
        T = np.zeros((nw, draws))
        ss = np.zeros(nw)
        for block in _unit_week_blocks(psi, unit, w, n_units, nw, max(1, 4_000_000 // draws)):
            xi = rng.integers(0, 2, size=(block.shape[0], draws)).astype(np.float64) * 2 - 1
            T += block.T @ xi
            ss += np.einsum("ij,ij->j", block, block)
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
                rng: np.random.Generator, progress: ProgressCallback | None) -> list[np.ndarray]:
    """Fisher p-values of the difference in means per week, re-permuting arms within strata.

    ``rows[j]`` holds the unit of each observation of outcome j. Each draw shuffles the arm labels of
    the units within their stratum (the numbers treated per stratum stay as observed); the same draws
    serve every outcome. p = (1 + #{|τ*| ≥ |τ|}) / (1 + draws).
    """
    import scipy.sparse as sp      # only randomisation inference needs it: not loaded at start-up

    n_units = len(unit_treated)
    S = [sp.csr_matrix((y.astype(np.float64), (u, w)), shape=(n_units, nw)).T.tocsr()
         for y, u, w in zip(ys, rows, w_rows)]
    C = [sp.csr_matrix((np.ones(len(y)), (u, w)), shape=(n_units, nw)).T.tocsr()
         for y, u, w in zip(ys, rows, w_rows)]
    tot_s = [np.asarray(s.sum(axis=1)).ravel() for s in S]
    tot_c = [np.asarray(c.sum(axis=1)).ravel() for c in C]
    design = Design(blocks=stratum)
    arms = unit_treated.astype(np.float64)
    hits = [np.zeros(nw) for _ in ys]
    chunk = max(1, min(draws, 4_000_000 // max(n_units, 1)))
    done = 0
    while done < draws:
        m = min(chunk, draws - done)
        D = arms[design.permutations(rng, m)].T          # units × draws, arms shuffled within strata
        for j in range(len(ys)):
            s1, c1 = S[j] @ D, C[j] @ D
            with np.errstate(invalid="ignore", divide="ignore"):
                tau = s1 / c1 - (tot_s[j][:, None] - s1) / (tot_c[j][:, None] - c1)
            obs = observed[j][:, None]
            hits[j] += np.sum(np.abs(tau) >= np.abs(obs) - 1e-12 * np.maximum(1.0, np.abs(obs)), axis=1)
        done += m
        tick(progress, done, draws, "Randomisation inference", "draws")
    return [np.where(np.isfinite(o), (1 + h) / (1 + draws), np.nan) for h, o in zip(hits, observed)]


