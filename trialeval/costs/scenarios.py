"""The scenario file ``costs.toml``: prices, programme costs, the scenarios and their validation.

:func:`load_scenarios` reads and checks a file; :meth:`Scenarios.from_dict` checks the same schema
given as a dict. Every problem is a :class:`~trialeval.exceptions.ScenarioError` naming the file, the
section and the key. Without ``default_scenarios = false`` the four scenarios A–D of
:data:`DEFAULT_SCENARIOS` come first.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trialeval.config import read_toml
from trialeval.costs.model import MAX_HORIZON_YEARS, Persistence, is_number
from trialeval.exceptions import ConfigError, ScenarioError
from trialeval.timeaxis import WEEKS_SINCE_VISITATION, TimeAxis


class UnknownScenarioError(ScenarioError, KeyError):
    """``scenarios[name]`` for a name the file does not define (a :class:`KeyError` too, as for a dict)."""

    __str__ = Exception.__str__   # the message as written, not KeyError's quoted repr


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
    axis: TimeAxis = WEEKS_SINCE_VISITATION

    @property
    def horizon_weeks(self) -> int:
        """The horizon in periods of :attr:`axis` (weeks since visitation unless another axis is given)."""
        return max(1, int(round(self.axis.periods_per_year * self.horizon_years)))

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
    axis: TimeAxis = WEEKS_SINCE_VISITATION

    def __getitem__(self, name: str) -> Scenario:
        for s in self.scenarios:
            if s.name == name:
                return s
        raise UnknownScenarioError(f"{self.source}: no scenario named {name!r}; scenarios: "
                                   f"{', '.join(s.name for s in self.scenarios)}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "costs.toml", *,
                  axis: TimeAxis = WEEKS_SINCE_VISITATION) -> Scenarios:
        """Validate a dict with the schema of ``costs.toml``; periods are counted on ``axis``."""
        return _parse_scenarios(data, source, axis)



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
    "cost_weeks": (_INT, 1, WEEKS_SINCE_VISITATION.periods_per_year * MAX_HORIZON_YEARS, False, False),
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


def _check_value(value: Any, spec: _Spec, where: str) -> Any:
    kind, low, high, low_open, _ = spec
    if kind == _PERSIST:
        return Persistence.parse(value, where)
    ok = {_NUMBER: is_number(value), _INT: isinstance(value, int) and not isinstance(value, bool),
          _STR: isinstance(value, str), _BOOL: isinstance(value, bool)}[kind]
    if not ok:
        article = "an" if kind[0] in "aeiou" else "a"
        raise ScenarioError(f"{where} must be {article} {kind}; got {type(value).__name__} {value!r}")
    if kind in (_NUMBER, _INT):
        if not math.isfinite(value):
            raise ScenarioError(f"{where} must be finite; got {value!r}")
        too_low = low is not None and (value <= low if low_open else value < low)
        too_high = high is not None and value > high
        if too_low or too_high:
            lo = "-inf" if low is None else f"{low:g}"
            hi = "inf" if high is None else f"{high:g}"
            interval = f"{'(' if low_open else '['}{lo}, {hi}{']' if high is not None else ')'}"
            raise ScenarioError(f"{where} must be in {interval}; got {value!r}")
    return value


def _check_table(body: Any, keys: Mapping[str, _Spec], source: str, section: str) -> dict[str, Any]:
    """Check one table; ``section`` is how the file names it, e.g. ``[prices]``."""
    if not isinstance(body, Mapping):
        raise ScenarioError(f"{source}: {section} must be a table")
    out: dict[str, Any] = {}
    for key, value in body.items():
        if key not in keys:
            raise ScenarioError(f"{source}: unknown key '{key}' in {section}; allowed: {', '.join(keys)}")
        out[key] = _check_value(value, keys[key], f"{source}: {section} {key}")
    return out


def _require(values: Mapping[str, Any], keys: Mapping[str, _Spec], source: str, section: str) -> None:
    missing = [k for k, spec in keys.items() if spec[4] and k not in values]
    if missing:
        raise ScenarioError(f"{source}: {section} is missing required key(s) {', '.join(missing)}")


def _parse_scenarios(data: Mapping[str, Any], source: str, axis: TimeAxis = WEEKS_SINCE_VISITATION
                     ) -> Scenarios:
    for section in data:
        if section not in _SECTIONS:
            raise ScenarioError(f"{source}: unknown section [{section}]; allowed: {', '.join(_SECTIONS)}")
    prices = _check_table(data.get("prices", {}), _PRICE_KEYS, source, "[prices]")
    _require(prices, _PRICE_KEYS, source, "[prices]")
    programme = _check_table(data.get("programme", {}), _PROGRAMME_KEYS, source, "[programme]")
    _require(programme, _PROGRAMME_KEYS, source, "[programme]")
    outcomes = _check_table(data.get("outcomes", {}), _OUTCOME_KEYS, source, "[outcomes]")
    settings = _check_table(data.get("settings", {}), _SETTINGS_KEYS, source, "[settings]")
    if outcomes.get("self_supporting") and outcomes.get("benefit_share"):
        raise ScenarioError(f"{source}: [outcomes] give either self_supporting or benefit_share, not both")

    raw = data.get("scenario", [])
    if not isinstance(raw, list):
        raise ScenarioError(f"{source}: scenarios are written as [[scenario]] tables (an array of tables)")
    user: list[dict[str, Any]] = []
    for i, body in enumerate(raw, start=1):
        name = body.get("name") if isinstance(body, Mapping) else None
        section = f"[[scenario]] #{i}" + (f" ({name!r})" if isinstance(name, str) else "")
        values = _check_table(body, _SCENARIO_KEYS, source, section)
        _require(values, _SCENARIO_KEYS, source, section)
        if not values["name"].strip():
            raise ScenarioError(f"{source}: {section} name must not be empty")
        user.append(values)
    names = [u["name"] for u in user]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ScenarioError(f"{source}: scenario name(s) {', '.join(dup)} appear more than once")

    base_prices = Prices(**prices)
    base_programme = Programme(**programme)
    specs: list[dict[str, Any]] = []
    if settings.get("default_scenarios", True):
        specs += [dict(d) for d in DEFAULT_SCENARIOS if d["name"] not in names]
    specs += user
    if not specs:
        raise ScenarioError(f"{source}: no scenarios: default_scenarios = false and no [[scenario]] given")

    built = []
    for spec in specs:
        horizon = float(spec.get("horizon_years", settings.get("horizon_years", MAX_HORIZON_YEARS)))
        cohorts = int(spec.get("cohorts", 1))
        if spec.get("name") == "D" and spec not in user:
            cohorts = max(1, min(cohorts, int(horizon)))  # default D: at most one cohort per horizon year
        per_year = axis.periods_per_year
        if (cohorts - 1) * per_year >= round(horizon * per_year):
            raise ScenarioError(f"{source}: scenario {spec['name']!r}: cohorts = {cohorts} start after the "
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
            axis=axis,
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
        axis=axis,
    )


def load_scenarios(path: str | Path, *, axis: TimeAxis = WEEKS_SINCE_VISITATION) -> Scenarios:
    """Read and validate a ``costs.toml`` (schema: ``docs/costs.md``).

    Unknown sections and keys, wrong types and values out of range are a :class:`ScenarioError` naming
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
    try:
        data = read_toml(path, "scenario")
    except ScenarioError:
        raise
    except ConfigError as error:   # missing file or bad TOML: the same message, as a scenario error
        raise ScenarioError(str(error)) from None
    return Scenarios.from_dict(data, source=str(path), axis=axis)



def _example_scenarios() -> Scenarios:
    """Scenarios A–D with round Danish-looking prices, for examples."""
    return Scenarios.from_dict({
        "prices": {"hourly_wage": 150, "benefit_per_week": 2844, "disregard_per_hour": 28.66,
                   "tax_rate": 0.39, "municipal_tax_share": 0.52, "state_refund_rate": 0.2},
        "programme": {"startup_per_participant": 500, "running_per_participant": 2000},
    }, source="example")
