"""Disclosure control through the command line: the files written and the summaries printed agree."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from trialeval.cli import app

runner = CliRunner()


def write_panel(tmp_path: Path) -> Path:
    """40 persons per arm, weeks 1-3; week 1: 3 of 40 treated persons work; week 2: 38 of 40 in internship."""
    rows = []
    arm = np.repeat(["treatment", "control"], 40)
    k = np.arange(80) % 40
    for week, hours_t, intern_t in ((1, 3, 20), (2, 20, 38), (3, 20, 20)):
        has = np.where(arm == "treatment", k < hours_t, k < 15)
        rows.append(pd.DataFrame({
            "person_id": [f"P{i:03d}" for i in range(80)], "arm": arm, "week": week,
            "pnr": [f"X{i:010d}" for i in range(80)],
            "has_ordinary_hours": has.astype(int), "ordinary_hours": np.where(has, 10.0 + k % 9, 0.0),
            "in_internship": np.where(arm == "treatment", k < intern_t, k < 10).astype(int),
            "municipality": np.where(k < 20, "A", "B")}))
    path = tmp_path / "panel.csv"
    pd.concat(rows).to_csv(path, index=False)
    return path


def test_effects_cli_blanks_the_same_weeks_in_the_file_and_the_printed_summary(tmp_path: Path) -> None:
    panel, out = write_panel(tmp_path), tmp_path / "effects.csv"
    res = runner.invoke(app, ["effects", "--panel", str(panel), "--out", str(out),
                              "--outcomes", "has_ordinary_hours,ordinary_hours,in_internship"])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out)
    hidden = set(map(tuple, table.loc[table["suppressed"], ["outcome", "week"]].to_numpy()))
    assert hidden == {("has_ordinary_hours", 1), ("ordinary_hours", 1), ("in_internship", 2)}
    assert table.loc[table["suppressed"], ["mean_treatment", "effect", "ci_low", "ci_high"]].isna().all().all()
    for outcome in ("has_ordinary_hours", "ordinary_hours", "in_internship"):
        block = res.output[res.output.index(f"{outcome}: weeks"):].splitlines()[1:4]
        for week, line in zip((1, 2, 3), block):
            assert line.strip().startswith(f"week   {week}") or line.strip().startswith(f"week {week}")
            assert ("· (suppressed" in line) == ((outcome, week) in hidden), line
    # 3 / 40 = 0.075 is the treated share in week 1: it appears nowhere
    assert "0.075" not in out.read_text() and "0.075" not in res.output


def test_effects_cli_min_cell_zero_writes_exact_values(tmp_path: Path) -> None:
    panel, out = write_panel(tmp_path), tmp_path / "effects.csv"
    res = runner.invoke(app, ["effects", "--panel", str(panel), "--out", str(out), "--min-cell", "0",
                              "--outcomes", "has_ordinary_hours"])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(out)
    assert not table["suppressed"].any() and table.loc[0, "mean_treatment"] == 3 / 40


def test_person_unique_column_as_block_covariate_or_cluster_is_exit_1(tmp_path: Path) -> None:
    panel = write_panel(tmp_path)
    for option in ("--blocks", "--covariates", "--cluster"):
        out = tmp_path / f"effects{option}.csv"
        res = runner.invoke(app, ["effects", "--panel", str(panel), "--out", str(out), option, "pnr",
                                  "--outcomes", "in_internship"])
        assert res.exit_code == 1, res.output
        assert f"{option}" in res.output and "'pnr' is unique per person" in res.output
        assert "Traceback" not in res.output and not out.exists()
    ok = runner.invoke(app, ["effects", "--panel", str(panel), "--out", str(tmp_path / "e.csv"),
                             "--blocks", "municipality", "--outcomes", "in_internship"])
    assert ok.exit_code == 0, ok.output


def test_balance_cli_refuses_an_id_covariate_and_neutralises_text(tmp_path: Path) -> None:
    n = 60
    ledger = pd.DataFrame({"person_id": [f"p{i:03d}" for i in range(n)], "arm": ["treatment", "control"] * (n // 2),
                           "visitation_date": "2016-03-01", "cpr": [f"C{i:010d}" for i in range(n)],
                           "site": ["=HYPERLINK(\"http://x\")", "-north"] * (n // 2)})
    path = tmp_path / "ledger.csv"
    ledger.to_csv(path, index=False)
    out = tmp_path / "balance.csv"
    res = runner.invoke(app, ["balance", "--ledger", str(path), "--covariates", "site,cpr", "--out", str(out),
                              "--ri-draws", "0"])
    assert res.exit_code == 1 and "--covariates" in res.output and "'cpr' is unique per person" in res.output
    assert not out.exists()
    res = runner.invoke(app, ["balance", "--ledger", str(path), "--covariates", "site", "--out", str(out),
                              "--ri-draws", "0"])
    assert res.exit_code == 0, res.output
    levels = pd.read_csv(out)["level"].tolist()
    assert levels == ["'-north", "'=HYPERLINK(\"http://x\")"]
    # the ledger is a working file: read back, its text is as written
    assert pd.read_csv(path)["site"].iloc[0] == "=HYPERLINK(\"http://x\")"
