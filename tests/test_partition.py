"""trialeval.partition_extract: a flat extract split by person into a partitioned Parquet dataset."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import trialeval.partition as partition_module
from trialeval import partition_extract
from trialeval.exceptions import InputDataError
from trialeval.partition import part_of

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


def fnv1a(text: str) -> int:
    """FNV-1a 64 written out byte by byte: the reference for the vectorised hash."""
    h = 0xCBF29CE484222325
    for b in text.encode("utf-8"):
        h = ((h ^ b) * 0x100000001B3) % 2**64
    return h


def test_part_of_is_fnv1a_of_the_id_text():
    ids = ["P0000001", "a", "", "Ærø-7", "12345678901234567890", "x y"]
    expected = [fnv1a(s) % 13 for s in ids]
    assert part_of(pa.array(ids), 13).tolist() == expected
    # numbers are their digits, blanks around an id do not move it, floats that are whole are integers
    assert part_of(pa.array([17, 4]), 13).tolist() == [fnv1a("17") % 13, fnv1a("4") % 13]
    assert part_of(pa.array([17.0, None]), 13).tolist() == [fnv1a("17") % 13, 0]
    assert part_of(pa.array([" 17 "]), 13).tolist() == [fnv1a("17") % 13]


def _parts(folder: Path, name: str) -> dict[int, pd.DataFrame]:
    return {int(p.name.split("=")[1]): pd.read_parquet(p / "part.parquet") for p in sorted((folder / name).iterdir())}


def test_sample_split_keeps_each_person_in_one_part(tmp_path):
    out = tmp_path / "data"
    res = partition_extract(SAMPLE / "ledger.csv", SAMPLE / "spells.csv", out, parts=5)
    ledger, spells = pd.read_csv(SAMPLE / "ledger.csv", dtype=str), pd.read_csv(SAMPLE / "spells.csv", dtype=str)
    lparts, sparts = _parts(out, "ledger"), _parts(out, "spells")
    assert sorted(lparts) == sorted(sparts) == list(range(5))
    for k in range(5):
        assert all(fnv1a(i) % 5 == k for i in lparts[k]["person_id"])
        assert all(fnv1a(i) % 5 == k for i in sparts[k]["person_id"])
        assert res.ledger_rows[k] == len(lparts[k]) and res.spells_rows[k] == len(sparts[k])
    assert sorted(pd.concat(lparts.values())["person_id"]) == sorted(ledger["person_id"])
    # the spells are passed through unchanged (CSV as text), every row once
    back = pd.concat(sparts.values()).fillna("").sort_values(list(spells.columns)).reset_index(drop=True)
    assert back.equals(spells.fillna("").sort_values(list(spells.columns)).reset_index(drop=True))
    manifest = json.loads((out / "partition.json").read_text())
    assert manifest["parts"] == 5 and manifest["ledger"]["rows"] == len(ledger)
    assert manifest["spells"]["sha256"] == hashlib.sha256((SAMPLE / "spells.csv").read_bytes()).hexdigest()
    assert manifest["ledger"]["rows_per_part"] == res.ledger_rows.tolist()
    assert [p.name for p in tmp_path.iterdir()] == ["data"]          # no temporary folder left


def test_default_parts_hold_about_a_million_spells(tmp_path, monkeypatch):
    monkeypatch.setattr(partition_module, "PART_SPELLS", 4000)
    res = partition_extract(SAMPLE / "ledger.csv", SAMPLE / "spells.csv", tmp_path / "d")
    assert res.parts == -(-13_558 // 4000)


def test_output_folder_rules(tmp_path):
    args = (SAMPLE / "ledger.csv", SAMPLE / "spells.csv")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(InputDataError, match="not empty and not a partitioned dataset"):
        partition_extract(*args, tmp_path / "busy", parts=2, force=True)
    assert (tmp_path / "busy" / "notes.txt").read_text() == "mine"
    partition_extract(*args, tmp_path / "d", parts=2)
    with pytest.raises(InputDataError, match="pass --force"):
        partition_extract(*args, tmp_path / "d", parts=3)
    assert partition_extract(*args, tmp_path / "d", parts=3, force=True).parts == 3
    assert len(list((tmp_path / "d" / "ledger").iterdir())) == 3
    with pytest.raises(InputDataError, match="holds the input"):
        partition_extract(*args, SAMPLE, parts=2)
    with pytest.raises(InputDataError, match="parts must be"):
        partition_extract(*args, tmp_path / "e", parts=0)


def test_bad_spell_row_names_file_row_and_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(partition_module, "BATCH_ROWS", 1000)
    spells = pd.read_csv(SAMPLE / "spells.csv", dtype=str)
    spells.loc[2500, "end_date"] = "2015-01-01"               # before its start, in the third batch
    pq.write_table(pa.Table.from_pandas(spells, preserve_index=False), tmp_path / "spells.parquet")
    with pytest.raises(InputDataError, match=r"spells.parquet: column 'end_date' is before start_date in 1 row \(row 2501\)"):
        partition_extract(SAMPLE / "ledger.csv", tmp_path / "spells.parquet", tmp_path / "d", parts=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spells.parquet"]
    # with drop_bad_rows the row is left to the panel, which drops it into its rejects
    partition_extract(SAMPLE / "ledger.csv", tmp_path / "spells.parquet", tmp_path / "d", parts=3,
                      drop_bad_rows=True)


def test_bad_ledger_row_names_the_file_row(tmp_path, monkeypatch):
    monkeypatch.setattr(partition_module, "BATCH_ROWS", 1000)
    ledger = pd.read_csv(SAMPLE / "ledger.csv", dtype=str).drop(columns=["wave", "stratum"])
    ledger.loc[3000, "arm"] = "placebo"
    ledger.to_parquet(tmp_path / "ledger.parquet")
    with pytest.raises(InputDataError, match=r"ledger.parquet: column 'arm' must be 'treatment' or 'control' in 1 row \(row 3001\)"):
        partition_extract(tmp_path / "ledger.parquet", SAMPLE / "spells.csv", tmp_path / "d", parts=2)
    ledger.loc[3000, "arm"] = "control"
    ledger.loc[3500, "person_id"] = ledger.loc[10, "person_id"]            # a duplicate in another batch
    ledger.to_parquet(tmp_path / "ledger.parquet")
    with pytest.raises(InputDataError, match="person_id' must be unique"):
        partition_extract(tmp_path / "ledger.parquet", SAMPLE / "spells.csv", tmp_path / "d", parts=2)
    assert not (tmp_path / "d").exists()


def test_missing_column_and_renames(tmp_path):
    spells = pd.read_csv(SAMPLE / "spells.csv", dtype=str).rename(columns={"person_id": "pnr"})
    spells.to_csv(tmp_path / "spells.csv", index=False)
    with pytest.raises(InputDataError, match="person_id"):
        partition_extract(SAMPLE / "ledger.csv", tmp_path / "spells.csv", tmp_path / "d", parts=2)
    res = partition_extract(SAMPLE / "ledger.csv", tmp_path / "spells.csv", tmp_path / "d", parts=2,
                            columns={"person_id": "pnr"})
    assert "person_id" in pq.read_schema(tmp_path / "d" / "spells" / "part=000" / "part.parquet").names
    assert int(res.spells_rows.sum()) == len(spells)


def test_ledger_written_by_draw_is_checked_against_its_manifest(tmp_path):
    for name in ("ledger.csv", "ledger.manifest.jsonl"):
        (tmp_path / name).write_bytes((SAMPLE / name).read_bytes())
    with open(tmp_path / "ledger.csv", "a") as fh:
        fh.write("P999999,treatment,2016-03-01,Holstebro,w1|Holstebro|gender=M|age=30-45,1,,False,,\n")
    with pytest.raises(InputDataError, match="differs from"):
        partition_extract(tmp_path / "ledger.csv", SAMPLE / "spells.csv", tmp_path / "d", parts=2)
