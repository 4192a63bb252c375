"""Curves for designs without a lottery: a registry of comparison-design estimators and the effects path
that runs them.

- ``matched``: per period the weighted difference in means between the programme group and its matched
  comparison group, CR2 standard errors clustered by ``match_id`` with Bell–McCaffrey df — R's
  ``estimatr::lm_robust(y ~ arm, weights, clusters = match_id, se_type = "CR2")`` per period;
- ``did``: the same estimator on each person's change from the baseline, the mean of the pre-periods
  −P … −1 (difference in differences), with the event-study curve over the pre-periods and the Wald test
  of no pre-trend;
- ``twfe``: the two-way fixed-effects event study of units (e.g. sites) over periods, linearmodels
  ``PanelOLS`` clustered by unit (``lm_robust(fixed_effects =, se_type = "stata")``).

The numbers come from :mod:`trialeval.comparison`; this module selects the rows, runs the estimator per
outcome and builds an :class:`~trialeval.effects.results.EffectsResult` labelled with what the comparison
rests on (:mod:`trialeval.report_design`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from trialeval.comparison import baseline_change, cr2_regression, event_study, twfe_event_study
from trialeval.design import Design
from trialeval.disclosure import DEFAULT_MIN_CELL
from trialeval.effects._inputs import _as_list, _week_list
from trialeval.effects._tables import effect_frame, nonzero_frame
from trialeval.effects.estimators import WeekEstimate
from trialeval.effects.results import EffectsResult
from trialeval.exceptions import EstimationError, InputDataError
from trialeval.io import require_columns

#: The groups of a matched comparison ledger (``trialeval match``): programme first, then the reference.
COMPARISON_GROUPS: tuple[str, str] = ("programme", "comparison")
_DESIGN_COLUMNS = {"person_id", "arm", "week", "weight", "match_id", "municipality", "stratum", "start"}


@dataclass(frozen=True)
class ComparisonOptions:
    """The checked settings of one comparison-design estimation."""

    baseline: int | None = None
    unit: str | None = None
    start: str = "start"
    window: tuple[int, int] | None = None
    cluster: str = "match_id"
    weight: str = "weight"
    alpha: float = 0.05
    period: str = "week"
    programme: str = COMPARISON_GROUPS[0]


class ComparisonEstimator(Protocol):
    """An estimator of a comparison design: per outcome, the curve and the pre-period event study."""

    #: Registry key (also the ``method`` of :func:`comparison_effects`).
    name: str

    def describe(self, opts: ComparisonOptions) -> str:
        """The estimator line of the result."""
        ...

    def estimate(self, panel: pd.DataFrame, outcome: str, weeks: np.ndarray, opts: ComparisonOptions
                 ) -> tuple[pd.DataFrame, pd.DataFrame | None, tuple[float, int, float] | None]:
        """The curve's rows (effect-table columns), the event study (pre-periods included) and the
        pre-trend test (χ², df, p); the last two None when the panel has no pre-periods."""
        ...


def _weighted_week(frame: pd.DataFrame, outcome: str, week: int, opts: ComparisonOptions
                   ) -> tuple[float, float, float, float, float, float, float, float]:
    """One period's n1, n0, weighted means, difference, CR2 variance and df."""
    t = (frame["arm"] == opts.programme).to_numpy(dtype=np.float64)
    y = frame[outcome].to_numpy(dtype=np.float64)
    w = frame[opts.weight].to_numpy(dtype=np.float64) if opts.weight in frame else np.ones(len(y))
    n1, n0 = float(t.sum()), float(len(t) - t.sum())
    nan8 = (n1, n0) + (np.nan,) * 6
    if n1 < 1 or n0 < 1:
        return nan8  # type: ignore[return-value]
    m1 = float(np.average(y[t == 1], weights=w[t == 1])) if w[t == 1].sum() > 0 else np.nan
    m0 = float(np.average(y[t == 0], weights=w[t == 0])) if w[t == 0].sum() > 0 else np.nan
    if frame[opts.cluster].nunique() < 3:
        return (n1, n0, m1, m0, m1 - m0, np.nan, np.nan, np.nan)
    fit = cr2_regression(np.column_stack([np.ones(len(y)), t]), y, frame[opts.cluster].to_numpy(), w,
                         ("(Intercept)", "programme"))
    return (n1, n0, m1, m0, float(fit.beta[1]), float(fit.vcov[1, 1]), float(fit.df[1]), 0.0)


