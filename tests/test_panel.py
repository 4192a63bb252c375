"""The weekly panel (SPEC §5): hand-computed cases for every rule, a day-by-day reference, bad input."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import trialeval.panel as panel_module
from trialeval import InputDataError, build_panel, read_spells, write_panel
from trialeval.panel import side_paths
from trialeval.panel.idtext import _in_id_order

V = dt.date(2016, 3, 1)  # a Tuesday; week k covers V + 7(k-1) .. V + 7k - 1


def day(week: int, weekday: int = 0) -> str:
    """ISO date of day ``weekday`` (0..6) of week ``week`` since visitation V."""
    return (V + dt.timedelta(days=7 * (week - 1) + weekday)).isoformat()


def last_day(week: int) -> str:
    return day(week, 6)


def ledger_of(*ids: str, arm: str = "treatment", visitation: str = V.isoformat(), **extra) -> pd.DataFrame:
    return pd.DataFrame({"person_id": list(ids), "arm": arm, "visitation_date": visitation, **extra})


def spells_of(rows: list[tuple]) -> pd.DataFrame:
    """Rows ``(person, type, start, end[, hours[, workplace]])``."""
    cols = ["person_id", "spell_type", "start_date", "end_date", "hours_per_week", "workplace_id"]
    full = [tuple(r) + (None,) * (6 - len(r)) for r in rows]
    df = pd.DataFrame(full, columns=cols)
    df["hours_per_week"] = pd.to_numeric(df["hours_per_week"])
    if df["workplace_id"].isna().all():
        df = df.drop(columns="workplace_id")
    return df


def active_weeks(person: str, weeks: list[int], kind: str = "internship", workplace: str | None = None) -> list:
    """One spell per run of consecutive active weeks, covering whole weeks."""
    rows, run = [], []
    for w in sorted(weeks) + [None]:
        if run and (w is None or w != run[-1] + 1):
            rows.append((person, kind, day(run[0]), last_day(run[-1]), None, workplace))
            run = []
        if w is not None:
            run.append(w)
    return rows


def column(res, name: str, person: str = "a") -> list:
    f = res.to_frame()
    return f.loc[f["person_id"] == person, name].tolist()


# ---------------------------------------------------------------------------------------------------
# Weeks, observation, overlap
# ---------------------------------------------------------------------------------------------------

def test_partial_first_and_last_weeks_hours_pro_rata():
    # 21 h/week from day 5 of week 1 (3 days) to day 2 of week 3 (3 days): 9, 21, 9.
    spells = spells_of([("a", "ordinary_hours", day(1, 4), day(3, 2), 21.0)])
    res = build_panel(ledger_of("a"), spells, last_day(5), weeks=5)
    np.testing.assert_allclose(column(res, "ordinary_hours"), [9.0, 21.0, 9.0, 0.0, 0.0])
    assert column(res, "has_ordinary_hours") == [1, 1, 1, 0, 0]
    assert column(res, "company_directed") == [1, 1, 1, 0, 0]
    assert column(res, "week") == [1, 2, 3, 4, 5]


def test_one_day_overlap_covers_a_week_and_min_days_raises_it():
    # Internship on the last day of week 1 and the first two days of week 2.
    spells = spells_of([("a", "internship", day(1, 6), day(2, 1))])
    assert column(build_panel(ledger_of("a"), spells, last_day(3), weeks=3), "in_internship") == [1, 1, 0]
    assert column(build_panel(ledger_of("a"), spells, last_day(3), weeks=3, min_days=2),
                  "in_internship") == [0, 1, 0]
    assert column(build_panel(ledger_of("a"), spells, last_day(3), weeks=3, min_days=3),
                  "in_internship") == [0, 0, 0]


def test_spell_crossing_extraction_date_and_unobserved_weeks_absent():
    # Extraction on day 3 of week 4: weeks 1-3 observed, week 4 onwards absent (not zero).
    spells = spells_of([("a", "wage_subsidy", day(2), "2017-06-30")])
    res = build_panel(ledger_of("a"), spells, day(4, 3), weeks=10)
    assert column(res, "week") == [1, 2, 3]
    assert column(res, "in_wage_subsidy") == [0, 1, 1]
    # Extraction on the last day of week 4: week 4 is observed.
    assert column(build_panel(ledger_of("a"), spells, last_day(4), weeks=10), "week") == [1, 2, 3, 4]


def test_followup_end_mid_week_censors_that_week():
    ledger = ledger_of("a", "b", followup_end=[day(3, 5), last_day(3)])
    spells = spells_of([("a", "internship", day(1), day(6)), ("b", "internship", day(1), day(6))])
    res = build_panel(ledger, spells, last_day(8), weeks=8)
    assert column(res, "week", "a") == [1, 2]          # week 3 ends after followup_end
    assert column(res, "week", "b") == [1, 2, 3]       # followup_end is the last day of week 3
    risk = res.at_risk()
    assert risk.loc[risk["arm"] == "treatment", "n_at_risk"].tolist() == [2, 2, 1, 0, 0, 0, 0, 0]
    assert risk.loc[risk["arm"] == "control", "n_at_risk"].tolist() == [0] * 8


def test_spell_entirely_before_visitation_is_ignored_but_shows_in_pre_weeks():
    spells = spells_of([("a", "internship", day(-1), last_day(-1))])     # the week before week 0
    res = build_panel(ledger_of("a"), spells, last_day(3), weeks=3)
    assert column(res, "in_internship") == [0, 0, 0]
    pre = build_panel(ledger_of("a"), spells, last_day(3), weeks=3, pre_weeks=3)
    assert column(pre, "week") == [-2, -1, 0, 1, 2, 3]
    assert column(pre, "in_internship") == [0, 1, 0, 0, 0, 0]


def test_two_overlapping_hours_spells_are_summed():
    spells = spells_of([("a", "ordinary_hours", day(1), last_day(2), 10.0),
                        ("a", "ordinary_hours", day(2, 3), last_day(3), 14.0)])
    res = build_panel(ledger_of("a"), spells, last_day(3), weeks=3)
    # Week 2: 10 + 14 × 4/7 = 18.
    np.testing.assert_allclose(column(res, "ordinary_hours"), [10.0, 18.0, 14.0])


def test_overlapping_spells_of_one_type_are_merged_for_indicators():
    # Two identical 2-day internships: the union is 2 days, not 4, so min_days=3 does not cover.
    same = spells_of([("a", "internship", day(1, 0), day(1, 1)), ("a", "internship", day(1, 0), day(1, 1))])
    assert column(build_panel(ledger_of("a"), same, last_day(1), weeks=1, min_days=3), "in_internship") == [0]
    # Overlapping 1-2 and 2-4 give the union 1-4: four days.
    overlap = spells_of([("a", "internship", day(1, 0), day(1, 1)), ("a", "internship", day(1, 1), day(1, 3))])
    assert column(build_panel(ledger_of("a"), overlap, last_day(1), weeks=1, min_days=4),
                  "in_internship") == [1]
    assert column(build_panel(ledger_of("a"), overlap, last_day(1), weeks=1, min_days=5),
                  "in_internship") == [0]
    # Two disjoint spells in one week add up: days 0-1 and 4-5.
    apart = spells_of([("a", "internship", day(1, 0), day(1, 1)), ("a", "internship", day(1, 4), day(1, 5))])
    assert column(build_panel(ledger_of("a"), apart, last_day(1), weeks=1, min_days=4), "in_internship") == [1]


def test_self_supporting_only_with_benefit_spells():
    no_benefit = build_panel(ledger_of("a"), spells_of([("a", "internship", day(1), day(1))]), last_day(2),
                             weeks=2)
    assert "self_supporting" not in no_benefit.outcomes
    spells = spells_of([("a", "benefit", day(1), day(1, 2))])
    res = build_panel(ledger_of("a", "b"), spells, last_day(2), weeks=2)
    assert column(res, "self_supporting", "a") == [0, 1]
    assert column(res, "self_supporting", "b") == [1, 1]
    assert column(res, "company_directed", "a") == [0, 0]


def test_excluded_persons_stay_in_and_columns_are_in_spec_order():
    ledger = ledger_of("b", "a", municipality=["X", "Y"], stratum=["s1", "s2"], excluded=[True, False],
                       exclusion_reason=["prison", ""])
    res = build_panel(ledger, spells_of([("b", "internship", day(1), day(1))]), last_day(2), weeks=2)
    f = res.to_frame()
    assert f.columns.tolist() == ["person_id", "arm", "week", "in_internship", "in_wage_subsidy",
                                  "ordinary_hours", "has_ordinary_hours", "company_directed",
                                  "reached_13_weeks", "municipality", "stratum"]
    assert f["person_id"].tolist() == ["a", "a", "b", "b"]          # person-ordered
    assert f.loc[f["person_id"] == "b", "in_internship"].tolist() == [1, 0]
    assert f["municipality"].astype(str).tolist() == ["Y", "Y", "X", "X"]
    assert f["in_internship"].dtype == np.int8 and f["ordinary_hours"].dtype == np.float64
    assert "excluded kept" in res.summary() and res.settings["n_excluded"] == 1


def test_weeks_beyond_the_window_are_absent():
    res = build_panel(ledger_of("a"), spells_of([("a", "internship", day(1), day(30))]), day(40), weeks=4)
    assert column(res, "week") == [1, 2, 3, 4]


# ---------------------------------------------------------------------------------------------------
# The 13-week rule
# ---------------------------------------------------------------------------------------------------

def reached(active: list[int], weeks: int = 30, **kw) -> list[int]:
    res = build_panel(ledger_of("a"), spells_of(active_weeks("a", active)), last_day(weeks), weeks=weeks, **kw)
    return column(res, "reached_13_weeks")


def first_one(flags: list[int]) -> int | None:
    return flags.index(1) + 1 if 1 in flags else None


def test_spec_example_gap_of_four_is_tolerated_and_not_counted():
    flags = reached(list(range(1, 7)) + list(range(11, 18)))
    assert first_one(flags) == 17
    assert flags[16:] == [1] * (30 - 16)           # cumulative: stays 1 after activity stops


def test_gap_of_five_breaks_the_chain():
    # Active 1-6, gap 7-11 (5 weeks), active 12-...: counting restarts at 12, reached at 24.
    assert first_one(reached(list(range(1, 7)) + list(range(12, 25)))) == 24
    assert first_one(reached(list(range(1, 7)) + list(range(12, 24)))) is None


def test_thirteenth_week_right_after_a_gap_edge():
    # Active 1-12, gap 13-16 (4 weeks), the 13th active week is the first week after the gap.
    assert first_one(reached(list(range(1, 13)) + [17])) == 17
    # Same with a 5-week gap: the chain broke, week 18 is only the 1st week of a new chain.
    assert first_one(reached(list(range(1, 13)) + [18])) is None


def test_thirteen_continuous_weeks_reach_at_week_13_and_chains_are_cumulative_over_gaps():
    assert first_one(reached(list(range(1, 14)))) == 13
    assert first_one(reached(list(range(1, 13)))) is None
    # 3 + 4 + 6 weeks with two gaps of 4 weeks.
    assert first_one(reached([1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 20, 21])) == 21


def test_counting_starts_at_week_one():
    # Active weeks -4..8 (13 weeks) with pre-weeks shown: only weeks 1..8 count, so never reached.
    res = build_panel(ledger_of("a"), spells_of([("a", "internship", day(-4), last_day(8))]), last_day(20),
                      weeks=20, pre_weeks=5)
    assert column(res, "reached_13_weeks") == [0] * 25
    assert column(res, "in_internship")[:13] == [1] * 13


def test_company_directed_mixes_types_for_the_rule():
    rows = (active_weeks("a", range(1, 6), "internship") + active_weeks("a", range(6, 10), "wage_subsidy")
            + [("a", "ordinary_hours", day(10), last_day(13), 5.0)])
    res = build_panel(ledger_of("a"), spells_of(rows), last_day(15), weeks=15)
    assert first_one(column(res, "reached_13_weeks")) == 13


def test_same_workplace_variant():
    # A weeks 1-6, B weeks 7-10, A weeks 11-17: company-directed every week (reached at 13), but at the
    # same workplace weeks 7-10 are a 4-week gap for A, so that chain reaches 13 only at week 17.
    rows = (active_weeks("a", range(1, 7), workplace="A") + active_weeks("a", range(7, 11), workplace="B")
            + active_weeks("a", range(11, 18), workplace="A"))
    res = build_panel(ledger_of("a"), spells_of(rows), last_day(20), weeks=20)
    assert first_one(column(res, "reached_13_weeks")) == 13
    assert first_one(column(res, "reached_13_weeks_same_workplace")) == 17
    # Alternating workplaces every 5 weeks never reach it at one workplace (gaps of 5 break it).
    alt = []
    for i, start in enumerate(range(1, 30, 5)):
        alt += active_weeks("a", range(start, start + 5), workplace="AB"[i % 2])
    res = build_panel(ledger_of("a"), spells_of(alt), last_day(30), weeks=30)
    assert first_one(column(res, "reached_13_weeks")) == 13
    assert first_one(column(res, "reached_13_weeks_same_workplace")) is None
    # Hours at a workplace count; spells without a workplace do not.
    mixed = [("a", "ordinary_hours", day(1), last_day(13), 10.0, "A"),
             ("a", "internship", day(14), last_day(26), None, None)]
    res = build_panel(ledger_of("a"), spells_of(mixed), last_day(30), weeks=30)
    assert first_one(column(res, "reached_13_weeks_same_workplace")) == 13


def test_same_workplace_column_only_when_workplaces_are_given():
    spells = spells_of([("a", "internship", day(1), day(2))])
    spells["workplace_id"] = None
    assert "reached_13_weeks_same_workplace" not in build_panel(ledger_of("a"), spells, last_day(2),
                                                                weeks=2).outcomes


# ---------------------------------------------------------------------------------------------------
# A slow day-by-day reference, compared on random inputs
# ---------------------------------------------------------------------------------------------------

BASE = dt.date(2016, 1, 4)


def reference_panel(ledger: pd.DataFrame, spells: pd.DataFrame, extraction: dt.date, weeks: int,
                    pre_weeks: int, min_days: int) -> pd.DataFrame:
    """Plain Python, one day at a time, straight from the words of SPEC §5."""
    def as_date(x):
        return pd.Timestamp(x).date()

    has_benefit = (spells["spell_type"] == "benefit").any()
    has_wp = "workplace_id" in spells and spells["workplace_id"].notna().any()
    out = []
    for _, person in ledger.sort_values("person_id").iterrows():
        v = as_date(person["visitation_date"])
        limit = extraction
        if pd.notna(person.get("followup_end")):
            limit = min(limit, as_date(person["followup_end"]))
        mine = [dict(s, start_date=as_date(s["start_date"]), end_date=as_date(s["end_date"]))
                for s in spells.to_dict("records") if s["person_id"] == person["person_id"]]

        def covers(s, d):
            return s["start_date"] <= d <= s["end_date"]

        def days_of(week):
            return [v + dt.timedelta(days=7 * (week - 1) + i) for i in range(7)]

        def covered(kind, week, wp=None):
            days = days_of(week)
            n = sum(1 for d in days if any(covers(s, d) for s in mine if s["spell_type"] == kind
                                           and (wp is None or s.get("workplace_id") == wp)))
            return n >= min_days

        def hours_in(week, wp=None):
            total = 0.0
            for s in mine:
                if s["spell_type"] == "ordinary_hours" and (wp is None or s.get("workplace_id") == wp):
                    total += s["hours_per_week"] * sum(1 for d in days_of(week) if covers(s, d)) / 7
            return total

        def chain_first(active_by_week):
            count = gap = 0
            for week in sorted(active_by_week):
                if active_by_week[week]:
                    count, gap = count + 1, 0
                else:
                    gap += 1
                    if gap > 4:
                        count = 0
                if count >= 13:
                    return week
            return None

        observed = [k for k in range(1 - pre_weeks, weeks + 1) if v + dt.timedelta(days=7 * k - 1) <= limit]
        rows = {}
        for k in observed:
            h = hours_in(k)
            row = {"person_id": person["person_id"], "arm": person["arm"], "week": k,
                   "in_internship": int(covered("internship", k)),
                   "in_wage_subsidy": int(covered("wage_subsidy", k)),
                   "ordinary_hours": h, "has_ordinary_hours": int(h > 0)}
            row["company_directed"] = int(row["in_internship"] or row["in_wage_subsidy"] or h > 0)
            if has_benefit:
                row["self_supporting"] = int(not covered("benefit", k))
            rows[k] = row
        first = chain_first({k: rows[k]["company_directed"] for k in observed if k >= 1})
        wp_first = None
        if has_wp:
            for wp in {s["workplace_id"] for s in mine if pd.notna(s.get("workplace_id"))}:
                act = {k: int(covered("internship", k, wp) or covered("wage_subsidy", k, wp)
                              or hours_in(k, wp) > 0) for k in observed if k >= 1}
                f = chain_first(act)
                if f is not None and (wp_first is None or f < wp_first):
                    wp_first = f
        for k in observed:
            rows[k]["reached_13_weeks"] = int(first is not None and k >= first)
            if has_wp:
                rows[k]["reached_13_weeks_same_workplace"] = int(wp_first is not None and k >= wp_first)
            out.append(rows[k])
    return pd.DataFrame(out)


@st.composite
def trials(draw):
    n = draw(st.integers(1, 4))
    ledger = pd.DataFrame({
        "person_id": [f"p{i}" for i in range(n)],
        "arm": draw(st.lists(st.sampled_from(["treatment", "control"]), min_size=n, max_size=n)),
        "visitation_date": [BASE + dt.timedelta(days=draw(st.integers(0, 20))) for _ in range(n)],
        "followup_end": [draw(st.one_of(st.none(), st.integers(0, 250).map(
            lambda d: BASE + dt.timedelta(days=d)))) for _ in range(n)],
    })
    spells = []
    for _ in range(draw(st.integers(0, 14))):
        kind = draw(st.sampled_from(["internship", "wage_subsidy", "ordinary_hours", "benefit"]))
        start = draw(st.integers(-40, 230))
        length = draw(st.one_of(st.integers(0, 10), st.integers(0, 150), st.integers(80, 200)))
        spells.append({
            "person_id": draw(st.sampled_from(list(ledger["person_id"]) + ["stranger"])),
            "spell_type": kind,
            "start_date": BASE + dt.timedelta(days=start),
            "end_date": BASE + dt.timedelta(days=start + length),
            "hours_per_week": draw(st.floats(0.5, 40.0).map(lambda h: round(h, 2))) if kind == "ordinary_hours"
            else None,
            "workplace_id": draw(st.sampled_from(["A", "B", None])),
        })
    spells = pd.DataFrame(spells, columns=["person_id", "spell_type", "start_date", "end_date",
                                           "hours_per_week", "workplace_id"])
    spells["hours_per_week"] = pd.to_numeric(spells["hours_per_week"])
    extraction = BASE + dt.timedelta(days=draw(st.integers(20, 260)))
    return ledger, spells, extraction, draw(st.integers(1, 35)), draw(st.integers(0, 3)), \
        draw(st.integers(1, 4)), draw(st.integers(1, 3))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trials())
def test_vectorised_builder_matches_day_by_day_reference(case):
    ledger, spells, extraction, weeks, pre_weeks, min_days, chunk = case
    # Random trials often give most persons no spell: the matched-share check is not what is tested.
    res = build_panel(ledger, spells, extraction, weeks=weeks, pre_weeks=pre_weeks, min_days=min_days,
                      chunk_persons=chunk, min_matched_share=0)
    got = res.to_frame()
    want = reference_panel(ledger, spells, extraction, weeks, pre_weeks, min_days)
    assert len(got) == len(want) == res.n_rows
    if len(want) == 0:
        return
    assert list(got.columns) == list(want.columns)
    for col in want.columns:
        if col == "ordinary_hours":
            np.testing.assert_allclose(got[col].to_numpy(), want[col].to_numpy(), rtol=1e-12, atol=1e-12)
        else:
            assert got[col].astype(str).tolist() == want[col].astype(str).tolist(), col
    # The number at risk is the count of rows per arm and week; means agree with a groupby.
    counts = got.groupby(["arm", "week"], observed=True).size()
    risk = res.at_risk().set_index(["arm", "week"])["n_at_risk"]
    assert risk[risk > 0].sort_index().to_dict() == counts.sort_index().to_dict()
    means = res.means().set_index(["arm", "week"]).loc[counts.index]
    by_hand = got.groupby(["arm", "week"], observed=True)[list(res.outcomes)].mean().loc[counts.index]
    np.testing.assert_allclose(means[list(res.outcomes)].to_numpy(), by_hand.to_numpy(), rtol=1e-12, atol=1e-12)
    assert res.n_spells_not_in_ledger == int((spells["person_id"] == "stranger").sum())


# ---------------------------------------------------------------------------------------------------
# Bad input (SPEC §9)
# ---------------------------------------------------------------------------------------------------

GOOD = [("a", "internship", day(1), day(2)), ("a", "ordinary_hours", day(1), day(3), 10.0)]


@pytest.mark.parametrize("bad_row, column_name, rule", [
    (("a", "internship", day(3), day(2)), "end_date", "is before start_date"),
    (("a", "ordinary_hours", day(1), day(2), 0.0), "hours_per_week", "must be > 0 and <= 168"),
    (("a", "ordinary_hours", day(1), day(2), -3.0), "hours_per_week", "must be > 0 and <= 168"),
    (("a", "ordinary_hours", day(1), day(2), 168.5), "hours_per_week", "must be > 0 and <= 168"),
    (("a", "ordinary_hours", day(1), day(2)), "hours_per_week", "is missing on ordinary_hours spells"),
    (("a", "holiday", day(1), day(2)), "spell_type", "has unknown spell types 'holiday'"),
    (("a", "internship", "2016-02-30", day(2)), "start_date", "is not a date YYYY-MM-DD"),
    (("a", "internship", day(1), None), "end_date", "is empty"),
    ((None, "internship", day(1), day(2)), "person_id", "is empty"),
])
def test_bad_rows_are_fatal_with_file_column_rule_and_rows(bad_row, column_name, rule):
    spells = spells_of(GOOD + [bad_row, bad_row])
    spells.attrs["source"] = "spells.csv"
    with pytest.raises(InputDataError) as err:
        build_panel(ledger_of("a"), spells, last_day(4), weeks=4)
    msg = str(err.value)
    assert msg.startswith(f"spells.csv: column '{column_name}' {rule}")
    assert msg.endswith("in 2 rows (rows 3, 4)")


def test_error_lists_at_most_ten_rows():
    spells = spells_of(GOOD + [("a", "internship", day(3), day(2))] * 12)
    with pytest.raises(InputDataError, match=r"in 12 rows \(rows 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, … 2 more\)"):
        build_panel(ledger_of("a"), spells, last_day(4), weeks=4)


def test_missing_column_and_bad_arguments():
    with pytest.raises(InputDataError, match="'end_date' missing"):
        build_panel(ledger_of("a"), spells_of(GOOD).drop(columns="end_date"), last_day(4))
    spells = spells_of(GOOD)
    with pytest.raises(InputDataError, match="extraction_date: 'yesterday' is not a date YYYY-MM-DD"):
        build_panel(ledger_of("a"), spells, "yesterday")
    with pytest.raises(InputDataError, match="min_days must be a whole number between 1 and 7; got 8"):
        build_panel(ledger_of("a"), spells, last_day(4), min_days=8)
    with pytest.raises(InputDataError, match="weeks must be a whole number between 1 and 1040; got 0"):
        build_panel(ledger_of("a"), spells, last_day(4), weeks=0)
    with pytest.raises(InputDataError, match="ledger: column 'arm'"):
        build_panel(ledger_of("a", arm="both"), spells, last_day(4))


def test_hours_column_absent_is_missing_hours():
    spells = spells_of(GOOD).drop(columns="hours_per_week")
    with pytest.raises(InputDataError, match="'hours_per_week' is missing on ordinary_hours spells in 1 row"):
        build_panel(ledger_of("a"), spells, last_day(4))
    # Without ordinary-hours spells the column is not needed.
    res = build_panel(ledger_of("a"), spells.iloc[:1], last_day(4), weeks=4)
    assert column(res, "ordinary_hours") == [0.0] * 4


def test_visitation_after_extraction_date_is_fatal_unless_dropped():
    ledger = ledger_of("a", "b", visitation=[V.isoformat(), "2016-06-01"])
    with pytest.raises(InputDataError, match=r"ledger: column 'visitation_date' is after the extraction "
                                             r"date 2016-03-28 in 1 row \(row 2\)"):
        build_panel(ledger, spells_of(GOOD + [("b", "internship", day(1), day(2))]), last_day(4))
    res = build_panel(ledger, spells_of(GOOD + [("b", "internship", day(1), day(2))]), last_day(4),
                      weeks=4, drop_bad_rows=True)
    assert res.n_persons == 1 and res.to_frame()["person_id"].unique().tolist() == ["a"]
    assert res.rejects[["source", "row", "person_id", "column"]].values.tolist() == [
        ["ledger", 2, "b", "visitation_date"]]
    assert res.n_spells_not_in_ledger == 0                 # b's spells are not "absent from the ledger"


def test_drop_bad_rows_reports_counts_and_writes_rejects(tmp_path):
    bad = [("a", "internship", day(3), day(2)), ("a", "ordinary_hours", day(1), day(2), 200.0),
           ("a", "holiday", day(1), day(2)), ("a", "holiday", day(3), day(2))]
    spells = spells_of(GOOD + bad)
    res = build_panel(ledger_of("a"), spells, last_day(4), weeks=4, drop_bad_rows=True)
    assert res.rejects["row"].tolist() == [3, 4, 5, 6]
    # Row 6 breaks two rules; it is blamed once, on the first (the spell type).
    assert res.rejects["reason"].tolist() == [
        "end_date is before start_date", "hours_per_week must be > 0 and <= 168",
        "spell_type has unknown spell types 'holiday' (allowed: internship, wage_subsidy, ordinary_hours, "
        "benefit; declare others under [analysis] spell_types)"] + [res.rejects["reason"].iloc[2]]
    assert res.rejects["spell_type"].tolist() == ["internship", "ordinary_hours", "holiday", "holiday"]
    assert res.n_spells_used == 2
    assert dict(zip(res.rejects_by_reason()["reason"].str[:12], res.rejects_by_reason()["rows"])) == {
        "end_date is ": 1, "hours_per_we": 1, "spell_type h": 2}
    assert "rows dropped as bad input: 4" in res.summary()
    # The good rows give the same panel as without the bad ones.
    clean = build_panel(ledger_of("a"), spells_of(GOOD), last_day(4), weeks=4)
    pd.testing.assert_frame_equal(res.to_frame(), clean.to_frame())
    written = write_panel(res, tmp_path / "panel.csv")
    assert [p.name for p in written] == ["panel.csv", "panel_at_risk.csv", "panel_rejects.csv"]
    rejects = pd.read_csv(tmp_path / "panel_rejects.csv")
    assert rejects["row"].tolist() == [3, 4, 5, 6] and rejects["hours_per_week"].tolist()[1] == 200.0


def test_persons_absent_from_ledger_are_counted_and_ignored():
    spells = spells_of(GOOD + [("x", "internship", day(1), day(2)), ("x", "benefit", day(1), day(2)),
                               ("y", "internship", day(1), day(2))])
    res = build_panel(ledger_of("a"), spells, last_day(4), weeks=4)
    assert (res.n_spells_not_in_ledger, res.n_persons_not_in_ledger) == (3, 2)
    assert res.to_frame()["person_id"].unique().tolist() == ["a"]
    assert "not in the ledger (ignored): 3 (2 persons)" in res.summary()
    # Outcome columns follow the input, not the matched persons: benefit spells exist.
    assert "self_supporting" in res.outcomes


def test_declared_extra_spell_types_give_indicators():
    spells = spells_of([("a", "internship", day(1), day(1, 2)), ("a", "education", day(2), day(2))])
    with pytest.raises(InputDataError, match="unknown spell types 'education'"):
        build_panel(ledger_of("a"), spells, last_day(3), weeks=3)
    res = build_panel(ledger_of("a"), spells, last_day(3), weeks=3, spell_types=["education"])
    assert column(res, "in_education") == [0, 1, 0]
    assert column(res, "company_directed") == [1, 0, 0]
    with pytest.raises(InputDataError, match="spell_types"):
        build_panel(ledger_of("a"), spells, last_day(3), spell_types=["Bad Name"])


def test_ids_and_dates_in_other_types_match():
    ledger = pd.DataFrame({"person_id": [7, 8], "arm": ["treatment", "control"],
                           "visitation_date": pd.to_datetime([V, V])})
    spells = pd.DataFrame({"person_id": [7.0], "spell_type": ["internship"],
                           "start_date": pd.to_datetime([day(2)]), "end_date": ["9999-12-31"]})
    res = build_panel(ledger, spells, last_day(3), weeks=3)
    assert column(res, "in_internship", "7") == [0, 1, 1]
    assert res.n_spells_not_in_ledger == 0


# ---------------------------------------------------------------------------------------------------
# Files, result object
# ---------------------------------------------------------------------------------------------------

def small_trial():
    ledger = ledger_of("c", "a", "b", arm=["control", "treatment", "control"],
                       municipality=["X", "Y", "X"], stratum=["1", "2", "1"])
    rows = (active_weeks("a", range(1, 15)) + active_weeks("c", range(2, 5), "wage_subsidy")
            + [("b", "ordinary_hours", day(1, 3), day(6), 7.5), ("b", "benefit", day(1), day(18))])
    return ledger, spells_of(rows)


def test_parquet_round_trip_in_person_ordered_row_groups(tmp_path, monkeypatch):
    ledger, spells = small_trial()
    res = build_panel(ledger, spells, last_day(20), weeks=20, chunk_persons=2)
    monkeypatch.setattr(panel_module, "ROW_GROUP_ROWS", 25)
    path = tmp_path / "out" / "panel.parquet"
    write_panel(res, path)
    back = pd.read_parquet(path)
    pd.testing.assert_frame_equal(back, res.to_frame())
    pf = pq.ParquetFile(path)
    # Each row group holds whole persons (20 rows each): chunks of 2 and 1 persons, split at <= 25 rows.
    groups = [pf.read_row_group(i, columns=["person_id"]).column(0).to_pylist() for i in range(pf.num_row_groups)]
    assert [sorted(set(g)) for g in groups] == [["a"], ["b"], ["c"]]
    at_risk = pd.read_csv(side_paths(path)[0])
    assert at_risk.columns.tolist() == ["arm", "week", "n_at_risk"]
    assert at_risk.loc[at_risk["arm"] == "control", "n_at_risk"].tolist() == [2] * 20
    assert not side_paths(path)[1].exists()          # rejects only with drop_bad_rows


def test_csv_output_matches_frame(tmp_path):
    ledger, spells = small_trial()
    res = build_panel(ledger, spells, last_day(20), weeks=20, chunk_persons=1)
    write_panel(res, tmp_path / "panel.csv")
    back = pd.read_csv(tmp_path / "panel.csv", dtype={"person_id": str, "stratum": str})
    expected = res.to_frame()
    assert back["person_id"].tolist() == expected["person_id"].tolist()
    np.testing.assert_allclose(back["ordinary_hours"], expected["ordinary_hours"], rtol=1e-15)
    assert back["reached_13_weeks"].tolist() == expected["reached_13_weeks"].tolist()
    assert (tmp_path / "panel.csv").read_text().splitlines()[0].startswith("person_id,arm,week,in_internship")


def test_failed_write_leaves_previous_file(tmp_path, monkeypatch):
    ledger, spells = small_trial()
    res = build_panel(ledger, spells, last_day(20), weeks=20)
    path = tmp_path / "panel.parquet"
    path.write_bytes(b"previous")

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(panel_module.PanelResult, "_chunk_table", boom)
    with pytest.raises(RuntimeError):
        write_panel(res, path)
    assert path.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    with pytest.raises(InputDataError, match="written as .parquet or .csv"):
        write_panel(res, tmp_path / "panel.xlsx")


def test_result_object():
    ledger, spells = small_trial()
    res = build_panel(ledger, spells, last_day(20), weeks=20)
    assert res.n_persons == 3 and res.n_rows == 60
    assert res.columns == res.to_frame().columns.tolist()
    assert res.to_frame() is not res.to_frame()
    assert res.panel is res.panel
    d = res.to_dict()
    json.dumps(d)
    assert d["n_rows"] == 60 and d["settings"]["weeks"] == 20
    assert "<h4>Weekly panel</h4>" in res._repr_html_()
    means = res.means()
    treat = means[means["arm"] == "treatment"]
    assert treat["reached_13_weeks"].tolist() == [0.0] * 12 + [1.0] * 8
    ctrl = means[means["arm"] == "control"]
    np.testing.assert_allclose(ctrl["ordinary_hours"].tolist()[:6], [7.5 * 4 / 7 / 2] + [7.5 / 2] * 4
                               + [7.5 / 7 / 2])
    assert ctrl["self_supporting"].tolist()[:3] == [0.5, 0.5, 0.5]
    assert ctrl["self_supporting"].tolist()[19] == 1.0       # b's benefit ended in week 18
    frames = list(build_panel(ledger, spells, last_day(20), weeks=20, chunk_persons=2).iter_frames())
    assert [len(f) for f in frames] == [40, 20]


def test_progress_callback_and_empty_inputs(tmp_path):
    ledger, spells = small_trial()
    calls = []
    build_panel(ledger, spells, last_day(20), weeks=20, chunk_persons=1, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(1, 3), (2, 3), (3, 3)]
    empty = build_panel(ledger, spells.iloc[:0], last_day(2), weeks=2, min_matched_share=0)
    assert empty.outcomes == ("in_internship", "in_wage_subsidy", "ordinary_hours", "has_ordinary_hours",
                              "company_directed", "reached_13_weeks")
    assert empty.to_frame()["in_internship"].tolist() == [0] * 6
    none = build_panel(ledger.iloc[:0], spells, last_day(2), weeks=2)
    assert none.n_rows == 0 and len(none.to_frame()) == 0
    write_panel(none, tmp_path / "p.parquet")
    assert len(pd.read_parquet(tmp_path / "p.parquet")) == 0


def test_read_spells_renames_and_keeps_ids_as_text(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text("pnr,spell_type,start_date,end_date,hours_per_week,workplace_id\n"
                 f"007,ordinary_hours,{day(1)},{day(3)},3.5,0012\n"
                 f"007,internship,{day(3)},{day(1)},,\n")
    df = read_spells(p, rename={"person_id": "pnr"})
    assert df["person_id"].tolist() == ["007", "007"] and df["workplace_id"].tolist()[0] == "0012"
    with pytest.raises(InputDataError, match=rf"{p}: column 'end_date' is before start_date in 1 row \(row 2\)"):
        build_panel(ledger_of("007"), df, last_day(3))
    res = build_panel(ledger_of("007"), p, last_day(3), weeks=3, drop_bad_rows=True,
                      columns={"person_id": "pnr"})
    assert column(res, "ordinary_hours", "007") == [3.5, 3.5, 0.5]
    with pytest.raises(InputDataError, match="required column"):
        read_spells(p)


# ---------------------------------------------------------------------------------------------------
# Streaming: spells read in batches, panel written while it is built
# ---------------------------------------------------------------------------------------------------


def synthetic_trial(n: int, seed: int = 7) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A few hundred persons in weekly waves with every spell type, workplaces, strangers and bad rows."""
    rng = np.random.default_rng(seed)
    visit = pd.Timestamp(V) + pd.to_timedelta(7 * rng.integers(0, 6, n), unit="D")
    ledger = pd.DataFrame({"person_id": [f"p{i:04d}" for i in rng.permutation(n)],
                           "arm": rng.choice(["treatment", "control"], n),
                           "visitation_date": visit.strftime("%Y-%m-%d"),
                           "stratum": rng.choice(["s1", "s2", "s3"], n)})
    m = 4 * n
    kind = rng.choice(["internship", "wage_subsidy", "ordinary_hours", "benefit"], m)
    start = pd.Timestamp(V) + pd.to_timedelta(rng.integers(-30, 200, m), unit="D")
    end = start + pd.to_timedelta(rng.integers(0, 160, m), unit="D")
    spells = pd.DataFrame({
        "person_id": np.where(rng.random(m) < 0.03, "stranger", ledger["person_id"].to_numpy()[rng.integers(0, n, m)]),
        "spell_type": kind, "start_date": start.strftime("%Y-%m-%d"), "end_date": end.strftime("%Y-%m-%d"),
        "hours_per_week": np.where(kind == "ordinary_hours", rng.uniform(1, 37, m).round(1), np.nan),
        "workplace_id": np.where(kind == "benefit", None, rng.choice(["W1", "W2", "W3"], m)),
    })
    bad = rng.choice(m, 6, replace=False)
    spells.loc[bad[:3], "end_date"] = "2016-01-01"             # before start
    spells.loc[bad[3:], "spell_type"] = "holiday"              # unknown type
    return ledger, spells


