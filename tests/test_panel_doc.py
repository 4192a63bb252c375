"""docs/panel.md reproduces itself: its ``$ trialeval`` commands run as typed in a fresh folder with the sample
data, and the line shown under each is in that command's output."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_month_panel_example_runs_as_written(tmp_path: Path) -> None:
    page = (ROOT / "docs" / "panel.md").read_text(encoding="utf-8")
    shutil.copytree(ROOT / "sample_data", tmp_path / "sample_data", ignore=shutil.ignore_patterns("*.py"))
    shown = re.findall(r"^\$ (trialeval .+)\n(.+)$", page, flags=re.M)
    assert [shlex.split(c)[1] for c, _ in shown] == ["panel", "effects"]
    for command, expected in shown:
        done = subprocess.run([sys.executable, "-m", "trialeval.cli", *shlex.split(command)[1:]], cwd=tmp_path,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        assert expected in done.stdout.splitlines(), (expected, done.stdout)
