"""trialeval.effects against R (estimatr 1.0.0, stats::t.test); values from make_reference_effects.R."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from numpy.testing import assert_allclose

from trialeval.effects import effects
from trialeval.exceptions import TrialevalWarning

HERE = Path(__file__).parent
REF = pd.read_csv(HERE / "effects_reference.csv")
PANEL = pd.read_csv(HERE / "effects_panel.csv", dtype={"person_id": str})
CPANEL = pd.read_csv(HERE / "effects_panel_clustered.csv", dtype={"person_id": str})
COLS = {"estimate": "effect", "std_error": "se", "df": "df", "ci_low": "ci_low", "ci_high": "ci_high",
        "p_value": "p_value"}


def _compare(table: pd.DataFrame, design: str) -> None:
    ref = REF[REF["design"] == design].sort_values(["outcome", "week"], ignore_index=True)
    got = table.sort_values(["outcome", "week"], ignore_index=True)
    assert len(ref) == len(got) == 6
    assert (got["outcome"] == ref["outcome"]).all() and (got["week"] == ref["week"]).all()
    for r, g in COLS.items():
        assert_allclose(got[g].to_numpy(), ref[r].to_numpy(), rtol=1e-8, atol=1e-10, err_msg=f"{design}: {r}")
    assert_allclose(got["n_treatment"] + got["n_control"], ref["n"])


@pytest.mark.parametrize("design", ["plain", "t.test"])
def test_difference_in_means_equals_estimatr_and_welch_t_test(design):
    _compare(effects(PANEL, ["y", "z"]).to_frame(), design)


def test_blocked_equals_estimatr_after_dropping_block_weeks_with_a_singleton_arm():
    with pytest.warns(TrialevalWarning, match="block-week"):
        res = effects(PANEL, ["y", "z"], blocks="block")
    _compare(res.to_frame(), "blocked")
    want = pd.read_csv(HERE / "effects_dropped_blocks.csv")
    got = res.dropped_blocks
    assert sorted(zip(got["outcome"], got["week"], got["block"])) == sorted(
        zip(want["outcome"], want["week"], want["block"]))
    assert (got["n_treatment"] == 1).all()


def test_lin_equals_estimatr_lm_lin_with_a_categorical_covariate():
    res = effects(PANEL, ["y", "z"], covariates=["x1", "x2"])
    table = res.to_frame()
    _compare(table, "lin")
    plain = effects(PANEL, ["y", "z"]).to_frame()
    assert_allclose(table["se_unadjusted"], plain["se"], rtol=1e-12)
    # the adjustment pays off on y, which depends on x1 and x2
    assert (table.loc[table["outcome"] == "y", "se"] < table.loc[table["outcome"] == "y", "se_unadjusted"]).all()


def test_clustered_equals_estimatr_cr2_with_bell_mccaffrey_df():
    _compare(effects(CPANEL, ["y", "z"], cluster="cluster").to_frame(), "clustered")
