"""Draw docs/img/effects_example.png: the effect-curve figure on a simulated JobFirst-like trial.

Run from the repository root: ``python docs/make_effects_figure.py``. The data are simulated here (2,400
persons, weekly waves so later waves are followed for fewer weeks, a share with ordinary hours rising
from 7 % to 12 % in the programme group), so the figure shows no real person.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from trialeval.effects import effects
from trialeval.plots import save_figure

OUT = Path(__file__).resolve().parent / "img" / "effects_example.png"


def simulate(n: int = 2400, weeks: int = 52, seed: int = 20160301) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    treated = rng.permutation(np.arange(n) % 2 == 0)
    followed = np.clip(weeks - rng.integers(0, 40, n), 1, weeks)          # 40 weekly waves
    person, week = np.divmod(np.arange(n * weeks), weeks)
    week += 1
    keep = week <= followed[person]
    person, week = person[keep], week[keep]
    share = 0.07 + treated[person] * 0.05 * np.minimum(week / 20, 1)
    propensity = 0.5 + rng.random(n)                          # mean 1: some persons work more often
    has_hours = rng.random(len(person)) < share * propensity[person]
    return pd.DataFrame({"person_id": person, "arm": np.where(treated[person], "treatment", "control"),
                         "week": week, "has_ordinary_hours": has_hours.astype(float)})


def main() -> None:
    result = effects(simulate(), "has_ordinary_hours", band=True, rng=1)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    save_figure(result.plot("has_ordinary_hours"), OUT, dpi=110)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
