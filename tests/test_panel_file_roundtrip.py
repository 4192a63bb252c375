"""A panel file written by the streaming writer reads back as the in-memory long table, in every reader.

The Parquet writer hands ``person_id`` to Arrow dictionary-encoded (each row group's ids and each row's
position) and stores the long table's Arrow schema itself; these tests check that pyarrow, pandas,
Polars and DuckDB see the same types and values as before, that row groups hold whole persons
(LZ4-compressed, ids dictionary-encoded), and that the streamed effects' shortcut for equally observed persons gives
the same sums as the general path.
"""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import trialeval.panel as panel_module
from trialeval import build_panel, write_panel
from trialeval.effects import effects, effects_from_file
from trialeval.effects._stream_pass import PassOptions, _cells, _regular_cells, _regular_weeks, first_pass
from trialeval.effects._stream_read import Block
from trialeval.io import read_table
from trialeval.panel.kernel import _Chunk
from trialeval.panel.store import _Layout

V = dt.date(2016, 3, 1)
EXTRACTION = "2016-06-30"          # the end of week 18 for a person visited on V
ROWS_PER_GROUP = 15


def _trial() -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
    """Persons visited on different days (so observed for different numbers of weeks), with spells.

    Returns the ledger, the spells and each person's observed weeks, counted by hand: weeks since
    visitation whose last day is on or before the extraction date.
    """
    visits = {"p01": 0, "p02": 7, "p03": 14, "p04": 0, "p05": 35, "p06": 70, "p07": 3, "p08": 21, "p09": 119}
    ids = list(visits)
    ledger = pd.DataFrame({
        "person_id": ids, "arm": ["treatment", "control"] * 4 + ["treatment"],
        "visitation_date": [(V + dt.timedelta(days=d)).isoformat() for d in visits.values()],
        "municipality": list("XYXYXYXYX"), "stratum": list("121212121"),
    })
    end = dt.date.fromisoformat(EXTRACTION)
    weeks = {p: ((end - (V + dt.timedelta(days=d))).days + 1) // 7 for p, d in visits.items()}
    rows: list[tuple[str, str, str, str, float | None]] = []
    for i, (p, d) in enumerate(visits.items()):
        start = V + dt.timedelta(days=d + 3 * i)
        rows.append((p, "internship", start.isoformat(), (start + dt.timedelta(days=20)).isoformat(), None))
        rows.append((p, "ordinary_hours", (start + dt.timedelta(days=2)).isoformat(),
                     (start + dt.timedelta(days=40 + i)).isoformat(), 7.5 + i))
    spells = pd.DataFrame(rows, columns=["person_id", "spell_type", "start_date", "end_date", "hours_per_week"])
    return ledger, spells, weeks


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame, dict[str, int], Path]:
    """The trial's panel written while it is built (chunks of 3 persons, row groups of at most 15 rows,
    so most persons, observed for 16 or 17 weeks, fill a row group alone)."""
    folder = tmp_path_factory.mktemp("roundtrip")
    ledger, spells, weeks = _trial()
    out = folder / "panel.parquet"
    with pytest.MonkeyPatch.context() as m:
        m.setattr(panel_module, "ROW_GROUP_ROWS", ROWS_PER_GROUP)
        build_panel(ledger, spells, EXTRACTION, weeks=20, chunk_persons=3, out=out)
        build_panel(ledger, spells, EXTRACTION, weeks=20, chunk_persons=3, out=folder / "panel.csv")
    in_memory = build_panel(ledger, spells, EXTRACTION, weeks=20, keep_panel=True).to_frame()
    return out, in_memory, weeks, folder / "panel.csv"


def test_rows_are_the_hand_counted_weeks(written) -> None:  # type: ignore[no-untyped-def]
    path, _, weeks, _ = written
    back = pd.read_parquet(path)
    assert back["person_id"].tolist() == [p for p in sorted(weeks) for _ in range(min(weeks[p], 20))]
    expected_weeks = [w for p in sorted(weeks) for w in range(1, min(weeks[p], 20) + 1)]
    assert back["week"].tolist() == expected_weeks
    assert len(set(weeks.values())) > 3          # persons observed for different numbers of weeks


