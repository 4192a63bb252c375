"""Input rules at the library's boundary: dates are ISO or an error (or a declared ``date_format``),
and bad seeds, shares, weeks, languages, decimal commas, header-only files and one-arm panels are
clear errors rather than guesses or tracebacks."""

from __future__ import annotations

import datetime

import numpy as np
import pandas as pd
import pytest

from trialeval.config import TrialConfig, load_config
from trialeval.draw import draw, exclude
from trialeval.effects import effects
from trialeval.exceptions import ConfigError, EstimationError, InputDataError
from trialeval.io import (
    check_date_format,
    make_rng,
    parse_date,
    parse_date_column,
    read_ledger,
    read_ledger_table,
    read_population,
    split_date_format,
    validate_ledger,
)
from trialeval.panel import build_panel, read_spells
from trialeval.plots import check_lang

# ---------------------------------------------------------------------------------------------------
# One date given by the user
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["2016-03-01", " 2016-03-01 ", datetime.date(2016, 3, 1),
                                   datetime.datetime(2016, 3, 1, 14, 30), pd.Timestamp("2016-03-01"),
                                   np.datetime64("2016-03-01")])
def test_parse_date_accepts_iso_text_and_date_objects(value):
    assert parse_date(value, "--date") == pd.Timestamp("2016-03-01")


@pytest.mark.parametrize("text", ["01-03-2016", "2016-3-1", "20160301", "now", "03/01/2016", "2016-03-01 00:00",
                                  ""])
def test_parse_date_rejects_other_forms_naming_the_option(text):
    with pytest.raises(InputDataError) as err:
        parse_date(text, "--date")
    assert str(err.value) == f"--date: {text!r} is not a date YYYY-MM-DD"


@pytest.mark.parametrize("text", ["2016-02-30", "2015-02-29", "2016-13-01", "2016-04-31", "0000-01-01"])
def test_parse_date_rejects_days_that_do_not_exist(text):
    with pytest.raises(InputDataError, match=f"--extraction-date: '{text}' is not a calendar date"):
        parse_date(text, "--extraction-date")


def test_parse_date_leap_day_and_open_end():
    assert parse_date("2016-02-29", "d") == pd.Timestamp("2016-02-29")
    assert parse_date("9999-12-31", "d").year == 9999


@pytest.mark.parametrize("value", [None, pd.NaT, 20160301, 2016.0, True, ["2016-03-01"]])
def test_parse_date_rejects_missing_and_other_types(value):
    with pytest.raises(InputDataError, match="^when: "):
        parse_date(value, "when")


def test_draw_and_exclude_take_only_iso_dates():
    pop = pd.DataFrame({"person_id": [f"p{i:02d}" for i in range(20)], "municipality": ["A"] * 20})
    cfg = TrialConfig(seed=1, treatment_share=0.5)
    for bad in ("01-03-2016", "2016-02-30", "now"):
        with pytest.raises(InputDataError, match=f"date: '{bad}' is not a"):
            draw(pop, cfg, {"A": 2}, bad)
    result = draw(pop, cfg, {"A": 2}, datetime.date(2016, 3, 1))
    assert result.manifest_entry["date"] == "2016-03-01"
    ledger = result.ledger
    with pytest.raises(InputDataError, match="date: '2016-13-01' is not a calendar date"):
        exclude(ledger, ledger["person_id"].iat[0], "health", "2016-13-01")
    out = exclude(ledger, ledger["person_id"].iat[0], "health", datetime.date(2016, 4, 1))
    assert out["exclusion_date"].iat[0] == "2016-04-01"


def test_build_panel_extraction_date_is_iso():
    ledger = pd.DataFrame({"person_id": ["a", "b"], "arm": ["treatment", "control"],
                           "visitation_date": ["2016-03-01", "2016-03-01"]})
    spells = pd.DataFrame({"person_id": ["a"], "spell_type": ["internship"], "start_date": ["2016-03-01"],
                           "end_date": ["2016-03-10"]})
    for bad in ("31-12-2016", "2016-02-30", "today"):
        with pytest.raises(InputDataError, match=f"extraction_date: '{bad}' is not a"):
            build_panel(ledger, spells, bad)
    assert build_panel(ledger, spells, datetime.date(2016, 3, 14)).n_rows == 4


