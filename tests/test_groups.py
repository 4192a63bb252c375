"""Group labels are data (a Design's groups and reference), an optional ledger weight, and the refusal of
randomisation inference for designs that were not randomised."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from numpy.testing import assert_array_equal
from typer.testing import CliRunner

from trialeval.balance import balance
from trialeval.cli import app
from trialeval.config import TrialConfig, load_config
from trialeval.design import Design
from trialeval.draw import draw, run_draw
from trialeval.effects import effects
from trialeval.exceptions import ConfigError, DesignError, EstimationError, InputDataError
from trialeval.io import read_ledger, read_ledger_table
from trialeval.panel import build_panel, write_panel
from trialeval.report import build_report

LABELS = Design(groups=("programme", "comparison"), reference="comparison")
RELABEL = {"treatment": "programme", "control": "comparison"}
runner = CliRunner()


def _ledger(n: int = 60, seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "person_id": [f"p{i:03d}" for i in range(n)],
        "arm": np.where(rng.random(n) < 0.5, "treatment", "control"),
        "visitation_date": pd.Timestamp("2016-03-01") + pd.to_timedelta(rng.integers(0, 20, n), unit="D"),
        "stratum": np.where(np.arange(n) % 2 == 0, "a", "b"),
        "age": rng.integers(25, 60, n).astype(float),
    })


def _spells(ledger: pd.DataFrame, seed: int = 6) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = len(ledger)
    start = ledger["visitation_date"] + pd.to_timedelta(rng.integers(0, 60, n), unit="D")
    return pd.DataFrame({
        "person_id": ledger["person_id"],
        "spell_type": rng.choice(["internship", "ordinary_hours", "wage_subsidy"], n),
        "start_date": start.dt.strftime("%Y-%m-%d"),
        "end_date": (start + pd.to_timedelta(rng.integers(5, 80, n), unit="D")).dt.strftime("%Y-%m-%d"),
        "hours_per_week": rng.uniform(5, 37, n).round(1),
    })


def _relabelled(ledger: pd.DataFrame) -> pd.DataFrame:
    return ledger.assign(arm=ledger["arm"].map(RELABEL))


# --- labels through panel and effects --------------------------------------------------------------

def test_custom_labels_give_the_same_panel_and_effects_as_treatment_and_control(tmp_path: Path) -> None:
    ledger = _ledger()
    spells = _spells(ledger)
    plain = build_panel(ledger, spells, "2016-09-30", weeks=20)
    labelled = build_panel(_relabelled(ledger), spells, "2016-09-30", weeks=20, design=LABELS)
    assert labelled.groups == ("programme", "comparison") and plain.groups == ("treatment", "control")

    frame, frame_l = plain.to_frame(), labelled.to_frame()
    assert_array_equal(frame_l["arm"].astype(str), frame["arm"].astype(str).map(RELABEL))
    pd.testing.assert_frame_equal(frame.drop(columns="arm"), frame_l.drop(columns="arm"))
    assert set(labelled.number_at_risk["arm"]) == {"programme", "comparison"}
    assert_array_equal(labelled.number_at_risk["n_at_risk"], plain.number_at_risk["n_at_risk"])
    assert "programme" in labelled.summary() and "comparison" in labelled.summary()
    assert labelled.to_dict()["groups"] == ["programme", "comparison"]

    # the panel file's arm column carries the labels
    write_panel(labelled, tmp_path / "panel.parquet")
    written = pq.read_table(tmp_path / "panel.parquet").to_pandas()
    assert set(written["arm"].astype(str)) == {"programme", "comparison"}
    streamed = build_panel(_relabelled(ledger), spells, "2016-09-30", weeks=20, design=LABELS,
                           out=tmp_path / "streamed.csv")
    assert set(pd.read_csv(tmp_path / "streamed.csv")["arm"]) == {"programme", "comparison"}

    # effects: the long panel and the per-week sums give exactly the numbers of treatment/control
    cols = ["outcome", "week", "n_treatment", "n_control", "mean_treatment", "mean_control", "effect", "se",
            "df", "ci_low", "ci_high", "p_value"]
    base = effects(frame, ["in_internship", "ordinary_hours"], hours_week=10).table[cols]
    mine = effects(frame_l, ["in_internship", "ordinary_hours"], hours_week=10, design=LABELS)
    pd.testing.assert_frame_equal(mine.table[cols], base, check_exact=True)
    assert mine.groups == ("programme", "comparison")
    assert set(mine.hours.table["arm"]) == {"programme", "comparison"}
    hours_legend = mine.hours.plot().axes[0].get_legend_handles_labels()[1]
    assert [label.split(" (")[0] for label in hours_legend] == ["programme", "comparison"]
    summed = effects(streamed, ["in_internship", "ordinary_hours"])
    pd.testing.assert_frame_equal(summed.table[cols], effects(plain, ["in_internship", "ordinary_hours"]).table[cols],
                                  check_exact=True)
    assert summed.groups == ("programme", "comparison")
    assert "Programme group 'programme' vs reference group 'comparison'" in mine.summary()
    assert mine.plot("in_internship").axes[0].get_legend_handles_labels()[1] == ["programme", "comparison"]
    assert effects(frame, "in_internship").plot().axes[0].get_legend_handles_labels()[1] == ["Treatment", "Control"]


def test_blocked_and_lin_effects_follow_the_roles_not_the_label_order() -> None:
    ledger = _ledger(80, seed=8)
    spells = _spells(ledger, seed=9)
    frame = build_panel(ledger, spells, "2016-09-30", weeks=12).to_frame()
    # reference group sorts first alphabetically, programme group last: roles, not sort order, decide
    design = Design(groups=("zeta", "alpha"), reference="alpha")
    relabelled = frame.assign(arm=frame["arm"].astype(str).map({"treatment": "zeta", "control": "alpha"}))
    for option in ({"blocks": "stratum"}, {"covariates": "stratum"}, {}):
        base = effects(frame, "ordinary_hours", **option).table
        mine = effects(relabelled, "ordinary_hours", design=design, **option).table
        pd.testing.assert_frame_equal(mine, base, check_exact=True)


def test_labels_without_a_design_ask_for_one_and_a_wrong_label_names_rows() -> None:
    ledger = _relabelled(_ledger(6))
    with pytest.raises(InputDataError, match=r"'arm' must be 'treatment' or 'control' in 6 rows .*"
                                             r"\[trial\] groups"):
        build_panel(ledger, _spells(ledger), "2016-09-30", weeks=4)
    bad = ledger.assign(arm=["programme", "control", "comparison", "programme", "x", "comparison"])
    with pytest.raises(InputDataError, match=r"ledger: column 'arm' must be 'programme' or 'comparison' in "
                                             r"2 rows \(rows 2, 5\)$"):
        build_panel(bad, _spells(bad), "2016-09-30", weeks=4, design=LABELS)
    panel = pd.DataFrame({"person_id": ["a", "b"], "arm": ["programme", "control"], "week": 1, "y": [1.0, 0.0]})
    with pytest.raises(InputDataError, match=r"panel: column 'arm' must be 'programme' or 'comparison' in 1 row "
                                             r"\(row 2\)"):
        effects(panel, "y", design=LABELS)
    with pytest.raises(InputDataError, match="'arm' must be 'treatment' or 'control'.*declared"):
        balance(_relabelled(_ledger()), ["age"], ri_draws=0)


def test_ledger_file_with_labels_reads_with_the_design(tmp_path: Path) -> None:
    path = tmp_path / "ledger.csv"
    _relabelled(_ledger(10)).to_csv(path, index=False)
    table = read_ledger_table(path, design=LABELS)
    assert table["arm"].chunk(0).dictionary.to_pylist() == ["programme", "comparison"]
    assert_array_equal(table["arm"].to_pylist(), _relabelled(_ledger(10))["arm"].to_numpy())
    assert read_ledger(path, design=LABELS)["arm"].tolist() == _relabelled(_ledger(10))["arm"].tolist()
    with pytest.raises(InputDataError, match=f"{path}: column 'arm' must be 'treatment' or 'control'"):
        read_ledger_table(path)


def test_balance_with_labels_equals_treatment_and_control() -> None:
    ledger = _ledger(120, seed=2)
    base = balance(ledger, ["age"], ri_draws=99, rng=3)
    mine = balance(_relabelled(ledger), ["age"], ri_draws=99, rng=3, design=LABELS)
    pd.testing.assert_frame_equal(mine.to_frame(), base.to_frame(), check_exact=True)
    pd.testing.assert_frame_equal(mine.omnibus(), base.omnibus(), check_exact=True)
    assert mine.groups == ("programme", "comparison") and mine.to_dict()["groups"] == ["programme", "comparison"]
    assert mine.summary().startswith(f"Balance: programme (n={base.n_treatment}) vs comparison "
                                     f"(n={base.n_control})")


# --- weight ----------------------------------------------------------------------------------------

def test_weight_survives_the_panel_per_person(tmp_path: Path) -> None:
    ledger = _ledger(40)
    ledger["weight"] = np.round(np.random.default_rng(1).uniform(0, 3, len(ledger)), 3)
    spells = _spells(ledger)
    res = build_panel(ledger, spells, "2016-09-30", weeks=8)
    frame = res.to_frame()
    assert frame["weight"].dtype == np.float64 and "weight" in res.columns
    expected = frame["person_id"].map(ledger.set_index("person_id")["weight"])
    assert_array_equal(frame["weight"].to_numpy(), expected.to_numpy())
    path = tmp_path / "ledger.csv"
    ledger.to_csv(path, index=False)
    build_panel(path, spells, "2016-09-30", weeks=8, out=tmp_path / "panel.parquet")
    written = pq.read_table(tmp_path / "panel.parquet")
    assert str(written.schema.field("weight").type) == "double"
    on_disk = written.to_pandas()
    assert_array_equal(on_disk["weight"].to_numpy(),
                       on_disk["person_id"].map(ledger.set_index("person_id")["weight"]).to_numpy())
    assert "weight" not in build_panel(ledger.drop(columns="weight"), spells, "2016-09-30", weeks=8).to_frame()


def test_weights_other_than_one_stop_effects_and_balance() -> None:
    ledger = _ledger(40)
    spells = _spells(ledger)
    ones = build_panel(ledger.assign(weight=1.0), spells, "2016-09-30", weeks=8)
    plain = build_panel(ledger, spells, "2016-09-30", weeks=8)
    pd.testing.assert_frame_equal(effects(ones, "in_internship").table, effects(plain, "in_internship").table)
    pd.testing.assert_frame_equal(effects(ones.to_frame(), "in_internship").table,
                                  effects(plain.to_frame(), "in_internship").table)
    weighted = build_panel(ledger.assign(weight=np.r_[0.5, np.ones(len(ledger) - 1)]), spells, "2016-09-30",
                           weeks=8)
    for panel in (weighted, weighted.to_frame()):
        with pytest.raises(EstimationError, match="column 'weight' is not 1 .*weighted estimation is not "
                                                  "available yet"):
            effects(panel, "in_internship")
    with pytest.raises(EstimationError, match="weighted estimation is not available yet"):
        balance(ledger.assign(weight=2.0), ["age"], ri_draws=0)


@pytest.mark.parametrize("weights, rule, rows", [
    (["1", "x", "1", "1"], "must be a number", r"1 row \(row 2\)"),
    ([1.0, np.nan, 1.0, np.nan], "must be a number", r"2 rows \(rows 2, 4\)"),
    ([1.0, np.inf, 1.0, 1.0], "must be finite", r"1 row \(row 2\)"),
    ([1.0, 1.0, -0.5, -2.0], "must be ≥ 0", r"2 rows \(rows 3, 4\)"),
])
def test_bad_weights_name_column_rule_and_rows(tmp_path: Path, weights, rule, rows) -> None:
    ledger = _ledger(4).assign(weight=weights)
    with pytest.raises(InputDataError, match=f"ledger.csv: column 'weight' {rule} in {rows}"):
        read_ledger_table(_write(ledger, tmp_path / "ledger.csv"))
    with pytest.raises(InputDataError, match=f"column 'weight' {rule} in {rows}"):
        build_panel(ledger, _spells(ledger), "2016-09-30", weeks=4)


def _write(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


# --- config, draw ----------------------------------------------------------------------------------

@pytest.mark.parametrize("trial, message", [
    ('design = "lottery"', r"\[trial\] design must be one of 'randomised', 'selection', 'comparison'"),
    ('groups = ["a"]', r"\[trial\] groups must be two distinct"),
    ('groups = ["a", "a"]', r"\[trial\] groups must be two distinct"),
    ('groups = ["a", ""]', r"\[trial\] groups must be two distinct"),
    ('groups = ["a", "b"]\nreference = "a"', r"\[trial\] reference must be the last of \[trial\] groups"),
    ('groups = ["a", 2]', r"\[trial\] groups must be two distinct"),
])
def test_config_design_errors_name_the_key(tmp_path: Path, trial: str, message: str) -> None:
    path = tmp_path / "trial.toml"
    path.write_text(f"[trial]\nseed = 1\ntreatment_share = 0.5\n{trial}\n")
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_config_declares_the_design() -> None:
    cfg = TrialConfig.from_dict({"trial": {"seed": 1, "treatment_share": 0.25, "design": "comparison",
                                           "groups": ["indsats", "kontrol"]}})
    design = Design.from_config(cfg)
    assert (design.kind, design.labels, design.share) == ("comparison", ("indsats", "kontrol"), 0.25)
    default = Design.from_config(TrialConfig.from_dict({"trial": {"seed": 1, "treatment_share": 0.5}}))
    assert (default.kind, default.labels) == ("randomised", ("treatment", "control"))


def test_draw_writes_the_configs_labels_with_the_same_assignment(small_trial) -> None:
    pop = pd.read_csv(small_trial["population"])
    cfg = load_config(small_trial["config"])
    labelled = TrialConfig.from_dict({"trial": {"seed": 99, "treatment_share": 0.5,
                                                "groups": ["programme", "comparison"]},
                                      "eligibility": {"rules": [r.text for r in cfg.rules]},
                                      "strata": {"columns": list(cfg.strata_columns),
                                                 "bands": {k: list(v) for k, v in cfg.bands.items()}}})
    base = draw(pop, cfg, {"North": 10, "South": 5}, "2016-03-01")
    mine = draw(pop, labelled, {"North": 10, "South": 5}, "2016-03-01")
    assert_array_equal(mine.wave_rows["person_id"], base.wave_rows["person_id"])
    assert_array_equal(mine.wave_rows["arm"], base.wave_rows["arm"].map(RELABEL))
    assert mine.manifest_entry["counts"] == {RELABEL[k]: v for k, v in base.manifest_entry["counts"].items()}
    assert "programme" in mine.summary() and mine.counts().columns.tolist() == ["programme", "comparison"]
    # through files: a second wave appends with the same labels and verify replays them
    cfg_path = small_trial["dir"] / "labelled.toml"
    cfg_path.write_text(small_trial["config"].read_text().replace(
        "treatment_share = 0.5\n", 'treatment_share = 0.5\ngroups = ["programme", "comparison"]\n'))
    run_draw(small_trial["population"], cfg_path, small_trial["ledger"], ["North=4"], "2016-03-01")
    run_draw(small_trial["population"], cfg_path, small_trial["ledger"], ["South=3"], "2016-03-08")
    ledger = read_ledger(small_trial["ledger"], design=Design.from_config(load_config(cfg_path)))
    assert set(ledger["arm"]) == {"programme", "comparison"}
    result = runner.invoke(app, ["verify", "--population", str(small_trial["population"]), "--config",
                                 str(cfg_path), "--ledger", str(small_trial["ledger"])])
    assert result.exit_code == 0, result.output
    # the labels are part of the trial's design: changing them between waves is a design change
    with pytest.raises(DesignError, match=r"groups \[programme, comparison\] in waves 1–2, \[treatment, control\] now"):
        run_draw(small_trial["population"], small_trial["config"], small_trial["ledger"], ["North=2"], "2016-03-15")
    page = build_report(load_config(cfg_path), small_trial["dir"]).path.read_text(encoding="utf-8")
    assert "</b>programme</div>" in page and "</b>comparison</div>" in page and "<th>programme</th>" in page
    assert "Programme group" not in page


def test_a_design_that_is_not_randomised_cannot_be_drawn() -> None:
    pop = pd.DataFrame({"person_id": [f"p{i}" for i in range(10)], "municipality": "A"})
    cfg = TrialConfig.from_dict({"trial": {"seed": 1, "treatment_share": 0.5, "design": "comparison"}})
    with pytest.raises(DesignError, match="this is a comparison design"):
        draw(pop, cfg, {"A": 2}, "2016-03-01")


# --- refusal of randomisation inference -------------------------------------------------------------

def test_library_refuses_randomisation_inference_for_a_comparison_design() -> None:
    design = Design(kind="comparison", groups=("programme", "comparison"), reference="comparison")
    ledger = _relabelled(_ledger())
    frame = build_panel(ledger, _spells(ledger), "2016-09-30", weeks=6, design=design).to_frame()
    with pytest.raises(DesignError, match="this is a comparison design: its groups were not formed by lot"):
        effects(frame, "in_internship", ri=20, design=design)
    assert len(effects(frame, "in_internship", design=design).table) == 6      # without ri it estimates
    with pytest.raises(DesignError, match="this is a comparison design"):
        balance(ledger, ["age"], ri_draws=50, design=design)
    assert balance(ledger, ["age"], ri_draws=0, design=design).n_treatment == int((ledger["arm"] == "programme").sum())


def test_cli_refuses_ri_with_a_comparison_design(tmp_path: Path) -> None:
    ledger = _relabelled(_ledger())
    cfg = tmp_path / "trial.toml"
    cfg.write_text('[trial]\nseed = 1\ntreatment_share = 0.5\ndesign = "comparison"\n'
                   'groups = ["programme", "comparison"]\n[analysis]\nextraction_date = 2016-09-30\nweeks = 6\n')
    ledger_path, spells_path = _write(ledger, tmp_path / "ledger.csv"), _write(_spells(ledger), tmp_path / "spells.csv")
    panel = tmp_path / "panel.parquet"
    res = runner.invoke(app, ["panel", "--ledger", str(ledger_path), "--spells", str(spells_path), "--config",
                              str(cfg), "--out", str(panel)])
    assert res.exit_code == 0, res.output
    assert set(pq.read_table(panel).to_pandas()["arm"].astype(str)) == {"programme", "comparison"}
    res = runner.invoke(app, ["effects", "--panel", str(panel), "--config", str(cfg), "--outcomes", "in_internship",
                              "--ri", "20", "--out", str(tmp_path / "effects.csv")])
    assert res.exit_code == 1
    assert "this is a comparison design: its groups were not formed by lot" in res.output
    assert "Traceback" not in res.output and not (tmp_path / "effects.csv").exists()
    res = runner.invoke(app, ["effects", "--panel", str(panel), "--config", str(cfg), "--outcomes", "in_internship",
                              "--out", str(tmp_path / "effects.csv")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["balance", "--ledger", str(ledger_path), "--config", str(cfg), "--covariates", "age",
                              "--out", str(tmp_path / "balance.csv")])
    assert res.exit_code == 1 and "this is a comparison design" in res.output
