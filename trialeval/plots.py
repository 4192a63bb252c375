"""Figures of trialeval, drawn with matplotlib's object API (no pyplot state, no GUI backend).

Every function takes an optional ``ax`` and returns the :class:`matplotlib.figure.Figure` it drew on.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.ticker import FuncFormatter

from trialeval._figure_options import FIGURE_SUFFIXES, LANGUAGES, check_figure_path, check_lang  # noqa: F401
from trialeval.disclosure import few_persons, share_disclosive, small_count
from trialeval.formatting import number, tick_formatter
from trialeval.io import atomic_write
from trialeval.timeaxis import WEEKS_SINCE_VISITATION, TimeAxis


def _axes(ax: Axes | None, size: tuple[float, float]) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax  # type: ignore[return-value]
    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.add_subplot()


def save_figure(fig: Figure, path: str | os.PathLike[str], *, dpi: int = 150, lang: str | None = None) -> Path:
    """Save a figure atomically; the format (PNG, PDF, SVG) follows the extension. With ``lang`` the
    figure gets the source line in that language at its foot ("Source: own calculations on register data;
    trialeval x.y"), so that a figure pasted into a report says where it comes from.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from matplotlib.figure import Figure
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "f.png"
    >>> _ = save_figure(Figure(), p)
    >>> p.stat().st_size > 0
    True
    """
    path = check_figure_path(path, "figure")
    if lang is not None:
        _source_line(fig, lang)
    fmt = path.suffix.lower().lstrip(".")
    with atomic_write(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=dpi)
    return path


def _source_line(fig: Figure, lang: str) -> None:
    """The source line at the figure's foot, once; a constrained layout keeps room for it."""
    from trialeval.i18n import label

    if any(getattr(t, "_trialeval_source", False) for t in fig.texts):
        return
    from matplotlib.layout_engine import ConstrainedLayoutEngine

    engine = fig.get_layout_engine()
    if isinstance(engine, ConstrainedLayoutEngine):
        engine.set(rect=(0, 0.05, 1, 0.95))
    text = fig.text(0.995, 0.008, label("source", lang), ha="right", va="bottom", fontsize=7, color="0.35")
    text._trialeval_source = True  # type: ignore[attr-defined]


def love_plot(
    table: pd.DataFrame,
    *,
    comparison: pd.DataFrame | None = None,
    labels: tuple[str, str] | None = None,
    thresholds: tuple[float, ...] = (0.1, 0.25),
    ax: Axes | None = None,
    lang: str | None = None,
) -> Figure:
    """Love plot: the standardised mean difference of every covariate (or level) as a dot.

    Parameters
    ----------
    table
        A balance table with columns ``covariate``, ``level`` and ``smd`` (``BalanceResult.to_frame()``).
    comparison
        Optional second table of the same shape (the representativeness table), drawn as open circles.
    labels
        Legend labels of ``table`` and ``comparison``.
    thresholds
        Dashed (first) and dotted (others) reference lines at ± each value.
    ax
        Axes to draw on; a new figure when None.
    lang
        With ``en`` or ``da``, covariates are shown by their readable labels (``Køn: kvinde``) and the axis
        and legend in that language (:mod:`trialeval.i18n`); None keeps the column names.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"covariate": ["age", "gender"], "level": ["", "F"], "smd": [0.05, -0.2]})
    >>> [tl.get_text() for tl in love_plot(t, lang="da").axes[0].get_yticklabels()]
    ['Alder', 'Køn: kvinde']
    >>> t = pd.DataFrame({"covariate": ["age", "gender"], "level": ["", "female"], "smd": [0.05, -0.2]})
    >>> fig = love_plot(t)
    >>> [tl.get_text() for tl in fig.axes[0].get_yticklabels()]
    ['age', 'gender: female']
    """
    words = _LOVE_TEXT[lang or "en"]
    labels = labels or (words["arms"], words["drawn"])
    names = _row_labels(table, lang)
    height = max(2.5, 0.3 * len(names) + 1.2)
    fig, ax = _axes(ax, (6.5, height))
    y = np.arange(len(names))[::-1]
    ax.axvline(0.0, color="black", linewidth=0.8)
    for i, t in enumerate(thresholds):
        for sign in (-1, 1):
            ax.axvline(sign * t, color="grey", linewidth=0.8, linestyle="--" if i == 0 else ":")
    smd = pd.to_numeric(table["smd"], errors="coerce").to_numpy(dtype=float)
    ax.plot(smd, y, "o", color="C0", label=labels[0])
    if comparison is not None and len(comparison):
        position = dict(zip(names, y))
        other = [position.get(n, np.nan) for n in _row_labels(comparison, lang)]
        ax.plot(pd.to_numeric(comparison["smd"], errors="coerce").to_numpy(dtype=float), other, "o",
                markerfacecolor="none", color="C1", label=labels[1])
        ax.legend(loc="best", fontsize="small")
    ax.set_yticks(y, names)
    ax.set_xlabel(words["x"])
    finite = np.abs(smd[np.isfinite(smd)])
    reach = max([max(thresholds, default=0.25) * 1.2, *(finite * 1.1)])
    ax.set_xlim(-reach, reach)
    ax.set_ylim(-0.7, len(names) - 0.3)
    return fig


_LOVE_TEXT = {"en": {"arms": "treatment vs control", "drawn": "drawn vs not drawn",
                     "x": "standardised mean difference"},
              "da": {"arms": "indsats- mod kontrolgruppe", "drawn": "udtrukne mod ikke udtrukne",
                     "x": "standardiseret forskel i gennemsnit"}}


def _row_labels(table: pd.DataFrame, lang: str | None = None) -> list[str]:
    level = table["level"].fillna("").astype(str)
    cov = table["covariate"].astype(str)
    if lang is not None:
        from trialeval.i18n import covariate
        return [covariate(c, lv, lang) for c, lv in zip(cov, level)]
    return [c if lv == "" else f"{c}: {lv}" for c, lv in zip(cov, level)]


# --------------------------------------------------------------------------------------------------
# Effect curves (trialeval.effects)
# --------------------------------------------------------------------------------------------------

_EFFECT_TEXT = {
    "en": {"treatment": "Treatment", "control": "Control",
           "effect": "Effect", "levels": "By group", "ci": "95 % confidence interval",
           "band": "95 % simultaneous band", "followed": "Number followed", "few": "fewer than {n} followed in a group: few persons, wide intervals",
           "percent": "Percent", "pp": "Percentage points", "hours": "Hours per {unit}",
           "hours_diff": "Hours per {unit} (difference)", "mean": "Mean", "diff": "Difference",
           "hours_x": "Ordinary hours in {period}", "share_group": "Percent of the group observed",
           "hidden": "hatched: bins with fewer than {n} persons, suppressed"},
    "da": {"treatment": "Indsatsgruppe", "control": "Kontrolgruppe",
           "effect": "Effekt", "levels": "Fordelt på gruppe", "ci": "95 %-konfidensinterval",
           "band": "95 % simultant bånd", "followed": "Antal fulgt", "few": "færre end {n} fulgt i en gruppe: få personer, brede intervaller",
           "percent": "Procent", "pp": "Procentpoint", "hours": "Timer pr. {unit}",
           "hours_diff": "Timer pr. {unit} (forskel)", "mean": "Gennemsnit", "diff": "Forskel",
           "hours_x": "Ordinære timer i {period}", "share_group": "Procent af de observerede i gruppen",
           "hidden": "skraveret: intervaller med færre end {n} personer, undertrykt"},
}

_OUTCOME_NAMES = {
    "en": {"has_ordinary_hours": "Share with ordinary hours", "ordinary_hours": "Ordinary hours",
           "in_internship": "Share in internship", "in_wage_subsidy": "Share in wage subsidy",
           "company_directed": "Share in company-directed activity",
           "reached_13_weeks": "Share having reached 13 weeks of company-directed activity",
           "reached_13_weeks_same_workplace": "Share having reached 13 weeks at one workplace",
           "self_supporting": "Share self-supporting"},
    "da": {"has_ordinary_hours": "Andel med ordinære timer", "ordinary_hours": "Ordinære timer",
           "in_internship": "Andel i virksomhedspraktik", "in_wage_subsidy": "Andel i løntilskud",
           "company_directed": "Andel i virksomhedsrettet indsats",
           "reached_13_weeks": "Andel der har nået 13 ugers virksomhedsrettet indsats",
           "reached_13_weeks_same_workplace": "Andel der har nået 13 uger på samme arbejdsplads",
           "self_supporting": "Andel selvforsørgende"},
}


def _text(lang: str, groups: Sequence[str] = ("treatment", "control")) -> dict[str, str]:
    """The figures' words in ``lang``; ``"treatment"`` and ``"control"`` name the programme and reference
    groups: in the figures' words for the default labels, as given for other labels (``groups``)."""
    if lang not in _EFFECT_TEXT:
        from trialeval.exceptions import InputDataError

        raise InputDataError(f"plots: 'lang' must be one of {', '.join(_EFFECT_TEXT)}; got {lang!r}")
    if tuple(groups) == ("treatment", "control"):
        return _EFFECT_TEXT[lang]
    return {**_EFFECT_TEXT[lang], "treatment": str(groups[0]), "control": str(groups[1])}


def plot_effect_curve(
    result: object,
    outcome: str,
    *,
    axes: object = None,
    lang: str = "en",
    grey_below: int | None = None,
    at_risk_ticks: int = 7,
    axis: TimeAxis = WEEKS_SINCE_VISITATION,
) -> Figure:
    """Two panels for one outcome: the arms' means by week (left), the effect with its CI (right).

    The number followed per arm is printed under the x-axes at the tick weeks. Weeks where an arm has
    fewer than ``min_cell`` persons are not drawn (the disclosure rule) and their counts read
    ``<min_cell``; weeks where an arm has fewer than ``grey_below`` persons are shaded grey (default:
    a tenth of the largest number followed in the smaller arm). Indicator outcomes are drawn in percent
    and percentage points; ``ordinary_hours`` in hours per week.

    Parameters
    ----------
    result
        An :class:`trialeval.effects.EffectsResult`.
    outcome
        One of ``result.outcomes``.
    axes
        Two axes to draw on; a new figure when None.
    lang
        ``"en"`` or ``"da"``.
    grey_below
        Shade weeks where an arm has fewer persons than this.
    at_risk_ticks
        About how many tick weeks carry a count.
    axis
        The time axis of ``result``: its period column and the x-axis label.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from trialeval.effects import effects
    >>> panel = pd.DataFrame({"person_id": np.repeat(np.arange(60).astype(str), 4),
    ...                       "arm": np.repeat(np.tile(["treatment", "control"], 30), 4),
    ...                       "week": np.tile([1, 2, 3, 4], 60)})
    >>> panel["y"] = np.random.default_rng(2).normal(size=240)
    >>> fig = plot_effect_curve(effects(panel, "y"), "y", lang="da")
    >>> fig.axes[0].get_xlabel()
    'Uger siden visitation'
    """
    txt = _text(lang, getattr(result, "groups", ("treatment", "control")))
    table = result.table  # type: ignore[attr-defined]
    if outcome not in result.outcomes:  # type: ignore[attr-defined]
        from trialeval.exceptions import InputDataError

        raise InputDataError(f"plot: unknown outcome {outcome!r}; the result has "
                             f"{', '.join(result.outcomes)}")  # type: ignore[attr-defined]
    min_cell = int(result.min_cell)  # type: ignore[attr-defined]
    order = table["outcome"] == outcome
    period = axis.column
    rows = table[order].sort_values(period)
    # what may be shown is what may be exported: the disclosure rule decides, in one place
    exported = result.export_frame()[order.to_numpy()].loc[rows.index]  # type: ignore[attr-defined]
    periods = rows[period].to_numpy()
    week = _calendar_positions(axis, periods)
    n1, n0 = rows["n_treatment"].to_numpy(), rows["n_control"].to_numpy()
    nmin = np.minimum(n1, n0)
    shown = ~exported["suppressed"].to_numpy(dtype=bool)
    if grey_below is None:
        grey_below = max(min_cell, int(0.1 * nmin.max())) if len(nmin) else min_cell
    indicator = outcome in result.indicator_outcomes  # type: ignore[attr-defined]
    scale = 100.0 if indicator else 1.0

    def col(name: str) -> np.ndarray:
        return np.where(shown, rows[name].to_numpy(dtype=float) * scale, np.nan)

    fig, ax_l, ax_r = _two_axes(axes)
    name = _OUTCOME_NAMES[lang].get(outcome, outcome)
    ylab_l, ylab_r = _effect_ylabels(outcome, indicator, txt, axis.unit(lang))
    marker = "o" if len(week) <= 20 else None

    ax_l.plot(week, col("mean_treatment"), color="C0", marker=marker, label=txt["treatment"])
    ax_l.plot(week, col("mean_control"), color="C1", marker=marker, linestyle="--", label=txt["control"])
    ax_l.set_ylabel(ylab_l)
    ax_l.set_title(f"{name}: {txt['levels'].lower()}", fontsize="medium")
    if indicator:
        ax_l.set_ylim(bottom=0)                  # a share's axis starts at 0, so its level is not exaggerated

    _draw_effect(ax_r, week, col, "band_low" in rows.columns, marker, txt)
    ax_r.set_ylabel(ylab_r)
    ax_r.set_title(f"{name}: {txt['effect'].lower()}", fontsize="medium")

    few = shown & (nmin < grey_below)
    # calendar labels (2016-W43) are wide: half as many ticks
    ticks = _period_ticks(week, at_risk_ticks if axis.alignment != "calendar" else max(2, at_risk_ticks // 2))
    for i, ax in enumerate((ax_l, ax_r)):
        ax.set_xticks(ticks)
        ax.set_xlim(week.min() - 0.5, week.max() + 0.5)
        ax.set_xlabel(axis.axis_label(lang))
        ax.grid(alpha=0.3)
        for k in np.flatnonzero(few | ~shown):
            ax.axvspan(week[k] - 0.5, week[k] + 0.5, color="0.85", linewidth=0, zorder=0)
        if few.any():
            ax.axvspan(np.nan, np.nan, color="0.85", label=txt["few"].format(n=grey_below))
        ax.legend(loc="best", fontsize="small")
        _number_ticks(ax, lang)
        _calendar_labels(ax, axis, week, periods)
        _at_risk_rows(ax, week, n1, n0, min_cell, txt, row_labels=i == 0, lang=lang)
    return fig


def _two_axes(axes: object) -> tuple[Figure, Axes, Axes]:
    """The figure and the two axes of an effect curve: new ones when ``axes`` is None."""
    if axes is None:
        fig = Figure(figsize=(11.5, 5.0), layout="constrained")
        engine = cast(ConstrainedLayoutEngine, fig.get_layout_engine())
        engine.set(h_pad=0.12)                              # room under the number-followed rows
        ax_l, ax_r = fig.subplots(1, 2)
        return fig, ax_l, ax_r
    ax_l, ax_r = axes  # type: ignore[misc]
    return ax_l.figure, ax_l, ax_r


def _draw_effect(ax: Axes, week: np.ndarray, col: Callable[[str], np.ndarray], band: bool,
                 marker: str | None, txt: dict[str, str]) -> None:
    """The effect with its confidence interval (and simultaneous band) on the right-hand axes."""
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.fill_between(week, col("ci_low"), col("ci_high"), color="C2", alpha=0.25, linewidth=0, label=txt["ci"])
    if band:
        ax.plot(week, col("band_low"), color="C2", linestyle=":", linewidth=1.2, label=txt["band"])
        ax.plot(week, col("band_high"), color="C2", linestyle=":", linewidth=1.2)
    ax.plot(week, col("effect"), color="C2", marker=marker, label=txt["effect"])


def _effect_ylabels(outcome: str, indicator: bool, txt: dict[str, str], unit: str) -> tuple[str, str]:
    """The y-axis labels of the means panel and the effect panel."""
    if indicator:
        return txt["percent"], txt["pp"]
    if outcome == "ordinary_hours":
        return txt["hours"].format(unit=unit), txt["hours_diff"].format(unit=unit)
    return txt["mean"], txt["diff"]


def _period_ticks(week: np.ndarray, about: int) -> np.ndarray:
    """The first period, then multiples of a round step (the at-risk counts stand at the ticks)."""
    from matplotlib.ticker import MaxNLocator

    step = max(1, int(np.diff(MaxNLocator(nbins=about, integer=True).tick_values(
        week.min(), week.max()))[:1].sum() or 1))
    return np.unique(np.r_[week.min(), week[(week % step == 0) & (week - week.min() >= step / 2)]])


def _at_risk_rows(ax: Axes, week: np.ndarray, n1: np.ndarray, n0: np.ndarray, min_cell: int,
                  txt: dict[str, str], *, row_labels: bool = True, lang: str = "en") -> None:
    """Print the number followed per arm under the x-axis label at the tick weeks (numbers in ``lang``)."""
    ticks = [t for t in ax.get_xticks() if week.min() <= t <= week.max() and t in set(week.tolist())]
    index = {w: i for i, w in enumerate(week.tolist())}
    kw: dict[str, Any] = {"xycoords": ("data", "axes fraction"), "textcoords": "offset points", "va": "top",
          "fontsize": "small", "annotation_clip": False}
    ax.annotate(txt["followed"], xy=(0, 0), xycoords="axes fraction", xytext=(0, -44),
                textcoords="offset points", va="top", ha="left", fontsize="small", fontweight="bold",
                annotation_clip=False)
    for row, (label, n, color) in enumerate(((txt["treatment"], n1, "C0"), (txt["control"], n0, "C1"))):
        y = -58 - 13 * row
        if row_labels:
            ax.annotate(label, xy=(0, 0), xycoords="axes fraction", xytext=(-14, y), textcoords="offset points",
                        va="top", ha="right", fontsize="small", color=color, annotation_clip=False)
        for t in ticks:
            v = int(n[index[t]])
            ax.annotate(f"<{min_cell}" if v < min_cell else number(v, lang, decimals=0), xy=(t, 0),
                        xytext=(0, y), ha="center", color=color, **kw)


def plot_hours_distribution(result: object, *, ax: Axes | None = None, lang: str = "en",
                            axis: TimeAxis = WEEKS_SINCE_VISITATION) -> Figure:
    """Bar chart of positive ordinary hours by arm in bins, as a percent of each arm's persons observed.

    Bins resting on fewer than ``min_cell`` persons are not drawn. The x-axis names the period of
    ``result`` in the words of ``axis`` ("Ordinary hours in week 35").

    Examples
    --------
    >>> import pandas as pd
    >>> from trialeval.effects import hours_distribution
    >>> p = pd.DataFrame({"person_id": [str(i) for i in range(20)], "arm": ["treatment", "control"] * 10,
    ...                   "week": 35, "ordinary_hours": [6.0] * 20})
    >>> fig = plot_hours_distribution(hours_distribution(p, 35))
    >>> len(fig.axes[0].patches)
    16
    """
    groups = tuple(getattr(result, "groups", ("treatment", "control")))
    txt = _text(lang, groups)
    table = result.export_frame()  # type: ignore[attr-defined]
    min_cell = int(result.min_cell)  # type: ignore[attr-defined]
    fig, ax = _axes(ax, (7.5, 4.2))
    bins = table["bin"].drop_duplicates().tolist()
    x = np.arange(len(bins))
    hidden = False
    for k, (arm, role, color) in enumerate(((groups[0], "treatment", "C0"), (groups[1], "control", "C1"))):
        part = table[table["arm"] == arm].set_index("bin").reindex(bins)
        small = part["suppressed"].to_numpy(dtype=bool)
        hidden |= bool(small.any())
        share = np.where(small, 0.0, part["share"].to_numpy(dtype=float) * 100)
        n_obs = part["n_observed"].iloc[0]
        label = (f"{txt[role]} (n = {int(n_obs):,})".replace(",", "\u2009") if n_obs == n_obs and n_obs >= min_cell
                 else txt[role])
        ax.bar(x + (k - 0.5) * 0.4, share, width=0.4, color=color, label=label)
        for j in np.flatnonzero(small):  # a suppressed bin is marked, not drawn as zero
            left = x[j] + (k - 1) * 0.4
            ax.axvspan(left, left + 0.4, facecolor="none", edgecolor=color, hatch="///", linewidth=0, alpha=0.6)
    ax.set_xticks(x, bins)
    period = f"{axis.unit(lang)} {result.week}"  # type: ignore[attr-defined]
    ax.set_xlabel(txt["hours_x"].format(period=period))
    ax.set_ylabel(txt["share_group"])
    ax.legend(loc="best", fontsize="small", title=txt["hidden"].format(n=min_cell) if hidden else None,
              title_fontsize="x-small")
    ax.grid(axis="y", alpha=0.3)
    return fig


# --------------------------------------------------------------------------------------------------
# Cost scenarios (trialeval.costs)
# --------------------------------------------------------------------------------------------------

_COST_TEXT = {
    "en": {"years": "Years since the first draw", "cum": "Cumulative net result per participant (kr., present value)",
           "jtitle": "Net result over time ({payer})", "pv": "Present value per participant (kr.)",
           "municipality": "Municipality", "state": "State", "total": "Total",
           "btitle": "Net result by scenario and payer", "tornado": "Net result per participant (kr.), scenario {s}",
           "low": "low setting", "high": "high setting"},
    "da": {"years": "År efter første udtrækning", "cum": "Akkumuleret nettoresultat pr. deltager (kr., nutidsværdi)",
           "jtitle": "Nettoresultat over tid ({payer})", "pv": "Nutidsværdi pr. deltager (kr.)",
           "municipality": "Kommune", "state": "Stat", "total": "I alt",
           "btitle": "Nettoresultat pr. scenarie og betaler", "tornado": "Nettoresultat pr. deltager (kr.), scenarie {s}",
           "low": "lav værdi", "high": "høj værdi"},
}


_COST_PARAMETERS_DA = {"hourly wage": "timeløn", "persistence": "effektens varighed",
                       "discount rate": "diskonteringsrente", "programme cost": "programomkostning",
                       "tax rate": "skattesats"}


def _cost_text(lang: str) -> dict[str, str]:
    if lang not in _COST_TEXT:
        from trialeval.exceptions import InputDataError

        raise InputDataError(f"plots: 'lang' must be one of {', '.join(_COST_TEXT)}; got {lang!r}")
    return _COST_TEXT[lang]


def cost_jcurve(flows: pd.DataFrame, *, payer: str = "total", ax: Axes | None = None, lang: str = "en",
                axis: TimeAxis = WEEKS_SINCE_VISITATION, labels: dict[str, str] | None = None) -> Figure:
    """The J-curve: cumulative discounted net result per participant over time, one line per scenario.

    Parameters
    ----------
    flows
        ``CostsResult.flows``: columns ``scenario, payer, week, cumulative_net``.
    payer
        ``municipality``, ``state`` or ``total``.
    ax
        Axes to draw on; a new figure when None.
    lang
        ``en`` or ``da``.
    axis
        The time axis of ``flows``: its period column and periods per year (years on the x-axis).
    labels
        ``{scenario: description}``; the legend then names each line ``A: description`` (in ``lang`` when
        the catalogue knows the description, :mod:`trialeval.i18n`).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> f = pd.DataFrame({"scenario": "A", "payer": "total", "week": [1, 2, 3], "cumulative_net": [-5.0, -2.0, 1.0]})
    >>> fig = cost_jcurve(f)
    >>> [line.get_label() for line in fig.axes[0].get_lines()][:1]
    ['A']
    >>> fig = cost_jcurve(f, lang="da", labels={"A": "Observed window only"})
    >>> [line.get_label() for line in fig.axes[0].get_lines()][:1]
    ['A: Kun det observerede vindue']
    """
    text = _cost_text(lang)
    fig, ax = _axes(ax, (7.0, 4.2))
    rows = flows.loc[flows["payer"] == payer]
    for name, group in rows.groupby("scenario", sort=False):
        years = group[axis.column].to_numpy() / axis.periods_per_year
        described = (labels or {}).get(str(name))
        if described:
            from trialeval.i18n import value
            described = f"{name}: {value(described, lang)}"
        ax.plot(years, group["cumulative_net"].to_numpy(), label=described or str(name), linewidth=1.6)
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.set_xlabel(text["years"])
    ax.set_ylabel("\n".join(textwrap.wrap(text["cum"], 38)))   # long in Danish: two lines, not cut off
    ax.set_title(text["jtitle"].format(payer=text.get(payer, payer)))
    ax.yaxis.set_major_formatter(tick_formatter("kroner", lang))
    ax.legend(loc="best", fontsize="small")
    ax.grid(True, linewidth=0.3, alpha=0.6)
    return fig


def cost_bars(table: pd.DataFrame, *, ax: Axes | None = None, lang: str = "en") -> Figure:
    """Net result per participant by scenario: bars for municipality and state, a marker for the total.

    Parameters
    ----------
    table
        ``CostsResult.to_frame()``: columns ``scenario, payer, net_result``.
    ax
        Axes to draw on; a new figure when None.
    lang
        ``en`` or ``da``.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"scenario": ["A"] * 3, "payer": ["municipality", "state", "total"],
    ...                   "net_result": [-3.0, 1.0, -2.0]})
    >>> fig = cost_bars(t)
    >>> len(fig.axes[0].patches)
    2
    """
    text = _cost_text(lang)
    fig, ax = _axes(ax, (7.0, 4.2))
    wide = table.pivot_table(index="scenario", columns="payer", values="net_result", sort=False)
    x = np.arange(len(wide))
    width = 0.38
    for i, payer in enumerate(("municipality", "state")):
        if payer in wide:
            ax.bar(x + (i - 0.5) * width, wide[payer].to_numpy(), width, label=text[payer], color=f"C{i}")
    if "total" in wide:
        ax.plot(x, wide["total"].to_numpy(), "D", color="black", label=text["total"])
    ax.axhline(0.0, color="black", linewidth=0.8)
    ax.set_xticks(x, [str(s) for s in wide.index])
    ax.set_ylabel(text["pv"])
    ax.set_title(text["btitle"])
    ax.yaxis.set_major_formatter(tick_formatter("kroner", lang))
    ax.legend(loc="best", fontsize="small")
    ax.grid(True, axis="y", linewidth=0.3, alpha=0.6)
    return fig


def cost_tornado(sensitivity: pd.DataFrame, *, ax: Axes | None = None, lang: str = "en") -> Figure:
    """One-way sensitivity tornado of the total net result per participant for one scenario.

    Parameters
    ----------
    sensitivity
        Rows of ``CostsResult.sensitivity`` for one scenario: ``parameter, low, high, net_low,
        net_high, net_base``. The widest bar is drawn on top.
    ax
        Axes to draw on; a new figure when None.
    lang
        ``en`` or ``da``.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"scenario": "C", "parameter": ["wage", "cost"], "low": ["120", "-25 %"],
    ...                   "high": ["180", "+25 %"], "net_low": [-1.0, 3.0], "net_high": [1.0, -3.0],
    ...                   "net_base": 0.0})
    >>> fig = cost_tornado(s)
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
    ['wage', 'cost']
    """
    text = _cost_text(lang)
    rows = sensitivity.assign(span=(sensitivity["net_high"] - sensitivity["net_low"]).abs())
    rows = rows.sort_values("span", kind="stable")
    fig, ax = _axes(ax, (7.0, 0.55 * len(rows) + 1.6))
    base = float(rows["net_base"].iloc[0]) if len(rows) else 0.0
    y = np.arange(len(rows))
    for yi, r in zip(y, rows.itertuples()):
        for value, label, colour, kind in ((r.net_low, r.low, "C0", "low"), (r.net_high, r.high, "C1", "high")):
            ax.barh(yi, value - base, left=base, color=colour, height=0.6,
                    label=text[kind] if yi == y[-1] else None)
            ax.annotate(str(label), (value, yi), xytext=(4 if value >= base else -4, 0), textcoords="offset points",
                        ha="left" if value >= base else "right", va="center", fontsize="x-small")
    ax.axvline(base, color="black", linewidth=0.8)
    ax.axvline(0.0, color="grey", linewidth=0.8, linestyle="--")
    names = rows["parameter"].astype(str).tolist()
    ax.set_yticks(y, [_COST_PARAMETERS_DA.get(n, n) for n in names] if lang == "da" else names)
    name = str(rows["scenario"].iloc[0]) if len(rows) and "scenario" in rows else ""
    ax.set_xlabel(text["tornado"].format(s=name))
    ax.xaxis.set_major_formatter(tick_formatter("kroner", lang))
    ax.margins(x=0.25)
    if len(rows):
        ax.legend(loc="lower right", fontsize="x-small")
    return fig


def _number_ticks(ax: Axes, lang: str) -> None:
    """Tick labels of both axes with the language's decimal sign and minus sign."""
    def write(value: float, _pos: int) -> str:
        # rounded first: a tick at 1.4 is 1.4000000000000001 and must not be written 1.40
        decimals = 0 if float(value).is_integer() else 1 if round(value * 10, 9).is_integer() else 2
        return number(value, lang, decimals)

    ax.xaxis.set_major_formatter(FuncFormatter(write))
    ax.yaxis.set_major_formatter(FuncFormatter(write))


def _calendar_positions(axis: TimeAxis, periods: np.ndarray) -> np.ndarray:
    """Positions on a figure's x-axis of calendar periods (``201643``): consecutive periods one apart, also
    across a new year; periods aligned on visitation are their own positions."""
    if axis.alignment != "calendar":
        return periods
    first = axis.period_bounds(None, periods.astype(np.int64))[0]
    if axis.column == "calendar_week":
        return (first.astype(np.int64) + 3) // 7            # Monday-based weeks since 1970 (a Thursday)
    return first.astype("datetime64[M]").astype(np.int64)


def _calendar_labels(ax: Axes, axis: TimeAxis, positions: np.ndarray, periods: np.ndarray) -> None:
    """Label the x ticks with the calendar periods (``2016-W43``) they stand at."""
    if axis.alignment != "calendar":
        return
    by_position = dict(zip(positions.tolist(), periods.tolist()))
    ticks = [t for t in ax.get_xticks() if t in by_position]
    ax.set_xticks(ticks, [axis.period_label(int(by_position[t])) for t in ticks])


# --------------------------------------------------------------------------------------------------
# Panel (trialeval.panel)
# --------------------------------------------------------------------------------------------------

def plot_panel_means(means: pd.DataFrame, outcome: str, *, ax: Axes | None = None, lang: str = "en",
                     min_cell: int = 5, axis: TimeAxis = WEEKS_SINCE_VISITATION,
                     groups: Sequence[str] = ("treatment", "control")) -> Figure:
    """Mean of one panel outcome per week since visitation, a line per arm (descriptive, no CI).

    Weeks where an arm has fewer than ``min_cell`` persons observed are left out, and so are shares
    resting on 1 to ``min_cell − 1`` persons with or without the outcome, and mean hours of 1 to
    ``min_cell − 1`` persons with hours (when ``has_ordinary_hours`` is in ``means``): the disclosure
    rule of :mod:`trialeval.disclosure`. ``groups`` are the labels of ``arm``, the programme group first.

    Examples
    --------
    >>> import pandas as pd
    >>> m = pd.DataFrame({"arm": ["treatment"] * 2 + ["control"] * 2, "week": [1, 2, 1, 2],
    ...                   "n_at_risk": [10, 10, 10, 3], "y": [0.5, 0.5, 0.5, 0.4]})
    >>> fig = plot_panel_means(m, "y")
    >>> [len(line.get_xdata()) for line in fig.axes[0].get_lines()]
    [2, 1]
    """
    text = _text(lang, groups)
    indicator = outcome != "ordinary_hours"
    fig, ax = _axes(ax, (7.0, 4.2))
    for arm, role, style in ((groups[0], "treatment", "-"), (groups[1], "control", "--")):
        part = means.loc[means["arm"] == arm]
        ok = ~few_persons(part["n_at_risk"], min_cell)
        if indicator:
            ok &= ~share_disclosive(part["n_at_risk"], part[outcome], min_cell)
        elif "has_ordinary_hours" in part.columns:
            with np.errstate(invalid="ignore"):
                ok &= ~small_count(np.round(part["n_at_risk"] * part["has_ordinary_hours"]), min_cell)
        rows = part.loc[ok]
        values = rows[outcome].to_numpy() * (100.0 if indicator else 1.0)
        ax.plot(rows[axis.column].to_numpy(), values, style, label=text[role], linewidth=1.6)
    ax.set_xlabel(axis.axis_label(lang))
    ax.set_ylabel(text["percent"] if indicator else text["hours"].format(unit=axis.unit(lang)))
    ax.set_title(_OUTCOME_NAMES.get(lang, {}).get(outcome, outcome))
    ax.legend(loc="best", fontsize="small")
    ax.grid(True, linewidth=0.3, alpha=0.6)
    return fig
