"""Benchmark of the weekly panel: wall time and peak memory at register scale.

Generates a synthetic ledger and spells (visitation dates in weekly waves over 40 weeks, about three
spells per person of all four types with workplaces, ``--weeks`` weeks of follow-up for the first wave, so
later waves are censored by the extraction date as in a real trial), then measures, each in turn:

* ``build``  — :func:`trialeval.build_panel` (validation, matching, every outcome, number at risk);
* ``write``  — :func:`trialeval.panel.write_panel` to Parquet (person-ordered row groups);
* ``means``  — :meth:`PanelResult.means`, per-week means by arm from the built panel;
* ``groupby`` — per-week means by arm from the Parquet file with pandas ``groupby``, a row group at a
  time (what a consumer of the file does).

Peak memory is the highest resident set size (RSS) sampled every few milliseconds during each phase,
and ``ru_maxrss`` for the whole process. Each size runs in its own process so that peaks do not carry
over. Run::

    python benchmarks/bench_panel.py                       # 1,000,000 persons
    python benchmarks/bench_panel.py --persons 100000
    python benchmarks/bench_panel.py --sizes 100000,1000000,3000000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from trialeval.panel import build_panel, write_panel

PAGE = os.sysconf("SC_PAGE_SIZE")
FIRST_VISITATION = np.datetime64("2016-03-01")
MUNICIPALITIES = np.array(["Aarhus", "Esbjerg", "Herning", "Holstebro", "Horsens", "Kolding", "Odense",
                           "Randers", "Silkeborg", "Skive", "Svendborg", "Vejle", "Viborg", "Aalborg",
                           "Frederikshavn"])


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE


class PeakRSS:
    """Highest RSS seen while the block runs (sampled every 2 ms on a thread)."""

    def __enter__(self) -> PeakRSS:
        self.peak = rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self.t0 = time.perf_counter()
        self.c0 = time.process_time()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, rss_bytes())

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.t0
        self.cpu = time.process_time() - self.c0
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())


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


def groupby_means(path: Path, outcomes: list[str]) -> pd.DataFrame:
    """Per-week means by arm from the Parquet file, a row group at a time."""
    parts = []
    pf = pq.ParquetFile(path)
    for i in range(pf.num_row_groups):
        frame = pf.read_row_group(i, columns=["arm", "week", *outcomes]).to_pandas()
        g = frame.groupby(["arm", "week"], observed=True)
        parts.append(g[outcomes].sum().assign(n=g.size()))
    total = pd.concat(parts).groupby(level=["arm", "week"], observed=True).sum()
    return total[outcomes].div(total["n"], axis=0).assign(n=total["n"])


def run_one(args: argparse.Namespace) -> dict[str, object]:
    out: dict[str, object] = {"persons": args.persons, "weeks": args.weeks, "chunk_persons": args.chunk_persons}
    with PeakRSS() as gen:
        ledger, spells, extraction = generate(args.persons, args.weeks, args.seed)
    out.update(spells=len(spells), rss_after_inputs_mb=rss_bytes() / 2**20, generate_s=gen.seconds)
    with PeakRSS() as build:
        result = build_panel(ledger, spells, extraction, weeks=args.weeks, chunk_persons=args.chunk_persons)
    out.update(rows=result.n_rows, build_s=build.seconds, build_cpu_s=build.cpu,
               build_peak_mb=build.peak / 2**20)
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        path = Path(tmp) / "panel.parquet"
        if not args.no_write:
            with PeakRSS() as write:
                write_panel(result, path)
            out.update(write_s=write.seconds, write_cpu_s=write.cpu, write_peak_mb=write.peak / 2**20,
                       parquet_mb=path.stat().st_size / 2**20,
                       row_groups=pq.ParquetFile(path).num_row_groups)
        with PeakRSS() as means:
            table = result.means()
        out.update(means_s=means.seconds, means_cpu_s=means.cpu, means_peak_mb=means.peak / 2**20)
        if not args.no_write:
            outcomes = list(result.outcomes)
            with PeakRSS() as grp:
                by_file = groupby_means(path, outcomes)
            out.update(groupby_s=grp.seconds, groupby_cpu_s=grp.cpu, groupby_peak_mb=grp.peak / 2**20)
            # The two routes must agree, or the numbers above measure a wrong panel.
            check = table.set_index(["arm", "week"]).loc[by_file.index]
            np.testing.assert_allclose(check[outcomes].to_numpy(), by_file[outcomes].to_numpy(), rtol=1e-9)
            np.testing.assert_array_equal(check["n_at_risk"].to_numpy(), by_file["n"].to_numpy())
    out["ru_maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--sizes", type=str, default=None,
                        help="comma-separated person counts, each run in its own process")
    parser.add_argument("--weeks", type=int, default=104)
    parser.add_argument("--chunk-persons", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-write", action="store_true", help="skip writing and reading Parquet")
    parser.add_argument("--tmp", type=str, default=None, help="directory for the Parquet file")
    parser.add_argument("--json", action="store_true", help="print one JSON line instead of a table")
    args = parser.parse_args()
    if args.sizes:
        rows = []
        for size in (int(s) for s in args.sizes.split(",")):
            cmd = [sys.executable, __file__, "--persons", str(size), "--weeks", str(args.weeks),
                   "--chunk-persons", str(args.chunk_persons), "--seed", str(args.seed), "--json"]
            if args.no_write:
                cmd.append("--no-write")
            if args.tmp:
                cmd += ["--tmp", args.tmp]
            done = subprocess.run(cmd, check=True, capture_output=True, text=True)
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(format_row(rows[-1]), flush=True)
        return
    row = run_one(args)
    print(json.dumps(row) if args.json else format_row(row))


def format_row(r: dict[str, object]) -> str:
    def f(key: str, unit: str, fmt: str = ".1f") -> str:
        return f"{format(r[key], fmt)} {unit}" if key in r else "-"
    return (f"persons {r['persons']:>9,}  spells {r['spells']:>10,}  rows {r['rows']:>12,} | "
            f"inputs {f('rss_after_inputs_mb', 'MB', '.0f')} | "
            f"build {f('build_s', 's')} (cpu {f('build_cpu_s', 's')}) peak {f('build_peak_mb', 'MB', '.0f')} | "
            f"write {f('write_s', 's')} (cpu {f('write_cpu_s', 's')}) peak {f('write_peak_mb', 'MB', '.0f')} "
            f"({f('parquet_mb', 'MB', '.0f')}, {r.get('row_groups', '-')} row groups) | "
            f"means {f('means_s', 's')} peak {f('means_peak_mb', 'MB', '.0f')} | "
            f"groupby {f('groupby_s', 's')} (cpu {f('groupby_cpu_s', 's')}) peak {f('groupby_peak_mb', 'MB', '.0f')} | "
            f"ru_maxrss {f('ru_maxrss_mb', 'MB', '.0f')}")


if __name__ == "__main__":
    main()
