from __future__ import annotations

from pathlib import Path

import re

import matplotlib
import numpy as np
import pandas as pd
import pytest

from trialeval.draw import run_draw

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"


@pytest.fixture
def sample_dir() -> Path:
    """The committed sample trial (sample_data/)."""
    return SAMPLE


@pytest.fixture
def small_trial(tmp_path: Path) -> dict[str, Path]:
    """A population of 200 candidates in two municipalities and a config with strata and rules."""
    n = 200
    pop = pd.DataFrame({
        "person_id": [f"id{i:04d}" for i in range(n)],
        "municipality": ["North" if i % 3 else "South" for i in range(n)],
        "gender": ["F" if i % 2 else "M" for i in range(n)],
        "age": [25 + (i * 7) % 40 for i in range(n)],
        "activation_ready": [i % 10 != 0 for i in range(n)],
    })
    pop_path = tmp_path / "population.csv"
    pop.to_csv(pop_path, index=False)
    cfg = tmp_path / "trial.toml"
    cfg.write_text(
        '[trial]\nseed = 99\ntreatment_share = 0.5\n'
        '[eligibility]\nrules = ["age >= 30", "activation_ready == true"]\n'
        '[strata]\ncolumns = ["gender"]\nbands = { age = [30, 45] }\n'
    )
    return {"population": pop_path, "config": cfg, "ledger": tmp_path / "ledger.csv", "dir": tmp_path}


@pytest.fixture(scope="session")
def small_trial_data(tmp_path_factory) -> Path:
    """A small trial (two sites, two waves, 56 persons) laid out like sample_data/, for the demo."""
    data = tmp_path_factory.mktemp("small_data")
    rng = np.random.default_rng(7)
    n = 160
    pop = pd.DataFrame({
        "person_id": [f"X{i:05d}" for i in rng.choice(90_000, n, replace=False) + 10_000],
        "municipality": np.where(np.arange(n) < 100, "Bigtown", "Smallville"),
        "gender": rng.choice(["F", "M"], n), "age": rng.integers(30, 60, n),
        "benefit_seniority_weeks": rng.integers(52, 400, n), "activation_ready": True,
        "in_integration_programme": False, "prior_lab_activation": rng.random(n) < 0.4,
        "prior_benefit": rng.random(n) < 0.6, "education": rng.choice(["basic", "vocational"], n),
        "origin": rng.choice(["danish", "non_western"], n),
    })
    pop.to_csv(data / "population.csv", index=False)
    text = (SAMPLE / "trial.toml").read_text().replace('extraction_date = "2016-12-31"',
                                                           'extraction_date = "2016-10-31"')
    (data / "trial.toml").write_text(text)
    # a small trial has fewer than the sample's 100 persons per arm at risk: value weeks with >= 5
    (data / "costs.toml").write_text(re.sub(r"min_at_risk = \d+", "min_at_risk = 5",
                                            (SAMPLE / "costs.toml").read_text()))
    # wave 1 is small (6 persons), so the last week, observed for wave 1 only, has < 5 per arm
    run_draw(data / "population.csv", data / "trial.toml", data / "ledger.csv", ["Bigtown=1", "Smallville=2"],
             "2016-03-01")
    run_draw(data / "population.csv", data / "trial.toml", data / "ledger.csv", ["Bigtown=25"], "2016-03-08")
    ledger = pd.read_csv(data / "ledger.csv", dtype={"person_id": str}, parse_dates=["visitation_date"])
    treated = ledger["arm"].eq("treatment").to_numpy()
    v = ledger["visitation_date"]
    spells = pd.concat([
        pd.DataFrame({"person_id": ledger["person_id"], "spell_type": "benefit",
                      "start_date": v - pd.Timedelta(days=400), "end_date": pd.Timestamp("2016-10-31")}),
        pd.DataFrame({"person_id": ledger["person_id"][treated], "spell_type": "internship",
                      "start_date": v[treated] + pd.Timedelta(days=14), "end_date": v[treated] + pd.Timedelta(days=90)}),
        pd.DataFrame({"person_id": ledger["person_id"][::4], "spell_type": "ordinary_hours",
                      "start_date": v[::4] + pd.Timedelta(days=35), "end_date": v[::4] + pd.Timedelta(days=70),
                      "hours_per_week": 12.0}),
    ], ignore_index=True)
    spells.to_csv(data / "spells.csv", index=False, date_format="%Y-%m-%d")
    return data
