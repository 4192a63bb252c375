"""Balance before and after matching, hand-computed: SMD on the programme group's SD before matching,
raw differences for 0/1 covariates, weighted variances and the flag."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trialeval.balance_weighted import balance_before_after, weighted_variance


def test_hand_computed_before_and_after_with_weights():
    before = pd.DataFrame({"age": [30.0, 40, 50, 20, 25, 60, 35, 45],
                           "gender": ["F", "M", "F", "M", "M", "F", "M", "F"]})
    t = np.array([1, 1, 1, 0, 0, 0, 0, 0], dtype=bool)
    keep = [0, 1, 2, 4, 5, 7]
    after = before.iloc[keep]
    w = np.array([1, 1, 1, 0.5, 1.5, 1.0])
    b = balance_before_after(before, after, ["age", "gender"], programme=t, programme_after=t[keep], weights_after=w)
    age = b.table.set_index("covariate").loc["age"]
    # before: programme mean 40, SD 10; comparison mean (20+25+60+35+45)/5 = 37
    assert age["smd_before"] == pytest.approx(0.3, abs=1e-12)
    # after: comparison weighted mean (0.5·25 + 1.5·60 + 45) / 3 = 49.1667, on the same SD of 10
    assert age["mean_comparison_after"] == pytest.approx(147.5 / 3, abs=1e-12)
    assert age["smd_after"] == pytest.approx((40 - 147.5 / 3) / 10, abs=1e-12)
    assert age["flag"] == "|SMD| > 0.1"
    m = 147.5 / 3
    wvar = (0.5 * (25 - m) ** 2 + 1.5 * (60 - m) ** 2 + (45 - m) ** 2) * 3 / (9 - (0.25 + 2.25 + 1))
    assert age["variance_ratio_after"] == pytest.approx(100 / wvar, rel=1e-12)
    female = b.table.set_index("covariate").loc["gender_F"]
    assert bool(female["binary"]) and np.isnan(female["variance_ratio_before"])
    # 0/1: raw difference in proportions; before 2/3 vs 2/5, after 2/3 vs (1.5 + 1) / 3
    assert female["smd_before"] == pytest.approx(2 / 3 - 2 / 5, abs=1e-12)
    assert female["smd_after"] == pytest.approx(2 / 3 - 2.5 / 3, abs=1e-12)
    assert not b.balanced and "age" in b.summary()


def test_weighted_variance_of_equal_weights_is_the_sample_variance_whatever_the_weight():
    x = np.array([3.0, 7.0, 8.0, 1.0])
    # c·SS · 4c / ((4c)² − 4c²) = SS / 3 for any common weight c
    assert weighted_variance(x, np.full(4, 2.5)) == pytest.approx(np.var(x, ddof=1), rel=1e-12)
    assert weighted_variance(x, np.ones(4)) == pytest.approx(np.var(x, ddof=1), rel=1e-12)
