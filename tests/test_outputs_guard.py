"""Outputs never destroy inputs or a trial; ids are exact; spells that fit no ledger are loud."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from trialeval import InputDataError, build_panel
from trialeval.config import load_config
from trialeval.demo import MARKER, check_demo_folder, run_demo
from trialeval.draw import run_draw, run_exclude
from trialeval.io import (
    atomic_write,
    check_outputs,
    read_ledger,
    read_ledger_table,
    read_population,
    trial_file_kind,
    write_table,
    write_text,
)
from trialeval.panel import write_panel


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones too) with its SHA-256."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


LEDGER_CSV = "person_id,arm,visitation_date\n0000123,treatment,2016-03-01\n0000456,control,2016-03-01\n"


# --------------------------------------------------------------------------------------------------
# check_outputs: an output is never an input, a ledger or a manifest
# --------------------------------------------------------------------------------------------------

def test_an_output_that_is_an_input_is_refused_however_it_is_spelled(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("pop.csv").write_text("person_id,municipality\n1,A\n")
    (tmp_path / "sub").mkdir()
    os.symlink(tmp_path / "pop.csv", tmp_path / "link.csv")
    os.link(tmp_path / "pop.csv", tmp_path / "hard.csv")
    for spelled in ("pop.csv", "./pop.csv", "sub/../pop.csv", str(tmp_path / "pop.csv"), "link.csv", "hard.csv"):
        with pytest.raises(InputDataError, match=rf"^--out {re.escape(str(Path(spelled)))}: is the input "
                                                 r"--population \(pop.csv\); an output never replaces an input"):
            check_outputs({"--out": spelled}, {"--population": "pop.csv"})
    check_outputs({"--out": "balance.csv"}, {"--population": "pop.csv"})      # another name is fine
    assert sorted(os.listdir(tmp_path)) == ["hard.csv", "link.csv", "pop.csv", "sub"]


def test_an_existing_ledger_or_manifest_is_never_an_output(tmp_path):
    (tmp_path / "trial.manifest.jsonl").write_text('{"wave": 1}\n')
    (tmp_path / "trial.csv").write_text("anything\n1\n")               # a ledger because its manifest is beside it
    (tmp_path / "assignments.csv").write_text(LEDGER_CSV)              # a ledger by its columns
    pd.read_csv(tmp_path / "assignments.csv", dtype=str).to_parquet(tmp_path / "assignments.parquet")
    pd.read_csv(tmp_path / "assignments.csv", dtype=str).to_excel(tmp_path / "assignments.xlsx", index=False)
    (tmp_path / "renamed.csv").write_text(LEDGER_CSV.replace("person_id", "pnr"))
    cases = {
        "trial.manifest.jsonl": "is a randomisation manifest",
        "trial.csv": r"is a randomisation ledger \(its manifest trial.manifest.jsonl is beside it\)",
        "assignments.csv": r"is a randomisation ledger \(it has the columns person_id, arm and visitation_date\)",
        "assignments.parquet": r"is a randomisation ledger \(it has the columns person_id, arm and visitation_date\)",
        "assignments.xlsx": r"is a randomisation ledger \(it has the columns person_id, arm and visitation_date\)",
    }
    before = snapshot(tmp_path)
    for name, words in cases.items():
        with pytest.raises(InputDataError, match=rf"^--plot {tmp_path / name}: {words}; an output never "
                                                 "replaces a trial's ledger or manifest"):
            check_outputs([("--plot", tmp_path / name)])
    # the config's column names count too
    check_outputs([("--out", tmp_path / "renamed.csv")])
    with pytest.raises(InputDataError, match="renamed.csv: is a randomisation ledger"):
        check_outputs([("--out", tmp_path / "renamed.csv")], columns={"person_id": "pnr"})
    # an ordinary earlier output is replaced as always
    (tmp_path / "balance.csv").write_text("covariate,smd\nage,0.1\n")
    check_outputs([("--out", tmp_path / "balance.csv"), ("--out", None)])
    assert snapshot(tmp_path) == {**before, "balance.csv": snapshot(tmp_path)["balance.csv"]}
    assert trial_file_kind(tmp_path / "balance.csv") is None and trial_file_kind(tmp_path / "nope.csv") is None


def test_a_folder_or_a_second_output_of_the_same_name_is_refused(tmp_path):
    (tmp_path / "out.csv").mkdir()
    with pytest.raises(InputDataError, match=r"--out .*out.csv: is a folder, not a file"):
        check_outputs({"--out": tmp_path / "out.csv"})
    with pytest.raises(InputDataError, match=r"--flows .*costs.csv: is also the output --out; two outputs"):
        check_outputs([("--out", tmp_path / "costs.csv"), ("--flows", tmp_path / "x" / ".." / "costs.csv")])


# --------------------------------------------------------------------------------------------------
# An unwritable output folder is an input error before anything is written
# --------------------------------------------------------------------------------------------------

def test_an_output_under_a_file_is_refused_before_anything_is_written(tmp_path):
    (tmp_path / "somefile.csv").write_text("a\n1\n")
    before = snapshot(tmp_path)
    for target in (tmp_path / "somefile.csv" / "out.csv", tmp_path / "somefile.csv" / "deeper" / "out.csv"):
        with pytest.raises(InputDataError, match=rf"--out {target}: {tmp_path / 'somefile.csv'} is a file, "
                                                 "not a folder; nothing was written"):
            check_outputs([("--out", tmp_path / "fine.csv"), ("--out", target)])
        # the writers say the same without a traceback, and leave nothing behind
        with pytest.raises(InputDataError, match="somefile.csv is a file, not a folder; nothing was written"):
            write_table(pd.DataFrame({"a": [1]}), target)
    assert snapshot(tmp_path) == before and sorted(os.listdir(tmp_path)) == ["somefile.csv"]


def test_a_folder_without_write_permission_is_named(tmp_path, monkeypatch):
    # Tests may run as root, whom chmod does not stop: the permission answer is simulated.
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == tmp_path / "ro" else
                        real_access(p, mode, **kw))
    (tmp_path / "ro").mkdir()
    with pytest.raises(InputDataError, match=rf"--out {tmp_path / 'ro' / 'new' / 'x.csv'}: no permission to "
                                             rf"write in the folder {tmp_path / 'ro'}; nothing was written"):
        check_outputs({"--out": tmp_path / "ro" / "new" / "x.csv"})
    assert not (tmp_path / "ro" / "new").exists()


def test_a_read_only_file_system_is_named(tmp_path, monkeypatch):
    real_statvfs = os.statvfs

    class ReadOnly:
        def __init__(self, path):
            self.f_flag = real_statvfs(path).f_flag | os.ST_RDONLY

    monkeypatch.setattr(os, "statvfs", lambda p: ReadOnly(p) if Path(p) == tmp_path else real_statvfs(p))
    with pytest.raises(InputDataError, match=rf"--plot .*fig.png: the folder {tmp_path} is on a read-only file "
                                             "system; nothing was written"):
        check_outputs([("--out", tmp_path.parent / "fine.csv"), ("--plot", tmp_path / "fig.png")])


def test_a_refused_temporary_file_becomes_an_input_error(tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(InputDataError, match=rf"--out .*x.csv: no permission to write in the folder {tmp_path}"):
        check_outputs({"--out": tmp_path / "x.csv"})
    with pytest.raises(InputDataError, match=rf"x.csv: no permission to write in the folder {tmp_path}; "
                                             "nothing was written"):
        write_text("hello", tmp_path / "x.csv")
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc")
def test_a_folder_no_one_can_write_in_is_refused_even_for_root():
    with pytest.raises(InputDataError, match=r"--out /proc/self/trialeval_out.csv: .*(permission|cannot write)"):
        check_outputs({"--out": "/proc/self/trialeval_out.csv"})
    with pytest.raises(InputDataError, match="nothing was written"):
        write_text("x", "/proc/self/trialeval_out.csv")


def test_atomic_write_refuses_a_folder_and_keeps_the_old_file_on_failure(tmp_path):
    (tmp_path / "out.csv").mkdir()
    with pytest.raises(InputDataError, match=r"out.csv: is a folder, not a file"):
        write_text("x", tmp_path / "out.csv")
    (tmp_path / "keep.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_write(tmp_path / "keep.txt") as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert (tmp_path / "keep.txt").read_text() == "old" and sorted(os.listdir(tmp_path)) == ["keep.txt", "out.csv"]


# --------------------------------------------------------------------------------------------------
# A replaced file keeps its permissions
# --------------------------------------------------------------------------------------------------

def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_rewritten_file_keeps_its_mode_and_a_new_one_gets_the_umask(tmp_path):
    target = tmp_path / "t.csv"
    write_table(pd.DataFrame({"a": [1]}), target)
    umask = os.umask(0)
    os.umask(umask)
    assert mode(target) == 0o666 & ~umask
    for wanted in (0o640, 0o600, 0o664):
        os.chmod(target, wanted)
        write_table(pd.DataFrame({"a": [2]}), target)
        assert mode(target) == wanted and target.read_text() == "a\n2\n"


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_draw_and_exclude_keep_the_ledgers_permissions(small_trial, suffix):
    ledger = small_trial["dir"] / f"ledger{suffix}"
    manifest = small_trial["dir"] / "ledger.manifest.jsonl"
    run_draw(small_trial["population"], small_trial["config"], ledger, ["North=4"], "2016-03-01")
    os.chmod(ledger, 0o640)
    os.chmod(manifest, 0o600)
    run_draw(small_trial["population"], small_trial["config"], ledger, ["South=2"], "2016-03-08")
    assert mode(ledger) == 0o640 and mode(manifest) == 0o600
    assert len(read_ledger(ledger)) == 12
    person = read_ledger(ledger)["person_id"].iloc[0]
    os.chmod(ledger, 0o604)
    run_exclude(ledger, person, "health", "2016-04-01")
    assert mode(ledger) == 0o604 and read_ledger(ledger)["excluded"].sum() == 1


# --------------------------------------------------------------------------------------------------
# Ids are exact
# --------------------------------------------------------------------------------------------------

def test_population_and_ledger_ids_with_surrounding_spaces_are_errors(tmp_path):
    pop = tmp_path / "population.csv"
    pop.write_text("person_id,municipality\n001,A\n002 ,A\n003,B\n\t004,B\n")
    with pytest.raises(InputDataError, match=r"^.*population.csv: column 'person_id' has leading or trailing "
                                             r"spaces in 2 rows \(rows 2, 4\) \(e.g. '002 '\)"):
        read_population(pop)
    for suffix in (".csv", ".parquet"):
        ledger = tmp_path / f"ledger{suffix}"
        frame = pd.DataFrame({"person_id": ["0000123", " 0000456"], "arm": ["treatment", "control"],
                              "visitation_date": ["2016-03-01", "2016-03-01"]})
        frame.to_csv(ledger, index=False) if suffix == ".csv" else frame.to_parquet(ledger)
        for read in (read_ledger, read_ledger_table):
            with pytest.raises(InputDataError, match=rf"ledger{suffix}: column 'person_id' has leading or "
                                                     r"trailing spaces in 1 row \(row 2\) \(e.g. ' 0000456'\)"):
                read(ledger)
    # an id that is only spaces is still "empty", and ids without spaces pass
    pop.write_text("person_id,municipality\n001,A\n  ,A\n")
    with pytest.raises(InputDataError, match=r"column 'person_id' is empty in 1 row \(row 2\)"):
        read_population(pop)


def spells_frame(ids, start="2016-03-02", end="2016-03-20") -> pd.DataFrame:
    return pd.DataFrame({"person_id": ids, "spell_type": "internship", "start_date": start, "end_date": end})


def test_spell_ids_with_spaces_are_errors_in_csv_and_in_the_arrow_path(tmp_path):
    ledger = pd.DataFrame({"person_id": ["a1", "a2"], "arm": ["treatment", "control"],
                           "visitation_date": "2016-03-01"})
    spells = spells_frame(["a1", "a2", "a2 ", "a1"])
    spells.to_csv(tmp_path / "spells.csv", index=False)
    pq.write_table(pa.Table.from_pandas(spells.astype({"start_date": "datetime64[ms]",
                                                        "end_date": "datetime64[ms]"})),
                   tmp_path / "spells.parquet")
    for name in ("spells.csv", "spells.parquet"):
        with pytest.raises(InputDataError, match=rf"{name}: column 'person_id' has leading or trailing spaces "
                                                 r"in 1 row \(row 3\) \(e.g. 'a2 '\)"):
            build_panel(ledger, tmp_path / name, "2016-03-31", weeks=4)
        dropped = build_panel(ledger, tmp_path / name, "2016-03-31", weeks=4, drop_bad_rows=True)
        assert dropped.rejects["reason"].tolist() == ["person_id has leading or trailing spaces"]
        assert dropped.rejects["row"].tolist() == [3] and dropped.n_spells_used == 3


# --------------------------------------------------------------------------------------------------
# Spells that fit too few ledger persons stop the panel
# --------------------------------------------------------------------------------------------------

def zero_ledger(n: int = 8) -> pd.DataFrame:
    return pd.DataFrame({"person_id": [f"{100 + i:07d}" for i in range(n)],
                         "arm": ["treatment", "control"] * (n // 2), "visitation_date": "2016-03-01"})


def test_lost_leading_zeros_are_named_with_an_example(tmp_path):
    ledger = zero_ledger()
    spells = spells_frame([str(100 + i) for i in range(8)] + ["0000107"])
    out = tmp_path / "panel.parquet"
    with pytest.raises(InputDataError) as err:
        build_panel(ledger, spells.assign(), "2016-03-31", weeks=4, out=out)
    text = str(err.value)
    assert text.startswith("spells: only 1 of the 8 persons in ledger (12.5 %) have any spell; at least 50 % "
                           "must have one (min_matched_share).")
    assert "8 spells of 8 persons are not in the ledger, e.g. '100', '101', '102', '103', '104', …" in text
    assert "Ledger persons without any spell: 7, e.g. '0000100', '0000101', '0000102', '0000103', '0000104', …" in text
    assert ("Likely cause: 7 of the 8 spell ids not in the ledger equal a ledger id once leading zeros are "
            "ignored (e.g. spell id '100' and ledger id '0000100')") in text
    assert "--min-matched-share" in text and "[analysis] min_matched_share" in text
    assert not list(tmp_path.iterdir())                         # nothing written
    # the leading zeros the other way round (spells keep them, the ledger lost them)
    with pytest.raises(InputDataError, match=r"no spell matches any of the 2 persons.*spell id '0000100' and "
                                             r"ledger id '100'"):
        build_panel(pd.DataFrame({"person_id": ["100", "101"], "arm": ["treatment", "control"],
                                  "visitation_date": "2016-03-01"}), spells_frame(["0000100"]), "2016-03-31")


def test_different_id_columns_are_recognised_by_their_shape():
    ledger = pd.DataFrame({"person_id": [f"P{i:06d}" for i in range(6)], "arm": ["treatment", "control"] * 3,
                           "visitation_date": "2016-03-01"})
    spells = spells_frame([f"{3101801234 + i}" for i in range(6)])
    with pytest.raises(InputDataError) as err:
        build_panel(ledger, spells, "2016-03-31", weeks=4)
    text = str(err.value)
    assert text.startswith("spells: no spell matches any of the 6 persons in ledger;")
    assert ("no id is shared and the ids look different: spell ids are 10 characters, digits only, ledger ids "
            "are 7 characters, starting with 'P'. The files probably hold different id columns") in text
    assert "e.g. '3101801234', '3101801235'" in text and "e.g. 'P000000', 'P000001'" in text
    # alike ids from another extract: said so
    with pytest.raises(InputDataError, match=r"no id is shared, though both look alike \(7 characters, "
                                             r"starting with 'P'\)"):
        build_panel(ledger, spells_frame([f"P{i:06d}" for i in range(50, 56)]), "2016-03-31", weeks=4)


def test_case_and_dropped_padded_rows_are_named_as_causes():
    ledger = pd.DataFrame({"person_id": ["p01", "p02", "p03"], "arm": ["treatment", "control", "control"],
                           "visitation_date": "2016-03-01"})
    with pytest.raises(InputDataError, match=r"2 of the 2 spell ids not in the ledger equal a ledger id once "
                                             r"upper and lower case are ignored \(e.g. spell id 'P01' and ledger "
                                             r"id 'p01'\)"):
        build_panel(ledger, spells_frame(["P01", "P02", "p03"]), "2016-03-31", weeks=4, min_matched_share=0.5)
    with pytest.raises(InputDataError, match=r"Likely cause: 2 spell rows were dropped because their person_id "
                                             r"has leading or trailing spaces \(see the rejects file\)"):
        build_panel(ledger, spells_frame([" p01", "p02 ", "p03"]), "2016-03-31", weeks=4, drop_bad_rows=True)


def test_the_share_is_configurable_and_its_boundary_passes():
    ledger = zero_ledger(8)
    four = spells_frame(list(ledger["person_id"][:4]))
    assert build_panel(ledger, four, "2016-03-31", weeks=4).n_spells_used == 4          # exactly 50 %
    with pytest.raises(InputDataError, match=r"only 3 of the 8 persons in ledger \(37.5 %\) have any spell; "
                                             r"at least 50 % must have one.*Likely cause: the spells cover only part"):
        build_panel(ledger, four.iloc[:3], "2016-03-31", weeks=4)
    assert build_panel(ledger, four.iloc[:3], "2016-03-31", weeks=4, min_matched_share=0.375).n_spells_used == 3
    with pytest.raises(InputDataError, match=r"only 4 of the 8 .* at least 60 % must have one"):
        build_panel(ledger, four, "2016-03-31", weeks=4, min_matched_share=0.6)
    assert build_panel(ledger, four.iloc[:0], "2016-03-31", weeks=4, min_matched_share=0).n_spells_used == 0
    with pytest.raises(InputDataError, match="spells: holds no spells, so none of the 8 persons"):
        build_panel(ledger, four.iloc[:0], "2016-03-31", weeks=4)
    for bad in (1.5, -0.1, "half", True, None):
        with pytest.raises(InputDataError, match=rf"min_matched_share must be a share from 0 to 1.*{bad!r}"):
            build_panel(ledger, four, "2016-03-31", weeks=4, min_matched_share=bad)


def test_the_config_key_is_accepted(tmp_path):
    cfg = tmp_path / "trial.toml"
    cfg.write_text("[trial]\nseed = 1\ntreatment_share = 0.5\n[analysis]\nmin_matched_share = 0.25\n")
    assert load_config(cfg).analysis["min_matched_share"] == 0.25


def test_build_panel_and_write_panel_never_replace_their_inputs(tmp_path):
    ledger = tmp_path / "ledger.csv"
    ledger.write_text(LEDGER_CSV)
    spells = tmp_path / "spells.csv"
    spells_frame(["0000123", "0000456"]).to_csv(spells, index=False)
    before = snapshot(tmp_path)
    with pytest.raises(InputDataError, match=r"--out .*spells.csv: is the input --spells"):
        build_panel(ledger, spells, "2016-03-31", weeks=4, out=spells)
    (tmp_path / "p_at_risk.csv").symlink_to(ledger)         # the side file would replace the ledger
    with pytest.raises(InputDataError, match=r"--out \(number at risk beside it\) .*p_at_risk.csv: is the input "
                                             r"--ledger"):
        build_panel(ledger, spells, "2016-03-31", weeks=4, out=tmp_path / "p.csv")
    (tmp_path / "p_at_risk.csv").unlink()
    assert snapshot(tmp_path) == before
    result = build_panel(ledger, spells, "2016-03-31", weeks=4)
    with pytest.raises(InputDataError, match=r"path .*ledger.csv: is the input --ledger"):
        write_panel(result, ledger)
    assert snapshot(tmp_path) == before


# --------------------------------------------------------------------------------------------------
# The demo's folder
# --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo_run(small_trial_data, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("demo_guard") / "out"
    run_demo(out, small_trial_data)
    return out


def test_the_demo_lists_what_it_wrote_and_runs_again_over_its_own_folder(demo_run, small_trial_data, tmp_path):
    marker = json.loads((demo_run / MARKER).read_text())
    assert marker["written_by"] == "trialeval demo"
    files = marker["files"]
    assert {"ledger.csv", "ledger.manifest.jsonl", "trial.toml", "report.html", "panel.parquet"} <= set(files)
    assert all(files[name] == hashlib.sha256((demo_run / name).read_bytes()).hexdigest() for name in files)
    assert set(files) | {MARKER} == {p.name for p in demo_run.iterdir()}
    # A copy of the folder with an unrelated file of the user's: the demo runs again, redraws the same
    # ledger, and leaves the user's file alone (and out of its list).
    again = tmp_path / "again"
    shutil.copytree(demo_run, again)
    (again / "notes.txt").write_text("mine")
    result = run_demo(again, small_trial_data)
    assert (again / "ledger.csv").read_bytes() == (demo_run / "ledger.csv").read_bytes()
    assert (again / "notes.txt").read_text() == "mine" and again / "notes.txt" not in result.files
    assert "notes.txt" not in json.loads((again / MARKER).read_text())["files"]


@pytest.mark.parametrize("case", ["foreign ledger", "edited ledger", "foreign config", "foreign manifest",
                                  "ledger-named file", "toml-named file", "no marker"])
def test_the_demo_refuses_a_folder_holding_a_trial_it_did_not_write(demo_run, small_trial_data, tmp_path, case):
    target = tmp_path / "out"
    shutil.copytree(demo_run, target)
    expected = {
        "foreign ledger": r"old_trial.csv is a randomisation ledger \(it has the columns person_id, arm and "
                          r"visitation_date\) that the demo did not write",
        "edited ledger": r"ledger.csv is a randomisation ledger \(its manifest ledger.manifest.jsonl is beside "
                         r"it\) that has changed since the demo wrote it \(an interrupted run or an edit\)",
        "foreign config": r"study.toml is a trial config that the demo did not write",
        "foreign manifest": r"other.manifest.jsonl is a randomisation manifest that the demo did not write",
        "ledger-named file": r"ledger.csv is a file the demo would replace with its ledger that the demo did not "
                             r"write \(there is no demo_files.json listing the demo's files here\)",
        "toml-named file": r"trial.toml is a file the demo would replace with its trial config that the demo did "
                           "not write",
        "no marker": r"ledger.csv is a randomisation ledger .* that the demo did not write \(there is no "
                     r"demo_files.json listing the demo's files here\)",
    }[case]
    if case == "foreign ledger":
        shutil.copyfile(small_trial_data / "ledger.csv", target / "old_trial.csv")
    elif case == "edited ledger":
        with open(target / "ledger.csv", "a") as fh:
            fh.write("X99999,treatment,2016-03-08,Bigtown,s,2,,False,,\n")
    elif case == "foreign config":
        (target / "study.toml").write_text("[trial]\nseed = 5\ntreatment_share = 0.5\n")
    elif case == "foreign manifest":
        (target / "other.manifest.jsonl").write_text("{}\n")
    elif case == "ledger-named file":
        shutil.rmtree(target)
        target.mkdir()
        (target / "ledger.csv").write_text("my,own\n1,2\n")
    elif case == "toml-named file":
        shutil.rmtree(target)
        target.mkdir()
        (target / "trial.toml").write_text("[costs]\nwage = 1\n")
        (target / MARKER).write_text(json.dumps({"files": {}}))
    else:
        (target / MARKER).unlink()
    before = snapshot(target)
    with pytest.raises(InputDataError, match=rf"^--dir {target}: {expected}; the demo never replaces or deletes "
                                             "a trial. Choose another --dir"):
        run_demo(target, small_trial_data)
    assert snapshot(target) == before                     # nothing written or deleted


def test_the_demo_refuses_the_sample_folder_itself_and_a_file(small_trial_data, tmp_path):
    before = snapshot(small_trial_data)
    with pytest.raises(InputDataError, match=r"is a randomisation ledger .*that the demo did not write"):
        check_demo_folder(small_trial_data, small_trial_data)
    assert snapshot(small_trial_data) == before
    (tmp_path / "f").write_text("x")
    with pytest.raises(InputDataError, match=r"--dir .*f: is a file, not a folder"):
        run_demo(tmp_path / "f", small_trial_data)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / MARKER).write_text("not json")
    with pytest.raises(InputDataError, match=rf"--dir .*{MARKER}: is not the demo's list of its files"):
        run_demo(bad, small_trial_data)
    assert sorted(os.listdir(bad)) == [MARKER]
