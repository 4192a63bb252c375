from __future__ import annotations

from pathlib import Path

import matplotlib
import pandas as pd
import pytest

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
