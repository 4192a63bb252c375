"""Months since visitation and calendar axes: hand-computed bounds at month ends, leap years, ISO week 53."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from trialeval.timeaxis import CALENDAR_MONTH, CALENDAR_WEEK, MONTHS_SINCE_VISITATION, TimeAxis, add_months

D = "datetime64[D]"


def _bounds(axis: TimeAxis, v: str | None, k: int) -> tuple[str, str]:
    first, last = axis.period_bounds(np.array([v], dtype=D) if v else None, np.array([k]))
    return str(first[0]), str(last[0])


@pytest.mark.parametrize(("v", "k", "first", "last"), [
    ("2016-03-01", 1, "2016-03-01", "2016-03-31"),
    ("2016-03-01", 29, "2018-07-01", "2018-07-31"),     # 'Flere skal med': months 1-29
    ("2016-01-31", 2, "2016-02-29", "2016-03-30"),     # leap year: month 2 starts on 29 February
    ("2015-01-31", 2, "2015-02-28", "2015-03-30"),
    ("2016-01-30", 2, "2016-02-29", "2016-03-29"),
    ("2016-12-31", 3, "2017-02-28", "2017-03-30"),     # across the new year
    ("2016-03-15", 0, "2016-02-15", "2016-03-14"),     # month 0 is the month before visitation
])
def test_months_since_visitation(v, k, first, last):
    assert _bounds(MONTHS_SINCE_VISITATION, v, k) == (first, last)


@pytest.mark.parametrize(("k", "first", "last"), [
    (201643, "2016-10-24", "2016-10-30"),      # STV: week 43 2016 …
    (201850, "2018-12-10", "2018-12-16"),      # … to week 50 2018
    (201553, "2015-12-28", "2016-01-03"),      # ISO week 53 spans the new year
    (202101, "2021-01-04", "2021-01-10"),      # 2020 had 53 weeks: 2021-W01 starts on 4 January
    (201901, "2018-12-31", "2019-01-06"),      # 2019-W01 starts in 2018
])
def test_calendar_weeks(k, first, last):
    assert _bounds(CALENDAR_WEEK, None, k) == (first, last)
    assert CALENDAR_WEEK.period_label(k) == f"{k // 100}-W{k % 100:02d}"


def test_calendar_months_and_leap_february():
    assert _bounds(CALENDAR_MONTH, None, 201602) == ("2016-02-01", "2016-02-29")
    assert _bounds(CALENDAR_MONTH, None, 201702) == ("2017-02-01", "2017-02-28")
    assert _bounds(CALENDAR_MONTH, None, 201612) == ("2016-12-01", "2016-12-31")


@pytest.mark.parametrize("axis", [MONTHS_SINCE_VISITATION, CALENDAR_WEEK, CALENDAR_MONTH])
def test_every_day_lies_in_the_period_whose_bounds_hold_it(axis):
    rng = np.random.default_rng(5)
    visit = np.datetime64("2015-12-20") + rng.integers(0, 800, 3000).astype("timedelta64[D]")
    visit[:5] = np.array(["2016-01-31", "2016-02-29", "2015-01-31", "2016-08-31", "2016-12-31"], dtype=D)
    day = visit + rng.integers(-400, 900, 3000).astype("timedelta64[D]")
    k = axis.period_of(visit, day)
    first, last = axis.period_bounds(visit, k)
    assert ((first <= day) & (day <= last)).all()
    if axis is MONTHS_SINCE_VISITATION:     # the periods tile the days: each starts the day after the last ended
        nxt, _ = axis.period_bounds(visit, k + 1)
        assert (nxt == last + np.timedelta64(1, "D")).all()


def test_iso_weeks_agree_with_the_standard_library():
    days = np.arange(np.datetime64("2014-12-25"), np.datetime64("2027-01-10"))
    got = CALENDAR_WEEK.period_of(None, days)
    want = [(d.isocalendar()[0] * 100 + d.isocalendar()[1]) for d in days.astype(dt.date)]
    assert got.tolist() == want


def test_add_months_clamps_to_the_month_end():
    days = np.array(["2016-01-31", "2016-03-31", "2016-08-31", "2015-12-31"], dtype=D)
    assert [str(d) for d in add_months(days, 1)] == ["2016-02-29", "2016-04-30", "2016-09-30", "2016-01-31"]
    assert [str(d) for d in add_months(days, -1)] == ["2015-12-31", "2016-02-29", "2016-07-31", "2015-11-30"]


def test_labels_and_periods_per_year():
    assert MONTHS_SINCE_VISITATION.axis_label("da") == "Måneder siden visitation"
    assert MONTHS_SINCE_VISITATION.period_label(29, "da") == "Måned 29"
    assert CALENDAR_WEEK.axis_label("da") == "Kalenderuge" and CALENDAR_MONTH.axis_label("en") == "Month"
    assert (MONTHS_SINCE_VISITATION.periods_per_year, CALENDAR_WEEK.periods_per_year) == (12, 52)
    assert TimeAxis.from_name("calendar_month") is CALENDAR_MONTH
