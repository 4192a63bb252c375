"""Risk-set matching with replacement and ATT weighting, by hand on a small case; a person in several rows
gets one panel unit per row."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from trialeval.config import TrialConfig
from trialeval.match import match_comparison

# A (March) and B (April) have x = 5; candidates c1..c4 are eligible in both months. With one covariate the
# logit is a + b·x, so the nearest logit is the nearest x: c1 (5.1), then c2 (3), c3 (8), c4 (0).
LEDGER = pd.DataFrame({"person_id": ["A", "B"], "arm": "treatment",
                       "visitation_date": pd.to_datetime(["2016-03-10", "2016-04-05"])})
POPULATION = pd.DataFrame({"person_id": ["A", "B", "c1", "c2", "c3", "c4"], "x": [5.0, 5.0, 5.1, 3.0, 8.0, 0.0]})


def _config(**matching):
    return TrialConfig.from_dict({"trial": {"seed": 1, "treatment_share": 1},
                                  "matching": {"covariates": ["x"], "caliper": 100.0, **matching}})


def _match(**matching):
    cfg = _config(**matching)
    return match_comparison(LEDGER, POPULATION, None, cfg)


def test_with_replacement_one_person_is_matched_in_two_months_with_two_dates_and_split_weight():
    result = _match(replace=True)
    comp = result.ledger.loc[result.ledger["arm"] == "comparison"]
    assert comp["person_id"].tolist() == ["c1", "c1"]
    assert comp["visitation_date"].tolist() == ["2016-03-10", "2016-04-05"]     # each match's own date
    assert comp["unit_id"].tolist() == ["c1~1", "c1~2"] and comp["match_id"].tolist() == [1, 2]
    # MatchIt: c1's weight = (1/1 + 1/1) rescaled to the 1 comparison unit = 1, split over its two matches
    assert comp["weight"].tolist() == [0.5, 0.5]
    assert result.counts["comparison_persons"] == 1
    without = _match()
    assert without.ledger.loc[without.ledger["arm"] == "comparison", "person_id"].tolist() == ["c1", "c2"]


def test_one_to_two_with_replacement_weights_add_up_as_matchit_s():
    result = _match(replace=True, ratio=2)
    comp = result.ledger.loc[result.ledger["arm"] == "comparison"]
    assert sorted(comp["person_id"]) == ["c1", "c1", "c2", "c2"]
    by_person = comp.groupby("person_id")["weight"].sum()
    # MatchIt: each unit 1/2 + 1/2 = 1, two units, rescaled to sum 2: 1 each
    assert by_person.to_dict() == pytest.approx({"c1": 1.0, "c2": 1.0})
    assert comp["weight"].sum() == pytest.approx(2.0)


def test_att_weighting_gives_every_candidate_month_its_odds_weight():
    result = _match(method="weighting")
    out = result.ledger
    prog, comp = out.loc[out["arm"] == "programme"], out.loc[out["arm"] == "comparison"]
    assert (prog["weight"] == 1).all() and len(comp) == 8
    # independent fit: statsmodels' logistic regression on the 10 risk-set rows
    rows = pd.concat([pd.DataFrame({"x": [5.0, 5.0], "y": 1}),
                      pd.DataFrame({"x": np.tile([5.1, 3.0, 8.0, 0.0], 2), "y": 0})], ignore_index=True)
    fit = sm.GLM(rows["y"], sm.add_constant(rows[["x"]]), family=sm.families.Binomial()).fit(tol=1e-12)
    x = POPULATION.set_index("person_id")["x"]
    expected = np.exp(fit.params["const"] + fit.params["x"] * x.loc[comp["person_id"]].to_numpy())
    np.testing.assert_allclose(comp["weight"].to_numpy(), expected, rtol=1e-7)
    assert set(comp["visitation_date"]) == {"2016-03-01", "2016-04-01"}        # the month's first day
    assert comp.groupby("person_id")["match_id"].nunique().eq(1).all()           # one cluster per person
    assert comp["unit_id"].is_unique and prog["unit_id"].tolist() == ["A", "B"]


def test_each_unit_of_a_person_gets_its_own_panel_rows(tmp_path):
    from trialeval import pipeline

    result = _match(replace=True)
    ledger = result.ledger.drop(columns=["propensity_logit"])
    ledger.to_csv(tmp_path / "comparison.csv", index=False)
    spells = pd.DataFrame({"person_id": ["A", "B", "c1"], "spell_type": "ordinary_hours",
                           "start_date": "2016-03-21", "end_date": "2016-12-31", "hours_per_week": 10.0})
    spells.to_csv(tmp_path / "spells.csv", index=False)
    (tmp_path / "trial.toml").write_text('[trial]\nseed = 1\ntreatment_share = 0.5\ndesign = "comparison"\n'
                                         'groups = ["programme", "comparison"]\nreference = "comparison"\n')
    step = pipeline.panel(tmp_path / "comparison.csv", tmp_path / "spells.csv", tmp_path / "panel.csv",
                          config=tmp_path / "trial.toml", extraction_date="2016-12-31", weeks=8,
                          min_matched_share=0)
    panel = pd.read_csv(tmp_path / "panel.csv")
    assert sorted(panel["person_id"].unique()) == ["A", "B", "c1~1", "c1~2"]
    hours = panel.pivot(index="week", columns="person_id", values="ordinary_hours")
    # c1's hours start on 21 March: 11 days after its March date (week 2 on), before its April date
    assert hours["c1~1"].tolist() == hours["A"].tolist() and hours["c1~2"].tolist() == hours["B"].tolist()
    assert hours.loc[1, "c1~1"] == 0 and hours.loc[2, "c1~1"] > 0 and (hours["c1~2"] == 10).all()
    assert not list(tmp_path.glob(".trialeval-units-*")) and step.written[0] == tmp_path / "panel.csv"


# --------------------------------------------------------------------------------------------------
# against MatchIt 4.7.2 (tests/reference/make_reference_matching.R) on lalonde, as one risk set

REFERENCE = __import__("pathlib").Path(__file__).parent / "reference"


def _lalonde():
    """lalonde as a population, its treated as the programme group of one visitation month."""
    lalonde = pd.read_csv(REFERENCE / "lalonde.csv")
    lalonde.insert(0, "person_id", [f"r{i}" for i in range(1, len(lalonde) + 1)])
    treated = lalonde["treat"] == 1
    ledger = pd.DataFrame({"person_id": lalonde.loc[treated, "person_id"], "arm": "treatment",
                           "visitation_date": pd.Timestamp("1976-01-15")})
    return lalonde, treated, ledger


@pytest.mark.parametrize("case, options", [("replace_1", {"replace": True}),
                                           ("replace_3_caliper_0.1", {"replace": True, "ratio": 3, "caliper": 0.1})])
def test_a_single_risk_set_with_replacement_gives_matchit_s_weights_per_person(case, options, monkeypatch):
    """Given R's scores, as the reference test of the matcher does (our glm fit equals R's to 1e-10, but
    lalonde has near-ties 4e-16 apart that such differences would decide)."""
    lalonde, treated, ledger = _lalonde()
    cfg = TrialConfig.from_dict({"trial": {"seed": 1, "treatment_share": 1}, "matching": {
        "covariates": ["age", "educ", "race", "married", "nodegree", "re74", "re75"], "caliper": 1e6, **options}})
    r_score = pd.read_csv(REFERENCE / "matching_reference_distance.csv")["distance"].to_numpy()
    # the risk set holds the programme persons first, then the candidates, each in the data's order
    monkeypatch.setattr("trialeval.match.logit_propensity",
                        lambda *a, **k: np.r_[r_score[treated.to_numpy()], r_score[~treated.to_numpy()]])
    result = match_comparison(ledger, lalonde, None, cfg)
    out = result.ledger
    got = out.groupby("person_id")["weight"].sum()
    ref = pd.read_csv(REFERENCE / "matching_reference_weights.csv").query("case == @case")
    want = pd.Series(ref["weight"].to_numpy(dtype=float), index=[f"r{r}" for r in ref["row"]])
    want = want[want > 0]
    assert set(got.index) == set(want.index) and len(want) > 250
    np.testing.assert_allclose(got.loc[want.index].to_numpy(), want.to_numpy(), rtol=1e-12, atol=1e-12)
    assert (out.loc[out["arm"] == "comparison", "weight"].sum()
            == pytest.approx(out.loc[out["arm"] == "comparison", "person_id"].nunique()))


def test_att_weights_on_lalonde_are_the_odds_of_r_s_glm_score():
    lalonde, treated, ledger = _lalonde()
    cfg = TrialConfig.from_dict({"trial": {"seed": 1, "treatment_share": 1}, "matching": {
        "covariates": ["age", "educ", "race", "married", "nodegree", "re74", "re75"], "method": "weighting"}})
    out = match_comparison(ledger, lalonde, None, cfg).ledger.set_index("person_id")
    r_score = pd.Series(pd.read_csv(REFERENCE / "matching_reference_distance.csv")["distance"].to_numpy(),
                        index=lalonde["person_id"])
    controls = lalonde.loc[~treated, "person_id"]
    assert len(out) == len(lalonde)                                   # one month: everyone once
    np.testing.assert_allclose(out.loc[controls, "weight"].to_numpy(), np.exp(r_score[controls].to_numpy()),
                               rtol=1e-9)
    assert (out.loc[lalonde.loc[treated, "person_id"], "weight"] == 1).all()


def test_verify_replays_a_match_with_replacement(tmp_path):
    from trialeval import pipeline

    LEDGER.assign(visitation_date=LEDGER["visitation_date"].dt.strftime("%Y-%m-%d"), municipality="Aarhus").to_csv(
        tmp_path / "ledger.csv", index=False)
    POPULATION.assign(municipality=["Aarhus", "Aarhus", "Vejle", "Vejle", "Vejle", "Vejle"]).to_csv(
        tmp_path / "population.csv", index=False)
    pd.DataFrame({"person_id": ["A"], "spell_type": "benefit", "start_date": "2016-01-01",
                  "end_date": "2016-12-31"}).to_csv(tmp_path / "spells.csv", index=False)
    (tmp_path / "trial.toml").write_text('[trial]\nseed = 1\ntreatment_share = 1\n'
                                         '[matching]\ncovariates = ["x"]\ncaliper = 100.0\nreplace = true\n')
    files = [tmp_path / name for name in ("population.csv", "trial.toml", "comparison.csv")]
    pipeline.match(tmp_path / "ledger.csv", files[0], tmp_path / "spells.csv", files[1], files[2], date="2016-06-01")
    ok = pipeline.verify([files[0]], files[1], files[2], spells=tmp_path / "spells.csv",
                         programme_ledger=tmp_path / "ledger.csv").result
    assert ok.ok and ok.n_rows == 4, ok.problems
    text = files[2].read_text()
    files[2].write_text(text.replace(",0.5,", ",0.75,", 1))             # the first of c1's two weights
    bad = pipeline.verify([files[0]], files[1], files[2], spells=tmp_path / "spells.csv",
                          programme_ledger=tmp_path / "ledger.csv").result
    assert not bad.ok and bad.problems[0].startswith("row 2 (person c1) differs in weight")
