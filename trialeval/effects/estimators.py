"""Estimators of the effect per week: a protocol and a registry by name.

Every estimator works on the rows of one outcome in the reported weeks (:class:`WeekData`) and returns
per-week arrays (:class:`WeekEstimate`): arm counts and means, the effect, its variance and df, and each
row's influence on its week's estimate (for the sup-t band). All weeks are estimated at once from per-cell
moments (:class:`~trialeval.stats.moments.CellMoments`); only Lin's adjustment loops over weeks, because each
week is its own regression.

- ``difference_in_means``: Welch standard error, Welch–Satterthwaite df — R's
  ``estimatr::difference_in_means``;
- ``blocked``: estimatr's blocked estimator, τ = Σ (N_b/N) τ_b, V = Σ (N_b/N)² V_b, df = N − 2J;
- ``lin``: Lin (2013), covariates centred in the week's sample and interacted with treatment, HC2
  standard errors, df = N − k — ``estimatr::lm_lin``;
- ``cr2``: CR2 standard errors with Bell–McCaffrey df — ``estimatr::difference_in_means(clusters=)``.

A new estimator is one class with ``name``, ``option``, ``unit_column``, ``describe``, ``columns`` and
``estimate``, added to :data:`ESTIMATORS`; inference and results need no change.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from trialeval.effects._inputs import _covariate_matrix
from trialeval.exceptions import TrialevalWarning
from trialeval.stats.moments import CHUNK_ROWS, CellMoments, cell_code


def welch(treated: CellMoments, control: CellMoments) -> tuple[np.ndarray, np.ndarray]:
    """Welch variance of a difference in means and its Welch–Satterthwaite df (NaN when an arm < 2).

    A cell whose values are all equal has M2 exactly 0, so two constant arms give variance 0 and df NaN
    (as ``estimatr``), and one constant arm leaves the variance of the other.
    """
    n1, n0, ss1, ss0 = treated.n, control.n, treated.m2, control.m2
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = (n1 >= 2) & (n0 >= 2)
        a = np.where(ok, ss1 / (n1 - 1) / n1, np.nan)
        b = np.where(ok, ss0 / (n0 - 1) / n0, np.nan)
        v = a + b
        df = v * v / (a * a / (n1 - 1) + b * b / (n0 - 1))
    return v, df


@dataclass(frozen=True, eq=False)
class WeekData:
    """The rows of one outcome in the reported weeks, as an estimator sees them.

    ``w`` is the week index (0 … nw − 1) of each row, ``t`` 1 for treated and 0 for control, ``y`` the
    outcome, ``person`` the person code; ``columns`` holds the estimator's own per-row arrays (block codes,
    covariates, cluster codes) and ``info`` what it needs beside them. ``moments``, when given, are the
    per-(week, arm) moments in cells ``2·w + t``, already computed for several outcomes in one pass.
    """

    w: np.ndarray
    t: np.ndarray
    y: np.ndarray
    person: np.ndarray
    week_list: np.ndarray
    outcome: str = "y"
    source: str = "panel"
    need_psi: bool = False
    columns: Mapping[str, np.ndarray] = field(default_factory=dict)
    info: Mapping[str, Any] = field(default_factory=dict)
    moments: CellMoments | None = None

    @property
    def nw(self) -> int:
        """Number of reported weeks."""
        return len(self.week_list)

    def arm_moments(self) -> CellMoments:
        """Per-(week, arm) moments, cells ``2·w + t`` (control even, treated odd)."""
        if self.moments is not None:
            return self.moments
        return CellMoments.from_rows([(self.w, 2), (self.t, 1)], [self.y], 2 * self.nw)[0]


@dataclass
class WeekEstimate:
    """Per-week estimates of one outcome (arrays of length n_weeks) and per-row influence values."""

    n1: np.ndarray
    n0: np.ndarray
    m1: np.ndarray
    m0: np.ndarray
    effect: np.ndarray
    var: np.ndarray
    df: np.ndarray
    psi: np.ndarray | None   # influence of each row on its week's estimate; Σ psi² = var per week
    unit: np.ndarray         # bootstrap unit of each row (person, or cluster)
    var_unadjusted: np.ndarray | None = None
    dropped: pd.DataFrame | None = None


@dataclass(frozen=True, eq=False)
class DesignInputs:
    """What an estimator may read to set itself up: its option's value and the selected rows.

    ``frame(cols)`` gives those columns of the panel's selected rows; ``codes[col]`` the integer codes (of
    the selected rows) and sorted distinct values of a grouping column already encoded and checked.
    """

    value: Any
    frame: Callable[[list[str]], pd.DataFrame]
    codes: Mapping[str, tuple[np.ndarray, np.ndarray]]
    source: str = "panel"


class Estimator(Protocol):
    """An effect estimator: selected by an argument of :func:`~trialeval.effects.effects`, estimates all weeks."""

    #: Registry key.
    name: str
    #: The ``effects()`` argument that selects it (None: the default estimator).
    option: str | None
    #: Key in ``columns`` of the unit of bootstrap and permutation (None: persons).
    unit_column: str | None

    def describe(self, value: Any) -> str:
        """The design line of the result, given the value of :attr:`option`."""
        ...

    def columns(self, inputs: DesignInputs) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Per-row arrays (selected rows) and other information :meth:`estimate` needs."""
        ...

    def estimate(self, data: WeekData) -> WeekEstimate:
        """Per-week estimates of one outcome."""
        ...


