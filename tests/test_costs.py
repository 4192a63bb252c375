"""Cost scenarios: hand-computed values, identities, break-even quantities, the scenario file."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure
from scipy.stats import norm

from trialeval.costs import (
    TABLE_COLUMNS,
    CostsResult,
    Persistence,
    Scenarios,
    costs,
    load_scenarios,
)
from trialeval.exceptions import ConfigError, InputDataError, TrialevalWarning

SAMPLE_TOML = Path(__file__).resolve().parents[1] / "sample_data" / "costs.toml"

# Round prices for hand computation: offset per hour = 1.0 × 100 − 20 = 80 kr.; tax per hour = 0.4 × 100 = 40 kr.
PRICES = {"hourly_wage": 100.0, "benefit_per_week": 2000.0, "disregard_per_hour": 20.0, "tax_rate": 0.4,
          "municipal_tax_share": 0.5, "state_refund_rate": 0.2, "hours_self_supporting": 30.0}
PROGRAMME = {"startup_per_participant": 0.0, "running_per_participant": 1000.0}


def effects_table(h, s=None, *, se_h=1.0, se_s=0.0, n=500) -> pd.DataFrame:
    """An effects table (SPEC §11 columns) with the given weekly hours and self-supporting effects."""
    h = np.asarray(h, dtype=float)
    s = np.zeros_like(h) if s is None else np.asarray(s, dtype=float)
    weeks = np.arange(1, len(h) + 1)
    frames = []
    for outcome, eff, se in (("ordinary_hours", h, se_h), ("self_supporting", s, se_s)):
        frames.append(pd.DataFrame({
            "outcome": outcome, "week": weeks, "n_treatment": n, "n_control": n,
            "mean_treatment": eff, "mean_control": 0.0, "effect": eff, "se": se, "df": 2 * n - 2,
            "ci_low": eff - 1.96 * se, "ci_high": eff + 1.96 * se, "p_value": 0.5}))
    return pd.concat(frames, ignore_index=True)


def scenarios(*user, prices=None, programme=None, settings_=None, defaults=False) -> Scenarios:
    data = {"prices": {**PRICES, **(prices or {})}, "programme": {**PROGRAMME, **(programme or {})},
            "settings": {"discount_rate": 0.0, "horizon_years": 1, "end_weeks": 2,
                         "default_scenarios": defaults, **(settings_ or {})},
            "scenario": [dict(u) for u in user]}
    return Scenarios.from_dict(data, source="test.toml")


def row(result: CostsResult, scenario: str, payer: str = "total") -> pd.Series:
    t = result.to_frame()
    return t.loc[(t["scenario"] == scenario) & (t["payer"] == payer)].iloc[0]


# ---------------------------------------------------------------- hand-computed cases (0 % discount)

def test_constant_hours_effect_observed_window_by_hand():
    # 2 extra hours a week for 10 weeks, nobody self-supporting:
    # benefit offset 80 × 2 × 10 = 1600 (municipality 80 %, state 20 %); tax 40 × 2 × 10 = 800 (50/50);
    # programme 1000 paid by the municipality.
    res = costs(effects_table([2.0] * 10), scenarios({"name": "A", "persistence": "none"}), draws=0)
    total, muni, state = row(res, "A"), row(res, "A", "municipality"), row(res, "A", "state")
    assert (total.benefit_savings, total.tax_revenue, total.costs, total.net_result) == pytest.approx(
        (1600, 800, 1000, 1400))
    assert (muni.benefit_savings, muni.tax_revenue, muni.costs, muni.net_result) == pytest.approx(
        (1280, 400, 1000, 680))
    assert (state.benefit_savings, state.tax_revenue, state.costs, state.net_result) == pytest.approx(
        (320, 400, 0, 720))
    assert total.net_result_per_100 == pytest.approx(140_000)
    assert total.costs_per_100 == pytest.approx(100_000)
    # gains 240 a week against 1000 paid in week 1: −760, −520, −280, −40, +200 → week 5
    assert total.payback_week == 5
    assert muni.payback_week == 10 - 4  # 168 a week for the municipality: 6 × 168 = 1008 ≥ 1000
    assert state.payback_week == 1
    assert total.break_even_scale == pytest.approx(1000 / 2400)
    assert muni.break_even_scale == pytest.approx(1000 / 1680)
    assert state.break_even_scale == 0
    assert total.break_even_cost == pytest.approx(2400)
    assert math.isnan(state.break_even_cost)  # the state pays no programme cost
    assert total.observed_weeks == 10 and total.end_effect_hours == 2.0


@pytest.mark.parametrize("rule, effect_weeks", [
    ("constant(1)", 10 + 52),
    ("linear_to_zero(1)", 10 + 25.5),   # Σ_{k=1}^{52} (1 − k/52) = 52 − 26.5
    ([0.5], 10 + 26),                   # user vector: half the end effect for one year
    ("none", 10),
])
def test_persistence_rules_by_hand(rule, effect_weeks):
    sc = scenarios({"name": "X", "persistence": rule, "horizon_years": 2})
    res = costs(effects_table([2.0] * 10), sc, draws=0)
    assert row(res, "X").net_result == pytest.approx(effect_weeks * 240 - 1000)


def test_exp_decay_sums_the_geometric_series():
    res = costs(effects_table([2.0] * 10), scenarios({"name": "X", "persistence": "exp_decay(1)",
                                                      "horizon_years": 3}), draws=0)
    q = 0.5 ** (1 / 52)
    after = q * (1 - q ** (3 * 52 - 10)) / (1 - q)
    assert row(res, "X").net_result == pytest.approx((10 + after) * 240 - 1000)


def test_self_supporting_channel_and_benefit_tax_by_hand():
    # s = 0.1 self-supporting working H = 30 hours: h = 3 hours, all of them by persons off benefit,
    # so no offset: benefit saved 2000 × 0.1 = 200 a week; earnings 300 → tax 0.4 × 300 = 120, less the
    # tax on the benefit no longer paid, 0.3 × 200 = 60 (municipal share 0.6 of that).
    sc = scenarios({"name": "A"}, prices={"benefit_tax_rate": 0.3, "benefit_municipal_tax_share": 0.6})
    res = costs(effects_table([3.0] * 10, [0.1] * 10), sc, draws=0)
    total, muni, state = row(res, "A"), row(res, "A", "municipality"), row(res, "A", "state")
    assert (total.benefit_savings, total.tax_revenue, total.net_result) == pytest.approx((2000, 600, 1600))
    assert (muni.benefit_savings, muni.tax_revenue, muni.net_result) == pytest.approx((1600, 240, 840))
    assert (state.benefit_savings, state.tax_revenue, state.net_result) == pytest.approx((400, 360, 760))


def test_hours_of_self_supporting_persons_are_not_offset_twice():
    # h = 5 hours of which 30 × 0.1 = 3 by the self-supporting: only 2 hours earn the offset (80 each),
    # the self-supporting save the whole benefit; tax is on all 5 hours.
    res = costs(effects_table([5.0] * 10, [0.1] * 10), scenarios({"name": "A"}), draws=0)
    total = row(res, "A")
    assert total.benefit_savings == pytest.approx(10 * (80 * 2 + 2000 * 0.1))
    assert total.tax_revenue == pytest.approx(10 * 40 * 5)


def test_weekly_discounting_from_the_annual_rate():
    r = 0.1
    sc = scenarios({"name": "A"}, programme={"running_per_participant": 0.0}, settings_={"discount_rate": r})
    res = costs(effects_table([1.0] * 52), sc, draws=0)
    q = (1 + r) ** (-1 / 52)  # week t is discounted by (1 + r)^(−t/52)
    assert row(res, "A").net_result == pytest.approx(120 * q * (1 - q ** 52) / (1 - q))


def test_costs_net_of_usual_services_spread_over_cost_weeks():
    sc = scenarios({"name": "A"}, programme={"startup_per_participant": 300.0, "running_per_participant": 1000.0,
                                             "usual_services_per_participant": 400.0, "cost_weeks": 4,
                                             "municipal_cost_share": 0.75})
    res = costs(effects_table([0.0] * 10), sc, draws=0)
    assert row(res, "A").costs == pytest.approx(900)
    assert row(res, "A", "municipality").costs == pytest.approx(675)
    assert row(res, "A", "state").costs == pytest.approx(225)
    weekly = res.flows.query("scenario == 'A' and payer == 'total'")["costs"].to_numpy()
    np.testing.assert_allclose(weekly[:5], [225, 225, 225, 225, 0])


def test_roll_out_cohorts_running_costs_only():
    # horizon 57 weeks: cohort 1 has all 10 effect weeks, cohort 2 starts in week 53 and has 5 of them.
    sc = scenarios({"name": "D", "cohorts": 2, "include_startup": False, "horizon_years": 57 / 52},
                   programme={"startup_per_participant": 5000.0})
    res = costs(effects_table([2.0] * 10), sc, draws=0)
    d = row(res, "D")
    assert d.costs == pytest.approx(1000)  # start-up left out; each cohort pays its running cost
    assert d.benefit_savings + d.tax_revenue == pytest.approx((10 + 5) / 2 * 240)
    flows = res.flows.query("payer == 'total'")
    assert flows["costs"].iloc[52] == pytest.approx(500)  # the second cohort's cost, per participant


def test_default_scenarios_a_to_d():
    sc = Scenarios.from_dict({"prices": PRICES, "programme": {**PROGRAMME, "startup_per_participant": 300.0},
                              "settings": {"discount_rate": 0.0}})
    assert [s.name for s in sc.scenarios] == ["A", "B", "C", "D"]
    assert [str(s.persistence) for s in sc.scenarios] == ["none", "constant(1)", "exp_decay(1)", "exp_decay(1)"]
    assert all(s.horizon_years == 10 for s in sc.scenarios)
    assert sc["D"].cohorts == 5 and not sc["D"].include_startup and sc["A"].include_startup
    res = costs(effects_table([2.0] * 10), sc, draws=0)
    a, b = row(res, "A"), row(res, "B")
    assert a.net_result == pytest.approx(2400 - 1300)
    assert b.net_result == pytest.approx(62 * 240 - 1300)  # end-of-window effect held one more year
    assert row(res, "D").costs == pytest.approx(1000)
    assert res.to_frame()["payer"].tolist() == ["municipality", "state", "total"] * 4
    assert list(res.to_frame().columns) == list(TABLE_COLUMNS)


def test_user_scenario_replaces_a_default_of_the_same_name():
    sc = scenarios({"name": "B", "label": "mine", "persistence": "constant(2)"}, defaults=True)
    assert [s.name for s in sc.scenarios] == ["A", "C", "D", "B"]
    assert str(sc["B"].persistence) == "constant(2)" and sc["B"].label == "mine"


def test_scenario_overrides_prices_and_programme():
    sc = scenarios({"name": "A"}, {"name": "W", "hourly_wage": 200.0, "running_per_participant": 0.0})
    res = costs(effects_table([2.0] * 10), sc, draws=0)
    # offset 180, tax 80 per hour → 2 × 260 × 10
    assert row(res, "W").net_result == pytest.approx(5200)
    assert sc["A"].prices.hourly_wage == 100


def test_end_of_window_effect_uses_the_last_weeks_with_enough_people():
    eff = effects_table([1.0] * 8 + [3.0, 5.0, 99.0, 99.0])
    eff.loc[eff["week"] >= 11, ["n_treatment", "n_control"]] = 20  # too few followed: outside the window
    sc = scenarios({"name": "B", "persistence": "constant(1)", "horizon_years": 2}, settings_={"min_at_risk": 50})
    res = costs(eff, sc, draws=0)
    b = row(res, "B")
    assert b.observed_weeks == 10 and b.end_effect_hours == pytest.approx(4.0)  # mean of weeks 9–10
    assert b.net_result == pytest.approx((8 + 3 + 5 + 52 * 4.0) * 120 - 1000)


def test_horizon_shorter_than_the_window_truncates():
    res = costs(effects_table([2.0] * 10), scenarios({"name": "A", "horizon_years": 5 / 52}), draws=0)
    assert row(res, "A").net_result == pytest.approx(5 * 240 - 1000)


# ---------------------------------------------------------------- identities

positive_curves = st.lists(st.floats(0.05, 4.0), min_size=4, max_size=30)


@settings(max_examples=25, deadline=None)
@given(h=positive_curves, share=st.floats(0.0, 0.05), rate=st.floats(0.0, 0.1),
       cost_share=st.floats(0.0, 1.0), refund=st.floats(0.0, 1.0))
def test_municipality_plus_state_is_total(h, share, rate, cost_share, refund):
    sc = scenarios({"name": "C", "persistence": "exp_decay(1)", "horizon_years": 3, "cohorts": 2},
                   prices={"benefit_tax_rate": 0.35, "benefit_municipal_tax_share": 0.7, "state_refund_rate": refund},
                   programme={"municipal_cost_share": cost_share, "startup_per_participant": 200.0},
                   settings_={"discount_rate": rate})
    res = costs(effects_table(h, [share] * len(h)), sc, draws=0)
    t = res.to_frame().set_index("payer")
    for col in ("benefit_savings", "tax_revenue", "costs", "net_result", "net_result_per_100"):
        assert t.loc["municipality", col] + t.loc["state", col] == pytest.approx(t.loc["total", col], abs=1e-6)
    last = res.flows.groupby(["payer"])["cumulative_net"].last()
    assert last["total"] == pytest.approx(t.loc["total", "net_result"], rel=1e-9, abs=1e-6)


@settings(max_examples=10, deadline=None)
@given(h=positive_curves, frac=st.floats(0.0, 1.0))
def test_scaling_effects_by_the_break_even_scale_gives_net_zero(h, frac):
    share = frac * min(h) / PRICES["hours_self_supporting"]  # the self-supporting work at most the hours seen
    sc = scenarios({"name": "A"}, {"name": "C", "persistence": "exp_decay(1)", "horizon_years": 4},
                   prices={"benefit_tax_rate": 0.3}, settings_={"discount_rate": 0.035})
    eff = effects_table(h, [share] * len(h))
    res = costs(eff, sc, draws=0)
    for name in ("A", "C"):
        for payer in ("total", "municipality"):
            scale = row(res, name, payer).break_even_scale
            scaled = eff.assign(effect=eff["effect"] * scale)
            again = costs(scaled, sc, draws=0)
            assert row(again, name, payer).net_result == pytest.approx(0.0, abs=1e-6)


@settings(max_examples=10, deadline=None)
@given(h=positive_curves, frac=st.floats(0.0, 1.0))
def test_longer_persistence_never_lowers_the_net_result(h, frac):
    # positive effects that fit together (H·s ≤ h) give a positive weekly gain to every payer
    share = frac * min(h) / PRICES["hours_self_supporting"]
    eff = effects_table(h, [share] * len(h))
    for family in ("constant", "exp_decay", "linear_to_zero"):
        specs = [{"name": f"{family}{y}", "persistence": f"{family}({y})"} for y in (0.25, 0.5, 1, 2, 5, 9)]
        res = costs(eff, scenarios({"name": "none", "persistence": "none"}, *specs,
                                   settings_={"horizon_years": 10, "discount_rate": 0.035}), draws=0)
        for payer in ("total", "municipality", "state"):
            t = res.to_frame().query("payer == @payer")
            assert np.all(np.diff(t["net_result"].to_numpy()) >= -1e-9), (family, payer)


def test_break_even_cost_gives_net_zero():
    sc = scenarios({"name": "C", "persistence": "exp_decay(1)", "horizon_years": 3},
                   programme={"cost_weeks": 13, "municipal_cost_share": 0.6}, settings_={"discount_rate": 0.035})
    eff = effects_table([2.0] * 20, [0.02] * 20)
    res = costs(eff, sc, draws=0)
    for payer in ("total", "municipality", "state"):
        cost = row(res, "C", payer).break_even_cost
        again = costs(eff, scenarios({"name": "C", "persistence": "exp_decay(1)", "horizon_years": 3},
                                     programme={"cost_weeks": 13, "municipal_cost_share": 0.6,
                                                "running_per_participant": cost},
                                     settings_={"discount_rate": 0.035}), draws=0)
        assert row(again, "C", payer).net_result == pytest.approx(0.0, abs=1e-6)


def test_break_even_persistence():
    sc = scenarios({"name": "A"}, settings_={"horizon_years": 10, "discount_rate": 0.035},
                   programme={"running_per_participant": 5000.0})
    eff = effects_table([2.0] * 10)
    years = float(row(costs(eff, sc, draws=0), "A").break_even_persistence_years)
    assert 0 < years < 10
    held = scenarios({"name": "A", "persistence": f"constant({years!r})"},
                     settings_={"horizon_years": 10, "discount_rate": 0.035},
                     programme={"running_per_participant": 5000.0})
    assert row(costs(eff, held, draws=0), "A").net_result == pytest.approx(0.0, abs=1e-4)
    # undiscounted by hand: (10 + 52 y) × 240 = 5000 → y = (5000 / 240 − 10) / 52
    flat = scenarios({"name": "A"}, settings_={"horizon_years": 10}, programme={"running_per_participant": 5000.0})
    assert row(costs(eff, flat, draws=0), "A").break_even_persistence_years == pytest.approx(
        (5000 / 240 - 10) / 52, abs=1e-6)
    # already paid back in the window → 0; impossible within the horizon → inf
    cheap = scenarios({"name": "A"}, settings_={"horizon_years": 10})
    assert row(costs(eff, cheap, draws=0), "A").break_even_persistence_years == 0.0
    dear = scenarios({"name": "A"}, settings_={"horizon_years": 2}, programme={"running_per_participant": 1e6})
    assert math.isinf(row(costs(eff, dear, draws=0), "A").break_even_persistence_years)
    assert np.isfinite(row(costs(eff, dear, draws=0), "A").break_even_scale)
    assert math.isinf(row(costs(effects_table([0.0] * 10), dear, draws=0), "A").break_even_scale)


def test_never_paying_back_gives_missing_payback_week():
    dear = scenarios({"name": "A"}, programme={"running_per_participant": 1e6})
    res = costs(effects_table([2.0] * 10), dear, draws=0)
    assert pd.isna(row(res, "A").payback_week)
    payload = json.loads(json.dumps(res.to_dict()))
    assert payload["table"][2]["payback_week"] is None and payload["table"][2]["prob_net_positive"] is None


# ---------------------------------------------------------------- probability from draws

def test_probability_matches_the_normal_closed_form():
    # perfectly correlated weeks: net ~ N(1400, (120 × 10 × σ)²) → P = Φ(1400 / 1200)
    eff = effects_table([2.0] * 10, se_h=1.0)
    res = costs(eff, scenarios({"name": "A"}), draws=20_000, rng=3, correlation="perfect")
    assert row(res, "A").prob_net_positive == pytest.approx(norm.cdf(1400 / 1200), abs=0.01)
    indep = costs(eff, scenarios({"name": "A"}), draws=20_000, rng=3, correlation="independent")
    assert row(indep, "A").prob_net_positive == pytest.approx(norm.cdf(1400 / (120 * math.sqrt(10))), abs=0.01)


def test_probability_is_reproducible_with_a_seed():
    eff = effects_table([0.5] * 10, [0.005] * 10, se_h=1.0, se_s=0.01)
    sc = scenarios({"name": "A"}, {"name": "C", "persistence": "exp_decay(1)", "horizon_years": 3})
    p1 = costs(eff, sc, draws=500, rng=42).to_frame()["prob_net_positive"]
    p2 = costs(eff, sc, draws=500, rng=np.random.default_rng(42)).to_frame()["prob_net_positive"]
    p3 = costs(eff, sc, draws=500, rng=43).to_frame()["prob_net_positive"]
    pd.testing.assert_series_equal(p1, p2)
    assert not p1.equals(p3)
    assert ((p1 > 0) & (p1 < 1)).all()
    assert costs(eff, sc, draws=0).to_frame()["prob_net_positive"].isna().all()


# ---------------------------------------------------------------- result object

def test_result_views():
    res = costs(effects_table([2.0] * 10, [0.01] * 10), scenarios({"name": "A"}, {"name": "C", "persistence":
                                                                                    "exp_decay(1)"}), draws=50, rng=1)
    frame = res.to_frame()
    frame.loc[0, "net_result"] = -1e9
    assert res.to_frame().loc[0, "net_result"] != -1e9  # a copy
    text = res.summary()
    assert "A" in text and "municipality" in text and "observed window: weeks 1–10" in text
    assert "correlation: weeks" in text
    payload = json.loads(json.dumps(res.to_dict()))
    assert payload["table"][2]["payer"] == "total" and payload["scenarios"][1]["persistence"] == "exp_decay(1)"
    assert "<table" in res._repr_html_()
    for kind in ("jcurve", "bars", "tornado"):
        assert isinstance(res.plot(kind), Figure)
    assert res.plot("jcurve", payer="municipality", lang="da").axes[0].get_title() == "Nettoresultat over tid (Kommune)"
    assert set(res.sensitivity["parameter"]) == {"hourly wage", "persistence", "discount rate", "programme cost",
                                                  "tax rate"}
    c = res.sensitivity.query("scenario == 'C'").set_index("parameter")
    dearer = c.loc["programme cost"]
    assert dearer["net_low"] > dearer["net_base"] > dearer["net_high"]
    assert c.loc["hourly wage", "net_high"] > c.loc["hourly wage", "net_low"]
    assert c.loc["persistence", "net_high"] > c.loc["persistence", "net_low"]


def test_missing_self_supporting_outcome_warns_and_values_hours_only():
    eff = effects_table([2.0] * 10).query("outcome == 'ordinary_hours'")
    with pytest.warns(TrialevalWarning, match="self-supporting channel is zero"):
        res = costs(eff, scenarios({"name": "A"}), draws=0)
    assert row(res, "A").net_result == pytest.approx(1400)


def test_self_supporting_channel_can_be_left_out_on_purpose():
    sc = Scenarios.from_dict({"prices": PRICES, "programme": PROGRAMME, "outcomes": {"self_supporting": ""},
                              "settings": {"discount_rate": 0.0, "default_scenarios": False},
                              "scenario": [{"name": "A", "horizon_years": 1}]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # leaving the channel out on purpose is not warned about
        res = costs(effects_table([3.0] * 10, [0.1] * 10), sc, draws=0)
    assert row(res, "A").benefit_savings == pytest.approx(80 * 3 * 10)
    assert "left out" in res.summary()


def test_non_numeric_effects_column_is_named():
    eff = effects_table([1.0] * 3).astype({"se": object})
    eff.loc[1, "se"] = "n/a"
    with pytest.raises(InputDataError, match=r"column 'se' must be numeric; 1 value\(s\) are not \(e.g. 'n/a'\)"):
        costs(eff, scenarios({"name": "A"}), draws=0)


def test_benefit_share_outcome_is_negated():
    eff = effects_table([3.0] * 10, [0.1] * 10)
    eff = eff.assign(outcome=eff["outcome"].replace({"self_supporting": "on_benefit"}))
    eff.loc[eff["outcome"] == "on_benefit", "effect"] *= -1
    sc = Scenarios.from_dict({"prices": PRICES, "programme": PROGRAMME, "outcomes": {"benefit_share": "on_benefit"},
                              "settings": {"discount_rate": 0.0, "default_scenarios": False},
                              "scenario": [{"name": "A", "horizon_years": 1}]})
    assert row(costs(eff, sc, draws=0), "A").benefit_savings == pytest.approx(2000)


def test_bad_effects_tables():
    sc = scenarios({"name": "A"})
    with pytest.raises(InputDataError, match="outcome 'ordinary_hours'.*not in the effects table"):
        costs(effects_table([1.0] * 3).query("outcome != 'ordinary_hours'"), sc, draws=0)
    with pytest.raises(InputDataError, match="required column.*'se'"):
        costs(effects_table([1.0] * 3).drop(columns="se"), sc, draws=0)
    small = effects_table([1.0] * 3, n=10)
    with pytest.raises(InputDataError, match="no usable week 1"):
        costs(small, sc, draws=0)


# ---------------------------------------------------------------- scenario file

def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "costs.toml"
    path.write_text(text, encoding="utf-8")
    return path


BASE = """
[prices]
hourly_wage = 150
benefit_per_week = 2844.46
disregard_per_hour = 28.66
tax_rate = 0.39
municipal_tax_share = 0.52
state_refund_rate = 0.2
[programme]
startup_per_participant = 2000
running_per_participant = 12000
"""


@pytest.mark.parametrize("extra, message", [
    ("[settings]\nhorizon_year = 5\n",
     r"costs.toml: unknown key 'horizon_year' in \[settings\]; allowed: horizon_years"),
    ("[extras]\na = 1\n", r"costs.toml: unknown section \[extras\]"),
    ("[[scenario]]\nname = \"E\"\npersitence = \"none\"\n", r"unknown key 'persitence' in \[\[scenario\]\] #1 \('E'\)"),
    ("[settings]\nhorizon_years = 12\n", r"\[settings\] horizon_years must be in \(0, 10\]; got 12"),
    ("[[scenario]]\nname = \"E\"\nhorizon_years = 10.5\n",
     r"\[\[scenario\]\] #1 \('E'\) horizon_years must be in \(0, 10\]"),
    ("[settings]\ndiscount_rate = \"3.5%\"\n", r"\[settings\] discount_rate must be a number; got str '3.5%'"),
    ("[settings]\ndefault_scenarios = 1\n", r"\[settings\] default_scenarios must be a boolean; got int"),
    ("[[scenario]]\nname = \"E\"\ncohorts = 2.0\n", r"cohorts must be an integer; got float 2.0"),
    ("[[scenario]]\nname = \"E\"\npersistence = \"exp_decay(0)\"\n", r"exp_decay needs a number of years in \(0, 10\]"),
    ("[[scenario]]\nname = \"E\"\npersistence = \"forever\"\n", r"'forever' is not one of none, constant"),
    ("[[scenario]]\nname = \"E\"\npersistence = [1, -0.5]\n", r"yearly multipliers ≥ 0"),
    ("[[scenario]]\nname = \"E\"\ncohorts = 3\nhorizon_years = 2\n", r"cohorts = 3 start after the horizon"),
    ("[[scenario]]\nname = \"E\"\n[[scenario]]\nname = \"E\"\n", r"scenario name\(s\) E appear more than once"),
    ("[[scenario]]\nlabel = \"no name\"\n", r"\[\[scenario\]\] #1 is missing required key\(s\) name"),
    ("[outcomes]\nself_supporting = \"s\"\nbenefit_share = \"b\"\n", r"either self_supporting or benefit_share"),
])
def test_bad_scenario_files_name_file_section_and_key(tmp_path, extra, message):
    path = write(tmp_path, BASE + extra)
    with pytest.raises(ConfigError, match=message) as info:
        load_scenarios(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("key, value, message", [
    ("tax_rate", "1.2", r"\[prices\] tax_rate must be in \[0, 1\]; got 1.2"),
    ("hourly_wage", "0", r"\[prices\] hourly_wage must be in \(0, inf\); got 0"),
    ("hourly_wage", "\"150\"", r"\[prices\] hourly_wage must be a number; got str"),
    ("state_refund_rate", "true", r"\[prices\] state_refund_rate must be a number; got bool"),
])
def test_bad_price_values(tmp_path, key, value, message):
    text = "\n".join(f"{key} = {value}" if line.startswith(f"{key} =") else line for line in BASE.splitlines())
    with pytest.raises(ConfigError, match=message):
        load_scenarios(write(tmp_path, text))


def test_missing_required_price_and_file_problems(tmp_path):
    text = "\n".join(line for line in BASE.splitlines() if not line.startswith("tax_rate"))
    with pytest.raises(ConfigError, match=r"\[prices\] is missing required key\(s\) tax_rate"):
        load_scenarios(write(tmp_path, text))
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_scenarios(write(tmp_path, "[prices\n"))
    with pytest.raises(ConfigError, match="scenario file not found"):
        load_scenarios(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="no scenarios"):
        load_scenarios(write(tmp_path, BASE + "[settings]\ndefault_scenarios = false\n"))


def test_sample_costs_toml_loads_with_documented_defaults():
    sc = load_scenarios(SAMPLE_TOML)
    assert [s.name for s in sc.scenarios] == ["A", "B", "C", "D"]
    a = sc["A"]
    assert a.prices.benefit_per_week == pytest.approx(12326 * 12 / 52, abs=0.01)
    assert a.prices.offset_per_hour == pytest.approx(0.92 * 150 - 28.66)
    assert a.discount_rate == 0.035 and a.horizon_years == 10 and a.prices.state_refund_rate == 0.2
    assert sc.min_at_risk == 100 and sc.end_weeks == 8
    text = SAMPLE_TOML.read_text(encoding="utf-8")
    for source in ("detfagligehus.dk", "Odense Kommune", "STAR", "Finansministeriet", "Skatteministeriet",
                   "Industriens Overenskomst", "ILLUSTRATIVE"):
        assert source in text


def test_persistence_parsing_and_multipliers():
    assert Persistence.parse("  constant( 2 ) ").years == 2
    np.testing.assert_allclose(Persistence.parse("constant(0.5)").multipliers(28)[24:28], [1, 1, 0, 0])
    np.testing.assert_allclose(Persistence.parse("linear_to_zero(1)").multipliers(53)[[0, 25, 51, 52]],
                               [51 / 52, 26 / 52, 0, 0])
    np.testing.assert_allclose(Persistence.parse([1, 0.25]).multipliers(105)[[51, 52, 103, 104]], [1, 0.25, 0.25, 0])
    assert not Persistence.parse("none").multipliers(10).any()
    with pytest.raises(ConfigError, match="none takes no argument"):
        Persistence.parse("none(1)")
