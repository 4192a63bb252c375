"""Effect curves from a panel file, read in batches of whole persons: memory bounded by the batch.

:func:`effects_from_file` gives what :func:`~trialeval.effects.effects` gives on the whole file read into
memory, without reading it whole. Pass 1 reads the keys and outcomes row group by row group (Parquet)
or block by block (CSV) and adds up, per (week, arm), the moments of every outcome, plus per arm the
moments of the person means over weeks 1–K for the summary and the rows of the hours week; the
difference in means, its Welch variance, the summary and the hours distribution come from these sums.
With ``band`` a second pass adds each outcome's WᵀW (W the influences summed per person), from which
the sup-t critical value is drawn exactly as in memory (same seed, same draws); with Rademacher
multipliers it adds Wᵀξ, the ±1 of each person drawn from its number in the file
(:mod:`~trialeval.effects._stream_band`), as in memory.

Batches are processed by a pool of threads (``workers``); the partial sums are added in file order, so
the result does not depend on the number of workers.

The blocked and clustered estimators add their moments per block (cluster), week and arm to pass 1
(:mod:`~trialeval.effects._stream_groups`); Lin's adjustment takes three more passes
(:mod:`~trialeval.effects._stream_lin`); randomisation inference two more (over clusters one), with
draws that do not depend on the batches and are those of the in-memory path
(:mod:`~trialeval.effects._stream_ri`). Every option streams; file types other than Parquet and CSV are
read whole and :func:`~trialeval.effects.effects` estimates them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
from threadpoolctl import threadpool_limits

from trialeval.disclosure import DEFAULT_MIN_CELL
from trialeval.design import Design
from trialeval.effects._inputs import _as_list, _check_int, _default_outcomes, _require_both_arms, _week_list, _whole
from trialeval.effects._stream_designs import _hours, _Sums, add_randomisation_inference, estimate_grouped, estimate_lin
from trialeval.effects._stream_groups import GroupCells, empty_groups, group_pass
from trialeval.effects._stream_pass import (
    FirstPass,
    PassOptions,
    band_pass,
    cohort_rows,
    empty_first_pass,
    first_pass,
    reported_cells,
)
from trialeval.effects._stream_read import (
    STREAMED_SUFFIXES,
    BatchOrder,
    Block,
    PanelFile,
    check_person_order,
    compact,
    find_split_person,
    fragments_table,
    person_codes,
    run_tasks,
    split_persons,
    to_block,
)
from trialeval.effects._tables import effect_frame
from trialeval.effects.api import _band_limits, _check_inputs, _Options, _OutcomeResult, _result, effects
from trialeval.effects.estimators import ESTIMATORS, WeekData, WeekEstimate
from trialeval.effects.hours import hours_distribution
from trialeval.effects._stream_band import PersonRuns, dim_band_pass, empty_multiplied, person_runs
from trialeval.effects.inference import Multiplier, ProgressCallback, _rademacher_critical, _sup_t_gaussian
from trialeval.effects.results import EffectsResult, HoursDistributionResult
from trialeval.effects.summary import summary_from_person_means
from trialeval.exceptions import EstimationError, InputDataError
from trialeval.io import ARMS, make_rng, read_table, require_columns
from trialeval.stats.moments import CellMoments
from trialeval.timeaxis import axis_of_columns

R = TypeVar("R")
_HOURS = "ordinary_hours"


def effects_from_file(
    path: str | os.PathLike[str],
    outcomes: str | Sequence[str] | None = None,
    *,
    blocks: str | None = None,
    covariates: str | Sequence[str] | None = None,
    cluster: str | None = None,
    min_weeks: int | None = None,
    band: bool = False,
    ri: int = 0,
    summary_weeks: int | None = None,
    hours_week: int | None = None,
    alpha: float = 0.05,
    rng: np.random.Generator | int | None = None,
    min_cell: int = DEFAULT_MIN_CELL,
    weeks: int | Sequence[int] | None = None,
    band_draws: int = 5000,
    multiplier: Multiplier = "gaussian",
    source: str | None = None,
    rename: Mapping[str, str] | None = None,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    unordered: Literal["error", "read whole"] = "error",
    design: Design | None = None,
) -> EffectsResult:
    """Effect curves from a panel file (Parquet or CSV) read in batches of whole persons.

    The result equals ``effects(read_table(path), ...)`` (to rounding) while memory is bounded by a
    row group (Parquet) or a block of about 32 MB (CSV), not by the file.

    Parameters
    ----------
    path
        A long panel, one row per observed person-week, with the rows of each person together (as
        ``trialeval panel`` writes it: person-ordered). A Parquet file is read row group by row group;
        a person may go on from one row group into the next.
    outcomes, blocks, covariates, cluster, min_weeks, band, ri, summary_weeks, hours_week, alpha, rng, \
