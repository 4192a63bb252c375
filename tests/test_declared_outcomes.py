"""Declared outcomes (``[outcomes]``): each rule checked on spells whose weeks are counted by hand.

Visitation is Monday 2016-03-07 for everyone, so week k covers days 7(k-1) .. 7k-1 after it
(week 1: 7-13 March, week 0: 29 Feb - 6 March, and so on).
"""

from __future__ import annotations

import pandas as pd
import pytest

from trialeval.config import AnalysisSettings, TrialConfig
from trialeval.exceptions import ConfigError
from trialeval.outcomes import DeclaredOutcome, parse_outcomes
from trialeval.panel import build_panel

V = pd.Timestamp("2016-03-07")


def day(k: int) -> str:
    return (V + pd.Timedelta(days=k)).date().isoformat()


def spell(person: str, kind: str, first: int, last: int, hours: float | None = None) -> dict[str, object]:
    return {"person_id": person, "spell_type": kind, "start_date": day(first), "end_date": day(last),
            "hours_per_week": hours}


LEDGER = pd.DataFrame({"person_id": ["a", "b"], "arm": ["treatment", "control"],
                       "visitation_date": [V.date().isoformat()] * 2})
SPELLS = pd.DataFrame([
    spell("a", "internship", 0, 13),              # weeks 1-2
    spell("a", "benefit", 0, 20),                 # weeks 1-3
    spell("a", "ordinary_hours", 21, 27, 10.0),   # week 4: 10 hours
    spell("a", "education", 28, 34),              # week 5
    spell("b", "ordinary_hours", -21, 6, 5.0),    # weeks -2, -1, 0 and 1: 5 hours each
])

DECLARED = parse_outcomes({
    "internship_or_education": {"any_of": ["in_internship", "education"], "label_da": "Praktik eller uddannelse"},
    "ever_company_directed": {"ever": "company_directed"},
    "employed_no_benefit": {"all_of": ["has_ordinary_hours"], "none_of": ["benefit"]},
    "hours_20_in_4_weeks": {"rolling_sum": "ordinary_hours", "window": 4, "at_least": 20},
    "internship_2_of_3": {"rolling_sum": "in_internship", "window": 3, "at_least": 2},
}, "trial.toml")


def panel(pre_weeks: int = 0, declared: tuple[DeclaredOutcome, ...] = DECLARED) -> pd.DataFrame:
    res = build_panel(LEDGER, SPELLS, "2016-06-30", weeks=6, pre_weeks=pre_weeks, spell_types=["education"],
                      declared_outcomes=declared, chunk_persons=1)
    return res.to_frame().set_index(["person_id", "week"])


def column(frame: pd.DataFrame, person: str, name: str) -> list[int]:
    return frame.loc[person, name].astype(int).tolist()


def test_each_rule_equals_the_weeks_counted_by_hand() -> None:
    p = panel()
    assert list(p.columns[-5:]) == [o.name for o in DECLARED]          # panel columns, in declared order
    assert column(p, "a", "internship_or_education") == [1, 1, 0, 0, 1, 0]
    assert column(p, "a", "ever_company_directed") == [1, 1, 1, 1, 1, 1]     # internship weeks 1-2 onwards
    assert column(p, "b", "ever_company_directed") == [1, 1, 1, 1, 1, 1]     # hours in week 1
    assert column(p, "a", "employed_no_benefit") == [0, 0, 0, 1, 0, 0]       # hours week 4, benefit weeks 1-3
    assert column(p, "b", "employed_no_benefit") == [1, 0, 0, 0, 0, 0]
    # b: 5 hours in each of weeks -2..1; the 4-week sum is 20 at week 1 (weeks -2..1, read before
    # visitation), 15 at week 2, 10, 5, then 0; a: 10 hours in week 4 only.
    assert column(p, "b", "hours_20_in_4_weeks") == [1, 0, 0, 0, 0, 0]
    assert column(p, "a", "hours_20_in_4_weeks") == [0, 0, 0, 0, 0, 0]
    # a's internship weeks 1 and 2: 2 of the last 3 weeks at weeks 2 and 3
    assert column(p, "a", "internship_2_of_3") == [0, 1, 1, 0, 0, 0]


