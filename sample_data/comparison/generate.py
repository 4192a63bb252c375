"""Generate the comparison-design sample trial (synthetic; deterministic): ``python sample_data/comparison/generate.py``.

A selection draw in five municipalities (``treatment_share = 1``: everyone drawn gets the programme),
candidates for a matched comparison group in five other municipalities, and weekly register spells of
ordinary hours with a KNOWN effect curve and selection on an observable:

- every person has a benefit seniority ``benefit_seniority_weeks``; its standardised value z is higher in the
  programme municipalities (mean +0.6 against −0.6 elsewhere, SD 1, cut at ±2.5), and a person's weekly
  probability of work is p = 0.35 − 0.08 · z + 0.04 · u (u ~ N(0, 1) cut at ±2.5, unobserved, independent
  of everything else), plus a common trend of 0.0005 per week;
- after the visitation date the programme adds τ(k) = 0.15 · (1 − exp(−k / 6)) to the probability in week k
  (:func:`true_effect`); each week's hours are drawn independently given p (no clipping binds).

So the naive difference between the programme group and everyone eligible elsewhere is biased by about
−0.08 · 1.2 ≈ −0.1; matching on ``benefit_seniority_weeks`` (selection on observables holds) and the
difference in differences on the weeks before the visitation date (parallel pre-trends hold: the trend is
common) both recover τ. The draws are on Mondays and the spells run Monday–Sunday, so weeks since
visitation are calendar weeks.

Writes ``population.csv``, the draw's ``ledger.csv`` and ``ledger.manifest.jsonl`` (the trial's own draw, so
the demo's replay gives the same ledger), ``spells.csv`` and ``truth.csv`` (τ by week) beside this script,
and the configs ``trial.toml`` (the draw and the matching) and ``analysis.toml`` (the comparison design
for panel and effects).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20160307
HERE = Path(__file__).resolve().parent
PROGRAMME = ["Aalborg", "Herning", "Randers", "Silkeborg", "Viborg"]
OTHERS = ["Frederikshavn", "Hjørring", "Holstebro", "Skive", "Thisted"]
PER_MUNICIPALITY = 120
#: The draw: (Monday, persons per programme municipality).
WAVES = [("2016-03-07", 10), ("2016-03-14", 10), ("2016-03-21", 10), ("2016-03-28", 10)]
FIRST_WEEK = dt.date(2015, 3, 2)          # a Monday: the spells cover the weeks from here
LAST_DAY = dt.date(2016, 12, 31)


def true_effect(k: np.ndarray) -> np.ndarray:
    """τ(k): the programme's effect on the weekly probability of ordinary hours, k weeks after visitation."""
    k = np.asarray(k, dtype=np.float64)
    return np.where(k >= 1, 0.15 * (1 - np.exp(-k / 6)), 0.0)


def population(rng: np.random.Generator) -> pd.DataFrame:
    """Persons of the ten municipalities with the observable that drives selection."""
    munis = np.repeat(PROGRAMME + OTHERS, PER_MUNICIPALITY)
    n = len(munis)
    z = rng.normal(np.where(np.isin(munis, PROGRAMME), 0.6, -0.6), 1.0).clip(-2.5, 2.5)
    weeks = np.round(104 + 40 * z).astype(int)         # whole weeks: z = (weeks − 104) / 40 exactly
    return pd.DataFrame({
        "person_id": [f"C{100000 + i}" for i in range(n)],
        "municipality": munis,
        "gender": rng.choice(["F", "M"], n),
        "age": rng.integers(25, 60, n),
        "benefit_seniority_weeks": weeks,
        "activation_ready": rng.random(n) < 0.9,
        "u": rng.normal(0, 1, n).clip(-2.5, 2.5),  # unobserved: dropped before writing
    })