min_cell, weeks, band_draws, multiplier
        As :func:`~trialeval.effects.effects`. ``ri`` and the Rademacher band draw per unit from the
        seed and the unit's place (persons in file order, clusters by sorted label): the same for any
        batches and workers, and the same as the in-memory path's draws.
    source
        Name of the panel in messages (default: the path).
    rename
        ``{contract_name: user_name}`` from the config's ``[columns]`` table.
    workers
        Threads that read and reduce batches at once (default: every core of the machine).
    progress
        Optional ``callback(done, total)``: rows read in each pass (the band needs a second pass).
    design
        The trial's :class:`~trialeval.design.Design`: its groups are the ``arm`` labels (without one,
        ``treatment`` and ``control``). A panel with a ``weight`` column is read whole (as the in-memory
        path checks weights).
    unordered
        A file whose persons' rows are not together: ``"error"`` raises :class:`InputDataError`
        naming a person; ``"read whole"`` reads the file into memory and estimates there.

    Returns
    -------
    EffectsResult

    Raises
    ------
    InputDataError
        A file that cannot be read, misses columns, has bad keys, or whose persons' rows are not together.

    Examples
    --------
    >>> import numpy as np, pandas as pd, tempfile, pathlib
    >>> rng = np.random.default_rng(1)
    >>> panel = pd.DataFrame({"person_id": np.repeat([f"p{i:02d}" for i in range(40)], 3),
    ...                       "arm": np.repeat(np.tile(["treatment", "control"], 20), 3),
    ...                       "week": np.tile([1, 2, 3], 40)})
    >>> panel["y"] = rng.normal(size=120) + (panel["arm"] == "treatment") * panel["week"]
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "panel.parquet"
    >>> panel.to_parquet(path)
    >>> res = effects_from_file(path, "y")
    >>> res.to_frame()[["week", "n_treatment", "n_control"]].values.tolist()
    [[1, 20, 20], [2, 20, 20], [3, 20, 20]]
    """
    source = str(path) if source is None else source
    kwargs: dict[str, Any] = dict(
        blocks=blocks, covariates=covariates, cluster=cluster, min_weeks=min_weeks, band=band, ri=ri,
        summary_weeks=summary_weeks, hours_week=hours_week, alpha=alpha, rng=rng, min_cell=min_cell,
        weeks=weeks, band_draws=band_draws, multiplier=multiplier, source=source, progress=progress,
        design=design)
    if ri and design is not None:
        design.require_randomised()
    if not streamed(path, kwargs) or "weight" in _column_names(path, rename):
        # a weight column is checked (weighted estimation is not available yet) by the in-memory path
        return effects(read_table(path, rename=rename), outcomes, **kwargs)
    if not (isinstance(alpha, float | int) and 0 < alpha < 1):
        raise InputDataError(f"effects: 'alpha' must be in (0, 1); got {alpha!r}")
    opts = _Options(
        blocks=blocks, covariates=_as_list(covariates), cluster=cluster, min_weeks=_check_int("min_weeks", min_weeks, 1), band=band,
        ri=_check_int("ri", ri, 0) or 0, summary_weeks=_check_int("summary_weeks", summary_weeks, 1),
        hours_week=_check_int("hours_week", hours_week, -10_000), alpha=float(alpha),
        min_cell=_whole("min_cell", min_cell, 0), band_draws=_whole("band_draws", band_draws, 10),
        multiplier=multiplier, source=source, design=design, axis=axis_of_columns(_column_names(path, rename)))
    panel = PanelFile(path, rename, (design or Design()).labels)
    outcomes_l = _checked_outcomes(panel, outcomes, opts)
    popts = PassOptions(source, tuple(outcomes_l), opts.min_weeks, opts.summary_weeks, opts.hours_week)
    n_workers = max(1, int(workers)) if workers else (os.cpu_count() or 1)
    columns = ["person_id", "arm", opts.axis.column, *outcomes_l]
    if opts.hours_week is not None and _HOURS not in outcomes_l:
        columns.append(_HOURS)
    group = opts.blocks or opts.cluster
    if group:
        columns.append(group)
    columns.extend(c for c in opts.covariates if c not in columns)
    stratum = _ri_stratum(panel, opts)
    if stratum and stratum not in columns:
        columns.append(stratum)
    # numpy's BLAS threads would compete with the workers' threads: one each while several workers run
    with threadpool_limits(1 if n_workers > 1 else None, user_api="blas"):
        return _stream(panel, path, outcomes_l, opts, popts, columns, n_workers, weeks, rng, progress,
                       lambda: effects(read_table(path, rename=rename), outcomes, **kwargs), unordered)


def _stream(panel: PanelFile, path: str | os.PathLike[str], outcomes_l: list[str], opts: _Options,
            popts: PassOptions, columns: list[str], n_workers: int, weeks: int | Sequence[int] | None,
            rng: np.random.Generator | int | None, progress: ProgressCallback | None,
            read_whole: Callable[[], EffectsResult], unordered: str) -> EffectsResult:
    """Pass 1, the order check, then the estimates (and the band's pass)."""
    source = opts.source
    group = opts.blocks or opts.cluster
    stratum = _ri_stratum(panel, opts)
    label_columns = [c for c in (group, *opts.covariates, stratum) if c]
    scan = _Scan(panel, columns, n_workers, progress, labels=list(dict.fromkeys(label_columns)),
                 nullable=tuple(opts.covariates))
    runs = opts.band and opts.multiplier == "rademacher" and not opts.cluster     # persons numbered in file order
    both = scan.reduce(lambda b: _FirstAndGroups(
        first_pass(b, popts),
        group_pass(b, group, popts.outcomes, cohort_rows(b, popts.min_weeks), popts.source,
                   per_person=bool(opts.blocks)) if group else None,
        person_runs(b) if runs else None),
        _FirstAndGroups(empty_first_pass(popts), empty_groups(popts.outcomes) if group else None,
                        PersonRuns() if runs else None))
    first, groups = both.first, both.groups
    offsets = both.runs.offsets() if both.runs is not None else None
    if not check_person_order(scan.orders):
        split = find_split_person(panel)
        if split is not None and unordered == "read whole":
            return read_whole()
        if split is not None:
            raise InputDataError(
                f"{source}: the rows of person '{split}' are not together; the panel must be person-ordered "
                "(all rows of a person one after another, as 'trialeval panel' writes it): sort it by person_id")
    if first.n_rows == 0:
        raise InputDataError(f"{panel.path}: has a header but no rows")
    labels = panel.groups
    _require_both_arms([a for a, n in zip((labels[1], labels[0]), first.arm_rows) if n], source, labels)
    gen = make_rng(rng)
    if opts.covariates:
        result = estimate_lin(first, outcomes_l, opts, weeks, scan, popts, gen, panel.suffix == ".csv",
                              panel.column_types(opts.covariates), offsets)
    elif groups is not None:
        result = estimate_grouped(first, groups, outcomes_l, opts, weeks, scan, popts, gen, panel.suffix == ".csv",
                                  offsets)
    else:
        result = _estimate(first, outcomes_l, opts, weeks, scan, popts, gen, offsets)
    if opts.ri:
        result = add_randomisation_inference(result, first, scan, popts, opts, stratum, gen,
                                             panel.suffix == ".csv")
    return result


def _ri_stratum(panel: PanelFile, opts: _Options) -> str | None:
    """The strata of randomisation inference: the panel's ``stratum`` column, else ``blocks`` (None: one)."""
    if not opts.ri:
        return None
    return "stratum" if "stratum" in panel.columns else opts.blocks


def _column_names(path: str | os.PathLike[str], rename: Mapping[str, str] | None) -> set[str]:
    """The contract names of a panel file's columns (its header only)."""
    try:
        return set(PanelFile(path, rename).empty_frame().columns)
    except InputDataError:
        return set()


def streamed(path: str | os.PathLike[str], options: Mapping[str, Any]) -> bool:
    """Whether :func:`effects_from_file` streams this file with these options (else it reads it whole):
    every option streams; Parquet and CSV files do."""
    return Path(path).suffix.lower() in STREAMED_SUFFIXES


def _checked_outcomes(panel: PanelFile, outcomes: str | Sequence[str] | None, opts: _Options) -> list[str]:
    """The outcomes to estimate, with the checks of names and columns of the in-memory path."""
    frame = panel.empty_frame()
    chosen = _as_list(outcomes) or _default_outcomes(frame, set())
    for o in chosen:                   # values are checked batch by batch, naming the rows
        if o in frame.columns and frame.columns.tolist().count(o) == 1:
            frame[o] = frame[o].astype(np.float64) if frame[o].dtype != bool else frame[o]
    outcomes_l = _check_inputs(frame, chosen or None, opts)
    if opts.hours_week is not None:
        require_columns(frame, ["person_id", "arm", opts.axis.column, _HOURS], opts.source)
    return outcomes_l


class _BandSource(Protocol):
    """What gives the band's WᵀW: a second pass over the file, or the panel kernel's sums."""

    def band_matrices(self, popts: PassOptions, week_list: np.ndarray, arms: dict[str, CellMoments]
                      ) -> dict[str, np.ndarray]: ...


class _Scan:
    """One pass over the file: each batch's whole persons at once, the edge persons stitched at the end."""

    def __init__(self, panel: PanelFile, columns: list[str], workers: int,
                 progress: ProgressCallback | None, labels: Sequence[str] = (), nullable: Sequence[str] = ()
                 ) -> None:
        self.panel, self.columns, self.workers, self.progress = panel, columns, workers, progress
        self.orders: list[BatchOrder] = []
        self.labels, self.nullable = tuple(labels), tuple(nullable)
        self.value_columns = [c for c in columns[3:] if c not in self.labels]

    def _block(self, table: pa.Table, rows: int | np.ndarray, code: np.ndarray) -> Block:
        return to_block(table, rows, code, self.value_columns, self.panel.source, period=self.columns[2],
                        groups=self.panel.groups, label_columns=self.labels, nullable=self.nullable)

    def band_matrices(self, popts: PassOptions, week_list: np.ndarray, arms: dict[str, CellMoments]
                      ) -> dict[str, np.ndarray]:
        """Pass 2: each outcome's WᵀW over ``week_list`` (W the influences summed per person)."""
        nw = len(week_list)
        start = {o: np.zeros((nw, nw)) for o in popts.outcomes}
        return self.reduce(lambda b: _Sums(band_pass(b, popts, week_list, arms)), _Sums(start)).sums

    def reduce(self, fn: Callable[[Block], R], start: R) -> R:
        """``start + fn(block) + …`` over the file's blocks in file order (``R`` supports ``+``)."""
        source = self.panel.source
        self.orders = []
        edges: list[tuple[pa.Table, int]] = []
        total, done = self.panel.n_rows, 0

        def task(load: Callable[[], tuple[int, pa.Table]]) -> Callable[[], tuple[Any, list[Any], Any, int]]:
            def run() -> tuple[Any, list[Any], Any, int]:
                offset, table = load()
                n = table.num_rows
                if n == 0:
                    return None, [], None, 0
                (lo, hi), code, _, order = split_persons(table, source, offset)
                part = fn(self._block(table.slice(lo, hi - lo), offset + lo, code[lo:hi])) if hi > lo else None
                edge = [(compact(table, 0, lo), offset)] + ([(compact(table, hi, n), offset + hi)] if hi < n else [])
                return part, edge, order, n
            return run

        acc = start
        for part, edge, order, n in run_tasks((task(load) for load in self.panel.batches(self.columns)),
                                              self.workers):
            if part is not None:
                acc = acc + part  # type: ignore[operator]
            if order is not None:
                self.orders.append(order)
            edges.extend(e for e in edge if e[0].num_rows)
            done += n
            if self.progress is not None:
                self.progress(done, total if total is not None else done)
        if edges:
            table, rows = fragments_table(edges)
            code, _ = person_codes(table, source, 0)
            acc = acc + fn(self._block(table, rows, code))  # type: ignore[operator]
        return acc


class _FirstAndGroups:
    """Pass 1, the grouped cells and the runs of persons of one block (each optional); adds up with ``+``."""

    def __init__(self, first: FirstPass, groups: GroupCells | None, runs: PersonRuns | None = None) -> None:
        self.first, self.groups, self.runs = first, groups, runs

    def __add__(self, other: _FirstAndGroups) -> _FirstAndGroups:
        groups = self.groups + other.groups if self.groups is not None and other.groups is not None else None
        runs = self.runs + other.runs if self.runs is not None and other.runs is not None else None
        return _FirstAndGroups(self.first + other.first, groups, runs)


def _estimate(first: FirstPass, outcomes: list[str], opts: _Options, weeks: int | Sequence[int] | None,
              scan: _BandSource, popts: PassOptions, gen: np.random.Generator,
              offsets: dict[int, int] | None = None) -> EffectsResult:
    """Estimates, band, summary and hours distribution from pass 1 (and the band's pass 2); ``offsets``:
    the first person number of each run (the Rademacher band)."""
    cells = first.cells
    present = cells.lo + np.flatnonzero(cells.rows) if cells.span else np.zeros(0, np.int64)
    week_list = _week_list(present, weeks, opts.min_weeks, opts.source)
    estimator = ESTIMATORS["difference_in_means"]
    empty = np.zeros(0, dtype=np.int64)
    period = opts.axis.column
    per_outcome, estimates, arms = [], [], {}
    for outcome in outcomes:
        moments, non01, nonzero = reported_cells(first, outcome, week_list)
        if moments.n.sum() == 0:
            raise EstimationError(f"{opts.source}: outcome '{outcome}' has no values in the reported weeks")
        arms[outcome] = moments
        est = estimator.estimate(WeekData(empty, empty, np.zeros(0), empty, week_list, outcome, opts.source,
                                          moments=moments))
        res = _OutcomeResult(frame=effect_frame(outcome, week_list, est, opts.alpha, period),
                             indicator=bool(non01.sum() == 0))
        if not res.indicator:
            res.nonzero = pd.DataFrame({"outcome": outcome, period: week_list,
                                        "nonzero_treatment": nonzero[1::2], "nonzero_control": nonzero[0::2]})
        per_outcome.append(res)
        estimates.append(est)
    if opts.band:
        _add_band(per_outcome, estimates, outcomes, opts, scan, popts, week_list, arms, gen, offsets)
    table = pd.concat([o.frame for o in per_outcome], ignore_index=True)
    summary = (summary_from_person_means(first.summary, opts.summary_weeks, opts.alpha, opts.source)
               if opts.summary_weeks is not None else None)
    hours = _hours(first, opts) if opts.hours_week is not None else None
    return _result(table, estimator.describe(None), outcomes, per_outcome, opts, week_list, None, summary, hours)


def _add_band(per_outcome: list[_OutcomeResult], estimates: list[WeekEstimate], outcomes: list[str],
              opts: _Options, scan: _BandSource, popts: PassOptions, week_list: np.ndarray,
              arms: dict[str, CellMoments], gen: np.random.Generator, offsets: dict[int, int] | None) -> None:
    """Pass 2: WᵀW per outcome (Rademacher: Wᵀξ), then the sup-t band of each outcome (draws in outcome
    order, as in memory)."""
    if opts.multiplier == "rademacher":
        assert isinstance(scan, _Scan) and offsets is not None
        seeds = {o: int(gen.integers(2**62)) for o in outcomes}
        total = scan.reduce(lambda b: dim_band_pass(b, popts, week_list, arms, offsets, seeds, opts.band_draws),
                            empty_multiplied(popts.outcomes, len(week_list), opts.band_draws))
        crits = {o: _rademacher_critical(total.T[o], total.ss[o], opts.alpha) for o in outcomes}
    else:
        S = scan.band_matrices(popts, week_list, arms)
        crits = {o: _sup_t_gaussian(S[o], opts.alpha, gen, opts.band_draws) for o in outcomes}
    for res, est, outcome in zip(per_outcome, estimates, outcomes):
        crit, ok = crits[outcome]
        se = res.frame["se"].to_numpy()
        res.frame["band_low"], res.frame["band_high"], res.band = _band_limits(est, se, crit, ok, outcome, opts)
