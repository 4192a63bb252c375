"""How time is counted: the periods of a trial's follow-up, their bounds, labels and length in a year.

A :class:`TimeAxis` is a frozen value. Today there is one, weeks since visitation
(:data:`WEEKS_SINCE_VISITATION`): week 1 starts on the day of visitation and every week is 7 days, so
week *k* of a person visited on day *v* covers the days ``v + 7(k − 1)`` to ``v + 7k − 1``. Other
axes (months since visitation, calendar weeks, calendar months) are added as a subclass that gives
:meth:`TimeAxis.period_bounds` and :meth:`TimeAxis.period_of`, plus one :func:`register_axis` call;
code that takes its period column, labels and periods per year from the axis then works unchanged.

Examples
--------
>>> axis = TimeAxis.from_name("weeks_since_visitation")
>>> axis is WEEKS_SINCE_VISITATION
True
>>> axis.axis_label("da"), axis.period_label(13), axis.periods_per_year
('Uger siden visitation', 'Week 13', 52)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

import numpy as np

from trialeval.exceptions import InputDataError

Language = Literal["en", "da"]
Alignment = Literal["visitation", "calendar"]

_DAY = np.timedelta64(1, "D")

#: Days in a week of a weekly *rate* (hours per week), whatever the period of the axis: on a monthly
#: axis ordinary hours are still given per week and prorated by ``overlap_days / DAYS_PER_WEEK``.
DAYS_PER_WEEK = 7


@dataclass(frozen=True)
class AxisText:
    """The words of one time axis in one language.

    Attributes
    ----------
    axis_label
        The label of a figure's time axis, e.g. ``"Weeks since visitation"``.
    unit, plural
        The period in running text: ``"week"``, ``"weeks"``.
    abbreviation
        A short form for narrow table headers, e.g. ``"wk"``.
    period
        A template for one period in a table, with ``{k}`` for its number, e.g. ``"Week {k}"``.
    """

    axis_label: str
    unit: str
    plural: str
    abbreviation: str
    period: str


@dataclass(frozen=True)
class TimeAxis:
    """How the periods of follow-up are counted (abstract; see :data:`WEEKS_SINCE_VISITATION`).

    Attributes
    ----------
    name
        Registry name, e.g. ``"weeks_since_visitation"`` (:meth:`from_name`).
    column
        Name of the period column in panels, effects and cost-flow tables, e.g. ``"week"``.
    alignment
        ``"visitation"``: period 1 starts on each person's visitation day; ``"calendar"``: periods are
        calendar weeks or months, the same for everyone.
    periods_per_year
        Periods in a year, used to turn years (persistence, horizon, discounting) into periods.
    en, da
        The labels in English and Danish (:class:`AxisText`).
    """

    name: str
    column: str
    alignment: Alignment
    periods_per_year: int
    en: AxisText
    da: AxisText

    # -- labels ------------------------------------------------------------------------------------

    def text(self, lang: str = "en") -> AxisText:
        """The words of this axis in ``lang`` (``"en"`` or ``"da"``)."""
        if lang == "en":
            return self.en
        if lang == "da":
            return self.da
        raise InputDataError(f"time axis {self.name}: unknown language {lang!r}; known languages: en, da")

    def axis_label(self, lang: str = "en") -> str:
        """Label of a figure's time axis, e.g. ``"Weeks since visitation"``."""
        return self.text(lang).axis_label

    def unit(self, lang: str = "en", *, plural: bool = False) -> str:
        """The period in running text: ``"week"`` (``plural=True``: ``"weeks"``)."""
        words = self.text(lang)
        return words.plural if plural else words.unit

    def period_label(self, k: int, lang: str = "en") -> str:
        """Short label of period ``k`` for tables, e.g. ``"Week 13"`` or ``"Uge 13"``."""
        return self.text(lang).period.format(k=k)

    # -- periods -----------------------------------------------------------------------------------

    def period_bounds(self, visitation: Any, k: Any) -> tuple[np.ndarray, np.ndarray]:
        """First and last day of period ``k`` for each visitation date (``datetime64[D]`` arrays).

        ``visitation`` and ``k`` broadcast against each other (numpy rules).
        """
        raise NotImplementedError

    def period_of(self, visitation: Any, day: Any) -> np.ndarray:
        """The period that holds ``day`` for a person visited on ``visitation`` (0 or less: before)."""
        raise NotImplementedError

    # -- registry ----------------------------------------------------------------------------------

    @staticmethod
    def from_name(name: str) -> TimeAxis:
        """The registered axis called ``name``.

        Examples
        --------
        >>> TimeAxis.from_name("weeks_since_visitation").column
        'week'
        >>> TimeAxis.from_name("fortnights")
        Traceback (most recent call last):
        ...
        trialeval.exceptions.InputDataError: unknown time axis 'fortnights'; known axes: weeks_since_visitation
        """
        try:
            return _REGISTRY[name]
        except (KeyError, TypeError):
            raise InputDataError(f"unknown time axis {name!r}; known axes: {', '.join(_REGISTRY)}") from None


