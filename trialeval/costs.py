"""Cost scenarios: what the programme costs and what the public budget gets back.

The effect curves of :mod:`trialeval.effects` (extra ordinary hours and extra self-supporting share per
participant and week) are turned into weekly public-budget flows, carried beyond the observed window by a
persistence rule, discounted, and split between the municipality and the state. Every scenario is read
from a ``costs.toml`` (:func:`load_scenarios`); :func:`costs` evaluates them all.

The formulas, the decomposition that keeps the hours and self-supporting channels from counting the same
person-weeks twice, and every assumption are on the methods page (``docs/methods.md``, "Costs").
"""

from __future__ import annotations

import dataclasses
import html
import math
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from trialeval.config import read_toml
from trialeval.exceptions import ConfigError, InputDataError, TrialevalWarning
from trialeval.io import make_rng, physical_memory

PersistenceKind = Literal["none", "constant", "exp_decay", "linear_to_zero", "vector"]
Correlation = Literal["weeks", "perfect", "independent"]
Payer = Literal["municipality", "state", "total"]

PAYERS: tuple[Payer, ...] = ("municipality", "state", "total")
CORRELATIONS: tuple[Correlation, ...] = ("weeks", "perfect", "independent")
WEEKS_PER_YEAR = 52
#: Float arrays of draws x weeks held at once while the draws are valued (for the memory plan).
_DRAW_ARRAYS = 8
MAX_HORIZON_YEARS = 10.0
EFFECT_COLUMNS = ("outcome", "week", "n_treatment", "n_control", "effect", "se")

#: The columns of ``costs.csv``, in order (one row per scenario and payer).
TABLE_COLUMNS = (
    "scenario", "label", "payer", "benefit_savings", "tax_revenue", "costs", "net_result",
    "benefit_savings_per_100", "tax_revenue_per_100", "costs_per_100", "net_result_per_100",
    "break_even_scale", "break_even_persistence_years", "break_even_cost", "payback_week",
    "prob_net_positive", "persistence", "horizon_years", "discount_rate", "cohorts", "include_startup",
    "programme_cost", "observed_weeks", "end_effect_hours", "end_effect_self_supporting",
)


# --------------------------------------------------------------------------------------------------
# Scenario file
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Prices:
    """Prices and rules that value one extra hour and one extra self-supporting person-week (kr.).

    Examples
    --------
    >>> p = Prices(hourly_wage=150, benefit_per_week=2844, disregard_per_hour=28.66, tax_rate=0.39,
    ...            municipal_tax_share=0.52, state_refund_rate=0.2)
    >>> round(p.offset_per_hour, 2)   # benefit withdrawn per extra hour worked while on benefit
    121.34
    """

    hourly_wage: float
    benefit_per_week: float
    disregard_per_hour: float
    tax_rate: float
    municipal_tax_share: float
    state_refund_rate: float
    deducted_share_of_earnings: float = 1.0
    hours_self_supporting: float = 37.0
    benefit_tax_rate: float = 0.0
    benefit_municipal_tax_share: float | None = None
    price_year: int | None = None

    @property
    def offset_per_hour(self) -> float:
        """Benefit withdrawn per extra hour worked by a person who stays on benefit."""
        return max(0.0, self.deducted_share_of_earnings * self.hourly_wage - self.disregard_per_hour)

    @property
    def benefit_municipal_share(self) -> float:
        if self.benefit_municipal_tax_share is None:
            return self.municipal_tax_share
        return self.benefit_municipal_tax_share