@pytest.mark.parametrize("workers", [1, 3])
def test_streamed_build_from_files_equals_in_memory_build(tmp_path, monkeypatch, workers):
    """Spells checked in batches on 1 or 3 threads, then persons built in chunks, equal the whole build."""
    ledger, spells = synthetic_trial(300)
    ledger.to_csv(tmp_path / "ledger.csv", index=False)
    spells.to_csv(tmp_path / "spells.csv", index=False)
    read_spells(tmp_path / "spells.csv").to_parquet(tmp_path / "spells.parquet")
    kw = {"weeks": 30, "pre_weeks": 2, "drop_bad_rows": True}
    ref = build_panel(ledger, read_spells(tmp_path / "spells.csv"), "2016-10-31", chunk_persons=1000, **kw)
    assert "reached_13_weeks_same_workplace" in ref.outcomes and ref.to_frame()["reached_13_weeks"].sum() > 0
    write_panel(ref, tmp_path / "ref.parquet")
    write_panel(ref, tmp_path / "ref.csv")
    # Several batches of spells (workplace codes must mean the same in each) and chunks of persons.
    monkeypatch.setattr(panel_module, "SPELL_BATCH_ROWS", 97)
    monkeypatch.setattr(panel_module, "ROW_GROUP_ROWS", 500)
    for spells_file, out_name in (("spells.parquet", "out.parquet"), ("spells.csv", "out.csv")):
        out = tmp_path / out_name
        res = build_panel(tmp_path / "ledger.csv", tmp_path / spells_file, "2016-10-31", chunk_persons=37,
                          out=out, workers=workers, **kw)
        assert res.streamed and res.n_rows == ref.n_rows and res.n_spells_used == ref.n_spells_used
        assert (res.n_spells_not_in_ledger, res.n_persons_not_in_ledger) == (
            ref.n_spells_not_in_ledger, ref.n_persons_not_in_ledger) and ref.n_persons_not_in_ledger == 1
        pd.testing.assert_frame_equal(res.rejects.drop(columns="source"), ref.rejects.drop(columns="source"))
        assert sorted(res.rejects["row"]) == sorted(int(i) + 1 for i in
                                                     np.flatnonzero(~spells["spell_type"].ne("holiday")
                                                                    | (spells["end_date"] == "2016-01-01")))
        pd.testing.assert_frame_equal(res.means(), ref.means())
        pd.testing.assert_frame_equal(res.week_moments(min_weeks=10), ref.week_moments(min_weeks=10))
        pd.testing.assert_frame_equal(pd.read_csv(side_paths(out)[0]), ref.number_at_risk)
        assert side_paths(out)[1].exists()
        with pytest.raises(InputDataError, match="while it was built"):
            res.to_frame()
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "out.parquet"), ref.to_frame())
    assert pq.ParquetFile(tmp_path / "out.parquet").num_row_groups > pq.ParquetFile(tmp_path / "ref.parquet").num_row_groups
    assert (tmp_path / "out.csv").read_text() == (tmp_path / "ref.csv").read_text()
    # means() from the gathered sums agrees with the long table
    frame = ref.to_frame()
    by_hand = frame[frame["week"] == 5].groupby("arm", observed=True)["ordinary_hours"].mean()
    m = ref.means().set_index(["arm", "week"])
    np.testing.assert_allclose(m.loc[[("treatment", 5), ("control", 5)], "ordinary_hours"],
                               by_hand.loc[["treatment", "control"]], rtol=1e-12)