def weighted_curve(panel: pd.DataFrame, outcome: str, weeks: np.ndarray, opts: ComparisonOptions) -> WeekEstimate:
    """Per period of ``weeks``: the weighted difference in means with CR2 variance by cluster."""
    rows = panel.loc[panel[outcome].notna() & panel[opts.period].isin(weeks)]
    out = np.full((len(weeks), 8), np.nan)
    out[:, :2] = 0.0
    for k, (week, frame) in enumerate(rows.groupby(opts.period, sort=True)):
        out[int(np.searchsorted(weeks, week))] = _weighted_week(frame, outcome, int(week), opts)
    n1, n0, m1, m0, eff, var, df, _ = out.T
    return WeekEstimate(n1, n0, m1, m0, eff, var, df, None, np.zeros(0))


class MatchedDifference:
    """Weighted difference in means per period, CR2 by matched set (``lm_robust(..., se_type = "CR2")``)."""

    name = "matched"

    def describe(self, opts: ComparisonOptions) -> str:
        return f"weighted difference in means, CR2 clustered by {opts.cluster}"

    def estimate(self, panel: pd.DataFrame, outcome: str, weeks: np.ndarray, opts: ComparisonOptions
                 ) -> tuple[pd.DataFrame, pd.DataFrame | None, tuple[float, int, float] | None]:
        est = weighted_curve(panel, outcome, weeks, opts)
        frame = effect_frame(outcome, weeks, est, opts.alpha, opts.period)
        pre = panel.loc[panel[opts.period] < 0]
        if pre.empty:
            return frame, None, None
        rows = panel.loc[(panel[opts.period] < 0) | panel[opts.period].isin(weeks)]
        table, test = event_study(rows, outcome, programme=opts.programme, match_id=opts.cluster,
                                  weights=opts.weight, period_column=opts.period, alpha=opts.alpha)
        return frame, table, test


class DifferenceInDifferences:
    """Difference in differences on the change from the baseline mean of periods −P … −1, CR2 by match."""

    name = "did"

    def describe(self, opts: ComparisonOptions) -> str:
        return (f"difference in differences (change from the mean of the {opts.baseline} periods before period 1), "
                f"weighted, CR2 clustered by {opts.cluster}")

    def estimate(self, panel: pd.DataFrame, outcome: str, weeks: np.ndarray, opts: ComparisonOptions
                 ) -> tuple[pd.DataFrame, pd.DataFrame | None, tuple[float, int, float] | None]:
        assert opts.baseline is not None
        changed = baseline_change(panel, outcome, opts.baseline, opts.period)
        est = weighted_curve(changed, f"{outcome}_change", weeks, opts)
        est.m1, est.m0 = _weighted_means(changed, outcome, weeks, opts)   # the groups' levels, not changes
        frame = effect_frame(outcome, weeks, est, opts.alpha, opts.period)
        rows = panel.loc[(panel[opts.period] < 0) | panel[opts.period].isin(weeks)]
        table, test = event_study(rows, outcome, programme=opts.programme, match_id=opts.cluster,
                                  weights=opts.weight, period_column=opts.period, baseline=opts.baseline,
                                  alpha=opts.alpha)
        return frame, table, test


class TwoWayFixedEffects:
    """Two-way fixed-effects event study of units over periods, clustered by unit (``PanelOLS``)."""

    name = "twfe"

    def describe(self, opts: ComparisonOptions) -> str:
        return f"two-way fixed-effects event study (unit and period effects), clustered by {opts.unit}"

    def estimate(self, panel: pd.DataFrame, outcome: str, weeks: np.ndarray, opts: ComparisonOptions
                 ) -> tuple[pd.DataFrame, pd.DataFrame | None, tuple[float, int, float] | None]:
        assert opts.unit is not None
        table, test = twfe_event_study(panel, outcome, unit=opts.unit, period=opts.period, start=opts.start,
                                       window=opts.window, alpha=opts.alpha)
        rows = panel.loc[panel[outcome].notna()]
        event = rows[opts.period] - rows[opts.start]
        if opts.window is not None:
            event = event.clip(lower=opts.window[0], upper=opts.window[1])
        n1 = event.groupby(event).size().reindex(table["event_time"]).fillna(0).to_numpy()
        m1 = rows[outcome].groupby(event).mean().reindex(table["event_time"]).to_numpy()
        n0 = float(rows.loc[rows[opts.start].isna(), opts.unit].nunique())
        frame = pd.DataFrame({
            "outcome": outcome, opts.period: table["event_time"].to_numpy(), "n_treatment": n1.astype(np.int64),
            "n_control": np.int64(n0), "mean_treatment": m1, "mean_control": np.nan,
            "effect": table["estimate"].to_numpy(), **{c: table[c].to_numpy() for c in
                                                       ("se", "df", "ci_low", "ci_high", "p_value")}})
        study = table.rename(columns={"event_time": opts.period})
        return frame, study, (test if test[1] else None)


#: The comparison-design estimators by name; :func:`comparison_estimator_for` picks one from the options.
COMPARISON_ESTIMATORS: dict[str, ComparisonEstimator] = {
    e.name: e for e in (MatchedDifference(), DifferenceInDifferences(), TwoWayFixedEffects())}


