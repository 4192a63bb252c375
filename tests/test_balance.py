"""Behaviour of trialeval.balance (issue 3). Numbers against R live in tests/reference/."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure
from scipy import stats

from trialeval.balance import (
    BALANCE_COLUMNS,
    OMNIBUS_COLUMNS,
    REPRESENTATIVENESS_COLUMNS,
    balance,
    design_matrix,
    output_format,
)
from trialeval.config import EligibilityRule
from trialeval.exceptions import DesignError, EstimationError, InputDataError, TrialevalWarning


def ledger(n: int = 200, seed: int = 0, blocks: int = 2) -> pd.DataFrame:
    """Arms randomised within ``blocks`` strata; age, income, gender, education, prior_benefit."""
    rng = np.random.default_rng(seed)
    stratum = np.arange(n) % blocks
    arm = np.empty(n, dtype=object)
    for b in range(blocks):
        idx = np.flatnonzero(stratum == b)
        arm[idx] = rng.permutation(np.resize(["treatment", "control"], len(idx)))
    return pd.DataFrame({
        "person_id": [f"p{i:05d}" for i in range(n)], "arm": arm, "stratum": [f"s{b}" for b in stratum],
        "age": rng.integers(30, 65, n).astype(float), "income": rng.gamma(2.0, 5000.0, n),
        "gender": rng.choice(["F", "M"], n), "education": rng.choice(["basic", "upper", "higher"], n),
        "prior_benefit": rng.random(n) < 0.4,
    })


def row(result, covariate: str, level: str = "") -> pd.Series:
    t = result.to_frame()
    return t.loc[(t["covariate"] == covariate) & (t["level"] == level)].iloc[0]


# --- item 2: per-covariate statistics ---------------------------------------------------------------

def test_columns_are_the_contract() -> None:
    r = balance(ledger(), ri_draws=0)
    assert tuple(r.to_frame().columns) == BALANCE_COLUMNS
    assert tuple(r.omnibus().columns) == OMNIBUS_COLUMNS
    assert r.representativeness() is None


def test_continuous_row_formulas() -> None:
    df = ledger()
    r = row(balance(df, ["income"], ri_draws=0), "income")
    a = df.loc[df.arm == "treatment", "income"].to_numpy()
    b = df.loc[df.arm == "control", "income"].to_numpy()
    assert r["mean_treatment"] == pytest.approx(a.mean(), rel=1e-12)
    assert r["difference"] == pytest.approx(a.mean() - b.mean(), rel=1e-12)
    assert r["smd"] == pytest.approx((a.mean() - b.mean()) / math.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2))
    assert r["variance_ratio"] == pytest.approx(a.var(ddof=1) / b.var(ddof=1))
    assert r["p_value"] == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue, rel=1e-12)
    assert (r["test"], r["level"]) == ("welch_t", "")


def test_categorical_rows_per_level_with_shares_and_one_p_value() -> None:
    df = ledger()
    t = balance(df, ["education"], ri_draws=0).to_frame()
    assert t["level"].tolist() == ["basic", "higher", "upper"]
    assert t["mean_treatment"].sum() == pytest.approx(1.0)
    assert t["p_value"].nunique() == 1 and set(t["test"]) == {"chi_square"}
    table = pd.crosstab(df["education"], df["arm"])
    assert t["p_value"].iloc[0] == pytest.approx(stats.chi2_contingency(table, correction=False).pvalue)
    p_t = (df.loc[df.arm == "treatment", "education"] == "basic").mean()
    p_c = (df.loc[df.arm == "control", "education"] == "basic").mean()
    basic = t.iloc[0]
    assert basic["smd"] == pytest.approx((p_t - p_c) / math.sqrt((p_t * (1 - p_t) + p_c * (1 - p_c)) / 2))
    assert basic["variance_ratio"] == pytest.approx(p_t * (1 - p_t) / (p_c * (1 - p_c)))


def test_fisher_exact_for_sparse_2x2_only() -> None:
    df = ledger(n=60)
    df["rare"] = np.r_[np.ones(3), np.zeros(57)]  # expected counts of 1.5 < 5
    r = row(balance(df, ["rare"], ri_draws=0), "rare", "1")
    table = pd.crosstab(df["rare"], df["arm"]).to_numpy()
    assert r["test"] == "fisher_exact"
    assert r["p_value"] == pytest.approx(stats.fisher_exact(table).pvalue)
    df["rare3"] = np.r_[["a"] * 3, ["b"] * 27, ["c"] * 30]  # 3 x 2: chi-square even when sparse
    assert set(balance(df, ["rare3"], ri_draws=0).to_frame()["test"]) == {"chi_square"}


@pytest.mark.parametrize("values, level", [
    ([True, False], "true"), (["true", "false"], "true"), (["TRUE", "False"], "true"), ([1, 0], "1"),
])
def test_booleans_are_binary_one_row(values, level) -> None:
    df = ledger(n=40)
    df["x"] = np.resize(values, 40).tolist()
    t = balance(df, ["x"], ri_draws=0)
    assert t.kinds["x"] == "binary"
    assert t.to_frame()[["level", "test"]].values.tolist() == [[level, "chi_square"]]
    assert t.to_frame()["mean_treatment"].iloc[0] + t.to_frame()["mean_control"].iloc[0] == pytest.approx(1.0)


def test_numeric_codes_can_be_forced_categorical() -> None:
    df = ledger(n=60)
    df["code"] = np.resize([1, 2, 3], 60)
    assert balance(df, ["code"], ri_draws=0).kinds["code"] == "continuous"
    r = balance(df, ["code"], categorical=["code"], ri_draws=0)
    assert r.to_frame()["level"].tolist() == ["1", "2", "3"]


# --- item 5: missing, entirely missing, constant ------------------------------------------------------

def test_missing_values_counted_per_arm_never_imputed() -> None:
    df = ledger()
    treated = df.index[df.arm == "treatment"]
    df.loc[treated[:7], "age"] = np.nan
    df.loc[df.index[df.arm == "control"][:2], "education"] = None
    r = balance(df, ["age", "education"], ri_draws=0, min_cell=0)   # exact counts: no disclosure control
    age = row(r, "age")
    assert (age["n_missing_treatment"], age["n_missing_control"]) == (7, 0)
    assert age["mean_treatment"] == pytest.approx(df.loc[df.arm == "treatment", "age"].mean())  # NaN skipped
    edu = r.to_frame().query("covariate == 'education'")
    assert edu["n_missing_control"].tolist() == [2, 2, 2]
    assert edu["mean_control"].sum() == pytest.approx(1.0)  # shares among the non-missing
    om = r.omnibus().iloc[0]
    assert (om["n_used"], om["n_dropped"]) == (191, 9)


def test_entirely_missing_and_constant_are_reported_not_crashed_on() -> None:
    df = ledger()
    df["empty"] = np.nan
    df["empty_text"] = None
    df["same"] = 3.0
    df["same_text"] = "x"
    df["one_arm"] = np.where(df.arm == "treatment", 1.5, np.nan)
    r = balance(df, ["age", "empty", "empty_text", "same", "same_text", "one_arm"], ri_draws=100, rng=1)
    t = r.to_frame().set_index("covariate")
    assert t.loc["empty", "test"] == "not tested: all missing"
    assert t.loc["empty", "n_missing_treatment"] == 100
    assert t.loc["empty_text", "test"] == "not tested: all missing"
    assert t.loc["same", "test"] == "not tested: constant" and np.isnan(t.loc["same", "smd"])
    assert t.loc["same_text", "test"] == "not tested: constant" and t.loc["same_text", "mean_treatment"] == 1.0
    assert t.loc["one_arm", "test"] == "not tested: missing in one group"
    assert t.drop(index="age")["flag"].eq("").all()
    om = r.omnibus()
    # all-missing covariates are left out of the F-test; the one-arm covariate drops every control
    assert "left out (all missing): empty, empty_text" in om.loc[0, "note"]
    assert "an arm has no person with every covariate observed" in om.loc[0, "note"]
    assert om["statistic"].isna().all() and (om["n_used"] == 100).all()
    ok = balance(df, ["age", "empty", "same"], ri_draws=100, rng=1).omnibus()
    assert ok.loc[0, "df1"] == 1 and np.isfinite(ok.loc[1, "p_value"])


def test_constant_covariate_does_not_break_f_test() -> None:
    df = ledger()
    df["same"] = 3.0
    with_const = balance(df, ["age", "income", "same"], ri_draws=0).omnibus().iloc[0]
    without = balance(df, ["age", "income"], ri_draws=0).omnibus().iloc[0]
    assert with_const["statistic"] == pytest.approx(without["statistic"], rel=1e-10)
    assert with_const["df1"] == without["df1"] == 2


# --- flags and small cells -------------------------------------------------------------------------

def test_flags_at_0_1_and_0_25() -> None:
    df = ledger(n=400)
    t = df.arm == "treatment"
    df["small"] = np.where(t, 0.15, 0.0) + np.resize([-1.0, 1.0], 400)    # SMD 0.15
    df["large"] = np.where(t, 0.30, 0.0) + np.resize([-1.0, 1.0], 400)    # SMD 0.30
    df["none"] = np.where(t, 0.05, 0.0) + np.resize([-1.0, 1.0], 400)     # SMD 0.05
    r = balance(df, ["small", "large", "none"], ri_draws=0)
    flags = r.to_frame().set_index("covariate")["flag"].to_dict()
    assert flags == {"small": "|smd|>0.1", "large": "|smd|>0.25", "none": ""}
    assert list(r.flagged["covariate"]) == ["small", "large"]
    assert "|smd|>0.25" in r.summary()


def test_min_cell_blanks_small_cells() -> None:
    df = ledger(n=100)
    df["rare"] = np.r_[["a"] * 3, ["b"] * 97]
    df.loc[df.index[:2], "age"] = np.nan
    t = balance(df, ["rare", "age"], ri_draws=0, min_cell=5).to_frame().set_index(["covariate", "level"])
    assert t.loc[("rare", "a"), "flag"] == "suppressed" and np.isnan(t.loc[("rare", "a"), "mean_treatment"])
    assert not np.isnan(t.loc[("rare", "a"), "p_value"])  # the covariate's test stays
    assert pd.isna(t.loc[("age", ""), "n_missing_treatment"]) or pd.isna(t.loc[("age", ""), "n_missing_control"])
    plain = balance(df, ["rare"], ri_draws=0, min_cell=0).to_frame()
    assert not plain["mean_treatment"].isna().any() and "suppressed" not in set(plain["flag"])


# --- item 3: omnibus F and randomisation inference ------------------------------------------------

def _ols_f(d: np.ndarray, X: np.ndarray, base: np.ndarray) -> float:
    """F of base + X vs base by least squares (independent of the implementation)."""
    def rss(M: np.ndarray) -> tuple[float, int]:
        beta, *_ = np.linalg.lstsq(M, d, rcond=None)
        return float(np.sum((d - M @ beta) ** 2)), int(np.linalg.matrix_rank(M))
    r0, k0 = rss(base)
    r1, k1 = rss(np.column_stack([base, X]))
    return ((r0 - r1) / (k1 - k0)) / (r1 / (len(d) - k1))


@pytest.mark.parametrize("strata_fe", [False, True])
def test_f_statistic_equals_least_squares(strata_fe: bool) -> None:
    df = ledger(n=300, blocks=3)
    covs = ["age", "income", "gender", "education", "prior_benefit"]
    om = balance(df, covs, strata_fe=strata_fe, ri_draws=0).omnibus().iloc[0]
    X, names, _ = design_matrix(df, {"age": "continuous", "income": "continuous", "gender": "categorical",
                                     "education": "categorical", "prior_benefit": "binary"})
    d = (df.arm == "treatment").to_numpy(float)
    base = (pd.get_dummies(df["stratum"]).to_numpy(float) if strata_fe else np.ones((len(df), 1)))
    assert om["statistic"] == pytest.approx(_ols_f(d, X, base), rel=1e-9)
    assert om["df1"] == len(names) == 6
    assert om["df2"] == 300 - 6 - (3 if strata_fe else 1)
    assert om["p_value"] == pytest.approx(stats.f.sf(om["statistic"], om["df1"], om["df2"]))
    assert om["test"] == ("f_test_strata_fe" if strata_fe else "f_test")


def test_ri_reproducible_under_a_seed_and_seed_matters() -> None:
    df = ledger(n=150)
    a = balance(df, ["age", "income"], ri_draws=400, rng=11).omnibus()
    b = balance(df, ["age", "income"], ri_draws=400, rng=11).omnibus()
    c = balance(df, ["age", "income"], ri_draws=400, rng=12).omnibus()
    pd.testing.assert_frame_equal(a, b)
    assert a.loc[1, "p_value"] != c.loc[1, "p_value"]
    ri = a.iloc[1]
    assert ri["test"] == "randomisation_inference" and ri["draws"] == 400
    assert ri["mc_se"] == pytest.approx(math.sqrt(ri["p_value"] * (1 - ri["p_value"]) / 400))
    assert ri["statistic"] == a.loc[0, "statistic"]


def _exact_ri_p(df: pd.DataFrame, covs: list[str], fe: bool) -> float:
    """Enumerate every assignment with the observed count per stratum; share with F >= observed."""
    X, _, _ = design_matrix(df, {c: "continuous" for c in covs})
    strata = df["stratum"].to_numpy()
    base = pd.get_dummies(df["stratum"]).to_numpy(float) if fe else np.ones((len(df), 1))
    d_obs = (df.arm == "treatment").to_numpy(float)
    f_obs = _ols_f(d_obs, X, base)
    per_block = []
    for s in np.unique(strata):
        idx = np.flatnonzero(strata == s)
        k = int(d_obs[idx].sum())
        per_block.append([idx[list(c)] for c in itertools.combinations(range(len(idx)), k)])
    fs = []
    for choice in itertools.product(*per_block):
        d = np.zeros(len(df))
        for treated in choice:
            d[treated] = 1.0
        fs.append(_ols_f(d, X, base))
    return float(np.mean(np.asarray(fs) >= f_obs - 1e-9 * max(f_obs, 1.0)))


@pytest.mark.parametrize("fe", [False, True])
def test_ri_p_value_agrees_with_full_enumeration(fe: bool) -> None:
    rng = np.random.default_rng(5)
    n = 12
    df = pd.DataFrame({"person_id": [f"p{i}" for i in range(n)], "stratum": np.repeat(["a", "b"], 6),
                       "arm": np.r_[rng.permutation(["treatment"] * 3 + ["control"] * 3),
                                    rng.permutation(["treatment"] * 3 + ["control"] * 3)],
                       "x1": rng.normal(size=n), "x2": rng.normal(size=n)})
    exact = _exact_ri_p(df, ["x1", "x2"], fe)  # 400 assignments
    ri = balance(df, ["x1", "x2"], strata_fe=fe, ri_draws=20000, rng=3).omnibus().iloc[1]
    assert abs(ri["p_value"] - exact) < 4 * math.sqrt(exact * (1 - exact) / 20000) + 1e-3


def test_ri_near_f_p_value_in_large_complete_randomisation() -> None:
    rng = np.random.default_rng(8)
    n = 2000
    df = pd.DataFrame({"person_id": [f"p{i}" for i in range(n)],
                       "arm": rng.permutation(np.repeat(["treatment", "control"], n // 2)),
                       "x1": rng.normal(size=n), "x2": rng.gamma(1.0, size=n), "g": rng.choice(list("abc"), n)})
    om = balance(df, ["x1", "x2", "g"], ri_draws=3000, rng=1).omnibus()
    assert om.loc[0, "df1"] == 4
    assert abs(om.loc[1, "p_value"] - om.loc[0, "p_value"]) < 4 * om.loc[1, "mc_se"] + 0.01


def test_ri_permutes_within_blocks() -> None:
    # 12 of 20 treated in block s0, 8 of 20 in s1, and the covariate is the block: every within-block
    # permutation keeps the per-block counts and so reproduces F exactly (p_RI = 1); permuting across
    # blocks (no stratum column) does not
    rng = np.random.default_rng(4)
    df = pd.DataFrame({"person_id": [f"p{i}" for i in range(40)], "stratum": np.repeat(["s0", "s1"], 20),
                       "arm": np.r_[rng.permutation(["treatment"] * 12 + ["control"] * 8),
                                    rng.permutation(["treatment"] * 8 + ["control"] * 12)]})
    df["block_x"] = (df["stratum"] == "s1").astype(float)
    within = balance(df, ["block_x"], ri_draws=300, rng=2).omnibus()
    across = balance(df.drop(columns="stratum"), ["block_x"], ri_draws=300, rng=2).omnibus()
    assert within.loc[0, "statistic"] > 1
    assert within.loc[1, "p_value"] == 1.0
    assert across.loc[1, "p_value"] < 0.5


def test_ri_draws_zero_skips_and_progress_is_called() -> None:
    df = ledger(n=80)
    assert balance(df, ["age"], ri_draws=0).omnibus()["test"].tolist() == ["f_test"]
    calls: list[tuple[int, int]] = []
    balance(df, ["age"], ri_draws=600, rng=1, progress=lambda d, t: calls.append((d, t)))
    assert calls[-1] == (600, 600) and len(calls) >= 2


def test_strata_fe_aliased_covariate_drops_from_df1() -> None:
    df = ledger(n=120, blocks=2)
    df["s_flag"] = (df["stratum"] == "s1").astype(float)
    plain = balance(df, ["age", "s_flag"], ri_draws=0).omnibus().iloc[0]
    fe = balance(df, ["age", "s_flag"], strata_fe=True, ri_draws=0).omnibus().iloc[0]
    assert (plain["df1"], fe["df1"]) == (2, 1)


# --- item 4: representativeness -------------------------------------------------------------------

def test_representativeness_drawn_vs_eligible_not_drawn() -> None:
    df = ledger(n=100)
    rng = np.random.default_rng(2)
    others = pd.DataFrame({"person_id": [f"q{i}" for i in range(150)], "municipality": "A",
                           "age": rng.integers(20, 70, 150).astype(float), "ready": rng.random(150) < 0.7})
    drawn_pop = pd.DataFrame({"person_id": df.person_id, "municipality": "A", "age": df.age, "ready": True})
    pop = pd.concat([drawn_pop, others], ignore_index=True)
    rules = [EligibilityRule.parse("ready == true"), EligibilityRule.parse("age >= 30")]
    r = balance(df, ["age"], population=pop, eligibility=rules, ri_draws=0)
    rep = r.representativeness()
    assert tuple(rep.columns) == REPRESENTATIVENESS_COLUMNS
    eligible_others = others.loc[others.ready & (others.age >= 30), "age"]
    assert r.n_drawn == 100 and r.n_not_drawn == len(eligible_others)
    assert rep.loc[0, "mean_drawn"] == pytest.approx(df.age.mean())
    assert rep.loc[0, "mean_not_drawn"] == pytest.approx(eligible_others.mean())
    treated = balance(df, ["age"], population=pop, eligibility=rules, representativeness="treatment", ri_draws=0)
    assert treated.n_drawn == 50
    assert treated.representativeness().loc[0, "mean_drawn"] == pytest.approx(
        df.loc[df.arm == "treatment", "age"].mean())
    assert "Representativeness" in r.summary()


def test_representativeness_needs_the_covariates_in_the_population() -> None:
    with pytest.raises(InputDataError, match="population: required column.*'income'"):
        balance(ledger(), ["income"], population=pd.DataFrame({"person_id": ["x"]}), ri_draws=0)


# --- bad input ------------------------------------------------------------------------------------

def test_input_errors_name_the_problem() -> None:
    df = ledger(n=20)
    with pytest.raises(InputDataError, match="'nope' missing"):
        balance(df, ["nope"])
    bad = df.copy()
    bad.loc[3, "arm"] = "placebo"
    with pytest.raises(InputDataError, match=r"arm.*row 4\)"):
        balance(bad, ["age"])
    with pytest.raises(EstimationError, match="both arms"):
        balance(df.assign(arm="control"), ["age"])
    with pytest.raises(InputDataError, match="dates"):
        balance(df.assign(day=pd.Timestamp("2016-01-01")), ["day"])
    with pytest.raises(DesignError, match="stratum"):
        balance(df.drop(columns="stratum"), ["age"], strata_fe=True)
    with pytest.raises(InputDataError, match="representativeness"):
        balance(df, ["age"], representativeness="all")  # type: ignore[arg-type]
    with pytest.raises(InputDataError, match="ri_draws"):
        balance(df, ["age"], ri_draws=-1)


def test_default_covariates_are_non_contract_columns() -> None:
    df = ledger(n=40).assign(visitation_date="2016-03-01", wave=1, municipality="A", excluded=False)
    assert balance(df, ri_draws=0).covariates == ("age", "income", "gender", "education", "prior_benefit")


def test_drop_excluded_warns_and_drops() -> None:
    df = ledger(n=40).assign(excluded=[True] * 4 + [False] * 36)
    assert balance(df, ["age"], ri_draws=0).n_treatment + balance(df, ["age"], ri_draws=0).n_control == 40
    with pytest.warns(TrialevalWarning, match="4 excluded"):
        r = balance(df, ["age"], ri_draws=0, drop_excluded=True)
    assert r.n_treatment + r.n_control == 36


# --- result object, renderings --------------------------------------------------------------------

def test_result_renderings() -> None:
    df = ledger()
    df.loc[0, "age"] = np.nan
    r = balance(df, ["age", "gender", "prior_benefit"], ri_draws=200, rng=1, min_cell=0)
    text = r.summary()
    assert "treatment (n=100) vs control (n=100)" in text and "Randomisation inference" in text
    assert "F(3, " in text
    d = r.to_dict()
    json.dumps(d)  # NaN/NA become None, numpy scalars plain
    assert d["balance"][0]["covariate"] == "age" and d["balance"][0]["n_missing_treatment"] in (0, 1)
    assert "<table" in r._repr_html_()
    md = r.to_markdown()
    assert md.splitlines()[0].startswith("| covariate | level | mean_treatment")
    assert len(md.splitlines()) == 2 + len(r.to_frame())
    tex = r.to_latex("omnibus")
    assert tex.startswith("\\begin{tabular}") and "f\\_test" in tex and "\\bottomrule" in tex
    with pytest.raises(InputDataError):
        r.to_latex("representativeness")
    fig = r.plot()
    assert isinstance(fig, Figure)
    xs = sorted({round(line.get_xdata()[0], 2) for line in fig.axes[0].get_lines()
                 if len(set(line.get_xdata())) == 1})
    assert xs == [-0.25, -0.1, 0.0, 0.1, 0.25]
    # the frames are copies
    copy = r.to_frame()
    copy.loc[0, "smd"] = 99
    assert r.to_frame().loc[0, "smd"] != 99


def test_output_format_rules() -> None:
    assert output_format("b.csv") == "csv" and output_format("b.md") == "markdown"
    assert output_format("b.txt", "markdown") == "markdown"
    with pytest.raises(InputDataError, match="contradicts"):
        output_format("b.csv", "latex")
    with pytest.raises(InputDataError, match="cannot tell"):
        output_format("b.txt")
    with pytest.raises(InputDataError, match="needs the extension"):
        output_format("b.txt", "xlsx")


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(12, 80))
def test_swapping_the_arms_negates_differences(seed: int, n: int) -> None:
    df = ledger(n=n, seed=seed)
    covs = ["age", "income", "gender", "education"]
    a = balance(df, covs, ri_draws=0).to_frame()
    b = balance(df.assign(arm=df.arm.map({"treatment": "control", "control": "treatment"})), covs,
                ri_draws=0).to_frame()
    np.testing.assert_allclose(a["difference"], -b["difference"], atol=1e-12)
    np.testing.assert_allclose(a["smd"], -b["smd"], atol=1e-12)
    np.testing.assert_allclose(a["p_value"], b["p_value"], rtol=1e-9)
    np.testing.assert_allclose(a["mean_treatment"], b["mean_control"], rtol=1e-12)
