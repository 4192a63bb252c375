"""The two-period difference in differences of a target population against R's
``estimatr::lm_robust(y ~ group * after, clusters = site, se_type = "CR2")``; values from
make_reference_target.R (simulated rows at 14 sites of unequal size, some persons in one period only)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from numpy.testing import assert_allclose

from trialeval.target import DIFFERENCE, TargetSettings, did_estimate, did_table, target_membership

HERE = Path(__file__).parent
ROWS = pd.read_csv(HERE / "target_did_rows.csv", dtype={"person_id": str, "site": str})
REF = pd.read_csv(HERE / "target_did_reference.csv").set_index("outcome")
TOL = {"rtol": 1e-8, "atol": 1e-8}
PAIRS = [("estimate", "estimate"), ("se", "std_error"), ("df", "df"), ("ci_low", "conf_low"),
         ("ci_high", "conf_high"), ("p_value", "p_value")]


@pytest.mark.parametrize("outcome", ["on_benefit", "hours"])
def test_did_estimate_equals_lm_robust_cr2(outcome):
    got = did_estimate(ROWS.rename(columns={outcome: "y"}))
    for ours, theirs in PAIRS:
        assert_allclose(got[ours], REF.loc[outcome, theirs], **TOL, err_msg=ours)


def test_did_table_from_a_calendar_panel_equals_lm_robust_cr2():
    """The same rows as a calendar-week panel (before 2016-W43, after 2017-W01, everyone in the target
    group): the table's difference row is R's interaction, for the gross and the narrow group alike."""
    panel = ROWS.assign(calendar_week=ROWS["after"].map({0: 201643, 1: 201701}), rule=1,
                        site_group=ROWS["group"].map({1: "stv", 0: "other"}))
    settings = TargetSettings.from_dict({"rule": "rule", "from": "2016-W43", "to": "2017-W01", "site_group": "site_group",
                                         "site": "site", "programme": "stv", "before": "2016-W43",
                                         "after": "2017-W01"})
    table = did_table(target_membership(panel, "rule", "calendar_week"), ["on_benefit", "hours"], settings, min_cell=0)
    for population in ("gross", "narrow"):
        for outcome in ("on_benefit", "hours"):
            row = table.loc[(table["population"] == population) & (table["outcome"] == outcome)
                            & (table["site_group"] == DIFFERENCE)].iloc[0]
            assert_allclose(row["change"], REF.loc[outcome, "estimate"], **TOL)
            for ours, theirs in PAIRS[1:]:
                assert_allclose(row[ours], REF.loc[outcome, theirs], **TOL, err_msg=ours)
            assert row["n_sites"] == 14