def _dim(data: WeekData, need_psi: bool) -> tuple[Any, ...]:
    """Difference in means per week with Welch variance; with ``need_psi`` also the per-row influence."""
    m = data.arm_moments()
    control, treated = m[0::2], m[1::2]
    n0, n1, m0, m1 = control.n, treated.n, control.mean, treated.mean
    var, df = welch(treated, control)
    psi = dim_influence(data.w, data.t, data.y, m) if need_psi else None
    return n1, n0, m1, m0, m1 - m0, var, df, psi


def dim_influence(w: np.ndarray, t: np.ndarray, y: np.ndarray, arms: CellMoments) -> np.ndarray:
    """Each row's influence on its week's difference in means, from the arm moments (cells ``2·w + t``).

    ψ = ±(y − ȳ_cell) / √(n (n − 1)), so Σ ψ² over a week is its Welch variance; 0 in cells of < 2 rows.
    """
    n, mean = arms.n, arms.mean
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(n >= 2, 1.0 / np.sqrt(n * (n - 1)), 0.0)
    psi = np.empty(len(y))
    for lo in range(0, len(y), CHUNK_ROWS):                # chunks: no row-sized temporaries
        code = cell_code([(w, 2), (t, 1)], lo, lo + CHUNK_ROWS)
        hi = lo + CHUNK_ROWS
        psi[lo:hi] = (2.0 * t[lo:hi] - 1) * (y[lo:hi] - mean[code]) * scale[code]
    return psi


def dim_effect(data: WeekData) -> np.ndarray:
    """The difference in means per week (what randomisation inference permutes)."""
    arms = data.arm_moments()
    return arms.mean[1::2] - arms.mean[0::2]


class DifferenceInMeans:
    """Difference in means per week, Welch variance and df (``estimatr::difference_in_means``)."""

    name = "difference_in_means"
    option: str | None = None
    unit_column: str | None = None

    def describe(self, value: Any) -> str:
        return "difference in means (Welch)"

    def columns(self, inputs: DesignInputs) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        return {}, {}

    def estimate(self, data: WeekData) -> WeekEstimate:
        n1, n0, m1, m0, eff, var, df, psi = _dim(data, data.need_psi)
        return WeekEstimate(n1, n0, m1, m0, eff, var, df, psi, data.person)


class Blocked:
    """estimatr's blocked estimator per week; block-weeks with an arm of fewer than 2 persons are dropped."""

    name = "blocked"
    option: str | None = "blocks"
    unit_column: str | None = None

    def describe(self, value: Any) -> str:
        return f"blocked difference in means (blocks: {value})"

    def columns(self, inputs: DesignInputs) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        block, names = inputs.codes[inputs.value]
        return {"block": block}, {"block_names": names}

    def estimate(self, data: WeekData) -> WeekEstimate:
        w, t, y, nw = data.w, data.t, data.y, data.nw
        block, block_names = data.columns["block"], data.info["block_names"]
        nb = len(block_names)
        m = CellMoments.from_rows([(w, 2 * nb), (block, 2), (t, 1)], [y], 2 * nw * nb)[0]
        est, share = blocked_from_moments(m, nw, block_names, data.person)
        if data.need_psi:
            n, mean, valid = m.n, m.mean, (m.n[0::2] >= 2) & (m.n[1::2] >= 2)
            with np.errstate(invalid="ignore", divide="ignore"):
                scale = np.where(np.repeat(valid, 2) & (n >= 2), 1.0 / np.sqrt(n * (n - 1)), 0.0)
            psi = np.empty(len(y))
            for lo in range(0, len(y), CHUNK_ROWS):
                hi = lo + CHUNK_ROWS
                cell = cell_code([(w, nb), (block, 1)], lo, hi)        # (week, block)
                cell_t = 2 * cell + t[lo:hi]
                with np.errstate(invalid="ignore"):
                    psi[lo:hi] = np.nan_to_num((2.0 * t[lo:hi] - 1) * (y[lo:hi] - mean[cell_t])
                                               * scale[cell_t] * share[cell])
            est.psi = psi
        return est


