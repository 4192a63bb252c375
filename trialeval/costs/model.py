"""The cost model: effect curves → weekly budget flows → present values, break-even, payback.

The observed effect curves (extra ordinary hours and extra self-supporting share per participant and
period) are carried beyond the window by a :class:`Persistence` rule, laid over the calendar of a
roll-out in yearly cohorts, split between municipality and state, and discounted. The periods are those
of the scenario's :class:`~trialeval.timeaxis.TimeAxis` (weeks since visitation): it gives the period
column of the effects table and the number of periods in a year.
"""

from __future__ import annotations

import dataclasses
import math
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from trialeval.exceptions import InputDataError, ScenarioError, TrialevalWarning
from trialeval.timeaxis import WEEKS_SINCE_VISITATION, TimeAxis

if TYPE_CHECKING:
    from trialeval.costs.scenarios import Scenario, Scenarios

PersistenceKind = Literal["none", "constant", "exp_decay", "linear_to_zero", "vector"]
Correlation = Literal["weeks", "perfect", "independent"]
Payer = Literal["municipality", "state", "total"]

PAYERS: tuple[Payer, ...] = ("municipality", "state", "total")
CORRELATIONS: tuple[Correlation, ...] = ("weeks", "perfect", "independent")
MAX_HORIZON_YEARS = 10.0
#: The columns an effects table needs (the period column is the axis's, ``week``).
EFFECT_COLUMNS = ("outcome", WEEKS_SINCE_VISITATION.column, "n_treatment", "n_control", "effect", "se")


