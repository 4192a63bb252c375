"""The effects step: per outcome and week, arm means and the effect with its confidence interval.

:func:`effects` checks its arguments once, encodes the panel's key columns as integer arrays, picks the
estimator from :data:`~trialeval.effects.estimators.ESTIMATORS` by the option that is set, estimates every
outcome, and adds the inference asked for (band, randomisation inference, summary, hours distribution).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from trialeval.design import Design, require_unweighted
from trialeval.disclosure import DEFAULT_MIN_CELL, check_not_person_id
from trialeval.effects._inputs import (
    _as_list,
    _check_int,
    _check_unique_person_weeks,
    _codes,
    _constant_within,
    _default_outcomes,
    _require_both_arms,
    _week_list,
    _whole,
)
from trialeval.effects._sums import effects_from_sums
from trialeval.effects._tables import effect_frame, nonzero_frame
from trialeval.effects.estimators import (
    DesignInputs,
    Estimator,
    WeekData,
    WeekEstimate,
    dim_effect,
    estimator_for,
)
from trialeval.effects.hours import hours_distribution
from trialeval.progress import tick
from trialeval.effects.inference import Multiplier, ProgressCallback, _ri_pvalues, _sup_t_critical, person_numbers
from trialeval.effects.results import EffectsResult, HoursDistributionResult
from trialeval.effects.summary import _summary
from trialeval.exceptions import DesignError, EstimationError, InputDataError, TrialevalWarning
from trialeval.io import make_rng, require_columns, row_error
from trialeval.timeaxis import WEEKS_SINCE_VISITATION, TimeAxis, axis_of_columns
from trialeval.panel import PanelResult
from trialeval.stats.moments import CHUNK_ROWS, CellMoments

_DROPPED_COLUMNS = ["outcome", WEEKS_SINCE_VISITATION.column, "block", "n_treatment", "n_control", "reason"]


def _dropped_columns(period: str) -> list[str]:
    """The dropped-blocks table's columns, with ``period`` naming the period column."""
    return ["outcome", period, *_DROPPED_COLUMNS[2:]]


