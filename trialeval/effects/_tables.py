"""Rows of the effect table and the per-week counts the disclosure rule needs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from trialeval.effects.estimators import WeekEstimate
from trialeval.effects.inference import _t_inference
from trialeval.stats.moments import cell_code
from trialeval.timeaxis import WEEKS_SINCE_VISITATION


def effect_frame(outcome: str, week_list: np.ndarray, est: WeekEstimate, alpha: float,
                 period: str = WEEKS_SINCE_VISITATION.column) -> pd.DataFrame:
    """The effect-table rows of one outcome from its per-week estimates (``period`` names the week column)."""
    se = np.sqrt(est.var)
    lo, hi, p = _t_inference(est.effect, se, est.df, alpha)
    return pd.DataFrame({
        "outcome": outcome, period: week_list, "n_treatment": est.n1.astype(np.int64),
        "n_control": est.n0.astype(np.int64), "mean_treatment": est.m1, "mean_control": est.m0,
        "effect": est.effect, "se": se, "df": est.df, "ci_low": lo, "ci_high": hi, "p_value": p,
    })


def nonzero_frame(outcome: str, week_list: np.ndarray, w: np.ndarray, t: np.ndarray, y: np.ndarray, nw: int,
                  block: np.ndarray | None, n_blocks: int, period: str = WEEKS_SINCE_VISITATION.column
                  ) -> pd.DataFrame:
    """Persons per week and arm with a non-zero value of a continuous outcome (for the disclosure rule).

    With blocks, only the blocks the estimate uses (both arms with at least 2 persons) count, as in the
    arm means of the table.
    """
    nz = (y != 0) & ~np.isnan(y) if y.dtype.kind == "f" else (y != 0)
    if block is None:
        code = cell_code([(w, 2), (t, 1)])
        counts = np.bincount(code, weights=nz, minlength=2 * nw)
    else:
        code = cell_code([(w, 2 * n_blocks), (block, 2), (t, 1)])
        n = np.bincount(code, minlength=2 * nw * n_blocks)
        valid = np.repeat((n[0::2] >= 2) & (n[1::2] >= 2), 2)
        counts = np.where(valid, np.bincount(code, weights=nz, minlength=2 * nw * n_blocks), 0.0)
        counts = counts.reshape(nw, n_blocks, 2).sum(axis=1).ravel()
    return pd.DataFrame({"outcome": outcome, period: week_list,
                         "nonzero_treatment": counts[1::2], "nonzero_control": counts[0::2]})
