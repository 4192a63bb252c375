"""trialeval match: risk-set matching on the sample trial, through the command line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from trialeval.cli import app
from trialeval.manifest import check_ledger_manifest, read_manifest
from trialeval.manifest import manifest_path

runner = CliRunner()
PROGRAMME_SITES = ["Aarhus", "Odense", "Vejle"]
MATCHING = ('\n[matching]\ncovariates = ["gender", "age", "benefit_seniority_weeks", "prior_lab_activation"]\n'
            'exact = ["gender"]\nhistory = { weeks = [52], measures = ["ordinary_hours", "benefit"] }\n'
            'caliper = 0.2\n')


SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"


@pytest.fixture(scope="module")
def matched(tmp_path_factory):
    sample_dir = SAMPLE
    d = tmp_path_factory.mktemp("match")
    ledger = pd.read_csv(sample_dir / "ledger.csv", dtype={"person_id": str})
    programme = ledger.loc[ledger["municipality"].isin(PROGRAMME_SITES) & (ledger["arm"] == "treatment"),
                           ["person_id", "arm", "visitation_date", "municipality"]]
    programme.to_csv(d / "programme.csv", index=False)
    (d / "trial.toml").write_text((sample_dir / "trial.toml").read_text() + MATCHING)
    result = runner.invoke(app, ["match", "--ledger", str(d / "programme.csv"), "--population",
                                 str(sample_dir / "population.csv"), "--spells", str(sample_dir / "spells.csv"),
                                 "--config", str(d / "trial.toml"), "--out", str(d / "comparison.csv"),
                                 "--date", "2017-01-15"])
    assert result.exit_code == 0, result.output
    return d, programme, result.output


def test_every_programme_person_gets_one_eligible_comparison_person_from_elsewhere(matched, sample_dir):
    d, programme, output = matched
    out = pd.read_csv(d / "comparison.csv", dtype={"person_id": str})
    population = pd.read_csv(sample_dir / "population.csv", dtype={"person_id": str}).set_index("person_id")
    assert f"{len(programme):,} programme persons" in output
    assert not out["person_id"].duplicated().any()
    pairs = out.pivot(index="match_id", columns="arm", values="person_id")
    assert len(pairs) == len(programme) and pairs.notna().all().all()
    comparison = out.loc[out["arm"] == "comparison"]
    people = population.loc[comparison["person_id"]]
    assert not people["municipality"].isin(PROGRAMME_SITES).any()
    assert not comparison["person_id"].isin(pd.read_csv(sample_dir / "ledger.csv", dtype={"person_id": str})
                                            .query("municipality in @PROGRAMME_SITES")["person_id"]).any()
    assert (people["age"] >= 30).all() and people["activation_ready"].all()      # the eligibility rules
    # exact on the visitation month and gender; the pseudo visitation date is the programme person's
    by_id = out.set_index(["match_id", "arm"])
    prog, comp = by_id.xs("programme", level="arm"), by_id.xs("comparison", level="arm")
    assert (prog["visitation_date"] == comp["visitation_date"]).all()
    gender = population["gender"]
    assert (gender.loc[prog["person_id"]].to_numpy() == gender.loc[comp["person_id"]].to_numpy()).all()
    assert (out["weight"] == 1).all()


def test_matching_balances_the_covariates_and_stays_within_the_caliper(matched, sample_dir):
    d, programme, _ = matched
    out = pd.read_csv(d / "comparison.csv", dtype={"person_id": str})
    population = pd.read_csv(sample_dir / "population.csv", dtype={"person_id": str}).set_index("person_id")
    prog = population.loc[out.loc[out["arm"] == "programme", "person_id"], "age"]
    comp = population.loc[out.loc[out["arm"] == "comparison", "person_id"], "age"]
    smd = (prog.mean() - comp.mean()) / np.sqrt((prog.var() + comp.var()) / 2)
    assert abs(smd) < 0.1
    gap = out.pivot(index="match_id", columns="arm", values="propensity_logit")
    sd = np.std(pd.read_csv(d / "comparison.csv")["propensity_logit"], ddof=1)
    assert (gap["programme"] - gap["comparison"]).abs().max() < 0.2 * sd * 3


def test_the_matched_ledger_has_a_manifest_line_that_checks_it(matched):
    d, _, _ = matched
    entry = read_manifest(manifest_path(d / "comparison.csv"))[-1]
    assert entry["event"] == "match" and entry["date"] == "2017-01-15"
    assert entry["settings"]["caliper"] == 0.2 and entry["settings"]["exact"] == ["gender"]
    assert set(entry["inputs"]) == {"ledger", "population", "spells", "config"}
    check_ledger_manifest(d / "comparison.csv")                          # hash chain and ledger agree
    text = (d / "comparison.csv").read_text()
    (d / "comparison.csv").write_text(text.replace("comparison", "programme", 1))
    with pytest.raises(Exception, match="differs from"):
        check_ledger_manifest(d / "comparison.csv")
    (d / "comparison.csv").write_text(text)


def test_match_errors_exit_1_and_write_nothing(matched, sample_dir, tmp_path):
    d, _, _ = matched
    again = runner.invoke(app, ["match", "--ledger", str(d / "programme.csv"), "--population",
                                str(sample_dir / "population.csv"), "--spells", str(sample_dir / "spells.csv"),
                                "--config", str(d / "trial.toml"), "--out", str(d / "comparison.csv")])
    assert again.exit_code == 1 and "never replaces a trial's ledger" in again.output
    (tmp_path / "trial.toml").write_text((sample_dir / "trial.toml").read_text() + MATCHING + 'method = "optimal"\n')
    replace = runner.invoke(app, ["match", "--ledger", str(d / "programme.csv"), "--population",
                                  str(sample_dir / "population.csv"), "--spells", str(sample_dir / "spells.csv"),
                                  "--config", str(tmp_path / "trial.toml"), "--out", str(tmp_path / "c.csv")])
    assert replace.exit_code == 1 and 'method must be "nearest" or "weighting"' in replace.output
    assert not (tmp_path / "c.csv").exists() and "Traceback" not in again.output + replace.output


def test_balance_before_and_after_is_written_beside_the_ledger(matched):
    d, programme, _ = matched
    balance = pd.read_csv(d / "comparison_balance.csv").set_index("covariate")
    assert {"age", "benefit_seniority_weeks", "ordinary_hours_52", "benefit_weeks_52"} <= set(balance.index)
    population = pd.read_csv(SAMPLE / "population.csv", dtype={"person_id": str}).set_index("person_id")
    out = pd.read_csv(d / "comparison.csv", dtype={"person_id": str})
    age_programme = population.loc[programme["person_id"], "age"]
    matched_age = population.loc[out.loc[out["arm"] == "comparison", "person_id"], "age"]
    assert balance.loc["age", "mean_programme_before"] == pytest.approx(age_programme.mean(), abs=1e-9)
    assert balance.loc["age", "mean_comparison_after"] == pytest.approx(matched_age.mean(), abs=1e-9)
    assert balance.loc["age", "smd_after"] == pytest.approx(
        (age_programme.mean() - matched_age.mean()) / age_programme.std(), abs=1e-9)
    assert (balance["smd_after"].abs() <= 0.1).all() and balance["flag"].isna().all()
    assert (d / "comparison_love.png").stat().st_size > 5000 and (d / "comparison_overlap.png").stat().st_size > 5000
