"""``trialeval costs`` end to end with CliRunner."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from trialeval.cli import app

runner = CliRunner()
SAMPLE_TOML = Path(__file__).resolve().parents[2] / "sample_data" / "costs.toml"


@pytest.fixture
def effects_csv(tmp_path: Path) -> Path:
    """A JobFirst-shaped effects table: hours and self-supporting effects rising over 40 weeks."""
    weeks = np.arange(1, 41)
    n = np.linspace(2400, 150, len(weeks)).astype(int)
    rows = []
    for outcome, top, se in (("ordinary_hours", 0.8, 0.25), ("self_supporting", 0.02, 0.006),
                             ("has_ordinary_hours", 0.05, 0.01)):
        effect = top * (1 - np.exp(-weeks / 12))
        rows.append(pd.DataFrame({
            "outcome": outcome, "week": weeks, "n_treatment": n, "n_control": n,
            "mean_treatment": effect, "mean_control": 0.0, "effect": effect, "se": se, "df": 2 * n - 2,
            "ci_low": effect - 1.96 * se, "ci_high": effect + 1.96 * se, "p_value": 0.01}))
    path = tmp_path / "effects.csv"
    pd.concat(rows).to_csv(path, index=False)
    return path


def run(*args: str):
    return runner.invoke(app, ["costs", *args])


def test_costs_writes_table_figures_and_summary(tmp_path, effects_csv):
    out, plot, flows = tmp_path / "costs.csv", tmp_path / "fig" / "costs.png", tmp_path / "flows.csv"
    result = run("--effects", str(effects_csv), "--scenarios", str(SAMPLE_TOML), "--out", str(out),
                 "--plot", str(plot), "--flows", str(flows), "--seed", "7", "--draws", "300")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    assert len(table) == 12
    assert table["scenario"].tolist() == [s for s in "ABCD" for _ in range(3)]
    assert table["payer"].tolist() == ["municipality", "state", "total"] * 4
    for col in ("benefit_savings", "tax_revenue", "costs", "net_result", "net_result_per_100", "break_even_scale",
                "break_even_persistence_years", "break_even_cost", "payback_week", "prob_net_positive"):
        assert col in table.columns
    wide = table.set_index(["scenario", "payer"])["net_result"].unstack()
    np.testing.assert_allclose(wide["municipality"] + wide["state"], wide["total"], rtol=1e-12)
    for name in ("costs.png", "costs_bars.png", "costs_tornado.png"):
        assert (plot.parent / name).stat().st_size > 10_000
    assert set(pd.read_csv(flows)["scenario"]) == set("ABCD")
    assert "observed window: weeks 1–40" in result.output and "Full roll-out" in result.output


def test_same_seed_same_table_other_seed_other_probabilities(tmp_path, effects_csv):
    paths = [tmp_path / f"c{i}.csv" for i in range(3)]
    for path, seed in zip(paths, ("1", "1", "2")):
        result = run("--effects", str(effects_csv), "--scenarios", str(SAMPLE_TOML), "--out", str(path),
                     "--seed", seed, "--draws", "400")
        assert result.exit_code == 0, result.output
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()


def test_bad_scenario_file_exits_1_and_writes_nothing(tmp_path, effects_csv):
    bad = tmp_path / "costs.toml"
    bad.write_text(SAMPLE_TOML.read_text(encoding="utf-8").replace("horizon_years = 10", "horizon_years = 15"),
                   encoding="utf-8")
    out = tmp_path / "costs.csv"
    result = run("--effects", str(effects_csv), "--scenarios", str(bad), "--out", str(out))
    assert result.exit_code == 1
    assert f"Error: {bad}: [settings] horizon_years must be in (0, 10]; got 15" in result.output
    assert not out.exists()


def test_missing_outcome_and_unknown_tornado_scenario(tmp_path, effects_csv):
    only_share = tmp_path / "share.csv"
    pd.read_csv(effects_csv).query("outcome == 'self_supporting'").to_csv(only_share, index=False)
    result = run("--effects", str(only_share), "--scenarios", str(SAMPLE_TOML), "--out", str(tmp_path / "x.csv"))
    assert result.exit_code == 1 and "outcome 'ordinary_hours'" in result.output
    result = run("--effects", str(effects_csv), "--scenarios", str(SAMPLE_TOML), "--out", str(tmp_path / "x.csv"),
                 "--plot", str(tmp_path / "x.png"), "--tornado", "Z")
    assert result.exit_code == 2 and "no scenario named 'Z'" in result.output
