"""Benchmark of the effect curves: wall time and peak memory at register scale.

Simulates the long panel that ``trialeval panel`` hands to ``effects`` directly (no spells): persons drawn
in weekly waves over 40 weeks and followed until an extraction date 52 weeks after the first wave, so the
first waves are followed 52 weeks and the last about 12 (≈ 32 rows per person); columns and dtypes as
``PanelResult.to_frame()`` gives them (``person_id`` text, ``arm`` and ``stratum`` categorical, ``week``
int16, five 0/1 indicators int8, ``ordinary_hours`` float64). Then measures, each in turn:

* ``effects``      — :func:`trialeval.effects` on the six outcomes (difference in means, every week);
* ``effects+band`` — the same with the sup-t band (Gaussian multipliers, 5,000 draws);
* ``blocked``      — the blocked estimator over the strata.

Peak memory is the highest resident set size (RSS) sampled every 2 ms during each phase (the panel
itself included, as it is in memory while the effects are computed), and ``ru_maxrss`` of the process.
Run::

    python benchmarks/bench_effects.py                     # 1,000,000 persons
    python benchmarks/bench_effects.py --persons 100000
"""

from __future__ import annotations

import argparse
import resource
import threading
import time

import numpy as np
import pandas as pd
import pyarrow as pa

from trialeval.effects import effects

OUTCOMES = ["has_ordinary_hours", "ordinary_hours", "in_internship", "in_wage_subsidy", "company_directed",
            "reached_13_weeks"]


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize()


class PeakRSS:
    """Highest RSS seen while the block runs (sampled every 2 ms on a thread)."""

    def __enter__(self) -> PeakRSS:
        self.peak = rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, rss_bytes())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())


def simulate(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    wave = rng.integers(0, 40, n)
    followed = 52 - wave
    treated = rng.random(n) < 0.5
    person = np.repeat(np.arange(n, dtype=np.int64), followed)
    start = np.repeat(np.cumsum(followed) - followed, followed)
    week = (np.arange(len(person)) - start + 1).astype(np.int16)
    tr = treated[person]
    p_hours = 0.07 + tr * 0.05 * np.minimum(week / 20, 1)
    hours_on = rng.random(len(person)) < p_hours
    intern = rng.random(len(person)) < 0.14 + tr * 0.2 * np.minimum(week / 10, 1)
    subsidy = rng.random(len(person)) < 0.05 + tr * 0.03
    ids = pa.array(np.char.add("P", np.char.zfill(np.arange(n).astype(str), 7)))
    panel = pd.DataFrame({
        "person_id": pd.Series(pd.arrays.ArrowStringArray(ids.take(pa.array(person)))),
        "arm": pd.Categorical.from_codes((~tr).astype(np.int8), ["treatment", "control"]),
        "week": week,
        "has_ordinary_hours": hours_on.astype(np.int8),
        "ordinary_hours": np.where(hours_on, rng.uniform(1, 40, len(person)), 0.0),
        "in_internship": intern.astype(np.int8),
        "in_wage_subsidy": subsidy.astype(np.int8),
        "company_directed": (hours_on | intern | subsidy).astype(np.int8),
        "reached_13_weeks": (rng.random(len(person)) < np.minimum(week / 100, 0.5)).astype(np.int8),
        "stratum": pd.Categorical.from_codes(rng.integers(0, 60, n)[person].astype(np.int8),
                                             [f"s{i}" for i in range(60)]),
    })
    return panel


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--skip", default="", help="comma-separated phases to skip (band, blocked)")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    t0 = time.perf_counter()
    panel = simulate(args.persons)
    base = rss_bytes()
    print(f"persons {args.persons:,}  rows {len(panel):,}  weeks {panel['week'].max()}  "
          f"panel in memory {panel.memory_usage(deep=True).sum() / 2**20:,.0f} MiB  "
          f"RSS after simulation {base / 2**20:,.0f} MiB  ({time.perf_counter() - t0:.1f} s to simulate)")
    phases = [("effects", {}), ("effects+band", {"band": True, "rng": 1}), ("blocked", {"blocks": "stratum"})]
    for name, kw in phases:
        if (name == "effects+band" and "band" in skip) or (name == "blocked" and "blocked" in skip):
            continue
        with PeakRSS() as peak:
            start = time.perf_counter()
            result = effects(panel, OUTCOMES, **kw)
            seconds = time.perf_counter() - start
        print(f"{name:<13} {seconds:6.2f} s   peak RSS {peak.peak / 2**20:,.0f} MiB "
              f"(+{(peak.peak - base) / 2**20:,.0f} MiB over the panel)   rows out {len(result.table)}")
    print(f"ru_maxrss {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10:,.0f} MiB")


if __name__ == "__main__":
    main()