@dataclass(frozen=True)
class Programme:
    """Programme cost per participant (kr.), net of the usual services controls receive.

    Examples
    --------
    >>> Programme(startup_per_participant=5000, running_per_participant=25000,
    ...           usual_services_per_participant=8000).net_cost(include_startup=False)
    17000.0
    """

    startup_per_participant: float
    running_per_participant: float
    usual_services_per_participant: float = 0.0
    cost_weeks: int = 1
    municipal_cost_share: float = 1.0

    def net_cost(self, *, include_startup: bool) -> float:
        startup = self.startup_per_participant if include_startup else 0.0
        return float(startup + self.running_per_participant - self.usual_services_per_participant)


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
    >>> Persistence.parse([1.0, 0.5]).multipliers(3 * 52)[[0, 52, 104]].tolist()
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
                    or not all(_is_number(v) and math.isfinite(v) and v >= 0 for v in value)):
                raise ConfigError(f"{where} as a vector must list 1 to 10 yearly multipliers ≥ 0; got {value!r}")
            return cls("vector", vector=tuple(float(v) for v in value))
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string such as \"exp_decay(1)\" or a list of numbers; "
                              f"got {type(value).__name__}")
        match = _PERSISTENCE_RULE.match(value)
        if match is None:
            raise ConfigError(f"{where} {value!r} is not one of none, constant(years), exp_decay(half_life), "
                              "linear_to_zero(years) or a list of yearly multipliers")
        kind, arg = match.group(1), match.group(2)
        if kind == "none":
            if arg:
                raise ConfigError(f"{where} {value!r}: none takes no argument")
            return cls("none")
        try:
            years = float(arg) if arg else float("nan")
        except ValueError:
            years = float("nan")
        if not (0 < years <= MAX_HORIZON_YEARS):
            raise ConfigError(f"{where} {value!r}: {kind} needs a number of years in (0, 10]")
        return cls(kind, years=years)  # type: ignore[arg-type]

    def multipliers(self, n_weeks: int) -> np.ndarray:
        """Multiplier of the end-of-window effect in weeks 1..n_weeks after the window."""
        k = np.arange(1, max(n_weeks, 0) + 1, dtype=float)
        if self.kind == "none":
            return np.zeros_like(k)
        if self.kind == "constant":
            # fractional years cover a fraction of the last week, so net is continuous in years
            return np.clip(WEEKS_PER_YEAR * self.years - (k - 1.0), 0.0, 1.0)
        if self.kind == "exp_decay":
            return 0.5 ** (k / (WEEKS_PER_YEAR * self.years))
        if self.kind == "linear_to_zero":
            return np.maximum(0.0, 1.0 - k / (WEEKS_PER_YEAR * self.years))
        year = ((k - 1) // WEEKS_PER_YEAR).astype(int)
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


@dataclass(frozen=True)
class Scenario:
    """One cost scenario: persistence, horizon, discounting, roll-out and the prices it uses.

    Examples
    --------
    >>> p = Prices(150, 2844, 28.66, 0.39, 0.52, 0.2)
    >>> s = Scenario("B", "one more year", Persistence.parse("constant(1)"), prices=p,
    ...              programme=Programme(0, 10000))
    >>> s.horizon_weeks, s.cohorts
    (520, 1)
    """

    name: str
    label: str
    persistence: Persistence
    prices: Prices
    programme: Programme
    horizon_years: float = MAX_HORIZON_YEARS
    discount_rate: float = 0.035
    cohorts: int = 1
    include_startup: bool = True

    @property
    def horizon_weeks(self) -> int:
        return max(1, int(round(WEEKS_PER_YEAR * self.horizon_years)))

    @property
    def net_cost(self) -> float:
        return self.programme.net_cost(include_startup=self.include_startup)


@dataclass(frozen=True)
class Scenarios:
    """A validated ``costs.toml``: the scenarios and which effect outcomes feed them.

    Build one with :func:`load_scenarios` or :meth:`from_dict` (same schema as the TOML file).

    Examples
    --------
    >>> sc = Scenarios.from_dict({
    ...     "prices": {"hourly_wage": 150, "benefit_per_week": 2844, "disregard_per_hour": 28.66,
    ...                "tax_rate": 0.39, "municipal_tax_share": 0.52, "state_refund_rate": 0.2},
    ...     "programme": {"startup_per_participant": 5000, "running_per_participant": 25000},
    ... })
    >>> [s.name for s in sc.scenarios]
    ['A', 'B', 'C', 'D']
    >>> str(sc["C"].persistence), sc["D"].cohorts, sc["D"].include_startup
    ('exp_decay(1)', 5, False)
    """

    scenarios: tuple[Scenario, ...]
    hours_outcome: str = "ordinary_hours"
    self_supporting_outcome: str | None = "self_supporting"
    benefit_share_outcome: str | None = None
    end_weeks: int = 8
    min_at_risk: int = 50
    source: str = "costs.toml"

    def __getitem__(self, name: str) -> Scenario:
        for s in self.scenarios:
            if s.name == name:
                return s
        raise KeyError(name)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "costs.toml") -> Scenarios:
        return _parse_scenarios(data, source)


#: (type, lower bound, upper bound, lower bound open, required); a bound of None is unbounded
_Spec = tuple[str, "float | None", "float | None", bool, bool]
_NUMBER = "number"
_INT = "integer"
_STR = "string"
_BOOL = "boolean"
_PERSIST = "persistence"