def test_streamed_errors_name_the_file_row(tmp_path, monkeypatch):
    ledger, spells = synthetic_trial(50)
    spells = spells[spells["spell_type"] != "holiday"]
    spells = spells[spells["end_date"] != "2016-01-01"].reset_index(drop=True)
    spells.loc[130, "hours_per_week"] = 200.0
    spells.loc[130, "spell_type"] = "ordinary_hours"
    spells.to_parquet(tmp_path / "spells.parquet")
    monkeypatch.setattr(panel_module, "SPELL_BATCH_ROWS", 40)
    with pytest.raises(InputDataError, match=r"spells.parquet: column 'hours_per_week' must be > 0 and <= 168 "
                                             r"in 1 row \(row 131\)"):
        build_panel(ledger, tmp_path / "spells.parquet", "2016-10-31", weeks=10, out=tmp_path / "p.parquet")
    assert not (tmp_path / "p.parquet").exists()
    spells.drop(columns="end_date").to_parquet(tmp_path / "no_end.parquet")
    with pytest.raises(InputDataError, match="no_end.parquet.*end_date"):
        build_panel(ledger, tmp_path / "no_end.parquet", "2016-10-31")
    with pytest.raises(InputDataError, match="written as .parquet or .csv"):
        build_panel(ledger, tmp_path / "spells.parquet", "2016-10-31", out=tmp_path / "p.xlsx")


