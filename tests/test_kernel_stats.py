"""``effects --ledger --spells`` with ``--summary-weeks`` and ``--band``: the summary's person means and the
band's WᵀW are taken from the panel kernel's chunks (no panel file), and equal what a pass over the panel
file gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from trialeval import pipeline
from trialeval.cli import app
from trialeval.effects._kernel_stats import _band_sums

runner = CliRunner()


@pytest.fixture
def inputs(sample_dir: Path) -> list[str]:
    return ["--ledger", str(sample_dir / "ledger.csv"), "--spells", str(sample_dir / "spells.csv"),
            "--extraction-date", "2016-12-31"]


def run(*args: str) -> None:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output


def same(a: Path, b: Path) -> None:
    left, right = pd.read_csv(a), pd.read_csv(b)
    assert list(left.columns) == list(right.columns) and len(left) == len(right)
    numbers = left.select_dtypes("number").columns
    pd.testing.assert_frame_equal(left.drop(columns=numbers), right.drop(columns=numbers))
    np.testing.assert_allclose(left[numbers].to_numpy(float), right[numbers].to_numpy(float), rtol=1e-12,
                               atol=1e-12, equal_nan=True)


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
                same(out.parent / name, reference.parent / name)
    for name in (p.name for p in (tmp_path / "w1").iterdir()):
        if name.endswith(".csv"):
            assert (tmp_path / "w1" / name).read_bytes() == (tmp_path / "w2" / name).read_bytes()


def test_outcome_not_in_the_panel_is_named_as_before(tmp_path, inputs):
    result = runner.invoke(app, ["effects", *inputs, "--band", "--outcomes", "no_such_outcome",
                                 "--out", str(tmp_path / "e.csv")])
    assert result.exit_code == 1 and "no_such_outcome" in result.output
    assert not list(tmp_path.iterdir())


def test_band_products_give_the_influences_cross_product():
    rng = np.random.default_rng(7)
    p, nw = 60, 9
    flag = rng.random((p, nw)) < 0.3
    hours = np.where(rng.random((p, nw)) < 0.4, rng.uniform(1, 37, (p, nw)), 0.0)
    length = rng.integers(0, nw + 1, p)
    t = (rng.random(p) < 0.5).astype(np.int8)
    sums = _band_sums({"flag": flag, "hours": hours}, length, t)
    observed = np.arange(nw)[None, :] < length[:, None]
    weeks = np.array([1, 2, 4, 5, 8])
    for name, y in (("flag", flag.astype(float)), ("hours", hours)):
        n = np.zeros(2 * len(weeks))
        mean = np.full(2 * len(weeks), np.nan)
        W = np.zeros((p, len(weeks)))                  # each person's influences, written out
        for k, w in enumerate(weeks):
            for arm in (0, 1):
                rows = observed[:, w] & (t == arm)
                n[2 * k + arm] = rows.sum()
                if rows.sum() >= 2:
                    mean[2 * k + arm] = y[rows, w].mean()
                    W[rows, k] = (y[rows, w] - mean[2 * k + arm]) / np.sqrt(rows.sum() * (rows.sum() - 1))
        np.testing.assert_allclose(sums[name].matrix(weeks, n, mean), W.T @ W, rtol=1e-12, atol=1e-15)
