"""effects_from_file: a panel file read in batches of whole persons equals effects() on the file read whole."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from trialeval.effects import effects, effects_from_file
from trialeval.effects.stream import streamed
from trialeval.exceptions import InputDataError
from trialeval.io import read_table

from stream_checks import _check, _same, _synthetic, demo_panel  # noqa: F401  (demo_panel: a fixture)


@pytest.mark.parametrize("options", [
    {}, {"min_weeks": 20}, {"weeks": 10}, {"weeks": [3, 5, 200]}, {"summary_weeks": 26},
    {"hours_week": 35}, {"band": True, "rng": 3}, {"outcomes": ["ordinary_hours", "in_internship"], "alpha": 0.1},
])
def test_demo_panel_equals_in_memory(demo_panel: Path, options: dict[str, object]) -> None:
    _check(demo_panel, (2,), **options)


@pytest.mark.parametrize("options", [
    {"band": True, "rng": 5, "min_weeks": 30, "summary_weeks": 13, "hours_week": 20},
    {"band": True, "rng": 5, "band_draws": 200, "weeks": 40},
])
def test_straddling_row_groups(demo_panel: Path, options: dict[str, object]) -> None:
    _check(demo_panel.parent / "panel997.parquet", (2,), **options)


@pytest.mark.parametrize("options", [
    {"cluster": "clu", "ri": 20, "rng": 1},
    {"band": True, "multiplier": "rademacher", "rng": 2},
])
def test_options_once_read_whole_now_stream(tmp_path: Path, options: dict[str, object]) -> None:
    """Randomisation inference over clusters and the Rademacher band, once read whole, stream and give
    the in-memory result (the same draws)."""
    df = _synthetic(2, n=80)
    person = df["person_id"].str[2:].astype(int)
    df["blk"] = np.where(person % 4 < 2, "a", "b")
    df["clu"] = (person % 2).astype(str) + "-" + (person // 8).astype(str)     # one arm per cluster
    df["x"] = (person * 7919 % 13).astype(float)
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), tmp_path / "p.parquet", row_group_size=7)
    assert streamed(tmp_path / "p.parquet", options)
    _check(tmp_path / "p.parquet", outcomes=["flag", "hours"], **options)


def test_summary_equals_panelols(demo_panel: Path) -> None:
    """The closed-form summary equals linearmodels' PanelOLS (run by the in-memory path) to 1e-10."""
    whole = effects(read_table(demo_panel), summary_weeks=26).summary_table
    part = effects_from_file(demo_panel, summary_weeks=26).summary_table
    assert whole is not None and part is not None
    cols = ["effect", "se", "ci_low", "ci_high", "p_value", "p_holm"]
    np.testing.assert_allclose(part[cols].to_numpy(), whole[cols].to_numpy(), rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("options", [{}, {"min_weeks": 3}, {"band": True, "rng": 9, "band_draws": 100},
                                     {"summary_weeks": 2}, {"hours_week": 2}])
def test_synthetic_adversarial_panels(tmp_path: Path, seed: int, options: dict[str, object]) -> None:
    df = _synthetic(seed)
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), tmp_path / "p.parquet", row_group_size=7)
    df.to_csv(tmp_path / "p.csv", index=False)
    outcomes = ["flag", "hours", "const", "gap"]
    _check(tmp_path / "p.parquet", outcomes=outcomes, **options)
    _check(tmp_path / "p.csv", outcomes=outcomes, **options)


def test_csv_read_in_small_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from trialeval.effects import _stream_read

    monkeypatch.setattr(_stream_read, "CSV_BLOCK_BYTES", 256)
    df = _synthetic(3, n=200)
    df.to_csv(tmp_path / "p.csv", index=False)
    _check(tmp_path / "p.csv", outcomes=["flag", "hours", "gap"], band=True, rng=1, summary_weeks=2)


def test_unsorted_but_person_ordered_file_is_read(tmp_path: Path) -> None:
    df = _synthetic(4)
    order = df["person_id"].map({p: -i for i, p in enumerate(df["person_id"].unique())})
    df = df.iloc[np.argsort(order.to_numpy(), kind="stable")]
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), tmp_path / "p.parquet", row_group_size=5)
    _check(tmp_path / "p.parquet", outcomes=["flag", "hours"])