def spells(people: pd.DataFrame, visitation: pd.Series, rng: np.random.Generator) -> pd.DataFrame:
    """Weekly ordinary-hours spells (consecutive weeks merged) with the programme's effect after visitation."""
    n_weeks = (LAST_DAY - FIRST_WEEK).days // 7
    monday = np.array([FIRST_WEEK + dt.timedelta(weeks=w) for w in range(n_weeks)])
    z = (people["benefit_seniority_weeks"].to_numpy() - 104) / 40
    p = 0.35 - 0.08 * z + 0.04 * people["u"].to_numpy()
    p = p[:, None] + 0.0005 * np.arange(n_weeks)[None, :]
    v = visitation.reindex(people["person_id"]).to_numpy()
    drawn = pd.notna(v)
    k = np.full((len(people), n_weeks), 0, dtype=np.int64)
    start = np.array([(pd.Timestamp(d).date() - FIRST_WEEK).days // 7 if ok else 0 for d, ok in zip(v, drawn)])
    k[drawn] = np.arange(n_weeks)[None, :] - start[drawn, None] + 1
    p = p + np.where(drawn[:, None], true_effect(k), 0.0)
    assert (p > 0).all() and (p < 1).all(), "the probabilities need no clipping"
    works = rng.random(p.shape) < p
    hours = rng.integers(15, 38, len(people))
    rows = []
    for i in np.flatnonzero(works.any(axis=1)):
        w = works[i].astype(np.int8)
        edges = np.diff(np.r_[0, w, 0])
        for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
            end = min(monday[b - 1] + dt.timedelta(days=6), LAST_DAY)
            rows.append((people["person_id"].iat[i], "ordinary_hours", monday[a].isoformat(), end.isoformat(),
                         int(hours[i]), f"W{10000 + i}"))
    return pd.DataFrame(rows, columns=["person_id", "spell_type", "start_date", "end_date", "hours_per_week",
                                       "workplace_id"])


TRIAL = """# The comparison-design sample trial (synthetic data; see sample_data/comparison/generate.py).
[trial]
name = "Comparison design (sample)"
seed = {seed}
treatment_share = 1        # a selection: everyone drawn gets the programme; the comparison group is matched
{design}
[eligibility]
rules = ["age >= 30", "activation_ready == true"]

[strata]
columns = ["gender"]

[analysis]
extraction_date = "2016-12-31"
weeks = 39
pre_weeks = 26
outcomes = ["has_ordinary_hours", "ordinary_hours"]
report_weeks = [4, 13, 26, 39]

[matching]
covariates = ["gender", "age", "benefit_seniority_weeks"]
exact = ["gender"]
history = {{ weeks = [52], measures = ["ordinary_hours"] }}
caliper = 0.2
"""


def draw(out: Path) -> pd.Series:
    """Draw the waves (the trial's own draw, so the demo's replay gives the same ledger) into ``ledger.csv``
    and its manifest; each drawn person's visitation date."""
    from trialeval.draw import manifest_path, run_draw

    ledger = out / "ledger.csv"
    ledger.unlink(missing_ok=True)
    manifest_path(ledger).unlink(missing_ok=True)
    for date, n in WAVES:
        run_draw(out / "population.csv", out / "trial.toml", ledger, {m: n for m in PROGRAMME}, date)
    Path(f"{ledger}.lock").unlink(missing_ok=True)
    drawn = pd.read_csv(ledger, dtype={"person_id": str})
    return drawn.set_index("person_id")["visitation_date"]


def generate(out: Path = HERE) -> None:
    """Write the sample trial's files into ``out`` (the same bytes every time)."""
    rng = np.random.default_rng(SEED)
    people = population(rng)
    people.drop(columns="u").to_csv(out / "population.csv", index=False, lineterminator="\n")
    (out / "trial.toml").write_text(TRIAL.format(seed=SEED, design=""), encoding="utf-8")
    spells(people, draw(out), rng).to_csv(out / "spells.csv", index=False, lineterminator="\n")
    k = np.arange(1, 53)
    pd.DataFrame({"week": k, "true_effect": true_effect(k)}).to_csv(out / "truth.csv", index=False,
                                                                    lineterminator="\n")
    analysis = ('design = "comparison"     # the matched ledger: programme vs comparison, not a lottery\n'
                'groups = ["programme", "comparison"]\nreference = "comparison"\n')
    (out / "analysis.toml").write_text(TRIAL.format(seed=SEED, design=analysis), encoding="utf-8")


if __name__ == "__main__":
    generate()