def effects(
    panel: pd.DataFrame | PanelResult,
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
    source: str = "panel",
    progress: ProgressCallback | None = None,
    design: Design | None = None,
    did: int | None = None,
    twfe: bool = False,
    unit: str | None = None,
    window: tuple[int, int] | None = None,
) -> EffectsResult:
    """Effect curves: per outcome and week, arm means and the effect with its confidence interval.

    Parameters
    ----------
    panel
        Long panel, one row per observed person-week: ``person_id``, ``arm`` (the design's groups;
        without a design ``treatment`` / ``control``), ``week`` and numeric outcome columns. A missing outcome value leaves that
        person-week out of that outcome only. Or a :class:`~trialeval.panel.PanelResult` (also one built
        with ``out=``, streamed to a file): then the default estimator and ``min_weeks``/``weeks`` are
        computed from the per-week sums the panel gathered while it was built, without a long table;
        the options that need the rows (``blocks``, ``covariates``, ``cluster``, ``band``, ``ri``,
        ``summary_weeks``, ``hours_week``) raise :class:`InputDataError` and need ``result.to_frame()``.
    outcomes
        Outcome columns (list or comma-separated). Default: the built-in outcomes present, else every
        numeric column that is not a design column.
    blocks
        Column naming the randomisation block: estimatr's blocked estimator, recomputed each week.
        Block-weeks where an arm has fewer than 2 persons are dropped with a warning and listed in
        ``dropped_blocks`` (estimatr would stop; its matched-pair variance is not offered).
    covariates
        Columns for Lin's covariate adjustment (categorical columns become dummies without their
        first level); ``se_unadjusted`` is reported beside ``se``.
    cluster
        Column naming the unit of assignment when clusters were randomised: CR2 standard errors with
        Bell–McCaffrey df. Treatment must be constant within a cluster.
    min_weeks
        Fixed cohort: keep persons whose last observed week is ≥ K, and report weeks 1–K.
    band
        Add a sup-t simultaneous band (``band_low``, ``band_high``) over the reported weeks from a
        multiplier bootstrap over persons (clusters with ``cluster``).
    ri
        Number of randomisation-inference draws (0 = none): adds ``p_value_ri``, from re-randomising the
        arms of persons (clusters) within ``stratum`` (else within ``blocks``; else the whole trial). The
        draws depend on the seed and each unit's place (persons in the panel's order, clusters by sorted
        label) only: :func:`~trialeval.effects.effects_from_file` draws the same.
    summary_weeks
        K: the average effect over weeks 1–K per person (pooled regression with week effects and
        person-clustered covariance, linearmodels ``PanelOLS``), among persons observed in all of
        weeks 1–K, with Holm-adjusted p-values across the outcomes.
    hours_week
        Also compute :func:`hours_distribution` at this week (needs ``ordinary_hours``).
    alpha
        1 − confidence level of intervals and band.
    rng
        Seed or generator for the band and randomisation inference.
    min_cell
        Smallest count of persons an exported cell may rest on (:meth:`EffectsResult.export_frame`).
    weeks
        Weeks to report: ``K`` for 1–K, a list, or None for every week ≥ 1 in the panel.
    band_draws
        Bootstrap draws for the band.
    multiplier
        ``"gaussian"`` (drawn exactly from the implied normal) or ``"rademacher"``.
    source
        Name of the panel in messages (e.g. its file name).
    progress
        Optional ``callback(done, total)`` for the randomisation-inference draws.
    design
        The trial's :class:`~trialeval.design.Design`: its programme group is compared with its
        reference group (the table's ``*_treatment`` and ``*_control`` columns, by role), and a design
        that is not randomised refuses ``ri`` (:class:`~trialeval.exceptions.DesignError`). Without one
        the groups are ``treatment`` and ``control``. A panel ``weight`` column that is not all 1 is an
        error: weighted estimation is not available yet. A panel with a ``match_id`` column (the matched
        sets of ``trialeval match``) is estimated by
        :func:`~trialeval.effects.compare.comparison_effects`: the weighted difference with CR2 standard
        errors by ``match_id``, labelled with what it rests on.
    did
        P: difference in differences on the change from the mean of periods −P … −1, with the event study
        over the pre-periods and the pre-trend test (:func:`~trialeval.effects.compare.comparison_effects`).
    twfe, unit, window
        The two-way fixed-effects event study of ``unit`` s over periods (``start``: each unit's first
        programme period), event times outside ``window`` (first, last) binned into its ends.

    Returns
    -------
    EffectsResult

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> panel = pd.DataFrame({"person_id": np.repeat(np.arange(40).astype(str), 3),
    ...                       "arm": np.repeat(np.tile(["treatment", "control"], 20), 3),
    ...                       "week": np.tile([1, 2, 3], 40)})
    >>> panel["y"] = rng.normal(size=120) + (panel["arm"] == "treatment") * panel["week"]
    >>> res = effects(panel, "y")
    >>> res.to_frame()[["week", "n_treatment", "n_control"]].values.tolist()
    [[1, 20, 20], [2, 20, 20], [3, 20, 20]]
    >>> bool((res.to_frame()["ci_low"] < res.to_frame()["effect"]).all())
    True
    """
    if not (isinstance(alpha, float | int) and 0 < alpha < 1):
        raise InputDataError(f"effects: 'alpha' must be in (0, 1); got {alpha!r}")
    if ri and design is not None:
        design.require_randomised()
    if _comparison(panel, design, did, twfe):
        return _comparison_path(panel, outcomes, design, did=did, twfe=twfe, unit=unit, window=window, weeks=weeks, alpha=alpha,
                                min_cell=min_cell, source=source, refused={"blocks": blocks, "covariates": covariates,
                                "cluster": cluster, "band": band, "ri": ri, "summary_weeks": summary_weeks,
                                "hours_week": hours_week, "min_weeks": min_weeks})
    if isinstance(panel, PanelResult):
        _check_panel_design(panel, design, source)
        return effects_from_sums(
            panel, outcomes, min_weeks=_check_int("min_weeks", min_weeks, 1), weeks=weeks, alpha=alpha,
            min_cell=_whole("min_cell", min_cell, 0), source=source,
            needs_rows={"blocks": blocks, "covariates": covariates, "cluster": cluster, "band": band, "ri": ri,
                        "summary_weeks": summary_weeks, "hours_week": hours_week})
    if not isinstance(panel, pd.DataFrame):
        raise InputDataError(f"{source}: expected a pandas DataFrame; got {type(panel).__name__}")
    opts = _Options(
        blocks=blocks, covariates=_as_list(covariates), cluster=cluster,
        min_weeks=_check_int("min_weeks", min_weeks, 1), band=band, ri=_check_int("ri", ri, 0) or 0,
        summary_weeks=_check_int("summary_weeks", summary_weeks, 1),
        hours_week=_check_int("hours_week", hours_week, -10_000), alpha=float(alpha),
        min_cell=_whole("min_cell", min_cell, 0), band_draws=_whole("band_draws", band_draws, 10),
        multiplier=multiplier, source=source, design=design, progress=progress, axis=axis_of_columns(panel.columns))
    outcomes_l = _check_inputs(panel, outcomes, opts)
    keys = _encode_keys(panel, opts)
    sel = _select_rows(keys, opts, weeks)
    estimator = estimator_for({"blocks": blocks, "covariates": opts.covariates, "cluster": cluster})
    value = {"blocks": blocks, "covariates": opts.covariates, "cluster": cluster}.get(estimator.option or "")
    grouping = {c: (sel.rows(keys.codes[c][0]), keys.codes[c][1]) for c in (blocks, cluster) if c}
    columns, info = estimator.columns(DesignInputs(value, lambda cols: sel.frame(panel, cols), grouping, source))
    if estimator.unit_column:
        unit_sel, n_units = columns[estimator.unit_column], int(info["n_units"])
    else:
        unit_sel, n_units = sel.rows(keys.person), keys.n_persons
    described = estimator.describe(value)
    gen = make_rng(rng)
    drawn = opts.ri or (opts.band and opts.multiplier == "rademacher")       # draws per unit: persons numbered
    number = person_numbers(keys.person, keys.n_persons) if drawn and not estimator.unit_column else None
    per_outcome = _estimate_outcomes(panel, outcomes_l, estimator, keys, sel, columns, info, unit_sel, n_units,
                                     opts, gen, number)
    table = pd.concat([o.frame for o in per_outcome], ignore_index=True)
    if opts.ri:
        strat_col = "stratum" if keys.stratum is not None else blocks
        table["p_value_ri"] = _randomisation_pvalues(per_outcome, keys, sel, unit_sel, n_units, strat_col, opts,
                                                     gen, progress, number)
        described += f"; randomisation inference ({opts.ri} draws, within {strat_col or 'the whole trial'})"
    return _assemble(panel, table, described, outcomes_l, per_outcome, keys, sel, opts, weeks_reported=sel.week_list)


