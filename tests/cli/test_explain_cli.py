"""trialeval explain: the site regression through the command line, checked against R's numbers."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from numpy.testing import assert_allclose
from typer.testing import CliRunner

from trialeval.cli import app

runner = CliRunner()
REF = Path(__file__).resolve().parents[1] / "reference"


def test_explain_writes_the_hc2_table_and_the_scatter(tmp_path):
    panel = tmp_path / "panel.csv"
    pd.read_csv(REF / "sites_panel.csv", dtype={"person_id": str}).to_csv(panel, index=False)
    out = tmp_path / "explain.csv"
    result = runner.invoke(app, ["explain", "--panel", str(panel), "--site-factors", str(REF / "site_factors.csv"),
                                 "--outcome", "in_company", "--week", "13", "--factors", "fidelity",
                                 "--out", str(out), "--plot", str(tmp_path / "explain.png")])
    assert result.exit_code == 0, result.output
    ref = pd.read_csv(REF / "sites_reference_explain.csv").query("model == 'plain'").reset_index(drop=True)
    got = pd.read_csv(out)
    assert got["term"].tolist() == ["(Intercept)", "fidelity"]
    assert_allclose(got[["estimate", "se", "p_value"]], ref[["estimate", "se", "p_value"]], rtol=1e-8)
    assert f"R² = {ref['r2'].iloc[0]:.3f}" in result.output
    assert (tmp_path / "explain.png").stat().st_size > 5000


def test_explain_names_a_site_missing_from_the_factors_file(tmp_path):
    factors = pd.read_csv(REF / "site_factors.csv")
    factors.loc[factors["municipality"] != "Odense"].to_csv(tmp_path / "f.csv", index=False)
    result = runner.invoke(app, ["explain", "--panel", str(REF / "sites_panel.csv"), "--site-factors",
                                 str(tmp_path / "f.csv"), "--outcome", "in_company", "--week", "13",
                                 "--out", str(tmp_path / "e.csv")])
    assert result.exit_code == 1 and "no row for the site(s) Odense" in result.output
    assert not (tmp_path / "e.csv").exists()
