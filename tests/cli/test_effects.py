"""``trialeval effects`` through Typer's CliRunner (issue 5, items 1–6)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from typer.testing import CliRunner

from trialeval.cli import app
from trialeval.effects import TABLE_COLUMNS
from trialeval.exceptions import TrialevalWarning

REF = Path(__file__).resolve().parents[1] / "reference"
PANEL = REF / "effects_panel.csv"
CPANEL = REF / "effects_panel_clustered.csv"
runner = CliRunner()


def run(*args: str | Path):
    return runner.invoke(app, ["effects", *map(str, args)])


@pytest.fixture
def hours_panel(tmp_path: Path) -> Path:
    rng = np.random.default_rng(4)
    n, weeks = 300, 8
    pid = np.repeat(np.arange(n), weeks)
    arm = np.where(pid % 2 == 0, "treatment", "control")
    hours = np.where(rng.random(n * weeks) < 0.3 + 0.2 * (arm == "treatment"), rng.uniform(1, 40, n * weeks), 0.0)
    panel = pd.DataFrame({"person_id": [f"x{i:04d}" for i in pid], "arm": arm,
                          "week": np.tile(np.arange(1, weeks + 1), n),
                          "stratum": (pid % 3).astype(str), "ordinary_hours": hours,
                          "has_ordinary_hours": (hours > 0).astype(float)})
    path = tmp_path / "panel.parquet"
    panel.to_parquet(path)
    return path


def test_default_writes_the_spec_columns_equal_to_the_library(tmp_path: Path) -> None:
    out = tmp_path / "effects.csv"
    res = run("--panel", PANEL, "--outcomes", "y,z", "--out", out)
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out)
    assert list(table.columns) == TABLE_COLUMNS + ["suppressed"]
    ref = pd.read_csv(REF / "effects_reference.csv").query("design == 'plain'")
    assert_allclose(table.sort_values(["outcome", "week"])["effect"], ref.sort_values(["outcome", "week"])["estimate"],
                    rtol=1e-12)
    assert "difference in means (Welch)" in res.output and str(out) in res.output


def test_options_config_sidecars_and_figures(tmp_path: Path, hours_panel: Path) -> None:
    cfg = tmp_path / "trial.toml"
    cfg.write_text('[trial]\nseed = 11\ntreatment_share = 0.5\n'
                   '[analysis]\noutcomes = ["has_ordinary_hours", "ordinary_hours"]\nmin_cell_size = 5\n')
    out, plot = tmp_path / "res" / "effects.csv", tmp_path / "fig" / "effects.png"
    res = run("--panel", hours_panel, "--config", cfg, "--band", "--ri", "49", "--summary-weeks", "4",
              "--hours-week", "6", "--min-weeks", "7", "--lang", "da", "--out", out, "--plot", plot)
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out)
    assert set(table["outcome"]) == {"has_ordinary_hours", "ordinary_hours"}
    assert table["week"].max() == 7
    assert {"band_low", "band_high", "p_value_ri"} <= set(table.columns)
    summary = pd.read_csv(tmp_path / "res" / "effects_summary.csv")
    assert list(summary["outcome"]) == ["has_ordinary_hours", "ordinary_hours"] and "p_holm" in summary
    band = pd.read_csv(tmp_path / "res" / "effects_band.csv")
    assert (band["critical_value"] > 1.96).all()
    hours = pd.read_csv(tmp_path / "res" / "effects_hours.csv")
    assert len(hours) == 16 and (hours["week"] == 6).all()
    for name in ("has_ordinary_hours", "ordinary_hours", "hours"):
        for suffix in (".png", ".pdf"):
            assert (tmp_path / "fig" / f"effects_{name}{suffix}").stat().st_size > 1000
    # the seed comes from the config: a second run gives the same band
    out2 = tmp_path / "again.csv"
    assert run("--panel", hours_panel, "--config", cfg, "--band", "--min-weeks", "7", "--out", out2).exit_code == 0
    assert_allclose(pd.read_csv(out2)["band_low"], table["band_low"], rtol=1e-12)


@pytest.mark.parametrize("option, value, column", [("--blocks", "block", "effect"),
                                                    ("--covariates", "x1,x2", "se_unadjusted")])
def test_design_options_reach_the_estimator(tmp_path: Path, option: str, value: str, column: str) -> None:
    out = tmp_path / "e.csv"
    if option == "--blocks":
        with pytest.warns(TrialevalWarning, match="block 'b5' in week 3"):
            res = run("--panel", PANEL, "--outcomes", "y", option, value, "--out", out)
    else:
        res = run("--panel", PANEL, "--outcomes", "y", option, value, "--out", out)
    assert res.exit_code == 0, res.output
    design = {"--blocks": "blocked", "--covariates": "lin"}[option]
    ref = pd.read_csv(REF / "effects_reference.csv").query(f"design == '{design}' and outcome == 'y'")
    assert_allclose(pd.read_csv(out)["se"], ref["std_error"], rtol=1e-8)
    assert column in pd.read_csv(out).columns
    if option == "--blocks":
        assert (tmp_path / "e_dropped_blocks.csv").exists()


def test_cluster_option(tmp_path: Path) -> None:
    out = tmp_path / "e.csv"
    assert run("--panel", CPANEL, "--outcomes", "y", "--cluster", "cluster", "--out", out).exit_code == 0
    ref = pd.read_csv(REF / "effects_reference.csv").query("design == 'clustered' and outcome == 'y'")
    assert_allclose(pd.read_csv(out)["df"], ref["df"], rtol=1e-8)


def test_small_cells_are_suppressed_in_the_written_table(tmp_path: Path) -> None:
    out = tmp_path / "e.csv"
    assert run("--panel", PANEL, "--outcomes", "y", "--min-cell", "40", "--out", out).exit_code == 0
    table = pd.read_csv(out)
    assert table["suppressed"].any() and table.loc[table["suppressed"], "effect"].isna().all()
    assert table.loc[table["suppressed"], "n_treatment"].isna().all()


def test_user_errors_exit_1_with_a_message(tmp_path: Path) -> None:
    res = run("--panel", PANEL, "--outcomes", "nope", "--out", tmp_path / "e.csv")
    assert res.exit_code == 1 and "'nope' missing" in res.output
    assert not (tmp_path / "e.csv").exists()
    res = run("--panel", tmp_path / "missing.csv", "--out", tmp_path / "e.csv")
    assert res.exit_code == 1 and "file not found" in res.output
    res = run("--panel", PANEL, "--outcomes", "y", "--lang", "fr", "--out", tmp_path / "e.csv",
              "--plot", tmp_path / "e.png")
    assert res.exit_code == 1 and "--lang: unknown language 'fr'; known languages: en, da" in res.output
    assert not (tmp_path / "e.csv").exists()