def _comparison(panel: Any, design: Design | None, did: int | None, twfe: bool) -> bool:
    """Whether the curves are a comparison design's: asked for, or a panel with matched sets (``match_id``)."""
    if did is not None or twfe:
        return True
    return isinstance(panel, pd.DataFrame) and "match_id" in panel.columns


def _comparison_path(panel: Any, outcomes: Any, design: Design | None, *, refused: dict[str, Any],
                     **options: Any) -> EffectsResult:
    """The comparison-design curves; the options of a randomised trial are refused by name."""
    from trialeval.effects.compare import comparison_effects

    if design is not None and not design.randomised and refused.get("ri"):
        design.require_randomised()
    if refused.get("ri"):
        raise DesignError("randomisation inference re-runs a lottery; a comparison group was not drawn by lot "
                          "(drop --ri)")
    used = [name for name, value in refused.items() if value not in (None, False, 0, [], ())]
    if used:
        raise InputDataError(f"effects: {', '.join(used)} belong to a randomised trial's estimators; a comparison "
                             "design is estimated by the weighted difference with CR2 by match (or --did, --twfe)")
    if isinstance(panel, PanelResult):
        panel = panel.to_frame()
    return comparison_effects(panel, outcomes, design=design, **options)


@dataclass(frozen=True)
class _Options:
    """The checked arguments of one :func:`effects` call."""

    blocks: str | None
    covariates: list[str]
    cluster: str | None
    min_weeks: int | None
    band: bool
    ri: int
    summary_weeks: int | None
    hours_week: int | None
    alpha: float
    min_cell: int
    band_draws: int
    multiplier: Multiplier
    source: str
    axis: TimeAxis = WEEKS_SINCE_VISITATION
    design: Design | None = None
    progress: ProgressCallback | None = None

    @property
    def groups(self) -> tuple[str, str]:
        """The labels compared: the programme group, then the reference group."""
        return (self.design or Design()).labels


