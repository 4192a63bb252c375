"""The ledger cannot be corrupted: one writer at a time, ledger and manifest in step, one design per trial."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import threading
import time

import pandas as pd
import pytest

from trialeval.balance import run_balance
from trialeval.draw import (
    GENESIS_SHA256,
    _raise_if_out_of_step,
    check_ledger_manifest,
    ledger_lock,
    line_sha256,
    lock_path,
    manifest_path,
    read_manifest,
    run_draw,
    run_exclude,
    verify,
    written_by_draw,
)
from trialeval.exceptions import DesignError, InputDataError, TrialevalError
from trialeval.io import read_ledger, sha256_file
from trialeval.panel import build_panel


def draw(t, requests, date, **kw):
    return run_draw(t["population"], t["config"], t["ledger"], requests, date, **kw)


def state(t) -> dict[str, bytes]:
    """Every file of the trial folder, by name (lock file aside)."""
    return {p.name: p.read_bytes() for p in sorted(t["dir"].iterdir()) if not p.name.endswith(".lock")}


def spells_for(t):
    path = t["dir"] / "spells.csv"
    ids = read_ledger(t["ledger"])["person_id"] if t["ledger"].exists() else ["id0001"]
    pd.DataFrame({"person_id": list(ids), "spell_type": "benefit", "start_date": "2016-01-01",
                  "end_date": "2016-06-30"}).to_csv(path, index=False)
    return path


# --- 1. one writer at a time -----------------------------------------------------------------------------

WORKER = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from trialeval.draw import run_draw, run_exclude
    from trialeval.exceptions import TrialevalError
    go = Path(sys.argv[1])
    while not go.exists():
        time.sleep(0.005)
    kind, pop, cfg, ledger, arg, date = sys.argv[2:8]
    try:
        if kind == "draw":
            run_draw(pop, cfg, ledger, [arg], date, lock_timeout=120)
        else:
            run_exclude(ledger, arg, "health", date, lock_timeout=120)
    except TrialevalError as exc:
        print(exc, file=sys.stderr)
        sys.exit(1)
""")


def test_concurrent_draws_and_exclusions_are_serialised(small_trial):
    t = small_trial
    draw(t, ["North=6", "South=4"], "2016-03-01")
    first = read_ledger(t["ledger"])["person_id"].tolist()
    go = t["dir"] / "go"
    jobs = [("draw", f"{site}=2", f"2016-03-{day:02d}") for site, day in
            (("North", 8), ("South", 9), ("North", 10), ("South", 11), ("North", 12))]
    jobs += [("exclude", person, "2016-03-20") for person in first[:4]]
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(go), kind, str(t["population"]),
                               str(t["config"]), str(t["ledger"]), arg, date],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for kind, arg, date in jobs]
    time.sleep(4)          # let every worker import trialeval and wait at the start line
    go.touch()
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0] * len(jobs), [err for _, err in results]

    ledger = read_ledger(t["ledger"])
    assert sorted(ledger["wave"].unique().tolist()) == [1, 2, 3, 4, 5, 6]
    assert ledger["person_id"].is_unique and len(ledger) == 20 + 5 * 4
    assert sorted(ledger.groupby("wave")["visitation_date"].nunique().tolist()) == [1] * 6
    assert set(ledger.loc[ledger["excluded"], "person_id"]) == set(first[:4])
    manifest = read_manifest(manifest_path(t["ledger"]))
    draws = [e for e in manifest if e["event"] == "draw"]
    assert [e["wave"] for e in draws] == [1, 2, 3, 4, 5, 6]
    assert sorted(e["person_id"] for e in manifest if e["event"] == "exclude") == sorted(first[:4])
    check_ledger_manifest(t["ledger"])
    result = verify(t["population"], t["config"], t["ledger"])
    assert result.ok and result.waves_checked == 6, result.problems


