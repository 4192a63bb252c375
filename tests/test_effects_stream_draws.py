"""One seed, one band and one p-value: the Rademacher band and randomisation inference draw the same
multipliers and re-randomisations whether the panel is in memory or a file read in batches."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from trialeval import build_panel
from trialeval.effects import effects, effects_from_file
from trialeval.effects._stream_band import BLOCK, rademacher
from trialeval.effects.stream import streamed
from trialeval.io import read_table

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


def _same(a: pd.DataFrame | None, b: pd.DataFrame | None) -> None:
    assert (a is None) == (b is None)
    if a is None or b is None:
        return
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), check_exact=False,
                                  rtol=1e-10, atol=1e-12, check_dtype=False)


def _check(path: Path, workers_tried: tuple[int, ...] = (1, 2), **kw: object) -> None:
    """effects_from_file(path) equals effects(read_table(path)) in every table of the result."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        whole = effects(read_table(path), **kw)  # type: ignore[arg-type]
        for workers in workers_tried:
            part = effects_from_file(path, workers=workers, **kw)  # type: ignore[arg-type]
            _same(whole.table, part.table)
            _same(whole.summary_table, part.summary_table)
            _same(whole.bands, part.bands)
            _same(whole.nonzero, part.nonzero)
            _same(whole.dropped_blocks, part.dropped_blocks)
            _same(None if whole.hours is None else whole.hours.table, None if part.hours is None else part.hours.table)
            assert whole.design == part.design
            assert whole.settings == part.settings
            assert whole.indicator_outcomes == part.indicator_outcomes


@pytest.fixture(scope="module")
def demo_panel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample trial's panel as trialeval writes it, and the same rows in row groups of 997 (persons straddle)."""
    folder = tmp_path_factory.mktemp("stream")
    out = folder / "panel.parquet"
    build_panel(SAMPLE / "ledger.csv", SAMPLE / "spells.csv", "2016-12-31", out=out)
    table = pq.read_table(out)
    pq.write_table(table, folder / "panel997.parquet", row_group_size=997)
    return out


def _synthetic(seed: int = 0, n: int = 60, weeks: int = 6) -> pd.DataFrame:
    """A small panel with adversarial cells: constant cells, missing values, an arm empty in a week."""
    rng = np.random.default_rng(seed)
    ids = [f"id{i:03d}" for i in range(n)]
    last = rng.integers(1, weeks + 1, n)
    person = np.repeat(np.arange(n), last)
    week = np.concatenate([np.arange(1, k + 1) for k in last])
    arm = np.where(person % 2 == 0, "treatment", "control")
    df = pd.DataFrame({"person_id": np.asarray(ids)[person], "arm": arm, "week": week})
    df["flag"] = (rng.random(len(df)) < 0.3).astype(np.int8)
    df["hours"] = np.where(rng.random(len(df)) < 0.5, 0.0, rng.uniform(1, 37, len(df)).round(1))
    df.loc[rng.random(len(df)) < 0.1, "hours"] = np.nan
    df["const"] = 2.5                                            # every cell constant: variance exactly 0
    df.loc[(df["week"] == 2) & (df["arm"] == "treatment"), "const"] = 4.0
    df["ordinary_hours"] = df["hours"]
    # week 4: no treated person has a value of 'gap'
    df["gap"] = rng.normal(size=len(df))
    df.loc[(df["week"] == 4) & (df["arm"] == "treatment"), "gap"] = np.nan
    return df


def _designs(seed: int, n: int = 80) -> pd.DataFrame:
    """The adversarial panel with a block, a cluster (one arm each), a covariate and strata."""
    df = _synthetic(seed, n=n)
    person = df["person_id"].str[2:].astype(int)
    df["blk"] = np.where(person % 4 < 2, "a", "b")
    df["clu"] = (person % 2).astype(str) + "-" + (person // 8).astype(str)
    df["x"] = (person * 7919 % 13).astype(float)
    return df


def _files(df: pd.DataFrame, folder: Path, row_group: int = 7) -> list[Path]:
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), folder / "p.parquet", row_group_size=row_group)
    df.to_csv(folder / "p.csv", index=False)
    return [folder / "p.parquet", folder / "p.csv"]


