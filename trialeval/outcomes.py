"""Declared outcomes: indicators a trial defines in its config (``[outcomes]``) from the built-in ones.

Evaluations count more than the built-in indicators: a composite ("internship, wage subsidy, ordinary
hours, flex job or ordinary education"), "ever by week k", employment with no benefit, or the 225-hour
rule (at least 225 ordinary hours in the last 52 weeks). Each is one table of ``trial.toml``::

    [outcomes.company_or_education]
    any_of = ["company_directed", "education"]     # outcomes or spell types
    label_en = "Company-directed activity or education"
    label_da = "Virksomhedsrettet forløb eller uddannelse"

    [outcomes.ever_company_directed]
    ever = "company_directed"

    [outcomes.hours_225]
    rolling_sum = "ordinary_hours"
    window = 52
    at_least = 225

    [outcomes.employed_no_benefit]
    all_of = ["has_ordinary_hours"]
    none_of = ["benefit"]

A declared outcome is an indicator (0/1) per person and week, computed by the panel as the built-in ones
are (so it is a panel column and flows into the effects, figures and report), in the order declared, so
it may use any built-in outcome, any spell type and any outcome declared before it:

- ``any_of``/``all_of``/``none_of``: at least one of ``any_of`` holds (when given), all of ``all_of`` hold
  and none of ``none_of`` holds that week. A spell type stands for "a spell of that type covers the
  week" (ordinary hours: any hours that week).
- ``ever``: the indicator has held in some week from week 1 up to this one; 0 in weeks before week 1.
- ``rolling_sum`` with ``window_weeks`` (or ``window``) and ``at_least``: the sum over this week and the ``window - 1`` weeks
  before it reaches ``at_least``. The sum is of ordinary hours (``ordinary_hours``) or of weeks with an
  indicator; the weeks before visitation are read from the spells as far as the window reaches (weeks
  before the register extract starts count as none).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from trialeval.exceptions import ConfigError

#: Spell types by their name in a declared outcome and the built-in indicator that says "covers the week".
SPELL_INDICATORS = {"internship": "in_internship", "wage_subsidy": "in_wage_subsidy",
                    "ordinary_hours": "has_ordinary_hours"}
#: Hours, the one quantity a rolling sum may add besides indicators.
HOURS = "ordinary_hours"
#: Rounding slack of a rolling sum of pro-rata hours compared with its threshold.
SUM_TOLERANCE = 1e-9

_KEYS = {"any_of", "all_of", "none_of", "ever", "rolling_sum", "window", "window_weeks", "at_least", "label_en", "label_da",
         "unit"}


@dataclass(frozen=True)
class DeclaredOutcome:
    """One declared outcome: its name, rule, operands and labels.

    Examples
    --------
    >>> o = DeclaredOutcome.from_table("hours_225", {"rolling_sum": "ordinary_hours", "window": 52,
    ...                                              "at_least": 225}, "trial.toml")
    >>> o.kind, o.operands, o.lookback
    ('rolling_sum', ('ordinary_hours',), 51)
    """

    name: str
    kind: str                       # "combine", "ever" or "rolling_sum"
    any_of: tuple[str, ...] = ()
    all_of: tuple[str, ...] = ()
    none_of: tuple[str, ...] = ()
    source: str = ""                # the operand of "ever" and "rolling_sum"
    window: int = 0
    at_least: float = 0.0
    label_en: str = ""
    label_da: str = ""
    unit: str = "share"

    @property
    def operands(self) -> tuple[str, ...]:
        """Every outcome or spell type the rule reads."""
        return (*self.any_of, *self.all_of, *self.none_of) if self.kind == "combine" else (self.source,)

    @property
    def lookback(self) -> int:
        """Weeks before the first panel week the rule reads (a rolling window's weeks before week 1)."""
        return self.window - 1 if self.kind == "rolling_sum" else 0

    def label(self, lang: str) -> str:
        """The label in ``lang`` (``en`` or ``da``); the other language's, then the name, when not given."""
        first, second = (self.label_da, self.label_en) if lang == "da" else (self.label_en, self.label_da)
        return first or second or self.name

    @classmethod
    def from_table(cls, name: str, table: Mapping[str, object], source: str) -> DeclaredOutcome:
        """Read ``[outcomes.<name>]``; a :class:`ConfigError` names the table and what is wrong."""
        where = f"{source}: [outcomes.{name}]"
        if not isinstance(table, Mapping):
            raise ConfigError(f"{where} must be a table with any_of, all_of, none_of, ever or rolling_sum")
        unknown = sorted(set(table) - _KEYS)
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_KEYS))}")
        label_en, label_da = (_text(table, k, where) if k in table else "" for k in ("label_en", "label_da"))
        unit = _text(table, "unit", where) if "unit" in table else "share"
        rules = [k for k in ("ever", "rolling_sum") if k in table]
        combine = [k for k in ("any_of", "all_of", "none_of") if k in table]
        if len(rules) + bool(combine) != 1:
            raise ConfigError(f"{where}: give exactly one rule: any_of/all_of/none_of, ever, or rolling_sum")
        if combine:
            if {"window", "window_weeks", "at_least"} & set(table):
                raise ConfigError(f"{where}: window and at_least belong to a rolling_sum")
            lists = {k: _names(table, k, where) for k in combine}
            return cls(name, "combine", any_of=lists.get("any_of", ()), all_of=lists.get("all_of", ()),
                       none_of=lists.get("none_of", ()), label_en=label_en, label_da=label_da, unit=unit)
        operand = _text(table, rules[0], where)
        if rules[0] == "ever":
            if {"window", "window_weeks", "at_least"} & set(table):
                raise ConfigError(f"{where}: window and at_least belong to a rolling_sum")
            return cls(name, "ever", source=operand, label_en=label_en, label_da=label_da, unit=unit)
        if "window" in table and "window_weeks" in table:
            raise ConfigError(f"{where}: give the window once, as window_weeks (window is the same)")
        window, at_least = table.get("window_weeks", table.get("window")), table.get("at_least")
        if not isinstance(window, int) or isinstance(window, bool) or not 1 <= window <= 520:
            raise ConfigError(f"{where}: window must be a whole number of weeks from 1 to 520; got {window!r}")
        if not isinstance(at_least, (int, float)) or isinstance(at_least, bool) or not at_least > 0:
            raise ConfigError(f"{where}: at_least must be a number above 0 (the threshold); got {at_least!r}")
        return cls(name, "rolling_sum", source=operand, window=window, at_least=float(at_least), label_en=label_en,
                   label_da=label_da, unit=unit)