def test_a_second_writer_waits_then_fails_with_a_clear_message(small_trial):
    t = small_trial
    draw(t, ["North=3"], "2016-03-01")
    before = state(t)
    person = read_ledger(t["ledger"])["person_id"].iat[0]
    with ledger_lock(t["ledger"]):
        started = time.perf_counter()
        with pytest.raises(TrialevalError, match=r"ledger.csv: another draw or exclusion is writing this "
                                                 r"ledger; waited 0.3 s"):
            draw(t, ["North=3"], "2016-03-08", lock_timeout=0.3)
        assert time.perf_counter() - started >= 0.3
        with pytest.raises(TrialevalError, match="another draw or exclusion is writing this ledger"):
            run_exclude(t["ledger"], person, "health", "2016-03-09", lock_timeout=0)
    assert state(t) == before
    assert lock_path(t["ledger"]).name == "ledger.csv.lock"
    draw(t, ["North=3"], "2016-03-08", lock_timeout=0)        # released: the next writer goes ahead


# --- 2. ledger and manifest in step ------------------------------------------------------------------------

def test_each_manifest_line_chains_to_the_previous_and_hashes_its_ledger(small_trial):
    t = small_trial
    draw(t, ["North=3"], "2016-03-01")
    after_first = sha256_file(t["ledger"])
    person = read_ledger(t["ledger"])["person_id"].iat[2]
    run_exclude(t["ledger"], person, "prison", "2016-03-05")
    draw(t, ["South=2"], "2016-03-08")
    lines = manifest_path(t["ledger"]).read_text(encoding="utf-8").splitlines()
    entries = [json.loads(line) for line in lines]
    assert [e["event"] for e in entries] == ["draw", "exclude", "draw"]
    assert entries[0]["previous_sha256"] == GENESIS_SHA256 == "0" * 64
    assert entries[1]["previous_sha256"] == line_sha256(lines[0])
    assert entries[2]["previous_sha256"] == line_sha256(lines[1])
    assert entries[0]["ledger_sha256"] == after_first
    assert entries[2]["ledger_sha256"] == sha256_file(t["ledger"])
    assert {k: entries[1][k] for k in ("person_id", "reason", "date")} == {
        "person_id": person, "reason": "prison", "date": "2016-03-05"}
    assert entries[1]["ledger_sha256"] not in (entries[0]["ledger_sha256"], entries[2]["ledger_sha256"])


class Crash(Exception):
    """Stands for the process being killed."""


def crash_at_rename(monkeypatch, number):
    """Make the ``number``-th ``os.replace`` from now on fail, as if the process were killed there."""
    real, calls = os.replace, []

    def replace(src, dst):
        calls.append(dst)
        if len(calls) == number:
            raise Crash(f"killed before renaming onto {dst}")
        return real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    return calls


def every_reader_stops(t, message):
    """draw, exclude, verify, panel and balance each stop with ``message``; nothing is written."""
    before = state(t)
    person = read_ledger(t["ledger"])["person_id"].iat[0]
    spells = spells_for(t)
    before["spells.csv"] = spells.read_bytes()
    with pytest.raises(InputDataError, match=message):
        draw(t, ["South=2"], "2016-03-22")
    with pytest.raises(InputDataError, match=message):
        run_exclude(t["ledger"], person, "moved", "2016-03-23")
    with pytest.raises(InputDataError, match=message):
        build_panel(t["ledger"], spells, "2016-06-30", weeks=4)
    with pytest.raises(InputDataError, match=message):
        run_balance(t["ledger"], t["dir"] / "balance.csv", covariates=["age"])
    try:
        problems = verify(t["population"], t["config"], t["ledger"]).problems
    except InputDataError as exc:          # no manifest at all: nothing to replay
        problems = (str(exc),)
    assert any(re.search(message, p) for p in problems), problems
    assert state(t) == before


