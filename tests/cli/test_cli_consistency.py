"""The command line's conventions: flags are flags, global options go before or after the command, each
``--weeks`` means one thing, and a bad option value stops a command before it writes anything."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from trialeval.cli import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_data"
MATCHING = ('\n[matching]\ncovariates = ["gender", "age"]\nexact = ["gender"]\n'
            'history = { weeks = [52], measures = ["benefit"] }\n')


def commands() -> dict[str, typer.main.TyperCommand]:
    return typer.main.get_command(app).commands  # type: ignore[attr-defined,no-any-return]


def test_every_boolean_option_is_a_flag():
    """A bool (or optional bool) parameter of every command is a flag (--band, --drop-x/--keep-x), never an
    option taking true/false text; no other option takes true/false text either."""
    import typing

    booleans = 0
    for name, command in commands().items():
        hints = typing.get_type_hints(command.callback)
        for param in command.params:
            if getattr(param, "param_type_name", "") != "option" or param.name not in hints:
                continue
            hint = hints[param.name]
            if hint is bool or hint == typing.Optional[bool]:
                booleans += 1
                assert param.is_flag, f"{name} {param.opts}: a boolean option must be a flag, not --x true"
            else:
                assert not param.is_flag or param.name == "version"
                assert "true/false" not in (param.help or "").lower(), (name, param.opts)
    assert booleans >= 10


@pytest.mark.parametrize("where", ["before", "after"])
def test_global_options_are_accepted_before_and_after_the_command(where):
    power = ["power", "--n", "4800", "--proportion", "0.07"]
    args = (["--quiet", *power] if where == "before" else [*power, "--quiet"])
    quiet = runner.invoke(app, args)
    assert quiet.exit_code == 0 and quiet.output == ""
    args = (["--lang", "da", *power] if where == "before" else [*power, "--lang", "da"])
    danish = runner.invoke(app, args)
    assert danish.exit_code == 0 and "N = 4.800 (2.400 treatment" in danish.output
    assert runner.invoke(app, [*power, "--verbose"]).exit_code == 0
    bad = runner.invoke(app, [*power, "--lang", "de"])
    assert bad.exit_code == 2 and "must be en or da" in bad.output


def test_a_commands_own_option_is_not_taken_for_the_global_one(tmp_path):
    """panel has its own --quiet (no progress bar, the summary still prints); report its own --lang."""
    hidden = {name: {o for p in c.params for o in getattr(p, "opts", ())} for name, c in commands().items()}
    assert "--quiet" in hidden["panel"] and "--lang" in hidden["report"]
    from trialeval.cli._app import _hoist

    group = typer.main.get_command(app)
    assert _hoist(group, ["panel", "--out", "-q", "--quiet"]) == ["panel", "--out", "-q", "--quiet"]  # type: ignore[arg-type]
    assert _hoist(group, ["report", "--lang", "da", "-v"]) == ["-v", "report", "--lang", "da"]  # type: ignore[arg-type]
    assert _hoist(group, ["balance", "--covariates", "--quiet", "--quiet"]) == [  # type: ignore[arg-type]
        "--quiet", "balance", "--covariates", "--quiet"]


def test_weeks_has_one_meaning_per_name():
    def visible(command: str) -> set[str]:
        return {o for p in commands()[command].params if not getattr(p, "hidden", False)
                for o in getattr(p, "opts", ())}

    assert "--weeks" in visible("panel")
    assert "--last-week" in visible("effects") and "--weeks" not in visible("effects")
    assert "--table-weeks" in visible("report") and "--weeks" not in visible("report")
    help_text = runner.invoke(app, ["effects", "--help"]).output
    assert "--last-week" in help_text and "--weeks " not in help_text


def _long_panel(path: Path) -> Path:
    import numpy as np

    rng = np.random.default_rng(5)
    n, weeks = 120, 8
    arm = np.where(np.arange(n) % 2, "treatment", "control")
    pd.DataFrame({"person_id": np.repeat([f"p{i}" for i in range(n)], weeks), "arm": np.repeat(arm, weeks),
                  "week": np.tile(np.arange(1, weeks + 1), n),
                  "municipality": np.repeat(np.where(np.arange(n) % 3, "A", "B"), weeks),
                  "employed": rng.integers(0, 2, n * weeks)}).to_csv(path, index=False)
    return path


def test_old_weeks_spelling_still_works_and_gives_the_same_table(tmp_path):
    panel = _long_panel(tmp_path / "panel.csv")
    new = runner.invoke(app, ["effects", "--panel", str(panel), "--outcomes", "employed", "--last-week", "5",
                              "--out", str(tmp_path / "new.csv")])
    old = runner.invoke(app, ["effects", "--panel", str(panel), "--outcomes", "employed", "--weeks", "5",
                              "--out", str(tmp_path / "old.csv")])
    assert new.exit_code == 0 and old.exit_code == 0, new.output + old.output
    a, b = pd.read_csv(tmp_path / "new.csv"), pd.read_csv(tmp_path / "old.csv")
    pd.testing.assert_frame_equal(a, b)
    assert a["week"].max() == 5
    both = runner.invoke(app, ["effects", "--panel", str(panel), "--outcomes", "employed", "--weeks", "5",
                               "--last-week", "5", "--out", str(tmp_path / "both.csv")])
    assert both.exit_code == 2 and "old name of --last-week" in both.output
    assert not (tmp_path / "both.csv").exists()


def _cases(d: Path) -> dict[str, tuple[list[str], int, str, list[Path]]]:
    """Per command: arguments with one bad option value, the exit code, a word of the message, and the
    files that must not appear."""
    panel = _long_panel(d / "panel.csv")
    pd.DataFrame({"municipality": ["A", "B"], "fidelity": [0.5, 0.7]}).to_csv(d / "factors.csv", index=False)
    (d / "trial.toml").write_text((SAMPLE / "trial.toml").read_text() + MATCHING)
    (d / "ledger.csv").write_bytes((SAMPLE / "ledger.csv").read_bytes())
    s, c = str(SAMPLE), str(d / "trial.toml")
    return {
        "draw": (["draw", "--population", f"{s}/population.csv", "--config", c, "--ledger", str(d / "new.csv"),
                  "--request", "Aarhus=2", "--date", "2016-13-01"], 1, "calendar date", [d / "new.csv"]),
        "verify": (["verify", "--population", f"{s}/population.csv", "--config", c, "--ledger",
                    str(d / "absent.csv")], 1, "absent.csv", []),
        "exclude": (["exclude", "--ledger", str(d / "ledger.csv"), "--person", "P1", "--reason", "health",
                     "--date", "2016-02-30"], 1, "calendar date", [d / "ledger.manifest.jsonl"]),
        "power": (["power", "--n", "4800", "--proportion", "0.07", "--share", "1.5"], 1, "share", []),
        "balance": (["balance", "--ledger", f"{s}/ledger.csv", "--config", c, "--out", str(d / "b.csv"),
                     "--format", "pdf"], 1, "format", [d / "b.csv"]),
        "panel": (["panel", "--ledger", f"{s}/ledger.csv", "--spells", f"{s}/spells.csv", "--extraction-date",
                   "2016-12-31", "--weeks", "0", "--out", str(d / "p.parquet")], 1, "weeks", [d / "p.parquet"]),
        "effects": (["effects", "--panel", str(panel), "--outcomes", "employed", "--out", str(d / "e.csv"),
                     "--lang", "xx"], 1, "--lang", [d / "e.csv"]),
        "costs": (["costs", "--effects", str(ROOT / "tests/golden/effects.csv"), "--scenarios",
                   f"{s}/costs.toml", "--out", str(d / "c.csv"), "--lang", "xx"], 1, "--lang", [d / "c.csv"]),
        "report": (["report", "--config", c, "--dir", str(d), "--table-weeks", "0,13"], 2, "--table-weeks",
                   [d / "report.html"]),
        "explain": (["explain", "--panel", str(panel), "--site-factors", str(d / "factors.csv"), "--out",
                     str(d / "x.csv"), "--outcome", "employed", "--week", "3", "--measure", "bogus"], 1,
                    "measure", [d / "x.csv"]),
        "match": (["match", "--ledger", f"{s}/ledger.csv", "--population", f"{s}/population.csv", "--spells",
                   f"{s}/spells.csv", "--config", c, "--out", str(d / "m.csv"), "--date", "2016-02-30"], 1,
                  "calendar date", [d / "m.csv"]),
        "convert": (["convert", "foo", f"{s}/dream.csv", "--out", str(d / "s.parquet")], 2, "register",
                    [d / "s.parquet"]),
        "partition": (["partition", "--ledger", f"{s}/ledger.csv", "--spells", f"{s}/spells.csv", "--out",
                       str(d / "part"), "--parts", "0"], 2, "--parts", [d / "part"]),
        "demo": (["demo", "--dir", str(d / "demo"), "--lang", "xx"], 1, "--lang", [d / "demo"]),
        "target": (["target", "--population", f"{s}/target/population.csv", "--spells", f"{s}/target/spells.csv",
                    "--config", f"{s}/target/trial.toml", "--out", f"{d}/t/", "--lang", "xx"], 1, "--lang", [d / "t"]),
        "curves": (["curves", "--panel", str(panel), "--ledger", str(d / "ledger.csv"), "--config", c, "--out",
                    str(d / "cv.csv"), "--lang", "xx"], 1, "--lang", [d / "cv.csv"]),
    }


def test_every_command_has_a_case():
    names = set(commands())
    import inspect

    source = inspect.getsource(_cases)
    assert all(f'"{name}": ([' in source for name in names), sorted(
        n for n in names if f'"{n}": ([' not in source)


@pytest.mark.parametrize("command", ["draw", "verify", "exclude", "power", "balance", "panel", "effects", "costs",
                                     "report", "explain", "match", "convert", "partition", "demo", "target",
                                     "curves"])
def test_a_bad_option_value_stops_before_anything_is_written(tmp_path, command):
    args, code, word, outputs = _cases(tmp_path)[command]
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    result = runner.invoke(app, args)
    assert result.exit_code == code, result.output
    assert word in result.output and "Traceback" not in result.output
    for path in outputs:
        assert not path.exists(), path
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == before   # nothing new, nothing touched
    assert os.path.exists(tmp_path / "ledger.csv")
