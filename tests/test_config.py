from __future__ import annotations

import pandas as pd
import pytest

from trialeval.config import EligibilityRule, TrialConfig, apply_eligibility, load_config
from trialeval.exceptions import ConfigError, InputDataError

BASE = '[trial]\nseed = 1\ntreatment_share = 0.5\n'


def write(tmp_path, text):
    path = tmp_path / "trial.toml"
    path.write_text(text)
    return path


def test_sample_config_parses(sample_dir):
    cfg = load_config(sample_dir / "trial.toml")
    assert cfg.seed == 20160301 and cfg.treatment_share == 0.5
    assert [r.column for r in cfg.rules] == ["age", "activation_ready", "benefit_seniority_weeks",
                                             "in_integration_programme"]
    assert cfg.bands == {"age": (30.0, 45.0)}
    assert cfg.analysis["extraction_date"] == pd.Timestamp("2016-12-31")


@pytest.mark.parametrize("extra, message", [
    ("[stratum]\ncolumns = []\n", "unknown section \\[stratum\\]"),
    ("[analysis]\nweeks = \"52\"\n", "weeks has the wrong type"),
    ("[strata]\nbands = { age = [40, 30] }\n", "increasing list"),
    ("[eligibility]\nrules = [\"age >> 30\"]\n", "cannot read the value '> 30'"),
    ("[eligibility]\nrules = [\"age\"]\n", "is not 'column op value'"),
    ("[eligibility]\nrules = [\"age >= 'x'\"]\n", "needs a number"),
    ("[columns]\npnr = \"person_id\"\n", "unknown key 'pnr' in \\[columns\\]"),
])
def test_config_errors_name_the_problem(tmp_path, extra, message):
    with pytest.raises(ConfigError, match=message):
        load_config(write(tmp_path, BASE + extra))


def test_typo_in_trial_section_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="unknown key 'sed' in \\[trial\\]"):
        load_config(write(tmp_path, BASE + "sed = 3\n"))


def test_share_out_of_range_and_missing_seed(tmp_path):
    with pytest.raises(ConfigError, match="treatment_share must be in \\(0, 1\\)"):
        load_config(write(tmp_path, "[trial]\nseed = 1\ntreatment_share = 1.5\n"))
    # a share of exactly 1 is a selection design (everyone drawn in the programme group), not an error
    assert load_config(write(tmp_path, "[trial]\nseed = 1\ntreatment_share = 1.0\n")).design == "selection"
    with pytest.raises(ConfigError, match="seed is required"):
        load_config(write(tmp_path, "[trial]\ntreatment_share = 0.5\n"))


@pytest.mark.parametrize("text, column, op, value", [
    ("age >= 30", "age", ">=", 30),
    ("activation_ready == true", "activation_ready", "==", True),
    ('education in ["basic", "vocational"]', "education", "in", ["basic", "vocational"]),
    ("origin not in [\"western\"]", "origin", "not in", ["western"]),
    ("gender != F", "gender", "!=", "F"),
    ("weeks < 2.5", "weeks", "<", 2.5),
])
def test_rule_parser(text, column, op, value):
    rule = EligibilityRule.parse(text)
    assert (rule.column, rule.op, rule.value) == (column, op, value)


def test_rules_are_never_code():
    with pytest.raises(ConfigError):
        EligibilityRule.parse("__import__('os').system('true') == 1")
    with pytest.raises(ConfigError):
        EligibilityRule.parse("age >= (lambda: 30)()")


def test_each_rule_reports_what_it_removed():
    pop = pd.DataFrame({
        "age": [25, 35, 45, 55, None],
        "ready": ["true", "false", "True", "1", "true"],
        "education": ["basic", "higher", "basic", "vocational", "basic"],
    })
    rules = tuple(EligibilityRule.parse(t) for t in
                  ("age >= 30", "ready == true", 'education in ["basic", "vocational"]'))
    eligible, report = apply_eligibility(pop, rules, "pop.csv")
    assert eligible.index.tolist() == [2, 3]
    assert report["removed"].tolist() == [2, 1, 0]  # missing age fails its rule
    assert report["remaining"].tolist() == [3, 2, 2]


def test_rule_on_missing_or_non_numeric_column_names_it():
    pop = pd.DataFrame({"age": ["thirty", "40"]})
    with pytest.raises(InputDataError, match="'age' is not numeric .* 1 row \\(row 1\\)"):
        EligibilityRule.parse("age >= 30").holds(pop, "pop.csv")
    with pytest.raises(InputDataError, match="names column 'height', which is missing"):
        EligibilityRule.parse("height > 1").holds(pop, "pop.csv")


def test_column_mapping(tmp_path):
    cfg = load_config(write(tmp_path, BASE + '[columns]\nperson_id = "pnr"\n'))
    assert cfg.columns == {"person_id": "pnr"}
    assert TrialConfig.from_dict({"trial": {"seed": 1, "treatment_share": 0.25}}).treatment_share == 0.25
