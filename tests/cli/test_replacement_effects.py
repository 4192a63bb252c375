"""A comparison group matched with replacement flows through panel and effects: each match is a unit of
the panel, and --matches joins the matched sets by unit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from trialeval.cli import app
from trialeval.comparison import weighted_difference

runner = CliRunner()


def run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_matched_with_replacement_then_panel_then_effects(tmp_path: Path, sample_dir: Path) -> None:
    data = sample_dir / "comparison"
    for name in ("trial.toml", "analysis.toml"):
        text = (data / name).read_text(encoding="utf-8").replace("caliper = 0.2", "caliper = 0.2\nreplace = true\nratio = 2")
        (tmp_path / name).write_text(text, encoding="utf-8")
    run("match", "--ledger", str(data / "ledger.csv"), "--population", str(data / "population.csv"),
        "--spells", str(data / "spells.csv"), "--config", str(tmp_path / "trial.toml"), "--out",
        str(tmp_path / "matched.csv"), "--date", "2016-12-31")
    matched = pd.read_csv(tmp_path / "matched.csv", dtype={"person_id": str, "unit_id": str})
    assert matched["person_id"].duplicated().any() and not matched["unit_id"].duplicated().any()
    run("panel", "--ledger", str(tmp_path / "matched.csv"), "--spells", str(data / "spells.csv"), "--config",
        str(tmp_path / "analysis.toml"), "--out", str(tmp_path / "panel.parquet"))
    run("effects", "--panel", str(tmp_path / "panel.parquet"), "--config", str(tmp_path / "analysis.toml"),
        "--matches", str(tmp_path / "matched.csv"), "--outcomes", "has_ordinary_hours", "--out",
        str(tmp_path / "effects.csv"))
    # week 13 by hand: the panel's units with the ledger's weights and matched sets, lm_robust's CR2 estimator
    panel = pd.read_parquet(tmp_path / "panel.parquet")
    week = panel[panel["week"] == 13].merge(matched[["unit_id", "match_id"]], left_on="person_id", right_on="unit_id")
    expected = weighted_difference(week["has_ordinary_hours"].to_numpy(float),
                                   (week["arm"] == "programme").to_numpy(), week["match_id"].to_numpy(),
                                   week["weight"].to_numpy(float))
    row = pd.read_csv(tmp_path / "effects.csv").query("outcome == 'has_ordinary_hours' and week == 13").iloc[0]
    assert np.isclose(row["effect"], expected["estimate"], rtol=0, atol=1e-12)
    assert np.isclose(row["se"], expected["se"], rtol=1e-10)


def test_results_by_site_of_a_matched_design_compare_each_sites_programme_persons_with_their_matches(
        tmp_path: Path, sample_dir: Path) -> None:
    data = sample_dir / "comparison"
    run("match", "--ledger", str(data / "ledger.csv"), "--population", str(data / "population.csv"),
        "--spells", str(data / "spells.csv"), "--config", str(data / "trial.toml"), "--out",
        str(tmp_path / "matched.csv"), "--date", "2016-12-31")
    run("panel", "--ledger", str(tmp_path / "matched.csv"), "--spells", str(data / "spells.csv"), "--config",
        str(data / "analysis.toml"), "--out", str(tmp_path / "panel.parquet"))
    run("effects", "--panel", str(tmp_path / "panel.parquet"), "--config", str(data / "analysis.toml"),
        "--matches", str(tmp_path / "matched.csv"), "--outcomes", "has_ordinary_hours", "--by", "municipality",
        "--out", str(tmp_path / "effects.csv"))
    sites = pd.read_csv(tmp_path / "effects_sites.csv").query("week == 13")
    matched = pd.read_csv(tmp_path / "matched.csv", dtype={"person_id": str})
    panel = pd.read_parquet(tmp_path / "panel.parquet")
    week = panel[panel["week"] == 13].astype({"person_id": str}).merge(matched[["person_id", "match_id"]],
                                                                       on="person_id")
    home = week.loc[week["arm"] == "programme"].drop_duplicates("match_id").set_index("match_id")["municipality"]
    week["site"] = week["match_id"].map(home).astype(str)
    shown = sites[~sites["site"].str.startswith(("all", "random", "other"))]
    assert len(shown) == 5                                  # the five programme municipalities
    for _, row in shown.iterrows():
        rows = week[week["site"] == row["site"]]
        expected = weighted_difference(rows["has_ordinary_hours"].to_numpy(float),
                                       (rows["arm"] == "programme").to_numpy(), rows["match_id"].to_numpy(),
                                       rows["weight"].to_numpy(float))
        assert np.isclose(row["effect"], expected["estimate"], rtol=0, atol=1e-12)
        assert np.isclose(row["se"], expected["se"], rtol=1e-10)


def test_balance_on_a_comparison_design_points_to_the_matchings_balance(tmp_path: Path, sample_dir: Path) -> None:
    data = sample_dir / "comparison"
    result = runner.invoke(app, ["balance", "--ledger", str(data / "ledger.csv"), "--config", str(data / "analysis.toml"),
                                 "--covariates", "age", "--out", str(tmp_path / "balance.csv")])
    assert result.exit_code == 1 and "no randomisation to test" in result.output
    assert "randomisation inference" not in result.output and not list(tmp_path.iterdir())
