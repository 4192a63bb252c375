"""Benchmark of ``trialeval effects --panel`` on a panel file: seconds and peak memory at register scale.

Generates spells as the anchors' generator does (``person_id`` ``P0000000`` …, arms ``treatment`` /
``control``, visitation dates over 40 weeks, about three spells a person), builds the panel file with
``trialeval panel`` (104 weeks), then runs ``trialeval effects --panel`` as a separate process for the
default estimator, ``--summary-weeks 26`` and ``--band``, and prints wall seconds and peak resident set
size of each command (``/usr/bin/time -v`` when present, else ``resource.getrusage(RUSAGE_CHILDREN)``).

Usage::

    python benchmarks/bench_effects_stream.py                      # 1 M persons
    python benchmarks/bench_effects_stream.py --persons 100000 --workers 1
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

EXTRACTION = "2018-06-01"
WEEKS = 104


def generate(n: int, out: Path) -> tuple[Path, Path]:
    """Ledger and spells of ``n`` persons as the anchors' generator makes them (seed 7)."""
    rng = np.random.default_rng(7)
    base = np.datetime64("2016-03-01")
    visit = base + rng.integers(0, 7 * 40, n).astype("timedelta64[D]")
    arm = rng.integers(0, 2, n)
    pid = np.arange(n)
    k = rng.poisson(3, n)
    owner = np.repeat(pid, k)
    m = owner.size
    types = rng.choice(np.array(["internship", "wage_subsidy", "ordinary_hours"]), m, p=[.45, .1, .45])
    start = visit[owner] + rng.integers(-60, 700, m).astype("timedelta64[D]")
    end = start + rng.integers(6, 200, m).astype("timedelta64[D]")
    hours = np.where(types == "ordinary_hours", rng.integers(2, 38, m), np.nan)
    ids = np.char.add("P", np.char.zfill(pid.astype(str), 7))
    ledger = pd.DataFrame({"person_id": ids, "arm": np.where(arm == 1, "treatment", "control"),
                           "visitation_date": visit.astype("datetime64[ns]")})
    spells = pd.DataFrame({"person_id": ids[owner], "spell_type": types,
                           "start_date": start.astype("datetime64[ns]"), "end_date": end.astype("datetime64[ns]"),
                           "hours_per_week": hours})
    ledger_path, spells_path = out / "ledger.parquet", out / "spells.parquet"
    ledger.to_parquet(ledger_path)
    spells.to_parquet(spells_path)
    return ledger_path, spells_path


def run(cmd: list[str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system) and peak RSS (GB) of one command, as a separate process.

    CPU seconds tell the work done when the machine is shared (wall time then grows with the load).
    """
    timer = "/usr/bin/time" if os.path.exists("/usr/bin/time") else None
    if timer:
        t0 = time.perf_counter()
        done = subprocess.run([timer, "-v", *cmd], capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}")
        kb = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
        cpu = sum(float(x) for x in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", done.stderr))
        return seconds, cpu, (int(kb.group(1)) / 2**20 if kb else float("nan"))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    peak = after.ru_maxrss if after.ru_maxrss > before.ru_maxrss else float("nan")   # the largest child so far
    return seconds, cpu, peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--dir", type=Path, default=None, help="Work folder (default: a temporary one).")
    args = parser.parse_args()
    cli = [sys.executable, "-m", "trialeval.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        work = args.dir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        panel = work / "panel.parquet"
        rows = []
        if not panel.exists():
            ledger, spells = generate(args.persons, work)
            seconds, cpu, peak = run([*cli, "panel", "--ledger", str(ledger), "--spells", str(spells),
                                 "--extraction-date", EXTRACTION, "--weeks", str(WEEKS), "--out", str(panel),
                                 "--quiet"])
            rows.append(("panel (spells → panel.parquet)", seconds, cpu, peak))
        workers = ["--workers", str(args.workers)] if args.workers else []
        for name, extra in (("effects (default)", []), ("effects --summary-weeks 26", ["--summary-weeks", "26"]),
                            ("effects --band", ["--band"])):
            seconds, cpu, peak = run([*cli, "effects", "--panel", str(panel), "--out", str(work / "effects.csv"),
                                 *workers, *extra])
            rows.append((name, seconds, cpu, peak))
        print(f"persons {args.persons:,}, {WEEKS} weeks, panel file {panel.stat().st_size / 2**20:,.0f} MiB")
        print("| step | wall s | cpu s | peak RSS GB |\n|:--|--:|--:|--:|")
        for name, seconds, cpu, peak in rows:
            print(f"| {name} | {seconds:.1f} | {cpu:.1f} | {peak:.2f} |")


if __name__ == "__main__":
    main()
