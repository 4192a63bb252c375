from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trialeval.config import TrialConfig
from trialeval.draw import (
    assign_within_blocks,
    draw,
    exclude,
    manifest_path,
    read_manifest,
    run_draw,
    run_exclude,
    stratum_labels,
    verify,
)
from trialeval.exceptions import DesignError, InputDataError
from trialeval.io import read_ledger


def population(n: int, sites: int = 2) -> pd.DataFrame:
    return pd.DataFrame({
        "person_id": [f"p{i:05d}" for i in range(n)],
        "municipality": [f"M{i % sites}" for i in range(n)],
        "gender": np.where(np.arange(n) % 2 == 0, "F", "M"),
        "age": 30 + np.arange(n) % 30,
    })


# --- the block rule -----------------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 15), min_size=1, max_size=8),
    share=st.sampled_from([0.5, 1 / 3, 0.25, 0.6, 0.7]),
    seed=st.integers(0, 2**32 - 1),
)
def test_each_block_treats_floor_or_ceiling_of_np(sizes, share, seed):
    blocks = np.repeat([f"b{i}" for i in range(len(sizes))], sizes)
    treated = assign_within_blocks(blocks, share, np.random.default_rng(seed))
    for i, n in enumerate(sizes):
        count = int(treated[blocks == f"b{i}"].sum())
        assert count in (math.floor(n * share + 1e-12), math.ceil(n * share - 1e-12))


def test_every_person_has_probability_exactly_p():
    # blocks of 1, 3 and 5 at p = 0.5 and a block of 4 at p = 1/3: n·p is fractional in each
    blocks = np.repeat(["a", "b", "c", "d"], [1, 3, 5, 4])
    reps = 4_000
    for share in (0.5, 1 / 3):
        hits = np.zeros(len(blocks))
        for seed in range(reps):
            hits += assign_within_blocks(blocks, share, np.random.default_rng(seed))
        rate = hits / reps
        mc_se = math.sqrt(share * (1 - share) / reps)
        # 5 Monte-Carlo SEs (≤ 0.04) per person: a rule that always rounds down or up is off by ≥ 0.1
        np.testing.assert_array_less(np.abs(rate - share), 5 * mc_se)


def test_fractional_block_rounds_up_with_probability_equal_to_the_fraction():
    blocks = np.array(["a"] * 3)  # 3 × 0.5 = 1.5: treat 1 or 2, each half the time
    counts = [int(assign_within_blocks(blocks, 0.5, np.random.default_rng(s)).sum()) for s in range(4000)]
    assert set(counts) == {1, 2}
    assert abs(np.mean(np.array(counts) == 2) - 0.5) < 0.03


# --- one wave ----------------------------------------------------------------------------------

def test_wave_draws_ceil_n_over_share_per_municipality_and_splits_within_blocks():
    cfg = TrialConfig(seed=5, treatment_share=0.5, strata_columns=("gender",))
    result = draw(population(100), cfg, {"M0": 7, "M1": 3}, "2016-03-01")
    rows = result.wave_rows
    assert rows.groupby("municipality").size().to_dict() == {"M0": 14, "M1": 6}
    per_block = rows.groupby(["stratum", "arm"]).size().unstack(fill_value=0)
    sizes = per_block.sum(axis=1)
    assert ((per_block["treatment"] == np.floor(sizes / 2)) | (per_block["treatment"] == np.ceil(sizes / 2))).all()
    assert set(rows["stratum"].str.split("|").str[0]) == {"w1"}
    assert (rows["visitation_date"] == pd.Timestamp("2016-03-01")).all()
    assert rows["person_id"].is_monotonic_increasing


def test_ceil_uses_exact_arithmetic_for_a_third():
    cfg = TrialConfig(seed=5, treatment_share=1 / 3)
    result = draw(population(100, sites=1), cfg, {"M0": 10}, "2016-03-01")
    assert len(result.wave_rows) == 30  # 10 / (1/3) is 30, not 31 from 30.000000000000004