_PRICE_KEYS: dict[str, _Spec] = {
    "hourly_wage": (_NUMBER, 0, None, True, True),
    "benefit_per_week": (_NUMBER, 0, None, False, True),
    "disregard_per_hour": (_NUMBER, 0, None, False, True),
    "tax_rate": (_NUMBER, 0, 1, False, True),
    "municipal_tax_share": (_NUMBER, 0, 1, False, True),
    "state_refund_rate": (_NUMBER, 0, 1, False, True),
    "deducted_share_of_earnings": (_NUMBER, 0, 1, False, False),
    "hours_self_supporting": (_NUMBER, 0, 168, False, False),
    "benefit_tax_rate": (_NUMBER, 0, 1, False, False),
    "benefit_municipal_tax_share": (_NUMBER, 0, 1, False, False),
    "price_year": (_INT, 1900, 2200, False, False),
}
_PROGRAMME_KEYS: dict[str, _Spec] = {
    "startup_per_participant": (_NUMBER, 0, None, False, True),
    "running_per_participant": (_NUMBER, 0, None, False, True),
    "usual_services_per_participant": (_NUMBER, 0, None, False, False),
    "cost_weeks": (_INT, 1, WEEKS_PER_YEAR * MAX_HORIZON_YEARS, False, False),
    "municipal_cost_share": (_NUMBER, 0, 1, False, False),
}
_OUTCOME_KEYS: dict[str, _Spec] = {
    "hours": (_STR, None, None, False, False),
    "self_supporting": (_STR, None, None, False, False),
    "benefit_share": (_STR, None, None, False, False),
}
_SCENARIO_COMMON: dict[str, _Spec] = {
    "horizon_years": (_NUMBER, 0, MAX_HORIZON_YEARS, True, False),
    "discount_rate": (_NUMBER, 0, 1, False, False),
}
_SETTINGS_KEYS: dict[str, _Spec] = {
    **_SCENARIO_COMMON,
    "end_weeks": (_INT, 1, None, False, False),
    "min_at_risk": (_INT, 1, None, False, False),
    "default_scenarios": (_BOOL, None, None, False, False),
}
_SCENARIO_KEYS: dict[str, _Spec] = {
    "name": (_STR, None, None, False, True),
    "label": (_STR, None, None, False, False),
    "persistence": (_PERSIST, None, None, False, False),
    "cohorts": (_INT, 1, MAX_HORIZON_YEARS, False, False),
    "include_startup": (_BOOL, None, None, False, False),
    **_SCENARIO_COMMON,
    # any price or programme key may be overridden per scenario (never required there)
    **{k: v[:4] + (False,) for k, v in _PRICE_KEYS.items() if k != "price_year"},
    **{k: v[:4] + (False,) for k, v in _PROGRAMME_KEYS.items()},
}
_SECTIONS = ("prices", "programme", "outcomes", "settings", "scenario")

#: The four default scenarios (horizon and discount rate come from ``[settings]``).
DEFAULT_SCENARIOS: tuple[dict[str, Any], ...] = (
    {"name": "A", "label": "Observed window only", "persistence": "none"},
    {"name": "B", "label": "End-of-window effect held one more year", "persistence": "constant(1)"},
    {"name": "C", "label": "Decay, half-life 1 year", "persistence": "exp_decay(1)"},
    {"name": "D", "label": "Full roll-out, running costs only", "persistence": "exp_decay(1)",
     "cohorts": 5, "include_startup": False},
)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _check_value(value: Any, spec: _Spec, where: str) -> Any:
    kind, low, high, low_open, _ = spec
    if kind == _PERSIST:
        return Persistence.parse(value, where)
    ok = {_NUMBER: _is_number(value), _INT: isinstance(value, int) and not isinstance(value, bool),
          _STR: isinstance(value, str), _BOOL: isinstance(value, bool)}[kind]
    if not ok:
        article = "an" if kind[0] in "aeiou" else "a"
        raise ConfigError(f"{where} must be {article} {kind}; got {type(value).__name__} {value!r}")
    if kind in (_NUMBER, _INT):
        if not math.isfinite(value):
            raise ConfigError(f"{where} must be finite; got {value!r}")
        too_low = low is not None and (value <= low if low_open else value < low)
        too_high = high is not None and value > high
        if too_low or too_high:
            lo = "-inf" if low is None else f"{low:g}"
            hi = "inf" if high is None else f"{high:g}"
            interval = f"{'(' if low_open else '['}{lo}, {hi}{']' if high is not None else ')'}"
            raise ConfigError(f"{where} must be in {interval}; got {value!r}")
    return value