@dataclass(frozen=True, eq=False)
class _Keys:
    """The panel's key columns as integer arrays (one factorisation each), all rows."""

    person: np.ndarray
    n_persons: int
    t: np.ndarray
    week: np.ndarray
    codes: dict[str, tuple[np.ndarray, np.ndarray]]
    stratum: np.ndarray | None


@dataclass(frozen=True, eq=False)
class _Selection:
    """The rows that enter (fixed cohort, reported weeks) and the week index of each."""

    week_list: np.ndarray
    w: np.ndarray            # week index of each selected row
    mask: np.ndarray | None  # None: every row
    in_cohort: np.ndarray

    def rows(self, a: np.ndarray) -> np.ndarray:
        return a if self.mask is None else a[self.mask]

    def frame(self, panel: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
        return panel[cols] if self.mask is None else panel.loc[self.mask, cols]


@dataclass
class _OutcomeResult:
    """What one outcome contributes to the result."""

    frame: pd.DataFrame
    indicator: bool
    nonzero: pd.DataFrame | None = None
    band: dict[str, Any] | None = None
    dropped: pd.DataFrame | None = None
    ri: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None


def _check_inputs(panel: pd.DataFrame, outcomes: str | Sequence[str] | None, opts: _Options) -> list[str]:
    """Check the options against each other and the panel's columns; the outcomes to estimate."""
    source = opts.source
    if opts.multiplier not in ("gaussian", "rademacher"):
        raise InputDataError(f"effects: 'multiplier' must be 'gaussian' or 'rademacher'; got {opts.multiplier!r}")
    if sum(bool(x) for x in (opts.blocks, opts.covariates, opts.cluster)) > 1:
        raise InputDataError("effects: use one of 'blocks', 'covariates' and 'cluster' at a time "
                             "(combined designs are not implemented)")
    require_columns(panel, ["person_id", "arm", opts.axis.column], source)
    if "weight" in panel.columns:
        require_unweighted(panel["weight"].to_numpy(dtype=np.float64, na_value=np.nan), source)
    extra = [c for c in (opts.blocks, opts.cluster) if c] + opts.covariates
    require_columns(panel, extra, source)
    # A grouping that names persons would put them into the exported tables (e.g. dropped blocks).
    for option, cols in (("blocks", opts.blocks), ("covariates", opts.covariates), ("cluster", opts.cluster)):
        check_not_person_id(panel, cols, f"{option} (--{option})", source, measurements=option == "covariates")
    outcomes_l = _as_list(outcomes) or _default_outcomes(panel, set(extra))
    if not outcomes_l:
        raise InputDataError(f"{source}: no numeric outcome columns found; name them with 'outcomes'")
    require_columns(panel, outcomes_l, source)
    if len(set(outcomes_l)) != len(outcomes_l):
        raise InputDataError(f"effects: outcomes are repeated: {', '.join(outcomes_l)}")
    for o in outcomes_l:
        s = panel[o]
        if not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)):
            bad = pd.to_numeric(s, errors="coerce").isna() & s.notna()
            raise row_error(source, o, "must be numeric", bad)
    return outcomes_l


