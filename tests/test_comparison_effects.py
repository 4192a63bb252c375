"""Comparison designs through ``effects``: the matched weighted difference, difference in differences and the
two-way fixed-effects event study equal R (the references of make_reference_comparison.R and
make_reference_twfe.R); randomisation inference is refused and the labels say what the comparison rests on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from trialeval.design import Design
from trialeval.effects import effects
from trialeval.exceptions import DesignError, InputDataError

REF = Path(__file__).parent / "reference"
TOL = {"rtol": 1e-8, "atol": 1e-8}
COLS = ["se", "df", "ci_low", "ci_high", "p_value"]
COMPARISON = Design(kind="comparison", groups=("programme", "comparison"), reference="comparison", share=None)


def _lalonde_panel() -> pd.DataFrame:
    """lalonde matched 1:2 by MatchIt, as a panel: re74 in week −2, re75 in week −1, re78 in week 1."""
    lalonde, matched = pd.read_csv(REF / "lalonde.csv"), pd.read_csv(REF / "comparison_matched.csv")
    rows = [pd.DataFrame({"person_id": matched["row"].astype(str), "week": week,
                          "arm": np.where(matched["treat"] == 1, "programme", "comparison"),
                          "weight": matched["weights"], "match_id": matched["subclass"],
                          "earnings": lalonde[column].to_numpy()[matched["row"] - 1]})
            for week, column in ((-2, "re74"), (-1, "re75"), (1, "re78"))]
    return pd.concat(rows, ignore_index=True)


def test_matched_difference_through_effects_equals_lm_robust_cr2_by_match():
    ref = pd.read_csv(REF / "comparison_reference_dim.csv")
    ref = ref.loc[(ref["model"] == "matched_1to2") & (ref["term"] == "treat")].iloc[0]
    res = effects(_lalonde_panel(), "earnings", design=COMPARISON, min_cell=0)
    row = res.to_frame().iloc[0]
    assert row["week"] == 1 and res.settings["method"] == "matched"
    assert_allclose(row["effect"], ref["estimate"], **TOL)
    for col in COLS:
        assert_allclose(row[col], ref[col], **TOL, err_msg=col)
    # the pre-periods give the raw event study and its pre-trend test, as lm_robust's stacked regression
    event = pd.read_csv(REF / "comparison_reference_event.csv")
    raw = event.loc[event["model"] == "raw"].sort_values("week")
    assert res.event_study["week"].tolist() == raw["week"].tolist()
    assert_allclose(res.event_study["estimate"], raw["estimate"], **TOL)
    assert_allclose(res.event_study["se"], raw["se"], **TOL)
    assert_allclose(res.pretrend[["chi2", "df", "p_value"]].iloc[0], raw[["chi2", "chi2_df", "chi2_p"]].iloc[0], **TOL)


def test_difference_in_differences_through_effects_equals_lm_robust_on_the_change():
    event = pd.read_csv(REF / "comparison_reference_event.csv")
    ref = event.loc[event["model"] == "baseline_2"].sort_values("week")
    res = effects(_lalonde_panel(), "earnings", did=2, design=COMPARISON, min_cell=0)
    post = ref.loc[ref["week"] == 1].iloc[0]
    row = res.to_frame().iloc[0]
    assert_allclose(row["effect"], post["estimate"], **TOL)
    for col in COLS:
        assert_allclose(row[col], post[col], **TOL, err_msg=col)
    assert res.event_study["week"].tolist() == [-2, 1]
    assert_allclose(res.event_study["estimate"], ref["estimate"], **TOL)
    assert_allclose(res.event_study["se"], ref["se"], **TOL)
    assert_allclose(res.pretrend[["chi2", "df", "p_value"]].iloc[0], ref[["chi2", "chi2_df", "chi2_p"]].iloc[0], **TOL)
    # the means are the groups' weighted means of the outcome (levels): hand computation
    p = _lalonde_panel()
    post_rows = p.loc[p["week"] == 1]
    comp, prog = post_rows.loc[post_rows["arm"] == "comparison"], post_rows.loc[post_rows["arm"] == "programme"]
    assert_allclose(row["mean_control"], np.average(comp["earnings"], weights=comp["weight"]), rtol=1e-12)
    assert_allclose(row["mean_treatment"], prog["earnings"].mean(), rtol=1e-12)


def test_twfe_event_study_through_effects_equals_lm_robust_stata():
    ref = pd.read_csv(REF / "twfe_reference.csv")
    panel = pd.read_csv(REF / "grunfeld.csv").rename(columns={"year": "week"})
    res = effects(panel, "inv", twfe=True, unit="firm", window=(-4, 4), min_cell=0)
    table = res.to_frame()
    assert table["week"].tolist() == ref["event_time"].tolist()
    assert_allclose(table["effect"], ref["estimate"], **TOL)
    for col in COLS:
        assert_allclose(table[col], ref[col], **TOL, err_msg=col)
    assert_allclose(res.pretrend[["chi2", "df", "p_value"]].iloc[0], ref[["chi2", "chi2_df", "chi2_p"]].iloc[0], **TOL)


def test_a_comparison_design_refuses_randomisation_inference():
    with pytest.raises(DesignError, match="lottery"):
        effects(_lalonde_panel(), "earnings", design=COMPARISON, ri=100)
    with pytest.raises(DesignError, match="lottery"):
        effects(_lalonde_panel(), "earnings", did=2, ri=100)
    with pytest.raises(InputDataError, match="band"):
        effects(_lalonde_panel(), "earnings", design=COMPARISON, band=True)


def test_labels_say_what_the_comparison_rests_on_in_english_and_danish():
    res = effects(_lalonde_panel(), "earnings", did=2, design=COMPARISON, min_cell=0)
    text = res.summary()
    assert "rests on parallel pre-trends" in text and "Pre-trend test" in text
    assert " effect " not in text.lower().replace("effects", "")
    figs = res.figures(lang="da")
    assert set(figs) == {"earnings", "event_earnings"}
    assert "parallelle tendenser" in figs["earnings"]._suptitle.get_text()
    assert "test for tendens før start" in figs["event_earnings"].axes[0].get_title()
    matched = effects(_lalonde_panel(), "earnings", design=COMPARISON, min_cell=0)
    assert "selection on observables" in matched.design
    assert set(matched.export_tables()) == {"", "event_study", "pretrend"}


def test_cli_writes_the_did_curves_event_study_and_pretrend_beside_out(tmp_path):
    from typer.testing import CliRunner

    from trialeval.cli import app

    panel = _lalonde_panel()
    matches = panel.loc[panel["week"] == 1, ["person_id", "arm", "match_id", "weight"]]
    panel.drop(columns="match_id").to_csv(tmp_path / "panel.csv", index=False)
    matches.to_csv(tmp_path / "matched.csv", index=False)
    out = tmp_path / "effects.csv"
    res = CliRunner().invoke(app, ["effects", "--panel", str(tmp_path / "panel.csv"), "--matches",
                                   str(tmp_path / "matched.csv"), "--did", "--baseline", "2", "--outcomes",
                                   "earnings", "--min-cell", "0", "--out", str(out), "--plot",
                                   str(tmp_path / "effects.png")])
    assert res.exit_code == 0, res.output
    assert "parallel pre-trends" in res.output
    ref = pd.read_csv(REF / "comparison_reference_event.csv")
    ref = ref.loc[ref["model"] == "baseline_2"]
    pretrend = pd.read_csv(tmp_path / "effects_pretrend.csv")
    assert_allclose(pretrend["chi2"], ref["chi2"].iloc[0], **TOL)
    assert_allclose(pd.read_csv(out)["effect"], ref.loc[ref["week"] == 1, "estimate"], **TOL)
    assert (tmp_path / "effects_event_study.csv").is_file() and (tmp_path / "effects_event_earnings.png").is_file()
    bad = CliRunner().invoke(app, ["effects", "--panel", str(tmp_path / "panel.csv"), "--did", "--out",
                                   str(tmp_path / "e2.csv")])
    assert bad.exit_code == 2 and "--baseline" in bad.output          # a usage error, as other options
    refused = CliRunner().invoke(app, ["effects", "--panel", str(tmp_path / "panel.csv"), "--matches",
                                       str(tmp_path / "matched.csv"), "--ri", "100", "--out", str(tmp_path / "e3.csv")])
    assert refused.exit_code == 1 and "lottery" in refused.output and not (tmp_path / "e3.csv").exists()
    unmatched = CliRunner().invoke(app, ["effects", "--panel", str(tmp_path / "panel.csv"), "--did", "--baseline",
                                         "2", "--out", str(tmp_path / "e4.csv")])
    assert unmatched.exit_code == 1 and "--matches" in unmatched.output


def test_cli_twfe_event_study_of_sites(tmp_path):
    from typer.testing import CliRunner

    from trialeval.cli import app

    ref = pd.read_csv(REF / "twfe_reference.csv")
    pd.read_csv(REF / "grunfeld.csv").rename(columns={"year": "week"}).to_csv(tmp_path / "sites.csv", index=False)
    res = CliRunner().invoke(app, ["effects", "--panel", str(tmp_path / "sites.csv"), "--twfe", "--unit", "firm",
                                   "--window=-4:4", "--outcomes", "inv", "--min-cell", "0", "--out",
                                   str(tmp_path / "twfe.csv")])
    assert res.exit_code == 0, res.output
    assert "rests on parallel pre-trends" in res.output
    got = pd.read_csv(tmp_path / "twfe.csv")
    assert_allclose(got["effect"], ref["estimate"], **TOL)
    assert_allclose(got["se"], ref["se"], **TOL)