def test_pre_weeks_do_not_change_the_declared_outcomes_of_later_weeks() -> None:
    without, with_pre = panel(), panel(pre_weeks=3)
    assert with_pre.loc[("b", slice(1, 6)), :][without.columns].equals(without.loc[("b", slice(1, 6)), :])
    # before week 1: ever is 0; the rolling sum of b's hours reads weeks before the panel's first week too
    assert column(with_pre, "b", "ever_company_directed")[:3] == [0, 0, 0]
    assert column(with_pre, "b", "hours_20_in_4_weeks") == [0, 0, 0, 1, 0, 0, 0, 0, 0]   # weeks -2..6
    assert column(with_pre, "b", "employed_no_benefit") == [1, 1, 1, 1, 0, 0, 0, 0, 0]


def test_the_running_sums_count_the_declared_outcomes() -> None:
    res = build_panel(LEDGER, SPELLS, "2016-06-30", weeks=6, spell_types=["education"], declared_outcomes=DECLARED,
                      keep_panel=False)
    means = res.means().set_index(["arm", "week"])
    assert means.loc["control", "hours_20_in_4_weeks"].tolist() == [1.0, 0, 0, 0, 0, 0]
    assert means.loc["treatment", "internship_or_education"].tolist() == [1.0, 1, 0, 0, 1, 0]


def test_the_config_declares_outcomes_with_their_labels() -> None:
    cfg = TrialConfig.from_dict({"trial": {"seed": 1, "treatment_share": 0.5}, "outcomes": {
        "ever_in_internship": {"ever": "in_internship", "label_en": "Ever in internship",
                               "label_da": "Nogensinde i praktik"}}})
    (o,) = AnalysisSettings.from_config(cfg).declared_outcomes
    assert (o.name, o.kind, o.source, o.label("da"), o.label("en")) == (
        "ever_in_internship", "ever", "in_internship", "Nogensinde i praktik", "Ever in internship")
    assert DECLARED[0].label("en") == "Praktik eller uddannelse"     # the other language, when one is missing
    assert DECLARED[1].label("da") == "ever_company_directed"         # the name, when none is given


@pytest.mark.parametrize("table, message", [
    ({"x": {"ever": "in_internship", "window": 3}}, "window and at_least belong to a rolling_sum"),
    ({"x": {"rolling_sum": "ordinary_hours", "window": 0, "at_least": 5}}, "window must be a whole number"),
    ({"x": {"rolling_sum": "ordinary_hours", "window": 52}}, "at_least must be a number above 0"),
    ({"x": {"any_of": []}}, "any_of must be a non-empty list"),
    ({"x": {"any_of": ["a"], "ever": "b"}}, "give exactly one rule"),
    ({"x": {"sum": "a"}}, "unknown key(s) sum"),
    ({"x-y": {"ever": "in_internship"}}, "must be a column name"),
])
def test_a_bad_declaration_names_the_table_and_the_rule(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_outcomes(table, "trial.toml")
    assert "trial.toml: [outcomes." in str(err.value) and message in str(err.value)


def test_an_unknown_operand_is_named_before_the_panel_is_built() -> None:
    bad = parse_outcomes({"x": {"any_of": ["in_internship", "flex_job"]}}, "trial.toml")
    with pytest.raises(ConfigError, match="outcome 'x' reads 'flex_job', which is neither an outcome"):
        build_panel(LEDGER, SPELLS, "2016-06-30", weeks=6, spell_types=["education"], declared_outcomes=bad)
    later = parse_outcomes({"x": {"ever": "y"}, "y": {"ever": "in_internship"}}, "trial.toml")
    with pytest.raises(ConfigError, match="outcome 'x' reads 'y'"):      # declared later: not yet known
        build_panel(LEDGER, SPELLS, "2016-06-30", weeks=6, spell_types=["education"], declared_outcomes=later)


def test_a_partitioned_dataset_gives_the_same_declared_outcome_means(tmp_path) -> None:
    from trialeval import partition_extract
    from trialeval.panel.partitioned import build_partitioned

    LEDGER.to_csv(tmp_path / "ledger.csv", index=False)
    SPELLS.to_csv(tmp_path / "spells.csv", index=False)
    partition_extract(tmp_path / "ledger.csv", tmp_path / "spells.csv", tmp_path / "data", parts=2,
                      spell_types=["education"])
    parts = build_partitioned(tmp_path / "data", tmp_path / "data", "2016-06-30", weeks=6,
                              spell_types=["education"], declared_outcomes=DECLARED)
    flat = build_panel(LEDGER, SPELLS, "2016-06-30", weeks=6, spell_types=["education"], declared_outcomes=DECLARED)
    names = [o.name for o in DECLARED]
    pd.testing.assert_frame_equal(parts.means()[["arm", "week", *names]], flat.means()[["arm", "week", *names]])