def blocked_from_moments(m: CellMoments, nw: int, block_names: np.ndarray, unit: np.ndarray
                         ) -> tuple[WeekEstimate, np.ndarray]:
    """estimatr's blocked estimator per week from the moments of the cells ``(w·nb + block)·2 + t``.

    Returns the estimate (without influences) and each (week, block)'s share N_b/N of its week, 0 for
    a dropped block-week. Used by the in-memory estimator and the streamed one alike.
    """
    nb = len(block_names)
    control, treated = m[0::2], m[1::2]
    n0, n1, m0, m1 = control.n, treated.n, control.mean, treated.mean
    present = (n0 + n1) > 0
    valid = (n0 >= 2) & (n1 >= 2)
    var_b, _ = welch(treated, control)
    nb_tot = np.where(valid, n0 + n1, 0.0)
    wk = np.repeat(np.arange(nw), nb)
    N = np.bincount(wk, weights=nb_tot, minlength=nw)
    J = np.bincount(wk, weights=valid.astype(float), minlength=nw)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = nb_tot / N[wk]
        tau_b = np.where(valid, m1 - m0, 0.0)
        effect = np.bincount(wk, weights=share * tau_b, minlength=nw)
        var = np.bincount(wk, weights=np.where(valid, share * share * var_b, 0.0), minlength=nw)
        df = N - 2 * J
        effect[J == 0] = np.nan
        var[J == 0] = np.nan
        # Arm means and counts over the persons the estimate uses (valid blocks only).
        n1w = np.bincount(wk, weights=np.where(valid, n1, 0.0), minlength=nw)
        n0w = np.bincount(wk, weights=np.where(valid, n0, 0.0), minlength=nw)
        m1w = np.bincount(wk, weights=np.where(valid, n1 * np.nan_to_num(m1), 0.0), minlength=nw) / n1w
        m0w = np.bincount(wk, weights=np.where(valid, n0 * np.nan_to_num(m0), 0.0), minlength=nw) / n0w
    bad = np.flatnonzero(present & ~valid)
    dropped = pd.DataFrame({
        "week_index": bad // nb, "block": block_names[bad % nb],
        "n_treatment": n1[bad].astype(np.int64), "n_control": n0[bad].astype(np.int64),
    })
    dropped["reason"] = np.where((dropped["n_treatment"] == 0) | (dropped["n_control"] == 0),
                                 "an arm is empty", "an arm has one person")
    return WeekEstimate(n1w, n0w, m1w, m0w, effect, var, df, None, unit, dropped=dropped), share


class ClusteredCR2:
    """Difference in means with CR2 variance and Bell–McCaffrey df (closed form for X = [1, t]).

    With X = [1, t] and treatment constant within a cluster, the hat matrix block of cluster g in arm
    a is J/N_a, so the CR2 adjustment multiplies the cluster's residual sum by c_g = (1 − n_g/N_a)^(-1/2).
    """

    name = "cr2"
    option: str | None = "cluster"
    unit_column: str | None = "cluster"

    def describe(self, value: Any) -> str:
        return f"difference in means, CR2 clustered by {value}"

    def columns(self, inputs: DesignInputs) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        cluster, names = inputs.codes[inputs.value]
        return {"cluster": cluster}, {"n_units": len(names)}

    def estimate(self, data: WeekData) -> WeekEstimate:
        w, t, y, nw = data.w, data.t, data.y, data.nw
        cluster, n_clusters = data.columns["cluster"], int(data.info["n_units"])
        n1, n0, m1, m0, eff, _, _, _ = _dim(data, False)
        e = y - np.where(t == 1, m1[w], m0[w])
        gcode = cell_code([(w, n_clusters), (cluster, 1)])
        size = nw * n_clusters
        ng = np.bincount(gcode, minlength=size).astype(np.float64)
        E = np.bincount(gcode, weights=e, minlength=size)
        tg = np.bincount(gcode, weights=t.astype(float), minlength=size)
        var, df, c2, ok = cr2_from_sums(ng, E, tg, n1, n0)
        psi = None
        if data.need_psi:
            sign = np.where(t == 1, 1.0, -1.0)
            with np.errstate(invalid="ignore", divide="ignore"):
                psi = np.nan_to_num(sign * np.sqrt(c2[gcode]) * e / np.where(t == 1, n1[w], n0[w]))
            psi[~ok[w]] = 0.0
        return WeekEstimate(n1, n0, m1, m0, eff, var, df, psi, cluster)


