"""Parquet parts encoded separately and joined into one file read back as their concatenation.

The panel writer encodes chunks of persons on several threads, each as a small Parquet file in memory,
and joins them (:class:`~trialeval.panel._parquet_join.JoinedParquet`): bytes copied, footer positions
moved. These tests check the footer codec byte for byte, the joined file in three readers (with
statistics, dictionaries, page indexes), the errors, and that the panel file is the same byte for byte
whatever the number of threads that encoded it.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_panel_file_roundtrip import EXTRACTION, _trial  # type: ignore[import-not-found]

import trialeval.panel as panel_module
from trialeval import build_panel
from trialeval.exceptions import InputDataError
from trialeval.panel._parquet_join import JoinedParquet, ParquetJoinError, _write_struct, footer_of


def _table(n: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    ids = [f"p{i:04d}" for i in np.sort(rng.integers(0, 10_000, n))]
    return pa.table({
        "person_id": pa.array(ids, pa.string()),
        "arm": pa.DictionaryArray.from_arrays(pa.array(rng.integers(0, 2, n).astype(np.int8)),
                                              pa.array(["treatment", "control"])),
        "week": pa.array(rng.integers(1, 105, n).astype(np.int16)),
        "flag": pa.array(rng.integers(0, 2, n).astype(np.int8)),
        "hours": pa.array(np.where(rng.random(n) < 0.3, rng.random(n) * 37, 0.0)),
    })


def _plain(table: pa.Table) -> dict[str, list[object]]:
    """The values of ``table`` column by column (arm as text: a file without the Arrow schema reads it so)."""
    return {name: table.column(name).cast(pa.string()).to_pylist() if name == "arm" else
            table.column(name).to_pylist() for name in table.column_names}


def _part(table: pa.Table, rows_per_group: int, **options: object) -> pa.Buffer:
    sink = pa.BufferOutputStream()
    with pq.ParquetWriter(sink, table.schema, store_schema=False, **options) as writer:  # type: ignore[arg-type]
        writer.write_table(table, row_group_size=rows_per_group)
    return sink.getvalue()


def _join(parts: list[pa.Buffer], path: Path, key_value: dict[str, bytes] | None = None) -> None:
    with open(path, "wb") as fh:
        joined = JoinedParquet(fh, key_value or {})
        for part in parts:
            joined.append(part)
        joined.close()


OPTIONS = [
    {"compression": "lz4", "use_dictionary": ["person_id", "arm"], "write_statistics": False},
    {"compression": "zstd", "write_statistics": True, "write_page_index": True},
    {"compression": "none", "use_dictionary": False, "data_page_version": "2.0", "data_page_size": 1000},
]


@pytest.mark.parametrize("options", OPTIONS)
def test_a_footer_read_and_written_back_is_the_same_bytes(options: dict[str, object]) -> None:
    data = _part(_table(3000, 1), 700, **options).to_pybytes()
    fields, start = footer_of(data)
    out = bytearray()
    _write_struct(out, fields)
    length = struct.unpack("<i", data[-8:-4])[0]
    assert start == len(data) - 8 - length
    assert bytes(out) == data[start:-8]


@pytest.mark.parametrize("options", OPTIONS)
def test_joined_parts_read_back_as_their_concatenation(tmp_path: Path, options: dict[str, object]) -> None:
    tables = [_table(n, seed) for seed, n in enumerate([2500, 1, 4000, 0, 1800])]
    path = tmp_path / "joined.parquet"
    _join([_part(t, 900, **options) for t in tables], path, {"who": b"a test"})
    expected = pa.concat_tables(tables)
    pf = pq.ParquetFile(path)
    assert pf.metadata.num_rows == expected.num_rows == 8301
    # row groups of 900 rows within each part: 3 + 1 + 5 + 1 (Arrow writes an empty table as one) + 2
    assert [pf.metadata.row_group(i).num_rows for i in range(pf.num_row_groups)] == \
        [900, 900, 700, 1, 900, 900, 900, 900, 400, 0, 900, 900]
    assert pf.metadata.metadata == {b"who": b"a test"}
    assert _plain(pf.read()) == _plain(expected)
    for i in (0, 3, 8, 9, 11):                                  # any row group alone, by its moved offsets
        start = sum(pf.metadata.row_group(j).num_rows for j in range(i))
        got = pf.read_row_group(i)
        assert _plain(got) == _plain(expected.slice(start, pf.metadata.row_group(i).num_rows))
    duckdb = pytest.importorskip("duckdb")
    n, hours, persons = duckdb.sql(f"SELECT count(*), sum(hours), count(DISTINCT person_id) "
                                   f"FROM read_parquet('{path}')").fetchall()[0]
    assert (n, persons) == (8301, len(set(expected["person_id"].to_pylist())))
    assert hours == pytest.approx(pa.compute.sum(expected["hours"]).as_py(), rel=1e-12)


def test_pandas_reads_the_schema_kept_in_the_footer(tmp_path: Path) -> None:
    table = _table(500, 3)
    schema = table.schema.serialize().to_pybytes()
    import base64
    path = tmp_path / "joined.parquet"
    _join([_part(table, 200)], path, {"ARROW:schema": base64.b64encode(schema)})
    back = pd.read_parquet(path)
    assert isinstance(back["arm"].dtype, pd.CategoricalDtype)       # the Arrow dictionary type restored
    assert back["week"].dtype == np.int16
    pd.testing.assert_frame_equal(back, table.to_pandas())


def test_parts_that_cannot_be_joined_are_refused(tmp_path: Path) -> None:
    table = _table(100, 4)
    with open(tmp_path / "a.parquet", "wb") as fh:
        joined = JoinedParquet(fh, {})
        joined.append(_part(table, 50))
        with pytest.raises(ParquetJoinError, match="different schemas"):
            joined.append(_part(table.drop_columns(["hours"]), 50))
        with pytest.raises(ParquetJoinError, match="not a Parquet file"):
            joined.append(b"PAR1 this is not a parquet file")
    with open(tmp_path / "b.parquet", "wb") as fh, pytest.raises(ParquetJoinError, match="no part"):
        JoinedParquet(fh, {}).close()


def test_a_part_with_no_row_group_makes_a_file_with_no_rows(tmp_path: Path) -> None:
    table = _table(10, 5)
    sink = pa.BufferOutputStream()
    pq.ParquetWriter(sink, table.schema, store_schema=False).close()        # opened and closed: no row group
    path = tmp_path / "empty.parquet"
    _join([sink.getvalue()], path)
    pf = pq.ParquetFile(path)
    assert (pf.metadata.num_rows, pf.num_row_groups) == (0, 0)
    assert pf.read().schema.names == table.schema.names


def test_the_panel_file_is_the_same_bytes_whatever_the_threads(tmp_path: Path) -> None:
    ledger, spells, _ = _trial()
    files = []
    with pytest.MonkeyPatch.context() as m:
        m.setattr(panel_module, "ROW_GROUP_ROWS", 15)
        for workers in (1, 2, 3):
            out = tmp_path / f"panel{workers}.parquet"
            build_panel(ledger, spells, EXTRACTION, weeks=20, chunk_persons=2, out=out, workers=workers)
            files.append(out.read_bytes())
    assert files[0] == files[1] == files[2]
    in_memory = build_panel(ledger, spells, EXTRACTION, weeks=20, keep_panel=True).to_frame()
    pd.testing.assert_frame_equal(pd.read_parquet(io.BytesIO(files[0])), in_memory)
    assert pq.ParquetFile(io.BytesIO(files[0])).num_row_groups >= 9      # 5 chunks, persons alone in groups


def test_a_panel_built_without_week_sums_writes_the_same_file(tmp_path: Path) -> None:
    ledger, spells, _ = _trial()
    with_sums = build_panel(ledger, spells, EXTRACTION, weeks=20, out=tmp_path / "a.parquet")
    without = build_panel(ledger, spells, EXTRACTION, weeks=20, out=tmp_path / "b.parquet", week_sums=False)
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    pd.testing.assert_frame_equal(with_sums.at_risk(), without.at_risk())
    assert with_sums.means()["has_ordinary_hours"].notna().any()
    with pytest.raises(InputDataError, match="week_sums=False"):
        without.means()
