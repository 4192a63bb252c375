"""The time axis: period bounds counted by hand, labels, periods per year, the registry."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from trialeval.exceptions import InputDataError
from trialeval.timeaxis import (
    TIME_AXES,
    WEEKS_SINCE_VISITATION,
    AxisText,
    FixedLengthAxis,
    TimeAxis,
    register_axis,
)

D = "datetime64[D]"


def days(*iso: str) -> np.ndarray:
    return np.array(iso, dtype=D)


def test_week_bounds_by_hand_across_a_leap_day():
    # visited Monday 2024-02-26; week 1 = 26 Feb .. 3 Mar (29 Feb inside), week 2 = 4 .. 10 Mar
    v = days("2024-02-26", "2023-02-26")
    first, last = WEEKS_SINCE_VISITATION.period_bounds(v, 1)
    assert first.tolist() == days("2024-02-26", "2023-02-26").tolist()
    assert last.tolist() == days("2024-03-03", "2023-03-04").tolist()   # no 29 Feb in 2023: one day later
    first, last = WEEKS_SINCE_VISITATION.period_bounds(v, 2)
    assert first.tolist() == days("2024-03-04", "2023-03-05").tolist()
    assert last.tolist() == days("2024-03-10", "2023-03-11").tolist()


def test_week_bounds_vectorised_over_weeks_and_dates():
    v = days("2024-01-01", "2024-12-30")
    k = np.array([1, 53])
    first, last = WEEKS_SINCE_VISITATION.period_bounds(v, k)
    # week 53 of 30 Dec 2024 starts 364 days later: 2025-12-29, ends 2026-01-04
    assert first.tolist() == days("2024-01-01", "2025-12-29").tolist()
    assert last.tolist() == days("2024-01-07", "2026-01-04").tolist()
    assert first.dtype == np.dtype(D) and last.dtype == np.dtype(D)
    grid_first, grid_last = WEEKS_SINCE_VISITATION.period_bounds(v[:, None], np.arange(1, 4)[None, :])
    assert grid_first.shape == (2, 3)
    assert ((grid_last - grid_first) == np.timedelta64(6, "D")).all()
    assert ((grid_first[:, 1:] - grid_last[:, :-1]) == np.timedelta64(1, "D")).all()   # no gap, no overlap


def test_period_of_inverts_the_bounds():
    v = days("2024-02-26")
    got = WEEKS_SINCE_VISITATION.period_of(v, days("2024-02-25", "2024-02-26", "2024-03-03", "2024-03-04",
                                                   "2024-05-26"))
    assert got.tolist() == [0, 1, 1, 2, 13]   # 26 May 2024 is day 90 after visitation: week 13
    first, last = WEEKS_SINCE_VISITATION.period_bounds(v, 13)
    assert str(first[0]) == "2024-05-20" and str(last[0]) == "2024-05-26"


def test_labels_in_english_and_danish():
    axis = WEEKS_SINCE_VISITATION
    assert axis.axis_label() == "Weeks since visitation"
    assert axis.axis_label("da") == "Uger siden visitation"
    assert (axis.unit(), axis.unit(plural=True)) == ("week", "weeks")
    assert (axis.unit("da"), axis.unit("da", plural=True)) == ("uge", "uger")
    assert (axis.period_label(13), axis.period_label(13, "da")) == ("Week 13", "Uge 13")
    assert axis.text("en").abbreviation == "wk"
    with pytest.raises(InputDataError, match="unknown language 'de'"):
        axis.axis_label("de")


def test_periods_per_year_and_column_are_what_costs_and_panel_use():
    assert WEEKS_SINCE_VISITATION.periods_per_year == 52   # the cost model's 52 weeks a year
    assert isinstance(WEEKS_SINCE_VISITATION.periods_per_year, int)
    assert WEEKS_SINCE_VISITATION.column == "week"
    assert WEEKS_SINCE_VISITATION.alignment == "visitation"


def test_registry_by_name():
    assert TimeAxis.from_name("weeks_since_visitation") is WEEKS_SINCE_VISITATION
    assert TIME_AXES["weeks_since_visitation"] is WEEKS_SINCE_VISITATION
    with pytest.raises(InputDataError, match="unknown time axis 'calendar_weeks'; known axes: weeks_since_visitation"):
        TimeAxis.from_name("calendar_weeks")
    register_axis(WEEKS_SINCE_VISITATION)   # registering the same value again is harmless
    with pytest.raises(ValueError, match="already registered"):
        register_axis(dataclasses.replace(WEEKS_SINCE_VISITATION, periods_per_year=53))


def test_axis_is_a_frozen_hashable_value():
    with pytest.raises(dataclasses.FrozenInstanceError):
        WEEKS_SINCE_VISITATION.periods_per_year = 53  # type: ignore[misc]
    assert hash(WEEKS_SINCE_VISITATION) == hash(dataclasses.replace(WEEKS_SINCE_VISITATION))