def test_a_draw_killed_between_the_two_renames_is_named_and_never_continued(small_trial, monkeypatch):
    t = small_trial
    draw(t, ["North=3"], "2016-03-01")
    draw(t, ["South=2"], "2016-03-08")
    ledger_before = t["ledger"].read_bytes()
    calls = crash_at_rename(monkeypatch, 2)
    with pytest.raises(Crash):
        draw(t, ["North=2"], "2016-03-15")
    monkeypatch.undo()
    assert [c.name for c in calls] == ["ledger.manifest.jsonl", "ledger.csv"]   # manifest first, then ledger
    assert t["ledger"].read_bytes() == ledger_before
    mpath = manifest_path(t["ledger"])
    expected = (f"{t['ledger']}: the last event (wave 3, date 2016-03-15) was recorded in the manifest but its "
                f"ledger was never written; the ledger is as after the previous event; to recover, remove the "
                f"last line of {mpath} and run the draw again")
    with pytest.raises(InputDataError) as info:
        check_ledger_manifest(t["ledger"])
    assert str(info.value) == expected
    every_reader_stops(t, "wave 3, date 2016-03-15\\) was recorded in the manifest but its ledger was never")

    # the recovery the message gives works and ends where an uninterrupted run would
    lines = mpath.read_text(encoding="utf-8").splitlines(keepends=True)
    mpath.write_text("".join(lines[:-1]), encoding="utf-8")
    draw(t, ["North=2"], "2016-03-15")
    assert verify(t["population"], t["config"], t["ledger"]).ok
    assert read_ledger(t["ledger"])["wave"].max() == 3


def test_a_reader_between_a_writers_two_renames_waits_for_the_writer(small_trial):
    t = small_trial
    draw(t, ["North=3"], "2016-03-01")
    after_first = t["ledger"].read_bytes()
    draw(t, ["South=2"], "2016-03-08")
    complete = t["ledger"].read_bytes()
    outcome = []
    with ledger_lock(t["ledger"]):                 # a writer that has renamed the manifest, not yet the ledger
        t["ledger"].write_bytes(after_first)
        with pytest.raises(InputDataError, match="was recorded in the manifest but its ledger was never written"):
            _raise_if_out_of_step(t["ledger"])  # what a reader sees at this moment
        reader = threading.Thread(target=lambda: outcome.append(check_ledger_manifest(t["ledger"]) or "in step"))
        reader.start()
        time.sleep(0.5)
        assert reader.is_alive() and not outcome     # the reader waits for the writer ...
        t["ledger"].write_bytes(complete)            # ... which renames its ledger and lets go
    reader.join(timeout=30)
    assert outcome == ["in step"]


def test_a_kill_at_the_first_rename_leaves_both_files_as_they_were(small_trial, monkeypatch):
    t = small_trial
    draw(t, ["North=3"], "2016-03-01")
    before = state(t)
    crash_at_rename(monkeypatch, 1)
    with pytest.raises(Crash):
        draw(t, ["North=2"], "2016-03-08")
    crash_at_rename(monkeypatch, 1)
    with pytest.raises(Crash):
        run_exclude(t["ledger"], read_ledger(t["ledger"])["person_id"].iat[0], "moved", "2016-03-09")
    monkeypatch.undo()
    assert state(t) == before
    check_ledger_manifest(t["ledger"])


def test_a_first_draw_killed_between_the_renames(small_trial, monkeypatch):
    t = small_trial
    crash_at_rename(monkeypatch, 2)
    with pytest.raises(Crash):
        draw(t, ["North=3"], "2016-03-01")
    monkeypatch.undo()
    assert not t["ledger"].exists() and manifest_path(t["ledger"]).exists()
    with pytest.raises(InputDataError, match=r"the last event \(wave 1, date 2016-03-01\) was recorded in the "
                                             r"manifest but its ledger .* was never written; to recover, "
                                             r"delete .*ledger.manifest.jsonl"):
        draw(t, ["North=3"], "2016-03-01")
    manifest_path(t["ledger"]).unlink()
    draw(t, ["North=3"], "2016-03-01")
    assert verify(t["population"], t["config"], t["ledger"]).ok


def test_an_exclusion_killed_between_the_renames(small_trial, monkeypatch):
    t = small_trial
    draw(t, ["North=3"], "2016-03-01")
    person = read_ledger(t["ledger"])["person_id"].iat[1]
    crash_at_rename(monkeypatch, 2)
    with pytest.raises(Crash):
        run_exclude(t["ledger"], person, "health", "2016-03-04")
    monkeypatch.undo()
    assert not read_ledger(t["ledger"])["excluded"].any()
    every_reader_stops(t, f"the last event \\(exclusion of {person}, date 2016-03-04\\) was recorded in the "
                          "manifest but its ledger was never written; the ledger is as after the previous event; "
                          "to recover, remove the last line of .* and run the exclusion again")


