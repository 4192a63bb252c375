"""Behaviour of trialeval.effects: inputs, options, disclosure, figures, and simulations with a known truth.

The numbers of each estimator are checked against R in tests/reference/test_effects_reference.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from statsmodels.stats.multitest import multipletests

from trialeval.effects import TABLE_COLUMNS, effects, hours_distribution
from trialeval.exceptions import EstimationError, InputDataError, TrialevalWarning
from trialeval.plots import plot_effect_curve


def simulate(n_persons=400, n_weeks=10, effect=None, rho=0.6, sd=1.0, rng=0, attrition=True, strata=1, reps=0):
    """Persons with AR(1) noise over weeks; the effect curve ``effect(week)`` is added for the treated.

    The outcome is ``y``; with ``reps`` > 0 the columns ``y0 … y{reps-1}`` carry independent noise.
    """
    rng = np.random.default_rng(rng)
    effect = effect or (lambda w: 0.5 * np.minimum(w / 5, 1.0))
    stratum = rng.integers(0, strata, n_persons)
    treated = np.zeros(n_persons, dtype=bool)
    for s in range(strata):                                   # complete randomisation within strata
        idx = np.flatnonzero(stratum == s)
        treated[rng.permutation(idx)[: len(idx) // 2]] = True
    last = rng.integers(n_weeks // 2, n_weeks + 1, n_persons) if attrition else np.full(n_persons, n_weeks)
    pid, wk = np.divmod(np.arange(n_persons * n_weeks), n_weeks)
    wk = wk + 1
    keep = wk <= last[pid]
    pid, wk = pid[keep], wk[keep]
    out = pd.DataFrame({"person_id": np.char.add("p", np.char.zfill(pid.astype(str), 5)),
                        "arm": np.where(treated[pid], "treatment", "control"), "week": wk,
                        "stratum": stratum[pid].astype(str)})
    for name in ([f"y{r}" for r in range(reps)] or ["y"]):
        eps = np.empty((n_persons, n_weeks))
        eps[:, 0] = rng.normal(size=n_persons)
        for k in range(1, n_weeks):
            eps[:, k] = rho * eps[:, k - 1] + np.sqrt(1 - rho**2) * rng.normal(size=n_persons)
        out[name] = 2.0 + sd * eps[pid, wk - 1] + treated[pid] * effect(wk)
    return out


# ---------------------------------------------------------------------------------------------- inputs


def test_missing_outcome_values_drop_only_that_person_week_of_that_outcome():
    panel = simulate(60, 3, attrition=False)
    panel["z"] = panel["y"]
    panel.loc[[0, 1, 5], "y"] = np.nan                        # person p00000 weeks 1, 2; p00001 week 3
    t = effects(panel, ["y", "z"]).to_frame().set_index(["outcome", "week"])
    n = t["n_treatment"] + t["n_control"]
    assert n.loc["y"].tolist() == [59, 59, 59] and n.loc["z"].tolist() == [60, 60, 60]
    assert_allclose(t.loc[("z", 3), "effect"], panel[panel.week == 3].pipe(
        lambda d: d[d.arm == "treatment"].z.mean() - d[d.arm == "control"].z.mean()))


@pytest.mark.parametrize("change, match", [
    (lambda d: d.drop(columns="week"), "'week' missing"),
    (lambda d: d.assign(arm=d["arm"].replace("control", "ctrl")), "'arm' must be 'treatment' or 'control'"),
    (lambda d: pd.concat([d, d.iloc[:2]]), "appears twice in the same week"),
    (lambda d: d.assign(week=d["week"] + 0.5), "'week' must be a whole number"),
    (lambda d: d.assign(y=d["y"].astype(str)), "'y' must be numeric"),
    (lambda d: d.assign(arm=np.where(d.index == 1, "treatment" if d.arm[0] == "control" else "control", d.arm)),
     "'arm' must be constant within each person"),
])
def test_bad_panels_are_reported_with_column_and_rows(change, match):
    panel = simulate(20, 3, attrition=False)
    with pytest.raises(InputDataError, match=match):
        effects(change(panel), "y", source="panel.csv")


def test_bad_arguments_are_reported():
    panel = simulate(20, 3)
    with pytest.raises(InputDataError, match="'alpha' must be in"):
        effects(panel, "y", alpha=1.5)
    with pytest.raises(InputDataError, match="one of 'blocks', 'covariates' and 'cluster'"):
        effects(panel, "y", blocks="stratum", cluster="stratum")
    with pytest.raises(InputDataError, match="'min_weeks' must be a whole number >= 1"):
        effects(panel, "y", min_weeks=0)
    with pytest.raises(InputDataError, match="'nope' missing"):
        effects(panel, "nope")


def test_cluster_must_not_mix_arms():
    panel = simulate(40, 2)
    panel["cl"] = panel["person_id"].str[-1]                  # clusters cut across arms
    with pytest.raises(InputDataError, match="'arm' must be constant within each cluster"):
        effects(panel, "y", cluster="cl")


def test_default_outcomes_are_the_numeric_non_design_columns():
    panel = simulate(40, 2).assign(other=1.0, label="x")
    assert effects(panel).outcomes == ("y", "other")


# ---------------------------------------------------------------------------------------------- options


def test_fixed_cohort_keeps_persons_followed_k_weeks_and_reports_weeks_1_to_k():
    panel = simulate(300, 10)
    last = panel.groupby("person_id")["week"].max()
    res = effects(panel, "y", min_weeks=8).to_frame()
    assert res["week"].tolist() == list(range(1, 9))
    n = res["n_treatment"] + res["n_control"]
    assert n.nunique() == 1 and n.iloc[0] == (last >= 8).sum()


def test_weeks_argument_selects_weeks():
    assert effects(simulate(50, 6), "y", weeks=[2, 4]).to_frame()["week"].tolist() == [2, 4]
    assert effects(simulate(50, 6), "y", weeks=3).to_frame()["week"].tolist() == [1, 2, 3]


def test_blocked_drops_and_reports_block_weeks_without_both_arms():
    panel = simulate(200, 4, strata=4, attrition=False)
    gone = (panel["stratum"] == "3") & (panel["arm"] == "treatment") & (panel["week"] == 4)
    with pytest.warns(TrialevalWarning, match="1 block-week cell"):
        res = effects(panel[~gone], "y", blocks="stratum")
    d = res.dropped_blocks
    assert d[["week", "block", "n_treatment", "reason"]].values.tolist() == [[4, "3", 0, "an arm is empty"]]
    t = res.to_frame()
    assert t.loc[3, "n_control"] == (panel[(panel.week == 4) & (panel.stratum != "3")].arm == "control").sum()
    assert t.loc[3, "df"] == t.loc[3, "n_treatment"] + t.loc[3, "n_control"] - 2 * 3
    assert "dropped_blocks" in res.export_tables()


def test_export_frame_suppresses_small_cells_and_to_frame_does_not():
    panel = simulate(400, 10, attrition=False)
    late = panel["week"] == 10
    panel = panel[~late | (panel["person_id"] < "p00007")]      # only a handful followed in week 10
    res = effects(panel, "y", min_cell=5)
    raw, exported = res.to_frame(), res.export_frame()
    small = (raw["n_treatment"] < 5) | (raw["n_control"] < 5)
    assert small.tolist() == [False] * 9 + [True]
    assert raw.loc[9, "effect"] == raw.loc[9, "effect"]        # not NaN in the raw table
    assert exported.loc[9, ["effect", "se", "n_treatment", "mean_control"]].isna().all()
    assert exported["suppressed"].tolist() == small.tolist()
    assert_allclose(exported.loc[:8, "effect"], raw.loc[:8, "effect"])


def test_band_is_wider_than_pointwise_ci_and_reproducible():
    panel = simulate(300, 12)
    a = effects(panel, "y", band=True, rng=7)
    b = effects(panel, "y", band=True, rng=7)
    ta = a.to_frame()
    assert_allclose(ta["band_low"], b.to_frame()["band_low"])
    crit = a.critical_values["y"]
    assert a.bands["t_pointwise"].iloc[0] < crit < 4.0
    assert_allclose(ta["effect"] - ta["band_low"], crit * ta["se"])
    assert (ta["band_low"] < ta["ci_low"]).all() and (ta["band_high"] > ta["ci_high"]).all()
    r = effects(panel, "y", band=True, rng=7, multiplier="rademacher", band_draws=2000)
    assert abs(r.critical_values["y"] - crit) < 0.1


def test_band_critical_value_reflects_correlation_across_weeks():
    # Perfectly persistent noise: all weeks move together, so the sup-t value is the pointwise one.
    same = effects(simulate(300, 12, rho=1.0, attrition=False), "y", band=True, rng=1).critical_values["y"]
    indep = effects(simulate(300, 12, rho=0.0, attrition=False), "y", band=True, rng=1).critical_values["y"]
    assert abs(same - 1.96) < 0.05
    assert 2.6 < indep < 3.0                                   # max of 12 independent |z|: 2.87


def test_randomisation_inference_within_strata():
    panel = simulate(200, 4, strata=2, attrition=False, effect=lambda w: 3.0 * (w >= 3))
    res = effects(panel, "y", ri=199, rng=3).to_frame()
    assert (res.loc[res.week >= 3, "p_value_ri"] == 1 / 200).all()   # no permutation beats a 3-sd effect
    assert (res.loc[res.week < 3, "p_value_ri"] > 0.01).all()
    assert_allclose(effects(panel, "y", ri=199, rng=3).to_frame()["p_value_ri"], res["p_value_ri"])
    # If arms coincide with strata, no within-stratum permutation changes anything: p = 1.
    panel["stratum"] = panel["arm"]
    assert (effects(panel, "y", ri=50, rng=3).to_frame()["p_value_ri"] == 1.0).all()


def test_randomisation_inference_p_values_are_uniform_under_the_null():
    pvals = np.concatenate([effects(simulate(60, 3, effect=lambda w: 0 * w, rng=s, attrition=False), "y",
                                    ri=99, rng=s).to_frame()["p_value_ri"] for s in range(60)])
    assert 0.025 < np.mean(pvals <= 0.1) < 0.2
    assert abs(np.mean(pvals) - 0.5) < 0.06


def test_summary_regression_agrees_with_per_person_means_and_holm():
    panel = simulate(400, 10, effect=lambda w: 0.4 + 0 * w)
    panel["z"] = panel["y"] * 0.5 + np.random.default_rng(1).normal(size=len(panel))
    panel["zero"] = np.random.default_rng(2).normal(size=len(panel))
    res = effects(panel, ["y", "z", "zero"], summary_weeks=5)
    s = res.summary_table.set_index("outcome")
    last = panel.groupby("person_id")["week"].max()
    assert s.loc["y", "n_treatment"] + s.loc["y", "n_control"] == (last >= 5).sum()
    assert_allclose(s["effect"], s["effect_person_means"], rtol=1e-10)     # balanced cohort: identical
    assert_allclose(s["se"], s["se_person_means"], rtol=0.02)              # CR1 vs Welch: close
    assert abs(s.loc["y", "effect"] - 0.4) < 3 * s.loc["y", "se"]
    assert_allclose(s["p_holm"], multipletests(s["p_value"], method="holm")[1])
    assert s.loc["y", "ci_low"] < s.loc["y", "effect"] < s.loc["y", "ci_high"]


def test_lin_reports_se_unadjusted_and_handles_a_level_absent_in_a_week():
    panel = simulate(200, 3, attrition=False)
    rng = np.random.default_rng(5)
    persons = panel["person_id"].unique()
    x = pd.Series(rng.normal(size=len(persons)), index=persons)
    panel["x"] = panel["person_id"].map(x)
    panel["g"] = np.where(panel["person_id"].map(x) > 0, "hi", "lo")
    panel.loc[(panel.week == 2) & (panel.g == "hi"), "g"] = "lo"
    panel["y"] = panel["y"] + 2 * panel["x"]
    t = effects(panel, "y", covariates=["x", "g"]).to_frame()
    assert t["effect"].notna().all() and (t["se"] < 0.7 * t["se_unadjusted"]).all()


# ---------------------------------------------------------------------------------------------- hours


def test_hours_distribution_bins_follow_spec_edges():
    h = [0.0, 5.0, 5.01, 30.0, 30.5, 36.99, 37.0, 60.0, 12.0, np.nan]
    p = pd.DataFrame({"person_id": [str(i) for i in range(10)], "arm": ["treatment"] * 8 + ["control"] * 2,
                      "week": 35, "ordinary_hours": h})
    t = hours_distribution(p, 35).to_frame()
    tr = t[t.arm == "treatment"].set_index("bin")
    assert tr["count"].to_dict() == {"(0,5]": 1, "(5,10]": 1, "(10,15]": 0, "(15,20]": 0, "(20,25]": 0,
                                     "(25,30]": 1, "(30,37)": 2, "≥37": 2}
    assert_allclose(tr["share"].sum(), 7 / 8)
    assert_allclose(tr["share_positive"].sum(), 1.0)
    co = t[t.arm == "control"]
    assert co["count"].sum() == 1 and co["n_observed"].iloc[0] == 1      # the NaN week is not observed
    exported = hours_distribution(p, 35).export_frame()
    # every occupied bin holds 1 or 2 persons: blanked; empty bins disclose no one and stay 0
    assert exported.loc[exported["arm"] == "treatment", "count"].fillna(-1).tolist() == [-1, -1, 0, 0, 0, -1, -1, -1]
    assert exported.loc[exported["arm"] == "control", ["count", "n_observed", "share"]].isna().all().all()


def test_effects_attaches_hours_distribution():
    panel = simulate(100, 3).rename(columns={"y": "ordinary_hours"})
    res = effects(panel, hours_week=2)
    assert res.hours.week == 2 and res.hours.table["n_observed"].sum() == 2 * 8 * (panel.week == 2).sum() / 2
    assert set(res.export_tables()) == {"", "hours"}


# ---------------------------------------------------------------------------------------------- figures


def test_effect_figure_panels_labels_grey_weeks_and_no_ids():
    panel = simulate(400, 10, attrition=False)
    panel = panel[(panel["week"] < 9) | (panel["person_id"] < "p00060")]
    panel["has_ordinary_hours"] = (panel["y"] > 2.5).astype(float)
    res = effects(panel, ["has_ordinary_hours", "y"], band=True, rng=1)
    fig = plot_effect_curve(res, "has_ordinary_hours", lang="da", grey_below=100)
    left, right = fig.axes
    assert left.get_xlabel() == "Uger siden visitation" and right.get_ylabel() == "Procentpoint"
    labels = [t.get_text() for t in left.get_legend().get_texts()]
    assert labels[:2] == ["Indsatsgruppe", "Kontrolgruppe"]
    assert "færre end 100 fulgt i en gruppe: få personer, brede intervaller" in labels     # the grey weeks explained
    # levels drawn in percent
    line = left.get_lines()[0]
    assert_allclose(line.get_ydata()[0], 100 * res.table.loc[0, "mean_treatment"])
    grey = [p for p in left.patches if p.get_facecolor()[:3] == pytest.approx((0.85, 0.85, 0.85))]
    assert len(grey) >= 2                                      # weeks 9 and 10 shaded
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert "Antal fulgt" in texts and not any(t.startswith("p0") for t in texts)
    assert fig.axes[0].get_ylabel() == "Procent"
    en = res.plot("y")
    assert en.axes[0].get_ylabel() == "Mean" and en.axes[0].get_xlabel() == "Weeks since visitation"


def test_figures_hide_weeks_below_min_cell():
    panel = simulate(200, 6, attrition=False)
    panel = panel[(panel["week"] < 6) | (panel["person_id"] < "p00006")]
    res = effects(panel, "y", min_cell=5)
    assert (res.to_frame()["n_treatment"].iloc[-1] < 5) or (res.to_frame()["n_control"].iloc[-1] < 5)
    fig = res.plot("y")
    assert np.isnan(fig.axes[1].get_lines()[-1].get_ydata()[-1])
    assert "<5" in [t.get_text() for t in fig.axes[0].texts]


def test_bad_language_is_an_input_error():
    with pytest.raises(InputDataError, match="'lang' must be one of en, da"):
        effects(simulate(20, 2), "y").plot(lang="de")


# ---------------------------------------------------------------------------------------------- simulations


def test_pointwise_coverage_and_recovery_of_a_known_effect_curve():
    """40 simulated trials × 10 outcome replicates × 10 weeks = 4,000 intervals of a known curve.

    Each trial redraws assignment and attrition; each replicate redraws the AR(1) noise. The Monte
    Carlo standard error of the coverage is sqrt(0.95·0.05/4000) ≈ 0.34 pp (a little more, the weeks of
    a person being correlated, rho = 0.6), so 93–97 % is a window of about ±5 MC SEs.
    """
    truth = lambda w: 0.5 * np.minimum(w / 5, 1.0)                          # noqa: E731
    outcomes = [f"y{r}" for r in range(10)]
    tables = [effects(simulate(100, 10, effect=truth, rng=1000 + rep, reps=10), outcomes).to_frame()
              for rep in range(40)]
    t = pd.concat(tables, ignore_index=True)
    true = truth(t["week"].to_numpy())
    assert t["effect"].notna().all()
    coverage = np.mean((t["ci_low"] <= true) & (true <= t["ci_high"]))
    assert 0.93 <= coverage <= 0.97, coverage
    by_week = t.groupby("week")["effect"].agg(["mean", "std", "size"])
    mc_se = by_week["std"] / np.sqrt(by_week["size"])
    assert (np.abs(by_week["mean"] - truth(by_week.index.to_numpy())) < 4 * mc_se).all()


def test_sup_t_band_covers_the_whole_curve_about_95_percent_of_the_time():
    """20 trials × 10 replicates = 200 curves: simultaneous coverage in 0.90–0.99 (MC SE ≈ 1.5 pp).

    Pointwise 95 % intervals over 12 correlated weeks cover the whole curve far less often.
    """
    truth = lambda w: 0.3 * np.sqrt(w)                                     # noqa: E731
    outcomes = [f"y{r}" for r in range(10)]
    band_ok, ci_ok = [], []
    for rep in range(20):
        t = effects(simulate(150, 12, effect=truth, rng=5000 + rep, reps=10), outcomes, band=True, rng=rep,
                    band_draws=2000).to_frame()
        inside = lambda lo, hi: ((t[lo] <= truth(t["week"])) & (truth(t["week"]) <= t[hi]))  # noqa: E731
        band_ok.extend(inside("band_low", "band_high").groupby(t["outcome"]).all())
        ci_ok.extend(inside("ci_low", "ci_high").groupby(t["outcome"]).all())
    assert len(band_ok) == 200
    assert 0.90 <= np.mean(band_ok) <= 0.99, np.mean(band_ok)
    assert np.mean(ci_ok) < 0.85


def test_empty_week_selection_is_an_estimation_error():
    with pytest.raises(EstimationError, match="no weeks to report"):
        effects(simulate(20, 3), "y", min_weeks=50)


def test_panel_dtypes_and_row_order_do_not_change_the_estimates():
    """``panel`` writes categoricals, int16 weeks, int8 indicators, arrow ids: same numbers as plain floats."""
    plain = simulate(300, 8, strata=3)
    plain["ind"] = (plain["y"] > 2.3).astype(float)
    plain.loc[plain.index[::7], "y"] = np.nan
    lean = plain.assign(arm=plain["arm"].astype("category"), week=plain["week"].astype(np.int16),
                        ind=plain["ind"].astype(np.int8), stratum=plain["stratum"].astype("category"),
                        person_id=plain["person_id"].astype("string[pyarrow]"))
    shuffled = plain.sample(frac=1.0, random_state=3)
    # randomisation inference numbers the persons in the order they first appear (a panel file's order):
    # rows shuffled with the persons' order kept give the same p-values, any shuffle the rest of the table
    first = plain["person_id"].drop_duplicates()
    place = pd.Series(np.arange(len(first)), index=first.to_numpy())
    kept = shuffled.iloc[np.argsort(shuffled["person_id"].map(place).to_numpy(), kind="stable")]
    kw = {"band": True, "rng": 4, "ri": 30}
    ref = effects(plain, ["y", "ind"], **kw).to_frame()
    for other in (lean, kept, shuffled, plain.assign(ind=plain["ind"].astype(bool))):
        got = effects(other, ["y", "ind"], **kw).to_frame()
        cols = ["outcome"] if other is not shuffled else ["outcome", "p_value_ri"]
        assert_allclose(got.drop(columns=cols).to_numpy(float), ref.drop(columns=cols).to_numpy(float),
                        rtol=1e-10, atol=1e-12)
    blocked = effects(lean, ["y", "ind"], blocks="stratum").to_frame()
    assert_allclose(blocked["se"], effects(plain, ["y", "ind"], blocks="stratum").to_frame()["se"], rtol=1e-10)


def test_sample_trial_recovers_the_true_effects_of_its_readme():
    """sample_data/ was simulated with known curves (its README, ``true_curves()`` in generate.py).

    Where many persons are followed (weeks 13 and 26, > 1,000 per arm) every pointwise 95 % CI covers the
    true effect; over all weeks the true curve lies inside the 95 % simultaneous band.
    """
    import importlib.util
    from pathlib import Path

    from trialeval.panel import build_panel

    root = Path(__file__).resolve().parents[1] / "sample_data"
    if not (root / "generate.py").exists() or not (root / "spells.csv").exists():
        pytest.skip("sample data not generated")
    spec = importlib.util.spec_from_file_location("sample_generate", root / "generate.py")
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    truth = generate.true_curves().rename(columns={"effect": "true"})[["outcome", "week", "true"]]
    panel = build_panel(root / "ledger.csv", root / "spells.csv", "2016-12-31", weeks=52).to_frame()
    outcomes = ["has_ordinary_hours", "ordinary_hours", "in_internship", "in_wage_subsidy"]
    t = effects(panel, outcomes, band=True, rng=20160301).to_frame().merge(truth, on=["outcome", "week"])
    assert len(t) == 4 * panel["week"].max()
    early = t[t["week"].isin([13, 26])]
    assert (early[["n_treatment", "n_control"]] > 1000).all().all()
    assert ((early["ci_low"] <= early["true"]) & (early["true"] <= early["ci_high"])).all()
    assert ((t["band_low"] <= t["true"]) & (t["true"] <= t["band_high"])).all()
    # and the effects are there: at week 26 every outcome's CI excludes zero
    assert (early.loc[early["week"] == 26, "ci_low"] > 0).all()


def test_clustered_and_lin_designs_support_band_and_randomisation_inference():
    panel = simulate(300, 5, attrition=False)
    cluster = panel["person_id"].str[-2:].astype(int) % 30               # 30 clusters of 10 persons
    panel["cl"] = cluster.astype(str)
    panel["arm"] = np.where(cluster < 15, "treatment", "control")        # clusters were randomised
    panel["x"] = panel["y"].groupby(panel["person_id"]).transform("first")
    res = effects(panel, "y", cluster="cl", band=True, ri=99, rng=1).to_frame()
    assert ((res["band_low"] < res["ci_low"]) & (res["p_value_ri"] >= 0.01)).all()
    assert (res["df"] < 30).all()                                        # Bell–McCaffrey df ~ clusters, not persons
    lin = effects(panel, "y", covariates="x", band=True, rng=1)
    t = lin.to_frame()
    assert (t["band_low"] < t["ci_low"]).all() and lin.critical_values["y"] > 1.96
    assert "Lin covariate adjustment" in lin.summary() and "critical value" in lin.summary()


def test_result_serialises_and_renders():
    import json

    res = effects(simulate(100, 4), "y", band=True, summary_weeks=2, rng=1)
    d = res.to_dict()
    json.dumps(d, default=float)
    assert set(d) >= {"table", "summary", "band", "design"} and len(d["table"]) == 4
    assert "<table" in res._repr_html_()
    assert "Average effect over weeks 1–2" in res.summary()


def test_effects_of_a_panel_result_equal_those_of_its_long_table(tmp_path):
    """The default estimator from the sums a PanelResult gathers (also when streamed) = the long table's."""
    from trialeval.panel import build_panel

    rng = np.random.default_rng(5)
    n, m = 400, 1200
    ledger = pd.DataFrame({"person_id": [f"p{i:03d}" for i in range(n)], "arm": rng.choice(["treatment", "control"], n),
                           "visitation_date": (pd.Timestamp("2016-03-01")
                                               + pd.to_timedelta(7 * rng.integers(0, 8, n), unit="D"))})
    start = pd.Timestamp("2016-02-01") + pd.to_timedelta(rng.integers(0, 200, m), unit="D")
    kind = rng.choice(["internship", "wage_subsidy", "ordinary_hours", "benefit"], m)
    spells = pd.DataFrame({"person_id": ledger["person_id"].to_numpy()[rng.integers(0, n, m)], "spell_type": kind,
                           "start_date": start, "end_date": start + pd.to_timedelta(rng.integers(0, 120, m), unit="D"),
                           "hours_per_week": np.where(kind == "ordinary_hours", rng.uniform(1, 37, m), np.nan)})
    kw = {"weeks": 26, "pre_weeks": 1, "chunk_persons": 90}
    res = build_panel(ledger, spells, "2016-08-31", **kw)
    streamed = build_panel(ledger, spells, "2016-08-31", out=tmp_path / "p.parquet", **kw)
    frame = res.to_frame()
    cols = ["mean_treatment", "mean_control", "effect", "se", "df", "ci_low", "ci_high", "p_value"]
    for options in ({}, {"min_weeks": 20}, {"weeks": [0, 3, 26, 40], "alpha": 0.1}):
        want = effects(frame, **options).to_frame()
        for source in (res, streamed):
            got = effects(source, **options).to_frame()
            assert got.columns.tolist() == TABLE_COLUMNS
            pd.testing.assert_frame_equal(got[["outcome", "week", "n_treatment", "n_control"]],
                                          want[["outcome", "week", "n_treatment", "n_control"]])
            np.testing.assert_allclose(got[cols].to_numpy(), want[cols].to_numpy(), rtol=1e-12, atol=1e-12)
    assert want["n_treatment"].gt(0).sum() > 20 and want["week"].max() == 40       # weeks beyond: NaN rows
    assert effects(res, min_weeks=20).to_frame()["week"].max() == 20
    assert effects(res, "ordinary_hours").indicator_outcomes == ()
    with pytest.raises(InputDataError, match="'band'.*long panel"):
        effects(res, band=True)
    with pytest.raises(InputDataError, match="not in the panel"):
        effects(res, "nope")
