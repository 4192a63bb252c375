"""The panel on months since visitation and on calendar weeks and months, against hand-computed cells.

Each case spells out the days of its periods: month ends, leap years, visitation on the 31st, ISO week 53.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trialeval.exceptions import InputDataError
from trialeval.outcomes import parse_outcomes
from trialeval.panel import build_panel


def _ledger(*visits: str) -> pd.DataFrame:
    return pd.DataFrame({"person_id": [f"p{i}" for i in range(len(visits))],
                         "arm": ["treatment", "control"] * (len(visits) // 2) + ["treatment"] * (len(visits) % 2),
                         "visitation_date": list(visits)})


def _spells(*rows: tuple) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["person_id", "spell_type", "start_date", "end_date", "hours_per_week"])
    return frame


def _cells(result, column: str, outcome: str) -> dict[tuple[str, int], float]:
    frame = result.to_frame()
    return {(p, int(k)): float(x) for p, k, x in zip(frame["person_id"], frame[column], frame[outcome])}


def test_months_from_the_31st_in_a_leap_year_and_in_a_common_year() -> None:
    # p0 visited 2016-01-31: month 1 = Jan 31 .. Feb 28, month 2 = Feb 29 .. Mar 30, month 3 = Mar 31 .. Apr 29.
    # p1 visited 2015-01-31: month 1 = Jan 31 .. Feb 27, month 2 = Feb 28 .. Mar 30.
    ledger = _ledger("2016-01-31", "2015-01-31")
    spells = _spells(("p0", "internship", "2016-02-29", "2016-02-29", None),      # one day: month 2 only
                     ("p0", "ordinary_hours", "2016-01-31", "2016-03-30", 7.0),   # 1 hour a day
                     ("p1", "internship", "2015-02-28", "2015-02-28", None),      # month 2 of a common year
                     ("p1", "ordinary_hours", "2015-01-31", "2015-03-30", 7.0))
    res = build_panel(ledger, spells, "2016-04-28", weeks=3, axis="months_since_visitation", min_matched_share=0)
    frame = res.to_frame()
    assert list(frame.columns[:3]) == ["person_id", "arm", "month"]
    assert _cells(res, "month", "in_internship") == {("p0", 1): 0, ("p0", 2): 1, ("p1", 1): 0, ("p1", 2): 1,
                                                     ("p1", 3): 0}
    # Hours of a month are the month's hours: days × 7 / 7; p0's month 3 (ends Apr 29) is after the extraction.
    assert _cells(res, "month", "ordinary_hours") == pytest.approx({("p0", 1): 29, ("p0", 2): 31, ("p1", 1): 28,
                                                                    ("p1", 2): 31, ("p1", 3): 0})
    assert res.settings["axis"] == "months_since_visitation"
    at_risk = res.number_at_risk
    assert at_risk["n_at_risk"].tolist() == [1, 1, 0, 1, 1, 1]       # treatment p0: months 1-2; control p1: 1-3


def test_month_two_of_a_visitation_on_march_31_starts_on_april_30() -> None:
    # Month 1 = Mar 31 .. Apr 29, month 2 = Apr 30 .. May 30, month 3 = May 31 .. Jun 29.
    spells = _spells(("p0", "wage_subsidy", "2016-04-29", "2016-04-29", None),
                     ("p0", "internship", "2016-05-31", "2016-05-31", None))
    res = build_panel(_ledger("2016-03-31"), spells, "2016-12-31", weeks=3, axis="months_since_visitation")
    assert _cells(res, "month", "in_wage_subsidy") == {("p0", 1): 1, ("p0", 2): 0, ("p0", 3): 0}
    assert _cells(res, "month", "in_internship") == {("p0", 1): 0, ("p0", 2): 0, ("p0", 3): 1}


def test_min_days_of_a_month_counts_the_union_of_spells() -> None:
    # Visited 2016-03-01: month 1 = March (31 days), month 2 = April (30 days).
    spells = _spells(("p0", "internship", "2016-03-01", "2016-03-10", None),       # 10 days of March
                     ("p0", "internship", "2016-03-05", "2016-03-14", None),       # overlaps: union 14 days
                     ("p0", "internship", "2016-04-01", "2016-04-08", None),       # 8 + 8 disjoint days of April
                     ("p0", "internship", "2016-04-21", "2016-04-28", None))
    res = build_panel(_ledger("2016-03-01"), spells, "2016-12-31", weeks=2, axis="months_since_visitation",
                      min_days=15)
    assert _cells(res, "month", "in_internship") == {("p0", 1): 0, ("p0", 2): 1}
    res = build_panel(_ledger("2016-03-01"), spells, "2016-12-31", weeks=2, axis="months_since_visitation",
                      min_days=14)
    assert _cells(res, "month", "in_internship") == {("p0", 1): 1, ("p0", 2): 1}
    with pytest.raises(InputDataError, match="min_days must be a whole number between 1 and 28"):
        build_panel(_ledger("2016-03-01"), spells, "2016-12-31", weeks=2, axis="months_since_visitation",
                    min_days=29)


def test_the_13_week_rule_is_counted_in_weeks_and_read_at_each_months_end() -> None:
    # Visited 2016-01-01: months are Jan (days 0-30), Feb (31-59), Mar (60-90), Apr (91-120).
    # p0 works days 0-90: weeks 1-13 active, week 13 ends on day 90 = Mar 31 -> reached in month 3.
    # p1 works days 7-97: weeks 2-14, week 14 ends on day 97 = Apr 7 -> reached in month 4, not 3.
    ledger = _ledger("2016-01-01", "2016-01-01")
    spells = _spells(("p0", "ordinary_hours", "2016-01-01", "2016-03-31", 10.0),
                     ("p1", "ordinary_hours", "2016-01-08", "2016-04-07", 10.0))
    res = build_panel(ledger, spells, "2016-12-31", weeks=5, axis="months_since_visitation")
    cells = _cells(res, "month", "reached_13_weeks")
    assert [cells[("p0", m)] for m in range(1, 6)] == [0, 0, 1, 1, 1]
    assert [cells[("p1", m)] for m in range(1, 6)] == [0, 0, 0, 1, 1]


def test_a_rolling_sum_is_counted_in_weeks_and_read_at_each_months_end() -> None:
    # Visited 2016-01-01; 30 hours a week from day 28 (week 5). With a 4-week window and 100 hours, weeks 5-8
    # make 120 hours: reached in week 8, which ends on day 55 = Feb 25, so February (days 31-59) is the first
    # month; in week 7 the window holds 90 hours.
    outcomes = parse_outcomes({"hours_100": {"rolling_sum": "ordinary_hours", "window_weeks": 4, "at_least": 100,
                                             "label_en": "100 hours", "label_da": "100 timer"}}, "trial.toml")
    spells = _spells(("p0", "ordinary_hours", "2016-01-29", "2016-12-31", 30.0))
    res = build_panel(_ledger("2016-01-01"), spells, "2016-12-31", weeks=3, axis="months_since_visitation",
                      declared_outcomes=outcomes)
    assert _cells(res, "month", "hours_100") == {("p0", 1): 0, ("p0", 2): 1, ("p0", 3): 1}
    # a month's hours: January has days 28-30 (3 days), February 29 days
    assert _cells(res, "month", "ordinary_hours") == pytest.approx({("p0", 1): 30 * 3 / 7, ("p0", 2): 30 * 29 / 7,
                                                                    ("p0", 3): 30 * 31 / 7})


def test_pre_months_before_visitation() -> None:
    # Visited 2016-03-31: month 0 = Feb 29 .. Mar 30 (add_months clamps to the last day of February).
    spells = _spells(("p0", "internship", "2016-02-29", "2016-02-29", None),
                     ("p0", "internship", "2016-02-28", "2016-02-28", None))
    res = build_panel(_ledger("2016-03-31"), spells, "2016-12-31", weeks=1, pre_weeks=2,
                      axis="months_since_visitation")
    # month -1 = Jan 31 .. Feb 28 holds Feb 28; month 0 = Feb 29 .. Mar 30 holds Feb 29
    assert _cells(res, "month", "in_internship") == {("p0", -1): 1, ("p0", 0): 1, ("p0", 1): 0}


def test_iso_week_53_on_the_calendar_week_axis() -> None:
    # 2020 has an ISO week 53: Mon 2020-12-28 .. Sun 2021-01-03. Everyone is followed from 2020-W52
    # (Dec 21 .. 27) whatever their visitation date; the extraction date (Sat 2021-01-16) ends 2021-W02 a day early.
    ledger = _ledger("2016-05-01", "2020-12-30")
    spells = _spells(("p0", "internship", "2021-01-03", "2021-01-03", None),          # the Sunday of week 53
                     ("p0", "ordinary_hours", "2020-12-31", "2021-01-05", 14.0),       # 2 hours a day
                     ("p1", "internship", "2020-12-27", "2020-12-28", None))           # Sunday W52, Monday W53
    res = build_panel(ledger, spells, "2021-01-16", axis="calendar_week", period_from="2020-W52",
                      period_to="2021-W02")
    assert _cells(res, "calendar_week", "in_internship") == {
        ("p0", 202052): 0, ("p0", 202053): 1, ("p0", 202101): 0,
        ("p1", 202052): 1, ("p1", 202053): 1, ("p1", 202101): 0}
    hours = _cells(res, "calendar_week", "ordinary_hours")
    assert [hours[("p0", w)] for w in (202052, 202053, 202101)] == pytest.approx([0, 8, 4])
    assert res.settings["period_from"] == "2020-W52" and res.settings["period_to"] == "2021-W02"
    # without period_to: the last week that ends by the extraction date
    res = build_panel(ledger, spells, "2021-01-17", axis="calendar_week", period_from="2020-W53")
    assert sorted(set(res.to_frame()["calendar_week"])) == [202053, 202101, 202102]


def test_calendar_months_in_a_leap_year() -> None:
    spells = _spells(("p0", "ordinary_hours", "2016-02-01", "2016-02-29", 7.0),
                     ("p1", "ordinary_hours", "2015-02-01", "2015-02-28", 7.0),
                     ("p0", "internship", "2016-01-31", "2016-02-01", None))           # one day in each month
    ledger = _ledger("2016-01-10", "2015-01-10")
    res = build_panel(ledger, spells, "2016-12-31", axis="calendar_month", period_from="2015-02",
                      period_to="2016-03", min_days=2)
    hours = _cells(res, "calendar_month", "ordinary_hours")
    assert hours[("p0", 201602)] == pytest.approx(29) and hours[("p1", 201502)] == pytest.approx(28)
    assert hours[("p0", 201601)] == 0 and hours[("p0", 201603)] == 0
    assert res.to_frame()["in_internship"].sum() == 0          # min_days 2: one day in January, one in February
    periods = sorted(set(res.to_frame()["calendar_month"]))
    assert periods == [201502 + k for k in range(11)] + [201601, 201602, 201603]
    assert res.periods.tolist() == periods


def test_calendar_periods_are_checked() -> None:
    ledger, spells = _ledger("2016-01-10"), _spells(("p0", "internship", "2016-01-31", "2016-02-01", None))
    with pytest.raises(InputDataError, match="2019-W53 is not a calendar week .*the year 2019 has no week 53"):
        build_panel(ledger, spells, "2020-12-31", axis="calendar_week", period_from="2019-W53")
    with pytest.raises(InputDataError, match="'2016-13' is not a calendar month|2016-13 is not a calendar month"):
        build_panel(ledger, spells, "2020-12-31", axis="calendar_month", period_from="2016-13")
    with pytest.raises(InputDataError, match="period_to 2016-W01 is before period_from 2016-W10"):
        build_panel(ledger, spells, "2020-12-31", axis="calendar_week", period_from="2016-W10", period_to="2016-W01")
    with pytest.raises(InputDataError, match="pre_weeks counts periods before visitation"):
        build_panel(ledger, spells, "2020-12-31", axis="calendar_week", pre_weeks=2)
    with pytest.raises(InputDataError, match="period_from and period_to are calendar periods"):
        build_panel(ledger, spells, "2020-12-31", axis="months_since_visitation", period_from="2016-01")


def test_month_sums_equal_the_long_tables_means() -> None:
    rng = np.random.default_rng(7)
    n = 60
    visits = pd.to_datetime("2016-01-01") + pd.to_timedelta(rng.integers(0, 120, n), unit="D")
    ledger = _ledger(*[str(d.date()) for d in visits])
    starts = visits + pd.to_timedelta(rng.integers(-20, 200, n), unit="D")
    ends = starts + pd.to_timedelta(rng.integers(0, 150, n), unit="D")
    types = rng.choice(["internship", "wage_subsidy", "ordinary_hours", "benefit"], n)
    spells = pd.DataFrame({"person_id": [f"p{i}" for i in range(n)], "spell_type": types,
                           "start_date": starts.strftime("%Y-%m-%d"), "end_date": ends.strftime("%Y-%m-%d"),
                           "hours_per_week": np.where(types == "ordinary_hours", 20.0, np.nan)})
    res = build_panel(ledger, spells, "2016-10-31", weeks=8, axis="months_since_visitation", chunk_persons=7)
    frame = res.to_frame()
    moments = res.week_moments(["in_internship", "ordinary_hours", "reached_13_weeks"])
    for row in moments.itertuples(index=False):
        cell = frame[(frame["arm"] == row.arm) & (frame["month"] == row.month)][row.outcome]
        assert row.n == len(cell)
        if len(cell):
            assert row.mean == pytest.approx(cell.mean(), abs=1e-12)
    # the chunking does not change the panel
    whole = build_panel(ledger, spells, "2016-10-31", weeks=8, axis="months_since_visitation").to_frame()
    pd.testing.assert_frame_equal(whole, frame)
