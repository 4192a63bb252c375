"""Outcomes declared in trial.toml become panel columns and effect curves, through the commands."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from trialeval.cli import app

runner = CliRunner()

DECLARED = """
[outcomes.subsidised]
any_of = ["internship", "wage_subsidy"]
label_da = "Praktik eller løntilskud"

[outcomes.ever_hours]
ever = "has_ordinary_hours"

[outcomes.hours_without_benefit]
all_of = ["has_ordinary_hours"]
none_of = ["benefit"]

[outcomes.hours_3_of_8_weeks]
rolling_sum = "has_ordinary_hours"
window = 8
at_least = 3
"""
NAMES = ["subsidised", "ever_hours", "hours_without_benefit", "hours_3_of_8_weeks"]


def run(*args: str) -> None:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output


@pytest.fixture
def config(tmp_path: Path, sample_dir: Path) -> Path:
    text = (sample_dir / "trial.toml").read_text(encoding="utf-8")
    text = "\n".join(line for line in text.splitlines() if not line.startswith("outcomes ="))
    path = tmp_path / "trial.toml"
    path.write_text(text + "\n" + DECLARED, encoding="utf-8")
    return path


@pytest.fixture
def inputs(sample_dir: Path) -> list[str]:
    return ["--ledger", str(sample_dir / "ledger.csv"), "--spells", str(sample_dir / "spells.csv")]


def test_declared_outcomes_equal_their_definitions_on_the_built_in_columns(tmp_path, config, inputs):
    run("panel", *inputs, "--config", str(config), "--weeks", "30", "--out", str(tmp_path / "panel.parquet"))
    panel = pd.read_parquet(tmp_path / "panel.parquet").sort_values(["person_id", "week"])
    assert [c for c in panel.columns if c in NAMES] == NAMES        # in the order declared
    # the 8-week window reads 7 weeks before visitation: the built-in columns of a panel built with them
    pre = tmp_path / "pre.toml"
    pre.write_text(config.read_text(encoding="utf-8").replace("weeks = 52", "weeks = 52\npre_weeks = 7")
                   .split("[outcomes.")[0], encoding="utf-8")
    run("panel", *inputs, "--config", str(pre), "--weeks", "30", "--out", str(tmp_path / "pre.parquet"))
    full = pd.read_parquet(tmp_path / "pre.parquet").sort_values(["person_id", "week"])
    hours = full["has_ordinary_hours"].astype(int)
    full["hours_3_of_8_weeks"] = hours.groupby(full["person_id"], observed=True).transform(
        lambda s: s.rolling(8, min_periods=1).sum()) >= 3
    expected = full[full["week"] >= 1].set_index(["person_id", "week"])
    got = panel.set_index(["person_id", "week"])
    assert len(got) == len(expected) and got.index.equals(expected.index)
    assert (got["subsidised"] == (expected["in_internship"] | expected["in_wage_subsidy"])).all()
    ever = expected["has_ordinary_hours"].groupby(level="person_id", observed=True).cummax()
    assert (got["ever_hours"] == ever).all()
    assert (got["hours_without_benefit"] == (expected["has_ordinary_hours"] & expected["self_supporting"])).all()
    assert (got["hours_3_of_8_weeks"] == expected["hours_3_of_8_weeks"].astype(int)).all()
    assert 0 < got["hours_3_of_8_weeks"].mean() < got["ever_hours"].mean()      # the rule is not trivial


def test_effects_report_the_declared_outcomes_by_default_on_both_paths(tmp_path, config, inputs):
    run("panel", *inputs, "--config", str(config), "--weeks", "40", "--out", str(tmp_path / "panel.parquet"))
    run("effects", "--panel", str(tmp_path / "panel.parquet"), "--config", str(config),
        "--out", str(tmp_path / "two.csv"))
    run("effects", *inputs, "--config", str(config), "--weeks", "40", "--out", str(tmp_path / "one.csv"))
    two, one = pd.read_csv(tmp_path / "two.csv"), pd.read_csv(tmp_path / "one.csv")
    assert set(NAMES) <= set(two["outcome"]) and "company_directed" in set(two["outcome"])
    pd.testing.assert_frame_equal(one, two, check_exact=False, rtol=1e-12)
    # the curve of a declared outcome is the difference of its arm means in the panel
    panel = pd.read_parquet(tmp_path / "panel.parquet")
    week = panel[panel["week"] == 20].groupby("arm", observed=True)["ever_hours"].mean()
    row = two[(two["outcome"] == "ever_hours") & (two["week"] == 20)].iloc[0]
    assert np.isclose(row["effect"], week["treatment"] - week["control"], rtol=0, atol=1e-12)
