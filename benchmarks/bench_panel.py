"""Benchmark of the weekly panel and the effect curves: wall time, cpu time and peak memory at register scale.

Generates a synthetic ledger and spells (visitation dates in weekly waves over 40 weeks, about three
spells per person of all four types with workplaces, ``--weeks`` weeks of follow-up for the first wave, so
later waves are censored by the extraction date as in a real trial) and writes them as Parquet files, as a
register extract arrives. Then, for each size, each of these runs in its own fresh process, reading those
files:

* ``means``   — (a) :func:`trialeval.build_panel` (validation, matching, every outcome, number at risk)
  with ``keep_panel=False`` and :meth:`PanelResult.means`, the per-week means by arm (from the per-week
  sums gathered while the panel is built; the panel itself is not kept);
* ``stream``  — (b) ``build_panel(..., out="panel.parquet")``: each chunk of persons is written as soon as
  it is built and let go, so memory does not grow with the panel;
* ``effects`` — (c) build with ``keep_panel=False`` and :func:`trialeval.effects` for six outcomes
  (difference in means, Welch), from the per-week sums the panel gathers while it is built.

Peak memory is ``ru_maxrss`` of the child process (everything: interpreter, inputs, panel); "peak − start"
subtracts the RSS after imports. CPU seconds are reported beside wall seconds because the machine may be
shared. Run::

    python benchmarks/bench_panel.py                                  # 100k, 1M and 3M persons
    python benchmarks/bench_panel.py --sizes 1000000 --modes effects
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from trialeval.panel import build_panel

PAGE = os.sysconf("SC_PAGE_SIZE")
FIRST_VISITATION = np.datetime64("2016-03-01")
MUNICIPALITIES = np.array(["Aarhus", "Esbjerg", "Herning", "Holstebro", "Horsens", "Kolding", "Odense",
                           "Randers", "Silkeborg", "Skive", "Svendborg", "Vejle", "Viborg", "Aalborg",
                           "Frederikshavn"])


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE


def ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    text = pc.utf8_lpad(pa.array(numbers).cast(pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(pa.scalar(prefix), text, "")


def generate(n: int, weeks: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """Synthetic ledger and spells of ``n`` persons; returns them and the extraction date."""
    rng = np.random.default_rng(seed)
    wave = rng.integers(0, 40, n)
    visit = FIRST_VISITATION + 7 * wave
    followup = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    leaves = rng.random(n) < 0.02
    followup[leaves] = visit[leaves] + rng.integers(0, 7 * weeks, leaves.sum())
    muni = rng.integers(0, len(MUNICIPALITIES), n)
    gender = rng.integers(0, 2, n)
    ledger = pd.DataFrame({
        "person_id": ids("P", np.arange(n), 8).to_pandas(),
        "arm": np.where(rng.random(n) < 0.5, "treatment", "control"),
        "visitation_date": visit.astype("datetime64[ns]"),
        "municipality": pd.Categorical.from_codes(muni, MUNICIPALITIES),
        "stratum": pd.Categorical.from_codes(muni * 2 + gender,
                                             [f"{m}|gender={g}" for m in MUNICIPALITIES for g in "FM"]),
        "wave": wave + 1,
        "followup_end": followup.astype("datetime64[ns]"),
        "excluded": rng.random(n) < 0.005,
    })
    per_person = rng.poisson(3.0, n)
    person = np.repeat(np.arange(n), per_person)
    m = len(person)
    kind = rng.choice(4, m, p=[0.30, 0.10, 0.25, 0.35])
    mean_days = np.array([56, 90, 60, 200])[kind]
    start = visit[person] + rng.integers(-20 * 7, weeks * 7, m)
    end = start + rng.exponential(mean_days).astype(np.int64)
    hours = np.where(kind == 2, rng.uniform(5, 37, m).round(1), np.nan)
    workplace = ids("W", rng.integers(0, 100_000, m), 6)
    workplace = pc.if_else(pa.array(kind == 3), pa.scalar(None, pa.string()), workplace)
    types = np.array(["internship", "wage_subsidy", "ordinary_hours", "benefit"])
    spells = pd.DataFrame({
        "person_id": ids("P", person, 8).to_pandas(),
        "spell_type": types[kind],
        "start_date": start.astype("datetime64[ns]"),
        "end_date": end.astype("datetime64[ns]"),
        "hours_per_week": hours,
        "workplace_id": workplace.to_pandas(),
    })
    spells["spell_type"] = spells["spell_type"].astype("str")
    extraction = str(FIRST_VISITATION + 7 * weeks - 1)
    return ledger, spells, extraction


OUTCOMES = ["has_ordinary_hours", "ordinary_hours", "in_internship", "in_wage_subsidy", "company_directed",
            "reached_13_weeks"]
MODES = ("means", "stream", "effects")


def write_inputs(n: int, weeks: int, seed: int, directory: Path) -> dict[str, object]:
    """Generate and write ``ledger.parquet`` and ``spells.parquet``; returns sizes and the extraction date."""
    ledger, spells, extraction = generate(n, weeks, seed)
    ledger.to_parquet(directory / "ledger.parquet")
    spells.to_parquet(directory / "spells.parquet", row_group_size=1 << 20)
    return {"persons": n, "spells": len(spells), "extraction": extraction}


def run_mode(mode: str, directory: Path, extraction: str, weeks: int, chunk_persons: int) -> dict[str, object]:
    """One measurement, in a fresh process: wall and cpu seconds, ru_maxrss and the RSS before the work."""
    from trialeval.effects import effects

    base = rss_bytes()
    t0, c0 = time.perf_counter(), time.process_time()
    kw = {"weeks": weeks, "chunk_persons": chunk_persons}
    ledger, spells = directory / "ledger.parquet", directory / "spells.parquet"
    out: dict[str, object] = {"mode": mode}
    if mode == "means":
        result = build_panel(ledger, spells, extraction, keep_panel=False, **kw)
        result.means()
    elif mode == "stream":
        path = directory / "panel.parquet"
        result = build_panel(ledger, spells, extraction, out=path, **kw)
        out.update(parquet_mb=path.stat().st_size / 2**20, row_groups=pq.ParquetFile(path).num_row_groups)
    else:
        result = build_panel(ledger, spells, extraction, keep_panel=False, **kw)
        table = effects(result, OUTCOMES).to_frame()
        out["effect_rows"] = len(table)
    out.update(rows=result.n_rows, spells_used=result.n_spells_used, seconds=time.perf_counter() - t0,
               cpu=time.process_time() - c0, base_mb=base / 2**20,
               peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return out


def child(args: list[str]) -> dict[str, object]:
    done = subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=str, default="100000,1000000,3000000",
                        help="comma-separated person counts")
    parser.add_argument("--modes", type=str, default=",".join(MODES), help="means, stream, effects")
    parser.add_argument("--weeks", type=int, default=104)
    parser.add_argument("--chunk-persons", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tmp", type=str, default=None, help="directory for the input and output files")
    parser.add_argument("--_generate", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--_mode", type=str, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--_dir", type=str, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--_extraction", type=str, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._generate is not None:
        print(json.dumps(write_inputs(args._generate, args.weeks, args.seed, Path(args._dir))))
        return
    if args._mode is not None:
        print(json.dumps(run_mode(args._mode, Path(args._dir), args._extraction, args.weeks, args.chunk_persons)))
        return
    common = ["--weeks", str(args.weeks), "--seed", str(args.seed), "--chunk-persons", str(args.chunk_persons)]
    print(HEADER)
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
            inputs = child(["--_generate", str(size), "--_dir", tmp, *common])
            for mode in args.modes.split(","):
                row = child(["--_mode", mode, "--_dir", tmp, "--_extraction", str(inputs["extraction"]), *common])
                print(format_row(inputs | row), flush=True)


HEADER = ("| persons | spells | panel rows | step | wall s | cpu s | peak RSS MB | peak − start MB | notes |\n"
          "|--:|--:|--:|:--|--:|--:|--:|--:|:--|")
STEPS = {"means": "(a) build (keep_panel=False) + means by arm", "stream": "(b) streaming build → Parquet",
         "effects": "(c) build (keep_panel=False) + effects, 6 outcomes"}


def format_row(r: dict[str, object]) -> str:
    notes = ""
    if r["mode"] == "stream":
        notes = f"{r['parquet_mb']:.0f} MB, {r['row_groups']} row groups"
    elif r["mode"] == "effects":
        notes = f"{r['effect_rows']} effect rows"
    return (f"| {r['persons']:,} | {r['spells']:,} | {r['rows']:,} | {STEPS[r['mode']]} | {r['seconds']:.1f} | "
            f"{r['cpu']:.1f} | {r['peak_mb']:,.0f} | {r['peak_mb'] - r['base_mb']:,.0f} | {notes} |")


if __name__ == "__main__":
    main()
