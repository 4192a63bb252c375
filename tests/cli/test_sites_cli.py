"""Results by site and subgroup (``effects --by/--subgroups``) and who gets there (``explain --person``)
through the command line, checked against R's numbers and a hand computation of the pooled small sites."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from typer.testing import CliRunner

from trialeval.cli import app
from trialeval.sites import site_effects

runner = CliRunner()
REF = Path(__file__).resolve().parents[1] / "reference"
PANEL = pd.read_csv(REF / "sites_panel.csv", dtype={"person_id": str})


def run(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return result.output


@pytest.fixture
def split_panel(tmp_path: Path) -> tuple[Path, Path]:
    """The reference panel without ``gender`` and a ledger that has it (one row per person)."""
    PANEL.drop(columns=["gender"]).to_csv(tmp_path / "panel.csv", index=False)
    PANEL.drop_duplicates("person_id")[["person_id", "gender"]].to_csv(tmp_path / "ledger.csv", index=False)
    return tmp_path / "panel.csv", tmp_path / "ledger.csv"


def test_effects_by_site_and_subgroups_write_rs_numbers_beside_the_curves(tmp_path, split_panel):
    panel, ledger = split_panel
    out = run("effects", "--panel", str(panel), "--ledger", str(ledger), "--outcomes", "in_company",
              "--by", "municipality", "--subgroups", "gender,age_band,prior_hours", "--out", str(tmp_path / "fx.csv"),
              "--plot", str(tmp_path / "fx.png"))
    for name in ("fx.csv", "fx_sites.csv", "fx_heterogeneity.csv", "fx_subgroups.csv", "fx_interactions.csv",
                 "fx_sites_in_company.png", "fx_subgroups_in_company.png", "fx_in_company.png"):
        assert (tmp_path / name).is_file(), name
    sites = pd.read_csv(tmp_path / "fx_sites.csv")
    at13 = sites.loc[sites["week"] == 13].set_index("site")
    ref = pd.read_csv(REF / "sites_reference_sites.csv").set_index("site")
    for col in ("effect", "se", "df", "ci_low", "ci_high", "p_value"):
        assert_allclose(at13.loc[ref.index, col], ref[col], rtol=1e-8, err_msg=col)
    meta = pd.read_csv(REF / "sites_reference_meta.csv").iloc[0]
    het = pd.read_csv(tmp_path / "fx_heterogeneity.csv").set_index("week").loc[13]
    for col in ("q", "p_value", "i2", "tau2", "estimate", "se"):
        assert_allclose(het[col], meta[col], rtol=1e-8, err_msg=col)
    tests = pd.read_csv(tmp_path / "fx_interactions.csv").set_index("covariate")
    sub = pd.read_csv(REF / "sites_reference_subgroups.csv").drop_duplicates("covariate").set_index("covariate")
    assert_allclose(tests.loc[sub.index, "chi2"], sub["chi2"], rtol=1e-8)
    assert_allclose(tests.loc[sub.index, "p_holm"], sub["p_holm"], rtol=1e-8)
    assert f"I² = {100 * meta['i2']:.0f} %" in out and "Holm" in out


def hand_small(cells: pd.DataFrame) -> pd.Series:
    """By hand: too small when an arm has < 5 persons or < 5 persons with (or without) the outcome."""
    n, k = cells["size"], cells["sum"]
    return ((n < 5) | ((k > 0) & (k < 5)) | ((n - k > 0) & (n - k < 5))).any(axis=1)


def site_cells(wk: pd.DataFrame) -> pd.DataFrame:
    return wk.groupby(["municipality", "arm"])["in_company"].agg(["size", "sum"]).unstack("arm")


def test_small_sites_are_pooled_into_other_and_never_shown(tmp_path, split_panel):
    panel, ledger = split_panel
    run("effects", "--panel", str(panel), "--outcomes", "in_company", "--by", "municipality",
        "--out", str(tmp_path / "fx.csv"))
    sites = pd.read_csv(tmp_path / "fx_sites.csv")
    wk = PANEL.loc[PANEL["week"] == 13]
    small = hand_small(site_cells(wk))
    assert small.sum() >= 2
    shown = set(sites["site"])
    assert not shown & set(small.index[small]) and "other" in shown
    pooled = wk.loc[wk["municipality"].isin(small.index[small])]
    other = sites.loc[(sites["week"] == 13) & (sites["site"] == "other")].iloc[0]
    t, c = pooled.loc[pooled["arm"] == "treatment", "in_company"], pooled.loc[pooled["arm"] == "control", "in_company"]
    assert other["n_treatment"] == len(t) and other["n_control"] == len(c)
    assert_allclose(other["effect"], t.mean() - c.mean(), rtol=1e-12)
    assert_allclose(other["se"], np.sqrt(t.var() / len(t) + c.var() / len(c)), rtol=1e-12)


def test_an_other_site_too_small_itself_is_left_out_and_counted():
    wk = PANEL.loc[PANEL["week"] == 13]
    keep = wk.loc[wk["municipality"] != "Holstebro"]
    small = hand_small(site_cells(keep))
    rest = keep.loc[keep["municipality"].isin(small.index[small])].assign(municipality="other")
    assert small.sum() >= 1 and hand_small(site_cells(rest)).all()          # pooled, still too small
    result = site_effects(keep, "municipality", "in_company", 13)
    assert not set(result.table["site"]) & {"other", *small.index[small]}
    assert result.n_hidden == small.sum() and "could not be shown" in result.summary()
    assert len(result.table) == (~small).sum()


def test_effects_by_needs_the_outcomes_and_writes_nothing_when_a_column_is_missing(tmp_path, split_panel):
    panel, _ = split_panel
    out = run("effects", "--panel", str(panel), "--outcomes", "in_company", "--subgroups", "gender",
              "--out", str(tmp_path / "fx.csv"), code=1)
    assert "gender" in out and "--ledger" in out
    assert not list(tmp_path.glob("fx*"))


def test_effects_by_site_from_ledger_and_spells_equals_the_sites_of_the_built_panel(tmp_path, sample_dir):
    args = ["--ledger", str(sample_dir / "ledger.csv"), "--spells", str(sample_dir / "spells.csv"),
            "--extraction-date", "2016-12-31", "--weeks", "13", "--outcomes", "company_directed",
            "--by", "municipality", "--subgroups", "gender"]
    run("effects", *args, "--out", str(tmp_path / "a" / "fx.csv"), "--panel-out", str(tmp_path / "a" / "panel.parquet"))
    run("effects", *args, "--out", str(tmp_path / "b" / "fx.csv"))
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == sorted(
        ["fx.csv", "fx_settings.json", "fx_sites.csv", "fx_heterogeneity.csv", "fx_subgroups.csv",
         "fx_interactions.csv"])                                              # the temporary panel is gone
    built = pd.read_parquet(tmp_path / "a" / "panel.parquet")
    expect = site_effects(built, "municipality", "company_directed", 13).export_frame()
    got = pd.read_csv(tmp_path / "b" / "fx_sites.csv")
    assert got["site"].tolist() == expect["site"].tolist()
    assert_allclose(got["effect"], expect["effect"], rtol=1e-12)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "a" / "fx_sites.csv"), got)


def test_explain_person_ever_equals_lm_robust_hc2_and_prints_the_caveat(tmp_path):
    panel = PANEL.copy()
    panel.loc[(panel["week"] == 13) & panel["person_id"].str.endswith("7"), "in_company"] = np.nan
    panel.drop(columns=["age_band"]).to_csv(tmp_path / "panel.csv", index=False)
    PANEL.drop_duplicates("person_id")[["person_id", "age_band"]].to_csv(tmp_path / "ledger.csv", index=False)
    out = run("explain", "--person", "--panel", str(tmp_path / "panel.csv"), "--ledger", str(tmp_path / "ledger.csv"),
              "--covariates", "gender,age_band,prior_hours", "--outcome", "in_company", "--week", "13", "--ever",
              "--out", str(tmp_path / "who.csv"))
    ref = pd.read_csv(REF / "sites_reference_person_ever.csv")
    got = pd.read_csv(tmp_path / "who.csv")
    assert got["term"].tolist() == ref["term"].tolist()
    for col in ("estimate", "se", "df", "p_value", "ci_low", "ci_high"):
        assert_allclose(got[col], ref[col], rtol=1e-8, atol=1e-12, err_msg=col)
    assert_allclose(got["r2"], ref["r2"], rtol=1e-8)
    assert (got["n"] == ref["n"]).all() and "associations" in out and "not effects" in got["note"].iloc[0]


def test_explain_person_suppresses_a_level_too_few_persons_have(tmp_path):
    panel = PANEL.copy()
    rare = panel["person_id"].isin(panel["person_id"].drop_duplicates().iloc[:3])
    panel["region"] = np.where(rare, "north", np.where(panel["gender"] == "F", "east", "west"))
    panel.to_csv(tmp_path / "panel.csv", index=False)
    run("explain", "--person", "--panel", str(tmp_path / "panel.csv"), "--covariates", "region,prior_hours",
        "--outcome", "in_company", "--week", "13", "--out", str(tmp_path / "who.csv"))
    got = pd.read_csv(tmp_path / "who.csv").set_index("term")
    assert got.loc["regionnorth", "suppressed"] and got.loc[["regionnorth"], ["estimate", "se", "persons"]].isna().all().all()
    wk = panel.loc[panel["week"] == 13]
    assert got.loc["regionwest", "persons"] == (wk["region"] == "west").sum()
    assert not got.loc["regionwest", "suppressed"] and np.isfinite(got.loc["regionwest", "estimate"])


def test_explain_person_refuses_site_options_and_the_site_regression_needs_factors(tmp_path):
    out = run("explain", "--person", "--panel", str(REF / "sites_panel.csv"), "--covariates", "gender",
              "--site-factors", str(REF / "site_factors.csv"), "--outcome", "in_company", "--week", "13",
              "--out", str(tmp_path / "who.csv"), code=2)
    assert "--site-factors" in out
    out = run("explain", "--panel", str(REF / "sites_panel.csv"), "--outcome", "in_company", "--week", "13",
              "--out", str(tmp_path / "who.csv"), code=2)
    assert not (tmp_path / "who.csv").exists()


def test_the_config_can_ask_for_sites_and_subgroups(tmp_path, sample_dir):
    config = tmp_path / "trial.toml"
    config.write_text((sample_dir / "trial.toml").read_text(encoding="utf-8").replace(
        "[analysis]\n", '[analysis]\nby = "municipality"\nsubgroups = ["gender"]\n'), encoding="utf-8")
    args = ["--ledger", str(sample_dir / "ledger.csv"), "--spells", str(sample_dir / "spells.csv"),
            "--extraction-date", "2016-12-31", "--weeks", "43", "--outcomes", "company_directed"]
    run("effects", *args, "--config", str(config), "--out", str(tmp_path / "c" / "fx.csv"))
    run("effects", *args, "--config", str(sample_dir / "trial.toml"), "--by", "municipality", "--subgroups", "gender",
        "--out", str(tmp_path / "o" / "fx.csv"))
    for name in ("fx_sites.csv", "fx_subgroups.csv"):
        pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "c" / name), pd.read_csv(tmp_path / "o" / name))
