"""The user guide reproduces itself: every command in docs/guide.md runs, as typed, in a fresh folder, and
every number the guide quotes is the number those commands produce."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
GUIDE = (ROOT / "docs" / "guide.md").read_text(encoding="utf-8")


def guide_commands(text: str) -> list[tuple[list[str], str | None]]:
    """The commands of the guide's code blocks (``\\`` continuations joined, ``#`` comments dropped), each
    with the output line the guide shows under a ``$ `` command."""
    commands: list[tuple[list[str], str | None]] = []
    for block in re.findall(r"```(?:bash)?\n(.*?)```", text, flags=re.S):
        lines = block.replace("\\\n", " ").splitlines()
        for i, line in enumerate(lines):
            shown = line.startswith("$ ")
            line = line.removeprefix("$ ").strip()
            if not line.startswith("trialeval "):
                continue
            args = shlex.split(line, comments=True)
            expected = lines[i + 1].strip() if shown and i + 1 < len(lines) else None
            commands.append((args, expected))
    return commands


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    folder = tmp_path_factory.mktemp("guide")
    shutil.copytree(ROOT / "sample_data", folder / "sample_data",
                    ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    outputs = {}
    for args, expected in guide_commands(GUIDE):
        done = subprocess.run([sys.executable, "-m", "trialeval.cli", *args[1:]], cwd=folder, capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        if expected is not None:
            assert expected in done.stdout, (args, done.stdout)
        outputs[args[1]] = done.stdout
    return folder, outputs


def test_the_guide_has_its_commands():
    names = [args[1] for args, _ in guide_commands(GUIDE)]
    assert names == ["demo", "draw", "verify", "power", "balance", "panel", "effects", "costs", "report"]


def test_every_command_of_the_guide_runs_and_its_numbers_are_the_runs(ran):
    folder, outputs = ran
    assert "= 2.08 percentage points" in outputs["power"] and "detect a rise of 2.1 percentage points" in GUIDE
    omnibus = pd.read_csv(folder / "balance_omnibus.csv").set_index("test")
    f = omnibus.loc["f_test"]
    assert (f"F({f['df1']:.0f}, {f['df2']:.0f}) = {f['statistic']:.3f}, p = {f['p_value']:.2f}" in GUIDE)
    assert f"randomisation-inference p-value is {omnibus.loc['randomisation_inference', 'p_value']:.2f}" in GUIDE
    balance = pd.read_csv(folder / "balance.csv")
    assert balance["flag"].isna().all() and "no covariate is flagged" in GUIDE
    assert f"{len(pd.read_parquet(folder / 'panel.parquet')):,} person-weeks" in GUIDE

    effects = pd.read_csv(folder / "effects.csv").set_index(["outcome", "week"])

    def points(v: float) -> str:
        return f"{100 * v:.1f}".replace("-", "−")

    for week, words in ((13, "by {e} points at week 13 (95 % CI {lo} to\n{hi})"), (26, "{e} points at week 26 ({lo} to {hi})")):
        r = effects.loc[("has_ordinary_hours", week)]
        assert words.format(e=points(r["effect"]), lo=points(r["ci_low"]), hi=points(r["ci_high"])) in GUIDE, week
    r = effects.loc[("reached_13_weeks", 35)]
    assert f"{points(r['mean_treatment'])} % vs {points(r['mean_control'])} % at week 35" in GUIDE
    assert f"effect at week 35 is {points(effects.loc[('has_ordinary_hours', 35), 'effect'])} points" in GUIDE
    s = pd.read_csv(folder / "effects_summary.csv").set_index("outcome").loc["has_ordinary_hours"]
    assert f"+{points(s['effect'])} points ({points(s['ci_low'])} to {points(s['ci_high'])})" in GUIDE
    assert s["p_holm"] < 0.001 and "Holm-adjusted p < 0.001" in GUIDE

    costs = pd.read_csv(folder / "costs.csv")
    total = costs.loc[costs["payer"] == "total"].set_index("scenario")["net_result"]
    quoted = ", ".join(f"{round(v):,} kr. ({k})".replace("-", "−") for k, v in total.items() if k != "D")
    assert quoted in GUIDE.replace("\n", " ") and f"{round(total['D']):,} kr. (D)".replace("-", "−") in GUIDE
    state = costs.loc[costs["payer"] == "state", "net_result"]
    municipality = costs.loc[costs["payer"] == "municipality", "net_result"]
    assert (state > 0).all() and (municipality < 0).all()
    assert (folder / "output" / "report.html").stat().st_size > 100_000 and (folder / "output" / "tables.xlsx").is_file()