# ---------------------------------------------------------------------------------------------------
# Config dates and date_format
# ---------------------------------------------------------------------------------------------------

BASE = "[trial]\nseed = 1\ntreatment_share = 0.5\n"


def config_with(tmp_path, text):
    path = tmp_path / "trial.toml"
    path.write_text(BASE + text)
    return path


@pytest.mark.parametrize("value, words", [
    ('"31-12-2016"', "[analysis] extraction_date: '31-12-2016' is not a date YYYY-MM-DD"),
    ('"2016-02-30"', "[analysis] extraction_date: '2016-02-30' is not a calendar date"),
    ('"now"', "[analysis] extraction_date: 'now' is not a date YYYY-MM-DD"),
    ("2016-12-31T10:00:00", "[analysis] extraction_date is a date and time; give a date YYYY-MM-DD"),
])
def test_config_extraction_date_is_iso(tmp_path, value, words):
    path = config_with(tmp_path, f"[analysis]\nextraction_date = {value}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value).startswith(str(path)) and words in str(err.value)


def test_config_extraction_date_as_toml_date_or_text(tmp_path):
    for value in ("2016-12-31", '"2016-12-31"'):
        cfg = load_config(config_with(tmp_path, f"[analysis]\nextraction_date = {value}\n"))
        assert cfg.analysis["extraction_date"] == pd.Timestamp("2016-12-31")


def test_config_date_format_is_kept_apart_from_the_renames(tmp_path):
    cfg = load_config(config_with(tmp_path, '[columns]\nperson_id = "pnr"\ndate_format = "%d-%m-%Y"\n'))
    assert split_date_format(cfg.columns) == ({"person_id": "pnr"}, "%d-%m-%Y")


@pytest.mark.parametrize("fmt, words", [
    ("%d-%m", "needs a 4-digit year %Y"),
    ("%d/%m/%y", "needs a 4-digit year %Y"),
    ("%Y-%m", "needs a 4-digit year %Y, a month (%m, %b or %B) and a day %d"),
    ("%d-%m-%Y %z", "holds field(s) %z"),
])
def test_config_date_format_is_checked(tmp_path, fmt, words):
    path = config_with(tmp_path, f'[columns]\ndate_format = "{fmt}"\n')
    with pytest.raises(ConfigError, match="date_format") as err:
        load_config(path)
    assert words in str(err.value)


def test_check_date_format_accepts_day_month_year_patterns():
    for fmt in ("%d-%m-%Y", "%d.%m.%Y", "%Y%m%d", "%d %b %Y", "%d/%m/%Y %H:%M:%S"):
        assert check_date_format(fmt, "x") == fmt


# ---------------------------------------------------------------------------------------------------
# Date columns in files
# ---------------------------------------------------------------------------------------------------


def test_date_column_rules_iso():
    values = pd.Series(["2016-03-01", "2016-02-30", "01-03-2016", "2016-3-1", "20160301", None, "",
                        "2016-03-01 00:00:00", "2016-03-01T00:00:00", "2016-03-01garbage", "9999-12-31"])
    days, missing, bad = parse_date_column(values)
    assert bad.tolist() == [False, True, True, True, True, False, False, False, False, True, False]
    assert missing.tolist() == [False] * 5 + [True, True] + [False] * 4
    as_dates = days.astype("datetime64[D]")
    assert str(as_dates[0]) == str(as_dates[7]) == str(as_dates[8]) == "2016-03-01"
    assert str(as_dates[10]) == "9999-12-31"


def test_date_column_with_declared_format_rejects_iso():
    days, missing, bad = parse_date_column(pd.Series(["01-03-2016", "2016-03-01", "30-02-2016", "31-12-9999"]),
                                           "%d-%m-%Y")
    assert bad.tolist() == [False, True, True, False]
    assert str(days[0].astype("datetime64[D]")) == "2016-03-01"
    assert str(days[3].astype("datetime64[D]")) == "9999-12-31"


LEDGER_ROWS = "person_id,arm,visitation_date\n1,treatment,{}\n2,control,{}\n3,control,{}\n"


@pytest.mark.parametrize("reader", [read_ledger, read_ledger_table])
@pytest.mark.parametrize("bad", ["2016-02-30", "01-03-2016", "2016-3-1", "20160301"])
def test_ledger_date_column_rejects_non_iso(tmp_path, reader, bad):
    path = tmp_path / "ledger.csv"
    path.write_text(LEDGER_ROWS.format("2016-03-01", bad, "2016-03-01 00:00:00"))
    with pytest.raises(InputDataError) as err:
        reader(path)
    assert str(err.value) == f"{path}: column 'visitation_date' is not a date YYYY-MM-DD in 1 row (row 2)"


@pytest.mark.parametrize("reader", [read_ledger, read_ledger_table])
def test_ledger_stata_excel_timestamps_still_read(tmp_path, reader):
    path = tmp_path / "ledger.csv"
    path.write_text(LEDGER_ROWS.format("2016-03-01", "2016-03-01 00:00:00", "2016-03-08"))
    out = reader(path)
    dates = (out["visitation_date"].tolist() if isinstance(out, pd.DataFrame)
             else [pd.Timestamp(d) for d in out["visitation_date"].to_pylist()])
    assert dates == [pd.Timestamp("2016-03-01")] * 2 + [pd.Timestamp("2016-03-08")]


@pytest.mark.parametrize("reader", [read_ledger, read_ledger_table])
def test_ledger_declared_date_format(tmp_path, reader):
    path = tmp_path / "ledger.csv"
    path.write_text(LEDGER_ROWS.format("01-03-2016", "08-03-2016", "2016-03-08"))
    rename = {"date_format": "%d-%m-%Y"}
    with pytest.raises(InputDataError) as err:
        reader(path, rename=rename)
    assert str(err.value) == (f"{path}: column 'visitation_date' is not a date in the declared format "
                              "'%d-%m-%Y' ([columns] date_format) in 1 row (row 3)")
    path.write_text(LEDGER_ROWS.format("01-03-2016", "08-03-2016", "31-12-2016"))
    out = reader(path, rename=rename)
    days = out["visitation_date"] if isinstance(out, pd.DataFrame) else out["visitation_date"].to_pandas()
    assert [pd.Timestamp(d).strftime("%Y-%m-%d") for d in days] == ["2016-03-01", "2016-03-08", "2016-12-31"]


def test_ledger_written_by_draw_stays_iso_under_a_date_format(tmp_path):
    path = tmp_path / "ledger.csv"
    path.write_text(LEDGER_ROWS.format("2016-03-01", "2016-03-01", "2016-03-08"))
    (tmp_path / "ledger.manifest.jsonl").write_text("")
    assert len(read_ledger(path, rename={"date_format": "%d-%m-%Y"})) == 3


def test_validate_ledger_takes_a_filtered_frame():
    ledger = pd.DataFrame({"person_id": ["a", "b", "c"], "arm": ["treatment", "control", "treatment"],
                           "visitation_date": ["2016-03-01"] * 3, "wave": ["1", "1", "2"]})
    out = validate_ledger(ledger.iloc[[0, 2]], "ledger")
    assert out["arm"].tolist() == ["treatment", "treatment"]
    assert out["wave"].tolist() == [1, 2]


SPELLS = ("person_id,spell_type,start_date,end_date,hours_per_week\n"
          "a,internship,{},2016-03-20,\nb,ordinary_hours,2016-03-01,2016-03-20,{}\n")
LEDGER = "person_id,arm,visitation_date\na,treatment,2016-03-01\nb,control,2016-03-01\n"


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize("bad", ["2016-02-30", "01-03-2016", "2016-3-1", "20160301"])
def test_spell_dates_are_iso_in_csv_and_parquet(tmp_path, suffix, bad):
    (tmp_path / "ledger.csv").write_text(LEDGER)
    text = SPELLS.format(bad, "37.5")
    path = tmp_path / f"spells{suffix}"
    if suffix == ".csv":
        path.write_text(text)
    else:
        (tmp_path / "s.csv").write_text(text)
        pd.read_csv(tmp_path / "s.csv", dtype=str).to_parquet(path)
    with pytest.raises(InputDataError) as err:
        build_panel(tmp_path / "ledger.csv", path, "2016-12-31")
    assert str(err.value) == f"{path}: column 'start_date' is not a date YYYY-MM-DD in 1 row (row 1)"


def test_spell_dates_typed_in_parquet_and_stata_text_pass(tmp_path):
    (tmp_path / "ledger.csv").write_text(LEDGER)
    (tmp_path / "s.csv").write_text(SPELLS.format("2016-03-01 00:00:00", "37.5"))
    typed = pd.read_csv(tmp_path / "s.csv", parse_dates=["start_date", "end_date"])
    typed.to_parquet(tmp_path / "s.parquet")
    a = build_panel(tmp_path / "ledger.csv", tmp_path / "s.csv", "2016-12-31", weeks=3).to_frame()
    b = build_panel(tmp_path / "ledger.csv", tmp_path / "s.parquet", "2016-12-31", weeks=3).to_frame()
    pd.testing.assert_frame_equal(a, b)
    assert a["in_internship"].tolist() == [1, 1, 1, 0, 0, 0]
    assert a["ordinary_hours"].tolist()[3:] == [37.5, 37.5, 37.5 * 6 / 7]


def test_spells_declared_date_format(tmp_path):
    (tmp_path / "ledger.csv").write_text(LEDGER)
    (tmp_path / "spells.csv").write_text(SPELLS.format("01-03-2016", "37.5").replace("2016-03-20", "20-03-2016")
                                         .replace("2016-03-01", "01-03-2016"))
    (tmp_path / "ledger_dmy.csv").write_text(LEDGER.replace("2016-03-01", "01-03-2016"))
    columns = {"date_format": "%d-%m-%Y"}
    dmy = build_panel(tmp_path / "ledger_dmy.csv", tmp_path / "spells.csv", "2016-12-31", weeks=3,
                      columns=columns).to_frame()
    (tmp_path / "iso.csv").write_text(SPELLS.format("2016-03-01", "37.5"))
    iso = build_panel(tmp_path / "ledger.csv", tmp_path / "iso.csv", "2016-12-31", weeks=3).to_frame()
    pd.testing.assert_frame_equal(dmy, iso)
    # read_spells keeps the declared format with the frame it returns
    frame = read_spells(tmp_path / "spells.csv", rename=columns)
    assert frame.attrs["date_format"] == "%d-%m-%Y"
    assert build_panel(tmp_path / "ledger.csv", frame, "2016-12-31", weeks=3).to_frame().equals(iso)
    with pytest.raises(InputDataError, match="iso.csv: column 'start_date' is not a date in the declared "
                                             "format '%d-%m-%Y'"):
        build_panel(tmp_path / "ledger_dmy.csv", tmp_path / "iso.csv", "2016-12-31", columns=columns)


# ---------------------------------------------------------------------------------------------------
# Numbers, files and arguments
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_decimal_comma_in_hours_is_named(tmp_path, suffix):
    (tmp_path / "ledger.csv").write_text(LEDGER)
    text = SPELLS.format("2016-03-01", '"37,5"')
    path = tmp_path / f"spells{suffix}"
    if suffix == ".csv":
        path.write_text(text)
    else:
        (tmp_path / "s.csv").write_text(text)
        pd.read_csv(tmp_path / "s.csv", dtype=str).to_parquet(path)
    with pytest.raises(InputDataError) as err:
        build_panel(tmp_path / "ledger.csv", path, "2016-12-31")
    assert str(err.value) == (f"{path}: column 'hours_per_week' has a decimal comma, which is not read "
                              "(use '.' as decimal separator) in 1 row (row 2)")


def test_text_in_hours_is_named(tmp_path):
    (tmp_path / "ledger.csv").write_text(LEDGER)
    (tmp_path / "spells.csv").write_text(SPELLS.format("2016-03-01", "full time"))
    with pytest.raises(InputDataError, match="spells.csv: column 'hours_per_week' is not a number in 1 row "
                                             r"\(row 2\)"):
        build_panel(tmp_path / "ledger.csv", tmp_path / "spells.csv", "2016-12-31")


@pytest.mark.parametrize("name, header", [
    ("population.csv", "person_id,municipality\n"),
    ("ledger.csv", "person_id,arm,visitation_date\n"),
])
def test_header_only_population_and_ledger(tmp_path, name, header):
    path = tmp_path / name
    path.write_text(header)
    readers = [read_population] if name == "population.csv" else [read_ledger, read_ledger_table]
    for reader in readers:
        with pytest.raises(InputDataError) as err:
            reader(path)
        assert str(err.value) == f"{path}: has a header but no rows"


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_header_only_spells(tmp_path, suffix):
    (tmp_path / "ledger.csv").write_text(LEDGER)
    path = tmp_path / f"spells{suffix}"
    empty = pd.DataFrame({c: pd.Series([], dtype=str) for c in ("person_id", "spell_type", "start_date",
                                                                 "end_date")})
    if suffix == ".csv":
        empty.to_csv(path, index=False)
    else:
        empty.to_parquet(path)
    with pytest.raises(InputDataError) as err:
        build_panel(tmp_path / "ledger.csv", path, "2016-12-31")
    assert str(err.value) == f"{path}: has a header but no rows"


@pytest.mark.parametrize("weeks", [0, -1, 1041, 10**9])
def test_panel_weeks_within_twenty_years(weeks):
    ledger = pd.DataFrame({"person_id": ["a"], "arm": ["treatment"], "visitation_date": ["2016-03-01"]})
    spells = pd.DataFrame({"person_id": ["a"], "spell_type": ["internship"], "start_date": ["2016-03-01"],
                           "end_date": ["2016-03-10"]})
    with pytest.raises(InputDataError, match=f"weeks must be a whole number between 1 and 1040; got {weeks}"):
        build_panel(ledger, spells, "2016-12-31", weeks=weeks)
    with pytest.raises(InputDataError, match="pre_weeks must be a whole number between 0 and 1040; got 1041"):
        build_panel(ledger, spells, "2016-12-31", pre_weeks=1041)


@pytest.mark.parametrize("share, rounds_to", [(0.0000001, 0), (0.9999999, 1)])
def test_share_that_rounds_to_an_empty_arm(share, rounds_to):
    with pytest.raises(ConfigError, match=f"treatment_share {share!r} rounds to {rounds_to} at the draw's "
                                          r"precision \(1/1000000\)"):
        TrialConfig(seed=1, treatment_share=share)


@pytest.mark.parametrize("share", [0, 1.000001, -0.5, 1.5])      # exactly 1 is a selection design
def test_share_outside_zero_one(tmp_path, share):
    path = tmp_path / "trial.toml"
    path.write_text(f"[trial]\nseed = 1\ntreatment_share = {share}\n")
    with pytest.raises(ConfigError, match=r"\[trial\] treatment_share must be in \(0, 1\)"):
        load_config(path)


@pytest.mark.parametrize("seed, words", [(-1, "seed must be a whole number from 0 to"),
                                         (2**63, "seed must be a whole number from 0 to"),
                                         (1.5, "seed has the wrong type (float)")])
def test_config_seed_is_a_whole_number_from_zero(tmp_path, seed, words):
    path = tmp_path / "trial.toml"
    path.write_text(f"[trial]\nseed = {seed}\ntreatment_share = 0.5\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert f"{path}: [trial] {words}" in str(err.value)
    with pytest.raises(ConfigError, match="seed must be a whole number"):
        TrialConfig(seed=seed, treatment_share=0.5)


@pytest.mark.parametrize("seed", [-1, 1.5, "7", True])
def test_rng_seed_is_a_whole_number_from_zero(seed):
    with pytest.raises(InputDataError, match=f"seed must be a whole number >= 0; got {seed!r}"):
        make_rng(seed)
    assert make_rng(0).random() == np.random.default_rng(0).random()


def two_arm_panel(arms=("treatment", "control")) -> pd.DataFrame:
    rows = []
    for i in range(12):
        for week in (1, 2):
            rows.append({"person_id": f"p{i}", "arm": arms[i % len(arms)], "week": week, "y": float(i % 3)})
    return pd.DataFrame(rows)


def test_effects_seed_and_one_arm():
    with pytest.raises(InputDataError, match="seed must be a whole number >= 0; got -3"):
        effects(two_arm_panel(), "y", rng=-3)
    with pytest.raises(EstimationError) as err:
        effects(two_arm_panel(("treatment",)), "y", source="panel.csv")
    assert str(err.value) == ("panel.csv: the panel has only arm 'treatment'; effects need both arms "
                              "(treatment and control)")
    with pytest.raises(EstimationError, match="only arm 'control'"):
        effects(two_arm_panel(("control",)), "y")
    assert len(effects(two_arm_panel(), "y").to_frame()) == 2


def test_effects_of_a_one_arm_panel_result():
    ledger = pd.DataFrame({"person_id": ["a", "b"], "arm": ["control", "control"],
                           "visitation_date": ["2016-03-01", "2016-03-01"]})
    spells = pd.DataFrame({"person_id": ["a"], "spell_type": ["internship"], "start_date": ["2016-03-01"],
                           "end_date": ["2016-03-10"]})
    for keep in (True, False):
        result = build_panel(ledger, spells, "2016-12-31", weeks=4, keep_panel=keep)
        with pytest.raises(EstimationError, match="the panel has only arm 'control'; effects need both arms"):
            effects(result)


@pytest.mark.parametrize("weeks", [0, -2, ["a"], 2.5])
def test_effects_weeks_checked(weeks):
    with pytest.raises(InputDataError, match="effects: 'weeks' must be a whole number"):
        effects(two_arm_panel(), "y", weeks=weeks)


def test_languages():
    assert check_lang("en") == "en" and check_lang("da") == "da"
    with pytest.raises(InputDataError) as err:
        check_lang("fr", "--lang")
    assert str(err.value) == "--lang: unknown language 'fr'; known languages: en, da"


def test_config_language_checked(tmp_path):
    path = tmp_path / "trial.toml"
    path.write_text(BASE + '[analysis]\nlang = "de"\n')
    with pytest.raises(ConfigError, match=r"\[analysis\] lang: unknown language 'de'; known languages: en, da"):
        load_config(path)


def test_panel_memory_is_planned_before_building(monkeypatch):
    import trialeval.panel as panel_module

    ledger = pd.DataFrame({"person_id": ["a", "b"], "arm": ["treatment", "control"],
                           "visitation_date": ["2016-03-01", "2016-03-01"]})
    spells = pd.DataFrame({"person_id": ["a"], "spell_type": ["internship"], "start_date": ["2016-03-01"],
                           "end_date": ["2016-03-10"]})
    # Many weeks: fewer persons per chunk, the same panel.
    wide = build_panel(ledger, spells, "2036-12-31", weeks=1040)
    assert wide.settings["chunk_persons"] == panel_module.CHUNK_CELLS // 1040
    pd.testing.assert_frame_equal(wide.to_frame(),
                                  build_panel(ledger, spells, "2036-12-31", weeks=1040, chunk_persons=1).to_frame())
    # A kept panel larger than the machine's memory stops before it is built (as if each row took 1 TB).
    monkeypatch.setattr(panel_module, "_KEPT_BYTES_PER_ROW", 2**40)
    with pytest.raises(InputDataError, match=r"the panel would hold 86 person-weeks, about .* GB kept in "
                                             r"memory, more than this machine's .* GB; write it to a file"):
        build_panel(ledger, spells, "2016-12-31")
    assert build_panel(ledger, spells, "2016-12-31", keep_panel=False).n_persons == 2


def test_decimal_comma_in_population_numbers(tmp_path):
    pop = pd.DataFrame({"person_id": [f"p{i}" for i in range(8)], "municipality": "A",
                        "age": ["31", "45,5", "50", "29", "33", "40", "41", "38,0"]})
    rule_cfg = TrialConfig(seed=1, treatment_share=0.5,
                           rules=(TrialConfig.from_dict({"trial": {"seed": 1, "treatment_share": 0.5},
                                                         "eligibility": {"rules": ["age >= 30"]}}).rules))
    with pytest.raises(InputDataError) as err:
        draw(pop, rule_cfg, {"A": 1}, "2016-03-01", source="pop.csv")
    assert str(err.value) == ("pop.csv: column 'age' has a decimal comma, which is not read (use '.' as "
                              "decimal separator) (rule 'age >= 30') in 2 rows (rows 2, 8)")
    band_cfg = TrialConfig(seed=1, treatment_share=0.5, bands={"age": (30.0, 40.0)})
    with pytest.raises(InputDataError, match=r"pop.csv: column 'age' has a decimal comma, which is not read "
                                             r"\(use '.' as decimal separator\) \(used for a stratum band\) "
                                             r"in 2 rows \(rows 2, 8\)"):
        draw(pop, band_cfg, {"A": 4}, "2016-03-01", source="pop.csv")     # all 8 drawn, so all banded


@pytest.mark.parametrize("text, words", [
    ("weeks = 0", "[analysis] weeks must be from 1 to 1040; got 0"),
    ("weeks = 5000", "[analysis] weeks must be from 1 to 1040; got 5000"),
    ("pre_weeks = -1", "[analysis] pre_weeks must be from 0 to 1040; got -1"),
    ("min_days = 9", "[analysis] min_days must be from 1 to 7; got 9"),
    ("min_cell_size = -2", "[analysis] min_cell_size must be from 0 to"),
    ("alpha = 1.5", "[analysis] alpha must be in (0, 1); got 1.5"),
    ("report_weeks = [13, 0]", "[analysis] report_weeks must be whole weeks from 1 to 1040"),
])
def test_config_analysis_ranges(tmp_path, text, words):
    path = config_with(tmp_path, f"[analysis]\n{text}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert f"{path}: {words}" in str(err.value)


def test_power_share_that_empties_an_arm():
    from trialeval.exceptions import DesignError
    from trialeval.power import power

    with pytest.raises(DesignError, match="share 1e-07 of n = 100 leaves fewer than one person in an arm"):
        power(100, share=0.0000001, sd=1.0)
    with pytest.raises(DesignError, match="leaves fewer than one person in an arm"):
        power(100, share=0.999, sd=1.0)
    assert power(100, share=0.01, sd=1.0).mde > 0


def test_semicolon_separated_file_is_named(tmp_path):
    path = tmp_path / "population.csv"
    path.write_text("person_id;municipality;age\np1;Aarhus;37,5\n")
    with pytest.raises(InputDataError) as err:
        read_population(path)
    assert str(err.value) == (f"{path}: required column(s) 'person_id', 'municipality' missing; found "
                              "person_id;municipality;age; the header looks separated by ';' — write the file "
                              "with ',' as separator and '.' as decimal separator")


def test_cost_draws_planned_against_memory(monkeypatch):
    import importlib

    costs_module = importlib.import_module("trialeval.costs")   # the package's `costs` is the function
    effects_table, scenarios = costs_module._example_effects(), costs_module._example_scenarios()
    monkeypatch.setattr(costs_module, "physical_memory", lambda: 2**30)       # a 1 GB machine
    with pytest.raises(InputDataError, match=r"draws = 1000000 would need about 31.0 GB over 520 weeks, more "
                                             r"than half of this machine's 1.0 GB; use fewer draws"):
        costs_module.costs(effects_table, scenarios, draws=1_000_000, rng=1)
    assert len(costs_module.costs(effects_table, scenarios, draws=100, rng=1).to_frame()) > 0
