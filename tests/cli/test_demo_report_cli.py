from __future__ import annotations

import pandas as pd
from typer.testing import CliRunner

from trialeval.cli import app

runner = CliRunner()


def test_demo_then_report_in_danish_with_workbook(small_trial_data, tmp_path):
    out = tmp_path / "out"
    demo = runner.invoke(app, ["demo", "--dir", str(out), "--data", str(small_trial_data)])
    assert demo.exit_code == 0, demo.output
    assert "Ledger confirmed: 2 wave(s) replayed, 56 persons" in demo.output
    assert "Report written to" in demo.output
    (out / "tables.xlsx").unlink()
    report = runner.invoke(app, ["report", "--config", str(out / "trial.toml"), "--dir", str(out),
                                 "--lang", "da", "--xlsx", "--weeks", "1,2,3"])
    assert report.exit_code == 0, report.output
    html = (out / "report.html").read_text()
    assert "Evalueringsrapport" in html and "Effekter i udvalgte uger" in html
    sheets = pd.read_excel(out / "tables.xlsx", sheet_name=None)
    assert {"balance", "balance_omnibus", "effects", "costs"} <= set(sheets)
    effects = pd.read_csv(out / "effects.csv")
    pd.testing.assert_frame_equal(sheets["effects"], effects, check_dtype=False)


def test_demo_without_sample_data_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["demo", "--dir", str(tmp_path / "o"), "--data", str(tmp_path)])
    assert result.exit_code == 1 and "the sample trial is incomplete; missing population.csv" in result.output


def test_quiet_prints_nothing_and_verbose_prints_the_time():
    quiet = runner.invoke(app, ["--quiet", "power", "--n", "100", "--sd", "1"])
    assert quiet.exit_code == 0 and quiet.output == ""
    verbose = runner.invoke(app, ["--verbose", "power", "--n", "100", "--sd", "1"])
    assert verbose.exit_code == 0 and "Minimum detectable effect: 0.5603" in verbose.output
    assert "[power:" in verbose.output


def test_every_command_has_help_with_an_example():
    for command in ("draw", "verify", "exclude", "power", "balance", "panel", "effects", "costs", "report", "demo"):
        result = runner.invoke(app, [command, "--help"])
        assert result.exit_code == 0 and "Example" in result.output, command