def _check_table(body: Any, keys: Mapping[str, _Spec], source: str, section: str) -> dict[str, Any]:
    """Check one table; ``section`` is how the file names it, e.g. ``[prices]``."""
    if not isinstance(body, Mapping):
        raise ConfigError(f"{source}: {section} must be a table")
    out: dict[str, Any] = {}
    for key, value in body.items():
        if key not in keys:
            raise ConfigError(f"{source}: unknown key '{key}' in {section}; allowed: {', '.join(keys)}")
        out[key] = _check_value(value, keys[key], f"{source}: {section} {key}")
    return out


def _require(values: Mapping[str, Any], keys: Mapping[str, _Spec], source: str, section: str) -> None:
    missing = [k for k, spec in keys.items() if spec[4] and k not in values]
    if missing:
        raise ConfigError(f"{source}: {section} is missing required key(s) {', '.join(missing)}")


def _parse_scenarios(data: Mapping[str, Any], source: str) -> Scenarios:
    for section in data:
        if section not in _SECTIONS:
            raise ConfigError(f"{source}: unknown section [{section}]; allowed: {', '.join(_SECTIONS)}")
    prices = _check_table(data.get("prices", {}), _PRICE_KEYS, source, "[prices]")
    _require(prices, _PRICE_KEYS, source, "[prices]")
    programme = _check_table(data.get("programme", {}), _PROGRAMME_KEYS, source, "[programme]")
    _require(programme, _PROGRAMME_KEYS, source, "[programme]")
    outcomes = _check_table(data.get("outcomes", {}), _OUTCOME_KEYS, source, "[outcomes]")
    settings = _check_table(data.get("settings", {}), _SETTINGS_KEYS, source, "[settings]")
    if outcomes.get("self_supporting") and outcomes.get("benefit_share"):
        raise ConfigError(f"{source}: [outcomes] give either self_supporting or benefit_share, not both")

    raw = data.get("scenario", [])
    if not isinstance(raw, list):
        raise ConfigError(f"{source}: scenarios are written as [[scenario]] tables (an array of tables)")
    user: list[dict[str, Any]] = []
    for i, body in enumerate(raw, start=1):
        name = body.get("name") if isinstance(body, Mapping) else None
        section = f"[[scenario]] #{i}" + (f" ({name!r})" if isinstance(name, str) else "")
        values = _check_table(body, _SCENARIO_KEYS, source, section)
        _require(values, _SCENARIO_KEYS, source, section)
        if not values["name"].strip():
            raise ConfigError(f"{source}: {section} name must not be empty")
        user.append(values)
    names = [u["name"] for u in user]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"{source}: scenario name(s) {', '.join(dup)} appear more than once")

    base_prices = Prices(**prices)
    base_programme = Programme(**programme)
    specs: list[dict[str, Any]] = []
    if settings.get("default_scenarios", True):
        specs += [dict(d) for d in DEFAULT_SCENARIOS if d["name"] not in names]
    specs += user
    if not specs:
        raise ConfigError(f"{source}: no scenarios: default_scenarios = false and no [[scenario]] given")

    built = []
    for spec in specs:
        horizon = float(spec.get("horizon_years", settings.get("horizon_years", MAX_HORIZON_YEARS)))
        cohorts = int(spec.get("cohorts", 1))
        if spec.get("name") == "D" and spec not in user:
            cohorts = max(1, min(cohorts, int(horizon)))  # default D: at most one cohort per horizon year
        if (cohorts - 1) * WEEKS_PER_YEAR >= round(horizon * WEEKS_PER_YEAR):
            raise ConfigError(f"{source}: scenario {spec['name']!r}: cohorts = {cohorts} start after the "
                              f"horizon of {horizon:g} years; use at most {max(1, math.ceil(horizon))}")
        price_over = {k: v for k, v in spec.items() if k in _PRICE_KEYS}
        prog_over = {k: v for k, v in spec.items() if k in _PROGRAMME_KEYS}
        built.append(Scenario(
            name=spec["name"],
            label=spec.get("label", spec["name"]),
            persistence=Persistence.parse(spec.get("persistence", "none")),
            prices=dataclasses.replace(base_prices, **price_over),
            programme=dataclasses.replace(base_programme, **prog_over),
            horizon_years=horizon,
            discount_rate=float(spec.get("discount_rate", settings.get("discount_rate", 0.035))),
            cohorts=cohorts,
            include_startup=bool(spec.get("include_startup", True)),
        ))
    self_supporting = outcomes.get("self_supporting", None if outcomes.get("benefit_share") else "self_supporting")
    return Scenarios(
        scenarios=tuple(built),
        hours_outcome=outcomes.get("hours", "ordinary_hours"),
        self_supporting_outcome=self_supporting or None,
        benefit_share_outcome=outcomes.get("benefit_share") or None,
        end_weeks=int(settings.get("end_weeks", 8)),
        min_at_risk=int(settings.get("min_at_risk", 50)),
        source=source,
    )