def test_keep_panel_false_keeps_only_the_sums(tmp_path):
    ledger, spells = synthetic_trial(200)
    kw = {"weeks": 20, "drop_bad_rows": True, "chunk_persons": 45}
    ref = build_panel(ledger, spells, "2016-10-31", **kw)
    lean = build_panel(ledger, spells, "2016-10-31", keep_panel=False, **kw)
    assert ref.kept and not lean.kept and not lean.streamed and lean._chunks == ()
    assert lean.n_rows == ref.n_rows > 0
    pd.testing.assert_frame_equal(lean.means(), ref.means())
    pd.testing.assert_frame_equal(lean.week_moments(min_weeks=8), ref.week_moments(min_weeks=8))
    pd.testing.assert_frame_equal(lean.number_at_risk, ref.number_at_risk)
    for call in (lean.to_frame, lambda: write_panel(lean, tmp_path / "p.parquet")):
        with pytest.raises(InputDataError, match="keep_panel=False"):
            call()
    with pytest.raises(InputDataError, match="keep_panel must be True or False"):
        build_panel(ledger, spells, "2016-10-31", keep_panel="no", **kw)


def test_ledger_file_read_compactly_equals_dataframe_ledger(tmp_path):
    ledger, spells = synthetic_trial(120)
    ledger["municipality"] = np.where(np.arange(120) % 7 == 0, None, ledger["stratum"].str.upper())
    ledger["excluded"] = np.where(np.arange(120) % 5 == 0, "yes", "0")
    ledger["followup_end"] = np.where(np.arange(120) % 9 == 0, "2016-07-15", "")
    ledger["wave"] = 1
    ref = build_panel(ledger, spells, "2016-10-31", weeks=20, drop_bad_rows=True)
    ledger.to_csv(tmp_path / "ledger.csv", index=False)
    pq.write_table(pa.Table.from_pandas(ledger.astype({"stratum": "category"})), tmp_path / "ledger.parquet")
    for name in ("ledger.csv", "ledger.parquet"):
        res = build_panel(tmp_path / name, spells, "2016-10-31", weeks=20, drop_bad_rows=True)
        pd.testing.assert_frame_equal(res.to_frame(), ref.to_frame())
        assert res.settings["n_excluded"] == ref.settings["n_excluded"] == 24
    # the rules and messages of read_ledger, on the compact reader
    bad = ledger.copy()
    bad.loc[[3, 40], "visitation_date"] = "2016-13-01"
    bad.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(InputDataError, match=r"bad.csv: column 'visitation_date' is not a date YYYY-MM-DD "
                                             r"in 2 rows \(rows 4, 41\)"):
        build_panel(tmp_path / "bad.csv", spells, "2016-10-31")
    bad = ledger.copy()
    bad.loc[7, "person_id"] = bad.loc[2, "person_id"]
    bad.loc[9, "arm"] = "placebo"
    pq.write_table(pa.Table.from_pandas(bad), tmp_path / "bad.parquet")
    with pytest.raises(InputDataError, match=r"'person_id' must be unique; duplicates in 2 rows \(rows 3, 8\)"):
        build_panel(tmp_path / "bad.parquet", spells, "2016-10-31")
    # a ledger in id order is not sorted again; shuffled, the same panel; a repeated neighbour is a duplicate
    ordered = ledger.sort_values("person_id", ignore_index=True)
    assert _in_id_order(pa.array(ordered["person_id"])) and not _in_id_order(pa.array(ledger["person_id"][::-1]))
    for name, frame in (("ordered.parquet", ordered), ("shuffled.parquet", ordered.sample(frac=1, random_state=3))):
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / name)
        res = build_panel(tmp_path / name, spells, "2016-10-31", weeks=20, drop_bad_rows=True)
        pd.testing.assert_frame_equal(res.to_frame(), ref.to_frame())
    twice = ordered.copy()
    twice.loc[5, "person_id"] = twice.loc[4, "person_id"]
    pq.write_table(pa.Table.from_pandas(twice, preserve_index=False), tmp_path / "twice.parquet")
    with pytest.raises(InputDataError, match=r"'person_id' must be unique; duplicates in 2 rows \(rows 5, 6\)"):
        build_panel(tmp_path / "twice.parquet", spells, "2016-10-31")
    bad.loc[7, "person_id"] = "fresh"
    pq.write_table(pa.Table.from_pandas(bad), tmp_path / "bad.parquet")
    with pytest.raises(InputDataError, match=r"'arm' must be 'treatment' or 'control' in 1 row \(row 10\)"):
        build_panel(tmp_path / "bad.parquet", spells, "2016-10-31")


