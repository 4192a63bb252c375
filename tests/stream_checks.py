"""What the streaming tests share: the comparison of a streamed result with the in-memory one, and the
sample trial's panel written as trialeval writes it."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from trialeval import build_panel
from trialeval.effects import effects, effects_from_file
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
    return _synthetic_rows(np.random.default_rng(seed), n, weeks)


def _synthetic_rows(rng: np.random.Generator, n: int, weeks: int) -> pd.DataFrame:
    """:func:`_synthetic` from the generator ``rng`` (which a caller may go on drawing from)."""
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
