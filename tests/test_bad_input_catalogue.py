"""The bad-input catalogue: one case per kind of hostile or careless input.

Each case sets up a working folder holding a small drawn trial (population, config, ledger and its
manifest, spells, a panel), changes what the case needs, runs one command as a user would, and asserts
three things: the exit code (1 for bad input, 2 for a usage error), the words of the message that locate
the problem (file or option, column, rule), and that every file in the folder is byte-for-byte what it
was before the command ran — nothing written, nothing deleted, nothing changed.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from trialeval.cli import app
from trialeval.draw import ledger_lock, run_draw
from trialeval.panel import build_panel

runner = CliRunner()


@pytest.fixture(scope="module")
def base_trial(tmp_path_factory) -> Path:
    """Two waves drawn in two municipalities, spells for everyone, and the panel built from them."""
    d = tmp_path_factory.mktemp("catalogue_base")
    rng = np.random.default_rng(11)
    n = 120
    pd.DataFrame({
        "person_id": [f"P{i:05d}" for i in range(n)],
        "municipality": np.where(np.arange(n) < 70, "North", "South"),
        "gender": rng.choice(["F", "M"], n),
        "age": rng.integers(30, 60, n),
        "education": rng.choice(["basic", "vocational"], n),
    }).to_csv(d / "population.csv", index=False)
    (d / "trial.toml").write_text(
        '[trial]\nseed = 5\ntreatment_share = 0.5\n'
        '[eligibility]\nrules = ["age >= 30"]\n'
        '[strata]\ncolumns = ["gender"]\n'
        '[analysis]\nextraction_date = "2016-10-31"\nweeks = 20\ncovariates = ["gender", "age"]\n'
    )
    run_draw(d / "population.csv", d / "trial.toml", d / "ledger.csv", ["North=10", "South=6"], "2016-03-01")
    run_draw(d / "population.csv", d / "trial.toml", d / "ledger.csv", ["North=6"], "2016-03-08")
    ledger = pd.read_csv(d / "ledger.csv", dtype={"person_id": str})
    v = pd.to_datetime(ledger["visitation_date"])
    pd.concat([
        pd.DataFrame({"person_id": ledger["person_id"], "spell_type": "benefit",
                      "start_date": v - pd.Timedelta(days=300), "end_date": v + pd.Timedelta(days=60),
                      "hours_per_week": np.nan}),
        pd.DataFrame({"person_id": ledger["person_id"][::3], "spell_type": "ordinary_hours",
                      "start_date": v[::3] + pd.Timedelta(days=21), "end_date": v[::3] + pd.Timedelta(days=80),
                      "hours_per_week": 15.0}),
    ], ignore_index=True).to_csv(d / "spells.csv", index=False, date_format="%Y-%m-%d")
    build_panel(d / "ledger.csv", d / "spells.csv", "2016-10-31", weeks=20, out=d / "panel.parquet")
    return d


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path → bytes)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def replace_in(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, count))


@dataclass(frozen=True)
class Case:
    """One row of the catalogue: how to spoil the folder, the command, and what the user must be told."""

    name: str
    args: Callable[[Path], list[str]]
    words: tuple[str, ...]
    prepare: Callable[[Path], None] = lambda d: None
    exit_code: int = 1
    during: Callable[[Path], AbstractContextManager[object]] = lambda d: contextlib.nullcontext()


def _draw(d: Path, *extra: str, date: str = "2016-03-15") -> list[str]:
    return ["draw", "--population", str(d / "population.csv"), "--config", str(d / "trial.toml"),
            "--ledger", str(d / "ledger.csv"), "--request", "South=4", "--date", date, *extra]


def _panel(d: Path, *extra: str, out: str = "panel2.parquet") -> list[str]:
    return ["panel", "--ledger", str(d / "ledger.csv"), "--spells", str(d / "spells.csv"),
            "--extraction-date", "2016-10-31", "--weeks", "20", "--out", str(d / out), *extra]


def _balance(d: Path, *extra: str, out: str = "balance.csv") -> list[str]:
    return ["balance", "--ledger", str(d / "ledger.csv"), "--config", str(d / "trial.toml"),
            "--ri-draws", "0", "--out", str(d / out), *extra]


def _effects(d: Path, *extra: str, panel: str = "panel.parquet", out: str = "effects.csv") -> list[str]:
    return ["effects", "--panel", str(d / panel), "--outcomes", "has_ordinary_hours",
            "--out", str(d / out), *extra]


def _append_ledger_row(d: Path) -> None:
    lines = (d / "ledger.csv").read_text().splitlines(keepends=True)
    (d / "ledger.csv").write_text("".join(lines) + lines[-1].replace("P", "Q", 1))


def _interrupted_draw(d: Path) -> None:
    """A third wave killed between its two renames: the manifest records it, the ledger never got it."""
    before = (d / "ledger.csv").read_bytes()
    run_draw(d / "population.csv", d / "trial.toml", d / "ledger.csv", ["South=2"], "2016-03-15")
    (d / "ledger.csv").write_bytes(before)


def _header_only(name: str) -> Callable[[Path], None]:
    def prepare(d: Path) -> None:
        path = d / name
        path.write_text(path.read_text().splitlines(keepends=True)[0])
    return prepare


def _pad_first_id(d: Path) -> None:
    replace_in(d / "population.csv", "\nP00000,", "\n P00000 ,")


def _one_arm_panel(d: Path) -> None:
    panel = pd.read_parquet(d / "panel.parquet")
    panel.loc[panel["arm"] == "treatment"].to_parquet(d / "panel.parquet", index=False)


def _strip_spell_ids(d: Path) -> None:
    spells = pd.read_csv(d / "spells.csv", dtype={"person_id": str})
    spells["person_id"] = spells["person_id"].str.lstrip("P0")  # another register's number, not the trial's id
    spells.to_csv(d / "spells.csv", index=False)


def _keep_few_spells(d: Path) -> None:
    spells = pd.read_csv(d / "spells.csv", dtype={"person_id": str})
    few = spells["person_id"].drop_duplicates().iloc[:8]
    spells.loc[spells["person_id"].isin(few)].to_csv(d / "spells.csv", index=False)


def _hours_with_comma(d: Path) -> None:
    replace_in(d / "spells.csv", ",15.0\n", ',"37,5"\n')


def _panel_with_person_column(d: Path) -> None:
    panel = pd.read_parquet(d / "panel.parquet")
    panel["pnr"] = panel["person_id"].str.replace("P", "9")
    panel.to_parquet(d / "panel.parquet", index=False)


CASES = [
    # --- the randomisation -------------------------------------------------------------------------
    Case("another draw holds the ledger", lambda d: _draw(d, "--lock-timeout", "0.2"),
         ("ledger.csv", "another draw or exclusion is writing this ledger", "0.2 s"),
         during=lambda d: ledger_lock(d / "ledger.csv")),
    Case("another draw holds the ledger, then exclude", lambda d: [
        "exclude", "--ledger", str(d / "ledger.csv"), "--person", "P00001", "--reason", "health",
        "--lock-timeout", "0"], ("another draw or exclusion is writing this ledger",),
         during=lambda d: ledger_lock(d / "ledger.csv")),
    Case("draw killed between its two renames", lambda d: _draw(d, date="2016-03-22"),
         ("wave 3", "its ledger was never written", "remove the last line"), prepare=_interrupted_draw),
    Case("ledger edited by hand after its manifest", lambda d: _draw(d),
         ("ledger.csv", "manifest"), prepare=_append_ledger_row),
    Case("manifest deleted", lambda d: _draw(d), ("ledger.manifest.jsonl",),
         prepare=lambda d: (d / "ledger.manifest.jsonl").unlink()),
    Case("manifest deleted, then balance", lambda d: _balance(d), ("ledger.manifest.jsonl",),
         prepare=lambda d: (d / "ledger.manifest.jsonl").unlink()),
    Case("later wave with another seed", lambda d: _draw(d), ("seed", "--design-change"),
         prepare=lambda d: replace_in(d / "trial.toml", "seed = 5", "seed = 6")),
    Case("later wave with another share", lambda d: _draw(d), ("treatment_share", "--design-change"),
         prepare=lambda d: replace_in(d / "trial.toml", "treatment_share = 0.5", "treatment_share = 0.4")),
    Case("later wave with other rules", lambda d: _draw(d), ("age >= 35", "--design-change"),
         prepare=lambda d: replace_in(d / "trial.toml", '"age >= 30"', '"age >= 35"')),
    Case("later wave with other strata", lambda d: _draw(d), ("strata", "--design-change"),
         prepare=lambda d: replace_in(d / "trial.toml", '["gender"]', '["gender", "education"]')),
    # --- dates ----------------------------------------------------------------------------------------
    Case("day-first date on the command line", lambda d: _draw(d, date="01-03-2016"),
         ("--date", "01-03-2016", "YYYY-MM-DD")),
    Case("impossible date", lambda d: _draw(d, date="2016-02-30"), ("--date", "2016-02-30")),
    Case("a word for a date", lambda d: ["exclude", "--ledger", str(d / "ledger.csv"), "--person", "P00000",
                                         "--reason", "health", "--date", "now"], ("--date", "now")),
    Case("day-first extraction date", lambda d: [*_panel(d)[:5], "--extraction-date", "31-10-2016",
                                                 *_panel(d)[7:]], ("--extraction-date", "31-10-2016")),
    Case("non-ISO date in the config", lambda d: _balance(d), ("trial.toml", "extraction_date", "31/10/2016"),
         prepare=lambda d: replace_in(d / "trial.toml", '"2016-10-31"', '"31/10/2016"')),
    Case("day-first date column in spells", lambda d: _panel(d), ("spells.csv", "start_date", "row"),
         prepare=lambda d: (d / "spells.csv").write_text(
             pd.read_csv(d / "spells.csv", dtype=str).assign(start_date=lambda s: pd.to_datetime(
                 s["start_date"]).dt.strftime("%d-%m-%Y")).to_csv(index=False))),
    # --- outputs --------------------------------------------------------------------------------------
    Case("output names an input", lambda d: _balance(d, out="ledger.csv"), ("--out", "ledger.csv", "input")),
    Case("effects output names its panel", lambda d: _effects(d, out="panel.parquet"),
         ("--out", "panel.parquet", "input")),
    Case("ledger named as the population", lambda d: ["draw", "--population", str(d / "population.csv"),
                                                      "--config", str(d / "trial.toml"),
                                                      "--ledger", str(d / "population.csv"),
                                                      "--request", "South=2", "--date", "2016-03-15"],
         ("--ledger", "population.csv", "is the input --population")),
    Case("output names the spells", lambda d: _panel(d, out="spells.csv"), ("--out", "spells.csv")),
    Case("output names an existing manifest", lambda d: _effects(d, out="ledger.manifest.jsonl"),
         ("ledger.manifest.jsonl",)),
    Case("output is an existing ledger of another trial", lambda d: _effects(d, out="old_ledger.csv"),
         ("old_ledger.csv", "ledger"),
         prepare=lambda d: shutil.copyfile(d / "ledger.csv", d / "old_ledger.csv")),
    Case("demo into a folder holding a trial", lambda d: ["demo", "--dir", str(d)], ("ledger.csv",)),
    Case("unwritable output folder", lambda d: _balance(d, out="trial.toml/balance.csv"),
         ("trial.toml",)),
    # --- ids ------------------------------------------------------------------------------------------
    Case("id with surrounding spaces", lambda d: _draw(d), ("population.csv", "person_id", "row 1"),
         prepare=_pad_first_id),
    Case("spells match no ledger id", lambda d: _panel(d), ("spells.csv", "no spell matches", "different id columns"),
         prepare=_strip_spell_ids),
    Case("spells match too few ledger ids", lambda d: _panel(d), ("spells", "%"), prepare=_keep_few_spells),
    # --- numbers and shapes ---------------------------------------------------------------------------
    Case("decimal comma in hours", lambda d: _panel(d), ("spells.csv", "hours_per_week", "decimal comma", "row 45"),
         prepare=_hours_with_comma),
    Case("text in hours", lambda d: _panel(d), ("spells.csv", "hours_per_week"),
         prepare=lambda d: replace_in(d / "spells.csv", ",15.0\n", ",full time\n")),
    Case("header-only population", lambda d: _draw(d), ("population.csv", "no rows"),
         prepare=_header_only("population.csv")),
    Case("header-only spells", lambda d: _panel(d), ("spells.csv", "no rows"), prepare=_header_only("spells.csv")),
    Case("absurd number of weeks", lambda d: [*_panel(d)[:7], "--weeks", "100000", *_panel(d)[9:]],
         ("weeks", "between 1 and 1040", "100000")),
    Case("share that rounds to 1", lambda d: _draw(d), ("treatment_share",),
         prepare=lambda d: replace_in(d / "trial.toml", "treatment_share = 0.5", "treatment_share = 0.99999999")),
    Case("share that rounds to 0", lambda d: _draw(d), ("treatment_share",),
         prepare=lambda d: replace_in(d / "trial.toml", "treatment_share = 0.5", "treatment_share = 0.00000001")),
    Case("negative seed", lambda d: _draw(d), ("seed", "-5"),
         prepare=lambda d: replace_in(d / "trial.toml", "seed = 5", "seed = -5")),
    Case("one-group panel", lambda d: _effects(d), ("treatment", "both"), prepare=_one_arm_panel),
    Case("unknown language", lambda d: [*_effects(d), "--lang", "de", "--plot", str(d / "fig.png")],
         ("--lang", "de")),
    Case("unknown language in the report", lambda d: ["report", "--config", str(d / "trial.toml"),
                                                      "--dir", str(d), "--lang", "xx"], ("--lang", "xx")),
    # --- disclosure -----------------------------------------------------------------------------------
    Case("id as a balance covariate", lambda d: _balance(d, "--covariates", "person_id,age"),
         ("--covariates", "person_id", "would disclose persons")),
    Case("person-unique column as a block", lambda d: _effects(d, "--blocks", "pnr"),
         ("--blocks", "pnr", "unique per person"), prepare=_panel_with_person_column),
    Case("person-unique column as a cluster", lambda d: _effects(d, "--cluster", "pnr"),
         ("--cluster", "pnr", "unique per person"), prepare=_panel_with_person_column),
    Case("person-unique column as a covariate", lambda d: _effects(d, "--covariates", "pnr"),
         ("--covariates", "pnr", "unique per person"), prepare=_panel_with_person_column),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_a_clear_error_and_nothing_changes(case: Case, base_trial: Path, tmp_path: Path) -> None:
    work = tmp_path / "work"
    shutil.copytree(base_trial, work)
    case.prepare(work)
    before = snapshot(work)
    with case.during(work):
        result = runner.invoke(app, case.args(work))
    message = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert result.exit_code == case.exit_code, message
    assert "Traceback" not in message
    for word in case.words:
        assert word in message, f"{word!r} not in: {message}"
    assert snapshot(work) == before
