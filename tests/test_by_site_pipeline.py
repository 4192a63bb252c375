"""Results by site and subgroup through the pipeline step: files, R's numbers, suppression, figures."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from numpy.testing import assert_allclose

from trialeval import pipeline

REF = Path(__file__).parent / "reference"


def test_by_site_and_subgroup_files_carry_rs_numbers(tmp_path):
    panel = pd.read_csv(REF / "sites_panel.csv", dtype={"person_id": str})
    panel.drop(columns=["gender"]).to_csv(tmp_path / "panel.csv", index=False)
    panel.drop_duplicates("person_id")[["person_id", "gender"]].to_csv(tmp_path / "ledger.csv", index=False)
    step = pipeline.by_site(tmp_path / "panel.csv", tmp_path / "effects.csv", by="municipality",
                            subgroups=["gender", "age_band"], outcomes=["in_company"], weeks=[4, 13],
                            ledger=tmp_path / "ledger.csv", plot=tmp_path / "effects.png")
    names = sorted(p.name for p in step.written)
    assert names == ["effects_heterogeneity.csv", "effects_interactions.csv", "effects_sites.csv",
                     "effects_sites_in_company.png", "effects_subgroups.csv", "effects_subgroups_in_company.png"]
    sites = pd.read_csv(tmp_path / "effects_sites.csv")
    at13 = sites.loc[(sites["week"] == 13) & ~sites["site"].str.startswith(("all", "random"))].set_index("site")
    ref = pd.read_csv(REF / "sites_reference_sites.csv").set_index("site")
    assert_allclose(at13.loc[ref.index, "effect"], ref["effect"], rtol=1e-8)
    assert "Holstebro" not in set(sites["site"])                       # too small: pooled into "other"
    meta = pd.read_csv(REF / "sites_reference_meta.csv").iloc[0]
    het = pd.read_csv(tmp_path / "effects_heterogeneity.csv").set_index("week").loc[13]
    assert_allclose([het["q"], het["i2"], het["estimate"]], [meta["q"], meta["i2"], meta["estimate"]], rtol=1e-8)
    tests = pd.read_csv(tmp_path / "effects_interactions.csv")
    sub = pd.read_csv(REF / "sites_reference_subgroups.csv").drop_duplicates("covariate").set_index("covariate")
    gender = tests.loc[(tests["week"] == 13) & (tests["covariate"] == "gender")].iloc[0]
    assert_allclose(gender["chi2"], sub.loc["gender", "chi2"], rtol=1e-8)
    assert "person_id" not in sites.columns and "person_id" not in tests.columns
