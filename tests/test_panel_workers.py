"""The kernel on a pool of threads: the same panel and the same sums whatever the number of workers, and
sums taken from the dense arrays equal to sums taken from the long rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from trialeval.panel import build_panel, write_panel
from trialeval.panel.intervals import _sum_cells
from trialeval.panel.kernel import _Chunk, _group_counts, _segments
from trialeval.panel.results import _WeekSums
from trialeval.exceptions import InputDataError
from trialeval.panel.spells import _fixed_width, _IdLookup, _plain_text


def synthetic(n: int = 700, seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Persons in weekly waves with spells of every type, workplaces and a few early follow-up ends."""
    rng = np.random.default_rng(seed)
    visit = np.datetime64("2016-03-01") + 7 * rng.integers(0, 30, n)
    followup = np.where(rng.random(n) < 0.05, visit + rng.integers(0, 200, n), np.datetime64("NaT"))
    ledger = pd.DataFrame({"person_id": [f"P{i:05d}" for i in range(n)],
                           "arm": np.where(rng.random(n) < 0.5, "treatment", "control"),
                           "visitation_date": visit.astype("datetime64[ns]"),
                           "followup_end": followup.astype("datetime64[ns]")})
    k = rng.poisson(4, n)
    owner = np.repeat(np.arange(n), k)
    m = len(owner)
    kind = rng.choice(["internship", "wage_subsidy", "ordinary_hours", "benefit"], m)
    start = visit[owner] + rng.integers(-40, 500, m)
    spells = pd.DataFrame({
        "person_id": [f"P{i:05d}" for i in owner], "spell_type": kind,
        "start_date": start.astype("datetime64[ns]"),
        "end_date": (start + rng.integers(0, 150, m)).astype("datetime64[ns]"),
        "hours_per_week": np.where(kind == "ordinary_hours", rng.integers(1, 38, m).astype(float), np.nan),
        "workplace_id": np.where(rng.random(m) < 0.7, [f"W{i}" for i in rng.integers(0, 40, m)], None)})
    return ledger, spells.sample(frac=1.0, random_state=seed)   # not in person order


def moments(result) -> pd.DataFrame:
    return pd.concat([result.week_moments(), result.week_moments(min_weeks=20)], ignore_index=True)


@pytest.mark.parametrize("min_days", [1, 3])
def test_workers_give_identical_panels_and_sums(min_days):
    ledger, spells = synthetic()
    kw = dict(weeks=60, pre_weeks=3, min_days=min_days, chunk_persons=64)
    one = build_panel(ledger, spells, "2017-06-30", workers=1, **kw)
    two = build_panel(ledger, spells, "2017-06-30", workers=2, **kw)
    three = build_panel(ledger, spells, "2017-06-30", workers=3, keep_panel=False, **kw)
    pd.testing.assert_frame_equal(one.to_frame(), two.to_frame(), check_exact=True)
    for other in (two, three):
        pd.testing.assert_frame_equal(moments(one), moments(other), check_exact=True)
    assert "self_supporting" in one.outcomes and "reached_13_weeks_same_workplace" in one.outcomes


def test_kernel_sums_equal_sums_of_the_long_rows():
    """The sums the kernel takes from its dense arrays equal those gathered from the packed rows."""
    ledger, spells = synthetic(seed=11)
    result = build_panel(ledger, spells, "2017-06-30", weeks=52, pre_weeks=2, chunk_persons=50, workers=2)
    rows = _WeekSums(result._layout, result._sums.n_weeks)
    for chunk in result._chunks:
        assert chunk.sums is not None
        rows.add(_Chunk(chunk.start, chunk.stop, chunk.flags, chunk.hours_row, chunk.hours))
    np.testing.assert_array_equal(rows.n, result._sums.n)
    for name in result._sums.flag_outcomes:
        np.testing.assert_array_equal(rows.s1[name], result._sums.s1[name])
    for key in ("n", "mean", "m2"):
        np.testing.assert_array_equal(getattr(rows.hours, key), getattr(result._sums.hours, key))


