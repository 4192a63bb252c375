"""trialeval verify replays a matched comparison group: untouched it is confirmed; a tampered row is named."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from trialeval.cli import app
from trialeval.manifest import manifest_path

runner = CliRunner()
SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"
MATCHING = ('\n[matching]\ncovariates = ["gender", "age", "benefit_seniority_weeks"]\nexact = ["gender"]\n'
            'history = { weeks = [52], measures = ["benefit"] }\n')


@pytest.fixture(scope="module")
def matched(tmp_path_factory):
    d = tmp_path_factory.mktemp("verify_match")
    ledger = pd.read_csv(SAMPLE / "ledger.csv", dtype={"person_id": str})
    programme = ledger.loc[ledger["municipality"].isin(["Aarhus", "Vejle"]) & (ledger["arm"] == "treatment"),
                           ["person_id", "arm", "visitation_date", "municipality"]]
    programme.to_csv(d / "programme.csv", index=False)
    (d / "trial.toml").write_text((SAMPLE / "trial.toml").read_text() + MATCHING)
    result = runner.invoke(app, ["match", "--ledger", str(d / "programme.csv"), "--population",
                                 str(SAMPLE / "population.csv"), "--spells", str(SAMPLE / "spells.csv"),
                                 "--config", str(d / "trial.toml"), "--out", str(d / "comparison.csv"),
                                 "--date", "2017-01-15"])
    assert result.exit_code == 0, result.output
    return d


def _verify(d: Path, ledger: Path, *extra: str):
    return runner.invoke(app, ["verify", "--ledger", str(ledger), "--population", str(SAMPLE / "population.csv"),
                               "--config", str(d / "trial.toml"), "--spells", str(SAMPLE / "spells.csv"),
                               "--programme-ledger", str(d / "programme.csv"), *extra])


def test_an_untouched_match_is_confirmed_by_its_replay(matched):
    result = _verify(matched, matched / "comparison.csv")
    assert result.exit_code == 0, result.output
    n = len(pd.read_csv(matched / "comparison.csv"))
    assert f"the same {n} rows" in result.output


def test_a_tampered_row_fails_and_is_named(matched, tmp_path):
    ledger = tmp_path / "comparison.csv"
    shutil.copy(matched / "comparison.csv", ledger)
    shutil.copy(manifest_path(matched / "comparison.csv"), manifest_path(ledger))
    lines = ledger.read_text().splitlines()
    cells = lines[4].split(",")
    cells[0] = "X999999"                                       # row 4: another comparison person
    lines[4] = ",".join(cells)
    ledger.write_text("\n".join(lines) + "\n")
    result = _verify(matched, ledger)
    assert result.exit_code == 1
    assert "row 4 (person X999999) differs in person_id" in result.output
    assert "(1 such row(s))" in result.output


def test_other_inputs_than_the_recorded_ones_are_named(matched, tmp_path):
    other = tmp_path / "programme.csv"
    pd.read_csv(matched / "programme.csv").iloc[:-1].to_csv(other, index=False)
    result = runner.invoke(app, ["verify", "--ledger", str(matched / "comparison.csv"), "--population",
                                 str(SAMPLE / "population.csv"), "--config", str(matched / "trial.toml"),
                                 "--spells", str(SAMPLE / "spells.csv"), "--programme-ledger", str(other)])
    assert result.exit_code == 1 and "--programme-ledger" in result.output and "SHA-256 differs" in result.output
    missing = runner.invoke(app, ["verify", "--ledger", str(matched / "comparison.csv"), "--population",
                                  str(SAMPLE / "population.csv"), "--config", str(matched / "trial.toml")])
    assert missing.exit_code == 1 and "--programme-ledger, --spells" in missing.output