def cr2_from_sums(ng: np.ndarray, E: np.ndarray, tg: np.ndarray, n1: np.ndarray, n0: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """CR2 variance and Bell–McCaffrey df per week from per-(week, cluster) sums, cells ``w·G + g``.

    ``ng`` rows, ``E`` the sum of residuals (y − the arm's mean of the week), ``tg`` treated rows of each
    cell; ``n1``, ``n0`` the arms' rows per week. Returns the variance, the df, each cell's CR2 factor
    c² = N_a / (N_a − n_g) and the mask of weeks with at least 2 clusters in each arm. Used by the
    in-memory estimator and the streamed one alike.
    """
    nw = len(n1)
    n_clusters = len(ng) // max(nw, 1)
    present = ng > 0
    treated_g = present & (tg > 0)
    wk = np.repeat(np.arange(nw), n_clusters)
    Na = np.where(treated_g, n1[wk], n0[wk])
    with np.errstate(invalid="ignore", divide="ignore"):
        c2 = np.where(present, Na / (Na - ng), 0.0)
        g1 = np.bincount(wk, weights=treated_g.astype(float), minlength=nw)
        g0 = np.bincount(wk, weights=(present & ~treated_g).astype(float), minlength=nw)
        var = np.bincount(wk, weights=np.where(present, c2 * E * E / (Na * Na), 0.0), minlength=nw)
        df = _bell_mccaffrey(wk, nw, c2, ng, treated_g, present, n1, n0)
    ok = (g1 >= 2) & (g0 >= 2)
    var[~ok] = np.nan
    df[~ok] = np.nan
    return var, df, c2, ok


def _bell_mccaffrey(wk: np.ndarray, nw: int, c2: np.ndarray, ng: np.ndarray, treated_g: np.ndarray,
                    present: np.ndarray, n1: np.ndarray, n0: np.ndarray) -> np.ndarray:
    """Bell–McCaffrey df: tr(Q)² / tr(Q²); Q is block diagonal by arm (derivation in docs/methods.md)."""
    d = c2 * ng
    trsq = {}
    for arm, mask in ((1, treated_g), (0, present & ~treated_g)):
        s1 = np.bincount(wk, weights=np.where(mask, d * d, 0.0), minlength=nw)
        s2 = np.bincount(wk, weights=np.where(mask, c2 * c2 * ng ** 3, 0.0), minlength=nw)
        s3 = np.bincount(wk, weights=np.where(mask, c2 * ng * ng, 0.0), minlength=nw)
        Nn = n1 if arm == 1 else n0
        trsq[arm] = (s1 - 2 * s2 / Nn + s3 * s3 / (Nn * Nn)) / Nn ** 4
    return np.asarray((1 / n1 + 1 / n0) ** 2 / (trsq[1] + trsq[0]))


class Lin:
    """Lin (2013) per week: y on [1, t, Zc, t·Zc], Zc centred in the week's sample; HC2 (``estimatr::lm_lin``).

    A covariate column constant within one arm of a week (e.g. a category that occurs among the treated
    only) has an interaction with treatment that is not identified: it is left out of that week's
    regression (``lm_lin`` reports NA for it) and a :class:`TrialevalWarning` names the weeks and columns.
    """

    name = "lin"
    option: str | None = "covariates"
    unit_column: str | None = None

    def describe(self, value: Any) -> str:
        return f"Lin covariate adjustment, HC2 ({', '.join(value)})"

    def columns(self, inputs: DesignInputs) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        covariates = list(inputs.value)
        Z, names = _covariate_matrix(inputs.frame(covariates), covariates, inputs.source)
        return {"Z": Z}, {"covariate_names": names}

    def estimate(self, data: WeekData) -> WeekEstimate:
        w, t, y, nw = data.w, data.t, data.y, data.nw
        Z = data.columns["Z"]
        names = np.asarray(data.info.get("covariate_names", [f"x{j}" for j in range(Z.shape[1])]), dtype=object)
        n1, n0, m1, m0, _, var_u, _, _ = _dim(data, False)
        effect, var, df = np.full(nw, np.nan), np.full(nw, np.nan), np.full(nw, np.nan)
        psi = np.zeros(len(y)) if data.need_psi else None
        order = np.argsort(w, kind="stable")
        bounds = np.searchsorted(w[order], np.arange(nw + 1))
        aliased: dict[int, list[str]] = {}
        for k in range(nw):
            idx = order[bounds[k]:bounds[k + 1]]
            if n1[k] < 1 or n0[k] < 1:
                continue
            tk = t[idx].astype(np.float64)
            fit = _lin_week(tk, y[idx], Z[idx], names)
            if fit is None:
                continue
            effect[k], var[k], df[k], a_omega, dropped = fit
            if dropped:
                aliased[k] = dropped
            if psi is not None:
                psi[idx] = a_omega
        if aliased:
            _warn_aliased(aliased, data)
        return WeekEstimate(n1, n0, m1, m0, effect, var, df, psi, data.person, var_unadjusted=var_u)


def _lin_week(tk: np.ndarray, yk: np.ndarray, Zk: np.ndarray, names: np.ndarray
              ) -> tuple[float, float, float, np.ndarray, list[str]] | None:
    """One week's Lin regression: effect, HC2 variance, df, per-row influence, interactions left out."""
    n = len(tk)
    varies = np.ptp(Zk, axis=0) > 0 if Zk.shape[1] else np.zeros(0, dtype=bool)
    Zk, names = Zk[:, varies], names[varies]
    Zc = Zk - Zk.mean(axis=0)
    treated = tk == 1
    # An interaction is identified only when its column varies within both arms (else t·Zc is a
    # combination of 1, t and Zc): leave it out, as lm_lin's aliased column.
    both = (np.ptp(Zk[treated], axis=0) > 0) & (np.ptp(Zk[~treated], axis=0) > 0)
    X = np.column_stack([np.ones(n), tk, Zc, tk[:, None] * Zc[:, both]])
    import scipy.linalg            # here: the default estimator does not need it at start-up

    Q, R, piv = scipy.linalg.qr(X, mode="economic", pivoting=True)
    diag = np.abs(np.diag(R))
    rank = int(np.sum(diag > 1e-7 * diag[0]))
    pos = int(np.flatnonzero(piv == 1)[0])
    if pos >= rank or n <= rank:
        return None
    Q, R = Q[:, :rank], R[:rank, :rank]
    beta = scipy.linalg.solve_triangular(R, Q.T @ yk)
    e = yk - Q @ (R @ beta)
    omega = hc2_weights(e, np.einsum("ij,ij->i", Q, Q))
    rinv_row = scipy.linalg.solve_triangular(R, np.eye(rank)[:, pos], trans=1)  # row `pos` of R⁻¹
    a = Q @ rinv_row                                    # a_i = (R⁻¹ q_i)_t
    return (float(beta[pos]), float(np.sum(a * a * omega)), float(n - rank), a * np.sqrt(omega) * np.sign(e),
            [str(x) for x in names[~both]])


#: A leverage within this of 1 is 1: the row is fitted by a column of its own (e.g. the one person of a
#: level), its residual is rounding noise and so is 1 − h.
LEVERAGE_ONE = 1e-10


def hc2_weights(e: np.ndarray, h: np.ndarray) -> np.ndarray:
    """HC2's ω = e² / (1 − h) per row; 0 for a row of leverage 1 (up to rounding), as for a perfect fit.

    Without the tolerance a noise residual over a noise 1 − h could be any number, negative too.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        omega = e * e / (1 - h)
    omega[~np.isfinite(omega) | (h >= 1 - LEVERAGE_ONE)] = 0.0       # perfect fits, as estimatr does
    return omega


def _warn_aliased(aliased: dict[int, list[str]], data: WeekData) -> None:
    weeks = list(aliased)
    shown = "; ".join(f"week {int(data.week_list[k])}: {', '.join(aliased[k])}" for k in weeks[:5])
    more = f" (and {len(weeks) - 5} more week(s))" if len(weeks) > 5 else ""
    warnings.warn(
        f"{data.source}: '{data.outcome}', Lin adjustment: a covariate constant within one arm (e.g. a level "
        f"that occurs in one arm only) has no identified interaction with treatment; the interaction is left "
        f"out of that week's regression — {shown}{more}", TrialevalWarning, stacklevel=6)


#: The estimators by name; :func:`estimator_for` picks one from the arguments of ``effects()``.
ESTIMATORS: dict[str, Estimator] = {e.name: e for e in (DifferenceInMeans(), Blocked(), Lin(), ClusteredCR2())}
#: The estimator used when no option selects another.
DEFAULT_ESTIMATOR = "difference_in_means"


def estimator_for(options: Mapping[str, Any]) -> Estimator:
    """The registered estimator whose ``option`` is set in ``options`` (the default when none is)."""
    chosen = [e for e in ESTIMATORS.values() if e.option is not None and options.get(e.option)]
    return chosen[0] if chosen else ESTIMATORS[DEFAULT_ESTIMATOR]
