"""``trialeval panel --dream/--eindkomst``: the registers read directly give the panel of their converted spells."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
from typer.testing import CliRunner

from trialeval.cli import app
from trialeval.panel import build_panel
from trialeval.pipeline import convert

runner = CliRunner()


def test_panel_reads_dream_and_eindkomst_directly(sample_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "panel.parquet"
    result = runner.invoke(app, ["panel", "--ledger", str(sample_dir / "ledger.csv"), "--dream",
                                 str(sample_dir / "dream.csv"), "--codes", str(sample_dir / "dream_codes.toml"),
                                 "--eindkomst", str(sample_dir / "eindkomst.csv"), "--extraction-date",
                                 "2016-12-31", "--weeks", "26", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.parent.iterdir()) == ["panel.parquet", "panel_at_risk.csv"]  # no working files
    # the same registers converted one by one and joined by pandas
    convert("dream", sample_dir / "dream.csv", tmp_path / "dream.parquet", codes=sample_dir / "dream_codes.toml")
    convert("eindkomst", sample_dir / "eindkomst.csv", tmp_path / "eindkomst.parquet")
    spells = pd.concat([pq.read_table(tmp_path / f).to_pandas() for f in ("dream.parquet", "eindkomst.parquet")])
    for col in ("start_date", "end_date"):
        spells[col] = pd.to_datetime(spells[col]).dt.strftime("%Y-%m-%d")
    expected = build_panel(sample_dir / "ledger.csv", spells, "2016-12-31", weeks=26).to_frame()
    got = pd.read_parquet(out)
    assert len(got) == len(expected) > 0
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected.reset_index(drop=True), check_dtype=False,
                                  check_categorical=False)


def test_registers_and_spells_are_not_mixed_and_one_source_is_needed(sample_dir: Path, tmp_path: Path) -> None:
    common = ["panel", "--ledger", str(sample_dir / "ledger.csv"), "--extraction-date", "2016-12-31",
              "--out", str(tmp_path / "panel.parquet")]
    both = runner.invoke(app, [*common, "--spells", str(sample_dir / "spells.csv"), "--eindkomst",
                               str(sample_dir / "eindkomst.csv")])
    # usage errors (exit 2), the message boxed and wrapped by the terminal width
    assert both.exit_code == 2 and "give --spells or the registers (--eindkomst)," in both.output
    none = runner.invoke(app, common)
    assert none.exit_code == 2 and "give --spells, or --dream and/or --eindkomst" in none.output
    no_map = runner.invoke(app, [*common, "--dream", str(sample_dir / "dream.csv")])
    assert no_map.exit_code == 1 and "reading DREAM needs its code map" in no_map.output
    assert sorted(p.name for p in tmp_path.iterdir()) == []           # nothing written, no working folder left
