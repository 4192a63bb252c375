"""Generate the synthetic JobFirst-like sample trial in ``sample_data/``.

Run ``python sample_data/generate.py``: it writes ``population.csv``, draws the weekly waves from March to
December 2016 with :func:`trialeval.draw.run_draw` into ``ledger.csv`` (+ manifest), records a few
post-draw exclusions, and simulates register spells into ``spells.csv``. Everything comes from one fixed
seed, so running it again gives byte-identical files.

The true effect curves are written down in ``TRUE_CURVES`` below and tabulated in ``README.md``;
``true_curves()`` is importable so that tests can compare the pipeline's estimates with the truth.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from trialeval.draw import run_draw, run_exclude

HERE = Path(__file__).resolve().parent
SEED = 20160301
EXTRACTION_DATE = pd.Timestamp("2016-12-31")
FIRST_WAVE = pd.Timestamp("2016-03-01")
LAST_WAVE = pd.Timestamp("2016-12-13")
PLACES_PER_WEEK = 56
PRE_WEEKS = 26
PERSISTENCE = 0.85  # week-to-week probability that a state carries over (spells last ~7 weeks)

MUNICIPALITIES = {  # relative size of each site's pool of long-term recipients
    "Aarhus": 14, "Aalborg": 11, "Odense": 11, "Esbjerg": 7, "Randers": 6, "Kolding": 6, "Horsens": 5,
    "Vejle": 6, "Herning": 5, "Silkeborg": 5, "Holstebro": 4, "Viborg": 5, "Svendborg": 4,
    "Næstved": 5, "Slagelse": 6,
}
HOURS_VALUES = np.array([4.0, 8.0, 12.0, 16.0, 20.0, 25.0, 30.0, 37.0])
HOURS_PROBS = np.array([0.12, 0.16, 0.16, 0.14, 0.14, 0.10, 0.08, 0.10])
FULL_TIME_HOURS = 30.0  # a spell of at least this many hours a week takes the person off benefit


def _rise(base: float, gain: float, scale: float):
    return lambda k: base + gain * (1.0 - np.exp(-np.maximum(k, 0) / scale))


#: Share of persons in each state in week k since visitation (k ≥ 1), per arm.
TRUE_CURVES = {
    "in_internship": {"control": _rise(0.12, 0.04, 10.0), "treatment": _rise(0.12, 0.23, 8.0)},
    "in_wage_subsidy": {"control": _rise(0.02, 0.02, 20.0), "treatment": _rise(0.02, 0.06, 15.0)},
    "has_ordinary_hours": {"control": _rise(0.03, 0.045, 15.0), "treatment": _rise(0.03, 0.11, 20.0)},
}
MEAN_HOURS = float(HOURS_VALUES @ HOURS_PROBS)
SHARE_FULL_TIME = float(HOURS_PROBS[HOURS_VALUES >= FULL_TIME_HOURS].sum())


def true_curves(weeks: np.ndarray | None = None) -> pd.DataFrame:
    """Expected outcome per arm and week, and the true effect (treatment − control).

    ``ordinary_hours`` = share with hours × mean hours of a spell; ``self_supporting`` = share with hours
    × share of spells with ≥ 30 hours (those persons leave benefit in that week).
    """
    weeks = np.arange(1, 53) if weeks is None else np.asarray(weeks)
    rows = []
    for arm in ("treatment", "control"):
        hours_share = TRUE_CURVES["has_ordinary_hours"][arm](weeks)
        values = {name: curve[arm](weeks) for name, curve in TRUE_CURVES.items()}
        values["ordinary_hours"] = hours_share * MEAN_HOURS
        values["self_supporting"] = hours_share * SHARE_FULL_TIME
        for name, v in values.items():
            rows.append(pd.DataFrame({"outcome": name, "week": weeks, "arm": arm, "mean": v}))
    long = pd.concat(rows, ignore_index=True)
    wide = long.pivot_table(index=["outcome", "week"], columns="arm", values="mean").reset_index()
    wide["effect"] = wide["treatment"] - wide["control"]
    return wide.rename(columns={"treatment": "mean_treatment", "control": "mean_control"})[
        ["outcome", "week", "mean_treatment", "mean_control", "effect"]]


def make_population(rng: np.random.Generator, n: int = 12_000) -> pd.DataFrame:
    names = list(MUNICIPALITIES)
    weights = np.array(list(MUNICIPALITIES.values()), dtype=float)
    ids = rng.choice(np.arange(100_000, 1_000_000), size=n, replace=False)
    age = np.clip(np.round(rng.normal(44, 9.5, n)), 25, 64).astype(int)
    seniority = np.round(rng.gamma(2.2, 90, n)).astype(int) + 20
    return pd.DataFrame({
        "person_id": [f"P{i}" for i in ids],
        "municipality": rng.choice(names, size=n, p=weights / weights.sum()),
        "gender": rng.choice(["F", "M"], size=n, p=[0.46, 0.54]),
        "age": age,
        "benefit_seniority_weeks": seniority,
        "activation_ready": rng.random(n) < 0.86,
        "in_integration_programme": rng.random(n) < 0.07,
        "prior_lab_activation": rng.random(n) < 0.38,
        "prior_benefit": rng.random(n) < 0.62,
        "education": rng.choice(["basic", "upper_secondary", "vocational", "higher"], size=n,
                                p=[0.55, 0.10, 0.27, 0.08]),
        "origin": rng.choice(["danish", "western", "non_western"], size=n, p=[0.62, 0.06, 0.32]),
    }).sort_values("person_id", ignore_index=True)


def wave_requests(rng: np.random.Generator, remaining: pd.Series) -> dict[str, int]:
    """Places asked for this week: roughly proportional to each site's size, never beyond its pool."""
    weights = np.array([MUNICIPALITIES[m] for m in remaining.index], dtype=float)
    asked = rng.multinomial(PLACES_PER_WEEK, weights / weights.sum())
    capacity = (remaining.to_numpy() // 2) // 3  # leave room for later waves
    places = np.minimum(asked, capacity)
    return {m: int(p) for m, p in zip(remaining.index, places) if p > 0}


def _chain(rng: np.random.Generator, marginal: np.ndarray) -> np.ndarray:
    """A 0/1 Markov chain per row whose column-wise expectation equals ``marginal`` (rows × weeks).

    State k keeps state k−1 with probability ρ, else is a fresh Bernoulli(q_k) with
    q_k = (p_k − ρ p_{k−1}) / (1 − ρ), so that P(state_k = 1) = p_k exactly.
    """
    n, weeks = marginal.shape
    state = np.zeros((n, weeks), dtype=bool)
    state[:, 0] = rng.random(n) < marginal[:, 0]
    for k in range(1, weeks):
        fresh = (marginal[:, k] - PERSISTENCE * marginal[:, k - 1]) / (1 - PERSISTENCE)
        keep = rng.random(n) < PERSISTENCE
        state[:, k] = np.where(keep, state[:, k - 1], rng.random(n) < np.clip(fresh, 0, 1))
    return state


def _runs(state: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of True per row: (row, first column, last column)."""
    padded = np.pad(state.astype(np.int8), ((0, 0), (1, 1)))
    change = np.diff(padded, axis=1)
    r_start, c_start = np.nonzero(change == 1)
    r_end, c_end = np.nonzero(change == -1)
    return r_start, c_start, c_end - 1


def make_spells(rng: np.random.Generator, ledger: pd.DataFrame) -> pd.DataFrame:
    n = len(ledger)
    visitation = ledger["visitation_date"].to_numpy(dtype="datetime64[D]")
    treated = (ledger["arm"] == "treatment").to_numpy()
    weeks = np.arange(-PRE_WEEKS + 1, 53)  # week numbers of the simulated columns
    frames = []
    hours_spell = None
    for spell_type, curve_name in (("internship", "in_internship"), ("wage_subsidy", "in_wage_subsidy"),
                                   ("ordinary_hours", "has_ordinary_hours")):
        curves = TRUE_CURVES[curve_name]
        marginal = np.where(treated[:, None], curves["treatment"](weeks)[None, :],
                            curves["control"](weeks)[None, :])
        state = _chain(rng, marginal)
        row, first, last = _runs(state)
        start = visitation[row] + ((weeks[first] - 1) * 7).astype("timedelta64[D]")
        end = visitation[row] + ((weeks[last]) * 7 - 1).astype("timedelta64[D]")
        spell = pd.DataFrame({"row": row, "first": first, "last": last, "start_date": start, "end_date": end,
                              "spell_type": spell_type})
        if spell_type == "ordinary_hours":
            spell["hours_per_week"] = rng.choice(HOURS_VALUES, size=len(spell), p=HOURS_PROBS)
            hours_spell = spell
        else:
            # register spells rarely start on a Monday: jitter within the first and last week
            spell["start_date"] += rng.integers(0, 4, len(spell)).astype("timedelta64[D]")
            spell["end_date"] -= rng.integers(0, 4, len(spell)).astype("timedelta64[D]")
            spell["hours_per_week"] = np.nan
        spell["workplace_id"] = [f"W{w:05d}" for w in rng.integers(0, 40_000, len(spell))]
        frames.append(spell)

    # benefit: every week except those covered by an ordinary-hours spell of ≥ 30 hours
    assert hours_spell is not None
    off = np.zeros((n, len(weeks)), dtype=bool)
    full = hours_spell.loc[hours_spell["hours_per_week"] >= FULL_TIME_HOURS]
    lengths = (full["last"] - full["first"] + 1).to_numpy()
    cols = np.repeat(full["first"].to_numpy(), lengths) + (
        np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths))
    off[np.repeat(full["row"].to_numpy(), lengths), cols] = True
    row, first, last = _runs(~off)
    frames.append(pd.DataFrame({
        "row": row, "start_date": visitation[row] + ((weeks[first] - 1) * 7).astype("timedelta64[D]"),
        "end_date": visitation[row] + (weeks[last] * 7 - 1).astype("timedelta64[D]"),
        "spell_type": "benefit", "hours_per_week": np.nan, "workplace_id": None}))

    spells = pd.concat(frames, ignore_index=True)
    extraction = np.datetime64(EXTRACTION_DATE.date(), "D")
    spells = spells.loc[spells["start_date"] <= extraction].copy()
    spells["end_date"] = np.minimum(spells["end_date"].to_numpy(dtype="datetime64[D]"), extraction)
    spells["person_id"] = ledger["person_id"].to_numpy()[spells["row"].to_numpy()]
    spells = spells.sort_values(["person_id", "start_date", "spell_type"], kind="stable", ignore_index=True)
    for col in ("start_date", "end_date"):
        spells[col] = pd.to_datetime(spells[col]).dt.strftime("%Y-%m-%d")
    return spells[["person_id", "spell_type", "start_date", "end_date", "hours_per_week", "workplace_id"]]


#: The sample's DREAM status codes. EXAMPLES ONLY, made up for this synthetic trial: a real extract's codes
#: come from its register documentation (``dream_codes.toml`` says the same).
DREAM_EXAMPLE_CODES = {"internship": "651", "wage_subsidy": "621", "benefit": "130"}
#: When one ISO week holds several spell types, the type with most days wins; ties go to the earlier here.
DREAM_PRIORITY = ("internship", "wage_subsidy", "benefit")


def _days_by_cell(person: np.ndarray, start: np.ndarray, end: np.ndarray, cell_of_day, n_cells: int,
                  n_persons: int) -> np.ndarray:
    """persons × cells: the days each person's spells cover in each cell (a cell is a week or a month)."""
    lengths = (end - start + 1).astype(np.int64)
    day = np.repeat(start, lengths) + (np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths))
    return np.bincount(np.repeat(person, lengths) * n_cells + cell_of_day(day),
                       minlength=n_persons * n_cells).reshape(n_persons, n_cells)


def make_registers(ledger: pd.DataFrame, spells: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The same trial's spells as registers deliver them: a DREAM extract and eIndkomst hours.

    DREAM: one row per ledger person, one column per ISO week from the week of the first spell to the week
    of the extraction date, holding the code of the spell type with most days that week (none: empty).
    eIndkomst: per person, month and workplace, the month's ordinary hours (each spell's hours a week ×
    its days in the month / 7).
    """
    ids = ledger["person_id"].to_numpy()
    pos = pd.Index(ids).get_indexer(spells["person_id"])
    start = pd.to_datetime(spells["start_date"]).to_numpy(dtype="datetime64[D]").astype(np.int64)
    end = pd.to_datetime(spells["end_date"]).to_numpy(dtype="datetime64[D]").astype(np.int64)
    monday0 = int(start.min()) - (int(start.min()) + 3) % 7          # 1970-01-01 was a Thursday
    last = int(np.datetime64(EXTRACTION_DATE.date(), "D").astype(np.int64))
    n_weeks = (last - monday0) // 7 + 1
    days = np.stack([_days_by_cell(pos[m], start[m], end[m], lambda d: (d - monday0) // 7, n_weeks, len(ids))
                     for m in (spells["spell_type"].to_numpy() == t for t in DREAM_PRIORITY)])
    best = np.argmax(days, axis=0)                                     # ties: the first in DREAM_PRIORITY
    codes = np.array([DREAM_EXAMPLE_CODES[t] for t in DREAM_PRIORITY], dtype=object)[best]
    codes[days.max(axis=0) == 0] = ""
    mondays = (np.datetime64(monday0, "D") + 7 * np.arange(n_weeks)).astype(object)
    columns = [f"y_{d.isocalendar()[0]}_{d.isocalendar()[1]:02d}" for d in mondays]
    dream = pd.concat([pd.DataFrame({"person_id": ids}), pd.DataFrame(codes, columns=columns)], axis=1)

    hours = spells.loc[spells["spell_type"] == "ordinary_hours"].reset_index(drop=True)
    h_start = pd.to_datetime(hours["start_date"]).to_numpy(dtype="datetime64[D]")
    h_end = pd.to_datetime(hours["end_date"]).to_numpy(dtype="datetime64[D]")
    month0 = h_start.min().astype("datetime64[M]")
    n_months = int((h_end.max().astype("datetime64[M]") - month0).astype(np.int64)) + 1
    spell_days = _days_by_cell(np.arange(len(hours)), h_start.astype(np.int64), h_end.astype(np.int64),
                               lambda d: (d.astype("datetime64[D]").astype("datetime64[M]") - month0).astype(np.int64),
                               n_months, len(hours))
    spell, month = np.nonzero(spell_days)
    eindkomst = pd.DataFrame({
        "person_id": hours["person_id"].to_numpy()[spell],
        "month": (month0 + month).astype(str),
        "workplace_id": hours["workplace_id"].to_numpy()[spell],
        "hours": hours["hours_per_week"].to_numpy()[spell] * spell_days[spell, month] / 7.0,
    })
    eindkomst = (eindkomst.groupby(["person_id", "month", "workplace_id"], sort=True)["hours"].sum()
                 .reset_index()[["person_id", "month", "hours", "workplace_id"]])
    return dream, eindkomst


def generate(out_dir: Path = HERE) -> None:
    rng = np.random.default_rng(SEED)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        population = make_population(rng)
        population.to_csv(tmp / "population.csv", index=False, lineterminator="\n")
        shutil.copy(out_dir / "trial.toml", tmp / "trial.toml")
        eligible = population.loc[(population["age"] >= 30) & population["activation_ready"]
                                  & (population["benefit_seniority_weeks"] >= 52)
                                  & ~population["in_integration_programme"]]
        remaining = eligible.groupby("municipality").size().reindex(list(MUNICIPALITIES), fill_value=0)
        date = FIRST_WAVE
        while date <= LAST_WAVE:
            requests = wave_requests(rng, remaining)
            result = run_draw(tmp / "population.csv", tmp / "trial.toml", tmp / "ledger.csv", requests,
                              date.strftime("%Y-%m-%d"))
            drawn = result.wave_rows.groupby("municipality").size()
            remaining = remaining.sub(drawn, fill_value=0).astype(int)
            date += pd.Timedelta(days=7)
        ledger = pd.read_csv(tmp / "ledger.csv", dtype={"person_id": str}, parse_dates=["visitation_date"])
        # a handful of post-draw exclusions, recorded and kept (analyses are intention-to-treat)
        picked = np.sort(rng.choice(len(ledger), size=12, replace=False))
        reasons = ["already_active", "health", "prison", "moved"]
        for i, row in enumerate(picked):
            visit = ledger["visitation_date"].iat[row]
            run_exclude(tmp / "ledger.csv", ledger["person_id"].iat[row], reasons[i % len(reasons)],
                        (visit + pd.Timedelta(days=int(rng.integers(1, 15)))).strftime("%Y-%m-%d"))
        spells = make_spells(rng, ledger)
        spells.to_csv(tmp / "spells.csv", index=False, lineterminator="\n")
        dream, eindkomst = make_registers(ledger, spells)
        dream.to_csv(tmp / "dream.csv", index=False, lineterminator="\n")
        eindkomst.to_csv(tmp / "eindkomst.csv", index=False, lineterminator="\n")
        for name in ("population.csv", "ledger.csv", "ledger.manifest.jsonl", "spells.csv", "dream.csv",
                     "eindkomst.csv"):
            shutil.copy(tmp / name, out_dir / name)


if __name__ == "__main__":
    generate()
    ledger = pd.read_csv(HERE / "ledger.csv")
    print(f"population 12000, ledger {len(ledger)} ({ledger['arm'].value_counts().to_dict()}), "
          f"waves {ledger['wave'].max()}, spells {sum(1 for _ in open(HERE / 'spells.csv')) - 1}")
    print(f"mean hours of a spell {MEAN_HOURS:.3f}, share of spells ≥ {FULL_TIME_HOURS:g} h {SHARE_FULL_TIME:.3f}")
