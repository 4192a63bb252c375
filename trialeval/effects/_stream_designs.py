"""The streamed estimates of the blocked, clustered and Lin designs and randomisation inference, from the passes' sums.

:func:`estimate_grouped` turns what pass 1 gathered (:class:`~trialeval.effects._stream_pass.FirstPass`
and :class:`~trialeval.effects._stream_groups.GroupCells`) into the result that
:func:`~trialeval.effects.effects` gives on the whole file: the effect table, the dropped-blocks table
(with its warning), the Gaussian band, the summary and the hours distribution. The estimates come from
the functions the in-memory estimators call (``blocked_from_moments``, ``cr2_from_sums``).
:func:`estimate_lin` runs Lin's three passes (:mod:`~trialeval.effects._stream_lin`) and
:func:`add_randomisation_inference` the two of randomisation inference
(:mod:`~trialeval.effects._stream_ri`).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from trialeval.effects._inputs import _week_list
from trialeval.effects._stream_groups import (
    BandInputs,
    GroupCells,
    blocked_influences,
    check_groups,
    cluster_band_matrix,
    cluster_sums,
    relabel,
    typed_labels,
)
from trialeval.effects._stream_pass import FirstPass, PassOptions, cohort_rows, reported_cells, week_index
from trialeval.effects._stream_read import Block
from trialeval.effects._stream_ri import (
    DrawSums,
    UnitCounts,
    cluster_draw_sums,
    cluster_pass,
    count_pass,
    draw_pass,
    empty_cluster_sums,
    empty_draw_sums,
    plan_draws,
    ri_pvalues,
)
from trialeval.effects._tables import effect_frame
from trialeval.effects.api import _band_limits, _dropped_blocks, _Options, _outcome_dropped, _OutcomeResult, _result
from trialeval.effects._stream_lin import (
    LeverageSums,
    WeekFit,
    comoments,
    covariate_pass,
    empty_comoments,
    empty_scan,
    fit_week,
    leverage_rows,
    spec_from_scan,
)
from trialeval.effects.estimators import (
    ESTIMATORS,
    WeekData,
    WeekEstimate,
    _warn_aliased,
    blocked_from_moments,
    cr2_from_sums,
    welch,
)
from trialeval.effects.hours import hours_distribution
from trialeval.effects._stream_band import Multiplied, empty_multiplied, multiply, person_numbers
from trialeval.effects.inference import _rademacher_critical, _sup_t_gaussian
from trialeval.effects.results import EffectsResult, HoursDistributionResult
from trialeval.effects.summary import summary_from_person_means
from trialeval.exceptions import EstimationError, InputDataError
from trialeval.io import ARMS
from trialeval.stats.moments import CellMoments


class _Scanner(Protocol):
    def reduce(self, fn: Callable[[Block], Any], start: Any) -> Any: ...


def estimate_grouped(first: FirstPass, groups: GroupCells, outcomes: list[str], opts: _Options,
                     weeks: int | Sequence[int] | None, scan: _Scanner, popts: PassOptions,
                     gen: np.random.Generator, csv: bool, offsets: dict[int, int] | None = None) -> EffectsResult:
    """The blocked (``opts.blocks``) or clustered (``opts.cluster``) result from the passes' sums
    (``offsets``: the first person number of each run, for the blocked Rademacher band)."""
    cells = first.cells
    present = cells.lo + np.flatnonzero(cells.rows) if cells.span else np.zeros(0, np.int64)
    week_list = _week_list(present, weeks, opts.min_weeks, opts.source)
    column = opts.blocks or opts.cluster
    assert column is not None
    read_as = groups.labels
    names, rank = typed_labels(read_as, csv)
    groups = relabel(groups, rank)
    check_groups(groups, column, "blocks" if opts.blocks else "cluster", opts.source, bool(opts.cluster), names)
    estimator = ESTIMATORS["blocked" if opts.blocks else "cr2"]
    nw, L = len(week_list), len(names)
    per_outcome, estimates = [], []
    band_sums: dict[str, np.ndarray] = {}
    band_in = BandInputs(read_as, rank)
    for outcome in outcomes:
        arms, non01, nonzero = reported_cells(first, outcome, week_list)
        if arms.n.sum() == 0:
            raise EstimationError(f"{opts.source}: outcome '{outcome}' has no values in the reported weeks")
        m, nz = groups.week_major(outcome, week_list)
        if opts.blocks:
            est, share = blocked_from_moments(m, nw, names, np.zeros(0, np.int64))
            valid = np.repeat((m.n[0::2] >= 2) & (m.n[1::2] >= 2), 2)
            nonzero = np.where(valid, nz, 0.0).reshape(nw, L, 2).sum(axis=1).ravel()
            with np.errstate(invalid="ignore", divide="ignore"):
                band_in.centre[outcome] = m.mean
                band_in.scale[outcome] = (np.where(valid & (m.n >= 2), 1.0 / np.sqrt(m.n * (m.n - 1)), 0.0)
                                          * np.repeat(share, 2))
        else:
            est, band_sums[outcome] = _cluster_estimate(m, arms)
        res = _OutcomeResult(frame=effect_frame(outcome, week_list, est, opts.alpha, opts.axis.column),
                             indicator=bool(non01.sum() == 0))
        if not res.indicator:
            res.nonzero = pd.DataFrame({"outcome": outcome, opts.axis.column: week_list,
                                        "nonzero_treatment": nonzero[1::2], "nonzero_control": nonzero[0::2]})
        res.dropped = _outcome_dropped(est, outcome, week_list, opts)
        per_outcome.append(res)
        estimates.append(est)
    if opts.band:
        crits = _grouped_band(band_sums, band_in, column, outcomes, opts, week_list, scan, popts, gen, offsets)
        for res, est, outcome in zip(per_outcome, estimates, outcomes):
            crit, ok = crits[outcome]
            res.frame["band_low"], res.frame["band_high"], res.band = _band_limits(
                est, res.frame["se"].to_numpy(), crit, ok, outcome, opts)
    table = pd.concat([o.frame for o in per_outcome], ignore_index=True)
    dropped = _dropped_blocks(per_outcome, opts, stacklevel=5) if opts.blocks else None
    summary = (summary_from_person_means(first.summary, opts.summary_weeks, opts.alpha, opts.source)
               if opts.summary_weeks is not None else None)
    hours = _hours(first, opts) if opts.hours_week is not None else None
    return _result(table, estimator.describe(column), outcomes, per_outcome, opts, week_list, dropped, summary,
                   hours)


def _grouped_band(cluster_W: dict[str, np.ndarray], band_in: BandInputs, column: str, outcomes: list[str],
                  opts: _Options, week_list: np.ndarray, scan: _Scanner, popts: PassOptions, gen: np.random.Generator,
                  offsets: dict[int, int] | None) -> dict[str, tuple[float, np.ndarray]]:
    """Each outcome's sup-t critical value and band weeks: clusters' W from the cells, persons' (blocked)
    from one more pass; Gaussian from WᵀW, Rademacher from Wᵀξ (one seed per outcome, in outcome order)."""
    nw = len(week_list)
    rademacher = opts.multiplier == "rademacher"
    seeds = {o: int(gen.integers(2**62)) for o in outcomes} if rademacher else {}
    if not opts.blocks:
        if rademacher:
            sums = {o: multiply(W.T, np.arange(W.shape[1]), seeds[o], opts.band_draws) for o, W in cluster_W.items()}
            return {o: _rademacher_critical(*sums[o], opts.alpha) for o in outcomes}
        return {o: _sup_t_gaussian(cluster_W[o] @ cluster_W[o].T, opts.alpha, gen, opts.band_draws) for o in outcomes}

    def influences(b: Block) -> dict[str, np.ndarray]:
        return blocked_influences(b, column, popts.outcomes, cohort_rows(b, popts.min_weeks), week_list, band_in)

    if rademacher:
        assert offsets is not None
        draws = opts.band_draws

        def product(b: Block) -> Multiplied:
            numbers = person_numbers(b, offsets)
            W = influences(b)
            pairs = {o: multiply(W[o], numbers, seeds[o], draws) for o in outcomes}
            return Multiplied({o: p[0] for o, p in pairs.items()}, {o: p[1] for o, p in pairs.items()})

        total = scan.reduce(product, empty_multiplied(outcomes, nw, draws))
        return {o: _rademacher_critical(total.T[o], total.ss[o], opts.alpha) for o in outcomes}
    start = {o: np.zeros((nw, nw)) for o in outcomes}
    S = scan.reduce(lambda b: _Sums({o: W.T @ W for o, W in influences(b).items()}), _Sums(start)).sums
    return {o: _sup_t_gaussian(S[o], opts.alpha, gen, opts.band_draws) for o in outcomes}


def _cluster_estimate(m: CellMoments, arms: CellMoments) -> tuple[WeekEstimate, np.ndarray]:
    """CR2 per week from the (week, cluster, arm) cells, and the band's W (weeks × clusters, signed)."""
    control, treated = arms[0::2], arms[1::2]
    n1, n0, m1, m0 = treated.n, control.n, treated.mean, control.mean
    ng, E, tg = cluster_sums(m, arms)
    var, df, c2, ok = cr2_from_sums(ng, E, tg, n1, n0)
    W = cluster_band_matrix(ng, E, tg, c2, ok, n1, n0)
    return WeekEstimate(n1, n0, m1, m0, m1 - m0, var, df, None, np.zeros(0, np.int64)), W


