"""Generate the small STV-like sample of a target population over calendar time (synthetic, deterministic).

Run from the repository root:  python sample_data/target/generate.py

Writes, next to this file, ``population.csv`` (person_id, jobcentre, stv_jobcentre: 4 of 10 jobcentres
are programme sites) and ``spells.csv`` (benefit, ordinary-hours and internship spells). Persons come on
cash benefit at different calendar weeks from 2016-W30 on; a benefit spell ends when the person finds
hours (or at random), some work a few hours a week while on benefit; after 2017-W01 the programme jobcentres move more persons into internships and
ordinary hours than the others. The numbers are made up: they only exercise ``trialeval target``.
``trial.toml`` (written by hand) declares the target group.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent
SEED = 20161024
N_PERSONS = 420
START = datetime.date(2016, 7, 25)          # Monday of 2016-W30
PROGRAMME_START = datetime.date(2017, 1, 2)  # Monday of 2017-W01
END = datetime.date(2017, 7, 2)             # Sunday of 2017-W26


def _day(d: datetime.date) -> str:
    return d.isoformat()


def generate(folder: Path = HERE) -> None:
    """Write ``population.csv`` and ``spells.csv`` into ``folder``."""
    folder = Path(folder)
    rng = np.random.default_rng(SEED)
    jobcentres = [f"J{i:02d}" for i in range(1, 11)]
    weights = np.array([14, 9, 11, 6, 12, 8, 10, 13, 7, 10], dtype=float)
    site = rng.choice(jobcentres, size=N_PERSONS, p=weights / weights.sum())
    stv = np.isin(site, jobcentres[:4])
    population = pd.DataFrame({"person_id": [f"T{100000 + i}" for i in range(N_PERSONS)], "jobcentre": site,
                               "stv_jobcentre": np.where(stv, "yes", "no"),
                               "age": rng.integers(25, 60, size=N_PERSONS)})
    spells = []
    for pid, programme in zip(population["person_id"], stv):
        day = START + datetime.timedelta(days=int(rng.integers(0, 300)))
        while day < END:
            length = int(rng.integers(3, 30)) * 7
            after = day >= PROGRAMME_START
            exit_to_work = rng.random() < (0.55 if programme and after else 0.35)
            internship = rng.random() < (0.5 if programme and after else 0.3)
            part_time = rng.random() < (0.45 if programme and after else 0.3)
            end = min(day + datetime.timedelta(days=length - 1), END)
            spells.append((pid, "benefit", _day(day), _day(end), "", ""))
            span = (end - day).days
            if internship and span >= 7:
                first = day + datetime.timedelta(days=int(rng.integers(0, span - 5)))
                spells.append((pid, "internship", _day(first), _day(min(first + datetime.timedelta(days=27), end)),
                               "", ""))
            if part_time and span >= 14:                      # a few hours a week while on benefit
                first = day + datetime.timedelta(days=int(rng.integers(0, span - 12)))
                spells.append((pid, "ordinary_hours", _day(first), _day(min(first + datetime.timedelta(days=55), end)),
                               int(rng.choice([8, 12, 15])), f"W{int(rng.integers(1000, 1200))}"))
            if not exit_to_work:
                break
            start = end + datetime.timedelta(days=1)
            stop = min(start + datetime.timedelta(days=int(rng.integers(4, 26)) * 7 - 1), END)
            if start < END:
                spells.append((pid, "ordinary_hours", _day(start), _day(stop), int(rng.choice([15, 25, 37])),
                               f"W{int(rng.integers(1000, 1200))}"))
            day = stop + datetime.timedelta(days=int(rng.integers(1, 20)))
    population.to_csv(folder / "population.csv", index=False)
    pd.DataFrame(spells, columns=["person_id", "spell_type", "start_date", "end_date", "hours_per_week",
                                  "workplace_id"]).to_csv(folder / "spells.csv", index=False)


if __name__ == "__main__":
    generate()
