"""Effect curves: per week since visitation, the mean outcome per arm and the effect.

Every estimator here works on a long panel (one row per observed person-week) and is computed for
all weeks at once from per-(week, arm) or per-(week, block, arm) sums and sums of squared deviations
(``np.bincount``); only the covariate-adjusted (Lin) estimator loops, over weeks, because each week is
its own regression.

Estimators (the formulas are in ``docs/methods.md``, section *Effects*):

- default: difference in means, Welch standard error, Welch–Satterthwaite df — R's
  ``estimatr::difference_in_means``;
- ``blocks=``: estimatr's blocked estimator, τ = Σ (N_b/N) τ_b, V = Σ (N_b/N)² V_b, df = N − 2J;
- ``covariates=``: Lin (2013), covariates centred in the week's sample and interacted with treatment,
  HC2 standard errors, df = N − k — ``estimatr::lm_lin``;
- ``cluster=``: CR2 standard errors with Bell–McCaffrey df — ``estimatr::difference_in_means(clusters=)``.

Each estimator also yields every observation's influence on its week's estimate; the sup-t band sums
them per person (or cluster) and draws multipliers per person, so a person's weeks stay together.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import scipy.linalg
import scipy.sparse as sp
from scipy import stats

from trialeval.disclosure import (
    DEFAULT_MIN_CELL,
    INDICATOR_OUTCOMES,
    check_not_person_id,
    protect_distribution,
    protect_effect_table,
    suppress_small_cells,
)
from trialeval.exceptions import EstimationError, InputDataError, TrialevalWarning
from trialeval.io import ARMS, make_rng, require_columns, row_error
from trialeval.panel import PanelResult

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

Multiplier = Literal["gaussian", "rademacher"]
ProgressCallback = Callable[[int, int], None]

#: The outcomes a panel built by ``trialeval panel`` carries, in display order.
KNOWN_OUTCOMES = (
    "has_ordinary_hours", "ordinary_hours", "in_internship", "in_wage_subsidy", "company_directed",
    "reached_13_weeks", "reached_13_weeks_same_workplace", "self_supporting",
)
#: Columns of a panel that are never outcomes.
DESIGN_COLUMNS = ("person_id", "arm", "week", "municipality", "stratum", "wave", "visitation_date",
                  "followup_end", "excluded")
#: Bin edges of the hours distribution: (0,5], …, (25,30], (30,37), ≥ 37.
HOURS_EDGES = (0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 37.0)

TABLE_COLUMNS = ["outcome", "week", "n_treatment", "n_control", "mean_treatment", "mean_control",
                 "effect", "se", "df", "ci_low", "ci_high", "p_value"]
_COUNTS = ["n_treatment", "n_control"]


# --------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class HoursDistributionResult:
    """Positive ordinary hours by arm at one week, in the hours bins.

    ``table`` has one row per arm and bin: ``week, arm, bin, count, n_observed, share, share_positive``
    where ``share`` is the count over the persons of the arm observed that week and ``share_positive``
    over those of them with positive hours.
    """

    table: pd.DataFrame
    week: int
    column: str
    edges: tuple[float, ...]
    min_cell: int = DEFAULT_MIN_CELL

    def to_frame(self) -> pd.DataFrame:
        """The raw table (a copy); :meth:`export_frame` is the one that may leave a research server."""
        return self.table.copy()

    def export_frame(self) -> pd.DataFrame:
        """The table as it may be exported (:func:`trialeval.disclosure.protect_distribution`).

        An arm observed with fewer than ``min_cell`` persons is blanked; a bin with 1 to
        ``min_cell − 1`` persons in it (or of its arm outside it) is blanked, and where that leaves one
        hidden cell of an arm (the persons with zero hours count as a cell), the next smallest bin too.
        """
        return protect_distribution(self.table, ["week", "arm"], "count", "n_observed",
                                    ["share", "share_positive"], self.min_cell)

    def summary(self) -> str:
        t = self.export_frame()
        wide = t.pivot(index="bin", columns="arm", values="share").reindex(t["bin"].drop_duplicates())
        lines = [f"Positive {self.column} at week {self.week} (share of persons observed; "
                 f"· = suppressed, fewer than {self.min_cell} persons):"]
        for b, row in wide.iterrows():
            lines.append(f"  {b:>8}  " + "  ".join(
                f"{a} {_pct(row.get(a, np.nan))}" for a in ARMS))
        return "\n".join(lines)

    def plot(self, ax: Any = None, *, lang: str = "en") -> Any:
        """Bar chart of the shares by arm (delegates to :func:`trialeval.plots.plot_hours_distribution`)."""
        from trialeval.plots import plot_hours_distribution

        return plot_hours_distribution(self, ax=ax, lang=lang)

    def _repr_html_(self) -> str:
        return self.export_frame().to_html(index=False, na_rep="·")

    def to_dict(self) -> dict[str, Any]:
        return {"week": self.week, "column": self.column, "edges": list(self.edges),
                "table": self.export_frame().to_dict(orient="records")}


def _pct(v: Any) -> str:
    return "    · " if v is None or (isinstance(v, float) and np.isnan(v)) else f"{100 * v:5.1f} %"


@dataclass(frozen=True, eq=False)
class EffectsResult:
    """Effect curves of one :func:`effects` call.

    Attributes
    ----------
    table
        One row per outcome and week with the columns of the effect table (+ ``band_low, band_high`` with a
        band, + ``se_unadjusted`` with covariates, + ``p_value_ri`` with randomisation inference).
        Not suppressed: use :meth:`export_frame` for anything that leaves the research server.
    summary_table
        With ``summary_weeks``: one row per outcome, the average effect over weeks 1–K.
    bands
        With ``band``: one row per outcome, the sup-t critical value and the pointwise t it replaces.
    dropped_blocks
        With ``blocks``: the (outcome, week, block) cells left out because an arm had < 2 persons.
    hours
        With ``hours_week``: the hours distribution at that week.
    nonzero
        Internal: per outcome and week the persons of each arm with a non-zero value of a continuous
        outcome (``nonzero_treatment``, ``nonzero_control``), used by the disclosure rule; never exported.
    """

    table: pd.DataFrame
    design: str
    outcomes: tuple[str, ...]
    indicator_outcomes: tuple[str, ...]
    alpha: float
    min_cell: int
    settings: dict[str, Any] = field(default_factory=dict)
    summary_table: pd.DataFrame | None = None
    bands: pd.DataFrame | None = None
    dropped_blocks: pd.DataFrame | None = None
    hours: HoursDistributionResult | None = None
    nonzero: pd.DataFrame | None = field(default=None, repr=False)

    def to_frame(self) -> pd.DataFrame:
        """The raw effect table (a copy, no small-cell suppression): for computing, never for export."""
        return self.table.copy()

    def export_frame(self) -> pd.DataFrame:
        """The effect table as it may be exported (:func:`trialeval.disclosure.protect_effect_table`).

        A week is blanked when an arm has fewer than ``min_cell`` persons (counts too), when 1 to
        ``min_cell − 1`` persons of an arm have or lack an indicator outcome, or when 1 to
        ``min_cell − 1`` persons of an arm have a non-zero value of a continuous one; ``suppressed``
        marks it.
        """
        return protect_effect_table(self.table, self.min_cell, nonzero=self.nonzero,
                                    indicators=set(self.indicator_outcomes) | set(INDICATOR_OUTCOMES))

    def export_tables(self) -> dict[str, pd.DataFrame]:
        """Every table of the result, suppressed for export, keyed by a file-name suffix.

        ``""`` is the effect table; ``"summary"``, ``"band"``, ``"hours"`` and ``"dropped_blocks"``
        are present when the call produced them.
        """
        out = {"": self.export_frame()}
        if self.summary_table is not None:
            values = [c for c in self.summary_table.columns if c not in ("outcome", "weeks", *_COUNTS, "suppressed")]
            out["summary"] = suppress_small_cells(self.summary_table, _COUNTS, values, self.min_cell)
        if self.bands is not None:
            out["band"] = self.bands.copy()
        if self.hours is not None:
            out["hours"] = self.hours.export_frame()
        if self.dropped_blocks is not None and len(self.dropped_blocks):
            # Which blocks were dropped is not disclosive, their sizes are: export names only.
            out["dropped_blocks"] = self.dropped_blocks[["outcome", "week", "block", "reason"]].copy()
        return out

    def summary(self) -> str:
        """A short text report: design, weeks, and the effect at a few weeks per outcome (as exported)."""
        t = self.export_frame()
        exported = self.export_tables()
        lines = [f"Effect curves ({self.design}), {len(self.outcomes)} outcome(s), "
                 f"{100 * (1 - self.alpha):g} % confidence intervals"]
        for outcome in self.outcomes:
            rows = t[t["outcome"] == outcome]
            if rows.empty:
                continue
            weeks = rows["week"].to_numpy()
            lines.append(f"{outcome}: weeks {weeks.min()}–{weeks.max()}")
            show = rows.iloc[np.unique(np.linspace(0, len(rows) - 1, min(5, len(rows))).astype(int))]
            for _, r in show.iterrows():
                if r["suppressed"]:
                    lines.append(f"  week {int(r['week']):>3}: · (suppressed: fewer than {self.min_cell} persons)")
                    continue
                lines.append(f"  week {int(r['week']):>3}: effect {r['effect']: .4g} "
                             f"[{r['ci_low']: .4g}, {r['ci_high']: .4g}], p = {r['p_value']:.3g}")
            if self.bands is not None:
                b = self.bands[self.bands["outcome"] == outcome]
                if len(b):
                    lines.append(f"  simultaneous band: critical value {b['critical_value'].iloc[0]:.3f} "
                                 f"(pointwise t ≈ {b['t_pointwise'].iloc[0]:.3f})")
        if self.summary_table is not None:
            lines.append(f"Average effect over weeks 1–{self.settings.get('summary_weeks')} (Holm-adjusted p):")
            for _, r in exported["summary"].iterrows():
                if r["suppressed"]:
                    lines.append(f"  {r['outcome']}: · (suppressed: fewer than {self.min_cell} persons)")
                    continue
                lines.append(f"  {r['outcome']}: {r['effect']: .4g} [{r['ci_low']: .4g}, {r['ci_high']: .4g}], "
                             f"p = {r['p_value']:.3g}, Holm p = {r['p_holm']:.3g}")
        if self.dropped_blocks is not None and len(self.dropped_blocks):
            lines.append(f"{len(self.dropped_blocks)} block-week cell(s) dropped (an arm with < 2 persons)")
        if self.hours is not None:
            lines.append(self.hours.summary())
        return "\n".join(lines)

    def plot(self, outcome: str | None = None, ax: Any = None, *, lang: str = "en",
             grey_below: int | None = None) -> Figure:
        """Two-panel figure of one outcome (delegates to :func:`trialeval.plots.plot_effect_curve`)."""
        from trialeval.plots import plot_effect_curve

        return plot_effect_curve(self, outcome or self.outcomes[0], axes=ax, lang=lang, grey_below=grey_below)

    def figures(self, *, lang: str = "en", grey_below: int | None = None) -> dict[str, Figure]:
        """One figure per outcome, plus ``"hours"`` for the hours distribution when present."""
        from trialeval.plots import plot_effect_curve, plot_hours_distribution

        figs = {o: plot_effect_curve(self, o, lang=lang, grey_below=grey_below) for o in self.outcomes}
        if self.hours is not None:
            figs["hours"] = plot_hours_distribution(self.hours, lang=lang)
        return figs

    def _repr_html_(self) -> str:
        return f"<p>{self.design}</p>" + self.export_frame().to_html(index=False, na_rep="·")

    def provenance(self) -> dict[str, Any]:
        """The estimator and options that produced these curves (JSON-ready), for reports and audits."""
        return {"design": self.design, "outcomes": list(self.outcomes), "alpha": self.alpha,
                "min_cell": self.min_cell,
                "settings": {k: (v if isinstance(v, (bool, int, float, str, type(None))) else str(v))
                             for k, v in self.settings.items()}}

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"design": self.design, "outcomes": list(self.outcomes), "alpha": self.alpha,
                               "settings": dict(self.settings),
                               "table": self.export_frame().to_dict(orient="records")}
        for name, tab in self.export_tables().items():
            if name:
                out[name] = tab.to_dict(orient="records")
        return out

    @cached_property
    def critical_values(self) -> dict[str, float]:
        """Sup-t critical value per outcome (empty without a band)."""
        if self.bands is None:
            return {}
        return dict(zip(self.bands["outcome"], self.bands["critical_value"]))


# --------------------------------------------------------------------------------------------------
# Small vectorised building blocks
# --------------------------------------------------------------------------------------------------


_CHUNK = 1 << 22


def _cell_code(parts: Sequence[tuple[np.ndarray, int]], lo: int = 0, hi: int | None = None) -> np.ndarray:
    """The integer cell code Σ part × multiplier of rows lo:hi (e.g. 2·week + treated)."""
    code = parts[0][0][lo:hi].astype(np.intp) * parts[0][1]
    for a, mult in parts[1:]:
        code += a[lo:hi].astype(np.intp) * mult if mult != 1 else a[lo:hi]
    return code


def _moments_many(parts: Sequence[tuple[np.ndarray, int]], ys: Sequence[np.ndarray], size: int
                  ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Count, mean and sum of squared deviations per cell (code = Σ part × multiplier) of each y in ``ys``.

    Codes are made once per chunk of a few million rows and shared by the outcomes, so a panel of tens of
    millions of rows with int8 outcomes and int16 weeks is never copied whole. Integer outcomes use exact
    sums of y and y² (one sum for 0/1 indicators); float outcomes sums of z = y − ȳ and z², ȳ the overall
    mean, so Σz² − (Σz)²/n loses no digits worth speaking of.
    """
    n = np.zeros(size)
    kinds = []
    for y in ys:
        if y.dtype.kind in "iub":
            binary = len(y) == 0 or (int(y.min()) >= 0 and int(y.max()) <= 1)
            kinds.append(("binary" if binary else "integer", 0.0))
        else:
            kinds.append(("float", float(np.mean(y)) if len(y) else 0.0))
    s1 = [np.zeros(size) for _ in ys]
    s2 = [np.zeros(size) for _ in ys]
    for lo in range(0, len(ys[0]) if ys else 0, _CHUNK):
        c = _cell_code(parts, lo, lo + _CHUNK)
        n += np.bincount(c, minlength=size)
        for j, y in enumerate(ys):
            kind, c0 = kinds[j]
            z = y[lo:lo + _CHUNK].astype(np.float64)
            if kind == "float":
                z -= c0
            s1[j] += np.bincount(c, weights=z, minlength=size)
            if kind != "binary":
                z *= z
                s2[j] += np.bincount(c, weights=z, minlength=size)
    out = []
    with np.errstate(invalid="ignore", divide="ignore"):
        for j, (kind, c0) in enumerate(kinds):
            sq = s1[j] if kind == "binary" else s2[j]
            out.append((n, c0 + s1[j] / n, np.maximum(sq - s1[j] * s1[j] / n, 0.0)))
    return out