def is_number(v: Any) -> bool:
    """A real number that is not a bool (TOML's booleans are Python ints)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool)


# --------------------------------------------------------------------------------------------------
# Persistence rules
# --------------------------------------------------------------------------------------------------

_PERSISTENCE_RULE = re.compile(r"^\s*(none|constant|exp_decay|linear_to_zero)\s*(?:\(\s*([^)]*?)\s*\))?\s*$")


@dataclass(frozen=True)
class Persistence:
    """How the end-of-window effect carries on after the observed window.

    ``none``; ``constant(years)``: held for that many years, then 0; ``exp_decay(half_life)`` in years;
    ``linear_to_zero(years)``: falls linearly to 0; a vector: one multiplier per year after the window.

    Examples
    --------
    >>> Persistence.parse("exp_decay(1)").multipliers(104)[[51, 103]].round(3).tolist()
    [0.5, 0.25]
    >>> year = WEEKS_SINCE_VISITATION.periods_per_year
    >>> Persistence.parse([1.0, 0.5]).multipliers(3 * year)[[0, year, 2 * year]].tolist()
    [1.0, 0.5, 0.0]
    >>> str(Persistence.parse("constant(1.5)"))
    'constant(1.5)'
    """

    kind: PersistenceKind
    years: float = 0.0
    vector: tuple[float, ...] = ()

    @classmethod
    def parse(cls, value: str | Sequence[float] | Persistence, where: str = "persistence") -> Persistence:
        if isinstance(value, Persistence):
            return value
        if isinstance(value, (list, tuple)):
            if (not value or len(value) > MAX_HORIZON_YEARS
                    or not all(is_number(v) and math.isfinite(v) and v >= 0 for v in value)):
                raise ScenarioError(f"{where} as a vector must list 1 to 10 yearly multipliers ≥ 0; got {value!r}")
            return cls("vector", vector=tuple(float(v) for v in value))
        if not isinstance(value, str):
            raise ScenarioError(f"{where} must be a string such as \"exp_decay(1)\" or a list of numbers; "
                              f"got {type(value).__name__}")
        match = _PERSISTENCE_RULE.match(value)
        if match is None:
            raise ScenarioError(f"{where} {value!r} is not one of none, constant(years), exp_decay(half_life), "
                              "linear_to_zero(years) or a list of yearly multipliers")
        kind, arg = match.group(1), match.group(2)
        if kind == "none":
            if arg:
                raise ScenarioError(f"{where} {value!r}: none takes no argument")
            return cls("none")
        try:
            years = float(arg) if arg else float("nan")
        except ValueError:
            years = float("nan")
        if not (0 < years <= MAX_HORIZON_YEARS):
            raise ScenarioError(f"{where} {value!r}: {kind} needs a number of years in (0, 10]")
        return cls(kind, years=years)  # type: ignore[arg-type]

    def multipliers(self, n_weeks: int, periods_per_year: int = WEEKS_SINCE_VISITATION.periods_per_year
                    ) -> np.ndarray:
        """Multiplier of the end-of-window effect in periods 1..n_weeks after the window.

        A year is ``periods_per_year`` periods (the time axis's; 52 weeks since visitation).
        """
        per_year = periods_per_year
        k = np.arange(1, max(n_weeks, 0) + 1, dtype=float)
        if self.kind == "none":
            return np.zeros_like(k)
        if self.kind == "constant":
            # fractional years cover a fraction of the last week, so net is continuous in years
            return np.clip(per_year * self.years - (k - 1.0), 0.0, 1.0)
        if self.kind == "exp_decay":
            return 0.5 ** (k / (per_year * self.years))
        if self.kind == "linear_to_zero":
            return np.maximum(0.0, 1.0 - k / (per_year * self.years))
        year = ((k - 1) // per_year).astype(int)
        vec = np.asarray(self.vector + (0.0,), dtype=float)
        return vec[np.minimum(year, len(self.vector))]

    def scaled(self, factor: float) -> Persistence:
        """The same rule with its duration (or its multipliers) multiplied by ``factor``."""
        if self.kind == "none":
            return self if factor <= 1 else Persistence("constant", years=min(factor - 1.0, MAX_HORIZON_YEARS))
        if self.kind == "vector":
            return Persistence("vector", vector=tuple(v * factor for v in self.vector))
        return Persistence(self.kind, years=min(self.years * factor, MAX_HORIZON_YEARS))

    def __str__(self) -> str:
        if self.kind == "none":
            return "none"
        if self.kind == "vector":
            return "[" + ", ".join(f"{v:g}" for v in self.vector) + "]"
        return f"{self.kind}({self.years:g})"


# --------------------------------------------------------------------------------------------------
# Effect curves
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Curves:
    """The observed effect curves used: weeks 1..W of hours (h) and self-supporting share (s)."""

    h: np.ndarray
    h_se: np.ndarray
    s: np.ndarray
    s_se: np.ndarray
    end_weeks: int
    axis: TimeAxis = WEEKS_SINCE_VISITATION

    @property
    def weeks(self) -> int:
        return len(self.h)


def _outcome_curve(effects: pd.DataFrame, outcome: str, min_at_risk: int, source: str,
                   axis: TimeAxis = WEEKS_SINCE_VISITATION) -> tuple[np.ndarray, np.ndarray]:
    period, unit = axis.column, axis.unit()
    rows = effects.loc[(effects["outcome"].astype(str) == outcome) & (effects[period] >= 1)]
    dup = rows[period].duplicated(keep=False)
    if dup.any():
        raise InputDataError(f"{source}: outcome '{outcome}' has more than one row for {unit}(s) "
                             f"{', '.join(map(str, sorted(set(rows.loc[dup, period]))[:10]))}")
    rows = rows.sort_values(period)
    usable = ((rows["n_treatment"] >= min_at_risk) & (rows["n_control"] >= min_at_risk)
              & np.isfinite(rows["effect"]) & np.isfinite(rows["se"]))
    weeks = rows[period].to_numpy()
    good = usable.to_numpy()
    # the window is weeks 1..W, every one present and usable; later weeks follow the persistence rule
    expected = np.arange(1, len(weeks) + 1)
    prefix = np.cumprod((weeks == expected) & good).astype(bool)
    w = int(prefix.sum())
    if w == 0:
        raise InputDataError(
            f"{source}: outcome '{outcome}' has no usable {unit} 1 (a row with effect and se and at least "
            f"min_at_risk = {min_at_risk} persons in each arm); nothing to value")
    return rows["effect"].to_numpy(dtype=float)[:w], rows["se"].to_numpy(dtype=float)[:w]


def _effect_columns(axis: TimeAxis) -> tuple[str, ...]:
    """The columns an effects table on ``axis`` needs (:data:`EFFECT_COLUMNS` for weeks)."""
    return ("outcome", axis.column, *EFFECT_COLUMNS[2:])


def _checked_effects(effects: pd.DataFrame, axis: TimeAxis, source: str) -> pd.DataFrame:
    """The effects table with its numeric columns as numbers; an :class:`InputDataError` if it cannot be."""
    if not isinstance(effects, pd.DataFrame):
        raise InputDataError(f"{source}: effects must be a DataFrame in the effects-table format")
    columns = _effect_columns(axis)
    missing = [c for c in columns if c not in effects.columns]
    if missing:
        raise InputDataError(f"{source}: required column(s) {', '.join(map(repr, missing))} missing; "
                             f"found {', '.join(map(str, effects.columns))}")
    numeric = {}
    for col in columns[1:]:
        numeric[col] = pd.to_numeric(effects[col], errors="coerce")
        bad = numeric[col].isna() & effects[col].notna()
        if bad.any():
            raise InputDataError(f"{source}: column '{col}' must be numeric; "
                                 f"{int(bad.sum())} value(s) are not (e.g. {effects.loc[bad, col].iloc[0]!r})")
    return effects.assign(**numeric)


def _curves(effects: pd.DataFrame, scenarios: Scenarios, source: str) -> tuple[_Curves, list[str]]:
    axis = scenarios.axis
    effects = _checked_effects(effects, axis, source)
    present = sorted(set(effects["outcome"].astype(str)))
    notes: list[str] = []
    if scenarios.hours_outcome not in present:
        raise InputDataError(f"{source}: outcome '{scenarios.hours_outcome}' (hours per {axis.unit()} per person, "
                             f"[outcomes] hours) is not in the effects table; outcomes found: {', '.join(present)}")
    h, h_se = _outcome_curve(effects, scenarios.hours_outcome, scenarios.min_at_risk, source, axis)
    share_outcome = scenarios.benefit_share_outcome or scenarios.self_supporting_outcome
    if share_outcome and share_outcome in present:
        s, s_se = _outcome_curve(effects, share_outcome, scenarios.min_at_risk, source, axis)
        if scenarios.benefit_share_outcome:
            s = -s  # one fewer on benefit is one more self-supporting
            notes.append(f"self-supporting effect = − effect on '{share_outcome}'")
        w = min(len(h), len(s))
        h, h_se, s, s_se = h[:w], h_se[:w], s[:w], s_se[:w]
    elif scenarios.benefit_share_outcome:
        raise InputDataError(f"{source}: outcome '{scenarios.benefit_share_outcome}' ([outcomes] benefit_share) "
                             f"is not in the effects table; outcomes found: {', '.join(present)}")
    else:
        if share_outcome:
            message = (f"{source}: no '{share_outcome}' outcome in the effects table; the self-supporting "
                       "channel is zero and every extra hour is valued as an hour worked on benefit")
            warnings.warn(message, TrialevalWarning, stacklevel=3)
        else:
            message = "self-supporting channel left out ([outcomes] self_supporting = \"\")"
        notes.append(message)
        s, s_se = np.zeros_like(h), np.zeros_like(h)
    return _Curves(h, h_se, s, s_se, scenarios.end_weeks, axis), notes


# --------------------------------------------------------------------------------------------------
# The model: effect paths → weekly budget flows → present values
# --------------------------------------------------------------------------------------------------

def _paths(obs: np.ndarray, end_weeks: int, persistence: Persistence, horizon: int,
           periods_per_year: int = WEEKS_SINCE_VISITATION.periods_per_year) -> np.ndarray:
    """Effect per participant in periods 1..horizon of one cohort; obs is (draws, W)."""
    w = obs.shape[-1]
    if horizon <= w:
        return obs[..., :horizon]
    end = obs[..., max(0, w - end_weeks):].mean(axis=-1, keepdims=True)
    return np.concatenate([obs, end * persistence.multipliers(horizon - w, periods_per_year)], axis=-1)


def _calendar(per_cohort: np.ndarray, cohorts: int,
              periods_per_year: int = WEEKS_SINCE_VISITATION.periods_per_year) -> np.ndarray:
    """Average over ``cohorts`` yearly cohorts of the same per-participant stream, in calendar periods."""
    if cohorts == 1:
        return per_cohort
    out = np.zeros_like(per_cohort)
    horizon = per_cohort.shape[-1]
    for c in range(cohorts):  # at most 10 cohorts: a loop over cohorts, never over persons
        shift = c * periods_per_year
        if shift < horizon:
            out[..., shift:] += per_cohort[..., : horizon - shift]
    return out / cohorts


def _discount(scenario: Scenario) -> np.ndarray:
    t = np.arange(1, scenario.horizon_weeks + 1, dtype=float)
    return (1.0 + scenario.discount_rate) ** (-t / scenario.axis.periods_per_year)


def _streams(h: np.ndarray, s: np.ndarray, scenario: Scenario, end_weeks: int
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Calendar-week effects and budget streams per participant of one scenario.

    ``h``/``s`` are observed curves (draws, W). Returns, each (draws, horizon) except C (horizon,):
    hours effect, self-supporting effect, benefit savings B, extra earnings E, programme costs C.
    """
    p, horizon, per_year = scenario.prices, scenario.horizon_weeks, scenario.axis.periods_per_year
    hh = _calendar(_paths(h, end_weeks, scenario.persistence, horizon, per_year), scenario.cohorts, per_year)
    ss = _calendar(_paths(s, end_weeks, scenario.persistence, horizon, per_year), scenario.cohorts, per_year)
    # hours of persons still on benefit are h − H·s and earn the offset; persons off benefit save
    # the whole benefit instead (their hours are in h but not in the offset). Benefit and H are given per
    # week: a period of another axis (a month) holds 52 / periods_per_year weeks of them.
    weeks = WEEKS_SINCE_VISITATION.periods_per_year / per_year
    benefit = p.offset_per_hour * (hh - p.hours_self_supporting * weeks * ss) + p.benefit_per_week * weeks * ss
    earnings = p.hourly_wage * hh
    return hh, ss, benefit, earnings, _cost_stream(scenario)


def _cost_stream(scenario: Scenario, nominal: float | None = None) -> np.ndarray:
    horizon, q = scenario.horizon_weeks, scenario.programme
    per_cohort = np.zeros(horizon)
    weeks = min(q.cost_weeks, horizon)
    per_cohort[:weeks] = (scenario.net_cost if nominal is None else nominal) / q.cost_weeks
    return _calendar(per_cohort, scenario.cohorts, scenario.axis.periods_per_year)


def _split(benefit: Any, earnings: Any, cost: Any, scenario: Scenario) -> dict[Payer, tuple[Any, Any, Any]]:
    """(benefit savings, tax revenue, costs) per payer from benefit B, earnings E and costs C."""
    p, q = scenario.prices, scenario.programme
    rho, m_e, m_b = p.state_refund_rate, p.municipal_tax_share, p.benefit_municipal_share
    tax_m = m_e * p.tax_rate * earnings - m_b * p.benefit_tax_rate * benefit
    tax_s = (1 - m_e) * p.tax_rate * earnings - (1 - m_b) * p.benefit_tax_rate * benefit
    muni = ((1 - rho) * benefit, tax_m, q.municipal_cost_share * cost)
    state = (rho * benefit, tax_s, (1 - q.municipal_cost_share) * cost)
    total = tuple(a + b for a, b in zip(muni, state))
    return {"municipality": muni, "state": state, "total": total}  # type: ignore[dict-item]


@dataclass(frozen=True)
class _Model:
    curves: _Curves

    def present_values(self, scenario: Scenario, h: np.ndarray | None = None, s: np.ndarray | None = None
                       ) -> dict[Payer, tuple[Any, Any, Any]]:
        """Present values (benefit savings, tax revenue, costs) per payer; arrays when draws are given."""
        point = h is None
        h = self.curves.h[None, :] if h is None else h
        s = self.curves.s[None, :] if s is None else s
        _, _, b, e, c = _streams(h, s, scenario, self.curves.end_weeks)
        d = _discount(scenario)
        pv = _split(b @ d, e @ d, float(c @ d), scenario)
        if point:
            return {k: tuple(float(np.squeeze(x)) for x in v) for k, v in pv.items()}  # type: ignore[misc]
        return pv

    def net(self, scenario: Scenario, payer: Payer = "total") -> float:
        bs, tax, cost = self.present_values(scenario)[payer]
        return bs + tax - cost

    def flows(self, scenario: Scenario) -> pd.DataFrame:
        hh, ss, b, e, c = _streams(self.curves.h[None, :], self.curves.s[None, :], scenario, self.curves.end_weeks)
        d = _discount(scenario)
        weeks = np.arange(1, scenario.horizon_weeks + 1)
        frames = []
        for payer, (bs, tax, cost) in _split(b[0], e[0], c, scenario).items():
            net = (bs + tax - cost) * d
            frames.append(pd.DataFrame({
                "scenario": scenario.name, "payer": payer, scenario.axis.column: weeks,
                "effect_hours": hh[0], "effect_self_supporting": ss[0],
                "benefit_savings": bs * d, "tax_revenue": tax * d, "costs": cost * d,
                "net_result": net, "cumulative_net": np.cumsum(net),
            }))
        return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------------------------------
# Break-even quantities
# --------------------------------------------------------------------------------------------------

def _break_even_scale(gains: float, cost: float) -> float:
    if gains > 0:
        return cost / gains
    return math.inf if cost > 0 else math.nan


def _break_even_cost(model: _Model, scenario: Scenario, payer: Payer, gains: float) -> float:
    share = {"municipality": scenario.programme.municipal_cost_share,
             "state": 1 - scenario.programme.municipal_cost_share, "total": 1.0}[payer]
    unit = float(_cost_stream(scenario, nominal=1.0) @ _discount(scenario))
    if share * unit <= 0:
        return math.nan  # this payer bears none of the programme cost
    return gains / (share * unit)


def _break_even_persistence(model: _Model, scenario: Scenario, payer: Payer) -> float:
    """Years of constant persistence after the window at which this payer's net result reaches 0."""
    after = scenario.horizon_weeks - model.curves.weeks
    y_max = max(after, 0) / scenario.axis.periods_per_year

    def net(years: float) -> float:
        rule = Persistence("constant", years=years) if years > 0 else Persistence("none")
        return model.net(dataclasses.replace(scenario, persistence=rule), payer)

    at_zero = net(0.0)
    if at_zero >= 0:
        return 0.0
    if y_max <= 0:
        return math.inf
    at_max = net(y_max)
    if at_max < 0:
        return math.inf  # not reached within the horizon (or the end-of-window effect does not pay)
    return float(brentq(net, 0.0, y_max, xtol=1e-7, rtol=1e-10))


def _payback_week(cumulative: np.ndarray) -> float:
    hit = np.flatnonzero(cumulative >= 0)
    return float(hit[0] + 1) if len(hit) else math.nan


# --------------------------------------------------------------------------------------------------
# Sensitivity (tornado)
# --------------------------------------------------------------------------------------------------

def _variants(scenario: Scenario) -> list[tuple[str, str, Scenario, str, Scenario]]:
    """(parameter, low label, low scenario, high label, high scenario) for the one-way tornado."""
    p, q, rep = scenario.prices, scenario.programme, dataclasses.replace
    rates = (0.0, 2 * scenario.discount_rate if scenario.discount_rate > 0 else 0.035)
    taxes = (max(0.0, p.tax_rate - 0.05), min(1.0, p.tax_rate + 0.05))
    rules = (scenario.persistence.scaled(0.5), scenario.persistence.scaled(2.0))
    cost_keys = ("startup_per_participant", "running_per_participant", "usual_services_per_participant")

    def cost(f: float) -> Scenario:
        return rep(scenario, programme=rep(q, **{k: f * getattr(q, k) for k in cost_keys}))

    def wage(f: float) -> Scenario:
        return rep(scenario, prices=rep(p, hourly_wage=f * p.hourly_wage))

    return [
        ("hourly wage", f"{0.8 * p.hourly_wage:g} kr.", wage(0.8), f"{1.2 * p.hourly_wage:g} kr.", wage(1.2)),
        ("persistence", str(rules[0]), rep(scenario, persistence=rules[0]),
         str(rules[1]), rep(scenario, persistence=rules[1])),
        ("discount rate", f"{rates[0]:.1%}", rep(scenario, discount_rate=rates[0]),
         f"{rates[1]:.1%}", rep(scenario, discount_rate=rates[1])),
        ("programme cost", "−25 %", cost(0.75), "+25 %", cost(1.25)),
        ("tax rate", f"{taxes[0]:.0%}", rep(scenario, prices=rep(p, tax_rate=taxes[0])),
         f"{taxes[1]:.0%}", rep(scenario, prices=rep(p, tax_rate=taxes[1]))),
    ]


# --------------------------------------------------------------------------------------------------
# Uncertainty: draws of the effect curves, P(net > 0)
# --------------------------------------------------------------------------------------------------

def _draw_curves(curves: _Curves, draws: int, correlation: Correlation, rng: np.random.Generator
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Draws (draws, W) of both effect curves from normal sampling distributions with the weekly se."""
    w = curves.weeks
    if correlation == "independent":
        z_h, z_s = rng.standard_normal((draws, w)), rng.standard_normal((draws, w))
    else:
        z = rng.standard_normal((draws, 2))
        z_h = np.repeat(z[:, :1], w, axis=1)
        z_s = np.repeat(z[:, :1] if correlation == "perfect" else z[:, 1:], w, axis=1)
    return curves.h + z_h * curves.h_se, curves.s + z_s * curves.s_se


def _prob_net_positive(pv_draws: dict[Payer, tuple[Any, Any, Any]] | None, payer: Payer) -> float:
    """Share of the draws in which this payer's net result is positive (NaN without draws)."""
    if pv_draws is None:
        return math.nan
    d_bs, d_tax, d_cost = pv_draws[payer]
    return float(np.mean(np.asarray(d_bs) + np.asarray(d_tax) - d_cost > 0))


def _example_effects() -> pd.DataFrame:
    """A small effects table for examples: 1 extra hour and +1 pp self-supporting in weeks 1–8."""
    weeks = list(range(1, 9))
    return pd.DataFrame({"outcome": ["ordinary_hours"] * 8 + ["self_supporting"] * 8,
                         WEEKS_SINCE_VISITATION.column: weeks * 2,
                         "n_treatment": 500, "n_control": 500, "effect": [1.0] * 8 + [0.01] * 8,
                         "se": [0.2] * 8 + [0.005] * 8})
