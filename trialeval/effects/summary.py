"""The over-weeks summary: the average effect over weeks 1–K per outcome, Holm-adjusted."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from trialeval.effects.estimators import welch
from trialeval.effects.inference import _holm
from trialeval.exceptions import TrialevalWarning
from trialeval.progress import ProgressCallback, tick
from trialeval.stats.moments import CellMoments
from trialeval.timeaxis import WEEKS_SINCE_VISITATION

_PERIOD = WEEKS_SINCE_VISITATION.column      # the time index of the pooled regression


def _summary(panel: pd.DataFrame, outcomes: list[str], person: np.ndarray, t: np.ndarray, week: np.ndarray,
             in_cohort: np.ndarray, K: int, alpha: float, source: str,
             progress: ProgressCallback | None = None) -> pd.DataFrame:
    """Average effect over weeks 1–K: PanelOLS with week effects, person-clustered; Welch on person means."""
    from linearmodels.panel import PanelOLS

    rows = []
    window = in_cohort & (week >= 1) & (week <= K)
    for done, outcome in enumerate(outcomes):
        tick(progress, done, len(outcomes), f"Summary regression over weeks 1–{K}", "outcomes")
        y = panel[outcome].to_numpy(dtype=np.float64, na_value=np.nan)
        m = window & ~np.isnan(y)
        complete = np.bincount(person[m], minlength=int(person.max()) + 1) == K   # observed in all K weeks
        m &= complete[person]
        pid, _ = pd.factorize(person[m], sort=True)
        ym, tm, wm = y[m], t[m], week[m]
        tp = np.zeros(pid.max() + 1 if len(pid) else 0, dtype=np.int64)
        tp[pid] = tm
        n1, n0 = int(tp.sum()), int(len(tp) - tp.sum())
        row: dict[str, Any] = {"outcome": outcome, "weeks": K, "n_treatment": n1, "n_control": n0}
        if min(n1, n0) < 2:
            rows.append(_no_estimate(row, outcome, K, source))
            continue
        # Cross-check: Welch difference in the per-person averages.
        person_mean = CellMoments.from_values(pid, ym, len(tp)).mean
        arms = CellMoments.from_values(tp, person_mean, 2)
        mm = arms.mean
        var_pm, _ = welch(arms[1:2], arms[0:1])
        frame = pd.DataFrame({"y": ym, "treatment": tm.astype(np.float64), "const": 1.0},
                             index=pd.MultiIndex.from_arrays([pid, wm], names=["person", _PERIOD]))
        fit = PanelOLS(frame["y"], frame[["const", "treatment"]], time_effects=True).fit(
            cov_type="clustered", cluster_entity=True)
        ci_low, ci_high = fit.conf_int(level=1 - alpha).loc["treatment", ["lower", "upper"]].to_numpy(dtype=float)
        row |= {"effect": float(fit.params["treatment"]), "se": float(fit.std_errors["treatment"]),
                "ci_low": float(ci_low), "ci_high": float(ci_high),
                "p_value": float(fit.pvalues["treatment"]),
                "effect_person_means": float(mm[1] - mm[0]), "se_person_means": float(np.sqrt(var_pm[0]))}
        rows.append(row)
    tick(progress, len(outcomes), len(outcomes), f"Summary regression over weeks 1–{K}", "outcomes")
    return _with_holm(rows)


def _with_holm(rows: list[dict[str, Any]]) -> pd.DataFrame:
    out = pd.DataFrame(rows)
    out["p_holm"] = _holm(out["p_value"].to_numpy())
    return out


def _no_estimate(row: dict[str, Any], outcome: str, K: int, source: str) -> dict[str, Any]:
    warnings.warn(f"{source}: summary of '{outcome}': fewer than 2 persons per arm observed in all of "
                  f"weeks 1–{K}; no estimate", TrialevalWarning, stacklevel=5)
    return row | {k: np.nan for k in ("effect", "se", "ci_low", "ci_high", "p_value",
                                      "effect_person_means", "se_person_means")}


def summary_from_person_means(arms: dict[str, CellMoments], K: int, alpha: float, source: str) -> pd.DataFrame:
    """The summary from per arm (control, treated) moments of the person means over weeks 1–K.

    With every person observed in all K weeks and treatment constant within a person, the pooled
    regression with week effects has its treatment coefficient equal to the difference in the arms'
    mean person means, residuals summed per person K (m_i − m̄_arm), and so the person-clustered
    covariance of ``PanelOLS`` (debiased, counting the K − 1 week effects) in closed form:
    var = n / (n − K − 1) · (M2₁/n₁² + M2₀/n₀²), n = K (n₁ + n₀) rows, M2 the arms' sums of squared
    deviations of the person means; t inference with n − K − 1 df. Equal to ``PanelOLS`` to rounding.
    """
    from scipy import special      # imported when first needed, not when the command starts

    rows = []
    for outcome, m in arms.items():
        n1, n0 = int(m.n[1]), int(m.n[0])
        row: dict[str, Any] = {"outcome": outcome, "weeks": K, "n_treatment": n1, "n_control": n0}
        if min(n1, n0) < 2:
            rows.append(_no_estimate(row, outcome, K, source))
            continue
        nobs = K * (n1 + n0)
        df = nobs - K - 1
        effect = float(m.mean[1] - m.mean[0])
        se = float(np.sqrt(nobs / df * (m.m2[1] / n1 ** 2 + m.m2[0] / n0 ** 2)))
        crit = float(special.stdtrit(df, 1 - alpha / 2))
        var_pm, _ = welch(m[1:2], m[0:1])
        with np.errstate(invalid="ignore", divide="ignore"):
            p = float(2 * special.stdtr(df, -np.abs(np.float64(effect) / se)))
        row |= {"effect": effect, "se": se, "ci_low": effect - crit * se, "ci_high": effect + crit * se,
                "p_value": p,
                "effect_person_means": effect, "se_person_means": float(np.sqrt(var_pm[0]))}
        rows.append(row)
    return _with_holm(rows)