def _treated(panel: pd.DataFrame, source: str, design: Design | None = None) -> np.ndarray:
    """1 for rows of the programme group, 0 for the reference group (int8), after checking the labels
    (the design's groups; without a design ``treatment`` and ``control``)."""
    groups = (design or Design()).labels
    if isinstance(panel["arm"].dtype, pd.CategoricalDtype):
        arm_codes, arm_values = panel["arm"].cat.codes.to_numpy(), panel["arm"].cat.categories
    else:
        arm_codes, arm_values = pd.factorize(panel["arm"], sort=False)
    arm_known = np.array([str(v) in groups for v in arm_values] + [False])
    bad_arm = ~arm_known[np.where(arm_codes < 0, len(arm_values), arm_codes)]
    if bad_arm.any():
        raise (design or Design()).label_error(source, bad_arm, declared=design is not None)
    _require_both_arms([str(arm_values[c]) for c in np.unique(arm_codes) if c >= 0], source, groups)
    treat = [i for i, v in enumerate(arm_values) if str(v) == groups[0]]
    return (arm_codes == (treat[0] if treat else -2)).view(np.int8)


def _check_panel_design(panel: PanelResult, design: Design | None, source: str) -> None:
    """A :class:`PanelResult` carries its groups: a design given with it must have the same ones; its
    weights, if any, must all be 1."""
    if design is not None and design.labels != panel.groups:
        raise InputDataError(f"{source}: the panel's groups are {panel.groups[0]!r} and {panel.groups[1]!r}, "
                             f"the design's {design.labels[0]!r} and {design.labels[1]!r}")
    if panel.weights is not None:
        require_unweighted(panel.weights, source)


def _weeks_of(panel: pd.DataFrame, source: str, period: str) -> np.ndarray:
    week_s = panel[period]
    if pd.api.types.is_integer_dtype(week_s) and not week_s.isna().any():
        # int16 from `panel`: no copy; nullable integer columns become int64
        return week_s.to_numpy() if isinstance(week_s.dtype, np.dtype) else week_s.to_numpy(dtype=np.int64)
    num = pd.to_numeric(week_s, errors="coerce")
    bad_week = (num.isna() | (num != np.round(num))).to_numpy()
    if bad_week.any():
        raise row_error(source, period, "must be a whole number", bad_week)
    return num.to_numpy(dtype=np.int64)


def _encode_keys(panel: pd.DataFrame, opts: _Options) -> _Keys:
    """The key columns as arrays (no copy of the panel, one factorisation per key column), checked."""
    source = opts.source
    person, persons = _codes(panel["person_id"], source, "person_id", names=False)
    P = len(persons)
    t = _treated(panel, source, opts.design)
    week = _weeks_of(panel, source, opts.axis.column)
    if len(week) == 0:
        raise EstimationError(f"{source}: the panel has no rows")
    _check_unique_person_weeks(person, week, source)
    _constant_within(person, P, t, source, "arm", "person")
    codes: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    stratum = None
    if opts.blocks:
        codes[opts.blocks] = _codes(panel[opts.blocks], source, opts.blocks)
        _constant_within(person, P, codes[opts.blocks][0], source, opts.blocks, "person")
    if opts.ri and "stratum" in panel.columns:
        stratum, _ = _codes(panel["stratum"], source, "stratum")
        _constant_within(person, P, stratum, source, "stratum", "person")
    if opts.cluster:
        codes[opts.cluster] = _codes(panel[opts.cluster], source, opts.cluster)
        cluster_all, cluster_names = codes[opts.cluster]
        _constant_within(cluster_all, len(cluster_names), t, source, "arm",
                         f"cluster ('{opts.cluster}': all its units share one arm)")
        if stratum is not None:
            _constant_within(cluster_all, len(cluster_names), stratum, source, "stratum", f"cluster ('{opts.cluster}')")
    return _Keys(person, P, t, week, codes, stratum)


