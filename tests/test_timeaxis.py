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


# --------------------------------------------------------------------------------------------------
# Costs and plots take their periods and labels from the axis
# --------------------------------------------------------------------------------------------------

#: A test-only axis (not registered): 4-week "months" with their own words and column.
FOUR_WEEKS = FixedLengthAxis(
    name="four_weeks_since_visitation", column="month", alignment="visitation", periods_per_year=13,
    en=AxisText("Four-weeks since visitation", "four-week", "four-weeks", "4w", "Four-week {k}"),
    da=AxisText("Fireugersperioder siden visitation", "fireugersperiode", "fireugersperioder", "4u",
                "Periode {k}"),
    period_days=28)


def test_fixed_length_axis_of_another_length():
    first, last = FOUR_WEEKS.period_bounds(days("2024-02-01"), 2)
    assert (str(first[0]), str(last[0])) == ("2024-02-29", "2024-03-27")   # days 28..55 after visitation
    assert FOUR_WEEKS.period_of(days("2024-02-01"), days("2024-02-28", "2024-02-29")).tolist() == [1, 2]


def scenario_dict():
    return {"prices": {"hourly_wage": 100.0, "benefit_per_week": 2000.0, "disregard_per_hour": 20.0,
                       "tax_rate": 0.4, "municipal_tax_share": 0.5, "state_refund_rate": 0.2},
            "programme": {"startup_per_participant": 0.0, "running_per_participant": 1000.0},
            "settings": {"discount_rate": 0.0, "end_weeks": 2, "min_at_risk": 1},
            "outcomes": {"self_supporting": ""}}


def effects(column: str, n: int = 4):
    import pandas as pd

    return pd.DataFrame({"outcome": ["ordinary_hours"] * n, column: np.arange(1, n + 1), "n_treatment": 100,
                         "n_control": 100, "effect": 1.0, "se": 0.1})


def test_costs_count_years_in_the_axis_periods_and_carry_the_axis():
    from trialeval.costs import Scenarios, costs

    weekly = Scenarios.from_dict(scenario_dict())
    assert weekly.axis is WEEKS_SINCE_VISITATION and weekly["A"].horizon_weeks == 10 * 52
    res = costs(effects("week"), weekly, draws=0)
    assert res.axis is WEEKS_SINCE_VISITATION and res.to_dict()["axis"] == "weeks_since_visitation"
    assert "observed window: weeks 1–4" in res.summary() and "payback wk" in res.summary()

    other = Scenarios.from_dict(scenario_dict(), axis=FOUR_WEEKS)
    assert other["A"].horizon_weeks == 130 and other["B"].horizon_weeks == 130   # 10 years of 13 periods
    res = costs(effects("month"), other, draws=0)
    assert res.axis is FOUR_WEEKS and "month" in res.flows.columns
    assert res.flows.groupby(["scenario", "payer"]).size().eq(130).all()
    # scenario B holds the end-of-window effect (1 hour) one year = 13 periods after the 4 observed ones
    b = res.flows.loc[(res.flows["scenario"] == "B") & (res.flows["payer"] == "total")]
    assert (b["effect_hours"].to_numpy() > 0).sum() == 4 + 13
    assert "observed window: four-weeks 1–4" in res.summary()


def test_plots_take_axis_labels_and_periods_per_year_from_the_axis():
    import pandas as pd

    from trialeval.plots import cost_jcurve, plot_panel_means

    flows = pd.DataFrame({"scenario": "A", "payer": "total", "month": [13, 26], "cumulative_net": [-1.0, 1.0]})
    line = cost_jcurve(flows, axis=FOUR_WEEKS).axes[0].get_lines()[0]
    assert line.get_xdata().tolist() == [1.0, 2.0]    # years = periods / 13
    means = pd.DataFrame({"arm": ["treatment", "control"], "month": [1, 1], "n_at_risk": [10, 10],
                          "ordinary_hours": [2.0, 1.0]})
    ax = plot_panel_means(means, "ordinary_hours", lang="da", axis=FOUR_WEEKS).axes[0]
    assert ax.get_xlabel() == "Fireugersperioder siden visitation"
    assert ax.get_ylabel() == "Timer pr. fireugersperiode"
    weekly = plot_panel_means(means.rename(columns={"month": "week"}), "ordinary_hours").axes[0]
    assert (weekly.get_xlabel(), weekly.get_ylabel()) == ("Weeks since visitation", "Hours per week")


def test_unknown_scenario_is_a_trialeval_error_and_a_key_error():
    from trialeval.costs import Scenarios
    from trialeval.exceptions import ScenarioError

    sc = Scenarios.from_dict(scenario_dict(), source="costs.toml")
    for kind in (ScenarioError, KeyError):
        with pytest.raises(kind) as info:
            sc["Z"]
        assert str(info.value) == "costs.toml: no scenario named 'Z'; scenarios: A, B, C, D"