def test_kernel_sums_equal_a_groupby_of_the_long_table():
    ledger, spells = synthetic(seed=5)
    result = build_panel(ledger, spells, "2017-06-30", weeks=40, chunk_persons=100)
    panel = result.to_frame()
    observed = panel.groupby("person_id").size().rename("n_obs")
    panel = panel.join(observed, on="person_id")
    got = result.week_moments(min_weeks=30)
    for name in ("in_internship", "self_supporting", "reached_13_weeks", "ordinary_hours"):
        sub = panel[panel["n_obs"] >= 30].groupby(["arm", "week"], observed=True)[name]
        want = pd.DataFrame({"n": sub.size(), "mean": sub.mean()}).reset_index()
        mine = got[got["outcome"] == name].merge(want, on=["arm", "week"], suffixes=("", "_rows"))
        assert len(mine) == len(want)
        np.testing.assert_array_equal(mine["n"], mine["n_rows"])
        np.testing.assert_allclose(mine["mean"], mine["mean_rows"], rtol=1e-12, atol=1e-12)


def test_streamed_file_is_the_same_with_any_number_of_workers(tmp_path):
    ledger, spells = synthetic(seed=8)
    paths = []
    for workers in (1, 2):
        path = tmp_path / f"panel{workers}.parquet"
        build_panel(ledger, spells, "2017-06-30", weeks=30, chunk_persons=40, workers=workers, out=path)
        paths.append(path)
    pd.testing.assert_frame_equal(pd.read_parquet(paths[0]), pd.read_parquet(paths[1]), check_exact=True)
    kept = build_panel(ledger, spells, "2017-06-30", weeks=30, chunk_persons=40, workers=2)
    write_panel(kept, tmp_path / "written.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(paths[0]), pd.read_parquet(tmp_path / "written.parquet"),
                                  check_exact=True)


def test_bad_workers_is_an_input_error():
    ledger, spells = synthetic(n=20)
    with pytest.raises(InputDataError, match="workers"):
        build_panel(ledger, spells, "2017-06-30", workers=0)


def test_group_counts_against_a_plain_sum():
    rng = np.random.default_rng(0)
    dense = rng.random((1000, 13)) < 0.4            # 13 weeks: padded to 16 bytes a row
    group = rng.integers(0, 3, 1000).astype(np.int32)   # groups of more than 255 rows
    order, segments, segment_group = _segments(group)
    got = _group_counts(dense, order, segments, segment_group, 5)
    want = np.stack([dense[group == g].sum(axis=0) for g in range(5)])
    np.testing.assert_array_equal(got, want)


def test_sum_cells_adds_in_input_order():
    rng = np.random.default_rng(1)
    cells = rng.integers(0, 500, 10_000)
    values = rng.random(10_000) * 1e6
    unique, sums = _sum_cells(cells, values)
    inverse = np.searchsorted(unique, cells)
    np.testing.assert_array_equal(unique, np.unique(cells))
    np.testing.assert_array_equal(sums, np.bincount(inverse, weights=values))


def test_id_text_helpers_on_bytes():
    ids = pa.array(["P01", "P02", "P10"], pa.large_string())
    keys, fits = _fixed_width(ids, 3)
    assert keys.tolist() == [b"P01", b"P02", b"P10"] and fits.all()
    lookup = _IdLookup(ids)
    assert lookup.index(pa.array(["P10", "P1", "x", "P01", "P0100"])).tolist() == [2, -1, -1, 0, -1]
    assert _plain_text(pa.array(["a", None, "b c"])) is not None
    assert _plain_text(pa.array(["a", " b"])) is None
    assert _plain_text(pa.array(["a", ""])) is None
    assert _plain_text(pa.array(["a", "é"])) is None
    nul = _fixed_width(pa.array(["a\x00", "bc"]), 2)[1]
    assert nul.tolist() == [False, True]
