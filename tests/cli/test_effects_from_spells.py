"""One command from spells to curves: ``effects --ledger --spells`` and ``panel --effects-out`` against the
two-command path (``panel --out`` then ``effects --panel``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from trialeval import pipeline
from trialeval.cli import app

runner = CliRunner()


@pytest.fixture
def inputs(sample_dir: Path) -> list[str]:
    return ["--ledger", str(sample_dir / "ledger.csv"), "--spells", str(sample_dir / "spells.csv"),
            "--extraction-date", "2016-12-31"]


def run(*args: str) -> None:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output


def assert_same_table(a: Path, b: Path, rtol: float = 1e-12) -> None:
    left, right = pd.read_csv(a), pd.read_csv(b)
    assert list(left.columns) == list(right.columns) and len(left) == len(right)
    numbers = left.select_dtypes("number").columns
    pd.testing.assert_frame_equal(left.drop(columns=numbers), right.drop(columns=numbers))
    np.testing.assert_allclose(left[numbers].to_numpy(float), right[numbers].to_numpy(float),
                               rtol=rtol, atol=1e-12, equal_nan=True)


def two_commands(tmp_path: Path, inputs: list[str], *effects_args: str, weeks: str = "52") -> Path:
    panel = tmp_path / "two" / "panel.parquet"
    panel.parent.mkdir(exist_ok=True)
    run("panel", *inputs, "--weeks", weeks, "--out", str(panel))
    out = tmp_path / "two" / "effects.csv"
    run("effects", "--panel", str(panel), *effects_args, "--out", str(out))
    return out


def test_one_command_equals_panel_then_effects(tmp_path, inputs):
    out = tmp_path / "effects.csv"
    run("effects", *inputs, "--weeks", "52", "--min-weeks", "20", "--out", str(out))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["effects.csv", "effects_settings.json"]
    assert_same_table(out, two_commands(tmp_path, inputs, "--weeks", "52", "--min-weeks", "20"))


def test_one_command_writes_the_panel_only_when_asked(tmp_path, inputs):
    out, panel = tmp_path / "effects.csv", tmp_path / "panel.parquet"
    run("effects", *inputs, "--weeks", "30", "--panel-out", str(panel), "--out", str(out))
    reference = two_commands(tmp_path, inputs, weeks="30")
    pd.testing.assert_frame_equal(pd.read_parquet(panel), pd.read_parquet(reference.with_name("panel.parquet")))
    assert_same_table(out, reference)


@pytest.mark.parametrize("options", [["--summary-weeks", "26"], ["--band", "--seed", "3"],
                                     ["--hours-week", "30", "--ri", "19", "--seed", "4"]])
def test_options_that_need_rows_go_through_a_temporary_panel(tmp_path, inputs, options):
    out = tmp_path / "one" / "effects.csv"
    out.parent.mkdir()
    run("effects", *inputs, "--weeks", "52", *options, "--out", str(out))
    reference = two_commands(tmp_path, inputs, *options)
    for one in out.parent.glob("*.csv"):
        # the summary and the band come from the kernel's chunks, not from the panel file: the same sums,
        # added in other groups of persons, so equal to rounding (as the default curves from the sums)
        assert_same_table(one, reference.with_name(one.name), rtol=0 if "--ri" in options else 1e-12)
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]       # temporary panel gone


def test_temporary_panel_is_deleted_on_an_error(tmp_path, inputs):
    out = tmp_path / "effects.csv"
    result = runner.invoke(app, ["effects", *inputs, "--blocks", "no_such_column", "--out", str(out)])
    assert result.exit_code == 1
    assert "no_such_column" in result.output
    assert list(tmp_path.iterdir()) == []


def test_panel_effects_out_equals_effects_on_the_written_panel(tmp_path, inputs, sample_dir):
    config = ["--config", str(sample_dir / "trial.toml")]
    panel, curves = tmp_path / "panel.parquet", tmp_path / "curves.csv"
    run("panel", *inputs, "--weeks", "40", "--out", str(panel), "--effects-out", str(curves), "--workers", "2")
    run("effects", "--panel", str(panel), "--out", str(tmp_path / "reference.csv"))
    assert_same_table(curves, tmp_path / "reference.csv")
    # a config asking for the hours distribution: the written panel is read, as effects --panel reads it
    run("panel", *inputs, *config, "--out", str(tmp_path / "p2.parquet"), "--effects-out", str(tmp_path / "c2.csv"))
    run("effects", "--panel", str(tmp_path / "p2.parquet"), *config, "--out", str(tmp_path / "r2.csv"))
    for name in ("c2.csv", "c2_hours.csv"):
        assert_same_table(tmp_path / name, tmp_path / name.replace("c2", "r2"), rtol=0)


def test_workers_do_not_change_the_curves(tmp_path, inputs):
    for workers in ("1", "2"):
        run("effects", *inputs, "--weeks", "40", "--workers", workers, "--out", str(tmp_path / f"e{workers}.csv"))
    assert (tmp_path / "e1.csv").read_bytes() == (tmp_path / "e2.csv").read_bytes()


@pytest.mark.parametrize("args, message", [
    (["--panel", "p.parquet", "--spells", "s.csv"], "either --panel or --ledger with --spells"),
    (["--ledger", "l.csv"], "--ledger with --spells"),
    ([], "give --panel, or --ledger with --spells"),
    (["--panel", "p.parquet", "--panel-out", "x.parquet"], "with --ledger and --spells"),  # --workers is for both
])
def test_panel_or_spells_not_both_nor_neither(tmp_path, args, message):
    result = runner.invoke(app, ["effects", *args, "--out", str(tmp_path / "e.csv")])
    assert result.exit_code == 2
    assert message in " ".join(result.output.replace("│", " ").split())


def test_one_command_needs_an_extraction_date(tmp_path, sample_dir):
    result = runner.invoke(app, ["effects", "--ledger", str(sample_dir / "ledger.csv"), "--spells",
                                 str(sample_dir / "spells.csv"), "--out", str(tmp_path / "e.csv")])
    assert result.exit_code == 2
    assert "extraction-date" in result.output


# --summary-weeks and --band from the panel kernel's chunks: no panel file, the panel file's numbers

@pytest.mark.parametrize("options", [
    ["--summary-weeks", "13", "--min-weeks", "20", "--band", "--seed", "5"],
    ["--summary-weeks", "40", "--weeks", "40", "--outcomes", "ordinary_hours,reached_13_weeks"],  # K = all weeks
    ["--band", "--seed", "2", "--outcomes", "ordinary_hours,in_internship"],
])
def test_kernel_sums_equal_the_panel_file(tmp_path, inputs, options, monkeypatch):
    panel, reference = tmp_path / "panel.parquet", tmp_path / "ref" / "effects.csv"
    reference.parent.mkdir()
    run("effects", *inputs, "--weeks", "52", *options, "--panel-out", str(panel), "--out", str(reference))

    def no_file(*args, **kwargs):
        raise AssertionError("the panel file was written")

    monkeypatch.setattr(pipeline, "_effects_via_file", no_file)
    for workers in ("1", "2"):
        out = tmp_path / f"w{workers}" / "effects.csv"
        out.parent.mkdir()
        run("effects", *inputs, "--weeks", "52", *options, "--workers", workers, "--out", str(out))
        names = sorted(p.name for p in out.parent.iterdir())
        assert names == sorted(p.name for p in reference.parent.iterdir())
        for name in names:
            if name.endswith(".csv"):
                assert_same_table(out.parent / name, reference.parent / name)
    for name in (p.name for p in (tmp_path / "w1").iterdir()):
        if name.endswith(".csv"):
            assert (tmp_path / "w1" / name).read_bytes() == (tmp_path / "w2" / name).read_bytes()


def test_outcome_not_in_the_panel_is_named_as_before(tmp_path, inputs):
    result = runner.invoke(app, ["effects", *inputs, "--band", "--outcomes", "no_such_outcome",
                                 "--out", str(tmp_path / "e.csv")])
    assert result.exit_code == 1 and "no_such_outcome" in result.output
    assert not list(tmp_path.iterdir())
