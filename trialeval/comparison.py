"""Estimators for designs without a lottery: weighted differences with CR2 standard errors by match,
difference in differences on a pre-period baseline, an event study with a pre-trend test, and a two-way
fixed-effects event study.

**Weighted regression with CR2 by cluster**, as R's ``estimatr::lm_robust(y ~ X, weights = w,
clusters = match_id, se_type = "CR2")`` computes it (not CR2 on √w-scaled data, which differs): with
w̃ = w / mean(w), β = (X′W̃X)⁻¹X′W̃y and unweighted residuals e = y − Xβ; for each cluster g,
A_g = I − H_g − H_g′ + X_g M (X′W̃²X) M X_g′ with M = (X′W̃X)⁻¹ and H_g = X_g M (W̃X)_g′; the covariance
is M [Σ_g (A_g^{−½}(W̃X)_g)′ e_g e_g′ (A_g^{−½}(W̃X)_g)] M, and each coefficient's degrees of freedom are
Bell and McCaffrey's, as estimatr computes them.

**Difference in differences**: the outcome's change from the person's baseline, the mean of the
pre-periods −P … −1, compared between the groups with the same estimator. The **event study** estimates
the difference in every period, pre-periods included, in one stacked regression (a group × period term per
period), so the pre-period differences have a joint covariance: the Wald χ² of "all pre-period
differences are 0" tests parallel pre-trends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from threadpoolctl import threadpool_limits

from trialeval.exceptions import InputDataError


@dataclass(frozen=True)
class CR2Fit:
    """Coefficients, their CR2 covariance and Bell–McCaffrey degrees of freedom."""

    names: tuple[str, ...]
    beta: np.ndarray
    vcov: np.ndarray
    df: np.ndarray
    n: int
    n_clusters: int

    def table(self, alpha: float = 0.05) -> pd.DataFrame:
        """``term, estimate, se, df, ci_low, ci_high, p_value`` with t intervals on the BM df."""
        se = np.sqrt(np.diag(self.vcov))
        with np.errstate(invalid="ignore", divide="ignore"):
            crit = stats.t.ppf(1 - alpha / 2, self.df)
            p = 2 * stats.t.sf(np.abs(self.beta / se), self.df)
        return pd.DataFrame({"term": self.names, "estimate": self.beta, "se": se, "df": self.df,
                             "ci_low": self.beta - crit * se, "ci_high": self.beta + crit * se, "p_value": p})

    def wald(self, terms: Sequence[str]) -> tuple[float, int, float]:
        """Wald χ² that the named coefficients are all 0, its df and p-value."""
        idx = [self.names.index(t) for t in terms]
        b = self.beta[idx]
        chi2 = float(b @ np.linalg.solve(self.vcov[np.ix_(idx, idx)], b))
        return chi2, len(idx), float(stats.chi2.sf(chi2, len(idx)))


def cr2_regression(X: np.ndarray, y: np.ndarray, cluster: np.ndarray, weights: np.ndarray | None = None,
                   names: Sequence[str] | None = None) -> CR2Fit:
    """Least squares of ``y`` on ``X`` (weighted with ``weights``), CR2 covariance by ``cluster`` and
    Bell–McCaffrey df for every coefficient, as ``estimatr::lm_robust(se_type = "CR2")``.

    Examples
    --------
    >>> X = np.column_stack([np.ones(6), [1, 1, 1, 0, 0, 0]])
    >>> fit = cr2_regression(X, np.array([3.0, 4, 5, 1, 2, 2]), np.array([1, 2, 3, 1, 2, 3]))
    >>> fit.beta.round(4).tolist(), round(float(fit.vcov[1, 1]), 6)
    ([1.6667, 2.3333], 0.111111)
    """
    with threadpool_limits(limits=1, user_api="blas"):     # many small products: threads only contend
        return _cr2(np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64), cluster, weights, names)


def _cr2(X: np.ndarray, y: np.ndarray, cluster: np.ndarray, weights: np.ndarray | None,
         names: Sequence[str] | None) -> CR2Fit:
    """:func:`cr2_regression`'s computation."""
    n, r = X.shape
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    if (w < 0).any() or not np.isfinite(w).all():
        raise InputDataError("weights must be finite and not negative")
    keep = w > 0                                            # lm_robust drops zero weights
    X, y, w, cluster = X[keep], y[keep], w[keep], np.asarray(cluster)[keep]
    n = len(y)
    weight_mean = float(w.mean())
    wt = w / weight_mean
    order = np.argsort(pd.factorize(cluster)[0], kind="stable")
    X, y, wt = X[order], y[order], wt[order]
    codes = pd.factorize(cluster[order])[0]
    M = np.linalg.inv(X.T @ (X * wt[:, None]))
    beta = M @ (X.T @ (wt * y))
    e = y - X @ beta
    WX = X * wt[:, None]
    MUWTWUM = M @ WX.T @ WX @ M
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1], True])
    J = len(starts) - 1
    half = np.zeros((J, r))
    M_U_ct = np.linalg.cholesky(M)
    omega_ct = np.linalg.cholesky(MUWTWUM)
    H1 = np.zeros((J, r, r))
    H2 = np.zeros((J, r, r))
    H3 = np.zeros((J, r, r))
    P = np.zeros((J, r))
    sizes = np.diff(starts)
    M_scaled = M / weight_mean if weight_mean != 1 else M
    for size in np.unique(sizes):                           # clusters of one size at once (batched)
        gs = np.flatnonzero(sizes == size)
        idx = starts[gs][:, None] + np.arange(size)[None, :]
        Xg, WXg = X[idx], WX[idx]                           # (G, size, r)
        H = Xg @ M @ WXg.transpose(0, 2, 1)
        A = np.eye(size) - H - H.transpose(0, 2, 1) + Xg @ MUWTWUM @ Xg.transpose(0, 2, 1)
        vals, vecs = np.linalg.eigh(A)
        inv_sqrt = np.where(vals > 1e-12, 1 / np.sqrt(np.where(vals > 1e-12, vals, 1)), 0.0)
        at_wx_inv = (vecs * inv_sqrt[:, None, :]) @ vecs.transpose(0, 2, 1) @ WXg
        half[gs] = np.einsum("gs,gsr->gr", e[idx], at_wx_inv)
        ME = M_scaled @ at_wx_inv.transpose(0, 2, 1)        # (G, r, size)
        P[gs] = (ME ** 2).sum(axis=2)
        MEU = ME @ Xg
        H1[gs], H2[gs], H3[gs] = MEU @ M_U_ct, ME @ WXg @ M_U_ct, MEU @ omega_ct
    vcov = M @ (half.T @ half) @ M
    df = np.empty(r)
    for j in range(r):
        h1, h2, h3 = H1[:, j, :].T, H2[:, j, :].T, H3[:, j, :].T      # r × J
        uf = h1.T @ h2
        p_array = h3.T @ h3 - uf - uf.T + np.diag(P[:, j])
        df[j] = np.trace(p_array) ** 2 / np.sum(p_array ** 2)
    labels = tuple(names) if names is not None else tuple(f"x{i}" for i in range(r))
    return CR2Fit(labels, beta, vcov, df, n, J)