def load_scenarios(path: str | Path) -> Scenarios:
    """Read and validate a ``costs.toml`` (schema: ``docs/costs.md``).

    Unknown sections and keys, wrong types and values out of range are a :class:`ConfigError` naming
    the file, the section and the key.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "costs.toml"
    >>> _ = p.write_text('''
    ... [prices]
    ... hourly_wage = 150
    ... benefit_per_week = 2844
    ... disregard_per_hour = 28.66
    ... tax_rate = 0.39
    ... municipal_tax_share = 0.52
    ... state_refund_rate = 0.2
    ... [programme]
    ... startup_per_participant = 5000
    ... running_per_participant = 25000
    ... [[scenario]]
    ... name = "E"
    ... persistence = "linear_to_zero(3)"
    ... ''')
    >>> [s.name for s in load_scenarios(p).scenarios]
    ['A', 'B', 'C', 'D', 'E']
    """
    return Scenarios.from_dict(read_toml(path, "scenario"), source=str(path))


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

    @property
    def weeks(self) -> int:
        return len(self.h)


def _outcome_curve(effects: pd.DataFrame, outcome: str, min_at_risk: int, source: str
                   ) -> tuple[np.ndarray, np.ndarray]:
    rows = effects.loc[(effects["outcome"].astype(str) == outcome) & (effects["week"] >= 1)]
    dup = rows["week"].duplicated(keep=False)
    if dup.any():
        raise InputDataError(f"{source}: outcome '{outcome}' has more than one row for week(s) "
                             f"{', '.join(map(str, sorted(set(rows.loc[dup, 'week']))[:10]))}")
    rows = rows.sort_values("week")
    usable = ((rows["n_treatment"] >= min_at_risk) & (rows["n_control"] >= min_at_risk)
              & np.isfinite(rows["effect"]) & np.isfinite(rows["se"]))
    weeks = rows["week"].to_numpy()
    good = usable.to_numpy()
    # the window is weeks 1..W, every one present and usable; later weeks follow the persistence rule
    expected = np.arange(1, len(weeks) + 1)
    prefix = np.cumprod((weeks == expected) & good).astype(bool)
    w = int(prefix.sum())
    if w == 0:
        raise InputDataError(
            f"{source}: outcome '{outcome}' has no usable week 1 (a row with effect and se and at least "
            f"min_at_risk = {min_at_risk} persons in each arm); nothing to value")
    return rows["effect"].to_numpy(dtype=float)[:w], rows["se"].to_numpy(dtype=float)[:w]


def _curves(effects: pd.DataFrame, scenarios: Scenarios, source: str) -> tuple[_Curves, list[str]]:
    if not isinstance(effects, pd.DataFrame):
        raise InputDataError(f"{source}: effects must be a DataFrame in the effects-table format")
    missing = [c for c in EFFECT_COLUMNS if c not in effects.columns]
    if missing:
        raise InputDataError(f"{source}: required column(s) {', '.join(map(repr, missing))} missing; "
                             f"found {', '.join(map(str, effects.columns))}")
    numeric = {}
    for col in EFFECT_COLUMNS[1:]:
        numeric[col] = pd.to_numeric(effects[col], errors="coerce")
        bad = numeric[col].isna() & effects[col].notna()
        if bad.any():
            raise InputDataError(f"{source}: column '{col}' must be numeric; "
                                 f"{int(bad.sum())} value(s) are not (e.g. {effects.loc[bad, col].iloc[0]!r})")
    effects = effects.assign(**numeric)
    present = sorted(set(effects["outcome"].astype(str)))
    notes: list[str] = []
    if scenarios.hours_outcome not in present:
        raise InputDataError(f"{source}: outcome '{scenarios.hours_outcome}' (hours per week per person, "
                             f"[outcomes] hours) is not in the effects table; outcomes found: {', '.join(present)}")
    h, h_se = _outcome_curve(effects, scenarios.hours_outcome, scenarios.min_at_risk, source)
    share_outcome = scenarios.benefit_share_outcome or scenarios.self_supporting_outcome
    if share_outcome and share_outcome in present:
        s, s_se = _outcome_curve(effects, share_outcome, scenarios.min_at_risk, source)
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
    return _Curves(h, h_se, s, s_se, scenarios.end_weeks), notes