def test_a_hand_edited_ledger_is_caught(small_trial):
    t = small_trial
    draw(t, ["North=3"], "2016-03-01")
    draw(t, ["South=2"], "2016-03-08")
    text = t["ledger"].read_text()
    t["ledger"].write_text(text.replace(",treatment,", ",control,", 1))
    every_reader_stops(t, r"ledger.csv: its SHA-256 [0-9a-f]{16}… differs from the [0-9a-f]{16}… that line 2 "
                          r"of .* \(wave 2, date 2016-03-08\) recorded")
    problems = verify(t["population"], t["config"], t["ledger"]).problems
    assert problems[0].startswith("wave 1: person") and "has arm = control in the ledger" in problems[0]


def test_an_older_copy_of_the_ledger_put_back_is_named(small_trial):
    t = small_trial
    draw(t, ["North=3"], "2016-03-01")
    old = t["ledger"].read_bytes()
    draw(t, ["South=2"], "2016-03-08")
    draw(t, ["South=2"], "2016-03-15")
    t["ledger"].write_bytes(old)
    with pytest.raises(InputDataError, match=r"the ledger is as it was after line 1 of .*\(wave 1, date "
                                             r"2016-03-01\), but lines 2–3 record later events"):
        check_ledger_manifest(t["ledger"])


@pytest.mark.parametrize("line", [0, 1])
def test_an_edited_manifest_line_breaks_the_chain(small_trial, line):
    t = small_trial
    draw(t, ["North=3"], "2016-03-01")
    draw(t, ["South=2"], "2016-03-08")
    draw(t, ["North=2"], "2016-03-15")
    mpath = manifest_path(t["ledger"])
    lines = mpath.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[line] = lines[line].replace('"seed": 99', '"seed": 98')
    mpath.write_text("".join(lines), encoding="utf-8")
    every_reader_stops(t, f"the hash chain breaks at line {line + 2} .*line {line + 1} was edited, or lines were "
                          "removed or inserted")


def test_a_deleted_manifest_line_breaks_the_chain(small_trial):
    t = small_trial
    for site, date in (("North=3", "2016-03-01"), ("South=2", "2016-03-08"), ("North=2", "2016-03-15")):
        draw(t, [site], date)
    mpath = manifest_path(t["ledger"])
    lines = mpath.read_text(encoding="utf-8").splitlines(keepends=True)
    mpath.write_text(lines[0] + lines[2], encoding="utf-8")
    with pytest.raises(InputDataError, match="hash chain breaks at line 2 \\(wave 3, date 2016-03-15\\)"):
        check_ledger_manifest(t["ledger"])


def test_an_edited_last_manifest_line_is_caught_by_verify(small_trial):
    t = small_trial
    draw(t, ["North=3"], "2016-03-01")
    draw(t, ["South=2"], "2016-03-08")
    mpath = manifest_path(t["ledger"])
    lines = mpath.read_text(encoding="utf-8").splitlines(keepends=True)
    entry = json.loads(lines[-1])
    entry["counts"] = {"control": 1, "treatment": 3}
    mpath.write_text(lines[0] + json.dumps(entry, sort_keys=True) + "\n", encoding="utf-8")
    result = verify(t["population"], t["config"], t["ledger"])
    assert not result.ok
    assert any("line 2 (wave 2): counts differ from what the replay of that wave gives" in p
               for p in result.problems), result.problems
    entry["counts"] = {"control": 2, "treatment": 2}
    entry["seed"] = 7
    mpath.write_text(lines[0] + json.dumps(entry, sort_keys=True) + "\n", encoding="utf-8")
    problems = verify(t["population"], t["config"], t["ledger"]).problems
    assert any("seed differ" in p for p in problems), problems


def test_a_deleted_manifest_is_caught_for_a_ledger_draw_wrote(small_trial):
    t = small_trial
    draw(t, ["North=3"], "2016-03-01")
    assert written_by_draw(t["ledger"])
    manifest_path(t["ledger"]).unlink()
    every_reader_stops(t, r"ledger.csv: this ledger was written by trialeval draw \(its strata are named "
                          r"'w<wave>\|…'\), but its manifest .*ledger.manifest.jsonl is missing; restore")


