"""The Python side of the results: summary(periods=...), tidy(), compact HTML, trialeval.report(...)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import trialeval
from trialeval.balance import balance
from trialeval.effects import effects
from trialeval.explain import hc2_regression
from trialeval.power import power
from trialeval.sites import site_effects, subgroup_effects


@pytest.fixture(scope="module")
def panel() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n, weeks = 300, 40
    arm = np.where(np.arange(n) % 2, "treatment", "control")
    p = pd.DataFrame({"person_id": np.repeat([f"p{i}" for i in range(n)], weeks), "arm": np.repeat(arm, weeks),
                      "week": np.tile(np.arange(1, weeks + 1), n),
                      "site": np.repeat(np.array(["A", "B", "C"])[np.arange(n) % 3], weeks),
                      "gender": np.repeat(np.where(np.arange(n) % 4 < 2, "F", "M"), weeks)})
    p["employed"] = (rng.random(len(p)) < 0.2 + 0.1 * p["arm"].eq("treatment")).astype(int)
    return p


def test_summary_at_chosen_periods(panel):
    res = effects(panel, outcomes=["employed"])
    assert res.summary() == effects(panel, outcomes=["employed"]).summary()    # unchanged default
    text = res.summary(periods=[13, 26, 35, 99])
    t = res.table.set_index("week")
    for w in (13, 26, 35):
        r = t.loc[w]
        assert (f"week  {w}: effect {r['effect']: .4g} [{r['ci_low']: .4g}, {r['ci_high']: .4g}], "
                f"p = {r['p_value']:.3g}") in text
    assert "week  99: not estimated" in text
    assert len([line for line in text.splitlines() if line.startswith("  week")]) == 4
    danish = res.summary(periods=[13], lang="da")
    e = t.loc[13, "effect"]
    assert f"effekt {'−' if e < 0 else ''}{abs(e):.3f}".replace(".", ",") in danish and "uge  13: effekt" in danish


def test_danish_summary_words_bounds_and_a_week_without_variation():
    """40 persons per arm over 2 weeks: nobody has the outcome in week 1 (no interval); in week 2, 30 of 40
    against 10 of 40 (Welch by hand: effect 0.5, se = sqrt(2 · 0.75 · 0.25 · 40/39 / 40), 78 df)."""
    n = 40
    arm = np.repeat(["treatment", "control"], n)
    week2 = np.r_[np.arange(n) < 30, np.arange(n) < 10].astype(int)
    frame = pd.DataFrame({"person_id": np.repeat([f"p{i:02d}" for i in range(2 * n)], 2), "arm": np.repeat(arm, 2),
                          "week": np.tile([1, 2], 2 * n), "employed": np.column_stack([np.zeros(2 * n, int), week2]).ravel()})
    res = effects(frame, outcomes=["employed"])
    se = np.sqrt(2 * 0.75 * 0.25 * n / (n - 1) / n)
    low, high = 0.5 - stats.t.ppf(0.975, 2 * n - 2) * se, 0.5 + stats.t.ppf(0.975, 2 * n - 2) * se
    assert stats.t.sf(0.5 / se, 2 * n - 2) * 2 < 0.001
    danish = res.summary(lang="da").splitlines()
    assert danish[0] == "Effektkurver (forskel i gennemsnit (Welch)), 1 udfald, 95 %-konfidensintervaller"
    assert danish[1:] == ["employed: uger 1–2", "  uge   1: effekt 0,000 (intet konfidensinterval)",
                          f"  uge   2: effekt 0,500 [{low:.3f}, {high:.3f}], p < 0,001".replace(".", ",")]
    english = res.summary().splitlines()
    assert english[2] == "  week   1: effect  0 (no confidence interval)"
    assert english[3].startswith(f"  week   2: effect  0.5 [ {low:.4g},  {high:.4g}], p = ")


def test_effects_tidy_is_the_table_in_broom_names(panel):
    res = effects(panel, outcomes=["employed"], min_cell=5)
    tidy = res.tidy()
    assert list(tidy.columns[:9]) == ["term", "period", "estimate", "std_error", "statistic", "df", "p_value",
                                      "conf_low", "conf_high"]
    assert len(tidy) == len(res.table) and set(tidy["term"]) == {"employed"}
    # the t statistic, p-value and interval agree with each other (scipy's t distribution)
    np.testing.assert_allclose(tidy["statistic"], tidy["estimate"] / tidy["std_error"])
    np.testing.assert_allclose(tidy["p_value"], 2 * stats.t.sf(np.abs(tidy["statistic"]), tidy["df"]), rtol=1e-9)
    q = stats.t.ppf(0.975, tidy["df"])
    np.testing.assert_allclose(tidy["conf_low"], tidy["estimate"] - q * tidy["std_error"], rtol=1e-9)
    # the estimate is the difference of the arms' means, computed here from the rows
    w = panel[panel["week"] == 7].groupby("arm")["employed"].agg(["mean", "size"])
    row = tidy[tidy["period"] == 7].iloc[0]
    assert row["estimate"] == pytest.approx(w.loc["treatment", "mean"] - w.loc["control", "mean"], abs=1e-12)
    assert row["n"] == w["size"].sum()


def test_tidy_suppresses_small_cells_like_the_export():
    rows = pd.DataFrame({"person_id": [f"p{i}" for i in range(14)], "arm": ["treatment"] * 7 + ["control"] * 7,
                         "week": 1, "employed": [1, 0] * 7})
    late = rows.iloc[[0, 1, 2, 7, 8, 9]].assign(week=2)
    res = effects(pd.concat([rows, late]), outcomes=["employed"], min_cell=5)
    tidy = res.tidy()
    assert tidy.set_index("period").loc[2, "suppressed"] and np.isnan(tidy.set_index("period").loc[2, "estimate"])
    assert not np.isnan(res.tidy(suppress=False).set_index("period").loc[2, "estimate"])


def test_balance_tidy(sample_dir):
    ledger = pd.read_csv(sample_dir / "ledger.csv")
    res = balance(ledger, ["age", "gender"], ri_draws=0)
    tidy = res.tidy()
    assert {"age", "gender=F"} <= set(tidy["term"]) or {"age", "gender=M"} <= set(tidy["term"])
    age = tidy.set_index("term").loc["age"]
    t, c = ledger.loc[ledger["arm"] == "treatment", "age"], ledger.loc[ledger["arm"] == "control", "age"]
    assert age["estimate"] == pytest.approx(t.mean() - c.mean(), abs=1e-12)
    assert age["p_value"] == pytest.approx(stats.ttest_ind(t, c, equal_var=False).pvalue, rel=1e-9)


def test_site_subgroup_and_regression_tidy(panel):
    site = site_effects(panel, "site", "employed", 10)
    tidy = site.tidy()
    assert list(tidy.columns[:2]) == ["term", "period"] and {"A", "B", "C"} <= set(tidy["term"])
    a = panel[(panel["week"] == 10) & (panel["site"] == "A")].groupby("arm")["employed"].mean()
    assert tidy.set_index("term").loc["A", "estimate"] == pytest.approx(a["treatment"] - a["control"], abs=1e-12)
    sub = subgroup_effects(panel, ["gender"], "employed", 10).tidy()
    assert set(sub["term"]) == {"gender=F", "gender=M"}
    np.testing.assert_allclose(sub["statistic"], sub["estimate"] / sub["std_error"])
    d = pd.DataFrame({"y": [1.0, 2.0, 2.5, 4.0, 5.5], "x": [1.0, 2.0, 3.0, 4.0, 5.0]})
    fit = hc2_regression(d, "y", ["x"]).tidy()
    slope = np.polyfit(d["x"], d["y"], 1)[0]
    assert fit.set_index("term").loc["x", "estimate"] == pytest.approx(slope, abs=1e-12)
    assert list(fit.columns) == ["term", "estimate", "std_error", "statistic", "df", "p_value", "conf_low",
                                 "conf_high", "n"]


def test_every_result_has_a_compact_html_view(panel):
    p = power(4800, proportion=0.07)
    html = p._repr_html_()
    assert "<table" in html and f"{p.mde:.4f}" in html and "4,800" in html and len(html) < 2000
    site = site_effects(panel, "site", "employed", 10)
    assert "<table" in site._repr_html_()
    assert "<table" in subgroup_effects(panel, ["gender"], "employed", 10)._repr_html_()
    d = pd.DataFrame({"y": [1.0, 2.0, 2.5, 4.0, 5.5], "x": [1.0, 2.0, 3.0, 4.0, 5.0]})
    assert "<table" in hc2_regression(d, "y", ["x"])._repr_html_()


def test_trialeval_report_is_the_report_command(tmp_path):
    from typer.testing import CliRunner

    from trialeval.cli import app

    out = tmp_path / "demo"
    assert CliRunner().invoke(app, ["demo", "--dir", str(out)]).exit_code == 0
    (out / "report.html").unlink()
    result = trialeval.report(out / "trial.toml", out, lang="da", table_weeks=[13, 26])
    assert result.path == out / "report.html"
    by_python = result.path.read_text()
    (out / "report.html").unlink()
    cli = CliRunner().invoke(app, ["report", "--config", str(out / "trial.toml"), "--dir", str(out), "--lang", "da",
                                   "--table-weeks", "13,26"])
    assert cli.exit_code == 0, cli.output
    assert (out / "report.html").read_text() == by_python
    assert trialeval.write_report is not None and callable(trialeval.report)
    with pytest.raises(trialeval.TrialevalError, match="weeks"):
        trialeval.report(out / "trial.toml", out, table_weeks=[0])
