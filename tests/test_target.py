"""The target population over calendar time, checked by hand: who is in the gross and the narrow group,
the persons followed and the share per period, the two-period difference in differences, the disclosure
rule, and the checks of ``[target]``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trialeval.config import TrialConfig
from trialeval.exceptions import ConfigError, InputDataError
from trialeval.target import (DIFFERENCE, TargetSettings, did_estimate, parse_period, target_membership,
                              target_population)

WEEKS = [201651, 201652, 201701]          # 2016-W51, 2016-W52, 2017-W01


def _settings(**extra):
    return TargetSettings.from_dict({"rule": "benefit", "from": "2016-W51", "to": "2017-W01", "site_group": "stv",
                                     "site": "site", "programme": "yes", **extra})


def test_gross_and_narrow_membership_enter_leave_reenter():
    panel = pd.DataFrame({"person_id": ["a"] * 6 + ["b"] * 6, "calendar_week": list(range(201601, 201607)) * 2,
                          "benefit": [0, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1]})
    m = target_membership(panel.sample(frac=1, random_state=3), "benefit", "calendar_week")
    a, b = m.loc[m["person_id"] == "a"], m.loc[m["person_id"] == "b"]
    assert a["narrow"].tolist() == [False, True, True, False, True, False]      # holds, leaves, re-enters
    assert a["gross"].tolist() == [False, True, True, True, True, True]         # enters once, stays
    assert b["narrow"].tolist() == b["gross"].tolist() == [False] * 5 + [True]


def _panel():
    """Ten persons at four sites (two programme sites) over three weeks; y by hand."""
    persons = pd.DataFrame({"person_id": [f"p{i}" for i in range(10)],
                            "site": ["A", "A", "A", "B", "B", "C", "C", "C", "D", "D"],
                            "stv": ["yes"] * 5 + ["no"] * 5})
    benefit = {"p0": [1, 1, 1], "p1": [0, 1, 0], "p2": [0, 0, 1], "p3": [1, 0, 0], "p4": [0, 0, 0],
               "p5": [1, 1, 0], "p6": [1, 0, 1], "p7": [0, 1, 1], "p8": [1, 1, 1], "p9": [0, 0, 0]}
    y = {"p0": [0, 1, 1], "p1": [0, 0, 1], "p2": [1, 0, 0], "p3": [0, 1, 1], "p4": [1, 1, 1],
         "p5": [0, 0, 1], "p6": [0, 1, 0], "p7": [0, 0, 1], "p8": [1, 0, 0], "p9": [1, 1, 1]}
    rows = [{"person_id": p, "calendar_week": w, "benefit": benefit[p][k], "y": y[p][k]}
            for p in benefit for k, w in enumerate(WEEKS)]
    return pd.DataFrame(rows), persons


def test_followed_and_share_per_period_by_hand():
    panel, persons = _panel()
    result = target_population(panel, persons, _settings(), ["y"], min_cell=0)
    c = result.curves.set_index(["population", "site_group", "calendar_week"])
    # week 51, programme sites (p0-p4): on benefit p0, p3 -> narrow = gross = {p0, p3}, y = 0, 0
    assert c.loc[("narrow", "yes", 201651), "n_followed"] == 2 and c.loc[("narrow", "yes", 201651), "mean"] == 0
    # week 52, programme: narrow {p0, p1} (y 1, 0); gross {p0, p1, p3} (y 1, 0, 1)
    assert c.loc[("narrow", "yes", 201652), "mean"] == 0.5
    assert c.loc[("gross", "yes", 201652), "n_followed"] == 3
    assert c.loc[("gross", "yes", 201652), "mean"] == pytest.approx(2 / 3)
    # week 01, other sites (p5-p9): narrow {p6, p7, p8} (y 0, 1, 0); gross {p5, p6, p7, p8} (y 1, 0, 1, 0)
    assert c.loc[("narrow", "no", 201701), "mean"] == pytest.approx(1 / 3)
    assert c.loc[("gross", "no", 201701), ["n_followed", "mean"]].tolist() == [4, 0.5]
    assert c.loc[("gross", "no", 201701), "period_label"] == "2017-W01"
    assert not c["suppressed"].any()


def test_did_on_a_tiny_case_by_hand():
    panel, persons = _panel()
    result = target_population(panel, persons, _settings(before="2016-W51", after="2017-W01"), ["y"], min_cell=0)
    did = result.did.set_index(["population", "site_group"])
    # gross, before (W51): programme {p0, p3} y 0, 0 -> 0; other {p5, p6, p8} y 0, 0, 1 -> 1/3
    # gross, after (W01): programme {p0, p1, p2, p3} y 1, 1, 0, 1 -> 3/4; other {p5, p6, p7, p8} -> 1/2
    assert did.loc[("gross", "yes"), ["mean_before", "mean_after", "change"]].tolist() == [0, 0.75, 0.75]
    assert did.loc[("gross", "no"), "change"] == pytest.approx(0.5 - 1 / 3)
    assert did.loc[("gross", DIFFERENCE), "change"] == pytest.approx(0.75 - (0.5 - 1 / 3))
    assert did.loc[("gross", "yes"), ["n_before", "n_after"]].tolist() == [2, 4]
    # narrow, after (W01): programme {p0, p2} y 1, 0 -> 1/2; other {p6, p7, p8} y 0, 1, 0 -> 1/3
    assert did.loc[("narrow", DIFFERENCE), "change"] == pytest.approx((0.5 - 0) - (1 / 3 - 1 / 3))
    assert did.loc[("gross", DIFFERENCE), "n_sites"] == 4
    assert did.loc[("gross", DIFFERENCE), "ci_low"] < did.loc[("gross", DIFFERENCE), "change"] \
        < did.loc[("gross", DIFFERENCE), "ci_high"]


def test_did_estimate_is_the_difference_of_the_four_cell_means():
    rng = np.random.default_rng(5)
    rows = pd.DataFrame({"site": rng.integers(0, 9, 200).astype(str), "after": rng.integers(0, 2, 200)})
    rows["group"] = (rows["site"].astype(int) < 4).astype(int)
    rows["y"] = rng.normal(size=200)
    m = rows.groupby(["group", "after"])["y"].mean()
    assert did_estimate(rows)["estimate"] == pytest.approx((m[1, 1] - m[1, 0]) - (m[0, 1] - m[0, 0]), abs=1e-12)
    assert np.isnan(did_estimate(rows.loc[~((rows["group"] == 1) & (rows["after"] == 1))])["estimate"])


def test_small_cells_are_suppressed_and_a_small_gross_minus_narrow_hides_the_narrow_cell():
    panel, persons = _panel()
    result = target_population(panel, persons, _settings(), ["y"], min_cell=3)
    c = result.curves.set_index(["population", "site_group", "calendar_week"])
    # programme week 51: 2 persons in each group -> both suppressed, counts blank too
    assert c.loc[("gross", "yes", 201651), "suppressed"] and np.isnan(c.loc[("gross", "yes", 201651), "n_followed"])
    # other sites week 01: gross 4 (2 with y), narrow 3 (1 with y): narrow has 1 with -> suppressed;
    assert c.loc[("narrow", "no", 201701), "suppressed"]
    # programme week 52: gross 3 persons (2 with y, 1 without: 1 without is small) -> suppressed
    assert c.loc[("gross", "yes", 201652), "suppressed"]
    assert result.curves.loc[result.curves["suppressed"], ["n_followed", "mean"]].isna().all().all()
    # with a rule that a threshold of 2 lets pass on its own, the gross-minus-narrow difference decides:
    two = target_population(panel, persons, _settings(), ["y"], min_cell=2).curves.set_index(
        ["population", "site_group", "calendar_week"])
    # other sites week 01: gross {p5..p8} y 1,0,1,0; narrow {p6,p7,p8} y 0,1,0 (1 with y: below 2 -> hidden)
    assert two.loc[("narrow", "no", 201701), "suppressed"]
    # other sites week 52: gross {p5,p6,p7,p8} y 0,1,0,0 (1 with: hidden); narrow {p5,p7,p8} y 0,0,0 shown
    # alone, but gross - narrow = {p6} is one person: the narrow cell is hidden as well
    assert two.loc[("narrow", "no", 201652), "suppressed"]


def test_did_cell_under_min_cell_suppresses_the_difference():
    panel, persons = _panel()
    did = target_population(panel, persons, _settings(before="2016-W51", after="2017-W01"), ["y"], min_cell=3).did
    assert did["suppressed"].all()
    assert did[["change", "se", "ci_low", "ci_high"]].isna().all().all()


@pytest.mark.parametrize("table, message", [
    ({"from": "2016-W54"}, "2016-W54 is not a calendar period"),
    ({"from": "2017-W53"}, "2017 has 52 weeks"),
    ({"from": "2016-13"}, "is not a calendar period"),
    ({"from": "2017-W05"}, "from (2017-W05) is after to (2017-W01)"),
    ({"to": "2017-01"}, "not on the same axis"),
    ({"before": "2016-W51"}, "give both before and after"),
    ({"before": "2016-W52", "after": "2016-W51"}, "before must end before after begins"),
    ({"before": "2016-W40", "after": "2016-W52"}, "outside from"),
    ({"colour": "red"}, "unknown key(s) colour"),
])
def test_bad_target_settings_are_config_errors(table, message):
    with pytest.raises(ConfigError, match=None) as info:
        _settings(**table)
    assert message in str(info.value)


def test_target_is_read_with_the_config_and_a_bad_one_names_the_file():
    base = {"trial": {"seed": 1, "treatment_share": 0.5}}
    cfg = TrialConfig.from_dict({**base, "target": {"rule": "benefit", "from": "2016-10", "to": "2018-12",
                                                    "site_group": "g"}, "columns": {"municipality": "kommune"}})
    assert (cfg.target.axis.name, cfg.target.period_to, cfg.target.site) == ("calendar_month", 201812, "kommune")
    with pytest.raises(ConfigError, match=r"t.toml: \[target\] from \(2018-12\) is after to"):
        TrialConfig.from_dict({**base, "target": {"rule": "b", "from": "2018-12", "to": "2016-10", "site_group": "g"}},
                              source="t.toml")


def test_missing_population_column_and_split_site_are_named():
    panel, persons = _panel()
    with pytest.raises(InputDataError, match=r"pop.csv: column 'stv' \(\[target\] site_group\) is missing"):
        target_population(panel, persons.drop(columns="stv"), _settings(), ["y"], source="pop.csv")
    split = persons.assign(stv=["yes"] * 4 + ["no"] * 6)          # site B in both groups
    with pytest.raises(InputDataError, match="site\\(s\\) B of column 'site' are in both groups"):
        target_population(panel, split, _settings(), ["y"], source="pop.csv")


def test_parse_period_week_53_and_months():
    assert parse_period("2020-W53", "x")[1] == 202053
    assert parse_period("2016-12", "x")[0].name == "calendar_month"


def test_summary_states_it_is_not_a_lottery():
    panel, persons = _panel()
    result = target_population(panel, persons, _settings(before="2016-W51", after="2017-W01"), ["y"], min_cell=0)
    assert "not a lottery" in result.summary("en") and "parallel trends" in result.summary("en")
    assert "ikke en lodtrækning" in result.summary("da")
    fig = result.plot("y")
    assert len(fig.axes) == 4 and fig.axes[2].get_xticklabels()[0].get_text() == "2016-W51"


def test_a_narrow_did_cell_one_person_short_of_the_gross_cell_is_suppressed():
    """8 persons per site group at 4 sites each, all on benefit in 2017-W01; in 2017-W02 one programme
    person has left benefit. The narrow after-cell (7) passes alone, but gross minus narrow is 1 person."""
    persons = pd.DataFrame({"person_id": [f"p{i}" for i in range(16)], "site": [f"s{i // 2}" for i in range(16)],
                            "stv": ["yes"] * 8 + ["no"] * 8})
    rows = [{"person_id": f"p{i}", "calendar_week": w, "benefit": 0 if (i == 0 and w == 201702) else 1,
             "hours": float(i + w % 100)} for i in range(16) for w in (201701, 201702)]
    settings = TargetSettings.from_dict({"rule": "benefit", "from": "2017-W01", "to": "2017-W02", "site_group": "stv",
                                         "site": "site", "programme": "yes", "before": "2017-W01", "after": "2017-W02"})
    did = target_population(pd.DataFrame(rows), persons, settings, ["hours"], min_cell=5).did
    did = did.set_index(["population", "site_group"])
    assert not did.loc[("gross", "yes"), "suppressed"] and did.loc[("gross", "yes"), "n_after"] == 8
    assert did.loc[("narrow", "yes"), "suppressed"] and np.isnan(did.loc[("narrow", "yes"), "mean_after"])
    assert did.loc[("narrow", DIFFERENCE), "suppressed"] and not did.loc[("narrow", "no"), "suppressed"]
    assert did.loc[("narrow", "no"), "mean_after"] == pytest.approx(np.mean([i + 2 for i in range(8, 16)]))