def weighted_difference(y: np.ndarray, programme: np.ndarray, match_id: np.ndarray,
                        weights: np.ndarray | None = None, alpha: float = 0.05) -> pd.Series:
    """The weighted difference in means between programme and comparison group with CR2 SEs by match:
    ``lm_robust(y ~ programme, weights, clusters = match_id, se_type = "CR2")``'s programme row."""
    X = np.column_stack([np.ones(len(y)), np.asarray(programme, dtype=np.float64)])
    fit = cr2_regression(X, y, match_id, weights, names=("(Intercept)", "programme"))
    return fit.table(alpha).set_index("term").loc["programme"]


def baseline_change(panel: pd.DataFrame, outcome: str, pre_periods: int, period_column: str = "week",
                    person: str = "person_id") -> pd.DataFrame:
    """The panel with ``<outcome>_change``: each period's value minus the person's baseline, the mean over
    periods −P … −1; persons without every pre-period are left out (one baseline for everyone)."""
    if pre_periods < 1:
        raise InputDataError(f"the baseline needs at least one pre-period; got {pre_periods}")
    pre = panel.loc[(panel[period_column] < 0) & (panel[period_column] >= -pre_periods)]
    counts = pre.groupby(person)[outcome].count()
    complete = counts.index[counts == pre_periods]
    if len(complete) == 0:
        raise InputDataError(f"no person is observed in all of periods -{pre_periods} … -1 of '{outcome}'")
    baseline = pre.loc[pre[person].isin(complete)].groupby(person)[outcome].mean()
    out = panel.loc[panel[person].isin(complete)].copy()
    out[f"{outcome}_change"] = out[outcome] - out[person].map(baseline)
    return out


