"""trialeval.comparison against R's estimatr (weighted CR2, Bell–McCaffrey df) on lalonde matched by MatchIt;
values from make_reference_comparison.R."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from trialeval.comparison import cr2_regression, event_study, weighted_difference

HERE = Path(__file__).parent
LALONDE = pd.read_csv(HERE / "lalonde.csv")
MATCHED = pd.read_csv(HERE / "comparison_matched.csv")
DIM = pd.read_csv(HERE / "comparison_reference_dim.csv")
EVENT = pd.read_csv(HERE / "comparison_reference_event.csv")
TOL = {"rtol": 1e-8, "atol": 1e-8}
COLS = ["estimate", "se", "df", "ci_low", "ci_high", "p_value"]


def _ref(model: str, term: str = "treat") -> pd.Series:
    return DIM.loc[(DIM["model"] == model) & (DIM["term"] == term)].iloc[0]


def test_matched_weighted_difference_with_cr2_by_match_equals_lm_robust():
    y = LALONDE["re78"].to_numpy()[MATCHED["row"] - 1]
    got = weighted_difference(y, MATCHED["treat"].to_numpy(), MATCHED["subclass"].to_numpy(),
                              MATCHED["weights"].to_numpy())
    ref = _ref("matched_1to2")
    assert MATCHED["weights"].nunique() > 2                       # the comparison weights really differ
    for col in COLS:
        assert_allclose(got[col], ref[col], **TOL, err_msg=col)


def test_att_odds_weights_with_one_person_clusters_equal_lm_robust():
    from trialeval.matching import logit_propensity

    covariates = ["age", "educ", "race", "married", "nodegree", "re74", "re75"]
    t = LALONDE["treat"].to_numpy() == 1
    score = logit_propensity(LALONDE, t, covariates)
    w = np.where(t, 1.0, np.exp(score))                       # odds p / (1 − p) = exp(logit)
    got = weighted_difference(LALONDE["re78"].to_numpy(), t, np.arange(len(t)), w)
    ref = _ref("att_odds_weights")
    for col in COLS:
        assert_allclose(got[col], ref[col], rtol=1e-7, atol=1e-7, err_msg=col)   # glm's scores to 1e-10


@pytest.mark.parametrize(("model", "baseline"), [("raw", None), ("baseline_2", 2)])
def test_event_study_and_pre_trend_test_equal_lm_robust(model, baseline):
    rows = []
    for week, column in ((-2, "re74"), (-1, "re75"), (1, "re78")):
        rows.append(pd.DataFrame({"person_id": MATCHED["row"].astype(str), "week": week,
                                  "arm": np.where(MATCHED["treat"] == 1, "programme", "comparison"),
                                  "weight": MATCHED["weights"], "match_id": MATCHED["subclass"],
                                  "y": LALONDE[column].to_numpy()[MATCHED["row"] - 1]}))
    table, (chi2, df, p) = event_study(pd.concat(rows, ignore_index=True), "y", baseline=baseline)
    ref = EVENT[EVENT["model"] == model].sort_values("week")
    assert table["week"].tolist() == ref["week"].tolist()
    for col in COLS:
        assert_allclose(table[col], ref[col], **TOL, err_msg=col)
    assert_allclose([chi2, df, p], [ref["chi2"].iloc[0], ref["chi2_df"].iloc[0], ref["chi2_p"].iloc[0]], **TOL)


def test_the_documented_small_case():
    X = np.column_stack([np.ones(6), [1, 1, 1, 0, 0, 0]])
    fit = cr2_regression(X, np.array([3.0, 4, 5, 1, 2, 2]), np.array([1, 2, 3, 1, 2, 3]))
    assert_allclose(fit.vcov[1, 1], 1 / 9, rtol=1e-12)          # lm_robust: 0.1111111111
