"""Disclosure control (trialeval.disclosure): one rule, the same blanked cells in every export."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pandas as pd
import pytest

from trialeval.balance import balance
from trialeval.config import load_config
from trialeval.demo import run_demo
from trialeval.disclosure import (
    neutralise_text,
    protect_counts,
    protect_distribution,
    protect_effect_table,
    share_disclosive,
    small_count,
    write_export,
)
from trialeval.effects import effects, hours_distribution
from trialeval.exceptions import InputDataError
from trialeval.io import read_table, write_table
from trialeval.report import build_report, exported_table, trial_summary, write_workbook

VALUES = ["mean_treatment", "mean_control", "effect", "se", "ci_low", "ci_high", "p_value"]


def small_panel() -> pd.DataFrame:
    """40 persons per arm, weeks 1-3.

    Week 1: 3 of 40 treated persons have ordinary hours (12 h), 20 of 40 controls.
    Week 2: 38 of 40 treated persons are in internship, 10 of 40 controls.
    Week 3: nothing small (20 / 15 with hours, 20 / 10 in internship).
    """
    ids = [f"P{i:03d}" for i in range(80)]
    arm = np.repeat(["treatment", "control"], 40)
    rows = []
    for week, hours_t, hours_c, intern_t, intern_c in ((1, 3, 20, 20, 10), (2, 20, 15, 38, 10),
                                                       (3, 20, 15, 20, 10)):
        k = np.arange(80) % 40
        treated = arm == "treatment"
        has = np.where(treated, k < hours_t, k < hours_c)
        intern = np.where(treated, k < intern_t, k < intern_c)
        rows.append(pd.DataFrame({"person_id": ids, "arm": arm, "week": week,
                                  "has_ordinary_hours": has.astype(np.int8),
                                  "ordinary_hours": np.where(has, 12.0 + k % 7, 0.0),
                                  "in_internship": intern.astype(np.int8)}))
    return pd.concat(rows, ignore_index=True)


def suppressed_cells(table: pd.DataFrame) -> set[tuple[str, int]]:
    return {(o, int(w)) for o, w in table.loc[table["mean_treatment"].isna(), ["outcome", "week"]].to_numpy()}


EXPECTED = {("has_ordinary_hours", 1), ("ordinary_hours", 1), ("in_internship", 2)}


# ------------------------------------------------------------------------------------------- the rule


def test_counts_of_one_to_four_are_disclosive_zero_and_five_are_not():
    assert small_count([0, 1, 4, 5, 40]).tolist() == [False, True, True, False, False]
    assert small_count([3], min_cell=3).tolist() == [False]
    # 3 of 40 have it, 38 of 40 have it (2 lack it), 20 of 40, nobody, everybody
    assert share_disclosive([40] * 5, [3 / 40, 38 / 40, 0.5, 0.0, 1.0]).tolist() == [True, True, False, False, False]


def test_effect_table_blanks_shares_on_few_persons_with_or_without_the_outcome():
    res = effects(small_panel(), ["has_ordinary_hours", "ordinary_hours", "in_internship"])
    raw, out = res.to_frame(), res.export_frame()
    assert not raw[VALUES].isna().any().any()                    # computing keeps every value
    assert suppressed_cells(out) == EXPECTED
    hidden = out["suppressed"].to_numpy()
    assert out.loc[hidden, VALUES].isna().all().all()             # effect and CI derive from the means
    # the persons in each arm are 40: the counts stay, only the values go
    assert (out[["n_treatment", "n_control"]] == 40).all().all()
    shown = ~hidden
    np.testing.assert_allclose(out.loc[shown, "effect"], raw.loc[shown, "effect"])


def test_mean_hours_of_a_few_workers_are_blanked_without_the_indicator_in_the_table():
    # only ordinary_hours asked for: the non-zero count comes from the panel itself
    out = effects(small_panel(), "ordinary_hours").export_frame()
    assert out["suppressed"].tolist() == [True, False, False]
    # and a panel where 4 of 40 work but hours are the only column
    p = small_panel().drop(columns=["has_ordinary_hours", "in_internship"])
    p.loc[(p.week == 3) & (p.arm == "control"), "ordinary_hours"] = np.where(
        np.arange(40) < 4, 30.0, 0.0)
    out = effects(p, "ordinary_hours").export_frame()
    assert out["suppressed"].tolist() == [True, False, True]


def test_min_cell_zero_exports_exact_values():
    res = effects(small_panel(), ["has_ordinary_hours", "in_internship"], min_cell=0)
    assert not res.export_frame()["suppressed"].any()
    assert not res.export_frame()[VALUES].isna().any().any()


def test_rule_reapplied_to_an_exported_table_changes_nothing():
    out = effects(small_panel(), ["has_ordinary_hours", "ordinary_hours", "in_internship"]).export_frame()
    again = protect_effect_table(out)
    pd.testing.assert_frame_equal(again, out)
    # and applied to the raw table read back from a CSV it blanks the same cells (hours via the indicator)
    raw = effects(small_panel(), ["has_ordinary_hours", "ordinary_hours", "in_internship"]).to_frame()
    assert suppressed_cells(protect_effect_table(raw)) == EXPECTED


# --------------------------------------------------------------------------- totals: second suppression


def test_distribution_bin_alone_hidden_gets_a_companion():
    t = pd.DataFrame({"arm": "treatment", "bin": ["a", "b", "c", "d"], "count": [3, 12, 20, 5], "n": 40,
                      "share": np.array([3, 12, 20, 5]) / 40})
    out = protect_distribution(t, ["arm"], "count", "n", ["share"])
    # 3 is small; the 40 persons are published, so the smallest other bin (5) goes too
    assert out["count"].isna().tolist() == [True, False, False, True]
    assert out["share"].isna().tolist() == [True, False, False, True]
    # persons in no bin (zero hours) count as a hidden cell when 1-4: one bin goes with them
    t2 = t.assign(count=[10, 12, 15, 1], share=np.array([10, 12, 15, 1]) / 40)   # rest = 2
    assert protect_distribution(t2, ["arm"], "count", "n", ["share"])["count"].isna().sum() == 1


def test_hours_distribution_export_never_leaves_one_hidden_cell_per_arm():
    p = small_panel()
    p["ordinary_hours"] = np.where(p["ordinary_hours"] > 0, 8.0 + (np.arange(len(p)) % 5) * 7, 0.0)
    h = hours_distribution(p, week=3)
    raw, out = h.to_frame(), h.export_frame()
    for arm in ("treatment", "control"):
        r, o = raw[raw.arm == arm], out[out.arm == arm]
        rest = r["n_observed"].iloc[0] - r["count"].sum()
        hidden = int(o["count"].isna().sum()) + int(0 < rest < 5)
        assert hidden != 1
    assert "·" in h.summary() and "·" in h._repr_html_()


def test_municipality_counts_hidden_with_a_companion_so_totals_reveal_nothing():
    ledger = pd.DataFrame({"person_id": [f"p{i}" for i in range(60)],
                           "arm": ["treatment", "control"] * 30,
                           "municipality": ["Bigtown"] * 36 + ["Midtown"] * 20 + ["Smallville"] * 4,
                           "excluded": [True] * 3 + [False] * 57, "exclusion_reason": ["health"] * 3 + [""] * 57})
    s = trial_summary(ledger)
    per = s["per_municipality"].set_index("municipality")
    assert per.loc["Smallville", ["treatment", "control"]].isna().all()          # 2 and 2
    assert per.loc["Midtown", ["treatment", "control"]].isna().all()             # the companions (10, 10)
    assert per.loc["Bigtown", "treatment"] == 18
    for col in ("treatment", "control"):                                          # never one hidden cell alone
        assert per[col].isna().sum() != 1
    assert s["exclusions"]["persons"].isna().all()
    assert protect_counts(pd.DataFrame({"n": [0, 7, 9]}), ["n"])["n"].tolist() == [0, 7, 9]


def test_balance_level_alone_hidden_gets_a_companion():
    rng = np.random.default_rng(3)
    arm = np.repeat(["treatment", "control"], 50)
    edu = np.array(["basic"] * 20 + ["vocational"] * 27 + ["phd"] * 3
                   + ["basic"] * 22 + ["vocational"] * 20 + ["phd"] * 8)
    df = pd.DataFrame({"person_id": [f"p{i}" for i in range(100)], "arm": arm, "education": edu,
                       "age": rng.normal(40, 5, 100)})
    t = balance(df, ["education"], ri_draws=0).to_frame().set_index("level")
    assert t.loc["phd", "flag"] == "suppressed"                  # 3 treated persons
    assert t.loc["basic", "flag"] == "suppressed"                # its companion: shares add up to 100 %
    assert not np.isnan(t.loc["vocational", "mean_treatment"])
    # the default suppresses; min_cell=0 is the exact table
    assert balance(df, ["education"], ri_draws=0, min_cell=0).to_frame()["mean_treatment"].notna().all()


def test_balance_missing_counts_and_omnibus_dropped_hide_together():
    df = pd.DataFrame({"person_id": [f"p{i}" for i in range(60)], "arm": ["treatment", "control"] * 30,
                       "age": np.arange(60, dtype=float) % 17 + 30})
    df.loc[[0, 2], "age"] = np.nan                               # 2 treated persons missing
    r = balance(df, ["age"], ri_draws=0)
    row = r.to_frame().iloc[0]
    assert row["n_missing_treatment"] is pd.NA and row["n_missing_control"] is pd.NA
    om = r.omnibus().iloc[0]
    assert np.isnan(om["n_dropped"]) and np.isnan(om["n_used"]) and "fewer than 5 rows" in om["note"]
    assert "2 row" not in om["note"] and "n = ·" in r.summary()


# ----------------------------------------------------------------------------- person-identifying columns


@pytest.mark.parametrize("option", ["blocks", "covariates", "cluster"])
def test_person_unique_column_is_refused_in_effects(option):
    p = small_panel()
    p["pnr"] = "X" + p["person_id"]
    with pytest.raises(InputDataError, match=rf"--{option}.*'pnr' is unique per person and would disclose"):
        effects(p, "in_internship", **{option: "pnr"})
    with pytest.raises(InputDataError, match=rf"--{option}.*'person_id' is the person id"):
        effects(p, "in_internship", **{option: "person_id"})


def test_person_unique_covariate_is_refused_in_balance_but_grouping_columns_are_fine():
    df = pd.DataFrame({"person_id": [f"p{i}" for i in range(40)], "arm": ["treatment", "control"] * 20,
                       "cpr": [f"{i:010d}" for i in range(40)], "municipality": ["A", "B"] * 20,
                       "income": np.linspace(1000.5, 9000.25, 40)})
    with pytest.raises(InputDataError, match=r"--covariates.*'cpr' is unique per person"):
        balance(df, ["municipality", "cpr"], ri_draws=0)
    with pytest.raises(InputDataError, match=r"--covariates.*'person_id' is the person id"):
        balance(df, ["person_id"], ri_draws=0)
    # a numeric id treated as categories would give a row per person
    df["number"] = np.arange(40) * 7
    with pytest.raises(InputDataError, match=r"'number' is unique per person"):
        balance(df, ["number"], categorical=["number"], ri_draws=0)
    # numeric covariates are measurements: only their means are shown (whole-kroner incomes differ)
    balance(df, ["municipality", "income", "number"], ri_draws=0)


# --------------------------------------------------------------------------------------- formula injection


def test_text_cells_are_neutralised_in_csv_and_xlsx_exports_but_not_in_working_files(tmp_path):
    t = pd.DataFrame({"outcome": ["=HYPERLINK(\"x\")", "+1", "-2", "@SUM(A1)", "hours"],
                      "effect": [-1.5, 2.0, -3.0, 4.0, 5.0]})
    write_export(t, tmp_path / "t.csv")
    back = pd.read_csv(tmp_path / "t.csv")
    assert back["outcome"].tolist() == ["'=HYPERLINK(\"x\")", "'+1", "'-2", "'@SUM(A1)", "hours"]
    assert back["effect"].tolist() == [-1.5, 2.0, -3.0, 4.0, 5.0]              # numbers untouched
    write_export(t, tmp_path / "t.xlsx")
    x = pd.read_excel(tmp_path / "t.xlsx")
    assert x["outcome"].tolist()[:4] == ["'=HYPERLINK(\"x\")", "'+1", "'-2", "'@SUM(A1)"]
    assert x["effect"].tolist() == [-1.5, 2.0, -3.0, 4.0, 5.0]
    # a working file keeps its values
    write_table(t, tmp_path / "ledger_like.csv")
    assert pd.read_csv(tmp_path / "ledger_like.csv")["outcome"].tolist()[0] == "=HYPERLINK(\"x\")"
    assert neutralise_text(neutralise_text(t)).equals(neutralise_text(t))      # idempotent


def test_balance_writes_neutralised_level_labels(tmp_path):
    df = pd.DataFrame({"person_id": [f"p{i}" for i in range(60)], "arm": ["treatment", "control"] * 30,
                       "group": ["=cmd|' /C calc'!A0", "plain"] * 15 + ["plain", "=cmd|' /C calc'!A0"] * 15})
    balance(df, ["group"], ri_draws=0).write(tmp_path / "balance.csv")
    levels = pd.read_csv(tmp_path / "balance.csv")["level"].tolist()
    assert levels == ["'=cmd|' /C calc'!A0", "plain"]


# --------------------------------------------------------------------- the same cells in every export


def test_small_cells_are_the_same_in_csv_xlsx_summary_and_notebook(tmp_path):
    res = effects(small_panel(), ["has_ordinary_hours", "ordinary_hours", "in_internship"])
    write_export(res.export_frame(), tmp_path / "effects.csv")
    csv = pd.read_csv(tmp_path / "effects.csv")
    assert suppressed_cells(csv) == EXPECTED
    book = pd.read_excel(write_workbook(tmp_path), sheet_name="effects")
    assert suppressed_cells(book) == EXPECTED
    text = res.summary()
    assert text.count("· (suppressed") == 3
    raw = res.to_frame().set_index(["outcome", "week"])
    html = res._repr_html_()
    for outcome, week in EXPECTED:
        value = f"{raw.loc[(outcome, week), 'mean_treatment']}"
        assert value not in html and value not in text
    # the raw value of a shown cell is there
    assert f"{raw.loc[('in_internship', 3), 'mean_treatment']}" in html


@pytest.fixture(scope="module")
def demo_run(small_trial_data, tmp_path_factory) -> dict:
    """The small trial, with ordinary hours for 3 of the 28 treated persons and 10 controls in weeks 6-10."""
    data = tmp_path_factory.mktemp("disclosure_data")
    for path in small_trial_data.iterdir():
        shutil.copyfile(path, data / path.name)
    ledger = pd.read_csv(data / "ledger.csv", dtype={"person_id": str}, parse_dates=["visitation_date"])
    spells = pd.read_csv(data / "spells.csv", dtype={"person_id": str})
    workers = pd.concat([ledger[ledger.arm == "treatment"].tail(3), ledger[ledger.arm == "control"].tail(10)])
    v = workers["visitation_date"]
    hours = pd.DataFrame({"person_id": workers["person_id"], "spell_type": "ordinary_hours",
                          "start_date": (v + pd.Timedelta(days=35)).dt.strftime("%Y-%m-%d"),
                          "end_date": (v + pd.Timedelta(days=69)).dt.strftime("%Y-%m-%d"), "hours_per_week": 20.0})
    spells = pd.concat([spells[spells.spell_type != "ordinary_hours"], hours], ignore_index=True)
    spells.to_csv(data / "spells.csv", index=False)
    out = tmp_path_factory.mktemp("disclosure_demo")
    result = run_demo(out, data, min_cell=5)
    return {"out": out, "result": result}


def test_demo_blanks_the_same_cells_in_csv_workbook_report_and_summary(demo_run):
    out = demo_run["out"]
    raw = effects(read_table(out / "panel.parquet"), None, min_cell=0).to_frame()
    csv = pd.read_csv(out / "effects.csv")
    merged = raw.merge(csv, on=["outcome", "week"], suffixes=("_raw", ""))
    by_share = merged["suppressed"] & (merged["n_treatment_raw"] >= 5) & (merged["n_control_raw"] >= 5)
    assert by_share.any(), "the small trial must have a share of 1-4 persons in an arm of 5 or more"
    hidden = set(map(tuple, merged.loc[merged["suppressed"], ["outcome", "week"]].to_numpy()))
    book = pd.read_excel(out / "tables.xlsx", sheet_name="effects")
    assert set(map(tuple, book.loc[book["suppressed"], ["outcome", "week"]].to_numpy())) == hidden
    assert book.loc[book["suppressed"], "mean_treatment"].isna().all()
    # the report at the weeks of a blanked share shows "·" where the CSV is blank
    outcome, week = merged.loc[by_share, ["outcome", "week"]].iloc[0]
    cfg = load_config(out / "trial.toml")
    page = build_report(cfg, out, weeks=(int(week),), path=out / "check.html").path.read_text()
    from trialeval.i18n import outcome as outcome_label  # the report's effects table shows the outcome's label
    row = re.search(rf"<tr><td>{re.escape(outcome_label(outcome))}</td><td>{int(week)}</td>(.*?)</tr>", page).group(1)
    cells = re.findall(r"<td>(.*?)</td>", row)
    assert cells[:4] == ["·"] * 4                                  # means, difference, ci (n shown)
    (out / "check.html").unlink()
    # hours distribution: the report's table is the CSV's
    hours_csv = pd.read_csv(out / "effects_hours.csv")
    pd.testing.assert_frame_equal(exported_table(out, "effects_hours"), hours_csv)
    # the console summary of the effects step prints the same weeks blanked
    text = demo_run["result"].steps["effects"]
    block = text[text.index(f"{outcome}: weeks"):].split("\n")
    for line in block[1:]:
        if not line.startswith("  week"):
            break
        w = int(line.split(":")[0].split()[-1])
        assert ("· (suppressed" in line) == ((outcome, w) in hidden)


def test_demo_municipality_table_hides_smallville_and_a_companion(demo_run):
    page = (demo_run["out"] / "report.html").read_text()
    table = page[page.index("Persons drawn per municipality"):]
    table = table[:table.index("</table>")]
    cells = {m: re.search(rf"<td>{m}</td><td>(.*?)</td><td>(.*?)</td>", table).groups()
             for m in ("Bigtown", "Smallville")}
    # Smallville drew 4 persons: each arm's count is blanked unless it is 0, and Bigtown's count of that
    # arm goes with it, else the arm's total in the report minus Bigtown would give Smallville's
    assert set(cells["Smallville"]) <= {"·", "0"} and "·" in cells["Smallville"]
    for small, big in zip(cells["Smallville"], cells["Bigtown"]):
        assert (small == "·") == (big == "·")


def built_panel():
    """A panel built from spells: 3 of 40 treated persons and 20 of 40 controls work in weeks 1-2."""
    from trialeval.panel import build_panel

    ids = [f"P{i:03d}" for i in range(80)]
    ledger = pd.DataFrame({"person_id": ids, "arm": np.repeat(["treatment", "control"], 40),
                           "visitation_date": "2016-03-01"})
    workers = ids[:3] + ids[40:60]
    spells = pd.DataFrame({"person_id": workers, "spell_type": "ordinary_hours", "start_date": "2016-03-01",
                           "end_date": "2016-03-14", "hours_per_week": 20.0})
    # only 23 of the 80 persons have a spell: that is the point here, not an id mismatch
    return build_panel(ledger, spells, "2016-03-28", weeks=4, min_matched_share=0)


def test_panel_result_path_blanks_hours_of_three_workers_without_the_long_table():
    result = built_panel()
    out = effects(result, ["ordinary_hours"]).export_frame()          # from the panel's weekly sums
    assert out["suppressed"].tolist() == [True, True, False, False]
    assert out.loc[:1, "mean_treatment"].isna().all() and out.loc[2:, "mean_treatment"].eq(0).all()
    long = effects(result.to_frame(), ["ordinary_hours"]).export_frame()
    assert long["suppressed"].tolist() == out["suppressed"].tolist()


def test_panel_notebook_display_blanks_small_numbers_at_risk():
    from trialeval.panel import build_panel

    ledger = pd.DataFrame({"person_id": [f"p{i}" for i in range(12)], "arm": ["treatment"] * 6 + ["control"] * 6,
                           "visitation_date": ["2016-03-01"] * 8 + ["2016-03-21"] * 4})
    result = build_panel(ledger, pd.DataFrame({"person_id": ["p0"], "spell_type": "internship",
                                               "start_date": "2016-03-01", "end_date": "2016-03-07"}),
                         "2016-03-28", weeks=4, min_matched_share=0)
    at_risk = result.at_risk()
    small = at_risk.loc[at_risk["n_at_risk"].between(1, 4), "n_at_risk"]
    assert len(small), "some arm-week must have 1-4 persons"
    html = result._repr_html_()
    table = html[html.index("<table"):]
    assert "·" in table
    for v in set(small):
        assert f"<td>{v}</td>" not in table


def test_panel_console_summary_shows_small_person_counts_as_below_five():
    from trialeval.panel import build_panel

    ids = [f"P{i:03d}" for i in range(80)]
    ledger = pd.DataFrame({"person_id": ids, "arm": np.repeat(["treatment", "control"], 40),
                           "visitation_date": "2016-03-01", "excluded": [True] * 3 + [False] * 77,
                           "exclusion_reason": ["prison"] * 3 + [""] * 77})
    spells = pd.DataFrame({"person_id": ids[:10], "spell_type": "internship", "start_date": "2016-03-01",
                           "end_date": "2016-03-14"})
    text = build_panel(ledger, spells, "2016-03-28", weeks=4, min_matched_share=0).summary()
    assert "<5 excluded kept" in text and "3 excluded" not in text
    assert "80 (40 treatment, 40 control;" in text
