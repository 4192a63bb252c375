"""trialeval.sites and trialeval.explain against R (estimatr, metafor); values from make_reference_sites.R."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from numpy.testing import assert_allclose

from trialeval.explain import hc2_regression, person_regression, site_measure
from trialeval.sites import site_effects, subgroup_effects

HERE = Path(__file__).parent
PANEL = pd.read_csv(HERE / "sites_panel.csv", dtype={"person_id": str})
FACTORS = pd.read_csv(HERE / "site_factors.csv")
TOL = {"rtol": 1e-8, "atol": 1e-10}


def test_site_effects_and_pooling_equal_estimatr():
    ref = pd.read_csv(HERE / "sites_reference_sites.csv").set_index("site").sort_index()
    got = site_effects(PANEL, "municipality", "in_company", 13).table.set_index("site").sort_index()
    assert list(got.index) == list(ref.index)
    assert "other" in got.index and "Holstebro" not in got.index and "Viborg" not in got.index
    assert (got["n_treatment"] == ref["n_treatment"]).all() and (got["n_control"] == ref["n_control"]).all()
    for col in ("effect", "se", "df", "ci_low", "ci_high", "p_value"):
        assert_allclose(got[col], ref[col], **TOL, err_msg=col)


def test_heterogeneity_and_random_effects_equal_metafor_dl():
    ref = pd.read_csv(HERE / "sites_reference_meta.csv").iloc[0]
    result = site_effects(PANEL, "municipality", "in_company", 13)
    h = result.heterogeneity
    assert h.k == ref["k"] and h.df == ref["df"] and result.n_hidden == ref["n_hidden"]
    for name in ("q", "p_value", "i2", "tau2", "estimate", "se", "ci_low", "ci_high"):
        assert_allclose(getattr(h, name), ref[name], **TOL, err_msg=name)
    assert h.tau2 > 0          # the sites differ: a case where the random-effects weights matter


def test_subgroup_effects_and_interaction_tests_equal_lm_robust_hc2():
    ref = pd.read_csv(HERE / "sites_reference_subgroups.csv", dtype={"subgroup": str})
    got = subgroup_effects(PANEL, ["gender", "age_band", "prior_hours"], "in_company", 13)
    table = got.table.set_index(["covariate", "subgroup"])
    r = ref.set_index(["covariate", "subgroup"])
    assert_allclose(table.loc[r.index, "effect"], r["effect"], **TOL)
    assert_allclose(table.loc[r.index, "se"], r["se"], **TOL)
    tests = got.tests.set_index("covariate")
    per = ref.drop_duplicates("covariate").set_index("covariate")
    for col in ("chi2", "df", "p_value", "p_holm"):
        assert_allclose(tests.loc[per.index, col], per[col], **TOL, err_msg=col)


def test_site_regression_equals_lm_robust_hc2_plain_and_weighted():
    ref = pd.read_csv(HERE / "sites_reference_explain.csv")
    sites = site_measure(PANEL, "municipality", "in_company", 13, measure="share").merge(FACTORS, on="municipality")
    for model, terms, weights in (("plain", ["fidelity"], None), ("weighted", ["fidelity", "belief"], "n")):
        r = ref[ref["model"] == model].reset_index(drop=True)
        fit = hc2_regression(sites, "share", terms, weights=weights)
        assert fit.n == r["n"].iloc[0]
        assert list(fit.table["term"]) == list(r["term"])
        for col in ("estimate", "se", "df", "p_value", "ci_low", "ci_high"):
            assert_allclose(fit.table[col], r[col], **TOL, err_msg=f"{model}: {col}")
        assert_allclose(fit.r2, r["r2"].iloc[0], **TOL)


def test_person_regression_equals_lm_robust_hc2_with_treatment_contrasts():
    ref = pd.read_csv(HERE / "sites_reference_person.csv")
    fit = person_regression(PANEL, "in_company", 13, ["gender", "age_band", "prior_hours"])
    assert list(fit.table["term"]) == list(ref["term"])
    for col in ("estimate", "se", "p_value"):
        assert_allclose(fit.table[col], ref[col], **TOL, err_msg=col)
    assert_allclose(fit.r2, ref["r2"].iloc[0], **TOL)
    assert "associations" in fit.caveat and fit.n == ref["n"].iloc[0]


def test_person_regression_ever_by_a_period_equals_lm_robust_hc2():
    ref = pd.read_csv(HERE / "sites_reference_person_ever.csv")
    panel = PANEL.copy()
    panel.loc[(panel["week"] == 13) & panel["person_id"].str.endswith("7"), "in_company"] = float("nan")
    fit = person_regression(panel, "in_company", 13, ["gender", "age_band", "prior_hours"], ever=True)
    assert list(fit.table["term"]) == list(ref["term"]) and fit.n == ref["n"].iloc[0]
    assert_allclose(fit.data["in_company"].mean(), ref["mean_ever"].iloc[0], **TOL)
    for col in ("estimate", "se", "df", "p_value", "ci_low", "ci_high"):
        assert_allclose(fit.table[col], ref[col], **TOL, err_msg=col)
    assert_allclose(fit.r2, ref["r2"].iloc[0], **TOL)
