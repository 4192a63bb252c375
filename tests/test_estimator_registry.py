"""The estimator registry, and the two cases where estimates follow R exactly: constant arms, aliased Lin terms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from trialeval.effects import ESTIMATORS, WeekData, effects, estimator_for
from trialeval.effects.estimators import DifferenceInMeans
from trialeval.exceptions import TrialevalWarning


def _panel(weeks: dict[int, tuple[list[float], list[float]]], **extra: dict[int, tuple[list, list]]) -> pd.DataFrame:
    rows = []
    for week, (treated, control) in weeks.items():
        for arm, ys in (("treatment", treated), ("control", control)):
            for i, y in enumerate(ys):
                row = {"person_id": f"{arm[0]}{i}", "arm": arm, "week": week, "ordinary_hours": float(y)}
                for name, values in extra.items():
                    row[name] = values[week][0 if arm == "treatment" else 1][i]
                rows.append(row)
    return pd.DataFrame(rows)


def test_registry_names_the_four_estimators_and_options_select_them():
    assert set(ESTIMATORS) == {"difference_in_means", "blocked", "lin", "cr2"}
    assert estimator_for({}).name == "difference_in_means"
    assert estimator_for({"blocks": "stratum"}).name == "blocked"
    assert estimator_for({"covariates": ["age"]}).name == "lin"
    assert estimator_for({"cluster": "site", "blocks": None}).name == "cr2"
    for name, est in ESTIMATORS.items():
        assert est.name == name and callable(est.estimate) and callable(est.describe)


def test_effects_uses_the_registered_estimator(monkeypatch):
    calls: list[WeekData] = []

    class Spy(DifferenceInMeans):
        def describe(self, value):
            return "spy estimator"

        def estimate(self, data):
            calls.append(data)
            return super().estimate(data)

    monkeypatch.setitem(ESTIMATORS, "difference_in_means", Spy())
    panel = _panel({1: ([1, 2, 3], [0, 1, 1]), 2: ([2, 4, 6], [1, 2, 3])})
    res = effects(panel, "ordinary_hours")
    assert res.design == "spy estimator"
    assert [d.outcome for d in calls] == ["ordinary_hours"] and calls[0].nw == 2
    assert_allclose(res.to_frame()["effect"], [4 / 3, 2.0])


def test_constant_arms_give_se_zero_and_no_df_ci_or_p_as_estimatr():
    # Week 1: every hours value 0.0 (both arms constant); week 2 gives the panel a non-zero mean, so
    # centring at the overall mean would leave rounding noise (SE ≈ 7e-8, p = 1); week 3: the treated
    # arm alone is constant.
    panel = _panel({1: ([0.0] * 7, [0.0] * 9),
                    2: ([9.7, 11.0, 30.1, 3.4, 22.2, 27.0, 7.0], [2.0, 10.2, 24.3, 20.8, 5.6, 16.0, 24.8, 15.6, 23.4]),
                    3: ([0, 0, 0], [1, 2, 3, 6])})
    t = effects(panel, "ordinary_hours").to_frame().set_index("week")
    w1 = t.loc[1]
    assert w1["effect"] == 0.0 and w1["se"] == 0.0
    assert np.isnan(w1["df"]) and np.isnan(w1["ci_low"]) and np.isnan(w1["ci_high"]) and np.isnan(w1["p_value"])
    w3 = t.loc[3]
    # SE from the control arm only: s0² = 14/3, SE² = s0²/4; Welch–Satterthwaite df = n0 − 1
    assert w3["effect"] == -3.0
    assert_allclose(w3["se"], np.sqrt(14 / 3 / 4), rtol=1e-14)
    assert_allclose(w3["df"], 3.0, rtol=1e-12)
    assert np.isfinite(w3["p_value"]) and w3["ci_low"] < -3.0 < w3["ci_high"]


def test_constant_arms_at_a_nonzero_value_are_exact_too():
    panel = _panel({1: ([0.1, 0.1, 0.1], [0.1, 0.1, 0.1, 0.1]), 2: ([1.5, 3, 4.5], [2, 2, 6, 10])})
    w1 = effects(panel, "ordinary_hours").to_frame().iloc[0]
    assert w1["effect"] == 0.0 and w1["se"] == 0.0 and np.isnan(w1["p_value"])




def test_lin_leaves_out_the_interaction_of_a_covariate_constant_in_one_arm():
    # x is 0 for every control person: x·t is a combination of 1, t and x, so the treatment effect is
    # identified only without it (lm_lin: NA for the interaction, the effect from [1, t, x]).
    rng = np.random.default_rng(5)
    y1, y0 = list(rng.normal(10, 2, 6)), list(rng.normal(8, 2, 6))
    x1 = list(rng.normal(0, 100, 6))
    panel = _panel({1: (y1, y0)}, x={1: (x1, [0.0] * 6)})
    with pytest.warns(TrialevalWarning, match=r"Lin adjustment.*week 1: x$"):
        got = effects(panel, "ordinary_hours", covariates="x").to_frame().iloc[0]
    t, x, y = np.r_[np.ones(6), np.zeros(6)], np.r_[x1, np.zeros(6)], np.r_[y1, y0]
    X = np.column_stack([np.ones(12), t, x - x.mean()])
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    assert_allclose(got["effect"], beta[1], rtol=1e-10)
    e = y - X @ beta
    h = np.einsum("ij,ji->i", X, np.linalg.solve(X.T @ X, X.T))
    bread = np.linalg.inv(X.T @ X)
    hc2 = bread @ (X.T * (e * e / (1 - h))) @ X @ bread
    assert_allclose(got["se"], np.sqrt(hc2[1, 1]), rtol=1e-10)
    assert got["df"] == 12 - 3


def test_lin_leaves_out_an_interaction_that_is_not_identified_and_warns():
    rng = np.random.default_rng(5)
    y1, y0 = list(rng.normal(10, 2, 6)), list(rng.normal(8, 2, 6))
    x1, x0 = list(rng.normal(0, 1, 6)), list(rng.normal(0, 1, 6))
    # week 1: region 'c' only among the treated; week 2: every region in both arms
    regions = {1: (["a", "b", "c", "c", "a", "b"], ["a", "b", "a", "b", "a", "b"]),
               2: (["a", "b", "c", "c", "a", "b"], ["a", "b", "c", "b", "a", "c"])}
    panel = _panel({1: (y1, y0), 2: (y1, y0)}, region=regions, x={1: (x1, x0), 2: (x1, x0)})
    with pytest.warns(TrialevalWarning, match=r"week 1: regionc") as record:
        res = effects(panel, "ordinary_hours", covariates=["x", "region"])
    assert not any("week 2" in str(w.message) for w in record)
    t = np.r_[np.ones(6), np.zeros(6)]
    y = np.r_[y1, y0]
    for week, (r1, r0) in regions.items():
        reg = np.array(r1 + r0)
        Z = np.column_stack([np.r_[x1, x0], reg == "b", reg == "c"]).astype(float)
        Zc = Z - Z.mean(axis=0)
        inter = t[:, None] * Zc
        if week == 1:
            inter = inter[:, :2]       # the 'c' interaction is aliased: lm_lin reports NA for it
        X = np.column_stack([np.ones(12), t, Zc, inter])
        beta = np.linalg.lstsq(X, y, rcond=None)[0]
        got = res.to_frame().set_index("week").loc[week, "effect"]
        assert_allclose(got, beta[1], rtol=1e-10)
        assert np.linalg.matrix_rank(X) == X.shape[1]
