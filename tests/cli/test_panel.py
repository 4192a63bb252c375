"""``trialeval panel`` on small files: outputs, config, bad input, rejects."""

from __future__ import annotations

import pandas as pd
from typer.testing import CliRunner

from trialeval.cli import app

runner = CliRunner()

LEDGER = """person_id,arm,visitation_date,municipality,stratum,followup_end,excluded
a,treatment,2016-03-01,X,s1,,false
b,control,2016-03-08,Y,s2,2016-03-20,true
"""
SPELLS = """person_id,spell_type,start_date,end_date,hours_per_week,workplace_id
a,internship,2016-03-01,2016-03-15,,W1
b,ordinary_hours,2016-03-08,2016-03-31,14,W2
zz,internship,2016-03-01,2016-03-31,,
"""


def write_inputs(tmp_path, spells: str = SPELLS):
    (tmp_path / "ledger.csv").write_text(LEDGER)
    (tmp_path / "spells.csv").write_text(spells)
    return ["--ledger", str(tmp_path / "ledger.csv"), "--spells", str(tmp_path / "spells.csv")]


def test_panel_writes_parquet_and_at_risk(tmp_path):
    args = write_inputs(tmp_path)
    out = tmp_path / "panel.parquet"
    result = runner.invoke(app, ["panel", *args, "--extraction-date", "2016-03-31", "--weeks", "6",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    panel = pd.read_parquet(out)
    # a: weeks 1-4 (ends 2016-03-28); b: followup_end 2016-03-20 leaves week 1 only.
    assert panel["person_id"].tolist() == ["a"] * 4 + ["b"]
    assert panel["in_internship"].tolist() == [1, 1, 1, 0, 0]
    assert panel["ordinary_hours"].tolist()[-1] == 14.0
    at_risk = pd.read_csv(tmp_path / "panel_at_risk.csv")
    assert at_risk.loc[at_risk["arm"] == "control", "n_at_risk"].tolist() == [1, 0, 0, 0, 0, 0]
    assert "spells of persons not in the ledger (ignored): 1 (1 persons)" in result.output
    assert f"wrote {out}" in result.output


def test_panel_csv_with_config_and_overrides(tmp_path):
    spells = SPELLS.replace("person_id,", "pnr,", 1)
    args = write_inputs(tmp_path, spells)
    (tmp_path / "trial.toml").write_text(
        '[trial]\nseed = 1\ntreatment_share = 0.5\n'
        '[analysis]\nextraction_date = "2016-03-31"\nweeks = 2\n'
        '[columns]\nperson_id = "pnr"\n')
    out = tmp_path / "panel.csv"
    result = runner.invoke(app, ["panel", *args, "--config", str(tmp_path / "trial.toml"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    panel = pd.read_csv(out)
    assert panel["week"].tolist() == [1, 2, 1]                # weeks = 2 from the config
    result = runner.invoke(app, ["panel", *args, "--config", str(tmp_path / "trial.toml"), "--weeks", "3",
                                 "--pre-weeks", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert pd.read_csv(out)["week"].tolist() == [0, 1, 2, 3, 0, 1]


def test_bad_input_exits_1_and_writes_nothing(tmp_path):
    args = write_inputs(tmp_path, SPELLS + "a,internship,2016-03-10,2016-03-01,,\n")
    out = tmp_path / "panel.parquet"
    result = runner.invoke(app, ["panel", *args, "--extraction-date", "2016-03-31", "--out", str(out)])
    assert result.exit_code == 1
    assert "spells.csv: column 'end_date' is before start_date in 1 row (row 4)" in result.output
    assert not out.exists() and not (tmp_path / "panel_at_risk.csv").exists()


def test_visitation_after_extraction_and_bad_date_exit_1(tmp_path):
    args = write_inputs(tmp_path)
    result = runner.invoke(app, ["panel", *args, "--extraction-date", "2016-03-05", "--out",
                                 str(tmp_path / "p.parquet")])
    assert result.exit_code == 1
    assert "column 'visitation_date' is after the extraction date 2016-03-05 in 1 row (row 2)" in result.output
    result = runner.invoke(app, ["panel", *args, "--extraction-date", "31/03/2016", "--out",
                                 str(tmp_path / "p.parquet")])
    assert result.exit_code == 1 and "--extraction-date: '31/03/2016' is not a date YYYY-MM-DD" in result.output
    result = runner.invoke(app, ["panel", *args, "--out", str(tmp_path / "p.parquet")])
    assert result.exit_code == 2                               # no extraction date anywhere: usage error


def test_drop_bad_rows_writes_rejects(tmp_path):
    args = write_inputs(tmp_path, SPELLS + "a,ordinary_hours,2016-03-01,2016-03-02,200,\na,holiday,2016-03-01,"
                                           "2016-03-02,,\n")
    out = tmp_path / "panel.parquet"
    result = runner.invoke(app, ["panel", *args, "--extraction-date", "2016-03-31", "--drop-bad-rows",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    rejects = pd.read_csv(tmp_path / "panel_rejects.csv")
    assert rejects["row"].tolist() == [4, 5]
    assert rejects["column"].tolist() == ["hours_per_week", "spell_type"]
    assert "rows dropped as bad input: 2" in result.output
    assert pd.read_parquet(out)["in_internship"].sum() == 3


def test_the_global_quiet_prints_nothing_and_the_panels_own_quiet_only_hides_the_bar(tmp_path):
    args = write_inputs(tmp_path)
    out = tmp_path / "panel.parquet"
    silent = runner.invoke(app, ["--quiet", "panel", *args, "--extraction-date", "2016-03-31", "--out", str(out)])
    assert silent.exit_code == 0, silent.output
    assert silent.output == "" and pd.read_parquet(out)["person_id"].tolist() == ["a"] * 4 + ["b"]
    out.unlink()
    own = runner.invoke(app, ["panel", *args, "--extraction-date", "2016-03-31", "--out", str(out), "--quiet"])
    assert own.exit_code == 0 and "Weekly panel" in own.output and f"wrote {out}" in own.output