@dataclass(frozen=True)
class FixedLengthAxis(TimeAxis):
    """Periods of a fixed number of days counted from each person's visitation day.

    Period ``k`` (1, 2, …) covers the days ``v + L(k − 1)`` to ``v + Lk − 1`` for visitation day ``v``
    and period length ``L`` (:attr:`period_days`); day ``v − 1`` is in period 0.

    Examples
    --------
    >>> first, last = WEEKS_SINCE_VISITATION.period_bounds(np.array(["2024-02-26"], dtype="datetime64[D]"), 1)
    >>> str(first[0]), str(last[0])
    ('2024-02-26', '2024-03-03')
    """

    period_days: int = 7

    def period_bounds(self, visitation: Any, k: Any) -> tuple[np.ndarray, np.ndarray]:
        v = np.asarray(visitation, dtype="datetime64[D]")
        k = np.asarray(k, dtype=np.int64)
        first = v + (k - 1) * self.period_days * _DAY
        return first, first + (self.period_days - 1) * _DAY

    def period_of(self, visitation: Any, day: Any) -> np.ndarray:
        elapsed = (np.asarray(day, dtype="datetime64[D]") - np.asarray(visitation, dtype="datetime64[D]")) // _DAY
        return np.floor_divide(elapsed, self.period_days) + 1


_REGISTRY: dict[str, TimeAxis] = {}

#: The registered time axes by name (read-only view; add one with :func:`register_axis`).
TIME_AXES: Mapping[str, TimeAxis] = MappingProxyType(_REGISTRY)


def register_axis(axis: TimeAxis) -> TimeAxis:
    """Make ``axis`` known to :meth:`TimeAxis.from_name`; returns it (a name is registered once)."""
    if axis.name in _REGISTRY and _REGISTRY[axis.name] != axis:
        raise ValueError(f"a different time axis named {axis.name!r} is already registered")
    _REGISTRY[axis.name] = axis
    return axis


#: Weeks since visitation: week 1 is the visitation day and the 6 days after it; 52 weeks a year.
WEEKS_SINCE_VISITATION: TimeAxis = register_axis(FixedLengthAxis(
    name="weeks_since_visitation",
    column="week",
    alignment="visitation",
    periods_per_year=52,
    en=AxisText(axis_label="Weeks since visitation", unit="week", plural="weeks", abbreviation="wk",
                period="Week {k}"),
    da=AxisText(axis_label="Uger siden visitation", unit="uge", plural="uger", abbreviation="uge",
                period="Uge {k}"),
    period_days=7,
))

__all__ = ["AxisText", "DAYS_PER_WEEK", "FixedLengthAxis", "TIME_AXES", "TimeAxis", "WEEKS_SINCE_VISITATION", "register_axis"]
