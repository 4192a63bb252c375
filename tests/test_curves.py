"""Descriptive curves of overlapping groups: a person in two groups counts in both, the numbers are the
hand-computed means and counts, no difference or CI between groups exists, small cells and small
differences of nested groups are suppressed, and filters are read safely with clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trialeval.config import TrialConfig
from trialeval.curves import CurveSettings, group_curves, parse_filter
from trialeval.exceptions import ConfigError, InputDataError

GROUPS = {"group_1": "wave == 1", "all": "true", "comparison": "arm == 'control'"}


def _data():
    ledger = pd.DataFrame({"person_id": ["a", "b", "c", "d", "e", "f"], "wave": [1, 1, 1, 2, 2, 2],
                           "arm": ["treatment", "control", "treatment", "control", "treatment", "control"]})
    # month 1: y a..f = 1 0 1 1 0 0; month 2: 1 1 0 1 (e unobserved) 0
    panel = pd.DataFrame({"person_id": list("abcdef") * 2, "month": [1] * 6 + [2] * 6,
                          "y": [1, 0, 1, 1, 0, 0, 1, 1, 0, 1, np.nan, 0],
                          "hours": [10, 0, 5, 0, 0, 20, 0, 0, 0, 0, np.nan, 8.0]})
    return panel, ledger


def test_overlapping_groups_each_count_a_person_and_hold_hand_computed_means():
    panel, ledger = _data()
    settings = CurveSettings.from_dict({"groups": GROUPS, "labels": {"group_1": {"en": "Group 1", "da": "Gruppe 1"}}},
                                       "t.toml")
    result = group_curves(panel, ledger, settings, outcomes=["y", "hours"], min_cell=0)
    t = result.table.set_index(["outcome", "group", "month"])
    # b is in group_1 (wave 1), in all, and in comparison (control): counted in each
    assert t.loc[("y", "group_1", 1), ["n_followed", "mean"]].tolist() == [3, pytest.approx(2 / 3)]
    assert t.loc[("y", "all", 1), ["n_followed", "mean"]].tolist() == [6, 0.5]
    assert t.loc[("y", "comparison", 1), ["n_followed", "mean"]].tolist() == [3, pytest.approx(1 / 3)]
    assert t.loc[("y", "all", 2), ["n_followed", "mean"]].tolist() == [5, 0.6]           # e not followed
    assert t.loc[("hours", "comparison", 2), "mean"] == pytest.approx((0 + 1 * 0 + 8) / 3)
    assert t.loc[("y", "group_1", 1), ["label", "label_da"]].tolist() == ["Group 1", "Gruppe 1"]
    assert t["n_followed"].groupby(level=[0, 2]).sum().loc[("y", 1)] == 12        # 3 + 6 + 3 > 6 persons
    assert not {"effect", "difference", "se", "ci_low", "ci_high", "p_value"} & set(result.table.columns)
    assert result.table["note"].str.contains("no effect and no confidence interval").all()
    assert "no effect and no confidence interval" in result.summary()
    assert "ingen effekt" in result.summary("da")


def test_small_cells_and_small_differences_of_nested_groups_are_suppressed():
    ids = [f"p{i}" for i in range(12)]
    ledger = pd.DataFrame({"person_id": ids, "wave": [1] * 10 + [2] * 2})
    panel = pd.DataFrame({"person_id": ids, "week": 1, "y": [1, 0] * 5 + [1, 1]})
    settings = CurveSettings.from_dict({"groups": {"first": "wave == 1", "all": "true", "second": "wave == 2"}},
                                       "t.toml")
    t = group_curves(panel, ledger, settings, outcomes=["y"], min_cell=5).table.set_index("group")
    assert t.loc["second", "suppressed"] and np.isnan(t.loc["second", "mean"])       # 2 persons
    # first (10: 5 with, 5 without) is fine on its own, but all - first = the 2 of wave 2: first is hidden
    assert t.loc["first", "suppressed"] and np.isnan(t.loc["first", "n_followed"])
    assert not t.loc["all", "suppressed"] and t.loc["all", "mean"] == pytest.approx(7 / 12)
    # without the small group, all - first is no longer small
    ledger2 = ledger.assign(wave=[1] * 6 + [2] * 6)
    t2 = group_curves(panel, ledger2, settings, outcomes=["y"], min_cell=2).table.set_index("group")
    assert not t2["suppressed"].any()
    assert t2.loc["first", "mean"] == 0.5 and t2.loc["second", "mean"] == pytest.approx(4 / 6)


def test_filters_are_parsed_not_evaluated_and_bad_ones_are_named():
    assert [r.column for r in parse_filter("wave >= 2 and arm in ['control']", "g")] == ["wave", "arm"]
    with pytest.raises(ConfigError, match=r"\[curves\].groups evil: the filter \"__import__\('os'\)"):
        CurveSettings.from_dict({"groups": {"evil": "__import__('os')"}}, "t.toml")
    with pytest.raises(ConfigError, match="groups must be a table"):
        TrialConfig.from_dict({"trial": {"seed": 1, "treatment_share": 0.5}, "curves": {"groups": {}}})
    with pytest.raises(ConfigError, match="labels must be a table of groups declared"):
        CurveSettings.from_dict({"groups": {"a": "true"}, "labels": {"b": {"en": "B"}}}, "t.toml")
    panel, ledger = _data()
    settings = CurveSettings.from_dict({"groups": {"older": "age >= 30"}}, "t.toml")
    with pytest.raises(InputDataError, match="ledger.csv: the filter 'age >= 30' of group 'older' names column 'age'"):
        group_curves(panel, ledger, settings, outcomes=["y"], source="ledger.csv")


def test_curves_on_a_calendar_axis_are_labelled_with_periods():
    ledger = pd.DataFrame({"person_id": list("abcdef"), "wave": 1})
    panel = pd.DataFrame({"person_id": list("abcdef") * 2, "calendar_week": [201652] * 6 + [201701] * 6,
                          "y": [1, 0] * 6})
    result = group_curves(panel, ledger, CurveSettings.from_dict({"groups": {"all": "true"}}, "t"), outcomes=["y"],
                          min_cell=3)
    assert result.table["period_label"].tolist() == ["2016-W52", "2017-W01"]
    fig = result.plot("y", lang="da")
    assert [t.get_text() for t in fig.axes[1].get_xticklabels()] == ["2016-W52", "2017-W01"]
    assert fig.axes[1].get_xlabel() == "Kalenderuge"
