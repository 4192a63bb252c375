"""How time is counted: the periods of a trial's follow-up, their bounds, labels and length in a year.

A :class:`TimeAxis` is a frozen value. Weeks since visitation (:data:`WEEKS_SINCE_VISITATION`, the
default): week 1 starts on the day of visitation and every week is 7 days, so week *k* of a person visited
on day *v* covers the days ``v + 7(k − 1)`` to ``v + 7k − 1``. Months since visitation
(:data:`MONTHS_SINCE_VISITATION`): month *m* covers ``v + (m − 1) months`` to ``v + m months − 1 day``.
Calendar weeks (ISO, Monday–Sunday) and calendar months (:data:`CALENDAR_WEEK`, :data:`CALENDAR_MONTH`)
are the same for everyone. Another axis is a subclass that gives :meth:`TimeAxis.period_bounds` and
:meth:`TimeAxis.period_of`, plus one :func:`register_axis` call.

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
        trialeval.exceptions.InputDataError: unknown time axis 'fortnights'; known axes: weeks_since_visitation, months_since_visitation, calendar_week, calendar_month
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


def _month_index(day: np.ndarray) -> np.ndarray:
    """Months since January 1970 of each day."""
    return day.astype("datetime64[M]").astype(np.int64)


def add_months(day: Any, months: Any) -> np.ndarray:
    """``day`` plus ``months`` calendar months, clamped to the last day of a shorter month.

    Examples
    --------
    >>> [str(d) for d in add_months(np.array(["2016-01-31", "2015-01-31", "2016-03-31"], dtype="datetime64[D]"), 1)]
    ['2016-02-29', '2015-02-28', '2016-04-30']
    """
    d = np.asarray(day, dtype="datetime64[D]")
    month = d.astype("datetime64[M]") + np.asarray(months, dtype=np.int64)
    day_of_month = (d - d.astype("datetime64[M]").astype("datetime64[D]")) // _DAY
    length = ((month + 1).astype("datetime64[D]") - month.astype("datetime64[D]")) // _DAY
    return month.astype("datetime64[D]") + np.minimum(day_of_month, length - 1) * _DAY


@dataclass(frozen=True)
class MonthsSinceVisitationAxis(TimeAxis):
    """Months counted from each person's visitation day: month ``m`` covers the days
    ``v + (m − 1) months`` to ``v + m months − 1 day``, month arithmetic clamping to the last day of a
    shorter month (visited on 31 January, month 2 starts on the last day of February).

    Examples
    --------
    >>> v = np.array(["2016-01-31"], dtype="datetime64[D]")
    >>> [(str(a[0]), str(b[0])) for a, b in (MONTHS_SINCE_VISITATION.period_bounds(v, m) for m in (1, 2, 3))]
    [('2016-01-31', '2016-02-28'), ('2016-02-29', '2016-03-30'), ('2016-03-31', '2016-04-29')]
    """

    def period_bounds(self, visitation: Any, k: Any) -> tuple[np.ndarray, np.ndarray]:
        v = np.asarray(visitation, dtype="datetime64[D]")
        k = np.asarray(k, dtype=np.int64)
        return add_months(v, k - 1), add_months(v, k) - _DAY

    def period_of(self, visitation: Any, day: Any) -> np.ndarray:
        v = np.asarray(visitation, dtype="datetime64[D]")
        d = np.asarray(day, dtype="datetime64[D]")
        k = _month_index(d) - _month_index(v) + 1
        return np.where(d < add_months(v, k - 1), k - 1, k)


@dataclass(frozen=True)
class CalendarAxis(TimeAxis):
    """Calendar periods, the same for everyone: ISO weeks (Monday–Sunday) or calendar months.

    A period is numbered ``year · 100 + week`` (ISO year and week: 201643 is ``2016-W43``) or
    ``year · 100 + month`` (201603 is ``2016-03``), so numbers sort in time; :meth:`period_label` writes
    them as ``2016-W43`` and ``2016-03``.

    Examples
    --------
    >>> CALENDAR_WEEK.period_of(None, np.array(["2016-01-03", "2016-01-04", "2020-12-31"], dtype="datetime64[D]")).tolist()
    [201553, 201601, 202053]
    >>> [str(d[0]) for d in CALENDAR_WEEK.period_bounds(None, np.array([201553]))]
    ['2015-12-28', '2016-01-03']
    >>> CALENDAR_MONTH.period_label(201602), [str(d[0]) for d in CALENDAR_MONTH.period_bounds(None, np.array([201602]))]
    ('2016-02', ['2016-02-01', '2016-02-29'])
    """

    unit_of_time: Literal["week", "month"] = "week"

    def period_label(self, k: int, lang: str = "en") -> str:
        year, number = divmod(int(k), 100)
        return f"{year}-W{number:02d}" if self.unit_of_time == "week" else f"{year}-{number:02d}"

    def period_bounds(self, visitation: Any, k: Any) -> tuple[np.ndarray, np.ndarray]:
        year, number = np.divmod(np.asarray(k, dtype=np.int64), 100)
        if self.unit_of_time == "month":
            first = ((year - 1970) * 12 + number - 1).astype("datetime64[M]").astype("datetime64[D]")
            return first, add_months(first, 1) - _DAY
        # the Monday of ISO week 1 is the Monday of the week holding 4 January
        jan4 = (year - 1970).astype("datetime64[Y]").astype("datetime64[D]") + 3 * _DAY
        monday1 = jan4 - ((jan4.astype(np.int64) + 3) % 7) * _DAY       # 1970-01-01 was a Thursday
        first = monday1 + (number - 1) * 7 * _DAY
        return first, first + 6 * _DAY

    def period_of(self, visitation: Any, day: Any) -> np.ndarray:
        d = np.asarray(day, dtype="datetime64[D]")
        if self.unit_of_time == "month":
            m = _month_index(d)
            return (m // 12 + 1970) * 100 + m % 12 + 1
        thursday = d + (3 - (d.astype(np.int64) + 3) % 7) * _DAY         # the ISO year is the Thursday's year
        year = thursday.astype("datetime64[Y]").astype(np.int64) + 1970
        week = (thursday - thursday.astype("datetime64[Y]").astype("datetime64[D]")) // _DAY // 7 + 1
        return year * 100 + week


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

#: Months since visitation: month 1 starts on the visitation day; 12 months a year.
MONTHS_SINCE_VISITATION: TimeAxis = register_axis(MonthsSinceVisitationAxis(
    name="months_since_visitation", column="month", alignment="visitation", periods_per_year=12,
    en=AxisText(axis_label="Months since visitation", unit="month", plural="months", abbreviation="mo",
                period="Month {k}"),
    da=AxisText(axis_label="Måneder siden visitation", unit="måned", plural="måneder", abbreviation="md.",
                period="Måned {k}"),
))
#: ISO calendar weeks (Monday–Sunday), the same for everyone: ``2016-W43``.
CALENDAR_WEEK: TimeAxis = register_axis(CalendarAxis(
    name="calendar_week", column="calendar_week", alignment="calendar", periods_per_year=52,
    en=AxisText(axis_label="Calendar week", unit="week", plural="weeks", abbreviation="wk", period="{k}"),
    da=AxisText(axis_label="Kalenderuge", unit="uge", plural="uger", abbreviation="uge", period="{k}"),
    unit_of_time="week",
))
#: Calendar months, the same for everyone: ``2016-03``.
CALENDAR_MONTH: TimeAxis = register_axis(CalendarAxis(
    name="calendar_month", column="calendar_month", alignment="calendar", periods_per_year=12,
    en=AxisText(axis_label="Month", unit="month", plural="months", abbreviation="mo", period="{k}"),
    da=AxisText(axis_label="Måned", unit="måned", plural="måneder", abbreviation="md.", period="{k}"),
    unit_of_time="month",
))

def axis_of_columns(columns: Any) -> TimeAxis:
    """The time axis of a long table from its period column: ``week`` (weeks since visitation) when it has
    one, else the one column among ``month``, ``calendar_week``, ``calendar_month`` it has (weeks since
    visitation when it has none, so that the missing ``week`` column is what an error names).

    Examples
    --------
    >>> axis_of_columns(["person_id", "arm", "month", "y"]).name
    'months_since_visitation'
    >>> axis_of_columns(["person_id", "arm", "week", "month"]).name
    'weeks_since_visitation'
    """
    names = set(columns)
    if WEEKS_SINCE_VISITATION.column in names:
        return WEEKS_SINCE_VISITATION
    found = [axis for axis in _REGISTRY.values() if axis.column in names]
    if len(found) > 1:
        raise InputDataError(f"the table has the period columns {', '.join(a.column for a in found)}; a panel "
                             "has one period column (week, month, calendar_week or calendar_month)")
    return found[0] if found else WEEKS_SINCE_VISITATION


__all__ = ["AxisText", "CALENDAR_MONTH", "CALENDAR_WEEK", "CalendarAxis", "DAYS_PER_WEEK", "FixedLengthAxis",
           "MONTHS_SINCE_VISITATION", "MonthsSinceVisitationAxis", "TIME_AXES", "TimeAxis", "WEEKS_SINCE_VISITATION",
           "add_months", "axis_of_columns", "register_axis"]