# ---- the Rademacher band ------------------------------------------------------------------------------
def test_rademacher_multipliers_depend_on_the_unit_number_only() -> None:
    """A unit's ±1 are the same whichever units are drawn with it (any slice, any order, across blocks)."""
    all_units = rademacher(11, np.arange(3 * BLOCK), 77)
    assert set(np.unique(all_units)) == {-1.0, 1.0}
    some = np.array([2 * BLOCK + 5, 3, BLOCK - 1, BLOCK, 3])
    np.testing.assert_array_equal(rademacher(11, some, 77), all_units[some])
    assert not np.array_equal(rademacher(12, some, 77), all_units[some])        # the seed matters
    assert abs(all_units.mean()) < 0.01                                         # fair signs
    corr = np.corrcoef(all_units[:200])                                         # independent units
    assert np.abs(corr[np.triu_indices(200, 1)]).max() < 0.5


@pytest.mark.parametrize("options", [{}, {"blocks": "blk"}, {"cluster": "clu"}, {"covariates": ["x"]},
                                     {"min_weeks": 3, "weeks": 5}])
def test_rademacher_band_streamed_equals_in_memory(tmp_path: Path, options: dict[str, object]) -> None:
    """Row groups of 7 rows (persons straddle them), one and two workers, a CSV: the band of the in-memory
    path to 1e-10 (its critical values and limits)."""
    for path in _files(_designs(3), tmp_path):
        assert streamed(path, {"band": True, "multiplier": "rademacher", **options})
        _check(path, outcomes=["flag", "hours", "gap"], band=True, multiplier="rademacher", rng=2,
               band_draws=300, **options)


@pytest.mark.parametrize("name", ["panel.parquet", "panel997.parquet"])
def test_rademacher_band_on_the_demo_panel(demo_panel: Path, name: str) -> None:
    _check(demo_panel.parent / name, (2,), band=True, multiplier="rademacher", rng=4, band_draws=500,
           outcomes=["has_ordinary_hours", "ordinary_hours"], min_weeks=20)


def test_rademacher_band_by_hand(tmp_path: Path) -> None:
    """The critical value from its definition: persons numbered in the panel's order, ±1 per person from
    the first seed the generator gives, W the influences ±(y − ȳ)/√(n(n − 1)) summed per person-week."""
    df = _synthetic(5, n=90)
    draws, alpha = 400, 0.1
    res = effects_from_file(_files(df, tmp_path)[0], outcomes=["hours"], band=True, multiplier="rademacher",
                            rng=17, band_draws=draws, alpha=alpha)
    seed = int(np.random.default_rng(17).integers(2**62))
    persons = df["person_id"].drop_duplicates().tolist()
    d = df[df["hours"].notna()].copy()
    cell = d.groupby(["week", "arm"])["hours"]
    n, mean = cell.transform("size"), cell.transform("mean")
    sign = np.where(d["arm"] == "treatment", 1.0, -1.0)
    d["psi"] = np.where(n >= 2, sign * (d["hours"] - mean) / np.sqrt(n * (n - 1)), 0.0)
    W = d.pivot_table(index="person_id", columns="week", values="psi", aggfunc="sum", fill_value=0.0)
    W = W.reindex(persons, fill_value=0.0)
    xi = rademacher(seed, np.arange(len(persons)), draws)
    T, sd = W.to_numpy().T @ xi, np.sqrt((W.to_numpy() ** 2).sum(axis=0))
    ok = sd > 0
    crit = np.quantile(np.abs(T[ok] / sd[ok, None]).max(axis=0), 1 - alpha)
    assert res.critical_values["hours"] == pytest.approx(crit, rel=1e-10)
    whole = effects(df, "hours", band=True, multiplier="rademacher", rng=17, band_draws=draws, alpha=alpha)
    assert whole.critical_values["hours"] == pytest.approx(crit, rel=1e-10)