def test_plot_draws_the_weekly_means_by_arm_and_hides_small_weeks():
    ledger = pd.DataFrame({"person_id": [f"p{i}" for i in range(12)], "arm": ["treatment"] * 6 + ["control"] * 6,
                           "visitation_date": ["2016-03-01"] * 11 + ["2016-03-15"]})
    spells = pd.DataFrame({"person_id": ["p0", "p1", "p6"], "spell_type": "internship",
                           "start_date": "2016-03-01", "end_date": "2016-03-07"})
    result = build_panel(ledger, spells, "2016-03-28", weeks=4, min_matched_share=0.25)
    fig = result.plot("in_internship")
    treated, control = fig.axes[0].get_lines()
    # week 1: 2 of 6 treated, 1 of 6 controls in internship: shares of 1-4 persons are not drawn;
    # later weeks nobody is (0 %, shown); control weeks 3-4 have 5 observed (kept at min_cell 5)
    assert treated.get_xdata().tolist() == [2, 3, 4] and treated.get_ydata().tolist() == [0.0, 0.0, 0.0]
    assert control.get_xdata().tolist() == [2, 3, 4]
    assert result.plot("in_internship", min_cell=6).axes[0].get_lines()[1].get_xdata().tolist() == [2]
    low = result.plot("in_internship", min_cell=2).axes[0].get_lines()
    assert low[0].get_ydata().tolist()[0] == pytest.approx(100 * 2 / 6)        # 2 have it, 4 lack it
    assert low[1].get_xdata().tolist()[0] == 2                                  # 1 of 6 controls: hidden
    with pytest.raises(InputDataError, match="panel has no outcome 'nope'"):
        result.plot("nope")