# --------------------------------------------------------------------------------------------------
# The model: effect paths → weekly budget flows → present values
# --------------------------------------------------------------------------------------------------

def _paths(obs: np.ndarray, end_weeks: int, persistence: Persistence, horizon: int) -> np.ndarray:
    """Effect per participant in weeks 1..horizon of one cohort; obs is (draws, W)."""
    w = obs.shape[-1]
    if horizon <= w:
        return obs[..., :horizon]
    end = obs[..., max(0, w - end_weeks):].mean(axis=-1, keepdims=True)
    return np.concatenate([obs, end * persistence.multipliers(horizon - w)], axis=-1)


def _calendar(per_cohort: np.ndarray, cohorts: int) -> np.ndarray:
    """Average over ``cohorts`` yearly cohorts of the same per-participant stream, in calendar weeks."""
    if cohorts == 1:
        return per_cohort
    out = np.zeros_like(per_cohort)
    horizon = per_cohort.shape[-1]
    for c in range(cohorts):  # at most 10 cohorts: a loop over cohorts, never over persons
        shift = c * WEEKS_PER_YEAR
        if shift < horizon:
            out[..., shift:] += per_cohort[..., : horizon - shift]
    return out / cohorts


def _discount(scenario: Scenario) -> np.ndarray:
    t = np.arange(1, scenario.horizon_weeks + 1, dtype=float)
    return (1.0 + scenario.discount_rate) ** (-t / WEEKS_PER_YEAR)