class _Sums:
    """Per-outcome matrices that add up with ``+``."""

    def __init__(self, sums: dict[str, np.ndarray]) -> None:
        self.sums = sums

    def __add__(self, other: _Sums) -> _Sums:
        return _Sums({k: v + other.sums[k] for k, v in self.sums.items()})


def _hours(first: FirstPass, opts: _Options) -> HoursDistributionResult:
    """The hours distribution from the rows of the hours week (one small column per arm)."""
    t = np.concatenate([p[0] for p in first.hours]) if first.hours else np.zeros(0, np.int8)
    h = np.concatenate([p[1] for p in first.hours]) if first.hours else np.zeros(0)
    frame = pd.DataFrame({"person_id": "", "arm": np.asarray(ARMS)[np.where(t == 1, 0, 1)],
                          opts.axis.column: opts.hours_week, "ordinary_hours": h})
    return hours_distribution(frame, week=opts.hours_week or 0, min_cell=opts.min_cell, source=opts.source,
                              axis=opts.axis)


#: Rows of a block taken at once by Lin's passes (their covariate matrix is built a slice at a time).
_SLICE = 1 << 17


class _AddDict:
    """Per-outcome values that add up with ``+``."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def __add__(self, other: _AddDict) -> _AddDict:
        return _AddDict({k: v + other.values[k] for k, v in self.values.items()})


def estimate_lin(first: FirstPass, outcomes: list[str], opts: _Options, weeks: int | Sequence[int] | None,
                 scan: _Scanner, popts: PassOptions, gen: np.random.Generator, csv: bool,
                 types: dict[str, Any], offsets: dict[int, int] | None = None) -> EffectsResult:
    """Lin's adjustment with HC2 from three more passes (covariates, co-moments, leverages).

    Its matrices are small (covariates + 2 columns): numpy's BLAS threads would only wait on each other.
    """
    with threadpool_limits(1, user_api="blas"):
        return _estimate_lin(first, outcomes, opts, weeks, scan, popts, gen, csv, types, offsets)


def _estimate_lin(first: FirstPass, outcomes: list[str], opts: _Options, weeks: int | Sequence[int] | None,
                  scan: _Scanner, popts: PassOptions, gen: np.random.Generator, csv: bool,
                  types: dict[str, Any], offsets: dict[int, int] | None) -> EffectsResult:
    cells = first.cells
    present = cells.lo + np.flatnonzero(cells.rows) if cells.span else np.zeros(0, np.int64)
    week_list = _week_list(present, weeks, opts.min_weeks, opts.source)
    nw, covs = len(week_list), opts.covariates

    def rows(b: Block) -> np.ndarray:
        return week_index(b, week_list, cohort_rows(b, popts.min_weeks))

    found = scan.reduce(lambda b: covariate_pass(b, covs, rows(b) >= 0, csv, types), empty_scan(covs))
    spec = spec_from_scan(found, covs, opts.source, csv, types)
    names = np.asarray(spec.names, dtype=object)
    p = len(names)

    def moments(b: Block) -> _AddDict:
        w_all = rows(b)
        out = {o: empty_comoments(2 * nw, p) for o in outcomes}
        for lo in range(0, b.n_rows, _SLICE):              # a slice of rows at a time: Z is small
            hi = min(lo + _SLICE, b.n_rows)
            w, Z, t = w_all[lo:hi], spec.matrix(b, lo, hi), b.t[lo:hi]
            for o in outcomes:
                y = b.values[o][lo:hi]
                m = (w >= 0) & ~np.isnan(y) if y.dtype.kind == "f" else w >= 0
                out[o] = out[o] + comoments(2 * w[m] + t[m], Z[m], y[m], 2 * nw)
        return _AddDict(out)

    cm = scan.reduce(moments, _AddDict({o: empty_comoments(2 * nw, p) for o in outcomes})).values
    fits: dict[str, list[WeekFit | None]] = {}
    for o in outcomes:
        c = cm[o]
        fits[o] = [fit_week(c, k) if c.n[2 * k] >= 1 and c.n[2 * k + 1] >= 1 else None for k in range(nw)]

    # the Rademacher band: one seed per outcome (in outcome order) and per outcome [Wᵀξ | ΣW²] in the band's sums
    rademacher = opts.band and opts.multiplier == "rademacher"
    seeds = {o: int(gen.integers(2**62)) for o in outcomes} if rademacher else {}

    def band_sums(v: np.ndarray, o: str, b: Block) -> np.ndarray:
        W = v.reshape(b.n_persons, nw)
        if not rademacher:
            return W.T @ W
        assert offsets is not None
        T, ss = multiply(W, person_numbers(b, offsets), seeds[o], opts.band_draws)
        return np.hstack([T, ss[:, None]])

    def leverages(b: Block) -> LeverageSums:
        w_all = rows(b)
        key_all = b.person() * nw + w_all
        meat = {o: np.zeros(nw) for o in outcomes}
        W = {o: np.zeros(b.n_persons * nw) for o in outcomes} if opts.band else {}
        for lo in range(0, b.n_rows, _SLICE):
            hi = min(lo + _SLICE, b.n_rows)
            w, Z, t, key = w_all[lo:hi], spec.matrix(b, lo, hi), b.t[lo:hi], key_all[lo:hi]
            for o in outcomes:
                y = b.values[o][lo:hi]
                m = np.flatnonzero((w >= 0) & ~np.isnan(y) if y.dtype.kind == "f" else w >= 0)
                order = m[np.argsort(w[m], kind="stable")]
                bounds = np.searchsorted(w[order], np.arange(nw + 1))
                psi = np.zeros(len(order))
                for k, fit in enumerate(fits[o]):
                    i = order[bounds[k]:bounds[k + 1]]
                    if fit is None or not len(i):
                        continue
                    a2w, influence = leverage_rows(fit, Z[i], t[i], y[i].astype(np.float64))
                    meat[o][k] += a2w.sum()
                    psi[bounds[k]:bounds[k + 1]] = influence
                if opts.band:
                    W[o] += np.bincount(key[order], weights=psi, minlength=b.n_persons * nw)
        return LeverageSums(meat, {o: band_sums(v, o, b) for o, v in W.items()})

    start = LeverageSums({o: np.zeros(nw) for o in outcomes},
                         {o: np.zeros((nw, opts.band_draws + 1 if rademacher else nw)) for o in outcomes}
                         if opts.band else {})
    sums = scan.reduce(leverages, start)
    per_outcome = []
    for o in outcomes:
        arms, non01, nonzero = reported_cells(first, o, week_list)
        if arms.n.sum() == 0:
            raise EstimationError(f"{opts.source}: outcome '{o}' has no values in the reported weeks")
        est = _lin_estimate(fits[o], sums.meat[o], arms, names, week_list, o, opts.source)
        frame = effect_frame(o, week_list, est, opts.alpha, opts.axis.column)
        res = _OutcomeResult(frame=frame, indicator=bool(non01.sum() == 0))
        if opts.band:
            crit, ok = (_rademacher_critical(sums.band[o][:, :-1], sums.band[o][:, -1], opts.alpha) if rademacher
                        else _sup_t_gaussian(sums.band[o], opts.alpha, gen, opts.band_draws))
            frame["band_low"], frame["band_high"], res.band = _band_limits(est, frame["se"].to_numpy(), crit, ok,
                                                                           o, opts)
        assert est.var_unadjusted is not None
        frame["se_unadjusted"] = np.sqrt(est.var_unadjusted)
        if not res.indicator:
            res.nonzero = pd.DataFrame({"outcome": o, opts.axis.column: week_list,
                                        "nonzero_treatment": nonzero[1::2], "nonzero_control": nonzero[0::2]})
        per_outcome.append(res)
    table = pd.concat([r.frame for r in per_outcome], ignore_index=True)
    summary = (summary_from_person_means(first.summary, opts.summary_weeks, opts.alpha, opts.source)
               if opts.summary_weeks is not None else None)
    hours = _hours(first, opts) if opts.hours_week is not None else None
    return _result(table, ESTIMATORS["lin"].describe(covs), outcomes, per_outcome, opts, week_list, None, summary,
                   hours)


def _lin_estimate(fits: list[WeekFit | None], meat: np.ndarray, arms: CellMoments, names: np.ndarray,
                  week_list: np.ndarray, outcome: str, source: str) -> WeekEstimate:
    """The per-week Lin estimates of one outcome (and the warning naming interactions left out)."""
    control, treated = arms[0::2], arms[1::2]
    var_u, _ = welch(treated, control)
    nw = len(week_list)
    effect, var, df = np.full(nw, np.nan), np.full(nw, np.nan), np.full(nw, np.nan)
    aliased: dict[int, list[str]] = {}
    for k, fit in enumerate(fits):
        if fit is None:
            continue
        effect[k], var[k], df[k] = fit.beta[fit.t_pos], meat[k], fit.n - fit.rank
        left_out = np.setdiff1d(np.arange(len(fit.varies)), fit.both)
        if len(left_out):
            aliased[k] = [str(x) for x in names[fit.varies[left_out]]]
    if aliased:
        empty = np.zeros(0, np.int64)
        _warn_aliased(aliased, WeekData(empty, empty, np.zeros(0), empty, week_list, outcome, source))
    return WeekEstimate(treated.n, control.n, treated.mean, control.mean, effect, var, df, None, np.zeros(0, np.int64),
                        var_unadjusted=var_u)


def add_randomisation_inference(result: EffectsResult, first: FirstPass, scan: _Scanner, popts: PassOptions,
                                opts: _Options, stratum: str | None, gen: np.random.Generator,
                                csv: bool = False) -> EffectsResult:
    """The result with ``p_value_ri``: two more passes (units per stratum, then the draws' sums; clusters:
    one pass, the sums per cluster and week, then the draws over clusters); ``csv``:
    the strata's labels were read as text (whole numbers are sorted as numbers, as in memory)."""
    week_list = np.asarray(result.settings["weeks"], dtype=np.int64)
    nw = len(week_list)

    def rows(b: Block) -> np.ndarray:
        return week_index(b, week_list, cohort_rows(b, popts.min_weeks))

    if opts.cluster:
        sums = _cluster_ri(scan, rows, opts, popts, stratum, gen, csv, nw)
    else:
        counts = scan.reduce(lambda b: count_pass(b, rows(b), stratum, opts.source), UnitCounts())
        plan = plan_draws(counts, int(gen.integers(2**62)), opts.ri, csv)
        sums = scan.reduce(lambda b: draw_pass(b, rows(b), popts.outcomes, nw, plan, stratum, opts.source),
                           empty_draw_sums(popts.outcomes, opts.ri, nw))
    pvalues = []
    for o in popts.outcomes:
        arms = reported_cells(first, o, week_list)[0]
        observed = arms.mean[1::2] - arms.mean[0::2]
        pvalues.append(ri_pvalues(sums.s1[o], sums.c1[o], sums.total_s[o], sums.total_c[o], observed, opts.ri))
    table = result.table.copy()
    table["p_value_ri"] = np.concatenate(pvalues)
    design = result.design + (f"; randomisation inference ({opts.ri} draws, within "
                              f"{stratum or 'the whole trial'})")
    return dataclasses.replace(result, table=table, design=design)


def _cluster_ri(scan: _Scanner, rows: Callable[[Block], np.ndarray], opts: _Options, popts: PassOptions,
                stratum: str | None, gen: np.random.Generator, csv: bool, nw: int) -> DrawSums:
    """The draws' sums over clusters: one pass for the sums per (cluster, week), then the tree's draws."""
    assert opts.cluster is not None
    cluster = opts.cluster
    sums = scan.reduce(lambda b: cluster_pass(b, rows(b), cluster, stratum, popts.outcomes, nw, opts.source),
                       empty_cluster_sums(popts.outcomes, nw))
    if sums.mixed is not None:
        raise InputDataError(f"{opts.source}: column '{stratum}' must be constant within each cluster ('{cluster}'); "
                             f"it varies in cluster {sums.mixed!r}")
    drawn = cluster_draw_sums(sums, int(gen.integers(2**62)), opts.ri, csv)
    outcomes = list(sums.Y)
    return DrawSums({o: d[0] for o, d in zip(outcomes, drawn)}, {o: d[1] for o, d in zip(outcomes, drawn)},
                    {o: sums.Y[o].sum(axis=0) for o in outcomes}, {o: sums.C[o].sum(axis=0) for o in outcomes})
