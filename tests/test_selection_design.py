"""A selection design: treatment_share = 1 draws on request, stratified and auditable, everyone drawn in the
programme group; verify replays it; randomisation inference is refused."""

from __future__ import annotations

import pandas as pd
import pytest

from trialeval.config import TrialConfig
from trialeval.design import Design
from trialeval.draw import run_draw, verify
from trialeval.exceptions import ConfigError, DesignError

CONFIG = """[trial]
seed = 11
treatment_share = 1
groups = ["programme", "comparison"]
[eligibility]
rules = ["age >= 30"]
[strata]
columns = ["gender"]
"""


def test_a_selection_draws_the_requested_number_all_into_the_programme_group(tmp_path):
    pop = pd.DataFrame({"person_id": [f"P{i:03d}" for i in range(60)], "municipality": ["Aarhus", "Vejle"] * 30,
                        "age": [25 if i < 10 else 40 for i in range(60)], "gender": ["F", "M", "M", "F"] * 15})
    pop.to_csv(tmp_path / "population.csv", index=False)
    (tmp_path / "trial.toml").write_text(CONFIG)
    result = run_draw(tmp_path / "population.csv", tmp_path / "trial.toml", tmp_path / "ledger.csv",
                      ["Aarhus=7", "Vejle=5"], "2016-03-01")
    rows = result.wave_rows
    assert len(rows) == 12 and (rows["arm"] == "programme").all()          # ceil(n / 1) = n persons
    assert rows.groupby("municipality").size().to_dict() == {"Aarhus": 7, "Vejle": 5}
    assert (pop.set_index("person_id").loc[rows["person_id"], "age"] >= 30).all()
    run_draw(tmp_path / "population.csv", tmp_path / "trial.toml", tmp_path / "ledger.csv", ["Aarhus=3"], "2016-03-08")
    assert verify([tmp_path / "population.csv"], tmp_path / "trial.toml", tmp_path / "ledger.csv").ok


def test_a_selection_is_declared_consistently_and_refuses_randomisation_inference():
    cfg = TrialConfig.from_dict({"trial": {"seed": 1, "treatment_share": 1}})
    design = Design.from_config(cfg)
    assert design.kind == "selection" and not design.randomised
    with pytest.raises(DesignError, match="randomisation inference"):
        design.require_randomised()
    with pytest.raises(ConfigError, match='that is design = "selection"'):
        TrialConfig.from_dict({"trial": {"seed": 1, "treatment_share": 1, "design": "randomised"}})
    with pytest.raises(ConfigError, match="give treatment_share = 1"):
        TrialConfig.from_dict({"trial": {"seed": 1, "treatment_share": 0.5, "design": "selection"}})
