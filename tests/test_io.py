from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trialeval.exceptions import InputDataError
from trialeval.io import (
    atomic_write,
    describe_rows,
    read_ledger,
    read_population,
    read_table,
    write_table,
)

DATA = Path(__file__).parent / "data"


@pytest.fixture
def pop() -> pd.DataFrame:
    return pd.DataFrame({"person_id": ["007", "010", "003"], "municipality": ["A", "B", "A"],
                         "age": [31.0, 45.0, 52.0]})


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".dta", ".xlsx"])
def test_population_reads_by_extension_and_sorts(tmp_path, pop, suffix):
    path = tmp_path / f"pop{suffix}"
    if suffix == ".csv":
        pop.to_csv(path, index=False)
    elif suffix == ".parquet":
        pop.to_parquet(path)
    elif suffix == ".dta":
        pop.to_stata(path, write_index=False)
    else:
        pop.to_excel(path, index=False)
    out = read_population(path)
    assert out["person_id"].tolist() == ["003", "007", "010"]
    assert out["age"].tolist() == [52.0, 31.0, 45.0]


def test_sas_file_is_read_with_column_mapping():
    # written by tests/data/make_population_sas.R (haven::write_sas)
    out = read_population(DATA / "population.sas7bdat", rename={"municipality": "kommune"})
    assert out["person_id"].tolist() == ["003", "007", "010"]
    assert out["municipality"].tolist() == ["A", "A", "B"]
    assert out["age"].tolist() == [52.0, 31.0, 45.0]


def test_numeric_ids_from_stata_lose_their_decimal(tmp_path):
    path = tmp_path / "pop.dta"
    pd.DataFrame({"person_id": [12.0, 5.0], "municipality": ["A", "B"]}).to_stata(path, write_index=False)
    assert read_population(path)["person_id"].tolist() == ["12", "5"]


def test_column_rename(tmp_path):
    path = tmp_path / "pop.csv"
    pd.DataFrame({"pnr": ["1"], "kommune": ["A"]}).to_csv(path, index=False)
    out = read_population(path, rename={"person_id": "pnr", "municipality": "kommune"})
    assert out.columns.tolist() == ["person_id", "municipality"]


def test_unsupported_and_missing_files(tmp_path):
    with pytest.raises(InputDataError, match="unsupported file type '.txt'"):
        read_table(tmp_path / "x.txt")
    with pytest.raises(InputDataError, match="file not found"):
        read_table(tmp_path / "x.csv")


def test_population_contract_errors(tmp_path):
    path = tmp_path / "pop.csv"
    pd.DataFrame({"person_id": ["1", "2"]}).to_csv(path, index=False)
    with pytest.raises(InputDataError, match="pop.csv: required column\\(s\\) 'municipality' missing"):
        read_population(path)
    pd.DataFrame({"person_id": ["1", None, "3"], "municipality": ["A", "A", "A"]}).to_csv(path, index=False)
    with pytest.raises(InputDataError, match="'person_id' is empty in 1 row \\(row 2\\)"):
        read_population(path)


def test_ledger_contract_errors(tmp_path):
    path = tmp_path / "ledger.csv"
    base = {"person_id": ["a", "b", "c"], "arm": ["treatment", "control", "control"],
            "visitation_date": ["2016-03-01", "2016-03-01", "2016-03-08"]}
    pd.DataFrame({**base, "arm": ["treatment", "placebo", "Control"]}).to_csv(path, index=False)
    with pytest.raises(InputDataError, match="'arm' must be 'treatment' or 'control' in 2 rows \\(rows 2, 3\\)"):
        read_ledger(path)
    pd.DataFrame({**base, "visitation_date": ["2016-03-01", "01/03/2016", "2016-13-01"]}).to_csv(path, index=False)
    with pytest.raises(InputDataError, match="'visitation_date' is not a date YYYY-MM-DD in 2 rows \\(rows 2, 3\\)"):
        read_ledger(path)
    pd.DataFrame(base).to_csv(path, index=False)
    ok = read_ledger(path)
    assert ok["excluded"].tolist() == [False] * 3 and ok["followup_end"].isna().all()


def test_describe_rows_caps_at_ten():
    assert describe_rows(np.arange(12)) == "12 rows (rows 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, … 2 more)"


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("old\n")
    with pytest.raises(RuntimeError):
        with atomic_write(path) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert path.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["out.csv"]


def test_write_table_formats(tmp_path):
    df = pd.DataFrame({"d": pd.to_datetime(["2016-03-01", None]), "x": [0.1, 2.0]})
    write_table(df, tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_text() == "d,x\n2016-03-01,0.1\n,2.0\n"
    write_table(df, tmp_path / "t.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "t.parquet"), df, check_dtype=False)
    with pytest.raises(InputDataError, match="cannot write '.json'"):
        write_table(df, tmp_path / "t.json")
