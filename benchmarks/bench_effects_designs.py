"""Peak memory of ``trialeval effects --panel`` with ``--blocks`` and ``--cluster`` beside the default estimator.

Builds a panel file with ``trialeval panel`` from the generator of ``bench_effects_stream.py`` (104 weeks),
adds columns row group by row group (``stratum``: 50 blocks of persons; ``team``: 400 clusters, each
within one arm; covariates ``age`` and ``region``, 5 levels), then runs ``trialeval effects --panel`` as a
separate process for the default estimator, ``--blocks stratum``, ``--cluster team``, ``--covariates
age,region``, ``--ri 20``, ``--ri 20 --cluster team`` and the blocked and clustered designs with ``--band``,
and the band with Rademacher multipliers (which the command line does not offer: run through the library,
``effects_from_file(..., band=True, multiplier="rademacher", band_draws=1000)``, in a separate process, for
persons and for clusters), and prints wall seconds, CPU seconds and peak resident set size of each
(``/usr/bin/time -v``).

Usage::

    python benchmarks/bench_effects_designs.py                     # 200,000 persons
    python benchmarks/bench_effects_designs.py --persons 50000 --workers 1
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_effects_stream import EXTRACTION, WEEKS, generate, run  # noqa: E402


def add_groups(panel: Path, out: Path) -> None:
    """The panel with ``stratum`` (person number mod 50) and ``team`` (arm and person number mod 200: each
    team within one stratum)."""
    source = pq.ParquetFile(panel)
    writer = None
    for i in range(source.metadata.num_row_groups):
        table = source.read_row_group(i)
        number = pc.cast(pc.utf8_slice_codeunits(pc.cast(table.column("person_id"), pa.string()), 1),
                         pa.int64()).to_numpy()
        arm = np.asarray(pc.cast(table.column("arm"), pa.string()).to_numpy(zero_copy_only=False), dtype=str)
        table = table.append_column("stratum", pa.array(np.char.add("s", (number % 50).astype(str))))
        table = table.append_column("team", pa.array(np.char.add(np.char.add(arm, "-"), (number % 200).astype(str))))
        table = table.append_column("age", pa.array((18 + number * 7919 % 47).astype(np.int16)))
        table = table.append_column("region", pa.array(np.asarray(["north", "mid", "south", "capital", "zealand"])
                                                       [number * 31 % 5]))
        if writer is None:
            writer = pq.ParquetWriter(out, table.schema)
        writer.write_table(table)
    if writer is not None:
        writer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=200_000)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    cli = [sys.executable, "-m", "trialeval.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        ledger, spells = generate(args.persons, work)
        run([*cli, "panel", "--ledger", str(ledger), "--spells", str(spells), "--extraction-date", EXTRACTION,
             "--weeks", str(WEEKS), "--out", str(work / "plain.parquet"), "--quiet"])
        panel = work / "panel.parquet"
        add_groups(work / "plain.parquet", panel)
        workers = ["--workers", str(args.workers)] if args.workers else []
        rows = []
        for name, extra in (("default", []), ("--blocks stratum", ["--blocks", "stratum"]),
                            ("--cluster team", ["--cluster", "team"]),
                            ("--covariates age,region", ["--covariates", "age,region"]),
                            ("--ri 20", ["--ri", "20"]),
                            ("--ri 20 --cluster team", ["--ri", "20", "--cluster", "team"]),
                            ("--blocks stratum --band", ["--blocks", "stratum", "--band"]),
                            ("--cluster team --band", ["--cluster", "team", "--band"])):
            seconds, cpu, peak = run([*cli, "effects", "--panel", str(panel), "--out", str(work / "effects.csv"),
                                      *workers, *extra])
            rows.append((name, seconds, cpu, peak))
        for name, extra in (("--band, Rademacher (library, 1,000 draws)", ""),
                            ("--cluster team --band, Rademacher (library, 1,000 draws)", ", cluster='team'")):
            code = ("from trialeval.effects import effects_from_file; "
                    f"effects_from_file({str(panel)!r}, band=True, multiplier='rademacher', band_draws=1000, "
                    f"workers={args.workers}{extra})")
            rows.append((name, *run([sys.executable, "-c", code])))
        rows_total = pq.ParquetFile(panel).metadata.num_rows
        print(f"persons {args.persons:,}, {WEEKS} weeks, {rows_total:,} person-weeks, "
              f"panel file {panel.stat().st_size / 2**20:,.0f} MiB")
        print("| effects | wall s | cpu s | peak RSS GB |\n|:--|--:|--:|--:|")
        for name, seconds, cpu, peak in rows:
            print(f"| {name} | {seconds:.1f} | {cpu:.1f} | {peak:.2f} |")


if __name__ == "__main__":
    main()
