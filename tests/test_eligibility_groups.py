"""Eligibility rules grouped with OR (JobFirst's two target groups): the draw, the report and replay."""

from __future__ import annotations

import pandas as pd
import pytest

from trialeval.draw import run_draw, verify
from trialeval.exceptions import ConfigError
from trialeval.config import TrialConfig

CONFIG = """[trial]
seed = 5
treatment_share = 0.5
[eligibility]
rules = ["age >= 30"]
any_of = [["benefit == \\"resource_programme\\""],
          ["activation_ready == true", "public_support_weeks >= 52", "in_integration_programme == false"]]
"""


def _population() -> pd.DataFrame:
    rows = []
    for i in range(40):
        rows.append({"person_id": f"P{i:03d}", "municipality": "Aarhus", "age": 25 if i < 4 else 40,
                     "benefit": "resource_programme" if i % 4 == 0 else "cash",
                     "activation_ready": i % 4 in (1, 2), "public_support_weeks": 60 if i % 4 == 1 else 20,
                     "in_integration_programme": False})
    return pd.DataFrame(rows)


def test_a_person_is_eligible_by_either_group_and_each_groups_removals_are_reported(tmp_path):
    pop = _population()
    pop.to_csv(tmp_path / "population.csv", index=False)
    (tmp_path / "trial.toml").write_text(CONFIG)
    result = run_draw(tmp_path / "population.csv", tmp_path / "trial.toml", tmp_path / "ledger.csv",
                      ["Aarhus=8"], "2016-03-01")
    # aged 30+: persons 4-39 (36); group 1 (resource programme): i % 4 == 0 -> 9; group 2: i % 4 == 1 -> 9
    report = result.eligibility.to_dict("records")
    assert report[0] == {"rule": "age >= 30", "group": 0, "removed": 4, "remaining": 36}
    assert report[1] == {"rule": 'benefit == "resource_programme"', "group": 1, "removed": 27, "remaining": 9}
    assert [r["remaining"] for r in report[2:5]] == [18, 9, 9]        # group 2, rule by rule
    assert report[-1] == {"rule": "any_of", "group": 0, "removed": 18, "remaining": 18}
    drawn = pop.set_index("person_id").loc[result.wave_rows["person_id"]]
    assert len(drawn) == 16 and ((drawn.index.str[1:].astype(int) % 4).isin([0, 1])).all()
    assert (drawn["age"] >= 30).all()
    assert verify([tmp_path / "population.csv"], tmp_path / "trial.toml", tmp_path / "ledger.csv").ok


def test_any_of_must_be_groups_of_rules():
    with pytest.raises(ConfigError, match="any_of must be a list of groups"):
        TrialConfig.from_dict({"trial": {"seed": 1, "treatment_share": 0.5}, "eligibility": {"any_of": ["age >= 30"]}})
