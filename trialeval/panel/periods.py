"""The panel's window on its time axis: which periods are built, and which of them each person is observed in.

On an axis aligned on visitation (weeks or months since visitation) the window is periods ``1 - pre`` to
``last`` of each person, counted from the person's visitation day. On a calendar axis (ISO weeks, calendar
months) it is the calendar periods ``period_from`` to ``period_to``, the same for everyone: the kernel then
counts every person's periods from the first day of ``period_from`` (its *anchor*), and the panel writes
each period as its calendar number (``201643`` for ``2016-W43``, ``201603`` for ``2016-03``).

A period is observed when its last day is on or before the person's last observed day (the extraction
date, or an earlier ``followup_end``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from trialeval.exceptions import InputDataError
from trialeval.timeaxis import (CALENDAR_MONTH, CALENDAR_WEEK, MONTHS_SINCE_VISITATION, WEEKS_SINCE_VISITATION,
                                CalendarAxis, TimeAxis, add_months)

#: Most days of a period ``min_days`` may ask for: a week's 7, or the 28 days of the shortest month.
MAX_MIN_DAYS = {WEEKS_SINCE_VISITATION.name: 7, CALENDAR_WEEK.name: 7, MONTHS_SINCE_VISITATION.name: 28,
                CALENDAR_MONTH.name: 28}

_WEEK_LABEL = re.compile(r"^(\d{4})-W(\d{2})$")
_MONTH_LABEL = re.compile(r"^(\d{4})-(\d{2})$")


def panel_axis(axis: TimeAxis | str) -> TimeAxis:
    """The panel's time axis: a :class:`~trialeval.timeaxis.TimeAxis` or its name (one of the four built in)."""
    resolved = TimeAxis.from_name(axis) if isinstance(axis, str) else axis
    if resolved.name not in MAX_MIN_DAYS or TimeAxis.from_name(resolved.name) != resolved:
        raise InputDataError(f"time axis {resolved.name!r} is not supported by the panel; it builds "
                             f"{', '.join(MAX_MIN_DAYS)}")
    return resolved


def parse_period(axis: TimeAxis, value: Any, name: str) -> int:
    """A calendar period given as ``2016-W43`` / ``2016-10`` (or its number ``201643``) as its number.

    Examples
    --------
    >>> parse_period(CALENDAR_WEEK, "2020-W53", "period_from"), parse_period(CALENDAR_MONTH, "2016-02", "to")
    (202053, 201602)
    >>> parse_period(CALENDAR_WEEK, "2019-W53", "period_to")
    Traceback (most recent call last):
    ...
    trialeval.exceptions.InputDataError: period_to: 2019-W53 is not a calendar week (ISO weeks look like 2016-W43; the year 2019 has no week 53)
    """
    assert isinstance(axis, CalendarAxis)
    weekly = axis.unit_of_time == "week"
    example, pattern = ("2016-W43", _WEEK_LABEL) if weekly else ("2016-10", _MONTH_LABEL)
    kind = "calendar week (ISO weeks look like" if weekly else "calendar month (months look like"
    text = str(value).strip()
    match = pattern.match(text)
    if match is None and re.fullmatch(r"\d{6}", text):
        match = re.match(r"^(\d{4})(\d{2})$", text)
    if match is None:
        raise InputDataError(f"{name}: {value!r} is not a {kind} {example})")
    year, number = int(match.group(1)), int(match.group(2))
    period = year * 100 + number
    first = axis.period_bounds(None, np.array([period]))[0]
    if number < 1 or int(axis.period_of(None, first)[0]) != period:
        why = f"the year {year} has no week {number}" if weekly and number == 53 else "no such period"
        raise InputDataError(f"{name}: {text} is not a {kind} {example}; {why})")
    return period


