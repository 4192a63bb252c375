"""Benchmark of a person-partitioned extract: seconds and peak memory at 1 M and 10 M persons.

Generates the anchors' kind of data (``gen_spells.py``: visitation dates over 40 weeks from 2016-03-01,
Poisson(3) spells a person of internship, wage subsidy and ordinary hours, starting 60 days before to
700 days after visitation) with text ids ``P0000001``, written as flat Parquet files a block of persons
at a time. Then, each in its own fresh process, reading those files:

* ``partition`` — :func:`trialeval.partition_extract` (``trialeval partition``): the flat files into a
  dataset of parts of about a million spells, in one pass over each file;
* ``dataset``   — :func:`trialeval.build_panel` on the dataset (parts one after another, the panel not
  kept) and :func:`trialeval.effects` of the six default outcomes over weeks 1–104;
* ``flat``      — the same on the flat files (``keep_panel=False``), for comparison (1 M only by
  default: at 10 M the flat build needs the whole extract's compact spells in memory).

Peak memory is the child's ``VmHWM`` (its resident high-water mark since it started; ``ru_maxrss``
would also count the pages of the parent it was forked from, which generated the data in memory —
the data are therefore generated in a child process too). The claim to check: the dataset build at 10 M persons peaks at
no more than 1.2 times its peak at 1 M. Run::

    python benchmarks/bench_partitioned.py                       # 1 M and 10 M persons
    python benchmarks/bench_partitioned.py --sizes 1000000 --flat-sizes 1000000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

BLOCK = 1_000_000
EXTRACTION_DATE = "2018-12-31"
WEEKS = 104


def generate(n: int, folder: Path, seed: int = 7) -> None:
    """``ledger.parquet`` and ``spells.parquet`` of ``n`` persons, a block of persons at a time."""
    rng = np.random.default_rng(seed)
    base = np.datetime64("2016-03-01")
    types = np.array(["internship", "wage_subsidy", "ordinary_hours"])
    with pq.ParquetWriter(folder / "ledger.parquet", pa.schema([
            ("person_id", pa.string()), ("arm", pa.string()), ("visitation_date", pa.date32())])) as lw, \
         pq.ParquetWriter(folder / "spells.parquet", pa.schema([
            ("person_id", pa.string()), ("spell_type", pa.string()), ("start_date", pa.date32()),
            ("end_date", pa.date32()), ("hours_per_week", pa.float64())])) as sw:
        for lo in range(0, n, BLOCK):
            m = min(BLOCK, n - lo)
            pid = pc.binary_join_element_wise(
                "P", pc.utf8_lpad(pa.array(np.arange(lo, lo + m)).cast(pa.string()), width=7, padding="0"), "")
            visit = base + rng.integers(0, 7 * 40, m).astype("timedelta64[D]")
            arm = np.where(rng.integers(0, 2, m) == 1, "treatment", "control")
            lw.write_table(pa.table({"person_id": pid, "arm": arm, "visitation_date": visit}))
            k = rng.poisson(3, m)
            owner = np.repeat(np.arange(m), k)
            s = owner.size
            kind = rng.choice(types, s, p=[.45, .1, .45])
            start = visit[owner] + rng.integers(-60, 700, s).astype("timedelta64[D]")
            end = start + rng.integers(6, 200, s).astype("timedelta64[D]")
            hours = np.where(kind == "ordinary_hours", rng.integers(2, 38, s), np.nan)
            sw.write_table(pa.table({"person_id": pid.take(pa.array(owner)), "spell_type": kind,
                                     "start_date": start, "end_date": end, "hours_per_week": hours}))


def child(mode: str, folder: Path) -> dict[str, float]:
    """One measured run, in this (fresh) process."""
    from trialeval import build_panel, partition_extract
    from trialeval.effects import effects

    t0 = time.perf_counter()
    if mode == "partition":
        partition_extract(folder / "ledger.parquet", folder / "spells.parquet", folder / "dataset", force=True)
    else:
        src = (folder / "dataset", folder / "dataset") if mode == "dataset" else (
            folder / "ledger.parquet", folder / "spells.parquet")
        result = build_panel(*src, EXTRACTION_DATE, weeks=WEEKS, keep_panel=False)
        effects(result)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "peak_gb": peak_bytes() / 2**30}


def peak_bytes() -> int:
    """This process's resident high-water mark (``VmHWM``), in bytes."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def run(mode: str, folder: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--child", mode, str(folder)], capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--flat-sizes", type=int, nargs="*", default=[1_000_000])
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if args.child[0].startswith("generate="):
            generate(int(args.child[0].split("=")[1]), Path(args.child[1]))
        else:
            print(json.dumps(child(args.child[0], Path(args.child[1]))))
        return
    rows = []
    for n in args.sizes:
        with tempfile.TemporaryDirectory(prefix="bench_partitioned_") as tmp:
            folder = Path(tmp)
            t0 = time.perf_counter()
            subprocess.run([sys.executable, __file__, "--child", f"generate={n}", str(folder)], check=True)
            n_spells = pq.ParquetFile(folder / "spells.parquet").metadata.num_rows
            print(f"{n:,} persons, {n_spells:,} spells generated in {time.perf_counter() - t0:.0f} s", flush=True)
            modes = ["partition", "dataset"] + (["flat"] if n in args.flat_sizes else [])
            for mode in modes:
                r = run(mode, folder)
                rows.append((n, mode, r["seconds"], r["peak_gb"]))
                print(f"  {mode:<10} {r['seconds']:7.1f} s  {r['peak_gb']:5.2f} GB", flush=True)
    print("\npersons      step        seconds  peak GB")
    for n, mode, s, gb in rows:
        print(f"{n:>10,}   {mode:<10} {s:8.1f}  {gb:7.2f}")
    peaks = {n: gb for n, mode, _, gb in rows if mode == "dataset"}
    if len(peaks) > 1:
        lo, hi = min(peaks), max(peaks)
        print(f"\ndataset peak at {hi:,} / at {lo:,} persons: {peaks[hi] / peaks[lo]:.2f}")


if __name__ == "__main__":
    main()
