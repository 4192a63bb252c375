"""docs/own-data.md runs as written: its config and commands on the sample trial's data written the way the
page describes them (Danish names and labels, dd-mm-yyyy dates, semicolons, decimal commas, Latin-1)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
PAGE = (ROOT / "docs" / "own-data.md").read_text(encoding="utf-8")
DANISH = {"sep": ";", "index": False, "encoding": "latin-1"}


def code_blocks(text: str) -> list[tuple[str, str]]:
    """``(language, body)`` of each fenced block, in order."""
    blocks, current, lang = [], None, ""
    for line in text.splitlines():
        if line.startswith("```"):
            if current is None:
                current, lang = [], line[3:].strip()
            else:
                blocks.append((lang, "\n".join(current) + "\n"))
                current = None
        elif current is not None:
            current.append(line)
    return blocks


def write_files(folder: Path, sample: Path) -> None:
    ledger = pd.read_csv(sample / "ledger.csv", dtype=str, keep_default_na=False).drop(columns=["stratum", "wave"])
    ledger = ledger.rename(columns={"person_id": "cpr", "municipality": "kommune", "arm": "gruppe",
                                    "visitation_date": "visitationsdato"})
    ledger["gruppe"] = ledger["gruppe"].map({"treatment": "indsats", "control": "kontrol"})
    for column in ("visitationsdato", "followup_end", "exclusion_date"):
        ledger[column] = pd.to_datetime(ledger[column], errors="coerce").dt.strftime("%d-%m-%Y").fillna("")
    ledger.to_csv(folder / "tildeling.csv", **DANISH)
    pd.read_csv(sample / "dream.csv", dtype=str, keep_default_na=False).rename(
        columns={"person_id": "cpr"}).to_csv(folder / "dream.csv", **DANISH)
    hours = pd.read_csv(sample / "eindkomst.csv", dtype=str, keep_default_na=False).rename(
        columns={"person_id": "cpr", "month": "maaned", "hours": "timer"})
    hours["timer"] = hours["timer"].str.replace(".", ",", regex=False)
    hours.to_csv(folder / "eindkomst.csv", **DANISH)


def test_the_page_runs_as_written(tmp_path: Path, sample_dir: Path) -> None:
    write_files(tmp_path, sample_dir)
    (tmp_path / "trial.toml").write_text(next(b for lang, b in code_blocks(PAGE) if lang == "toml"), encoding="utf-8")
    # the file excerpts the page shows are the files' first lines
    assert (tmp_path / "eindkomst.csv").read_text(encoding="latin-1").splitlines()[:2] == [
        "cpr;maaned;timer;workplace_id", "P100886;2016-07;111,0;W03791"]
    commands = [part for lang, block in code_blocks(PAGE) if lang == ""
                for line in block.replace("\\\n", " ").splitlines() for part in line.split(" && ")
                if part.startswith(("trialeval ", "mkdir ", "cp "))]
    steps = [" ".join(c.split()[:2]) if c.startswith("trialeval") else c.split()[0] for c in commands]
    assert steps == ["trialeval panel", "mkdir", "cp", "trialeval effects", "trialeval report"]
    for line in commands:
        args = shlex.split(line)
        if args[0] == "mkdir":
            (tmp_path / args[1]).mkdir()
        elif args[0] == "cp":
            shutil.copy(tmp_path / args[1], tmp_path / args[2])
        else:
            if "--pdf" in args and shutil.which("chromium") is None:
                args.remove("--pdf")               # printing needs Chromium; the rest of the page does not
            done = subprocess.run([sys.executable, "-m", "trialeval.cli", *args[1:]], cwd=tmp_path,
                                  capture_output=True, text=True, timeout=600)
            assert done.returncode == 0, (args, done.stdout, done.stderr)
    panel = pd.read_parquet(tmp_path / "panel.parquet")
    assert set(panel["arm"].astype(str)) == {"indsats", "kontrol"} and "virksomhedsrettet_eller_ydelse" in panel
    effects = pd.read_csv(tmp_path / "ud" / "effects.csv")
    assert "virksomhedsrettet_eller_ydelse" in set(effects["outcome"])
    report = (tmp_path / "ud" / "report.html").read_text(encoding="utf-8")
    assert "Virksomhedsrettet forløb eller på ydelse" in report and "Vores forsøg" in report
