"""Effect curves from a :class:`~trialeval.panel.PanelResult`'s per-week sums (no long table)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from trialeval.effects._inputs import KNOWN_OUTCOMES, _as_list, _require_both_arms, _week_list
from trialeval.effects._tables import effect_frame
from trialeval.effects.estimators import ESTIMATORS, WeekData
from trialeval.effects.results import EffectsResult
from trialeval.exceptions import EstimationError, InputDataError
from trialeval.panel import PanelResult
from trialeval.stats.moments import CellMoments


def _arm_cells(m: pd.DataFrame, week_list: np.ndarray, period: str,
               groups: Sequence[str] = ("treatment", "control")) -> CellMoments:
    """One outcome's ``week_moments`` rows as cells ``2·week + treated`` (reference group even,
    programme group odd; ``groups`` are their labels, the programme group first)."""
    nw = len(week_list)
    cells = {}
    for key in ("n", "mean", "ss"):
        wide = m.pivot(index=period, columns="arm", values=key).reindex(week_list)
        both = np.empty(2 * nw)
        both[1::2] = wide[groups[0]].to_numpy(dtype=np.float64, na_value=np.nan)
        both[0::2] = wide[groups[1]].to_numpy(dtype=np.float64, na_value=np.nan)
        cells[key] = both
    return CellMoments.from_sums(cells["n"], cells["mean"], cells["ss"])


def effects_from_sums(result: PanelResult, outcomes: str | Sequence[str] | None, *, min_weeks: int | None,
                      weeks: int | Sequence[int] | None, alpha: float, min_cell: int, source: str,
                      needs_rows: dict[str, Any]) -> EffectsResult:
    """The default estimator on a :class:`~trialeval.panel.PanelResult`, from its per-week sums.

    The difference in means and its Welch variance need only the count, mean and sum of squared
    deviations per (outcome, week, arm); the panel gathered those while it was built, so no long table
    is made (a million persons followed two years are 85 million rows). They enter the estimator as
    :class:`~trialeval.stats.moments.CellMoments`.
    """
    asked = [name for name, value in needs_rows.items() if value]
    if asked:
        raise InputDataError(
            f"effects: {', '.join(repr(a) for a in asked)} need(s) the long panel (one row per person-week); "
            "a PanelResult gives the default estimator (difference in means, Welch) and 'min_weeks' from "
            "per-week sums. Pass result.to_frame() or the panel file read with trialeval.io.read_table")
    outcomes_l = _as_list(outcomes) or [c for c in KNOWN_OUTCOMES if c in result.outcomes]
    unknown = [o for o in outcomes_l if o not in result.outcomes]
    if unknown:
        raise InputDataError(f"{source}: outcome(s) {', '.join(unknown)} not in the panel; it has "
                             f"{', '.join(result.outcomes)}")
    if len(set(outcomes_l)) != len(outcomes_l):
        raise InputDataError(f"effects: outcomes are repeated: {', '.join(outcomes_l)}")
    if result.n_rows == 0:
        raise EstimationError(f"{source}: the panel has no rows")
    period = result.axis.column
    moments = result.week_moments(outcomes_l, min_weeks=min_weeks)
    _require_both_arms(moments.loc[moments["n"] > 0, "arm"].astype(str).unique().tolist(), source, result.groups)
    all_weeks = np.unique(moments[period].to_numpy())
    first = moments[moments["outcome"] == outcomes_l[0]]
    n_week = first.groupby(period, sort=True)["n"].sum().reindex(all_weeks).to_numpy()
    week_list = _week_list(all_weeks[n_week > 0], weeks, min_weeks, source)
    estimator = ESTIMATORS["difference_in_means"]
    empty = np.zeros(0, dtype=np.int64)
    frames = []
    for outcome in outcomes_l:
        cells = _arm_cells(moments[moments["outcome"] == outcome], week_list, period, result.groups)
        data = WeekData(empty, empty, np.zeros(0), empty, week_list, outcome, source, moments=cells)
        frames.append(effect_frame(outcome, week_list, estimator.estimate(data), alpha, period))
    settings = {"blocks": None, "covariates": None, "cluster": None, "min_weeks": min_weeks, "band": False,
                "ri": 0, "summary_weeks": None, "hours_week": None, "weeks": [int(x) for x in week_list]}
    nonzero = None
    if "ordinary_hours" in outcomes_l and "has_ordinary_hours" in result.outcomes:
        # persons with positive hours = the numerator of has_ordinary_hours (the disclosure rule needs it)
        flag = result.week_moments(["has_ordinary_hours"], min_weeks=min_weeks)
        flag = flag.assign(k=np.round(flag["n"] * flag["mean"].fillna(0.0)))
        wide = flag.pivot(index=period, columns="arm", values="k").reindex(week_list)
        nonzero = pd.DataFrame({"outcome": "ordinary_hours", period: week_list,
                                "nonzero_treatment": wide[result.groups[0]].to_numpy(dtype=float),
                                "nonzero_control": wide[result.groups[1]].to_numpy(dtype=float)})
    return EffectsResult(
        table=pd.concat(frames, ignore_index=True), design=estimator.describe(None),
        outcomes=tuple(outcomes_l), indicator_outcomes=tuple(o for o in outcomes_l if o != "ordinary_hours"),
        alpha=float(alpha), min_cell=min_cell, settings=settings, nonzero=nonzero, axis=result.axis,
        groups=result.groups,
    )
