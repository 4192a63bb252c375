"""trialeval.comparison.twfe_event_study against R (estimatr fixed effects, se_type "stata"; plm within) on
plm's Grunfeld data; values from make_reference_twfe.R."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from numpy.testing import assert_allclose

from trialeval.comparison import twfe_event_study

HERE = Path(__file__).parent


def test_twfe_event_study_equals_lm_robust_stata_and_plm():
    panel = pd.read_csv(HERE / "grunfeld.csv")
    ref = pd.read_csv(HERE / "twfe_reference.csv")
    table, (chi2, df, p) = twfe_event_study(panel, "inv", unit="firm", period="year", start="start", window=(-4, 4))
    assert table["event_time"].tolist() == ref["event_time"].tolist() == [-4, -3, -2, 0, 1, 2, 3, 4]
    for col in ("estimate", "se", "df", "ci_low", "ci_high", "p_value"):
        assert_allclose(table[col], ref[col], rtol=1e-8, atol=1e-8, err_msg=col)
    assert_allclose(table["estimate"], ref["plm_estimate"], rtol=1e-8)
    assert_allclose([chi2, df, p], ref[["chi2", "chi2_df", "chi2_p"]].iloc[0], rtol=1e-8)