def _moments(parts: Sequence[tuple[np.ndarray, int]], y: np.ndarray, size: int
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_moments_many` of one outcome."""
    return _moments_many(parts, [y], size)[0]


def _welch(n1: np.ndarray, n0: np.ndarray, ss1: np.ndarray, ss0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Welch variance of a difference in means and its Welch–Satterthwaite df (NaN when an arm < 2)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = (n1 >= 2) & (n0 >= 2)
        a = np.where(ok, ss1 / (n1 - 1) / n1, np.nan)
        b = np.where(ok, ss0 / (n0 - 1) / n0, np.nan)
        v = a + b
        df = v * v / (a * a / (n1 - 1) + b * b / (n0 - 1))
    return v, df


def _t_inference(effect: np.ndarray, se: np.ndarray, df: np.ndarray, alpha: float
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CI and two-sided p from the t distribution, as ``estimatr``'s ``add_cis_pvals``."""
    with np.errstate(invalid="ignore", divide="ignore"):
        df = np.where(df > 0, df, np.nan)
        crit = stats.t.ppf(1 - alpha / 2, df)
        p = 2 * stats.t.sf(np.abs(effect / se), df)
    return effect - crit * se, effect + crit * se, p


def _holm(p: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values (NaN entries are left out of the family)."""
    p = np.asarray(p, dtype=float)
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = len(ok)
    if m:
        order = ok[np.argsort(p[ok], kind="stable")]
        adj = np.maximum.accumulate((m - np.arange(m)) * p[order])
        out[order] = np.minimum(adj, 1.0)
    return out


# --------------------------------------------------------------------------------------------------
# Estimators: each returns per-week arrays and per-row influence values
# --------------------------------------------------------------------------------------------------


@dataclass
class _Week:
    """Per-week estimates of one outcome (arrays of length n_weeks) and per-row influence values."""

    n1: np.ndarray
    n0: np.ndarray
    m1: np.ndarray
    m0: np.ndarray
    effect: np.ndarray
    var: np.ndarray
    df: np.ndarray
    psi: np.ndarray | None   # influence of each row on its week's estimate; Σ psi² = var per week
    unit: np.ndarray         # bootstrap unit of each row (person, or cluster)
    var_unadjusted: np.ndarray | None = None
    dropped: pd.DataFrame | None = None


def _dim(w: np.ndarray, t: np.ndarray, y: np.ndarray, nw: int, need_psi: bool,
         moments: tuple[np.ndarray, ...] | None = None) -> tuple[Any, ...]:
    """Difference in means per week with Welch variance; with ``need_psi`` also the per-row influence."""
    n, mean, ss = moments if moments is not None else _moments([(w, 2), (t, 1)], y, 2 * nw)
    n0, n1, m0, m1, ss0, ss1 = n[0::2], n[1::2], mean[0::2], mean[1::2], ss[0::2], ss[1::2]
    var, df = _welch(n1, n0, ss1, ss0)
    psi = None
    if need_psi:
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = np.where(n >= 2, 1.0 / np.sqrt(n * (n - 1)), 0.0)
        psi = np.empty(len(y))
        for lo in range(0, len(y), _CHUNK):                # chunks: no row-sized temporaries
            code = _cell_code([(w, 2), (t, 1)], lo, lo + _CHUNK)
            psi[lo:lo + _CHUNK] = (2.0 * t[lo:lo + _CHUNK] - 1) * (y[lo:lo + _CHUNK] - mean[code]) * scale[code]
    return n1, n0, m1, m0, m1 - m0, var, df, psi


def _estimate_dim(w, t, y, person, nw, *, need_psi: bool, moments: tuple[np.ndarray, ...] | None = None,
                  **_: Any) -> _Week:
    n1, n0, m1, m0, eff, var, df, psi = _dim(w, t, y, nw, need_psi, moments)
    return _Week(n1, n0, m1, m0, eff, var, df, psi, person)


def _estimate_blocked(w, t, y, person, nw, *, block: np.ndarray, block_names: np.ndarray, need_psi: bool,
                      **_: Any) -> _Week:
    nb = len(block_names)
    n, mean, ss = _moments([(w, 2 * nb), (block, 2), (t, 1)], y, 2 * nw * nb)
    n0, n1, m0, m1, ss0, ss1 = n[0::2], n[1::2], mean[0::2], mean[1::2], ss[0::2], ss[1::2]
    present = (n0 + n1) > 0
    valid = (n0 >= 2) & (n1 >= 2)
    var_b, _ = _welch(n1, n0, ss1, ss0)
    nb_tot = np.where(valid, n0 + n1, 0.0)
    wk = np.repeat(np.arange(nw), nb)
    N = np.bincount(wk, weights=nb_tot, minlength=nw)
    J = np.bincount(wk, weights=valid.astype(float), minlength=nw)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = nb_tot / N[wk]
        tau_b = np.where(valid, m1 - m0, 0.0)
        effect = np.bincount(wk, weights=share * tau_b, minlength=nw)
        var = np.bincount(wk, weights=np.where(valid, share * share * var_b, 0.0), minlength=nw)
        df = N - 2 * J
        effect[J == 0] = np.nan
        var[J == 0] = np.nan
        # Arm means and counts over the persons the estimate uses (valid blocks only).
        n1w = np.bincount(wk, weights=np.where(valid, n1, 0.0), minlength=nw)
        n0w = np.bincount(wk, weights=np.where(valid, n0, 0.0), minlength=nw)
        m1w = np.bincount(wk, weights=np.where(valid, n1 * np.nan_to_num(m1), 0.0), minlength=nw) / n1w
        m0w = np.bincount(wk, weights=np.where(valid, n0 * np.nan_to_num(m0), 0.0), minlength=nw) / n0w
        psi = None
        if need_psi:
            scale = np.where(np.repeat(valid, 2) & (n >= 2), 1.0 / np.sqrt(n * (n - 1)), 0.0)
            psi = np.empty(len(y))
            for lo in range(0, len(y), _CHUNK):
                hi = lo + _CHUNK
                cell = _cell_code([(w, nb), (block, 1)], lo, hi)        # (week, block)
                cell_t = 2 * cell + t[lo:hi]
                psi[lo:hi] = np.nan_to_num((2.0 * t[lo:hi] - 1) * (y[lo:hi] - mean[cell_t]) * scale[cell_t]
                                           * share[cell])
    bad = np.flatnonzero(present & ~valid)
    dropped = pd.DataFrame({
        "week_index": bad // nb, "block": block_names[bad % nb],
        "n_treatment": n1[bad].astype(np.int64), "n_control": n0[bad].astype(np.int64),
    })
    dropped["reason"] = np.where((dropped["n_treatment"] == 0) | (dropped["n_control"] == 0),
                                 "an arm is empty", "an arm has one person")
    return _Week(n1w, n0w, m1w, m0w, effect, var, df, psi, person, dropped=dropped)


def _estimate_clustered(w, t, y, person, nw, *, cluster: np.ndarray, n_clusters: int, need_psi: bool,
                        **_: Any) -> _Week:
    """CR2 variance and Bell–McCaffrey df of a difference in means (closed form for X = [1, t]).

    With X = [1, t] and treatment constant within a cluster, the hat matrix block of cluster g in arm
    a is J/N_a, so the CR2 adjustment multiplies the cluster's residual sum by c_g = (1 − n_g/N_a)^(-1/2).
    """
    n1, n0, m1, m0, eff, _, _, _ = _dim(w, t, y, nw, False)
    mean = np.where(t == 1, m1[w], m0[w])
    e = y - mean
    gcode = _cell_code([(w, n_clusters), (cluster, 1)])
    size = nw * n_clusters
    ng = np.bincount(gcode, minlength=size).astype(np.float64)
    E = np.bincount(gcode, weights=e, minlength=size)
    tg = np.bincount(gcode, weights=t.astype(float), minlength=size)
    present = ng > 0
    treated_g = present & (tg > 0)
    wk = np.repeat(np.arange(nw), n_clusters)
    Na = np.where(treated_g, n1[wk], n0[wk])
    with np.errstate(invalid="ignore", divide="ignore"):
        c2 = np.where(present, Na / (Na - ng), 0.0)
        g1 = np.bincount(wk, weights=treated_g.astype(float), minlength=nw)
        g0 = np.bincount(wk, weights=(present & ~treated_g).astype(float), minlength=nw)
        var = np.bincount(wk, weights=np.where(present, c2 * E * E / (Na * Na), 0.0), minlength=nw)
        # Bell–McCaffrey df: tr(Q)² / tr(Q²); Q is block diagonal by arm (derivation in docs/methods.md).
        d = c2 * ng
        trsq = {}
        for arm, mask in ((1, treated_g), (0, present & ~treated_g)):
            s1 = np.bincount(wk, weights=np.where(mask, d * d, 0.0), minlength=nw)
            s2 = np.bincount(wk, weights=np.where(mask, c2 * c2 * ng ** 3, 0.0), minlength=nw)
            s3 = np.bincount(wk, weights=np.where(mask, c2 * ng * ng, 0.0), minlength=nw)
            Nn = n1 if arm == 1 else n0
            trsq[arm] = (s1 - 2 * s2 / Nn + s3 * s3 / (Nn * Nn)) / Nn ** 4
        df = (1 / n1 + 1 / n0) ** 2 / (trsq[1] + trsq[0])
        ok = (g1 >= 2) & (g0 >= 2)
        var[~ok] = np.nan
        df[~ok] = np.nan
        psi = None
        if need_psi:
            sign = np.where(t == 1, 1.0, -1.0)
            psi = np.nan_to_num(sign * np.sqrt(c2[gcode]) * e / np.where(t == 1, n1[w], n0[w]))
            psi[~ok[w]] = 0.0
    return _Week(n1, n0, m1, m0, eff, var, df, psi, cluster)


def _estimate_lin(w, t, y, person, nw, *, Z: np.ndarray, need_psi: bool, **_: Any) -> _Week:
    """Lin (2013) per week: y on [1, t, Zc, t·Zc], Zc centred in the week's sample; HC2 (estimatr's lm_lin)."""
    n1, n0, m1, m0, _, var_u, _, _ = _dim(w, t, y, nw, False)
    effect = np.full(nw, np.nan)
    var = np.full(nw, np.nan)
    df = np.full(nw, np.nan)
    psi = np.zeros(len(y)) if need_psi else None
    order = np.argsort(w, kind="stable")
    bounds = np.searchsorted(w[order], np.arange(nw + 1))
    for k in range(nw):
        idx = order[bounds[k]:bounds[k + 1]]
        n = len(idx)
        if n1[k] < 1 or n0[k] < 1:
            continue
        tk, yk, Zk = t[idx].astype(np.float64), y[idx], Z[idx]
        Zk = Zk[:, np.ptp(Zk, axis=0) > 0] if Zk.shape[1] else Zk
        Zc = Zk - Zk.mean(axis=0)
        X = np.column_stack([np.ones(n), tk, Zc, tk[:, None] * Zc])
        Q, R, piv = scipy.linalg.qr(X, mode="economic", pivoting=True)
        diag = np.abs(np.diag(R))
        rank = int(np.sum(diag > 1e-7 * diag[0]))
        pos = int(np.flatnonzero(piv == 1)[0])
        if pos >= rank or n <= rank:
            continue
        Q, R = Q[:, :rank], R[:rank, :rank]
        beta = scipy.linalg.solve_triangular(R, Q.T @ yk)
        e = yk - Q @ (R @ beta)
        h = np.einsum("ij,ij->i", Q, Q)
        with np.errstate(invalid="ignore", divide="ignore"):
            omega = e * e / (1 - h)
        omega[~np.isfinite(omega)] = 0.0                    # perfect fits, as estimatr does
        rinv_row = scipy.linalg.solve_triangular(R, np.eye(rank)[:, pos], trans=1)  # row `pos` of R⁻¹
        a = Q @ rinv_row                                    # a_i = (R⁻¹ q_i)_t
        effect[k] = beta[pos]
        var[k] = float(np.sum(a * a * omega))
        df[k] = n - rank
        if need_psi:
            psi[idx] = a * np.sqrt(omega) * np.sign(e)
    return _Week(n1, n0, m1, m0, effect, var, df, psi, person, var_unadjusted=var_u)


# --------------------------------------------------------------------------------------------------
# Simultaneous band and randomisation inference
# --------------------------------------------------------------------------------------------------


def _unit_week_blocks(psi: np.ndarray, unit: np.ndarray, w: np.ndarray, n_units: int, nw: int,
                      step: int) -> Any:
    """Yield dense blocks W[a:b] of W (units × weeks, the influences summed per unit), ``step`` units each.

    Rows must be sorted by unit (the caller sorts when they are not), so each block is a slice.
    """
    bounds = np.searchsorted(unit, np.arange(0, n_units + step, step))
    for a, (lo, hi) in zip(range(0, n_units, step), zip(bounds[:-1], bounds[1:])):
        b = min(a + step, n_units)
        yield np.bincount((unit[lo:hi] - a) * nw + w[lo:hi], weights=psi[lo:hi],
                          minlength=(b - a) * nw).reshape(b - a, nw)


def _sup_t_critical(psi: np.ndarray, unit: np.ndarray, w: np.ndarray, n_units: int, nw: int, alpha: float,
                    rng: np.random.Generator, draws: int, multiplier: Multiplier) -> tuple[float, np.ndarray]:
    """(1 − α) quantile of max_w |Σ_i ξ_i ψ_iw| / sd_w with one multiplier ξ per unit (person/cluster).

    Gaussian multipliers make the bootstrap statistic exactly N(0, WᵀW) given the data, so it is
    drawn from that normal directly (cheap for any number of persons); Rademacher multipliers are
    drawn per unit. Returns the critical value and the mask of weeks in the band.
    """
    if len(unit) > 1 and not np.all(unit[1:] >= unit[:-1]):
        order = np.argsort(unit, kind="stable")
        psi, unit, w = psi[order], unit[order], w[order]
    if multiplier == "gaussian":
        S = np.zeros((nw, nw))
        for block in _unit_week_blocks(psi, unit, w, n_units, nw, max(1, 8_000_000 // nw)):
            S += block.T @ block
        sd = np.sqrt(np.diag(S))
        ok = np.isfinite(sd) & (sd > 0)
        if not ok.any():
            return np.nan, ok
        C = S[np.ix_(ok, ok)] / np.outer(sd[ok], sd[ok])
        lam, vec = np.linalg.eigh(C)
        root = vec * np.sqrt(np.clip(lam, 0, None))
        sup = np.abs(rng.standard_normal((draws, ok.sum())) @ root.T).max(axis=1)
    else:
        T = np.zeros((nw, draws))
        ss = np.zeros(nw)
        for block in _unit_week_blocks(psi, unit, w, n_units, nw, max(1, 4_000_000 // draws)):
            xi = rng.integers(0, 2, size=(block.shape[0], draws)).astype(np.float64) * 2 - 1
            T += block.T @ xi
            ss += np.einsum("ij,ij->j", block, block)
        sd = np.sqrt(ss)
        ok = np.isfinite(sd) & (sd > 0)
        if not ok.any():
            return np.nan, ok
        sup = np.abs(T[ok] / sd[ok][:, None]).max(axis=0)
    return float(np.quantile(sup, 1 - alpha)), ok


def _ri_pvalues(ys: list[np.ndarray], rows: list[np.ndarray], w_rows: list[np.ndarray], unit_treated: np.ndarray,
                stratum: np.ndarray, nw: int, observed: list[np.ndarray], draws: int,
                rng: np.random.Generator, progress: ProgressCallback | None) -> list[np.ndarray]:
    """Fisher p-values of the difference in means per week, re-permuting arms within strata.

    ``rows[j]`` holds the unit of each observation of outcome j. Each draw shuffles the arm labels of
    the units within their stratum (the numbers treated per stratum stay as observed); the same draws
    serve every outcome. p = (1 + #{|τ*| ≥ |τ|}) / (1 + draws).
    """
    n_units = len(unit_treated)
    S = [sp.csr_matrix((y.astype(np.float64), (u, w)), shape=(n_units, nw)).T.tocsr()
         for y, u, w in zip(ys, rows, w_rows)]
    C = [sp.csr_matrix((np.ones(len(y)), (u, w)), shape=(n_units, nw)).T.tocsr()
         for y, u, w in zip(ys, rows, w_rows)]
    tot_s = [np.asarray(s.sum(axis=1)).ravel() for s in S]
    tot_c = [np.asarray(c.sum(axis=1)).ravel() for c in C]
    order = np.argsort(stratum, kind="stable")
    arms_sorted = unit_treated[order].astype(np.float64)
    hits = [np.zeros(nw) for _ in ys]
    chunk = max(1, min(draws, 4_000_000 // max(n_units, 1)))
    done = 0
    while done < draws:
        m = min(chunk, draws - done)
        keys = stratum[:, None] + rng.random((n_units, m))
        perm = np.argsort(keys, axis=0)
        D = np.empty((n_units, m))
        np.put_along_axis(D, perm, np.broadcast_to(arms_sorted[:, None], (n_units, m)), axis=0)
        for j in range(len(ys)):
            s1, c1 = S[j] @ D, C[j] @ D
            with np.errstate(invalid="ignore", divide="ignore"):
                tau = s1 / c1 - (tot_s[j][:, None] - s1) / (tot_c[j][:, None] - c1)
            obs = observed[j][:, None]
            hits[j] += np.sum(np.abs(tau) >= np.abs(obs) - 1e-12 * np.maximum(1.0, np.abs(obs)), axis=1)
        done += m
        if progress is not None:
            progress(done, draws)
    return [np.where(np.isfinite(o), (1 + h) / (1 + draws), np.nan) for h, o in zip(hits, observed)]


# --------------------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------------------


def _as_list(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return list(value)


def _check_int(name: str, value: Any, low: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise InputDataError(f"effects: '{name}' must be a whole number >= {low}; got {value!r}")
    return int(value)


def _require_both_arms(present: Sequence[str], source: str) -> None:
    """An effect compares the arms: a panel of one arm (e.g. a filtered or mis-joined file) is an error."""
    present = [a for a in ARMS if a in set(present)]
    if len(present) == 1:
        raise EstimationError(f"{source}: the panel has only arm '{present[0]}'; effects need both arms "
                              "(treatment and control)")


def _default_outcomes(panel: pd.DataFrame, exclude: set[str]) -> list[str]:
    known = [c for c in KNOWN_OUTCOMES if c in panel.columns]
    if known:
        return known
    return [c for c in panel.columns if c not in exclude and c not in DESIGN_COLUMNS
            and (pd.api.types.is_numeric_dtype(panel[c]) or pd.api.types.is_bool_dtype(panel[c]))]


def _constant_within(group: np.ndarray, n_groups: int, values: np.ndarray, source: str, column: str,
                     what: str) -> None:
    """Raise if ``values`` (integer codes) differ between rows of one group."""
    first = np.zeros(n_groups, dtype=values.dtype)
    first[group] = values                                  # any row's value; a mismatch shows either way
    bad = first[group] != values
    if bad.any():
        raise row_error(source, column, f"must be constant within each {what}; it varies", bad)


def _codes(s: pd.Series, source: str, column: str, *, names: bool = True) -> tuple[np.ndarray, Any]:
    """Integer codes of a column (int32: a panel has < 2³¹ persons) and its distinct values, sorted.

    Codes follow the sorted values, so the seeded draws (band, randomisation inference) do not depend on
    the order of the panel's rows.
    An empty value is an error. Without ``names`` the distinct values may stay an arrow array (only
    their number is used), which spares a million Python strings for ``person_id``.
    """
    arrow = _arrow_codes(s)
    if arrow is not None:                                    # arrow strings: no Python objects per row
        return arrow[0], (np.asarray(arrow[1].to_pylist(), dtype=object) if names else arrow[1])
    if isinstance(s.dtype, pd.CategoricalDtype):              # `panel` writes categoricals: no hashing
        codes, uniques = s.cat.codes.to_numpy(), np.asarray(s.cat.categories, dtype=object)
        order = np.argsort(uniques.astype(str), kind="stable")
        rank = np.empty(len(order), dtype=np.int32)
        rank[order] = np.arange(len(order), dtype=np.int32)
        if (codes < 0).any():
            raise row_error(source, column, "is empty", codes < 0)
        return rank[codes], uniques[order]
    codes, uniques = pd.factorize(s, sort=True)
    if (codes < 0).any():
        raise row_error(source, column, "is empty", codes < 0)
    return codes.astype(np.int32), np.asarray(uniques, dtype=object)


def _arrow_codes(s: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """Codes of an arrow-backed text column by arrow's dictionary encoding (None: not such a column)."""
    if not hasattr(s.array, "__arrow_array__"):
        return None
    import pyarrow as pa

    try:
        arr = pa.chunked_array(s.array.__arrow_array__())
    except (TypeError, ValueError, pa.ArrowException):
        return None
    if arr.null_count or not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return None
    import pyarrow.compute as pc

    enc = arr.dictionary_encode().unify_dictionaries()
    if enc.num_chunks == 0:
        return np.zeros(0, dtype=np.int32), pa.array([], type=pa.string())
    codes = np.concatenate([c.indices.to_numpy(zero_copy_only=False) for c in enc.chunks])
    dictionary = enc.chunk(0).dictionary
    order = pc.array_sort_indices(dictionary).to_numpy()
    rank = np.empty(len(order), dtype=np.int32)
    rank[order] = np.arange(len(order), dtype=np.int32)
    return rank[codes], dictionary.take(pa.array(order))


def _check_unique_person_weeks(person: np.ndarray, week: np.ndarray, source: str) -> None:
    """A person appears at most once per week; fast when rows are in (person, week) order, as ``panel`` writes."""
    wmin = int(week.min())
    span = int(week.max()) - wmin + 1
    ordered = True
    for lo in range(0, len(person), _CHUNK):
        key = _cell_code([(person, span), (week, 1)], lo, lo + _CHUNK + 1)
        if not np.all(key[1:] > key[:-1]):
            ordered = False
            break
    if ordered:
        return
    key = _cell_code([(person, span), (week, 1)])
    order = np.argsort(key, kind="stable")
    same = key[order][1:] == key[order][:-1]
    if same.any():
        dup = np.zeros(len(key), dtype=bool)
        dup[order[1:][same]] = dup[order[:-1][same]] = True
        raise row_error(source, "person_id", "appears twice in the same week", dup)


def _covariate_matrix(df: pd.DataFrame, covariates: list[str], source: str) -> tuple[np.ndarray, list[str]]:
    """Numeric covariates as floats, categorical ones as 0/1 dummies without their first level."""
    cols, names = [], []
    for c in covariates:
        s = df[c]
        if s.isna().any():
            raise row_error(source, c, "is missing (covariates must be complete)", s.isna())
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            cols.append(s.to_numpy(dtype=np.float64)[:, None])
            names.append(c)
        else:
            codes, levels = pd.factorize(s.astype(str), sort=True)
            if len(levels) > 1:
                cols.append((codes[:, None] == np.arange(1, len(levels))[None, :]).astype(np.float64))
                names.extend(f"{c}{lev}" for lev in levels[1:])
    Z = np.hstack(cols) if cols else np.empty((len(df), 0))
    return Z, names


# --------------------------------------------------------------------------------------------------
# Public functions
# --------------------------------------------------------------------------------------------------


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
) -> EffectsResult:
    """Effect curves: per outcome and week, arm means and the effect with its confidence interval.

    Parameters
    ----------
    panel
        Long panel, one row per observed person-week: ``person_id``, ``arm`` (``treatment`` /
        ``control``), ``week`` and numeric outcome columns. A missing outcome value leaves that
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
        Number of randomisation-inference draws (0 = none): adds ``p_value_ri``, from re-permuting the
        arms of persons (clusters) within ``stratum`` (else within ``blocks``; else the whole trial).
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
    # ---- arguments
    if not (isinstance(alpha, float | int) and 0 < alpha < 1):
        raise InputDataError(f"effects: 'alpha' must be in (0, 1); got {alpha!r}")
    if isinstance(panel, PanelResult):
        return _effects_from_sums(
            panel, outcomes, min_weeks=_check_int("min_weeks", min_weeks, 1), weeks=weeks, alpha=alpha,
            min_cell=_check_int("min_cell", min_cell, 0), source=source,
            needs_rows={"blocks": blocks, "covariates": covariates, "cluster": cluster, "band": band, "ri": ri,
                        "summary_weeks": summary_weeks, "hours_week": hours_week})
    if not isinstance(panel, pd.DataFrame):
        raise InputDataError(f"{source}: expected a pandas DataFrame; got {type(panel).__name__}")
    if not (isinstance(alpha, float | int) and 0 < alpha < 1):
        raise InputDataError(f"effects: 'alpha' must be in (0, 1); got {alpha!r}")
    min_weeks = _check_int("min_weeks", min_weeks, 1)
    summary_weeks = _check_int("summary_weeks", summary_weeks, 1)
    hours_week = _check_int("hours_week", hours_week, -10_000)
    ri = _check_int("ri", ri, 0) or 0
    min_cell = _check_int("min_cell", min_cell, 0)
    band_draws = _check_int("band_draws", band_draws, 10)
    if multiplier not in ("gaussian", "rademacher"):
        raise InputDataError(f"effects: 'multiplier' must be 'gaussian' or 'rademacher'; got {multiplier!r}")
    covariates = _as_list(covariates)
    if sum(bool(x) for x in (blocks, covariates, cluster)) > 1:
        raise InputDataError("effects: use one of 'blocks', 'covariates' and 'cluster' at a time "
                             "(combined designs are not implemented)")
    require_columns(panel, ["person_id", "arm", "week"], source)
    extra = [c for c in (blocks, cluster) if c] + covariates
    require_columns(panel, extra, source)
    # A grouping that names persons would put them into the exported tables (e.g. dropped blocks).
    for option, cols in (("blocks", blocks), ("covariates", covariates), ("cluster", cluster)):
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

    # ---- rows (as arrays: no copy of the panel, one factorisation per key column)
    person_all, persons = _codes(panel["person_id"], source, "person_id", names=False)
    P = len(persons)
    if isinstance(panel["arm"].dtype, pd.CategoricalDtype):
        arm_codes, arm_values = panel["arm"].cat.codes.to_numpy(), panel["arm"].cat.categories
    else:
        arm_codes, arm_values = pd.factorize(panel["arm"], sort=False)
    arm_known = np.array([str(v) in ARMS for v in arm_values] + [False])
    bad_arm = ~arm_known[np.where(arm_codes < 0, len(arm_values), arm_codes)]
    if bad_arm.any():
        raise row_error(source, "arm", "must be 'treatment' or 'control'", bad_arm)
    _require_both_arms([str(arm_values[c]) for c in np.unique(arm_codes) if c >= 0], source)
    treat = [i for i, v in enumerate(arm_values) if str(v) == "treatment"]
    t_all = (arm_codes == (treat[0] if treat else -2)).view(np.int8)
    del arm_codes
    week_s = panel["week"]
    if pd.api.types.is_integer_dtype(week_s) and not week_s.isna().any():
        # int16 from `panel`: no copy; nullable integer columns become int64
        week_all = week_s.to_numpy() if isinstance(week_s.dtype, np.dtype) else week_s.to_numpy(dtype=np.int64)
    else:
        num = pd.to_numeric(week_s, errors="coerce")
        bad_week = (num.isna() | (num != np.round(num))).to_numpy()
        if bad_week.any():
            raise row_error(source, "week", "must be a whole number", bad_week)
        week_all = num.to_numpy(dtype=np.int64)
    if len(week_all) == 0:
        raise EstimationError(f"{source}: the panel has no rows")
    wmin = int(week_all.min())
    span = int(week_all.max()) - wmin + 1
    _check_unique_person_weeks(person_all, week_all, source)
    _constant_within(person_all, P, t_all, source, "arm", "person")
    block_all = stratum_all = cluster_all = None
    if blocks:
        block_all, block_names = _codes(panel[blocks], source, blocks)
        _constant_within(person_all, P, block_all, source, blocks, "person")
    if ri and "stratum" in panel.columns:
        stratum_all, _ = _codes(panel["stratum"], source, "stratum")
        _constant_within(person_all, P, stratum_all, source, "stratum", "person")
    if cluster:
        cluster_all, cluster_names = _codes(panel[cluster], source, cluster)
        _constant_within(cluster_all, len(cluster_names), t_all, source, "arm",
                         f"cluster ('{cluster}': all its units share one arm)")

    # ---- cohort and weeks
    cohort = np.ones(P, dtype=bool)
    if min_weeks is not None:
        last = pd.Series(week_all).groupby(person_all).max().reindex(range(P)).to_numpy()
        cohort = last >= min_weeks
    in_cohort = cohort[person_all]
    counts = np.zeros(span, dtype=np.int64)
    for lo in range(0, len(week_all), _CHUNK):
        wk = week_all[lo:lo + _CHUNK].astype(np.intp) - wmin
        counts += np.bincount(wk[in_cohort[lo:lo + _CHUNK]], minlength=span)
    week_list = _week_list(wmin + np.flatnonzero(counts), weeks, min_weeks, source)
    nw = len(week_list)
    position = np.full(span, -1, dtype=np.int16 if nw < 2**15 else np.int32)
    inside = (week_list >= wmin) & (week_list < wmin + span)
    position[week_list[inside] - wmin] = np.flatnonzero(inside)
    w_all = position[week_all - week_all.dtype.type(wmin)]   # week index of each row, −1 if not reported
    sel = in_cohort & (w_all >= 0)
    every = bool(sel.all())

    def rows(a: np.ndarray) -> np.ndarray:
        return a if every else a[sel]

    w_all, t_sel, person_sel = rows(w_all), rows(t_all), rows(person_all)

    # ---- estimator
    design = "difference in means (Welch)"
    row_kwargs: dict[str, np.ndarray] = {}     # per-row arrays, subset with the outcome's rows
    kwargs: dict[str, Any] = {}
    estimator: Callable[..., _Week] = _estimate_dim
    n_units = P
    if blocks:
        estimator, design = _estimate_blocked, f"blocked difference in means (blocks: {blocks})"
        row_kwargs = {"block": rows(block_all)}
        kwargs = {"block_names": block_names}
    elif covariates:
        estimator, design = _estimate_lin, f"Lin covariate adjustment, HC2 ({', '.join(covariates)})"
        cov_frame = panel[covariates] if every else panel.loc[sel, covariates]
        row_kwargs = {"Z": _covariate_matrix(cov_frame, covariates, source)[0]}
    elif cluster:
        estimator, design = _estimate_clustered, f"difference in means, CR2 clustered by {cluster}"
        n_units = len(cluster_names)
        row_kwargs = {"cluster": rows(cluster_all)}
        kwargs = {"n_clusters": n_units}
    unit_sel = rows(cluster_all) if cluster else person_sel

    gen = make_rng(rng)
    frames, band_rows, dropped_frames, ri_inputs = [], [], [], []
    indicators = []
    nonzero_frames = []
    values: dict[str, tuple[np.ndarray, np.ndarray, bool]] = {}
    for outcome in outcomes_l:
        col = panel[outcome]
        if pd.api.types.is_bool_dtype(col) and not col.isna().any():
            col = col.astype(np.int8)
        # int8 indicators stay int8 (converted a chunk at a time); floats and nullable columns are float64.
        numpy_int = isinstance(col.dtype, np.dtype) and col.dtype.kind in "iu"
        y = rows(col.to_numpy() if numpy_int else col.to_numpy(dtype=np.float64, na_value=np.nan))
        missing = np.isnan(y) if y.dtype.kind == "f" else None
        if missing is not None and missing.all():
            raise EstimationError(f"{source}: outcome '{outcome}' has no values in the reported weeks")
        full = missing is None or not missing.any()
        values[outcome] = (y, None if full else ~missing, full)
    shared: dict[str, tuple[np.ndarray, ...]] = {}
    if estimator is _estimate_dim:
        # One pass over the rows for every outcome without missing values (the usual panel).
        full_outcomes = [o for o in outcomes_l if values[o][2]]
        if full_outcomes:
            moments = _moments_many([(w_all, 2), (t_sel, 1)], [values[o][0] for o in full_outcomes], 2 * nw)
            shared = dict(zip(full_outcomes, moments))
    for outcome in outcomes_l:
        y, m, full = values[outcome]

        def sub(a: np.ndarray) -> np.ndarray:
            return a if full else a[m]  # noqa: B023

        w, t, y, person, unit = sub(w_all), sub(t_sel), sub(y), sub(person_sel), sub(unit_sel)
        if (y.min() >= 0 and y.max() <= 1) if y.dtype.kind in "iu" else ((y == 0.0) | (y == 1.0)).all():
            indicators.append(outcome)
        else:
            nonzero_frames.append(_nonzero_frame(outcome, week_list, w, t, y, nw,
                                                 sub(row_kwargs["block"]) if blocks else None,
                                                 len(block_names) if blocks else 0))
        extra_kw = {"moments": shared[outcome]} if outcome in shared else {}
        est = estimator(w, t, y, person, nw, need_psi=band, **kwargs, **extra_kw,
                        **{k: sub(v) for k, v in row_kwargs.items()})
        frame = _effect_frame(outcome, week_list, est, alpha)
        se = frame["se"].to_numpy()
        if band:
            crit, ok = _sup_t_critical(est.psi, est.unit, w, n_units, nw, alpha, gen, band_draws, multiplier)
            frame["band_low"] = np.where(ok, est.effect - crit * se, np.nan)
            frame["band_high"] = np.where(ok, est.effect + crit * se, np.nan)
            with np.errstate(invalid="ignore"):
                t_crit = stats.t.ppf(1 - alpha / 2, np.where(est.df > 0, est.df, np.nan))
            tp = float(np.nanmax(np.where(ok, t_crit, np.nan))) if ok.any() else np.nan
            band_rows.append({"outcome": outcome, "critical_value": crit, "t_pointwise": tp,
                              "weeks": int(ok.sum()), "draws": band_draws, "multiplier": multiplier})
        if est.var_unadjusted is not None:
            frame["se_unadjusted"] = np.sqrt(est.var_unadjusted)
        if est.dropped is not None and len(est.dropped):
            d = est.dropped.assign(outcome=outcome, week=week_list[est.dropped["week_index"].to_numpy()])
            dropped_frames.append(d[["outcome", "week", "block", "n_treatment", "n_control", "reason"]])
        if ri:
            observed = est.effect if estimator is _estimate_dim else _dim(w, t, y, nw, need_psi=False)[4]
            ri_inputs.append((y, unit, w, observed))
        frames.append(frame)

    table = pd.concat(frames, ignore_index=True)
    if ri:
        # Permutation units: persons, or clusters when clusters were assigned; strata per unit.
        unit_t = np.zeros(n_units, dtype=np.int64)
        unit_t[unit_sel] = t_sel
        strat_col = "stratum" if stratum_all is not None else blocks
        stratum = np.zeros(n_units)
        if strat_col:
            stratum[unit_sel] = rows(stratum_all if stratum_all is not None else block_all)
        pvals = _ri_pvalues([r[0] for r in ri_inputs], [r[1] for r in ri_inputs], [r[2] for r in ri_inputs],
                            unit_t, stratum, nw, [r[3] for r in ri_inputs], ri, gen, progress)
        table["p_value_ri"] = np.concatenate(pvals)
        design += f"; randomisation inference ({ri} draws, within {strat_col or 'the whole trial'})"

    dropped = None
    if blocks:
        dropped = (pd.concat(dropped_frames, ignore_index=True) if dropped_frames else
                   pd.DataFrame(columns=["outcome", "week", "block", "n_treatment", "n_control", "reason"]))
        if len(dropped):
            warnings.warn(
                f"{source}: {len(dropped)} block-week cell(s) dropped because an arm had fewer than 2 persons "
                f"(e.g. block {dropped['block'].iloc[0]!r} in week {dropped['week'].iloc[0]}); "
                "see EffectsResult.dropped_blocks", TrialevalWarning, stacklevel=2)

    summary_table = None
    if summary_weeks is not None:
        summary_table = _summary(panel, outcomes_l, person_all, t_all, week_all, in_cohort, summary_weeks,
                                 alpha, source)
    hours = None
    if hours_week is not None:
        hours = hours_distribution(panel, week=hours_week, min_cell=min_cell, source=source)

    settings = {"blocks": blocks, "covariates": covariates or None, "cluster": cluster, "min_weeks": min_weeks,
                "band": band, "ri": ri, "summary_weeks": summary_weeks, "hours_week": hours_week,
                "weeks": [int(x) for x in week_list]}
    return EffectsResult(
        table=table, design=design, outcomes=tuple(outcomes_l), indicator_outcomes=tuple(indicators),
        alpha=float(alpha), min_cell=min_cell, settings=settings, summary_table=summary_table,
        bands=pd.DataFrame(band_rows) if band else None, dropped_blocks=dropped, hours=hours,
        nonzero=pd.concat(nonzero_frames, ignore_index=True) if nonzero_frames else None,
    )


def _nonzero_frame(outcome: str, week_list: np.ndarray, w: np.ndarray, t: np.ndarray, y: np.ndarray, nw: int,
                   block: np.ndarray | None, n_blocks: int) -> pd.DataFrame:
    """Persons per week and arm with a non-zero value of a continuous outcome (for the disclosure rule).

    With blocks, only the blocks the estimate uses (both arms with at least 2 persons) count, as in the
    arm means of the table.
    """
    nz = (y != 0) & ~np.isnan(y) if y.dtype.kind == "f" else (y != 0)
    if block is None:
        code = _cell_code([(w, 2), (t, 1)])
        counts = np.bincount(code, weights=nz, minlength=2 * nw)
    else:
        code = _cell_code([(w, 2 * n_blocks), (block, 2), (t, 1)])
        n = np.bincount(code, minlength=2 * nw * n_blocks)
        valid = np.repeat((n[0::2] >= 2) & (n[1::2] >= 2), 2)
        counts = np.where(valid, np.bincount(code, weights=nz, minlength=2 * nw * n_blocks), 0.0)
        counts = counts.reshape(nw, n_blocks, 2).sum(axis=1).ravel()
    return pd.DataFrame({"outcome": outcome, "week": week_list,
                         "nonzero_treatment": counts[1::2], "nonzero_control": counts[0::2]})


def _week_list(present: np.ndarray, weeks: int | Sequence[int] | None, min_weeks: int | None,
               source: str) -> np.ndarray:
    """The weeks to report, from the weeks that have rows (``present``, sorted) and the arguments."""
    if weeks is None:
        week_list = present[present >= 1]
        if min_weeks is not None:
            week_list = week_list[week_list <= min_weeks]
    elif isinstance(weeks, (int, np.integer)) and not isinstance(weeks, bool):
        if weeks < 1:
            raise InputDataError(f"effects: 'weeks' must be a whole number >= 1; got {weeks}")
        week_list = present[(present >= 1) & (present <= int(weeks))]
    else:
        chosen = list(weeks) if isinstance(weeks, Sequence) and not isinstance(weeks, str) else [weeks]
        if not all(isinstance(w, (int, np.integer)) and not isinstance(w, bool) for w in chosen):
            raise InputDataError(f"effects: 'weeks' must be a whole number or a list of whole numbers; "
                                 f"got {weeks!r}")
        week_list = np.unique(np.asarray(chosen, dtype=np.int64))
    if len(week_list) == 0:
        raise EstimationError(f"{source}: no weeks to report (no rows with week >= 1"
                              + (f" among persons observed {min_weeks} weeks" if min_weeks else "") + ")")
    return week_list


def _effect_frame(outcome: str, week_list: np.ndarray, est: _Week, alpha: float) -> pd.DataFrame:
    """The effect-table rows of one outcome from its per-week estimates."""
    se = np.sqrt(est.var)
    lo, hi, p = _t_inference(est.effect, se, est.df, alpha)
    return pd.DataFrame({
        "outcome": outcome, "week": week_list, "n_treatment": est.n1.astype(np.int64),
        "n_control": est.n0.astype(np.int64), "mean_treatment": est.m1, "mean_control": est.m0,
        "effect": est.effect, "se": se, "df": est.df, "ci_low": lo, "ci_high": hi, "p_value": p,
    })


def _effects_from_sums(result: PanelResult, outcomes: str | Sequence[str] | None, *, min_weeks: int | None,
                       weeks: int | Sequence[int] | None, alpha: float, min_cell: int, source: str,
                       needs_rows: dict[str, Any]) -> EffectsResult:
    """The default estimator on a :class:`~trialeval.panel.PanelResult`, from its per-week sums.

    The difference in means and its Welch variance need only the count, mean and sum of squared
    deviations per (outcome, week, arm); the panel gathered those while it was built, so no long table
    is made (a million persons followed two years are 85 million rows).
    """
    asked = [name for name, value in needs_rows.items() if value]
    if asked:
        raise InputDataError(
            f"effects: {', '.join(repr(a) for a in asked)} need(s) the long panel (one row per person-week); "
            "a PanelResult gives the default estimator (difference in means, Welch) and 'min_weeks' from "
            "per-week sums. Pass result.to_frame() or the panel file read with trialeval.io.read_table")
    outcomes_l = _as_list(outcomes) or [c for c in KNOWN_OUTCOMES if c in result.outcomes]
    unknown = [o for o in outcomes_l if o not in result.outcomes]
    if unknown:
        raise InputDataError(f"{source}: outcome(s) {', '.join(unknown)} not in the panel; it has "
                             f"{', '.join(result.outcomes)}")
    if len(set(outcomes_l)) != len(outcomes_l):
        raise InputDataError(f"effects: outcomes are repeated: {', '.join(outcomes_l)}")
    if result.n_rows == 0:
        raise EstimationError(f"{source}: the panel has no rows")
    moments = result.week_moments(outcomes_l, min_weeks=min_weeks)
    _require_both_arms(moments.loc[moments["n"] > 0, "arm"].astype(str).unique().tolist(), source)
    all_weeks = np.unique(moments["week"].to_numpy())
    first = moments[moments["outcome"] == outcomes_l[0]]
    n_week = first.groupby("week", sort=True)["n"].sum().reindex(all_weeks).to_numpy()
    week_list = _week_list(all_weeks[n_week > 0], weeks, min_weeks, source)
    nw = len(week_list)
    frames = []
    for outcome in outcomes_l:
        m = moments[moments["outcome"] == outcome]
        # The layout of _moments: cell 2·week + treated.
        cells = {}
        for key in ("n", "mean", "ss"):
            wide = m.pivot(index="week", columns="arm", values=key).reindex(week_list)
            both = np.empty(2 * nw)
            both[1::2] = wide["treatment"].to_numpy(dtype=np.float64, na_value=np.nan)
            both[0::2] = wide["control"].to_numpy(dtype=np.float64, na_value=np.nan)
            cells[key] = both
        cells["n"] = np.nan_to_num(cells["n"])
        est = _estimate_dim(None, None, None, None, nw, need_psi=False,
                            moments=(cells["n"], cells["mean"], cells["ss"]))
        frames.append(_effect_frame(outcome, week_list, est, alpha))
    settings = {"blocks": None, "covariates": None, "cluster": None, "min_weeks": min_weeks, "band": False,
                "ri": 0, "summary_weeks": None, "hours_week": None, "weeks": [int(x) for x in week_list]}
    nonzero = None
    if "ordinary_hours" in outcomes_l and "has_ordinary_hours" in result.outcomes:
        # persons with positive hours = the numerator of has_ordinary_hours (the disclosure rule needs it)
        flag = result.week_moments(["has_ordinary_hours"], min_weeks=min_weeks)
        flag = flag.assign(k=np.round(flag["n"] * flag["mean"].fillna(0.0)))
        wide = flag.pivot(index="week", columns="arm", values="k").reindex(week_list)
        nonzero = pd.DataFrame({"outcome": "ordinary_hours", "week": week_list,
                                "nonzero_treatment": wide["treatment"].to_numpy(dtype=float),
                                "nonzero_control": wide["control"].to_numpy(dtype=float)})
    return EffectsResult(
        table=pd.concat(frames, ignore_index=True), design="difference in means (Welch)",
        outcomes=tuple(outcomes_l), indicator_outcomes=tuple(o for o in outcomes_l if o != "ordinary_hours"),
        alpha=float(alpha), min_cell=min_cell, settings=settings, nonzero=nonzero,
    )


def _summary(panel: pd.DataFrame, outcomes: list[str], person: np.ndarray, t: np.ndarray, week: np.ndarray,
             in_cohort: np.ndarray, K: int, alpha: float, source: str) -> pd.DataFrame:
    """Average effect over weeks 1–K: PanelOLS with week effects, person-clustered; Welch on person means."""
    from linearmodels.panel import PanelOLS

    rows = []
    window = in_cohort & (week >= 1) & (week <= K)
    for outcome in outcomes:
        y = panel[outcome].to_numpy(dtype=np.float64, na_value=np.nan)
        m = window & ~np.isnan(y)
        complete = np.bincount(person[m], minlength=int(person.max()) + 1) == K   # observed in all K weeks
        m &= complete[person]
        pid, _ = pd.factorize(person[m], sort=True)
        ym, tm, wm = y[m], t[m], week[m]
        tp = np.zeros(pid.max() + 1 if len(pid) else 0, dtype=np.int64)
        tp[pid] = tm
        n1, n0 = int(tp.sum()), int(len(tp) - tp.sum())
        row: dict[str, Any] = {"outcome": outcome, "weeks": K, "n_treatment": n1, "n_control": n0}
        if min(n1, n0) < 2:
            warnings.warn(f"{source}: summary of '{outcome}': fewer than 2 persons per arm observed in all of "
                          f"weeks 1–{K}; no estimate", TrialevalWarning, stacklevel=3)
            rows.append(row | {k: np.nan for k in ("effect", "se", "ci_low", "ci_high", "p_value",
                                                   "effect_person_means", "se_person_means")})
            continue
        # Cross-check: Welch difference in the per-person averages.
        _, person_mean, _ = _moments([(pid, 1)], ym, len(tp))
        nn, mm, ss = _moments([(tp, 1)], person_mean, 2)
        var_pm, _ = _welch(nn[1:2], nn[0:1], ss[1:2], ss[0:1])
        frame = pd.DataFrame({"y": ym, "treatment": tm.astype(np.float64), "const": 1.0},
                             index=pd.MultiIndex.from_arrays([pid, wm], names=["person", "week"]))
        fit = PanelOLS(frame["y"], frame[["const", "treatment"]], time_effects=True).fit(
            cov_type="clustered", cluster_entity=True)
        ci = fit.conf_int(level=1 - alpha).loc["treatment"]
        row |= {"effect": float(fit.params["treatment"]), "se": float(fit.std_errors["treatment"]),
                "ci_low": float(ci["lower"]), "ci_high": float(ci["upper"]),
                "p_value": float(fit.pvalues["treatment"]),
                "effect_person_means": float(mm[1] - mm[0]), "se_person_means": float(np.sqrt(var_pm[0]))}
        rows.append(row)
    out = pd.DataFrame(rows)
    out["p_holm"] = _holm(out["p_value"].to_numpy())
    return out


def hours_distribution(
    panel: pd.DataFrame,
    week: int = 35,
    *,
    bins: Sequence[float] = HOURS_EDGES,
    column: str = "ordinary_hours",
    min_cell: int = DEFAULT_MIN_CELL,
    source: str = "panel",
) -> HoursDistributionResult:
    """Counts and shares of positive weekly hours by arm at one week, in the hours bins.

    With edges e0 < … < em the bins are (e0, e1], …, (e(m−2), e(m−1)], (e(m−1), em) and ≥ em; the
    default edges give (0,5], (5,10], …, (25,30], (30,37), ≥ 37 (full time).

    Parameters
    ----------
    panel
        Long panel with ``person_id, arm, week`` and ``column``.
    week
        The week since visitation.
    bins
        Bin edges (increasing, at least two).
    column
        The hours column.
    min_cell
        Smallest count an exported cell may rest on.
    source
        Name of the panel in messages.

    Examples
    --------
    >>> import pandas as pd
    >>> p = pd.DataFrame({"person_id": list("abcd"), "arm": ["treatment"] * 2 + ["control"] * 2,
    ...                   "week": 35, "ordinary_hours": [3.0, 37.0, 0.0, 31.5]})
    >>> t = hours_distribution(p, 35).to_frame()
    >>> t[t["count"] > 0][["arm", "bin", "count"]].values.tolist()
    [['treatment', '(0,5]', 1], ['treatment', '≥37', 1], ['control', '(30,37)', 1]]
    """
    require_columns(panel, ["person_id", "arm", "week", column], source)
    edges = np.asarray(list(bins), dtype=np.float64)
    if len(edges) < 2 or np.any(np.diff(edges) <= 0):
        raise InputDataError(f"hours_distribution: 'bins' must be at least two increasing edges; got {list(bins)}")
    if not pd.api.types.is_numeric_dtype(panel[column]):
        raise row_error(source, column, "must be numeric", pd.to_numeric(panel[column], errors="coerce").isna())
    rows = panel[pd.to_numeric(panel["week"], errors="coerce") == week]
    rows = rows[rows[column].notna()]
    if rows.empty:
        raise EstimationError(f"{source}: no person is observed with '{column}' in week {week}")
    bad_arm = ~rows["arm"].isin(ARMS)
    if bad_arm.any():
        raise row_error(source, "arm", "must be 'treatment' or 'control'", bad_arm)
    h = rows[column].to_numpy(dtype=np.float64)
    arm = (rows["arm"].to_numpy() == "control").astype(np.int64)      # 0 treatment, 1 control
    fmt = [f"{e:g}" for e in edges]
    labels = [f"({a},{b}]" for a, b in zip(fmt[:-2], fmt[1:-1])] + [f"({fmt[-2]},{fmt[-1]})", f"≥{fmt[-1]}"]
    pos = h > edges[0]
    # Right-closed bins up to e(m−1); the bin below the full-time edge is open; then ≥ em.
    b = np.searchsorted(edges[1:-1], h, side="left")
    b = np.where(h >= edges[-1], len(edges) - 1, b)
    nb = len(labels)
    count = np.bincount(arm[pos] * nb + b[pos], minlength=2 * nb).reshape(2, nb)
    n_obs = np.bincount(arm, minlength=2)
    n_pos = count.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        table = pd.DataFrame({
            "week": int(week), "arm": np.repeat(ARMS, nb), "bin": labels * 2,
            "count": count.ravel(), "n_observed": np.repeat(n_obs, nb),
            "share": (count / n_obs[:, None]).ravel(), "share_positive": (count / n_pos[:, None]).ravel(),
        })
    return HoursDistributionResult(table=table, week=int(week), column=column,
                                   edges=tuple(float(e) for e in edges), min_cell=min_cell)