def _select_rows(keys: _Keys, opts: _Options, weeks: int | Sequence[int] | None) -> _Selection:
    """The fixed cohort (``min_weeks``) and the reported weeks; the rows in both."""
    week_all, person_all, P = keys.week, keys.person, keys.n_persons
    wmin = int(week_all.min())
    span = int(week_all.max()) - wmin + 1
    cohort = np.ones(P, dtype=bool)
    if opts.min_weeks is not None:
        last = pd.Series(week_all).groupby(person_all).max().reindex(range(P)).to_numpy()
        cohort = last >= opts.min_weeks
    in_cohort = cohort[person_all]
    counts = np.zeros(span, dtype=np.int64)
    for lo in range(0, len(week_all), CHUNK_ROWS):
        wk = week_all[lo:lo + CHUNK_ROWS].astype(np.intp) - wmin
        counts += np.bincount(wk[in_cohort[lo:lo + CHUNK_ROWS]], minlength=span)
    week_list = _week_list(wmin + np.flatnonzero(counts), weeks, opts.min_weeks, opts.source)
    nw = len(week_list)
    position = np.full(span, -1, dtype=np.int16 if nw < 2**15 else np.int32)
    inside = (week_list >= wmin) & (week_list < wmin + span)
    position[week_list[inside] - wmin] = np.flatnonzero(inside)
    w_all = position[week_all - week_all.dtype.type(wmin)]   # week index of each row, −1 if not reported
    sel = in_cohort & (w_all >= 0)
    mask = None if bool(sel.all()) else sel
    return _Selection(week_list, w_all if mask is None else w_all[mask], mask, in_cohort)


def _outcome_values(panel: pd.DataFrame, outcome: str, sel: _Selection, source: str
                    ) -> tuple[np.ndarray, np.ndarray | None]:
    """The outcome on the selected rows (int8 indicators stay int8) and the mask of its non-missing rows."""
    col = panel[outcome]
    if pd.api.types.is_bool_dtype(col) and not col.isna().any():
        col = col.astype(np.int8)
    # int8 indicators stay int8 (converted a chunk at a time); floats and nullable columns are float64.
    numpy_int = isinstance(col.dtype, np.dtype) and col.dtype.kind in "iu"
    y = sel.rows(col.to_numpy() if numpy_int else col.to_numpy(dtype=np.float64, na_value=np.nan))
    missing = np.isnan(y) if y.dtype.kind == "f" else None
    if missing is not None and missing.all():
        raise EstimationError(f"{source}: outcome '{outcome}' has no values in the reported weeks")
    return y, (None if missing is None or not missing.any() else ~missing)


def _estimate_outcomes(panel: pd.DataFrame, outcomes: list[str], estimator: Estimator, keys: _Keys,
                       sel: _Selection, columns: dict[str, np.ndarray], info: dict[str, Any],
                       unit_sel: np.ndarray, n_units: int, opts: _Options, gen: np.random.Generator,
                       number: np.ndarray | None = None) -> list[_OutcomeResult]:
    """Estimate every outcome; outcomes without missing values share one pass for their arm moments."""
    values = {o: _outcome_values(panel, o, sel, opts.source) for o in outcomes}
    t_sel, person_sel = sel.rows(keys.t), sel.rows(keys.person)
    shared: dict[str, CellMoments] = {}
    if estimator.name == "difference_in_means":
        full = [o for o in outcomes if values[o][1] is None]
        if full:
            moments = CellMoments.from_rows([(sel.w, 2), (t_sel, 1)], [values[o][0] for o in full],
                                            2 * len(sel.week_list))
            shared = dict(zip(full, moments))
    out = []
    for done, outcome in enumerate(outcomes):
        tick(opts.progress, done, len(outcomes), "Estimating effects", "outcomes")
        y, m = values[outcome]

        def sub(a: np.ndarray, m: np.ndarray | None = m) -> np.ndarray:
            return a if m is None else a[m]

        data = WeekData(sub(sel.w), sub(t_sel), sub(y), sub(person_sel), sel.week_list, outcome, opts.source,
                        need_psi=opts.band, columns={k: sub(v) for k, v in columns.items()}, info=info,
                        moments=shared.get(outcome))
        out.append(_one_outcome(data, estimator, sub(unit_sel), n_units, opts, gen, number))
    return out


