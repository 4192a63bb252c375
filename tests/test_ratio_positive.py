"""The ratio of means (delta method) and the mean among those with the outcome above zero, checked against
formulas written out here and scipy's Welch test, through the library and the command."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

from trialeval.cli import app
from trialeval.effects.ratio import ratio_and_positive


@pytest.fixture
def panel() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 400
    arm = np.repeat(["treatment", "control"], n // 2)
    rows = []
    for week in (1, 2):
        work = rng.random(n) < np.where(arm == "treatment", 0.5, 0.3)
        hours = np.where(work, rng.gamma(3.0, 10.0 + week, n), 0.0)
        rows.append(pd.DataFrame({"person_id": np.arange(n), "arm": arm, "week": week, "hours": hours}))
    return pd.concat(rows, ignore_index=True)


def test_ratio_and_positive_equal_the_formulas(panel: pd.DataFrame) -> None:
    ratio, positive = ratio_and_positive(panel, ["hours"], alpha=0.05)
    for week in (1, 2):
        t = panel.loc[(panel.week == week) & (panel.arm == "treatment"), "hours"].to_numpy()
        c = panel.loc[(panel.week == week) & (panel.arm == "control"), "hours"].to_numpy()
        r = t.mean() / c.mean()
        se = np.sqrt(t.var(ddof=1) / (len(t) * t.mean() ** 2) + c.var(ddof=1) / (len(c) * c.mean() ** 2))
        row = ratio[ratio.week == week].iloc[0]
        assert row["ratio"] == pytest.approx(r, rel=1e-12)
        assert row["se_log_ratio"] == pytest.approx(se, rel=1e-10)
        assert [row["ci_low"], row["ci_high"]] == pytest.approx([r * np.exp(-1.959963984540054 * se),
                                                                 r * np.exp(1.959963984540054 * se)], rel=1e-10)
        tp, cp = t[t > 0], c[c > 0]
        welch = stats.ttest_ind(tp, cp, equal_var=False)
        ci = welch.confidence_interval(0.95)
        got = positive[positive.week == week].iloc[0]
        assert (got["n_positive_treatment"], got["n_positive_control"]) == (len(tp), len(cp))
        assert got["difference"] == pytest.approx(tp.mean() - cp.mean(), rel=1e-12)
        assert got["p_value"] == pytest.approx(welch.pvalue, rel=1e-9)
        assert [got["ci_low"], got["ci_high"]] == pytest.approx([ci.low, ci.high], rel=1e-10)


def test_cells_with_fewer_than_five_having_the_outcome_are_blank() -> None:
    panel = pd.DataFrame({"week": 1, "arm": ["treatment"] * 8 + ["control"] * 8,
                          "y": [1, 1, 1, 1, 1, 0, 0, 0] + [1, 1, 1, 1, 0, 0, 0, 0]})     # 4 controls have it
    ratio, positive = ratio_and_positive(panel, ["y"])
    assert ratio.loc[0, "suppressed"] and np.isnan(ratio.loc[0, "ratio"]) and np.isnan(ratio.loc[0, "mean_control"])
    assert positive.loc[0, "suppressed"] and np.isnan(positive.loc[0, "n_positive_control"])


def test_effects_ratio_and_among_positive_through_the_command(panel: pd.DataFrame, tmp_path) -> None:
    panel.to_parquet(tmp_path / "panel.parquet")
    result = CliRunner().invoke(app, ["effects", "--panel", str(tmp_path / "panel.parquet"), "--outcomes", "hours",
                                      "--ratio", "--among-positive", "--out", str(tmp_path / "effects.csv")])
    assert result.exit_code == 0, result.output
    expected_ratio, expected_positive = ratio_and_positive(panel, ["hours"])
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "effects_ratio.csv"), expected_ratio, check_dtype=False)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "effects_positive.csv"), expected_positive, check_dtype=False)
    refused = CliRunner().invoke(app, ["effects", "--panel", str(tmp_path / "panel.parquet"), "--outcomes", "hours",
                                       "--ratio", "--min-weeks", "2", "--out", str(tmp_path / "e2.csv")])
    assert refused.exit_code == 2 and not (tmp_path / "e2.csv").exists()