def test_pandas_reads_the_in_memory_table(written) -> None:  # type: ignore[no-untyped-def]
    path, in_memory, _, _ = written
    back = pd.read_parquet(path)
    pd.testing.assert_frame_equal(back, in_memory)            # values and dtypes (ids as text, arm categorical)
    assert isinstance(back["arm"].dtype, pd.CategoricalDtype)
    assert not isinstance(back["person_id"].dtype, pd.CategoricalDtype)
    assert pd.api.types.is_string_dtype(back["person_id"])


def test_pyarrow_schema_and_values(written) -> None:  # type: ignore[no-untyped-def]
    path, in_memory, _, _ = written
    table = pq.read_table(path)
    types = {f.name: f.type for f in table.schema}
    assert types["person_id"] == pa.string()
    assert types["arm"] == pa.dictionary(pa.int8(), pa.string())
    assert types["week"] == pa.int16()
    assert types["in_internship"] == pa.int8() and types["ordinary_hours"] == pa.float64()
    assert pa.types.is_dictionary(types["municipality"]) and pa.types.is_dictionary(types["stratum"])
    required = {f.name for f in table.schema if not f.nullable}
    assert {"person_id", "arm", "week", "in_internship", "ordinary_hours"} <= required
    assert table.column("person_id").to_pylist() == in_memory["person_id"].tolist()
    assert table.column("ordinary_hours").to_pylist() == in_memory["ordinary_hours"].tolist()
    # a reader asking for the ids as dictionary (as effects --panel does) gets the same values
    ids = pq.ParquetFile(path, read_dictionary=["person_id"]).read(columns=["person_id"]).column(0)
    assert pa.types.is_dictionary(ids.type) and ids.cast(pa.string()).to_pylist() == in_memory["person_id"].tolist()


def test_row_groups_hold_whole_persons(written) -> None:  # type: ignore[no-untyped-def]
    path, _, weeks, _ = written
    pf = pq.ParquetFile(path)
    seen: list[str] = []
    alone = 0
    for i in range(pf.num_row_groups):
        ids = pf.read_row_group(i, columns=["person_id"]).column(0).to_pylist()
        persons = list(dict.fromkeys(ids))
        assert not set(persons) & set(seen)                                   # whole persons
        assert len(ids) <= ROWS_PER_GROUP or len(persons) == 1
        alone += len(ids) > ROWS_PER_GROUP
        seen.extend(persons)
        chunk = pf.metadata.row_group(i).column(0)
        assert chunk.path_in_schema == "person_id" and chunk.compression == "LZ4"
        assert any("DICTIONARY" in e for e in chunk.encodings)
        assert not chunk.is_stats_set
    assert seen == sorted(p for p, w in weeks.items() if w > 0)     # p09: visited 3 days before extraction
    assert alone >= 3 and pf.num_row_groups >= 6


def test_polars_and_duckdb_read_text_ids(written) -> None:  # type: ignore[no-untyped-def]
    path, in_memory, _, _ = written
    pl = pytest.importorskip("polars")
    frame = pl.read_parquet(path)
    assert frame.schema["person_id"] == pl.String
    assert frame["person_id"].to_list() == in_memory["person_id"].tolist()
    assert frame["week"].to_list() == in_memory["week"].tolist()
    duckdb = pytest.importorskip("duckdb")
    rel = duckdb.sql(f"select person_id, arm, week from '{path}'")
    assert [str(t) for t in rel.types] == ["VARCHAR", "VARCHAR", "SMALLINT"]
    rows = rel.fetchall()
    assert [r[0] for r in rows] == in_memory["person_id"].tolist()
    assert [r[1] for r in rows] == in_memory["arm"].astype(str).tolist()


