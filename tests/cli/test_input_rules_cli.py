"""Bad input on the command line: exit 1 (2 for usage), a message naming what and where, no traceback,
and every file in the working folder byte-for-byte unchanged (nothing written, nothing replaced)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from trialeval.cli import app
from trialeval.draw import run_draw
from trialeval.panel import build_panel, write_panel

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]

CONFIG = """[trial]
seed = 11
treatment_share = 0.5
[analysis]
extraction_date = "2016-12-31"
weeks = 20
"""


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """A small trial: population, config, a drawn ledger with its manifest, spells and a panel."""
    folder = tmp_path_factory.mktemp("trial")
    n = 60
    pd.DataFrame({"person_id": [f"P{i:03d}" for i in range(n)], "municipality": ["A"] * 30 + ["B"] * 30,
                  "age": np.arange(n) % 40 + 20}).to_csv(folder / "population.csv", index=False)
    (folder / "trial.toml").write_text(CONFIG)
    run_draw(folder / "population.csv", folder / "trial.toml", folder / "ledger.csv", ["A=5", "B=5"],
             "2016-03-01")
    ledger = pd.read_csv(folder / "ledger.csv", dtype=str)
    ids = ledger["person_id"]
    spells = pd.DataFrame({
        "person_id": list(ids) + list(ids[::2]),
        "spell_type": ["internship"] * len(ids) + ["ordinary_hours"] * len(ids[::2]),
        "start_date": ["2016-03-15"] * len(ids) + ["2016-04-01"] * len(ids[::2]),
        "end_date": ["2016-04-30"] * len(ids) + ["2016-06-30"] * len(ids[::2]),
        "hours_per_week": [""] * len(ids) + ["12.5"] * len(ids[::2]),
    })
    spells.to_csv(folder / "spells.csv", index=False)
    write_panel(build_panel(folder / "ledger.csv", folder / "spells.csv", "2016-12-31", weeks=20),
                folder / "panel.parquet")
    shutil.copyfile(ROOT / "sample_data" / "costs.toml", folder / "costs.toml")
    return folder


@pytest.fixture
def trial(base: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "trial"
    shutil.copytree(base, folder)
    return folder


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def fails(folder: Path, args: list[str], code: int, *words: str) -> str:
    """Run the command; check the exit code, the words of the message and that no file changed."""
    before = snapshot(folder)
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    for word in words:
        assert word in result.output, (word, result.output)
    assert snapshot(folder) == before
    return result.output


def draw_args(t: Path, date: str = "2016-04-01", config: str = "trial.toml") -> list:
    return ["draw", "--population", t / "population.csv", "--config", t / config, "--ledger",
            t / "ledger.csv", "--request", "A=2", "--date", date]


def panel_args(t: Path, spells: str = "spells.csv", ledger: str = "ledger.csv") -> list:
    return ["panel", "--ledger", t / ledger, "--spells", t / spells, "--out", t / "out" / "p.parquet"]


# ---------------------------------------------------------------------------------------------------
# Dates
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("date, rule", [("01-03-2016", "is not a date YYYY-MM-DD"),
                                        ("now", "is not a date YYYY-MM-DD"),
                                        ("2016-3-1", "is not a date YYYY-MM-DD"),
                                        ("20160301", "is not a date YYYY-MM-DD"),
                                        ("2016-02-30", "is not a calendar date")])
def test_draw_and_exclude_dates(trial, date, rule):
    fails(trial, draw_args(trial, date), 1, f"Error: --date: '{date}' {rule}")
    person = pd.read_csv(trial / "ledger.csv", dtype=str)["person_id"].iat[0]
    fails(trial, ["exclude", "--ledger", trial / "ledger.csv", "--person", person, "--reason", "health",
                  "--date", date], 1, f"Error: --date: '{date}' {rule}")


@pytest.mark.parametrize("date", ["31-12-2016", "2016-12-32", "today"])
def test_panel_extraction_date_option(trial, date):
    fails(trial, [*panel_args(trial), "--extraction-date", date], 1, f"Error: --extraction-date: '{date}' is not a")


def test_config_extraction_date(trial):
    (trial / "bad.toml").write_text(CONFIG.replace('"2016-12-31"', '"12/31/2016"'))
    fails(trial, [*panel_args(trial), "--config", trial / "bad.toml"], 1,
          "bad.toml: [analysis] extraction_date: '12/31/2016' is not a date YYYY-MM-DD")
    fails(trial, draw_args(trial, config="bad.toml"), 1, "bad.toml: [analysis] extraction_date")


@pytest.mark.parametrize("bad", ["2016-02-30", "01-03-2016", "2016-3-1", "20160301"])
def test_date_columns_in_files(trial, bad):
    spells = pd.read_csv(trial / "spells.csv", dtype=str)
    spells.loc[[2, 5], "end_date"] = bad
    spells.to_csv(trial / "bad_spells.csv", index=False)
    fails(trial, [*panel_args(trial, "bad_spells.csv"), "--extraction-date", "2016-12-31"], 1,
          "bad_spells.csv: column 'end_date' is not a date YYYY-MM-DD in 2 rows (rows 3, 6)")
    ledger = pd.read_csv(trial / "ledger.csv", dtype=str, keep_default_na=False)
    ledger.loc[4, "visitation_date"] = bad
    # a ledger of a trial randomised elsewhere (no draw strata, so no manifest is needed)
    ledger.drop(columns="stratum").to_csv(trial / "bad_ledger.csv", index=False)
    fails(trial, [*panel_args(trial, ledger="bad_ledger.csv"), "--extraction-date", "2016-12-31"], 1,
          "bad_ledger.csv: column 'visitation_date' is not a date YYYY-MM-DD in 1 row (row 5)")
    fails(trial, ["balance", "--ledger", trial / "bad_ledger.csv", "--out", trial / "out" / "b.csv"], 1,
          "bad_ledger.csv: column 'visitation_date' is not a date YYYY-MM-DD in 1 row (row 5)")


def test_declared_date_format(trial):
    """With [columns] date_format the files' dates in that format are read, ISO ones are an error, and
    the ledger that draw wrote (ISO, with its manifest) is still read."""
    (trial / "dmy.toml").write_text(CONFIG + '[columns]\ndate_format = "%d-%m-%Y"\n')
    spells = pd.read_csv(trial / "spells.csv", dtype=str, keep_default_na=False)
    for col in ("start_date", "end_date"):
        spells[col] = pd.to_datetime(spells[col]).dt.strftime("%d-%m-%Y")
    spells.to_csv(trial / "dmy_spells.csv", index=False)
    fails(trial, [*panel_args(trial), "--config", trial / "dmy.toml"], 1,
          "spells.csv: column 'start_date' is not a date in the declared format '%d-%m-%Y' "
          "([columns] date_format) in")
    fails(trial, [*panel_args(trial, "dmy_spells.csv"), "--extraction-date", "2016-12-31"], 1,
          "dmy_spells.csv: column 'start_date' is not a date YYYY-MM-DD in")
    result = runner.invoke(app, [str(a) for a in [*panel_args(trial, "dmy_spells.csv"), "--config",
                                                  trial / "dmy.toml"]])
    assert result.exit_code == 0, result.output
    expected = build_panel(trial / "ledger.csv", trial / "spells.csv", "2016-12-31", weeks=20).to_frame()
    pd.testing.assert_frame_equal(pd.read_parquet(trial / "out" / "p.parquet"), expected)


def test_bad_date_format_in_config(trial):
    (trial / "bad.toml").write_text(CONFIG + '[columns]\ndate_format = "%d/%m/%y"\n')
    fails(trial, [*panel_args(trial), "--config", trial / "bad.toml"], 1,
          "bad.toml: [columns] date_format: '%d/%m/%y' needs a 4-digit year %Y")


# ---------------------------------------------------------------------------------------------------
# Numbers, header-only files, weeks, shares, seeds, one arm, languages
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value, words", [
    ("12,5", "has a decimal comma, which is not read (use '.' as decimal separator) in 2 rows (rows "),
    ("full time", "is not a number in 2 rows (rows "),
])
def test_hours_per_week_text_and_decimal_comma(trial, value, words):
    spells = pd.read_csv(trial / "spells.csv", dtype=str, keep_default_na=False)
    hours_rows = spells.index[spells["spell_type"] == "ordinary_hours"][:2]
    spells.loc[hours_rows, "hours_per_week"] = value
    spells.to_csv(trial / "bad_spells.csv", index=False)
    rows = ", ".join(str(i + 1) for i in hours_rows)
    fails(trial, [*panel_args(trial, "bad_spells.csv"), "--extraction-date", "2016-12-31"], 1,
          f"bad_spells.csv: column 'hours_per_week' {words}{rows})")


def header_only(trial: Path, name: str) -> Path:
    path = trial / f"empty_{name}"
    if name.endswith(".parquet"):
        pd.read_parquet(trial / name).head(0).to_parquet(path)
    else:
        path.write_text((trial / name).read_text().splitlines()[0] + "\n")
    return path


def test_header_only_files(trial):
    pop = header_only(trial, "population.csv")
    fails(trial, ["draw", "--population", pop, "--config", trial / "trial.toml", "--ledger", trial / "ledger.csv",
                  "--request", "A=1", "--date", "2016-04-01"], 1, f"{pop}: has a header but no rows")
    ledger = header_only(trial, "ledger.csv")
    fails(trial, [*panel_args(trial, ledger=ledger.name), "--extraction-date", "2016-12-31"], 1,
          f"{ledger}: has a header but no rows")
    fails(trial, ["balance", "--ledger", ledger, "--out", trial / "out" / "b.csv"], 1,
          f"{ledger}: has a header but no rows")
    spells = header_only(trial, "spells.csv")
    fails(trial, [*panel_args(trial, spells.name), "--extraction-date", "2016-12-31"], 1,
          f"{spells}: has a header but no rows")
    panel = header_only(trial, "panel.parquet")
    fails(trial, ["effects", "--panel", panel, "--out", trial / "out" / "e.csv"], 1,
          f"{panel}: has a header but no rows")


@pytest.mark.parametrize("weeks", ["0", "-1", "1041", "1000000000"])
def test_panel_weeks_limit(trial, weeks):
    fails(trial, [*panel_args(trial), "--extraction-date", "2016-12-31", "--weeks", weeks], 1,
          f"weeks must be a whole number between 1 and 1040; got {weeks}")


@pytest.mark.parametrize("share, words", [
    ("0.0000001", "[trial] treatment_share 1e-07 rounds to 0 at the draw's precision"),
    ("0.9999999", "[trial] treatment_share 0.9999999 rounds to 1 at the draw's precision"),
    ("1.5", "[trial] treatment_share must be in (0, 1); got 1.5"),     # exactly 1 is a selection design
    ("0.0", "[trial] treatment_share must be in (0, 1); got 0.0"),
])
def test_share_that_rounds_to_an_empty_arm(trial, share, words):
    (trial / "share.toml").write_text(CONFIG.replace("treatment_share = 0.5", f"treatment_share = {share}"))
    fails(trial, draw_args(trial, config="share.toml"), 1, "share.toml: " + words)


@pytest.mark.parametrize("seed, words", [("-1", "[trial] seed must be a whole number from 0 to"),
                                         ("2.5", "[trial] seed has the wrong type (float)")])
def test_config_seed(trial, seed, words):
    (trial / "seed.toml").write_text(CONFIG.replace("seed = 11", f"seed = {seed}"))
    fails(trial, draw_args(trial, config="seed.toml"), 1, "seed.toml: " + words)


def test_negative_and_non_integer_seed_options(trial):
    fails(trial, ["balance", "--ledger", trial / "ledger.csv", "--out", trial / "out" / "b.csv", "--covariates", "age",
                  "--seed", "-1"],
          1, "seed must be a whole number >= 0; got -1")
    fails(trial, ["effects", "--panel", trial / "panel.parquet", "--out", trial / "out" / "e.csv", "--ri", "10",
                  "--seed", "-7"], 1, "seed must be a whole number >= 0; got -7")
    fails(trial, ["effects", "--panel", trial / "panel.parquet", "--out", trial / "out" / "e.csv",
                  "--seed", "1.5"], 2, "--seed")


def test_one_arm_panel_in_effects(trial):
    panel = pd.read_parquet(trial / "panel.parquet")
    panel.loc[panel["arm"] == "control"].to_parquet(trial / "controls.parquet")
    fails(trial, ["effects", "--panel", trial / "controls.parquet", "--out", trial / "out" / "e.csv",
                  "--plot", trial / "out" / "e.png"], 1,
          f"{trial / 'controls.parquet'}: the panel has only arm 'control'; effects need both arms")


@pytest.mark.parametrize("command", ["effects", "costs", "report", "demo"])
def test_unknown_language_before_anything_is_written(trial, command):
    out = trial / "out"
    args = {
        "effects": ["effects", "--panel", trial / "panel.parquet", "--out", out / "e.csv", "--plot", out / "e.png"],
        "costs": ["costs", "--effects", trial / "effects.csv", "--scenarios", trial / "costs.toml",
                  "--out", out / "c.csv"],
        "report": ["report", "--config", trial / "trial.toml", "--dir", trial],
        "demo": ["demo", "--dir", out / "demo", "--data", ROOT / "sample_data"],
    }[command]
    fails(trial, [*args, "--lang", "fr"], 1, "--lang: unknown language 'fr'; known languages: en, da")
    assert not out.exists()


def test_report_weeks_option_is_a_usage_error(trial):
    fails(trial, ["report", "--config", trial / "trial.toml", "--dir", trial, "--weeks", "13,abc"], 2,
          "--weeks")
    fails(trial, ["report", "--config", trial / "trial.toml", "--dir", trial, "--weeks", "0,13"], 2,
          "weeks must be from 1 to 1040")


@pytest.mark.parametrize("args, words", [
    (["draw", "--population", "{t}/population.csv", "--config", "{t}/trial.toml", "--ledger", "{t}/ledger.csv",
      "--request", "A=1", "--date", "01-03-2016"], "Error: --date: '01-03-2016' is not a date YYYY-MM-DD"),
    (["panel", "--ledger", "{t}/ledger.csv", "--spells", "{t}/spells.csv", "--out", "{t}/out/p.parquet",
      "--extraction-date", "2016-12-31", "--weeks", "5000"], "weeks must be a whole number between 1 and 1040"),
])
def test_real_executable_gives_a_message_not_a_traceback(trial, args, words):
    before = snapshot(trial)
    done = subprocess.run([sys.executable, "-m", "trialeval.cli", *[a.format(t=trial) for a in args]],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert words in done.stderr and "Traceback" not in done.stderr + done.stdout
    assert snapshot(trial) == before


def test_figure_path_that_is_not_a_figure(trial):
    out = trial / "out"
    fails(trial, ["balance", "--ledger", trial / "ledger.csv", "--covariates", "age", "--out", out / "b.csv",
                  "--plot", out / "love.txt"], 1, f"--plot: '{out / 'love.txt'}' is not a figure file; use .png, .pdf or .svg")
    fails(trial, ["costs", "--effects", trial / "effects.csv", "--scenarios", trial / "costs.toml",
                  "--out", out / "c.csv", "--plot", out / "costs"], 1, "is not a figure file")
    assert not out.exists()