def test_a_ledger_randomised_elsewhere_needs_no_manifest(small_trial):
    t = small_trial
    pd.DataFrame({"person_id": [f"e{i}" for i in range(20)],
                  "arm": ["treatment", "control"] * 10, "visitation_date": "2016-03-01",
                  "stratum": ["block A", "block B"] * 10, "wave": 1,
                  "age": range(30, 50)}).to_csv(t["ledger"], index=False)
    assert not written_by_draw(t["ledger"])
    check_ledger_manifest(t["ledger"])
    run_balance(t["ledger"], t["dir"] / "balance.csv", covariates=["age"])
    run_exclude(t["ledger"], "e3", "moved", "2016-04-01")
    assert not manifest_path(t["ledger"]).exists()
    with pytest.raises(InputDataError, match="has no manifest .*draw only appends to a ledger it started"):
        draw(t, ["North=3"], "2016-03-08")


# --- 3. one design in every wave ---------------------------------------------------------------------------

def set_config(t, old, new):
    t["config"].write_text(t["config"].read_text().replace(old, new))


@pytest.mark.parametrize("old, new, phrase", [
    ("seed = 99", "seed = 100", "seed 99 in waves 1–2, 100 now"),
    ("treatment_share = 0.5", "treatment_share = 0.6", "treatment_share 0.5 in waves 1–2, 0.6 now"),
    ('"age >= 30", ', "", 'rules [age >= 30, activation_ready == true] in waves 1–2, [activation_ready == true] now'),
    ('columns = ["gender"]', "columns = []", "strata_columns [gender] in waves 1–2, [] now"),
    ("age = [30, 45]", "age = [30, 50]", "bands {age = [30, 45]} in waves 1–2, {age = [30, 50]} now"),
])
def test_a_changed_design_is_an_error_naming_the_difference(small_trial, old, new, phrase):
    t = small_trial
    draw(t, ["North=3"], "2016-03-01")
    draw(t, ["South=2"], "2016-03-08")
    before = state(t)
    set_config(t, old, new)
    with pytest.raises(DesignError) as info:
        draw(t, ["North=2"], "2016-03-15")
    assert phrase in str(info.value) and "--design-change REASON" in str(info.value)
    assert state(t) == {**before, "trial.toml": t["config"].read_bytes()}


def test_several_differences_are_all_named(small_trial):
    t = small_trial
    draw(t, ["North=3"], "2016-03-01")
    set_config(t, "seed = 99", "seed = 5")
    set_config(t, "treatment_share = 0.5", "treatment_share = 0.25")
    with pytest.raises(DesignError, match="seed 99 in wave 1, 5 now; treatment_share 0.5 in wave 1, 0.25 now"):
        draw(t, ["North=1"], "2016-03-08")


def test_a_declared_design_change_is_recorded_and_verified(small_trial):
    t = small_trial
    draw(t, ["North=3"], "2016-03-01")
    draw(t, ["South=2"], "2016-03-08")
    set_config(t, "treatment_share = 0.5", "treatment_share = 0.25")
    set_config(t, "seed = 99", "seed = 123")
    with pytest.raises(DesignError, match="needs a reason"):
        draw(t, ["North=1"], "2016-03-15", design_change="  ")
    third = draw(t, ["North=1"], "2016-03-15", design_change="share lowered by the steering group")
    assert third.manifest_entry["design_change"] == "share lowered by the steering group"
    assert len(third.wave_rows) == 4 and third.manifest_entry["design"]["seed"] == 123
    fourth = draw(t, ["South=1"], "2016-03-22")             # the new design is now the trial's
    assert fourth.manifest_entry["design_change"] is None
    entries = read_manifest(manifest_path(t["ledger"]))
    assert [e["design"]["treatment_share"] for e in entries] == [0.5, 0.5, 0.25, 0.25]
    assert [e["design_change"] for e in entries] == [None, None, "share lowered by the steering group", None]
    # every wave is replayed with the design it recorded
    result = verify(t["population"], t["config"], t["ledger"])
    assert result.ok and result.waves_checked == 4, result.problems
    set_config(t, "seed = 123", "seed = 99")
    problems = verify(t["population"], t["config"], t["ledger"]).problems
    assert any("now gives another design than wave 4 was drawn with: seed 123 in wave 4, 99 now" in p
               for p in problems), problems
    with pytest.raises(DesignError, match="seed 123 in waves 3–4, 99 now"):
        draw(t, ["South=1"], "2016-03-29")


