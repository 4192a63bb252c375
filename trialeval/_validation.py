"""Checks of options and settings, with one message shape: ``<where> <name> must be <rule>; got <value>``.

``where`` says whose option it is (``--weeks`` of a command, ``trial.toml: [analysis]``), so every
message names the setting, the rule and the value given, e.g.
``trial.toml: [analysis] weeks must be from 1 to 1040; got 0``.

Examples
--------
>>> check_int("min_cell", 5, 0)
5
>>> check_int("min_cell", -1, 0, where="effects:")
Traceback (most recent call last):
...
trialeval._validation.OptionError: effects: min_cell must be a whole number >= 0; got -1
>>> check_choice("lang", "fr", ("en", "da"))
Traceback (most recent call last):
...
trialeval._validation.OptionError: lang must be one of en, da; got 'fr'
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np

from trialeval.exceptions import InputDataError, TrialevalError


class OptionError(InputDataError):
    """An option or setting breaks its rule; ``option`` names the command-line option when there is one."""

    def __init__(self, message: str, option: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.option = option


def option_error(name: str, rule: str, value: Any, *, where: str = "",
                 error: type[TrialevalError] = OptionError) -> TrialevalError:
    """The one message shape: ``<where> <name> must be <rule>; got <value>``."""
    prefix = f"{where} " if where else ""
    return error(f"{prefix}{name} must be {rule}; got {value}")


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_int(name: str, value: Any, low: int | None = None, high: int | None = None, *, where: str = "",
              rule: str | None = None, error: type[TrialevalError] = OptionError) -> int:
    """A whole number in ``[low, high]`` (either bound may be open); returns it as ``int``.

    ``rule`` replaces the default wording of the rule (``from 1 to 1040``, ``a whole number >= 0``).
    """
    ok = _is_int(value) and (low is None or value >= low) and (high is None or value <= high)
    if not ok:
        if rule is None:
            rule = (f"from {low} to {high}" if low is not None and high is not None
                    else f"a whole number >= {low}" if low is not None
                    else f"a whole number <= {high}" if high is not None else "a whole number")
        raise option_error(name, rule, value if _is_int(value) else repr(value), where=where, error=error)
    return int(value)


def check_open_interval(name: str, value: Any, low: float, high: float, *, where: str = "",
                        error: type[TrialevalError] = OptionError) -> float:
    """A number strictly between ``low`` and ``high``.

    Examples
    --------
    >>> check_open_interval("alpha", 0.05, 0, 1)
    0.05
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not (
            low < value < high):
        raise option_error(name, f"in ({low}, {high})", value, where=where, error=error)
    return float(value)


def check_choice(name: str, value: Any, choices: Collection[Any], *, where: str = "",
                 error: type[TrialevalError] = OptionError) -> Any:
    """One of ``choices``."""
    if value not in choices:
        raise option_error(name, "one of " + ", ".join(str(c) for c in choices), repr(value), where=where,
                           error=error)
    return value


def check_option(name: str, value: Any, ok: bool, rule: str, *, where: str = "",
                 error: type[TrialevalError] = OptionError) -> Any:
    """Any other rule: ``ok`` says whether ``value`` meets ``rule`` (worded as after "must be")."""
    if not ok:
        raise option_error(name, rule, value, where=where, error=error)
    return value