def test_file_not_person_ordered_is_refused(tmp_path: Path) -> None:
    df = _synthetic(5)
    df = pd.concat([df[df["week"] == 1], df[df["week"] != 1]])     # every person's first week up front
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), tmp_path / "p.parquet", row_group_size=50)
    with pytest.raises(InputDataError, match=r"p\.parquet: the rows of person 'id\d+' are not together"):
        effects_from_file(tmp_path / "p.parquet", outcomes=["flag"])


@pytest.mark.parametrize("change, message", [
    (lambda d: d.assign(arm=d["arm"].where(d.index != 5, "placebo")), "column 'arm' must be 'treatment' or"),
    (lambda d: d.assign(week=d["week"].where(d.index != 1, 1)), r"appears twice in the same week in 2 rows \(rows 1, 2\)"),
    (lambda d: d.assign(arm=d["arm"].where(d.index != 2, "control")), "'arm' must be constant within each person"),
    (lambda d: d.assign(week=d["week"] + 0.5), "column 'week' must be a whole number"),
    (lambda d: d.assign(arm="control"), "has only arm 'control'"),
    (lambda d: d.iloc[:0], "has a header but no rows"),
])
def test_bad_keys_are_named(tmp_path: Path, change, message: str) -> None:  # type: ignore[no-untyped-def]
    df = change(_synthetic(6).reset_index(drop=True))
    for name in ("p.parquet", "p.csv"):
        if name.endswith("csv"):
            df.to_csv(tmp_path / name, index=False)
        else:
            pq.write_table(pa.Table.from_pandas(df, preserve_index=False), tmp_path / name, row_group_size=7)
        with pytest.raises(Exception, match=message):
            effects_from_file(tmp_path / name, outcomes=["flag"])


def test_text_in_an_outcome_is_named(tmp_path: Path) -> None:
    df = _synthetic(7)
    df["hours"] = df["hours"].astype(object)
    df.loc[3, "hours"] = "lots"
    df.to_csv(tmp_path / "p.csv", index=False)
    with pytest.raises(InputDataError, match=r"column 'hours' must be numeric in 1 row \(row 4\)"):
        effects_from_file(tmp_path / "p.csv", outcomes=["hours"])


def test_renamed_columns(tmp_path: Path) -> None:
    df = _synthetic(8).rename(columns={"person_id": "pnr", "week": "uge"})
    df.to_csv(tmp_path / "p.csv", index=False)
    part = effects_from_file(tmp_path / "p.csv", outcomes=["flag"], rename={"person_id": "pnr", "week": "uge"})
    whole = effects(read_table(tmp_path / "p.csv", rename={"person_id": "pnr", "week": "uge"}), outcomes=["flag"])
    _same(whole.table, part.table)


def test_progress_is_reported_per_pass(demo_panel: Path) -> None:
    calls: list[tuple[int, int]] = []
    effects_from_file(demo_panel.parent / "panel997.parquet", band=True, rng=1, progress=lambda d, t: calls.append((d, t)))
    total = pq.ParquetFile(demo_panel).metadata.num_rows
    assert calls[-1] == (total, total)
    assert sum(1 for d, t in calls if d == t) == 2                      # pass 1 and the band's pass


def test_cli_workers_give_the_same_tables(demo_panel: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from trialeval.cli import app

    tables = []
    for workers in ("1", "2"):
        out = tmp_path / f"e{workers}.csv"
        res = CliRunner().invoke(app, ["effects", "--panel", str(demo_panel.parent / "panel997.parquet"),
                                       "--out", str(out), "--workers", workers, "--summary-weeks", "13",
                                       "--band", "--seed", "4"])
        assert res.exit_code == 0, res.output
        tables.append((pd.read_csv(out), pd.read_csv(tmp_path / f"e{workers}_summary.csv"),
                       pd.read_csv(tmp_path / f"e{workers}_band.csv")))
    for a, b in zip(*tables):
        pd.testing.assert_frame_equal(a, b)
    res = CliRunner().invoke(app, ["effects", "--panel", str(demo_panel), "--out", str(tmp_path / "x.csv"),
                                   "--workers", "0"])
    assert res.exit_code != 0


def test_boolean_outcome_in_csv(tmp_path: Path) -> None:
    df = _synthetic(9)
    df["flag"] = df["flag"].astype(bool)
    df.to_csv(tmp_path / "p.csv", index=False)
    _check(tmp_path / "p.csv", outcomes=["flag"])