def event_study(panel: pd.DataFrame, outcome: str, *, arm: str = "arm", programme: str = "programme",
                match_id: str = "match_id", weights: str | None = "weight", period_column: str = "week",
                baseline: int | None = None, person: str = "person_id", alpha: float = 0.05
                ) -> tuple[pd.DataFrame, tuple[float, int, float]]:
    """The difference between the groups in every period, pre-periods (≤ −1) included, from one stacked
    regression ``y ~ 0 + period + period:programme`` with CR2 SEs by match, and the Wald test of no
    pre-trend.

    With ``baseline = P`` the outcome is the change from the person's mean over periods −P … −1
    (difference in differences): the post-period rows are the DiD estimates, and the test asks whether
    the pre-period differences −P … −2 are 0 (the one at −1 follows from them). Without it, the test
    asks whether all pre-period differences are 0.
    """
    if baseline is not None:
        panel = baseline_change(panel, outcome, baseline, period_column, person)
        outcome = f"{outcome}_change"
        # the pre-period changes average 0, so period −1 adds nothing the others do not say: left out
        panel = panel.loc[(panel[period_column] >= -baseline) & (panel[period_column] != -1)]
    rows = panel.loc[panel[outcome].notna()]
    periods = np.sort(rows[period_column].unique())
    codes = np.searchsorted(periods, rows[period_column].to_numpy())
    t = (rows[arm] == programme).to_numpy(dtype=np.float64)
    X = np.zeros((len(rows), 2 * len(periods)))
    X[np.arange(len(rows)), codes] = 1.0
    X[np.arange(len(rows)), len(periods) + codes] = t
    names = tuple(f"level_{p}" for p in periods) + tuple(f"diff_{p}" for p in periods)
    w = rows[weights].to_numpy(dtype=np.float64) if weights and weights in rows else None
    fit = cr2_regression(X, rows[outcome].to_numpy(dtype=np.float64), rows[match_id].to_numpy(), w, names)
    table = fit.table(alpha)
    table = table.loc[table["term"].str.startswith("diff_")].reset_index(drop=True)
    table.insert(0, period_column, [int(term.split("_", 1)[1]) for term in table["term"]])
    pre = [term for term in table["term"] if int(term.split("_", 1)[1]) < 0]
    test = fit.wald(pre) if pre else (float("nan"), 0, float("nan"))
    return table.drop(columns="term"), test


def twfe_event_study(panel: pd.DataFrame, outcome: str, *, unit: str, period: str, start: str,
                     window: tuple[int, int] | None = None, reference: int = -1, alpha: float = 0.05
                     ) -> tuple[pd.DataFrame, tuple[float, int, float]]:
    """Two-way fixed-effects event study for designs of units over calendar periods (e.g. jobcentres by
    week): ``y ~ Σ_k 1[event time = k] + unit effects + period effects`` by linearmodels ``PanelOLS``,
    clustered by unit (``debiased=True, group_debias=True``, which is ``lm_robust(se_type = "stata")``).

    ``start`` is the column holding each unit's first programme period (missing for units never in it);
    event time is period − start. ``window`` (first, last) bins the event times outside it into its ends;
    ``reference`` (default −1) is left out. Returns the event-time table (``event_time, estimate, se, df,
    ci_low, ci_high, p_value``, t on clusters − 1 df) and the Wald test that all pre-period terms are 0.
    """
    from linearmodels.panel import PanelOLS

    rows = panel.loc[panel[outcome].notna()].copy()
    event = rows[period] - rows[start]
    if window is not None:
        event = event.clip(lower=window[0], upper=window[1])
    times = sorted(int(k) for k in event.dropna().unique() if int(k) != reference)
    if not times:
        raise InputDataError(f"no unit has a programme start in '{start}': there is no event to study")
    names = [f"event_{k}" for k in times]
    for k, name in zip(times, names):
        rows[name] = (event == k).astype(np.float64)
    frame = rows.set_index([unit, period])
    fit = PanelOLS(frame[outcome], frame[names], entity_effects=True, time_effects=True).fit(
        cov_type="clustered", cluster_entity=True, debiased=True, group_debias=True)
    n_clusters = rows[unit].nunique()
    df = float(n_clusters - 1)
    est, se = fit.params[names].to_numpy(), fit.std_errors[names].to_numpy()
    crit = stats.t.ppf(1 - alpha / 2, df)
    table = pd.DataFrame({"event_time": times, "estimate": est, "se": se, "df": df, "ci_low": est - crit * se,
                          "ci_high": est + crit * se, "p_value": 2 * stats.t.sf(np.abs(est / se), df)})
    pre = [n for n, k in zip(names, times) if k < 0]
    if not pre:
        return table, (float("nan"), 0, float("nan"))
    b = fit.params[pre].to_numpy()
    chi2 = float(b @ np.linalg.solve(fit.cov.loc[pre, pre].to_numpy(), b))
    return table, (chi2, len(pre), float(stats.chi2.sf(chi2, len(pre))))