def test_each_wave_may_have_its_own_extract_and_verify_matches_them_by_hash(small_trial):
    t = small_trial
    first_pop = t["population"]
    draw(t, ["North=3"], "2016-03-01")
    april = t["dir"] / "population_april.csv"
    pop = pd.read_csv(first_pop)
    extra = pop.tail(30).assign(person_id=[f"new{i:03d}" for i in range(30)], age=40, activation_ready=True)
    pd.concat([pop, extra]).to_csv(april, index=False)
    run_draw(april, t["config"], t["ledger"], ["South=3"], "2016-04-05")
    entries = read_manifest(manifest_path(t["ledger"]))
    assert [e["population_sha256"] for e in entries] == [sha256_file(first_pop), sha256_file(april)]

    both = verify([first_pop, april], t["config"], t["ledger"])
    assert both.ok and both.waves_checked == 2, both.problems
    assert verify([april, first_pop], t["config"], t["ledger"]).ok
    only_march = verify(first_pop, t["config"], t["ledger"])
    assert not only_march.ok
    assert (f"wave 2 was drawn from a population file with SHA-256 {sha256_file(april)}, but no --population "
            f"file has it") in only_march.problems[0]
    only_april = verify([april], t["config"], t["ledger"])
    assert only_april.problems[0].startswith(f"wave 1 was drawn from a population file with SHA-256 "
                                             f"{sha256_file(first_pop)}")


# --- 4. exclude keeps every other row's bytes ----------------------------------------------------------------

def test_exclude_keeps_every_other_line_byte_for_byte(tmp_path):
    ledger = tmp_path / "ledger.csv"
    original = (
        "person_id,arm,visitation_date,excluded,exclusion_reason,exclusion_date,note\r\n"
        "a1,treatment,2016-03-01,yes,moved,2016-03-04,plain\r\n"
        "a2,control,2016-03-01,no,,,\"comma, inside\"\r\n"
        "a3,treatment,2016-03-01,0,,,\"two\nlines\"\r\n"
        "a4,control,2016-03-01,FALSE,,,x\r\n"
        "a5,control,2016-03-01,TRUE,health,2016-03-02,\"\"\"quoted\"\"\"\r\n"
        "a6,treatment,2016-03-01,1,prison,2016-03-03,y\r\n"
    )
    ledger.write_bytes(original.encode())
    run_exclude(ledger, "a4", "already_active", "2016-04-01")
    before = original.encode().split(b"\r\n")
    after = ledger.read_bytes().split(b"\r\n")
    assert len(after) == len(before)
    changed = [i for i, (x, y) in enumerate(zip(before, after)) if x != y]
    assert changed == [4]
    assert after[4] == b"a4,control,2016-03-01,True,already_active,2016-04-01,x"
    # the other spellings of "excluded" are untouched and still read as such
    assert read_ledger(ledger).set_index("person_id")["excluded"].to_dict() == {
        "a1": True, "a2": False, "a3": False, "a4": True, "a5": True, "a6": True}
    with pytest.raises(InputDataError, match="already excluded"):
        run_exclude(ledger, "a1", "health")


def test_a_manifest_of_an_earlier_version_is_continued_with_the_chain(small_trial):
    t = small_trial
    draw(t, ["North=3"], "2016-03-01")
    mpath = manifest_path(t["ledger"])
    old = json.loads(mpath.read_text(encoding="utf-8"))
    for key in ("event", "design", "design_change", "ledger_sha256", "previous_sha256"):
        del old[key]
    old_line = json.dumps(old, sort_keys=True)
    mpath.write_text(old_line + "\n", encoding="utf-8")
    check_ledger_manifest(t["ledger"])
    set_config(t, "seed = 99", "seed = 98")
    with pytest.raises(DesignError, match="the design .* of wave 1 differs"):
        draw(t, ["South=2"], "2016-03-08")
    set_config(t, "seed = 98", "seed = 99")
    draw(t, ["South=2"], "2016-03-08")
    entries = read_manifest(mpath)
    assert entries[1]["previous_sha256"] == line_sha256(old_line)
    assert verify(t["population"], t["config"], t["ledger"]).ok
