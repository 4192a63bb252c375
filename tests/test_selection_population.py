"""A selection design: the drawn group against the whole eligible population (balance --population), and
--drop-exclusions on panel and effects with its warning."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from trialeval.cli import app
from trialeval.draw import run_draw, run_exclude
from trialeval.exceptions import TrialevalWarning

runner = CliRunner()
CONFIG = """[trial]
seed = 5
treatment_share = 1
groups = ["programme", "comparison"]
[eligibility]
rules = ["age >= 30"]
[analysis]
covariates = ["age", "gender"]
min_cell_size = 0
"""


@pytest.fixture()
def drawn(tmp_path):
    rng = np.random.default_rng(4)
    n = 80
    pop = pd.DataFrame({"person_id": [f"P{i:03d}" for i in range(n)], "municipality": ["Aarhus", "Vejle"] * (n // 2),
                        "age": rng.integers(20, 65, n), "gender": rng.choice(["F", "M"], n)})
    pop.to_csv(tmp_path / "population.csv", index=False)
    (tmp_path / "trial.toml").write_text(CONFIG)
    run_draw(tmp_path / "population.csv", tmp_path / "trial.toml", tmp_path / "ledger.csv", ["Aarhus=8", "Vejle=6"],
             "2016-03-01")
    return tmp_path, pop


def _smd(a: np.ndarray, b: np.ndarray) -> float:
    return (a.mean() - b.mean()) / math.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)


def test_the_drawn_are_compared_with_the_whole_eligible_population_drawn_included(drawn):
    d, pop = drawn
    result = runner.invoke(app, ["balance", "--ledger", str(d / "ledger.csv"), "--population", str(d / "population.csv"),
                                 "--config", str(d / "trial.toml"), "--out", str(d / "balance.csv")])
    assert result.exit_code == 0, result.output
    assert "no test applies" in result.output
    table = pd.read_csv(d / "balance.csv", keep_default_na=False)
    assert "p_value" not in table.columns and "test" not in table.columns
    ids = pd.read_csv(d / "ledger.csv")["person_id"]
    eligible = pop.loc[pop["age"] >= 30]
    assert ids.isin(eligible["person_id"]).all()              # so the population group holds every drawn person
    age_d = pop.set_index("person_id").loc[ids, "age"].to_numpy(dtype=float)
    age_p = eligible["age"].to_numpy(dtype=float)
    row = table.loc[table["covariate"] == "age"].iloc[0]
    assert float(row["mean_drawn"]) == pytest.approx(age_d.mean(), abs=1e-12)
    assert float(row["mean_population"]) == pytest.approx(age_p.mean(), abs=1e-12)
    assert float(row["smd"]) == pytest.approx(_smd(age_d, age_p), abs=1e-12)
    assert float(row["variance_ratio"]) == pytest.approx(age_d.var(ddof=1) / age_p.var(ddof=1), abs=1e-12)
    female_d = (pop.set_index("person_id").loc[ids, "gender"] == "F").mean()
    female_p = (eligible["gender"] == "F").mean()
    f = table.loc[(table["covariate"] == "gender") & (table["level"] == "F")].iloc[0]
    assert float(f["mean_drawn"]) == pytest.approx(female_d, abs=1e-12)
    assert float(f["mean_population"]) == pytest.approx(female_p, abs=1e-12)
    pooled = math.sqrt((female_d * (1 - female_d) + female_p * (1 - female_p)) / 2)
    assert float(f["smd"]) == pytest.approx((female_d - female_p) / pooled, abs=1e-12)


def test_drawn_minus_excluded_with_the_switch_and_a_selection_needs_the_population(drawn):
    d, pop = drawn
    ids = pd.read_csv(d / "ledger.csv")["person_id"].tolist()
    run_exclude(d / "ledger.csv", ids[0], "moved", "2016-03-10")
    run_exclude(d / "ledger.csv", ids[1], "moved", "2016-03-10")
    args = ["balance", "--ledger", str(d / "ledger.csv"), "--population", str(d / "population.csv"),
            "--config", str(d / "trial.toml")]
    with pytest.warns(TrialevalWarning, match="no longer a random selection"):
        result = runner.invoke(app, [*args, "--out", str(d / "kept.csv"), "--drop-exclusions"])
    assert result.exit_code == 0, result.output
    assert "2 excluded after the draw left out" in result.output
    row = pd.read_csv(d / "kept.csv").query("covariate == 'age'").iloc[0]
    by_id = pop.set_index("person_id")
    assert row["mean_drawn"] == pytest.approx(by_id.loc[ids[2:], "age"].mean(), abs=1e-12)
    # the population still holds the excluded: it is the whole eligible population
    assert row["mean_population"] == pytest.approx(pop.loc[pop["age"] >= 30, "age"].mean(), abs=1e-12)
    result = runner.invoke(app, [*args, "--out", str(d / "all.csv")])
    assert pd.read_csv(d / "all.csv").query("covariate == 'age'").iloc[0]["mean_drawn"] == pytest.approx(
        by_id.loc[ids, "age"].mean(), abs=1e-12)
    result = runner.invoke(app, ["balance", "--ledger", str(d / "ledger.csv"), "--config", str(d / "trial.toml"),
                                 "--out", str(d / "none.csv")])
    assert result.exit_code == 2 and "--population" in result.output and not (d / "none.csv").exists()


# --------------------------------------------------------------------------------------------------
# --drop-exclusions on panel and effects

LEDGER = """person_id,arm,visitation_date,excluded,exclusion_reason,exclusion_date
a,treatment,2016-01-04,False,,
b,treatment,2016-01-04,True,prison,2016-01-20
c,treatment,2016-01-04,False,,
d,control,2016-01-04,False,,
e,control,2016-01-04,True,moved,2016-02-01
f,control,2016-01-04,False,,
"""


@pytest.fixture()
def extract(tmp_path):
    (tmp_path / "ledger.csv").write_text(LEDGER)
    rows = [(p, "benefit", "2015-06-01", "2016-12-31") for p in "abcdef"]
    rows += [(p, "ordinary_hours", "2016-02-01", "2016-06-30") for p in "abd"]
    pd.DataFrame(rows, columns=["person_id", "spell_type", "start_date", "end_date"]).assign(
        hours_per_week=lambda x: np.where(x["spell_type"] == "ordinary_hours", 20.0, np.nan)).to_csv(
        tmp_path / "spells.csv", index=False)
    return tmp_path


def test_panel_drops_the_excluded_rows_and_says_so(extract):
    d = extract
    with pytest.warns(TrialevalWarning, match="lottery alone"):
        result = runner.invoke(app, ["panel", "--ledger", str(d / "ledger.csv"), "--spells", str(d / "spells.csv"),
                                     "--extraction-date", "2016-12-31", "--weeks", "20", "--out",
                                     str(d / "panel.csv"), "--drop-exclusions"])
    assert result.exit_code == 0, result.output
    assert "no longer rests on the lottery alone" in result.output
    panel = pd.read_csv(d / "panel.csv")
    assert sorted(panel["person_id"].unique()) == ["a", "c", "d", "f"]                 # b and e left out
    full = runner.invoke(app, ["panel", "--ledger", str(d / "ledger.csv"), "--spells", str(d / "spells.csv"),
                               "--extraction-date", "2016-12-31", "--weeks", "20", "--out", str(d / "full.csv")])
    assert full.exit_code == 0, full.output
    everyone = pd.read_csv(d / "full.csv")
    kept = everyone.loc[~everyone["person_id"].isin(["b", "e"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(panel.reset_index(drop=True), kept)
    note = json.loads((d / "panel_exclusions.json").read_text())
    assert note["excluded_left_out"] == 2 and "lottery alone" in note["warning"]
    assert not list(d.glob(".trialeval-ledger-*"))                                     # temporary ledger gone
    # effects on that panel carry the warning into their settings
    with pytest.warns(TrialevalWarning, match="lottery alone"):
        fx = runner.invoke(app, ["effects", "--panel", str(d / "panel.csv"), "--outcomes", "self_supporting",
                                 "--min-cell", "0", "--out", str(d / "effects.csv")])
    assert fx.exit_code == 0, fx.output
    assert json.loads((d / "effects_settings.json").read_text())["drop_exclusions"]["excluded_left_out"] == 2


def test_effects_from_spells_drop_the_excluded_with_the_warning_in_the_settings(extract):
    d = extract
    base = ["effects", "--ledger", str(d / "ledger.csv"), "--spells", str(d / "spells.csv"), "--extraction-date",
            "2016-12-31", "--weeks", "20", "--outcomes", "ordinary_hours", "--min-cell", "0"]
    with pytest.warns(TrialevalWarning, match="lottery alone"):
        result = runner.invoke(app, [*base, "--out", str(d / "kept.csv"), "--drop-exclusions"])
    assert result.exit_code == 0, result.output
    assert "Warning:" in result.output and "lottery alone" in result.output
    settings = json.loads((d / "kept_settings.json").read_text())
    assert settings["drop_exclusions"]["excluded_left_out"] == 2
    # by hand, week 10 (from 7 March): a, b and d work 20 hours a week. Kept: a, c against d, f: 10 and 10;
    # everyone: a, b, c against d, e, f: 40/3 and 20/3
    kept = pd.read_csv(d / "kept.csv").set_index("week").loc[10]
    assert (kept["n_treatment"], kept["n_control"]) == (2, 2)
    assert (kept["mean_treatment"], kept["mean_control"]) == pytest.approx((10.0, 10.0), abs=1e-12)
    everyone = runner.invoke(app, [*base, "--out", str(d / "all.csv")])
    assert everyone.exit_code == 0 and "Warning" not in everyone.output
    assert "drop_exclusions" not in json.loads((d / "all_settings.json").read_text())
    full = pd.read_csv(d / "all.csv").set_index("week").loc[10]
    assert (full["n_treatment"], full["n_control"]) == (3, 3)
    assert (full["mean_treatment"], full["mean_control"]) == pytest.approx((40 / 3, 20 / 3), abs=1e-12)
    refused = runner.invoke(app, ["effects", "--panel", str(d / "kept.csv"), "--drop-exclusions",
                                  "--out", str(d / "x.csv")])
    assert refused.exit_code == 2 and "--drop-exclusions" in refused.output
