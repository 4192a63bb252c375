"""The time axis through the commands: ``panel --axis``, ``effects`` (on the panel file and from spells),
figures, the report and costs follow months since visitation and calendar weeks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

from trialeval.cli import app

runner = CliRunner()


def run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def inputs(sample_dir: Path) -> list[str]:
    return ["--ledger", str(sample_dir / "ledger.csv"), "--spells", str(sample_dir / "spells.csv"),
            "--extraction-date", "2016-12-31"]


def test_months_since_visitation_from_panel_to_effects(tmp_path: Path, inputs: list[str]) -> None:
    panel = tmp_path / "panel.parquet"
    out = run("panel", *inputs, "--axis", "months_since_visitation", "--weeks", "9", "--out", str(panel))
    assert "Monthly panel" in out and "months: 1 to 9" in out
    frame = pd.read_parquet(panel)
    assert "month" in frame.columns and "week" not in frame.columns
    assert frame["month"].min() == 1 and frame["month"].max() == 9
    at_risk = pd.read_csv(tmp_path / "panel_at_risk.csv")
    assert list(at_risk.columns) == ["arm", "month", "n_at_risk"]

    out = run("effects", "--panel", str(panel), "--outcomes", "ordinary_hours,company_directed",
              "--out", str(tmp_path / "effects.csv"), "--plot", str(tmp_path / "effects.png"))
    assert "ordinary_hours: months" in out and "  month   1:" in out
    effects = pd.read_csv(tmp_path / "effects.csv")
    assert "month" in effects.columns
    # month 4 of hours against a Welch difference computed here from the panel's rows
    rows = frame[frame["month"] == 4]
    y1 = rows.loc[rows["arm"] == "treatment", "ordinary_hours"]
    y0 = rows.loc[rows["arm"] == "control", "ordinary_hours"]
    r = effects[(effects["outcome"] == "ordinary_hours") & (effects["month"] == 4)].iloc[0]
    assert r["effect"] == pytest.approx(y1.mean() - y0.mean(), abs=1e-12)
    assert r["se"] == pytest.approx(np.sqrt(y1.var() / len(y1) + y0.var() / len(y0)), rel=1e-10)
    assert r["n_treatment"] == len(y1) and r["n_control"] == len(y0)
    t = stats.ttest_ind(y1, y0, equal_var=False)
    assert r["p_value"] == pytest.approx(t.pvalue, rel=1e-8)
    assert (tmp_path / "effects_ordinary_hours.png").is_file()


def test_one_command_on_months_equals_the_two_commands(tmp_path: Path, inputs: list[str]) -> None:
    run("panel", *inputs, "--axis", "months_since_visitation", "--weeks", "6", "--out", str(tmp_path / "p.parquet"))
    run("effects", "--panel", str(tmp_path / "p.parquet"), "--out", str(tmp_path / "two.csv"))
    run("effects", *inputs, "--axis", "months_since_visitation", "--last-week", "6", "--out", str(tmp_path / "one.csv"))
    two, one = pd.read_csv(tmp_path / "two.csv"), pd.read_csv(tmp_path / "one.csv")
    assert list(one.columns) == list(two.columns) and "month" in one.columns
    numbers = one.select_dtypes("number").columns
    np.testing.assert_allclose(one[numbers].to_numpy(float), two[numbers].to_numpy(float), rtol=1e-12, atol=1e-12,
                               equal_nan=True)


def test_calendar_weeks_are_labelled_as_iso_weeks(tmp_path: Path, inputs: list[str]) -> None:
    panel = tmp_path / "panel.parquet"
    out = run("panel", *inputs, "--axis", "calendar_week", "--from", "2016-W40", "--out", str(panel))
    assert "weeks: 2016-W40 to 2016-W51" in out                  # 2016-W52 ends on 1 January 2017
    frame = pd.read_parquet(panel)
    assert sorted(frame["calendar_week"].unique()) == list(range(201640, 201652))
    # everyone is followed in every week, whatever the visitation date
    assert frame.groupby("person_id").size().eq(12).all()
    out = run("effects", "--panel", str(panel), "--outcomes", "company_directed", "--out", str(tmp_path / "e.csv"))
    assert "company_directed: weeks 2016-W40–2016-W51" in out and "week 2016-W40:" in out

    from trialeval.effects import effects as estimate
    from trialeval.plots import plot_effect_curve
    from trialeval.timeaxis import CALENDAR_WEEK

    result = estimate(frame, ["company_directed"])
    fig = plot_effect_curve(result, "company_directed", axis=CALENDAR_WEEK)
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels[0] == "2016-W40" and all(label.startswith("2016-W") for label in labels)
    assert fig.axes[0].get_xlabel() == "Calendar week"


def test_a_bad_calendar_period_is_a_clear_error(tmp_path: Path, inputs: list[str]) -> None:
    result = runner.invoke(app, ["panel", *inputs, "--axis", "calendar_week", "--from", "2016-W54",
                                 "--out", str(tmp_path / "p.parquet")])
    assert result.exit_code == 1
    assert "period_from: 2016-W54 is not a calendar week" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "p.parquet").exists()
    result = runner.invoke(app, ["panel", *inputs, "--axis", "fortnights", "--out", str(tmp_path / "p.parquet")])
    assert result.exit_code == 1 and "unknown time axis 'fortnights'" in result.output


def test_the_report_speaks_of_months(tmp_path: Path, sample_dir: Path) -> None:
    out = tmp_path / "out"
    run("demo", "--dir", str(out))
    for name in out.glob("effects*"):
        name.unlink()
    for name in [*out.glob("costs*"), *out.glob("panel*"), out / "report.html"]:
        name.unlink(missing_ok=True)
    run("panel", "--ledger", str(out / "ledger.csv"), "--spells", str(sample_dir / "spells.csv"),
        "--extraction-date", "2016-12-31", "--axis", "months_since_visitation", "--weeks", "9",
        "--out", str(out / "panel.parquet"))
    run("effects", "--panel", str(out / "panel.parquet"), "--outcomes", "ordinary_hours,company_directed",
        "--out", str(out / "effects.csv"), "--plot", str(out / "effects.png"))
    run("report", "--config", str(out / "trial.toml"), "--dir", str(out), "--table-weeks", "3,6")
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "Effects month by month" in page
    assert "week by week" not in page
