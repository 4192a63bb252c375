"""DREAM and eIndkomst files turned into spells: hand-computed cases, rules, batches and the panel."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from trialeval import registers
from trialeval.exceptions import ConfigError, InputDataError
from trialeval.panel import build_panel
from trialeval.registers import DreamCodes, convert_dream, convert_eindkomst

MAP = {"codes": {"benefit": ["111-113"], "internship": ["651"], "wage_subsidy": ["071"]}}
CODES = DreamCodes.from_dict(MAP)
TYPES_ONLY = DreamCodes.from_dict(MAP | {"any_code_is_benefit": False})
D = dt.date


def _spells(path) -> list[tuple]:
    t = pq.read_table(path).to_pandas()
    return [tuple(r) for r in t[["person_id", "spell_type", "start_date", "end_date"]].itertuples(index=False)]


def test_dream_runs_of_iso_weeks_become_spells_from_monday_to_sunday(tmp_path):
    # 2015 has an ISO week 53; week 3 of 2016 is missing from the file, which breaks a run
    dream = pd.DataFrame({"person_id": ["A", "B", "C"],
                          "y_2015_52": ["111", "", ""], "y_2015_53": ["112", "651", ""],
                          "y_2016_01": ["651", "", ""], "y_2016_02": ["651", "651", "071"],
                          "y_2016_04": ["", "651", "071"]})
    dream.to_csv(tmp_path / "dream.csv", index=False)
    result = convert_dream(tmp_path / "dream.csv", TYPES_ONLY, tmp_path / "spells.parquet")
    assert _spells(tmp_path / "spells.parquet") == [
        ("A", "benefit", D(2015, 12, 21), D(2016, 1, 3)),
        ("A", "internship", D(2016, 1, 4), D(2016, 1, 17)),
        ("B", "internship", D(2015, 12, 28), D(2016, 1, 3)),
        ("B", "internship", D(2016, 1, 11), D(2016, 1, 24 - 7)),
        ("B", "internship", D(2016, 1, 25), D(2016, 1, 31)),
        ("C", "wage_subsidy", D(2016, 1, 11), D(2016, 1, 17)),
        ("C", "wage_subsidy", D(2016, 1, 25), D(2016, 1, 31)),
    ]
    assert (result.n_rows, result.n_spells) == (3, 7)
    assert result.counts == {"benefit": 1, "internship": 4, "wage_subsidy": 2}
    # by default a week with any code is a week on public support: benefit runs over every coded week
    result = convert_dream(tmp_path / "dream.csv", CODES, tmp_path / "spells.parquet")
    assert _spells(tmp_path / "spells.parquet") == [
        ("A", "benefit", D(2015, 12, 21), D(2016, 1, 17)),
        ("A", "internship", D(2016, 1, 4), D(2016, 1, 17)),
        ("B", "benefit", D(2015, 12, 28), D(2016, 1, 3)),
        ("B", "internship", D(2015, 12, 28), D(2016, 1, 3)),
        ("B", "benefit", D(2016, 1, 11), D(2016, 1, 17)),
        ("B", "internship", D(2016, 1, 11), D(2016, 1, 17)),
        ("B", "benefit", D(2016, 1, 25), D(2016, 1, 31)),
        ("B", "internship", D(2016, 1, 25), D(2016, 1, 31)),
        ("C", "benefit", D(2016, 1, 11), D(2016, 1, 17)),
        ("C", "wage_subsidy", D(2016, 1, 11), D(2016, 1, 17)),
        ("C", "benefit", D(2016, 1, 25), D(2016, 1, 31)),
        ("C", "wage_subsidy", D(2016, 1, 25), D(2016, 1, 31)),
    ]
    assert result.counts == {"benefit": 6, "internship": 4, "wage_subsidy": 2}


def test_dream_week_columns_follow_the_declared_pattern_and_skip_weeks_that_do_not_exist():
    assert registers.dream_week_columns(["uge201553", "uge201653", "uge201601", "pnr"], "uge{year}{week:02d}") == {
        "uge201553": D(2015, 12, 28), "uge201601": D(2016, 1, 4)}


def test_unmapped_codes_are_listed_with_counts_and_nothing_is_written(tmp_path):
    pd.DataFrame({"person_id": ["A", "B"], "y_2016_01": ["999", "999"], "y_2016_02": ["111", "850"]}
                 ).to_csv(tmp_path / "d.csv", index=False)
    with pytest.raises(InputDataError, match=r"codes not in the code map: '999' \(2 person-weeks\), '850' \(1"):
        convert_dream(tmp_path / "d.csv", CODES, tmp_path / "s.parquet")
    assert not (tmp_path / "s.parquet").exists()
    ignoring = DreamCodes.from_dict({"codes": {"benefit": ["111"]}, "unmapped": "ignore",
                                     "any_code_is_benefit": False})
    convert_dream(tmp_path / "d.csv", ignoring, tmp_path / "s.parquet")
    assert _spells(tmp_path / "s.parquet") == [("A", "benefit", D(2016, 1, 11), D(2016, 1, 17))]


def test_code_maps_are_checked():
    with pytest.raises(ConfigError, match="code 112 is given to more than one spell type"):
        DreamCodes.from_dict({"codes": {"benefit": ["100-120"], "internship": ["112-130"]}})
    with pytest.raises(ConfigError, match="ends before it starts"):
        DreamCodes.from_dict({"codes": {"benefit": ["120-100"]}})
    with pytest.raises(ConfigError, match="unknown key 'week'"):
        DreamCodes.from_dict({"codes": {"benefit": ["1"]}, "week": 1})
    with pytest.raises(ConfigError, match="week_columns must be a pattern"):
        DreamCodes.from_dict({"codes": {"benefit": ["1"]}, "week_columns": "w_{year}"})


def test_eindkomst_month_hours_are_spread_so_the_panel_gives_them_back(tmp_path):
    # February 2016 has 29 days: 100 hours are 700/29 a week; March 62 hours are 14 a week (2 a day)
    pd.DataFrame({"person_id": ["A", "A", "B"], "month": ["2016-02", "2016-03", "2016-02"],
                  "hours": [100.0, 62.0, 0.0]}).to_csv(tmp_path / "e.csv", index=False)
    result = convert_eindkomst(tmp_path / "e.csv", tmp_path / "s.parquet")
    spells = pq.read_table(tmp_path / "s.parquet").to_pandas()
    assert _spells(tmp_path / "s.parquet") == [("A", "ordinary_hours", D(2016, 2, 1), D(2016, 2, 29)),
                                               ("A", "ordinary_hours", D(2016, 3, 1), D(2016, 3, 31))]
    np.testing.assert_allclose(spells["hours_per_week"], [700 / 29, 14.0], rtol=0, atol=1e-12)
    assert (result.n_rows, result.n_spells) == (3, 2)       # a month of 0 hours is no spell
    ledger = pd.DataFrame({"person_id": ["A", "B"], "arm": ["treatment", "control"],
                           "visitation_date": ["2016-02-01", "2016-02-01"]})
    panel = build_panel(ledger, tmp_path / "s.parquet", "2016-03-31", weeks=8).to_frame()
    hours = panel.loc[panel["person_id"] == "A"].set_index("week")["ordinary_hours"]
    # weeks 1-4 are Feb 1-28; week 5 is Feb 29 and Mar 1-6; weeks 6-8 are Mar 7-27
    np.testing.assert_allclose(hours.loc[[1, 2, 3, 4, 5, 6, 7, 8]],
                               [700 / 29] * 4 + [100 / 29 + 12] + [14.0] * 3, rtol=0, atol=1e-12)
    assert hours.loc[1:4].sum() + 100 / 29 == pytest.approx(100, abs=1e-12)


def test_eindkomst_bad_rows_are_named_and_nothing_is_written(tmp_path):
    e = tmp_path / "e.csv"
    pd.DataFrame({"person_id": ["A", "B", "C"], "month": ["2016-02", "2016-13", "201603"],
                  "hours": [1.0, 2.0, 3.0]}).to_csv(e, index=False)
    with pytest.raises(InputDataError, match=r"column 'month' must be a month YYYY-MM .* 2 rows \(rows 2, 3\)"):
        convert_eindkomst(e, tmp_path / "s.parquet")
    pd.DataFrame({"person_id": ["A", "B", "C"], "month": ["2016-02"] * 3, "hours": [1.0, -2.0, 697.0]}).to_csv(e, index=False)
    with pytest.raises(InputDataError, match=r"column 'hours' must be given, a number and not negative in 1 row \(row 2\)"):
        convert_eindkomst(e, tmp_path / "s.parquet")
    pd.DataFrame({"person_id": ["A", "C"], "month": ["2016-02"] * 2, "hours": [696.0, 697.0]}).to_csv(e, index=False)
    with pytest.raises(InputDataError, match=r"more than a month can hold .* in 1 row \(row 2\)"):
        convert_eindkomst(e, tmp_path / "s.parquet")
    assert not (tmp_path / "s.parquet").exists()


def test_rows_are_counted_across_batches(tmp_path, monkeypatch):
    monkeypatch.setattr(registers, "BATCH_ROWS", 4)
    n = 10
    frame = pd.DataFrame({"person_id": [f"P{i}" for i in range(n)], "month": ["2016-01"] * n, "hours": [5.0] * n})
    frame.loc[8, "month"] = "Jan 2016"
    frame.to_parquet(tmp_path / "e.parquet")
    with pytest.raises(InputDataError, match=r"1 row \(row 9\)"):
        convert_eindkomst(tmp_path / "e.parquet", tmp_path / "s.parquet")
    frame.loc[8, "month"] = "2016-01"
    frame.to_parquet(tmp_path / "e.parquet")
    assert convert_eindkomst(tmp_path / "e.parquet", tmp_path / "s.parquet").n_spells == n
    assert pq.ParquetFile(tmp_path / "s.parquet").metadata.num_row_groups == 3   # written as it was read


def test_week_aligned_spells_and_their_dream_extract_give_the_same_panel(tmp_path):
    rng = np.random.default_rng(3)
    mondays = pd.date_range("2016-01-04", periods=40, freq="7D")
    persons = [f"P{i:03d}" for i in range(60)]
    ledger = pd.DataFrame({"person_id": persons, "arm": np.where(np.arange(60) % 2, "treatment", "control"),
                           "visitation_date": mondays[rng.integers(0, 10, 60)].strftime("%Y-%m-%d")})
    status = np.zeros((60, 40), dtype=int)               # 0 none, 1 benefit, 2 internship, 3 wage subsidy
    for i in range(60):
        for _ in range(3):
            a = rng.integers(0, 38)
            status[i, a:a + rng.integers(1, 6)] = rng.integers(1, 4)
    labels = np.array(["", "111", "651", "071"])
    wide = pd.DataFrame(labels[status], columns=[f"y_{d.isocalendar()[0]}_{d.isocalendar()[1]:02d}" for d in mondays])
    wide.insert(0, "person_id", persons)
    wide.to_parquet(tmp_path / "dream.parquet")
    convert_dream(tmp_path / "dream.parquet", CODES, tmp_path / "from_dream.parquet")
    # the same weeks as day-exact spells, one spell per week; every coded week is on public support
    i, k = np.nonzero(status)
    j, m = np.nonzero(status > 1)
    names = np.array(["", "benefit", "internship", "wage_subsidy"])
    exact = pd.DataFrame({"person_id": np.array(persons)[np.r_[i, j]],
                          "spell_type": np.r_[names[status[i, k]], ["benefit"] * len(j)],
                          "start_date": mondays[np.r_[k, m]].strftime("%Y-%m-%d"),
                          "end_date": (mondays[np.r_[k, m]] + pd.Timedelta(days=6)).strftime("%Y-%m-%d")})
    a = build_panel(ledger, tmp_path / "from_dream.parquet", "2016-10-09", weeks=26).to_frame()
    b = build_panel(ledger, exact, "2016-10-09", weeks=26).to_frame()
    pd.testing.assert_frame_equal(a, b)
    assert a["in_internship"].sum() > 50 and a["self_supporting"].notna().all()


SAMPLE_OUTCOMES = ["in_internship", "in_wage_subsidy", "company_directed", "self_supporting", "reached_13_weeks",
                   "has_ordinary_hours", "ordinary_hours"]


def test_the_sample_trial_as_registers_gives_the_spells_curves_up_to_the_registers_grain(sample_dir, tmp_path):
    """The sample's DREAM extract and eIndkomst hours hold its spells at the registers' grain (ISO weeks,
    months). eIndkomst keeps every month's hours exactly; the weekly curves move only by that grain."""
    from trialeval.effects import effects
    from trialeval.pipeline import convert

    convert("dream", sample_dir / "dream.csv", tmp_path / "dream.parquet", codes=sample_dir / "dream_codes.toml")
    convert("eindkomst", sample_dir / "eindkomst.csv", tmp_path / "eindkomst.parquet")
    spells = pd.read_csv(sample_dir / "spells.csv", dtype={"person_id": str})
    hours = spells.loc[spells["spell_type"] == "ordinary_hours"]
    # month hours of the day-exact spells, computed day by day
    days = hours.loc[hours.index.repeat((pd.to_datetime(hours["end_date"]) - pd.to_datetime(hours["start_date"])).dt.days + 1)]
    day = pd.to_datetime(days["start_date"]) + pd.to_timedelta(days.groupby(level=0).cumcount(), unit="D")
    exact = (days["hours_per_week"] / 7).groupby([days["person_id"], day.dt.strftime("%Y-%m")]).sum()
    back = pq.read_table(tmp_path / "eindkomst.parquet").to_pandas()
    n_days = (pd.to_datetime(back["end_date"]) - pd.to_datetime(back["start_date"])).dt.days + 1
    month_hours = (back["hours_per_week"] * n_days / 7).groupby(
        [back["person_id"], pd.to_datetime(back["start_date"]).dt.strftime("%Y-%m")]).sum()
    pd.testing.assert_series_equal(month_hours.sort_index(), exact.sort_index(), check_names=False, rtol=0, atol=1e-9)

    registers_spells = pd.concat([pq.read_table(tmp_path / f).to_pandas() for f in ("dream.parquet", "eindkomst.parquet")])
    for col in ("start_date", "end_date"):
        registers_spells[col] = pd.to_datetime(registers_spells[col]).dt.strftime("%Y-%m-%d")
    a = effects(build_panel(sample_dir / "ledger.csv", spells, "2016-12-31", weeks=26).to_frame(), SAMPLE_OUTCOMES)
    b = effects(build_panel(sample_dir / "ledger.csv", registers_spells, "2016-12-31", weeks=26).to_frame(),
                SAMPLE_OUTCOMES)
    gap = (a.table.set_index(["outcome", "week"])["effect"] - b.table.set_index(["outcome", "week"])["effect"]).abs()
    worst = gap.groupby("outcome").max()
    # measured: internship .013, wage subsidy .015, company-directed .014, self-supporting .011,
    # 13 weeks .011, any hours .037 (a month's hours spread over all its weeks), hours .18 hours a week
    assert (worst[SAMPLE_OUTCOMES[:5]] < 0.02).all(), worst
    assert worst["has_ordinary_hours"] < 0.04 and worst["ordinary_hours"] < 0.2, worst
    average = gap.groupby("outcome").mean()          # measured: shares .003–.018, hours .067
    assert (average.drop("ordinary_hours") < 0.02).all() and average["ordinary_hours"] < 0.1, average