def _streams(h: np.ndarray, s: np.ndarray, scenario: Scenario, end_weeks: int
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Calendar-week effects and budget streams per participant of one scenario.

    ``h``/``s`` are observed curves (draws, W). Returns, each (draws, horizon) except C (horizon,):
    hours effect, self-supporting effect, benefit savings B, extra earnings E, programme costs C.
    """
    p, horizon = scenario.prices, scenario.horizon_weeks
    hh = _calendar(_paths(h, end_weeks, scenario.persistence, horizon), scenario.cohorts)
    ss = _calendar(_paths(s, end_weeks, scenario.persistence, horizon), scenario.cohorts)
    # hours of persons still on benefit are h − H·s and earn the offset; persons off benefit save
    # the whole benefit instead (their hours are in h but not in the offset)
    benefit = p.offset_per_hour * (hh - p.hours_self_supporting * ss) + p.benefit_per_week * ss
    earnings = p.hourly_wage * hh
    return hh, ss, benefit, earnings, _cost_stream(scenario)


def _cost_stream(scenario: Scenario, nominal: float | None = None) -> np.ndarray:
    horizon, q = scenario.horizon_weeks, scenario.programme
    per_cohort = np.zeros(horizon)
    weeks = min(q.cost_weeks, horizon)
    per_cohort[:weeks] = (scenario.net_cost if nominal is None else nominal) / q.cost_weeks
    return _calendar(per_cohort, scenario.cohorts)


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
                "scenario": scenario.name, "payer": payer, "week": weeks,
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
    y_max = max(after, 0) / WEEKS_PER_YEAR

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
# Result
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class CostsResult:
    """Cost scenarios evaluated on one effects table.

    Attributes
    ----------
    table
        One row per scenario and payer (the ``costs.csv`` columns, :data:`TABLE_COLUMNS`).
    flows
        Discounted weekly flows per scenario, payer and calendar week, with the cumulative net result.
    sensitivity
        One-way sensitivity of the total net result per participant: scenario, parameter, low/high
        setting and net result.
    scenarios
        The :class:`Scenarios` evaluated.
    """

    table: pd.DataFrame
    flows: pd.DataFrame
    sensitivity: pd.DataFrame
    scenarios: Scenarios
    observed_weeks: int
    draws: int
    correlation: Correlation
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_frame(self) -> pd.DataFrame:
        """The ``costs.csv`` table (a copy)."""
        return self.table.copy()

    def summary(self) -> str:
        """A plain-text table of the net result per participant by scenario and payer."""
        t = self.table
        lines = [
            f"Cost scenarios ({self.scenarios.source}); observed window: weeks 1–{self.observed_weeks}; "
            f"kr. per participant, present value",
            f"{'scenario':<10}{'payer':<14}{'benefit':>11}{'tax':>11}{'costs':>11}{'net':>11}"
            f"{'P(net>0)':>10}{'payback wk':>12}{'b-e scale':>11}",
        ]
        for row in t.itertuples():
            payback = "never" if pd.isna(row.payback_week) else f"{int(row.payback_week)}"
            lines.append(
                f"{row.scenario:<10}{row.payer:<14}{row.benefit_savings:>11,.0f}{row.tax_revenue:>11,.0f}"
                f"{row.costs:>11,.0f}{row.net_result:>11,.0f}{row.prob_net_positive:>10.2f}"
                f"{payback:>12}{row.break_even_scale:>11.2f}")
        labels = {s.name: f"{s.label} [{s.persistence}, {s.horizon_years:g} y, r = {s.discount_rate:.1%}, "
                          f"{s.cohorts} cohort(s){'' if s.include_startup else ', running costs only'}]"
                  for s in self.scenarios.scenarios}
        lines += ["", *(f"{k}: {v}" for k, v in labels.items())]
        lines.append(f"P(net>0) from {self.draws} draws of the effect curves (correlation: {self.correlation}).")
        lines += list(self.notes)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: the table, the settings and the notes."""
        def clean(v: Any) -> Any:
            if isinstance(v, float) and not math.isfinite(v):
                return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
            return v.item() if isinstance(v, np.generic) else v

        rows = [{k: clean(v) for k, v in r.items()} for r in self.table.to_dict(orient="records")]
        return {
            "source": self.scenarios.source, "observed_weeks": self.observed_weeks, "draws": self.draws,
            "correlation": self.correlation, "notes": list(self.notes), "table": rows,
            "scenarios": [{"name": s.name, "label": s.label, "persistence": str(s.persistence),
                           "horizon_years": s.horizon_years, "discount_rate": s.discount_rate,
                           "cohorts": s.cohorts, "include_startup": s.include_startup,
                           "prices": dataclasses.asdict(s.prices), "programme": dataclasses.asdict(s.programme)}
                          for s in self.scenarios.scenarios],
        }

    def _repr_html_(self) -> str:
        cols = ["scenario", "payer", "benefit_savings", "tax_revenue", "costs", "net_result",
                "prob_net_positive", "payback_week", "break_even_scale"]
        return (f"<p><b>Cost scenarios</b> ({html.escape(self.scenarios.source)}), kr. per participant, "
                f"observed weeks 1–{self.observed_weeks}</p>"
                + self.table[cols].to_html(index=False, float_format=lambda v: f"{v:,.2f}"))

    def plot(self, kind: Literal["jcurve", "bars", "tornado"] = "jcurve", *, scenario: str | None = None,
             payer: Payer = "total", ax: Any = None, lang: str = "en") -> Any:
        """Draw the J-curve (of ``payer``), the scenario bars by payer, or the tornado of ``scenario``.

        Returns the matplotlib Figure (drawn by :mod:`trialeval.plots`).

        Examples
        --------
        >>> res = costs(_example_effects(), _example_scenarios(), draws=0)
        >>> res.plot("tornado").axes[0].get_xlabel()
        'Net result per participant (kr.), scenario C'
        """
        from trialeval import plots

        if kind == "jcurve":
            return plots.cost_jcurve(self.flows, payer=payer, ax=ax, lang=lang)
        if kind == "bars":
            return plots.cost_bars(self.table, ax=ax, lang=lang)
        if kind == "tornado":
            name = scenario or self.default_tornado_scenario
            if name not in set(self.sensitivity["scenario"]):
                raise KeyError(f"no scenario named {name!r}")
            return plots.cost_tornado(self.sensitivity.loc[self.sensitivity["scenario"] == name], ax=ax, lang=lang)
        raise ValueError(f"kind must be 'jcurve', 'bars' or 'tornado'; got {kind!r}")

    @property
    def default_tornado_scenario(self) -> str:
        """Scenario shown in the tornado unless another is named: C if present, else the first."""
        names = [s.name for s in self.scenarios.scenarios]
        return "C" if "C" in names else names[0]


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
        raise TypeError("scenarios must be a Scenarios object (load_scenarios or Scenarios.from_dict)")
    if correlation not in CORRELATIONS:
        raise ValueError(f"correlation must be one of {', '.join(CORRELATIONS)}; got {correlation!r}")
    if not isinstance(draws, (int, np.integer)) or isinstance(draws, bool) or draws < 0:
        raise ValueError(f"draws must be a whole number ≥ 0; got {draws!r}")
    curves, notes = _curves(effects, scenarios, source)
    # Planned before allocating: the draws of both curves and their weekly streams up to the horizon,
    # a few float arrays of draws x weeks, must fit in half the machine's memory.
    weeks = max([curves.weeks, *(sc.horizon_weeks for sc in scenarios.scenarios)])
    need, memory = int(draws) * weeks * 8 * _DRAW_ARRAYS, physical_memory()
    if memory is not None and need > memory // 2:
        raise InputDataError(f"draws = {draws} would need about {need / 2**30:.1f} GB over {weeks} weeks, "
                             f"more than half of this machine's {memory / 2**30:.1f} GB; use fewer draws "
                             "(the default 2000 gives P(net > 0) to within about 0.01)")
    model = _Model(curves)
    generator = make_rng(rng)
    h_draws, s_draws = _draw_curves(curves, int(draws), correlation, generator)

    rows, flows, sens = [], [], []
    total = len(scenarios.scenarios)
    for i, sc in enumerate(scenarios.scenarios):
        flow = model.flows(sc)
        flows.append(flow)
        pv = model.present_values(sc)
        pv_draws = model.present_values(sc, h_draws, s_draws) if draws else None
        end_h = float(curves.h[max(0, curves.weeks - curves.end_weeks):].mean())
        end_s = float(curves.s[max(0, curves.weeks - curves.end_weeks):].mean())
        for payer in PAYERS:
            bs, tax, cost = pv[payer]
            net = bs + tax - cost
            if pv_draws is not None:
                d_bs, d_tax, d_cost = pv_draws[payer]
                prob = float(np.mean(np.asarray(d_bs) + np.asarray(d_tax) - d_cost > 0))
            else:
                prob = math.nan
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
                "prob_net_positive": prob,
                "persistence": str(sc.persistence), "horizon_years": sc.horizon_years,
                "discount_rate": sc.discount_rate, "cohorts": sc.cohorts, "include_startup": sc.include_startup,
                "programme_cost": sc.net_cost, "observed_weeks": curves.weeks,
                "end_effect_hours": end_h, "end_effect_self_supporting": end_s,
            })
        base = model.net(sc)
        for parameter, low_label, low, high_label, high in _variants(sc):
            sens.append({"scenario": sc.name, "parameter": parameter, "low": low_label, "high": high_label,
                         "net_low": model.net(low), "net_high": model.net(high), "net_base": base})
        if progress is not None:
            progress(i + 1, total)

    table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    table["payback_week"] = table["payback_week"].astype("Int64")
    sensitivity = pd.DataFrame(sens, columns=["scenario", "parameter", "low", "high",
                                              "net_low", "net_high", "net_base"])
    return CostsResult(table=table, flows=pd.concat(flows, ignore_index=True), sensitivity=sensitivity,
                       scenarios=scenarios, observed_weeks=curves.weeks, draws=int(draws),
                       correlation=correlation, notes=tuple(notes))


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


def _example_effects() -> pd.DataFrame:
    """A small effects table for examples: 1 extra hour and +1 pp self-supporting in weeks 1–8."""
    weeks = list(range(1, 9))
    return pd.DataFrame({"outcome": ["ordinary_hours"] * 8 + ["self_supporting"] * 8, "week": weeks * 2,
                         "n_treatment": 500, "n_control": 500, "effect": [1.0] * 8 + [0.01] * 8,
                         "se": [0.2] * 8 + [0.005] * 8})


def _example_scenarios() -> Scenarios:
    """Scenarios A–D with round Danish-looking prices, for examples."""
    return Scenarios.from_dict({
        "prices": {"hourly_wage": 150, "benefit_per_week": 2844, "disregard_per_hour": 28.66,
                   "tax_rate": 0.39, "municipal_tax_share": 0.52, "state_refund_rate": 0.2},
        "programme": {"startup_per_participant": 500, "running_per_participant": 2000},
    }, source="example")