@dataclass(frozen=True)
class PanelWindow:
    """The periods a panel is built for and where each person's observation ends.

    Attributes
    ----------
    axis
        The time axis.
    k_min, last
        First and last period of the window, counted from each person's day ``v`` (1 is the period that
        starts on ``v``); on a calendar axis, 1 is ``period_from``.
    v
        Per person the day periods are counted from (int32 day numbers): the visitation day, or on a calendar
        axis the first day of ``period_from`` for everyone.
    last_observed
        Per person the last observed period (``k_min - 1`` when none is).
    months
        Periods are months (of unequal length) rather than weeks.
    values
        The period numbers written to the panel for periods ``k_min .. last``.
    labels
        ``period_from`` and ``period_to`` as labels on a calendar axis (else None), for the settings.
    """

    axis: TimeAxis
    k_min: int
    last: int
    v: np.ndarray
    last_observed: np.ndarray
    months: bool
    values: np.ndarray
    labels: tuple[str, str] | None = None

    @property
    def n_periods(self) -> int:
        return self.last - self.k_min + 1


def panel_window(axis: TimeAxis, v: np.ndarray, limit: np.ndarray, *, k_min: int, last: int,
                 period_from: Any = None, period_to: Any = None) -> PanelWindow:
    """The window of a panel on ``axis`` for persons visited on days ``v`` and observed up to days ``limit``.

    On an axis aligned on visitation the window is periods ``k_min .. last``. On a calendar axis it is
    ``period_from .. period_to``: by default from the period holding the earliest visitation to the last
    period that ends by the latest ``limit`` (``k_min`` and ``last`` are not used there).
    """
    months = axis.name in (MONTHS_SINCE_VISITATION.name, CALENDAR_MONTH.name)
    if not isinstance(axis, CalendarAxis):
        if period_from is not None or period_to is not None:
            raise InputDataError(f"period_from and period_to are calendar periods; the time axis {axis.name} "
                                 f"counts periods since visitation (use weeks and pre_weeks)")
        return PanelWindow(axis, k_min, last, v, _last_complete(months, v, limit, k_min, last), months,
                           np.arange(k_min, last + 1, dtype=np.int64))
    days = np.asarray(v, dtype=np.int64)
    first = (parse_period(axis, period_from, "period_from") if period_from is not None
             else int(axis.period_of(None, np.datetime64(int(days.min(initial=0)), "D"))))
    anchor = axis.period_bounds(None, np.array([first]))[0][0]
    everyone = np.full(len(days), anchor.astype(np.int64), dtype=np.int32)
    if period_to is not None:
        to = parse_period(axis, period_to, "period_to")
        if to < first:
            raise InputDataError(f"period_to {axis.period_label(to)} is before period_from "
                                 f"{axis.period_label(first)}")
        n = _ordinal(months, anchor, axis.period_bounds(None, np.array([to]))[0][0])
    else:
        end = np.datetime64(int(np.max(limit, initial=int(anchor.astype(np.int64)))), "D")
        n = max(1, _ordinal(months, anchor, end + np.timedelta64(1, "D")) - 1)
    starts = (add_months(anchor, np.arange(n)) if months else anchor + 7 * np.arange(n) * np.timedelta64(1, "D"))
    values = axis.period_of(None, starts).astype(np.int64)
    return PanelWindow(axis, 1, n, everyone, _last_complete(months, everyone, limit, 1, n), months, values,
                       (axis.period_label(int(values[0])), axis.period_label(int(values[-1]))))


def _ordinal(months: bool, anchor: np.datetime64, day: np.datetime64) -> int:
    """The period (1 for the one starting on ``anchor``) that holds ``day``."""
    if months:
        return int(MONTHS_SINCE_VISITATION.period_of(anchor, day))
    return int(WEEKS_SINCE_VISITATION.period_of(anchor, day))


def _last_complete(months: bool, v: np.ndarray, limit: np.ndarray, k_min: int, last: int) -> np.ndarray:
    """Per person the last period, counted from ``v``, that ends on or before ``limit`` (clipped to the
    window: ``k_min - 1`` when none)."""
    axis = MONTHS_SINCE_VISITATION if months else WEEKS_SINCE_VISITATION
    day_after = (np.asarray(limit, dtype=np.int64) + 1).astype("datetime64[D]")
    held = axis.period_of(np.asarray(v, dtype=np.int64).astype("datetime64[D]"), day_after)
    return np.clip(held - 1, k_min - 1, last).astype(np.int32)
