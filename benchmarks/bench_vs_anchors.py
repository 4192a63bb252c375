"""trialeval against the DuckDB and Polars anchors, side by side on the same data, each as its own process.

The anchors (``gen_spells.py``, ``duckdb_fast.py``, ``polars_curve.py`` in ``../shared/anchors`` beside the
repository, or ``--anchors DIR``) are what an evaluator would write instead of trialeval: the weekly mean
and variance of pro-rata ordinary hours and the internship share by arm, weeks 1–104 since visitation,
censored at 2018-12-31. This script

1. generates their data with ``gen_spells.py N DIR`` (persons and spells as Parquet) and converts it for
   trialeval: ids ``P{:07d}``, arm 1/0 as treatment/control, dates as dates;
2. runs, each as a separate process, timed from outside with its peak resident memory (``/usr/bin/time``
   when installed, else ``getrusage(RUSAGE_CHILDREN)``):

   * the DuckDB anchor (two threads) and the Polars anchor (two of trialeval's outcomes, no 13-week rule);
   * ``trialeval effects --ledger --spells`` — one command from spells to the curves of six outcomes;
   * ``trialeval panel --out`` then ``trialeval effects --panel`` — two commands through a panel file;
   * the one command with ``--summary-weeks 26`` and with ``--band`` (these build a temporary panel file);

3. prints a table (engine, persons, seconds, peak GB) and checks trialeval's weekly means of
   ``ordinary_hours`` and ``in_internship`` against both anchors to 1e-9 (anchor week ``k + 1``, arm 1 =
   treatment).

``--partitioned`` adds 10 M persons given as a person-partitioned Parquet dataset made by
``trialeval partition`` (skipped with a message where that command does not exist). Run::

    python benchmarks/bench_vs_anchors.py                 # 1,000,000 persons in a temporary folder
    python benchmarks/bench_vs_anchors.py 100000 --dir /tmp/bench --keep
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
EXTRACTION = "2018-12-31"
WEEKS = 104
OUTCOMES = "has_ordinary_hours,ordinary_hours,in_internship,in_wage_subsidy,company_directed,reached_13_weeks"
TIME = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)
#: trialeval's command line, as the installed console script would run it.
TRIALEVAL = [sys.executable, "-m", "trialeval.cli"]


@dataclass
class Run:
    engine: str
    persons: int
    seconds: float
    peak_gb: float
    note: str = ""
    cpu: float = float("nan")


def generate(anchors: Path, n: int, folder: Path) -> None:
    """The anchors' data (``persons.parquet``, ``spells.parquet``), then trialeval's ledger and spells."""
    subprocess.run([sys.executable, str(anchors / "gen_spells.py"), str(n), str(folder)], check=True,
                   stdout=subprocess.DEVNULL)
    convert(folder)


def _ids(numbers: pa.ChunkedArray) -> pa.ChunkedArray:
    return pc.binary_join_element_wise(pa.scalar("P"), pc.utf8_lpad(numbers.cast(pa.string()), width=7,
                                                                    padding="0"), "")


def _date(col: pa.ChunkedArray) -> pa.ChunkedArray:
    return col.cast(pa.timestamp("ms")).cast(pa.date32()) if not pa.types.is_date32(col.type) else col


def convert(folder: Path) -> None:
    """``ledger.parquet`` and ``trialeval_spells.parquet``: the anchors' data under trialeval's contract."""
    persons = pq.read_table(folder / "persons.parquet")
    pq.write_table(pa.table({
        "person_id": _ids(persons["person_id"]),
        "arm": pc.if_else(pc.equal(persons["arm"], 1), "treatment", "control"),
        "visitation_date": _date(persons["visitation_date"])}), folder / "ledger.parquet")
    spells = pq.ParquetFile(folder / "spells.parquet")
    with pq.ParquetWriter(folder / "trialeval_spells.parquet", pa.schema([
            ("person_id", pa.string()), ("spell_type", pa.string()), ("start_date", pa.date32()),
            ("end_date", pa.date32()), ("hours_per_week", pa.float64())])) as writer:
        for batch in spells.iter_batches(batch_size=1 << 20):
            t = pa.Table.from_batches([batch])
            writer.write_table(pa.table({
                "person_id": _ids(t["person_id"]), "spell_type": t["spell_type"].cast(pa.string()),
                "start_date": _date(t["start_date"]), "end_date": _date(t["end_date"]),
                "hours_per_week": t["hours_per_week"].cast(pa.float64())}))


def timed(command: list[str], cwd: Path) -> tuple[float, float, float]:
    """Run ``command`` in a fresh process: wall seconds, peak resident memory in GB and cpu seconds."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    prefix = [TIME, "-f", "%M %U %S"] if TIME else []
    start = time.perf_counter()
    done = subprocess.run(prefix + command, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if TIME:
        kb, user, system = done.stderr.strip().splitlines()[-1].split()
        return seconds, int(kb) / 2**20, float(user) + float(system)
    # the largest child so far: right when this child is the largest, as the runs grow
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return seconds, max(after.ru_maxrss, before.ru_maxrss) / 2**20, cpu


def compile_bytecode() -> None:
    """Byte-compile trialeval as ``pip install`` does for an installed package, so that no run pays for it.

    An editable install compiles on first import, unless ``PYTHONDONTWRITEBYTECODE`` is set (as on some CI
    machines): then every command would compile the library's sources again, which no user sees.
    """
    import trialeval
    import trialeval.cli
    for package in (trialeval, trialeval.cli):
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(package.__file__).parent)], check=True,
                       stdout=subprocess.DEVNULL)