def _one_outcome(data: WeekData, estimator: Estimator, unit: np.ndarray, n_units: int, opts: _Options,
                 gen: np.random.Generator, number: np.ndarray | None = None) -> _OutcomeResult:
    """One outcome's effect rows, with its band, dropped blocks and randomisation-inference inputs."""
    y, outcome, week_list, nw = data.y, data.outcome, data.week_list, data.nw
    indicator = bool((y.min() >= 0 and y.max() <= 1) if y.dtype.kind in "iu" else ((y == 0.0) | (y == 1.0)).all())
    res = _OutcomeResult(frame=pd.DataFrame(), indicator=indicator)
    if not indicator:
        block = data.columns.get("block")
        res.nonzero = nonzero_frame(outcome, week_list, data.w, data.t, y, nw, block,
                                    len(data.info["block_names"]) if block is not None else 0, opts.axis.column)
    est = estimator.estimate(data)
    frame = effect_frame(outcome, week_list, est, opts.alpha, opts.axis.column)
    if opts.band:
        frame["band_low"], frame["band_high"], res.band = _band(est, frame["se"].to_numpy(), data.w, n_units,
                                                                nw, outcome, opts, gen, number)
    if est.var_unadjusted is not None:
        frame["se_unadjusted"] = np.sqrt(est.var_unadjusted)
    res.dropped = _outcome_dropped(est, outcome, week_list, opts)
    if opts.ri:
        observed = est.effect if estimator.name == "difference_in_means" else dim_effect(data)
        res.ri = (y, unit, data.w, observed)
    res.frame = frame
    return res