def test_arrow_checked_parquet_batches_equal_the_dataframe_path(tmp_path, monkeypatch):
    """Parquet with date and timestamp columns is checked with Arrow (no DataFrame per batch); clean
    batches, batches with bad rows, blanks around ids and ids absent from the ledger give exactly what
    the DataFrame input gives, with row numbers of the whole file."""
    ledger, spells = synthetic_trial(240, seed=11)
    spells = spells.astype({"start_date": "datetime64[us]"})
    spells["end_date"] = pd.to_datetime(spells["end_date"]).dt.date          # Parquet date32
    spells.loc[17, "person_id"] = " " + spells.loc[17, "person_id"]          # a bad row in both paths
    table = pa.Table.from_pandas(spells, preserve_index=False)
    pq.write_table(table, tmp_path / "spells.parquet", row_group_size=300)
    monkeypatch.setattr(panel_module, "SPELL_BATCH_ROWS", 128)
    calls = []
    real = panel_module._check_spells
    monkeypatch.setattr(panel_module, "_check_spells", lambda *a, **k: calls.append(a[4]) or real(*a, **k))
    kw = {"weeks": 30, "pre_weeks": 1, "drop_bad_rows": True, "chunk_persons": 50}
    got = build_panel(ledger, tmp_path / "spells.parquet", "2016-10-31", **kw)
    assert 0 < len(calls) < -(-len(spells) // 128)            # some batches never became DataFrames
    calls.clear()
    ref = build_panel(ledger, table.to_pandas(), "2016-10-31", **kw)
    pd.testing.assert_frame_equal(got.to_frame(), ref.to_frame(), check_exact=True)
    pd.testing.assert_frame_equal(got.rejects.drop(columns="source"), ref.rejects.drop(columns="source"))
    assert (got.n_spells_used, got.n_spells_not_in_ledger, got.n_persons_not_in_ledger) == (
        ref.n_spells_used, ref.n_spells_not_in_ledger, ref.n_persons_not_in_ledger)
    assert got.n_spells_not_in_ledger > 0 and len(got.rejects) == 7
    assert got.rejects.loc[got.rejects["row"] == 18, "reason"].tolist() == [
        "person_id has leading or trailing spaces"]
    # Fatal mode: the first bad row of the whole file, from a batch checked as a DataFrame.
    with pytest.raises(InputDataError, match=r"spells.parquet: column 'person_id' has leading or trailing "
                                             r"spaces in 1 row \(row 18\) \(e.g. ' p0"):
        build_panel(ledger, tmp_path / "spells.parquet", "2016-10-31", weeks=10)
    pq.write_table(table.set_column(0, "person_id", pc.utf8_trim_whitespace(table["person_id"])),
                   tmp_path / "spells.parquet", row_group_size=300)
    with pytest.raises(InputDataError, match=r"spells.parquet: column 'spell_type' has unknown spell types"):
        build_panel(ledger, tmp_path / "spells.parquet", "2016-10-31", weeks=10)