def comparison_estimator_for(options: Mapping[str, Any]) -> ComparisonEstimator:
    """``twfe`` when ``options['twfe']``, ``did`` when ``options['did']`` (a baseline), else ``matched``."""
    if options.get("twfe"):
        return COMPARISON_ESTIMATORS["twfe"]
    return COMPARISON_ESTIMATORS["did" if options.get("did") else "matched"]


def comparison_design(panel: pd.DataFrame, design: Design | None) -> Design:
    """The design compared: the one given, else a comparison design of the matched groups
    (``programme`` / ``comparison``)."""
    if design is not None:
        return design
    return Design(kind="comparison", groups=COMPARISON_GROUPS, reference=COMPARISON_GROUPS[1], share=None)


def comparison_effects(
    panel: pd.DataFrame,
    outcomes: str | Sequence[str] | None = None,
    *,
    did: int | None = None,
    twfe: bool = False,
    unit: str | None = None,
    start: str = "start",
    window: tuple[int, int] | None = None,
    cluster: str = "match_id",
    weeks: int | Sequence[int] | None = None,
    alpha: float = 0.05,
    min_cell: int = DEFAULT_MIN_CELL,
    design: Design | None = None,
    lang: str = "en",
    source: str = "panel",
) -> EffectsResult:
    """Curves of a comparison design: the matched weighted difference (default), difference in differences
    (``did = P``) or the two-way fixed-effects event study (``twfe`` with ``unit``).

    Parameters
    ----------
    panel
        Long panel: ``person_id``, ``arm`` (the design's groups), ``week`` (negative weeks are the
        pre-periods), ``weight`` (1 when absent), the cluster column (``match_id``) and outcome columns.
        For ``twfe``: ``unit``, ``week`` (calendar period), ``start`` (the unit's first programme period,
        missing for units never in it) and the outcomes.
    outcomes
        Outcome columns (list or comma-separated); default every numeric column that is not a design column.
    did
        P: difference in differences on the change from the mean of the P periods before period 1 (periods
        −P … −1, or −P + 1 … 0 in a panel built with pre-weeks, whose week 0 is the week before the
        visitation date), among persons observed in all of them; the event study and the pre-trend test
        then cover those periods but the last (its difference follows from the others).
    twfe, unit, start, window
        The two-way fixed-effects event study of ``unit`` s, event times outside ``window`` binned into its ends.
    cluster
        Column of the matched sets (CR2 clusters).
    weeks
        Periods to report: ``K`` for 1–K, a list, or None for every period ≥ 1 (every event time for ``twfe``).
    alpha, min_cell, source
        As :func:`~trialeval.effects.effects`.
    design
        The trial's design (default: a comparison design of ``programme`` and ``comparison``); its kind
        and the method give the label of what the comparison rests on.
    lang
        Language of the design wording in the result (``en`` or ``da``).

    Returns
    -------
    EffectsResult
        With ``event_study`` (pre-periods included) and ``pretrend`` (the Wald test of no pre-trend per
        outcome) when the panel has pre-periods, and ``assumption``: what the comparison rests on.
    """
    from trialeval.report_design import design_wording

    if not (isinstance(alpha, float | int) and 0 < alpha < 1):
        raise InputDataError(f"effects: 'alpha' must be in (0, 1); got {alpha!r}")
    if did is not None and (isinstance(did, bool) or not isinstance(did, int | np.integer) or did < 1):
        raise InputDataError(f"effects: the baseline (--baseline) must be a whole number of periods >= 1; got {did!r}")
    if twfe and not unit:
        raise InputDataError("effects: the two-way fixed-effects event study needs the unit column (--unit)")
    if twfe and did is not None:
        raise InputDataError("effects: use one of --did and --twfe at a time")
    dsg = comparison_design(panel, design)
    estimator = comparison_estimator_for({"twfe": twfe, "did": did})
    opts = ComparisonOptions(baseline=did, unit=unit, start=start, window=window, cluster=cluster,
                             alpha=float(alpha), programme=dsg.labels[0])
    needed = [unit, "week", start] if twfe else ["person_id", "arm", "week"]
    require_columns(panel, [c for c in needed if c], source)
    if not twfe and cluster not in panel.columns:
        raise InputDataError(f"{source}: a comparison design needs the matched sets, column '{cluster}'; give the "
                             "matched ledger (trialeval match) with --matches, or a panel that has the column")
    outcomes_l = _as_list(outcomes) or [c for c in panel.columns if c not in _DESIGN_COLUMNS | {unit}
                                        and pd.api.types.is_numeric_dtype(panel[c])]
    if not outcomes_l:
        raise InputDataError(f"{source}: no numeric outcome columns found; name them with 'outcomes'")
    require_columns(panel, outcomes_l, source)
    if not twfe:
        bad = ~panel["arm"].astype(str).isin(dsg.labels)
        if bad.any():
            raise dsg.label_error(source, bad.to_numpy())
    periods = np.sort(panel["week"].dropna().unique().astype(np.int64))
    week_list = (periods if twfe and weeks is None else
                 _week_list(periods[periods >= 1], weeks, None, source))
    frames, studies, tests = [], [], []
    work, back = (panel, None) if twfe else _pre_periods(panel)
    for outcome in outcomes_l:
        frame, study, test = estimator.estimate(work, outcome, week_list, opts)
        if study is not None and back is not None:
            study = study.assign(week=study["week"].map(lambda k: back.get(k, k)))
        if frame["effect"].isna().all():
            raise EstimationError(f"{source}: '{outcome}': no period has both groups to compare")
        frames.append(frame)
        if study is not None:
            studies.append(study.assign(outcome=outcome)[["outcome", *study.columns]])
        if test is not None:
            tests.append({"outcome": outcome, "chi2": test[0], "df": test[1], "p_value": test[2],
                          "hypothesis": "no pre-trend: every pre-period difference is 0"})
    table = pd.concat(frames, ignore_index=True)
    nonzero = None
    if not twfe:
        nonzero = pd.concat([_nonzero(panel, o, week_list, opts) for o in outcomes_l], ignore_index=True)
    wording = design_wording(dsg.kind, estimator.name, lang)
    indicators = tuple(o for o in outcomes_l if panel[o].dropna().isin([0, 1]).all())
    settings = {"method": estimator.name, "baseline": did, "unit": unit, "cluster": None if twfe else cluster,
                "weeks": [int(x) for x in week_list]}
    return EffectsResult(
        table=table, design=f"{estimator.describe(opts)}; {wording}", outcomes=tuple(outcomes_l),
        indicator_outcomes=indicators, alpha=float(alpha), min_cell=min_cell, settings=settings,
        nonzero=nonzero, groups=dsg.labels,
        event_study=pd.concat(studies, ignore_index=True) if studies else None,
        pretrend=pd.DataFrame(tests) if tests else None, assumption=wording)