def _band(est: WeekEstimate, se: np.ndarray, w: np.ndarray, n_units: int, nw: int, outcome: str,
          opts: _Options, gen: np.random.Generator, number: np.ndarray | None = None
          ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """The sup-t band's limits per week and its row of the band table."""
    assert est.psi is not None  # estimators return influences when the band asks for them
    crit, ok = _sup_t_critical(est.psi, est.unit, w, n_units, nw, opts.alpha, gen, opts.band_draws,
                               opts.multiplier, number)
    return _band_limits(est, se, crit, ok, outcome, opts)


def _band_limits(est: WeekEstimate, se: np.ndarray, crit: float, ok: np.ndarray, outcome: str, opts: _Options
                 ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """The band's limits per week (NaN outside its weeks ``ok``) and its row of the band table."""
    from scipy import special      # imported when first needed, not when the command starts

    with np.errstate(invalid="ignore"):
        t_crit = special.stdtrit(np.where(est.df > 0, est.df, np.nan), 1 - opts.alpha / 2)   # t quantile
    tp = float(np.nanmax(np.where(ok, t_crit, np.nan))) if ok.any() else np.nan
    row = {"outcome": outcome, "critical_value": crit, "t_pointwise": tp, "weeks": int(ok.sum()),
           "draws": opts.band_draws, "multiplier": opts.multiplier}
    return np.where(ok, est.effect - crit * se, np.nan), np.where(ok, est.effect + crit * se, np.nan), row


def _randomisation_pvalues(per_outcome: list[_OutcomeResult], keys: _Keys, sel: _Selection, unit_sel: np.ndarray,
                           n_units: int, strat_col: str | None, opts: _Options, gen: np.random.Generator,
                           progress: ProgressCallback | None, number: np.ndarray | None = None) -> np.ndarray:
    """Fisher p-values of every outcome's weekly differences, from one set of re-randomisations."""
    # Permutation units: persons, or clusters when clusters were assigned; strata per unit.
    unit_t = np.zeros(n_units, dtype=np.int64)
    unit_t[unit_sel] = sel.rows(keys.t)
    stratum = np.full(n_units, -1.0)                    # −1: a unit without a row that enters
    stratum[unit_sel] = 0.0
    if strat_col:
        codes = keys.stratum if keys.stratum is not None else keys.codes[strat_col][0]
        stratum[unit_sel] = sel.rows(codes)
    inputs = [o.ri for o in per_outcome if o.ri is not None]
    pvals = _ri_pvalues([r[0] for r in inputs], [r[1] for r in inputs], [r[2] for r in inputs], unit_t, stratum,
                        len(sel.week_list), [r[3] for r in inputs], opts.ri, gen, progress, number)
    return np.concatenate(pvals)


def _assemble(panel: pd.DataFrame, table: pd.DataFrame, design: str, outcomes: list[str],
              per_outcome: list[_OutcomeResult], keys: _Keys, sel: _Selection, opts: _Options,
              weeks_reported: np.ndarray) -> EffectsResult:
    """The result: dropped blocks (with a warning), summary and hours distribution when asked for."""
    source = opts.source
    dropped = _dropped_blocks(per_outcome, opts, stacklevel=4) if opts.blocks else None
    summary_table = None
    if opts.summary_weeks is not None:
        summary_table = _summary(panel, outcomes, keys.person, keys.t, keys.week, sel.in_cohort,
                                 opts.summary_weeks, opts.alpha, source, opts.progress)
    hours = None
    if opts.hours_week is not None:
        hours = hours_distribution(panel, week=opts.hours_week, min_cell=opts.min_cell, source=source,
                                   axis=opts.axis, design=opts.design)
    return _result(table, design, outcomes, per_outcome, opts, weeks_reported, dropped, summary_table, hours)


def _outcome_dropped(est: WeekEstimate, outcome: str, week_list: np.ndarray, opts: _Options) -> pd.DataFrame | None:
    """One outcome's rows of the dropped-blocks table (None: none dropped)."""
    if est.dropped is None or not len(est.dropped):
        return None
    d = est.dropped.assign(outcome=outcome, **{opts.axis.column: week_list[est.dropped["week_index"].to_numpy()]})
    return d[_dropped_columns(opts.axis.column)]


def _dropped_blocks(per_outcome: list[_OutcomeResult], opts: _Options, stacklevel: int) -> pd.DataFrame:
    """The dropped-blocks table of every outcome, with a warning when it has rows."""
    period, unit = opts.axis.column, opts.axis.unit()
    frames = [o.dropped for o in per_outcome if o.dropped is not None]
    dropped = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=_dropped_columns(period))
    if len(dropped):
        warnings.warn(
            f"{opts.source}: {len(dropped)} block-{unit} cell(s) dropped because an arm had fewer than 2 persons "
            f"(e.g. block {dropped['block'].iloc[0]!r} in {unit} {dropped[period].iloc[0]}); "
            "see EffectsResult.dropped_blocks", TrialevalWarning, stacklevel=stacklevel)
    return dropped


def _result(table: pd.DataFrame, design: str, outcomes: list[str], per_outcome: list[_OutcomeResult],
            opts: _Options, weeks_reported: np.ndarray, dropped: pd.DataFrame | None,
            summary_table: pd.DataFrame | None, hours: HoursDistributionResult | None) -> EffectsResult:
    """The :class:`EffectsResult` of the estimated outcomes, with the settings that made it."""
    settings = {"blocks": opts.blocks, "covariates": opts.covariates or None, "cluster": opts.cluster,
                "min_weeks": opts.min_weeks, "band": opts.band, "ri": opts.ri, "summary_weeks": opts.summary_weeks,
                "hours_week": opts.hours_week, "weeks": [int(x) for x in weeks_reported]}
    bands = [o.band for o in per_outcome if o.band is not None]
    nonzero = [o.nonzero for o in per_outcome if o.nonzero is not None]
    return EffectsResult(
        table=table, design=design, outcomes=tuple(outcomes),
        indicator_outcomes=tuple(o for o, r in zip(outcomes, per_outcome) if r.indicator),
        alpha=opts.alpha, min_cell=opts.min_cell, settings=settings, summary_table=summary_table,
        bands=pd.DataFrame(bands) if opts.band else None, dropped_blocks=dropped, hours=hours,
        nonzero=pd.concat(nonzero, ignore_index=True) if nonzero else None, axis=opts.axis, groups=opts.groups,
        assumption=_assumption(opts.design),
    )


def _assumption(design: Design | None) -> str | None:
    """What a comparison of groups not formed by lot rests on (None for a lottery)."""
    if design is None or design.randomised:
        return None
    from trialeval.report_design import design_wording

    return design_wording(design.kind, "unmatched")
