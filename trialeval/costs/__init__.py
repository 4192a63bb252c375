"""Cost scenarios: what the programme costs and what the public budget gets back.

The effect curves of :mod:`trialeval.effects` (extra ordinary hours and extra self-supporting share per
participant and week) are turned into weekly public-budget flows, carried beyond the observed window by a
persistence rule, discounted, and split between the municipality and the state. Every scenario is read
from a ``costs.toml`` (:func:`load_scenarios`); :func:`costs` evaluates them all.

The package is cut in three: :mod:`~trialeval.costs.scenarios` (the scenario file and its validation),
:mod:`~trialeval.costs.model` (persistence, roll-out, present values, break-even, payback) and
:mod:`~trialeval.costs.results` (:class:`CostsResult`). Periods are those of a
:class:`~trialeval.timeaxis.TimeAxis` (weeks since visitation). The formulas, the decomposition that
keeps the hours and self-supporting channels from counting the same person-weeks twice, and every
assumption are on the methods page (``docs/methods.md``, "Costs").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from trialeval.costs.model import (
    CORRELATIONS,
    EFFECT_COLUMNS,
    MAX_HORIZON_YEARS,
    PAYERS,
    Correlation,
    Payer,
    Persistence,
    PersistenceKind,
    _break_even_cost,
    _break_even_persistence,
    _break_even_scale,
    _curves,
    _Curves,
    _draw_curves,
    _example_effects,
    _Model,
    _payback_week,
    _prob_net_positive,
    _variants,
)
from trialeval.costs.results import TABLE_COLUMNS, CostsResult
from trialeval.costs.scenarios import (
    DEFAULT_SCENARIOS,
    Prices,
    Programme,
    Scenario,
    Scenarios,
    UnknownScenarioError,
    _example_scenarios,
    load_scenarios,
)
from trialeval.exceptions import InputDataError, ScenarioError
from trialeval.io import make_rng, physical_memory
from trialeval.progress import tick
from trialeval.timeaxis import WEEKS_SINCE_VISITATION, TimeAxis

#: Periods per year of the default time axis (52 weeks since visitation); kept for old imports.
WEEKS_PER_YEAR = WEEKS_SINCE_VISITATION.periods_per_year
#: Float arrays of draws x weeks held at once while the draws are valued (for the memory plan).
_DRAW_ARRAYS = 8

__all__ = [
    "CORRELATIONS", "DEFAULT_SCENARIOS", "EFFECT_COLUMNS", "MAX_HORIZON_YEARS", "PAYERS", "TABLE_COLUMNS",
    "WEEKS_PER_YEAR", "Correlation", "CostsResult", "Payer", "Persistence", "PersistenceKind", "Prices",
    "Programme", "Scenario", "ScenarioError", "Scenarios", "TimeAxis", "UnknownScenarioError", "costs",
    "load_scenarios",
]


def costs(
    effects: pd.DataFrame,
    scenarios: Scenarios,
    *,
    draws: int = 2000,
    rng: np.random.Generator | int | None = None,
    correlation: Correlation = "weeks",
    source: str = "effects",
    progress: Callable[[int, int], None] | None = None,
) -> CostsResult:
    """Evaluate every cost scenario on an effects table.

    Parameters
    ----------
    effects
        An effects table: ``outcome, week, n_treatment, n_control, effect, se`` at least,
        with the hours outcome (``ordinary_hours``) and ideally ``self_supporting``. For results that
        leave the research server give the exported table (``effects.csv``, or
        ``EffectsResult.export_frame()``): the window then stops before the first week whose effect
        the disclosure rule blanked, so no blanked effect enters a cost.
    scenarios
        From :func:`load_scenarios` or :meth:`Scenarios.from_dict`.
    draws
        Number of draws of the effect curves for the probability that the net result is positive
        (0 skips it; the column is then NaN).
    rng
        Seed or generator for the draws.
    correlation
        How the weekly effect estimates are drawn: ``"weeks"`` (default) one normal deviate per outcome
        and draw, shared by all weeks (estimates of adjacent weeks come from the same persons, and
        perfect correlation gives the widest spread of a sum of same-signed weekly values) with the two
        outcomes independent; ``"perfect"`` one deviate for everything; ``"independent"`` every week
        and outcome on its own (narrowest; optimistic).
    source
        Name of the effects input, used in messages.
    progress
        Optional ``callback(done, total)`` over scenarios.

    Returns
    -------
    CostsResult

    Examples
    --------
    >>> import pandas as pd
    >>> eff = pd.DataFrame({"outcome": ["ordinary_hours"] * 4 + ["self_supporting"] * 4,
    ...                     "week": [1, 2, 3, 4] * 2, "n_treatment": 500, "n_control": 500,
    ...                     "effect": [1.0] * 4 + [0.01] * 4, "se": [0.2] * 4 + [0.005] * 4})
    >>> sc = Scenarios.from_dict({
    ...     "prices": {"hourly_wage": 150, "benefit_per_week": 2844, "disregard_per_hour": 28.66,
    ...                "tax_rate": 0.39, "municipal_tax_share": 0.52, "state_refund_rate": 0.2},
    ...     "programme": {"startup_per_participant": 0, "running_per_participant": 1000},
    ...     "settings": {"discount_rate": 0.0, "end_weeks": 2}})
    >>> res = costs(eff, sc, rng=1)
    >>> t = res.to_frame().set_index(["scenario", "payer"])
    >>> float(round(t.loc[("A", "total"), "tax_revenue"], 2))   # 0.39 * 150 kr. * 1 hour * 4 weeks
    234.0
    """
    if not isinstance(scenarios, Scenarios):
        raise InputDataError("costs: scenarios must be a Scenarios object (load_scenarios or Scenarios.from_dict); "
                             f"got {type(scenarios).__name__}")
    if correlation not in CORRELATIONS:
        raise InputDataError(f"correlation must be one of {', '.join(CORRELATIONS)}; got {correlation!r}")
    if not isinstance(draws, (int, np.integer)) or isinstance(draws, bool) or draws < 0:
        raise InputDataError(f"draws must be a whole number ≥ 0; got {draws!r}")
    curves, notes = _curves(effects, scenarios, source)
    _plan_memory(int(draws), max([curves.weeks, *(sc.horizon_weeks for sc in scenarios.scenarios)]),
                 scenarios.axis)
    model = _Model(curves)
    h_draws, s_draws = _draw_curves(curves, int(draws), correlation, make_rng(rng))

    rows: list[dict[str, Any]] = []
    flows, sens = [], []
    total = len(scenarios.scenarios)
    for i, sc in enumerate(scenarios.scenarios):
        flow = model.flows(sc)
        flows.append(flow)
        pv_draws = model.present_values(sc, h_draws, s_draws) if draws else None
        rows += _scenario_rows(model, sc, flow, pv_draws)
        base = model.net(sc)
        for parameter, low_label, low, high_label, high in _variants(sc):
            sens.append({"scenario": sc.name, "parameter": parameter, "low": low_label, "high": high_label,
                         "net_low": model.net(low), "net_high": model.net(high), "net_base": base})
        tick(progress, i + 1, total, "Valuing scenarios", "scenarios")

    table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    table["payback_week"] = table["payback_week"].astype("Int64")
    sensitivity = pd.DataFrame(sens, columns=["scenario", "parameter", "low", "high",
                                              "net_low", "net_high", "net_base"])
    return CostsResult(table=table, flows=pd.concat(flows, ignore_index=True), sensitivity=sensitivity,
                       scenarios=scenarios, observed_weeks=curves.weeks, draws=int(draws),
                       correlation=correlation, notes=tuple(notes), axis=scenarios.axis)


def _plan_memory(draws: int, periods: int, axis: TimeAxis) -> None:
    """Refuse draws whose arrays would not fit in half the machine's memory, before allocating them.

    The draws of both curves and their streams up to the horizon are a few float arrays of
    draws x periods.
    """
    need, memory = draws * periods * 8 * _DRAW_ARRAYS, physical_memory()
    if memory is not None and need > memory // 2:
        raise InputDataError(f"draws = {draws} would need about {need / 2**30:.1f} GB over {periods} "
                             f"{axis.unit(plural=True)}, more than half of this machine's "
                             f"{memory / 2**30:.1f} GB; use fewer draws "
                             "(the default 2000 gives P(net > 0) to within about 0.01)")


def _scenario_rows(model: _Model, sc: Scenario, flow: pd.DataFrame,
                   pv_draws: dict[Payer, tuple[Any, Any, Any]] | None) -> list[dict[str, Any]]:
    """The ``costs.csv`` rows of one scenario, one per payer."""
    curves = model.curves
    pv = model.present_values(sc)
    end_h = float(curves.h[max(0, curves.weeks - curves.end_weeks):].mean())
    end_s = float(curves.s[max(0, curves.weeks - curves.end_weeks):].mean())
    rows = []
    for payer in PAYERS:
        bs, tax, cost = pv[payer]
        net = bs + tax - cost
        cumulative = flow.loc[flow["payer"] == payer, "cumulative_net"].to_numpy()
        rows.append({
            "scenario": sc.name, "label": sc.label, "payer": payer,
            "benefit_savings": bs, "tax_revenue": tax, "costs": cost, "net_result": net,
            "benefit_savings_per_100": 100 * bs, "tax_revenue_per_100": 100 * tax,
            "costs_per_100": 100 * cost, "net_result_per_100": 100 * net,
            "break_even_scale": _break_even_scale(bs + tax, cost),
            "break_even_persistence_years": _break_even_persistence(model, sc, payer),
            "break_even_cost": _break_even_cost(model, sc, payer, bs + tax),
            "payback_week": _payback_week(cumulative),
            "prob_net_positive": _prob_net_positive(pv_draws, payer),
            "persistence": str(sc.persistence), "horizon_years": sc.horizon_years,
            "discount_rate": sc.discount_rate, "cohorts": sc.cohorts, "include_startup": sc.include_startup,
            "programme_cost": sc.net_cost, "observed_weeks": curves.weeks,
            "end_effect_hours": end_h, "end_effect_self_supporting": end_s,
        })
    return rows