def test_csv_writers_match_the_table(written, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, in_memory, _, streamed_csv = written
    ledger, spells, _ = _trial()
    res = build_panel(ledger, spells, EXTRACTION, weeks=20, keep_panel=True, chunk_persons=2)
    write_panel(res, tmp_path / "panel.csv")
    for path in (streamed_csv, tmp_path / "panel.csv"):
        back = pd.read_csv(path, dtype={"person_id": str, "stratum": str, "municipality": str})
        assert back["person_id"].tolist() == in_memory["person_id"].tolist()
        assert back["week"].tolist() == in_memory["week"].tolist()
        np.testing.assert_array_equal(back["ordinary_hours"], in_memory["ordinary_hours"])
        assert back["in_internship"].tolist() == in_memory["in_internship"].tolist()
        assert back["arm"].tolist() == in_memory["arm"].astype(str).tolist()


def _layout(n_obs: np.ndarray, period_values: np.ndarray | None = None, k_min: int = 1) -> _Layout:
    n = len(n_obs)
    ids = pa.array([f"q{i:04d}" for i in range(n)])
    return _Layout(ids=ids, arm=(np.arange(n) % 2).astype(np.int8), groups={}, n_obs=n_obs,
                   outcomes=("in_internship", "ordinary_hours"), flag_outcomes=("in_internship",), k_min=k_min,
                   period_values=period_values)


@pytest.mark.parametrize("kind", ["uneven", "equal", "values", "none observed"])
def test_expanded_rows_against_a_loop(kind: str) -> None:
    rng = np.random.default_rng(5)
    n = 40
    n_obs = {"uneven": rng.integers(0, 9, n), "equal": np.full(n, 6), "values": rng.integers(0, 9, n),
             "none observed": np.zeros(n, dtype=np.int64)}[kind].astype(np.int16)
    values = np.array([201601, 201602, 201603, 201604, 201605, 201606, 201607, 201608, 201609]) \
        if kind == "values" else None
    layout = _layout(n_obs, values, k_min=-2)
    total = int(n_obs.sum())
    flags = rng.integers(0, 2, total).astype(np.uint8)
    hours_row = np.flatnonzero(rng.random(total) < 0.3)
    hours = rng.uniform(1, 37, len(hours_row))
    chunk = _Chunk(0, n, flags, hours_row.astype(np.int32), hours)
    expected_ids, expected_period, expected_arm = [], [], []
    for i in range(n):
        for j in range(int(n_obs[i])):
            expected_ids.append(f"q{i:04d}")
            expected_period.append(int(values[j]) if values is not None else j - 2)
            expected_arm.append(["treatment", "control"][i % 2])
    expected_hours = np.zeros(total)
    expected_hours[hours_row] = hours
    for start, stop in ((0, n), (7, 23)):
        skip, rows = int(n_obs[:start].sum()), int(n_obs[start:stop].sum())
        for dictionary_ids in (False, True):
            table = layout.table(chunk, start, stop, dictionary_ids=dictionary_ids)
            ids = table.column("person_id")
            assert pa.types.is_dictionary(ids.type) == dictionary_ids
            assert ids.cast(pa.string()).to_pylist() == expected_ids[skip:skip + rows]
            assert table.column("week").to_pylist() == expected_period[skip:skip + rows]
            assert table.column("week").type == (pa.int32() if values is not None and values.max() >= 2**15
                                                 else pa.int16())
            assert table.column("arm").cast(pa.string()).to_pylist() == expected_arm[skip:skip + rows]
            assert table.column("in_internship").to_pylist() == flags[skip:skip + rows].tolist()
            assert table.column("ordinary_hours").to_pylist() == expected_hours[skip:skip + rows].tolist()


# ---- the streamed effects' shortcut for blocks of equally observed persons -------------------------

def _regular_panel(n: int = 50, weeks: int = 8, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    person = np.repeat(np.arange(n), weeks)
    df = pd.DataFrame({"person_id": np.asarray([f"r{i:03d}" for i in range(n)])[person],
                       "arm": np.where(rng.random(n) < 0.4, "treatment", "control")[person],
                       "week": np.tile(np.arange(-1, weeks - 1), n).astype(np.int16)})
    df["flag"] = (rng.random(len(df)) < 0.3).astype(np.int8)
    df["other"] = (rng.random(len(df)) < 0.6).astype(np.int8)
    df["hours"] = np.where(rng.random(len(df)) < 0.7, 0.0, rng.uniform(1, 37, len(df)))
    df["count"] = rng.integers(0, 4, len(df))                        # integers beyond 0/1
    return df


def _block(df: pd.DataFrame, outcomes: list[str]) -> Block:
    starts = np.concatenate([np.flatnonzero(np.r_[True, df["person_id"].to_numpy()[1:] != df["person_id"].to_numpy()[:-1]]),
                             [len(df)]])
    return Block(0, starts, pa.array(df["person_id"].iloc[starts[:-1]]), (df["arm"] == "treatment").to_numpy().view(np.int8),
                 df["week"].to_numpy(), {o: df[o].to_numpy() for o in outcomes})


def _assert_same_cells(a, b) -> None:  # type: ignore[no-untyped-def]
    assert (a.lo, a.span) == (b.lo, b.span)
    np.testing.assert_array_equal(a.rows, b.rows)
    for o in a.moments:
        for name in ("n", "mean", "m2"):
            # bit for bit: the same sums in the same order
            np.testing.assert_array_equal(getattr(a.moments[o], name), getattr(b.moments[o], name))
        np.testing.assert_array_equal(a.non01[o], b.non01[o])
        np.testing.assert_array_equal(a.nonzero[o], b.nonzero[o])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_regular_block_cells_equal_the_general_path(seed: int) -> None:
    outcomes = ["flag", "other", "hours", "count"]
    df = _regular_panel(seed=seed)
    block = _block(df, outcomes)
    assert _regular_weeks(block) == (-1, 8)
    fast = _regular_cells(block, outcomes)
    assert fast is not None
    _assert_same_cells(fast, _cells(block, None, outcomes))
    # and against a count by hand of one cell
    cell = df[(df["week"] == 3) & (df["arm"] == "treatment")]
    j = 2 * (3 - (-1)) + 1
    assert fast.moments["flag"].n[j] == len(cell)
    assert fast.moments["flag"].mean[j] == pytest.approx(cell["flag"].mean(), rel=1e-15)
    assert fast.nonzero["hours"][j] == (cell["hours"] != 0).sum()
    assert fast.non01["count"][4] == ((df["week"] == 3) & ~df["count"].isin([0, 1])).sum()


def test_irregular_blocks_take_the_general_path() -> None:
    outcomes = ["flag", "hours"]
    df = _regular_panel()
    with_gap = df.drop(index=[9])                                  # one person misses a week
    assert _regular_weeks(_block(with_gap.reset_index(drop=True), outcomes)) is None
    shifted = df.assign(week=np.where(df["person_id"] == "r003", df["week"] + 1, df["week"]).astype(np.int16))
    assert _regular_weeks(_block(shifted, outcomes)) is None       # same count, other weeks
    missing = df.assign(hours=df["hours"].where(df.index != 17, np.nan))
    block = _block(missing, outcomes)
    assert _regular_weeks(block) is not None and _regular_cells(block, outcomes) is None
    popts = PassOptions("x", tuple(outcomes))
    assert first_pass(block, popts).cells.moments["hours"].n.sum() == len(df) - 1


@pytest.mark.parametrize("options", [{}, {"summary_weeks": 4}, {"min_weeks": 5}, {"band": True, "rng": 2,
                                                                                  "band_draws": 200}])
def test_regular_panel_streamed_equals_in_memory(tmp_path: Path, options: dict[str, object]) -> None:
    df = _regular_panel(n=80, weeks=10)
    path = tmp_path / "regular.parquet"
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path, row_group_size=90)   # persons straddle
    outcomes = ["flag", "other", "hours", "count"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        whole = effects(read_table(path), outcomes, **options)  # type: ignore[arg-type]
        for workers in (1, 2):
            part = effects_from_file(path, outcomes, workers=workers, **options)  # type: ignore[arg-type]
            pd.testing.assert_frame_equal(whole.table.reset_index(drop=True), part.table.reset_index(drop=True),
                                          check_exact=False, rtol=1e-12, atol=1e-14, check_dtype=False)
            if whole.summary_table is not None:
                pd.testing.assert_frame_equal(whole.summary_table, part.summary_table, check_exact=False,
                                              rtol=1e-10, check_dtype=False)