def test_input_order_does_not_change_the_draw():
    cfg = TrialConfig(seed=11, treatment_share=0.5, strata_columns=("gender",))
    pop = population(80)
    a = draw(pop, cfg, {"M0": 5, "M1": 5}, "2016-03-01").wave_rows
    b = draw(pop.sample(frac=1, random_state=3), cfg, {"M1": 5, "M0": 5}, "2016-03-01").wave_rows
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))


def test_second_wave_never_redraws_or_reassigns():
    cfg = TrialConfig(seed=3, treatment_share=0.5)
    pop = population(60, sites=1)
    first = draw(pop, cfg, {"M0": 10}, "2016-03-01")
    second = draw(pop, cfg, {"M0": 10}, "2016-03-08", first.ledger)
    assert second.wave == 2
    assert not set(first.wave_rows["person_id"]) & set(second.wave_rows["person_id"])
    pd.testing.assert_frame_equal(second.ledger.iloc[: len(first.ledger)], first.ledger)


def test_stratum_labels_bands_are_left_closed():
    cfg = TrialConfig(seed=1, treatment_share=0.5, bands={"age": (30.0, 40.0, 50.0)})
    labels = stratum_labels(pd.DataFrame({"age": [29, 30, 39, 40, 50, 77, None]}), cfg, "pop")
    assert labels.tolist() == ["age<30", "age=30-40", "age=30-40", "age=40-50", "age>=50", "age>=50", "age=NA"]


@pytest.mark.parametrize("requests, message", [
    ({"M0": 40}, "request larger than the pool"),
    ({"Nowhere": 1}, "unknown municipality 'Nowhere'"),
    ({"M0": 0}, "whole number ≥ 1"),
    (["M0"], "is not MUNICIPALITY=N"),
])
def test_impossible_requests_are_design_errors(requests, message):
    cfg = TrialConfig(seed=1, treatment_share=0.5)
    with pytest.raises(DesignError, match=message):
        draw(population(60), cfg, requests, "2016-03-01")


def test_missing_stratum_column_is_an_error():
    cfg = TrialConfig(seed=1, treatment_share=0.5, strata_columns=("education",))
    with pytest.raises(InputDataError, match="stratum column\\(s\\) 'education'"):
        draw(population(20), cfg, {"M0": 2}, "2016-03-01")


def test_duplicate_person_ids_name_the_rows():
    pop = population(12)
    pop.loc[7, "person_id"] = pop.loc[2, "person_id"]
    with pytest.raises(InputDataError, match=r"person_id' must be unique; duplicates in 2 rows \(rows 3, 8\)"):
        draw(pop, TrialConfig(seed=1, treatment_share=0.5), {"M0": 1}, "2016-03-01")


# --- files: append, manifest, atomicity, verify, exclude -------------------------------------------

def test_run_draw_appends_and_keeps_earlier_bytes(small_trial):
    t = small_trial
    run_draw(t["population"], t["config"], t["ledger"], ["North=5", "South=3"], "2016-03-01")
    first_bytes = t["ledger"].read_bytes()
    run_draw(t["population"], t["config"], t["ledger"], ["North=4"], "2016-03-08")
    assert t["ledger"].read_bytes().startswith(first_bytes)
    ledger = read_ledger(t["ledger"])
    assert ledger["wave"].tolist().count(1) == 16 and ledger["wave"].tolist().count(2) == 8
    manifest = read_manifest(manifest_path(t["ledger"]))
    assert [e["wave"] for e in manifest] == [1, 2]
    assert manifest[1]["requests"] == {"North": 4} and manifest[1]["seed"] == 99
    assert manifest[0]["counts"] == {"treatment": int((ledger.query("wave == 1")["arm"] == "treatment").sum()),
                                     "control": int((ledger.query("wave == 1")["arm"] == "control").sum())}
    assert len(manifest[0]["population_sha256"]) == 64 and len(manifest[0]["config_sha256"]) == 64
    # ages 25 + 7i mod 40 fail "age >= 30" for 5 of every 40 (25); of the 20 not ready, 5 already failed → 15
    assert [r["removed"] for r in manifest[0]["eligibility"]] == [25, 15]