def _text(table: Mapping[str, object], key: str, where: str) -> str:
    value = table[key]
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: {key} must be a text; got {value!r}")
    return value.strip()


def _names(table: Mapping[str, object], key: str, where: str) -> tuple[str, ...]:
    value = table[key]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{where}: {key} must be a non-empty list of outcome or spell type names")
    return tuple(v.strip() for v in value)


def parse_outcomes(table: Mapping[str, object], source: str) -> tuple[DeclaredOutcome, ...]:
    """The ``[outcomes]`` section: one :class:`DeclaredOutcome` per sub-table, in the order declared."""
    declared = tuple(DeclaredOutcome.from_table(name, body, source)  # type: ignore[arg-type]
                     for name, body in table.items())
    for o in declared:
        if not o.name.isidentifier():
            raise ConfigError(f"{source}: [outcomes.{o.name}]: an outcome name must be a column name "
                              "(letters, digits and _)")
    return declared


def check_declared(declared: Sequence[DeclaredOutcome], outcomes: Sequence[str], spell_types: Sequence[str],
                   source: str = "[outcomes]") -> None:
    """Stop unless each declared outcome reads only outcomes of the panel, spell types and outcomes declared
    before it, and its name is new."""
    known = set(outcomes)
    for o in declared:
        if o.name in known or o.name in spell_types:
            raise ConfigError(f"{source}: outcome {o.name!r} is already an outcome or spell type of the panel; "
                              "give it another name")
        readable = known | set(spell_types)
        missing = [n for n in o.operands if n not in readable]
        if missing:
            raise ConfigError(
                f"{source}: outcome {o.name!r} reads {', '.join(map(repr, missing))}, which is neither an outcome "
                f"of the panel, a spell type nor an outcome declared before it (known: {', '.join(sorted(readable))})")
        if o.kind == "rolling_sum" and o.source != HOURS and o.source not in known:
            raise ConfigError(f"{source}: outcome {o.name!r}: a rolling sum adds {HOURS} or an indicator outcome; "
                              f"got {o.source!r}")
        known.add(o.name)


def combine(o: DeclaredOutcome, fetch: Callable[[str], np.ndarray]) -> np.ndarray:
    """At least one of ``any_of`` (when given), all of ``all_of`` and none of ``none_of``, week by week;
    ``fetch(name)`` gives an operand's dense ``persons x weeks`` indicator."""
    parts = [np.logical_or.reduce([fetch(n) for n in o.any_of])] if o.any_of else []
    parts += [fetch(n) for n in o.all_of]
    if o.none_of:
        parts.append(~np.logical_or.reduce([fetch(n) for n in o.none_of]))
    return np.ascontiguousarray(np.logical_and.reduce(parts), dtype=bool)


def ever(active: np.ndarray, week_one: int) -> np.ndarray:
    """Held in some week from ``week_one`` (week 1's index) up to this one; False before week 1."""
    out = np.zeros(active.shape, dtype=bool)
    if week_one < active.shape[1]:
        out[:, week_one:] = np.logical_or.accumulate(active[:, week_one:], axis=1)
    return out


def rolling_at_least(values: np.ndarray, window: int, at_least: float) -> np.ndarray:
    """The sum of this week's and the ``window - 1`` previous weeks' ``values`` reaches ``at_least``."""
    total = np.cumsum(values, axis=1, dtype=np.float64)
    if window < values.shape[1]:
        total[:, window:] -= total[:, :-window].copy()
    return total >= at_least - SUM_TOLERANCE
