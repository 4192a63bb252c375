"""``trialeval partition`` and ``trialeval panel`` on a partitioned dataset (both engines)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from trialeval.cli import app

runner = CliRunner()
SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"


def test_partition_then_panel_equals_the_flat_panel(tmp_path):
    args = ["--ledger", str(SAMPLE / "ledger.csv"), "--spells", str(SAMPLE / "spells.csv")]
    result = runner.invoke(app, ["partition", *args, "--out", str(tmp_path / "d"), "--parts", "3"])
    assert result.exit_code == 0, result.output
    assert "parts: 3" in result.output and "spells: 13,558" in result.output
    again = runner.invoke(app, ["partition", *args, "--out", str(tmp_path / "d"), "--parts", "2"])
    assert again.exit_code == 1 and "--force" in again.output and "Traceback" not in again.output
    assert len(list((tmp_path / "d" / "ledger").iterdir())) == 3
    assert runner.invoke(app, ["partition", *args, "--out", str(tmp_path / "d"), "--parts", "2", "--force"]
                         ).exit_code == 0
    common = ["--extraction-date", "2018-12-31", "--weeks", "12"]
    flat = runner.invoke(app, ["panel", *args, *common, "--out", str(tmp_path / "flat.parquet")])
    assert flat.exit_code == 0, flat.output
    for engine in ("local", "dask"):
        out = tmp_path / f"{engine}.parquet"
        res = runner.invoke(app, ["panel", "--ledger", str(tmp_path / "d"), "--spells", str(tmp_path / "d"),
                                  *common, "--out", str(out), "--engine", engine])
        assert res.exit_code == 0, res.output
        assert res.output.splitlines()[:7] == flat.output.splitlines()[:7]     # the same panel summary
        key = ["person_id", "week"]
        pd.testing.assert_frame_equal(
            pd.read_parquet(out).sort_values(key).reset_index(drop=True),
            pd.read_parquet(tmp_path / "flat.parquet").sort_values(key).reset_index(drop=True),
            check_categorical=False)


def test_panel_engine_errors_exit_1(tmp_path, monkeypatch):
    import trialeval.engine.dask as engine

    monkeypatch.setattr(engine, "CONNECT_TIMEOUT", 1)
    args = ["--ledger", str(SAMPLE / "ledger.csv"), "--spells", str(SAMPLE / "spells.csv")]
    common = ["--extraction-date", "2018-12-31", "--weeks", "4", "--out", str(tmp_path / "p.parquet")]
    res = runner.invoke(app, ["panel", *args, *common, "--engine", "dask"])
    assert res.exit_code == 1 and "trialeval partition" in res.output
    runner.invoke(app, ["partition", *args, "--out", str(tmp_path / "d"), "--parts", "2"])
    ds = ["--ledger", str(tmp_path / "d"), "--spells", str(tmp_path / "d")]
    res = runner.invoke(app, ["panel", *ds, *common, "--engine", "dask", "--scheduler", "tcp://127.0.0.1:9"])
    assert res.exit_code == 1 and "no Dask scheduler answered" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "p.parquet").exists()