@pytest.mark.parametrize("request_text", ["North=500", "Atlantis=1"])
def test_failed_draw_leaves_ledger_and_manifest_byte_for_byte(small_trial, request_text):
    t = small_trial
    run_draw(t["population"], t["config"], t["ledger"], ["North=5"], "2016-03-01")
    before = (t["ledger"].read_bytes(), manifest_path(t["ledger"]).read_bytes())
    with pytest.raises(DesignError):
        run_draw(t["population"], t["config"], t["ledger"], [request_text], "2016-03-08")
    assert (t["ledger"].read_bytes(), manifest_path(t["ledger"]).read_bytes()) == before
    assert sorted(p.name for p in t["dir"].iterdir()) == [
        "ledger.csv", "ledger.csv.lock", "ledger.manifest.jsonl", "population.csv", "trial.toml"]
    assert (t["dir"] / "ledger.csv.lock").read_bytes() == b""   # the lock file holds nothing


def test_first_wave_that_fails_creates_no_files(small_trial):
    t = small_trial
    with pytest.raises(DesignError):
        run_draw(t["population"], t["config"], t["ledger"], ["North=500"], "2016-03-01")
    assert not t["ledger"].exists() and not manifest_path(t["ledger"]).exists()


def test_same_seed_gives_byte_identical_ledger(small_trial, tmp_path_factory):
    t = small_trial
    other = tmp_path_factory.mktemp("again") / "ledger.csv"
    for ledger in (t["ledger"], other):
        run_draw(t["population"], t["config"], ledger, ["North=6", "South=4"], "2016-03-01")
        run_draw(t["population"], t["config"], ledger, ["South=5"], "2016-03-08")
    assert t["ledger"].read_bytes() == other.read_bytes()
    assert manifest_path(t["ledger"]).read_bytes() == manifest_path(other).read_bytes()


def test_parquet_ledger_round_trip(small_trial):
    t = small_trial
    ledger = t["dir"] / "ledger.parquet"
    run_draw(t["population"], t["config"], ledger, ["North=6"], "2016-03-01")
    run_draw(t["population"], t["config"], ledger, ["South=2"], "2016-03-08")
    assert verify(t["population"], t["config"], ledger).ok
    assert len(read_ledger(ledger)) == 16


def test_verify_confirms_and_then_finds_a_swapped_arm(small_trial):
    t = small_trial
    run_draw(t["population"], t["config"], t["ledger"], ["North=6", "South=4"], "2016-03-01")
    run_draw(t["population"], t["config"], t["ledger"], ["North=3"], "2016-03-08")
    ok = verify(t["population"], t["config"], t["ledger"])
    assert ok.ok and ok.waves_checked == 2 and ok.n_persons == 26
    ledger = pd.read_csv(t["ledger"], dtype=str, keep_default_na=False)
    target = ledger.index[ledger["wave"] == "2"][0]
    ledger.loc[target, "arm"] = "control" if ledger.loc[target, "arm"] == "treatment" else "treatment"
    ledger.to_csv(t["ledger"], index=False)
    bad = verify(t["population"], t["config"], t["ledger"])
    assert not bad.ok
    assert bad.problems[0].startswith(f"wave 2: person {ledger.loc[target, 'person_id']} has arm")