RUNS = ("duckdb", "polars", "one", "two", "summary", "band")


def repeated(command: list[str], cwd: Path, repeat: int) -> tuple[float, float, float]:
    """:func:`timed` ``repeat`` times: the run with the median wall time (the machine may be shared)."""
    results = sorted(timed(command, cwd) for _ in range(max(repeat, 1)))
    return results[len(results) // 2]


def trialeval_runs(folder: Path, n: int, ledger: Path, spells: Path, workers: int | None,
                   only: tuple[str, ...] = RUNS, repeat: int = 1) -> list[Run]:
    """The one command, the two commands and the variants (those in ``only``); outputs in ``folder/<name>/``."""
    common = ["--ledger", str(ledger), "--spells", str(spells), "--extraction-date", EXTRACTION,
              "--weeks", str(WEEKS)] + (["--workers", str(workers)] if workers else [])
    fx = ["--outcomes", OUTCOMES]
    runs = []
    for name, extra in (("one", []), ("summary", ["--summary-weeks", "26"]), ("band", ["--band", "--seed", "1"])):
        if name not in only:
            continue
        out = folder / name
        out.mkdir(exist_ok=True)
        seconds, gb, cpu = repeated([*TRIALEVAL, "--quiet", "effects", *common, *fx, *extra, "--out",
                                     str(out / "effects.csv")], folder, repeat if name == "one" else 1)
        label = {"one": "trialeval effects --ledger --spells (one command)",
                 "summary": "  … with --summary-weeks 26", "band": "  … with --band"}[name]
        runs.append(Run(label, n, seconds, gb, "6 outcomes", cpu))
    if "two" not in only:
        return runs
    two = folder / "two"
    two.mkdir(exist_ok=True)
    panel = two / "panel.parquet"
    pairs = []
    for _ in range(repeat):                         # the pair of commands, each pair timed together
        s1, g1, c1 = timed([*TRIALEVAL, "--quiet", "panel", *common, "--out", str(panel)], folder)
        s2, g2, c2 = timed([*TRIALEVAL, "--quiet", "effects", "--panel", str(panel), *fx, "--out",
                            str(two / "effects.csv")], folder)
        pairs.append((s1 + s2, s1, g1, c1, s2, g2, c2))
    _, s1, g1, c1, s2, g2, c2 = sorted(pairs)[len(pairs) // 2]      # the median pair
    rows = pq.ParquetFile(panel).metadata.num_rows
    runs.append(Run("trialeval panel --out + effects --panel", n, s1 + s2, max(g1, g2),
                    f"{s1:.1f} s + {s2:.1f} s; {rows:,} rows written", c1 + c2))
    return runs


def check(folder: Path, names: list[str]) -> float:
    """Largest difference between trialeval's weekly means and the anchors' (both anchors, both outcomes)."""
    worst = 0.0
    for anchor in ("anchor_duckdb.csv", "anchor_polars.csv"):
        a = pd.read_csv(folder / anchor)
        a["arm"] = np.where(a["arm"] == 1, "treatment", "control")
        for name in names:
            t = pd.read_csv(folder / name / "effects.csv")
            for outcome, column in (("ordinary_hours", "mean_hours"), ("in_internship", "share_internship")):
                rows = t[(t["outcome"] == outcome) & (t["week"] <= WEEKS)]
                for arm in ("treatment", "control"):
                    mine = rows.set_index("week")[f"mean_{arm}"]
                    theirs = a[a["arm"] == arm].set_index("week")[column].reindex(mine.index)
                    ok = mine.notna()            # suppressed small cells are empty in the export
                    worst = max(worst, float(np.max(np.abs(mine[ok] - theirs[ok]))))
                    if not ok.any():
                        raise SystemExit(f"{name}: no {outcome} means to compare")
    return worst


def partitioned(args: argparse.Namespace, anchors: Path, root: Path) -> list[Run]:
    """10 M persons as a person-partitioned dataset made by ``trialeval partition``, if it exists."""
    probe = subprocess.run([*TRIALEVAL, "partition", "--help"], capture_output=True, text=True,
                           env=dict(os.environ, PYTHONPATH=str(ROOT)))
    if probe.returncode != 0:
        print("partitioned scenario skipped: this trialeval has no 'partition' command yet")
        return []
    runs = []
    for n in (args.persons, args.partitioned_persons):
        folder = root / f"partitioned_{n}"
        folder.mkdir(exist_ok=True)
        generate(anchors, n, folder)
        seconds, gb, cpu = timed([*TRIALEVAL, "--quiet", "partition", "--ledger", str(folder / "ledger.parquet"),
                             "--spells", str(folder / "trialeval_spells.parquet"), "--out",
                             str(folder / "dataset")], folder)
        runs.append(Run("trialeval partition", n, seconds, gb, "", cpu))
        for p in ("persons.parquet", "spells.parquet", "trialeval_spells.parquet"):
            (folder / p).unlink()
        runs += [Run(r.engine + " (partitioned)", n, r.seconds, r.peak_gb, r.note, r.cpu) for r in
                 trialeval_runs(folder, n, folder / "dataset", folder / "dataset", args.workers, ("one",))]
    return runs


def table(runs: list[Run]) -> str:
    lines = ["| engine | persons | seconds | cpu s | peak GB | note |", "|:--|--:|--:|--:|--:|:--|"]
    lines += [f"| {r.engine} | {r.persons:,} | {r.seconds:.1f} | {r.cpu:.1f} | {r.peak_gb:.2f} | {r.note} |"
              for r in runs]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("persons", type=int, nargs="?", default=1_000_000)
    parser.add_argument("--dir", type=Path, default=None, help="folder for the data (default: a temporary one)")
    parser.add_argument("--anchors", type=Path, default=ROOT.parent / "shared" / "anchors",
                        help="folder of gen_spells.py, duckdb_fast.py and polars_curve.py")
    parser.add_argument("--workers", type=int, default=None, help="trialeval's --workers (default: every core)")
    parser.add_argument("--reuse", action="store_true", help="reuse data already generated in --dir")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--runs", default=",".join(RUNS), help=f"which runs, of {','.join(RUNS)}")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run the anchors and the one command this many times; report the median")
    parser.add_argument("--partitioned", action="store_true", help="add the partitioned 10 M scenario")
    parser.add_argument("--partitioned-persons", type=int, default=10_000_000)
    args = parser.parse_args()
    anchors = args.anchors.resolve()
    if not (anchors / "gen_spells.py").is_file():
        raise SystemExit(f"no anchors in {anchors}: give --anchors DIR")
    root = args.dir or Path(tempfile.mkdtemp(prefix="trialeval-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        if not (args.reuse and (root / "trialeval_spells.parquet").is_file()):
            generate(anchors, args.persons, root)
        n = args.persons
        compile_bytecode()
        only = tuple(r.strip() for r in args.runs.split(","))
        runs = []
        for name, engine, script, extra in (("duckdb", "DuckDB anchor (2 threads)", "duckdb_fast.py", ["2"]),
                                            ("polars", "Polars anchor", "polars_curve.py", [])):
            if name in only or not (root / f"anchor_{name}.csv").is_file():
                seconds, gb, cpu = repeated([sys.executable, str(anchors / script), str(root), *extra], root,
                                            args.repeat)
                runs.append(Run(engine, n, seconds, gb, "2 outcomes, no 13-week rule", cpu))
        anchor_runs = len(runs)
        if "one" in only:        # the fixed cost of every trialeval command: the interpreter and the imports
            seconds, gb, cpu = repeated([*TRIALEVAL, "--version"], root, args.repeat)
            startup = Run("  (trialeval --version: start-up and imports only)", n, seconds, gb, "", cpu)
        runs += trialeval_runs(root, n, root / "ledger.parquet", root / "trialeval_spells.parquet", args.workers,
                               only, args.repeat)
        if "one" in only:
            runs.insert(anchor_runs + 1, startup)
        worst = check(root, [name for name in ("one", "two", "summary", "band") if name in only])
        if args.partitioned:
            runs += partitioned(args, anchors, root)
        print(table(runs))
        if anchor_runs and "one" in only:
            fastest = min(r.seconds for r in runs[:anchor_runs])
            print(f"\none command vs the faster anchor: {fastest / runs[anchor_runs].seconds:.2f}x as fast")
        print(f"weekly means vs both anchors: largest difference {worst:.1e} "
              f"({'ok' if worst <= 1e-9 else 'NOT within 1e-9'})")
    finally:
        if args.dir is None and not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