def _weighted_means(panel: pd.DataFrame, outcome: str, weeks: np.ndarray, opts: ComparisonOptions
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Per period of ``weeks`` the weighted mean of ``outcome`` in the programme and the reference group."""
    rows = panel.loc[panel[outcome].notna() & panel[opts.period].isin(weeks)]
    w = rows[opts.weight].to_numpy(dtype=np.float64) if opts.weight in rows else np.ones(len(rows))
    frame = pd.DataFrame({"week": rows[opts.period].to_numpy(), "t": (rows["arm"] == opts.programme).to_numpy(),
                          "w": w, "wy": w * rows[outcome].to_numpy(dtype=np.float64)})
    sums = frame.groupby(["t", "week"])[["w", "wy"]].sum()
    means = sums["wy"] / sums["w"]
    return tuple(means.get(t, pd.Series(dtype=float)).reindex(weeks).to_numpy() for t in (True, False))  # type: ignore[return-value]


def _pre_periods(panel: pd.DataFrame) -> tuple[pd.DataFrame, dict[int, int] | None]:
    """The panel with its periods before week 1 numbered −1 (the last), −2, … and the map back.

    A panel built with pre-weeks has weeks 0, −1, … before the visitation date: its P last pre-periods
    (weeks −P + 1 … 0) are the baseline "periods −P … −1". A panel whose pre-periods already end at −1
    is unchanged.
    """
    weeks = panel["week"].to_numpy()
    pre = np.unique(weeks[weeks < 1])
    if len(pre) == 0 or pre[-1] == -1 and np.array_equal(pre, np.arange(-len(pre), 0)):
        return panel, None
    index = {int(w): -(len(pre) - i) for i, w in enumerate(pre)}
    new = panel.assign(week=pd.Series(weeks).map(lambda w: index.get(int(w), int(w))).to_numpy())
    return new, {v: k for k, v in index.items()}


def _nonzero(panel: pd.DataFrame, outcome: str, weeks: np.ndarray, opts: ComparisonOptions) -> pd.DataFrame:
    """Persons per period and group with a non-zero value (for the disclosure rule)."""
    rows = panel.loc[panel[outcome].notna() & panel[opts.period].isin(weeks)]
    w = np.searchsorted(weeks, rows[opts.period].to_numpy())
    t = (rows["arm"] == opts.programme).to_numpy().astype(np.int64)
    return nonzero_frame(outcome, weeks, w, t, rows[outcome].to_numpy(dtype=np.float64), len(weeks), None, 0,
                         opts.period)