def test_verify_notices_a_changed_population_or_design(small_trial):
    t = small_trial
    run_draw(t["population"], t["config"], t["ledger"], ["North=6"], "2016-03-01")
    t["config"].write_text(t["config"].read_text().replace("seed = 99", "seed = 100"))
    assert "another design" in verify(t["population"], t["config"], t["ledger"]).problems[0]
    t["config"].write_text(t["config"].read_text().replace("seed = 100", "seed = 99"))
    with open(t["population"], "a") as fh:
        fh.write("zz9999,North,F,40,True\n")
    assert "SHA-256" in verify(t["population"], t["config"], t["ledger"]).problems[0]


def test_verify_notices_a_deleted_row(small_trial):
    t = small_trial
    run_draw(t["population"], t["config"], t["ledger"], ["North=6"], "2016-03-01")
    lines = t["ledger"].read_text().splitlines(keepends=True)
    t["ledger"].write_text("".join(lines[:3] + lines[4:]))
    result = verify(t["population"], t["config"], t["ledger"])
    assert not result.ok and "the ledger holds 11 persons, the replay draws 12" in result.problems[0]


def test_exclusion_is_recorded_and_keeps_the_row(small_trial):
    t = small_trial
    run_draw(t["population"], t["config"], t["ledger"], ["North=6"], "2016-03-01")
    before = t["ledger"].read_text().splitlines()
    person = read_ledger(t["ledger"])["person_id"].iat[4]
    run_exclude(t["ledger"], person, "prison", "2016-04-02")
    after = t["ledger"].read_text().splitlines()
    changed = [i for i, (a, b) in enumerate(zip(before, after)) if a != b]
    assert len(after) == len(before) and changed == [5]
    row = read_ledger(t["ledger"]).set_index("person_id").loc[person]
    assert bool(row["excluded"]) and row["exclusion_reason"] == "prison"
    assert row["exclusion_date"] == pd.Timestamp("2016-04-02")
    assert verify(t["population"], t["config"], t["ledger"]).ok  # an exclusion is not a reassignment
    with pytest.raises(InputDataError, match="already excluded"):
        run_exclude(t["ledger"], person, "health")
    with pytest.raises(InputDataError, match="'nobody' is not in the ledger"):
        run_exclude(t["ledger"], "nobody", "health")


def test_exclude_needs_a_reason():
    led = pd.DataFrame({"person_id": ["a"], "excluded": [False]})
    with pytest.raises(InputDataError, match="reason"):
        exclude(led, "a", "  ")


def test_sample_ledger_verifies_against_its_population(sample_dir):
    result = verify(sample_dir / "population.csv", sample_dir / "trial.toml", sample_dir / "ledger.csv")
    assert result.ok and result.waves_checked == 42 and result.n_persons == 4704


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(48, 120),  # ≥ 16 per site: two waves of up to 4 places each always fit
    first=st.dictionaries(st.sampled_from(["M0", "M1", "M2"]), st.integers(1, 4), min_size=1),
    second=st.dictionaries(st.sampled_from(["M0", "M1", "M2"]), st.integers(1, 4), min_size=1),
    seed=st.integers(0, 2**31),
)
def test_waves_are_reproducible_and_append_only(n, first, second, seed):
    cfg = TrialConfig(seed=seed, treatment_share=0.5, strata_columns=("gender",), bands={"age": (40.0,)})
    pop = population(n, sites=3)
    one = draw(pop, cfg, first, "2016-03-01")
    again = draw(pop.iloc[::-1], cfg, first, "2016-03-01")
    pd.testing.assert_frame_equal(one.ledger.reset_index(drop=True), again.ledger.reset_index(drop=True))
    two = draw(pop, cfg, second, "2016-03-08", one.ledger)
    # the first wave's rows are untouched and nobody is drawn twice
    pd.testing.assert_frame_equal(two.ledger.iloc[: len(one.ledger)], one.ledger)
    assert two.ledger["person_id"].is_unique
    assert (two.wave_rows["wave"] == 2).all()
    for muni, places in second.items():
        assert (two.wave_rows["municipality"] == muni).sum() == 2 * places
