"""Result values of the effects step: :class:`EffectsResult` and :class:`HoursDistributionResult`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from trialeval import _console as console
from trialeval import i18n
from trialeval.disclosure import (
    DEFAULT_MIN_CELL,
    INDICATOR_OUTCOMES,
    protect_distribution,
    protect_effect_table,
    suppress_small_cells,
)
from trialeval.io import ARMS
from trialeval.timeaxis import WEEKS_SINCE_VISITATION, TimeAxis

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

#: The period column of the tables on the default time axis (``"week"``).
PERIOD_COLUMN = WEEKS_SINCE_VISITATION.column
TABLE_COLUMNS = ["outcome", PERIOD_COLUMN, "n_treatment", "n_control", "mean_treatment", "mean_control",
                 "effect", "se", "df", "ci_low", "ci_high", "p_value"]
_COUNTS = ["n_treatment", "n_control"]


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
    axis: TimeAxis = WEEKS_SINCE_VISITATION
    groups: tuple[str, str] = ARMS

    def to_frame(self) -> pd.DataFrame:
        """The raw table (a copy); :meth:`export_frame` is the one that may leave a research server."""
        return self.table.copy()

    def export_frame(self) -> pd.DataFrame:
        """The table as it may be exported (:func:`trialeval.disclosure.protect_distribution`).

        An arm observed with fewer than ``min_cell`` persons is blanked; a bin with 1 to
        ``min_cell − 1`` persons in it (or of its arm outside it) is blanked, and where that leaves one
        hidden cell of an arm (the persons with zero hours count as a cell), the next smallest bin too.
        """
        return protect_distribution(self.table, [self.axis.column, "arm"], "count", "n_observed",
                                    ["share", "share_positive"], self.min_cell)

    def summary(self, lang: str = "en") -> str:
        """The shares by bin and arm; numbers in ``lang`` (en or da)."""
        t = self.export_frame()
        wide = t.pivot(index="bin", columns="arm", values="share").reindex(t["bin"].drop_duplicates())
        lines = [f"Positive {self.column} at {self.axis.unit()} {self.week} (share of persons observed; "
                 f"· = suppressed, fewer than {self.min_cell} persons):"]
        for b, row in wide.iterrows():
            lines.append(f"  {b:>8}  " + "  ".join(
                f"{a} {_pct(row.get(a, np.nan), lang)}" for a in self.groups))
        return "\n".join(lines)

    def plot(self, ax: Any = None, *, lang: str = "en") -> Any:
        """Bar chart of the shares by arm (delegates to :func:`trialeval.plots.plot_hours_distribution`)."""
        from trialeval.plots import plot_hours_distribution

        return plot_hours_distribution(self, ax=ax, lang=lang, axis=self.axis)

    def _repr_html_(self) -> str:
        return self.export_frame().to_html(index=False, na_rep="·")

    def to_dict(self) -> dict[str, Any]:
        return {self.axis.column: self.week, "column": self.column, "edges": list(self.edges),
                "table": self.export_frame().to_dict(orient="records")}


def _est(v: Any, lang: str) -> str:
    """An effect or a confidence limit: `` 0.4604`` (``.4g``, sign-padded) / ``0,460``."""
    return console.fmt(v, " .4g", lang, "estimate")


#: The words of :meth:`EffectsResult.summary`, in English and Danish ({...} filled in).
_WORDS: dict[str, dict[str, str]] = {
    "effect": {"en": "effect", "da": "effekt"},
    "difference": {"en": "difference", "da": "forskel"},
    "title": {"en": "{noun} curves ({design}), {n} outcome(s), {conf} % confidence intervals",
              "da": "{noun}kurver ({design}), {n} udfald, {conf} %-konfidensintervaller"},
    "groups": {"en": "Programme group {a!r} vs reference group {b!r} (columns *_treatment and *_control by role)",
               "da": "Programgruppe {a!r} mod referencegruppe {b!r} (kolonnerne *_treatment og *_control "
                     "efter rolle)"},
    "not_estimated": {"en": "not estimated", "da": "ikke estimeret"},
    "suppressed": {"en": "· (suppressed: fewer than {k} persons)", "da": "· (skjult: færre end {k} personer)"},
    "no_interval": {"en": "no confidence interval", "da": "intet konfidensinterval"},
    "band": {"en": "simultaneous band: critical value {c} (pointwise t ≈ {t})",
             "da": "simultant bånd: kritisk værdi {c} (punktvis t ≈ {t})"},
    "average": {"en": "Average effect over {units} 1–{k} (Holm-adjusted p):",
                "da": "Gennemsnitlig effekt over {units} 1–{k} (Holm-justeret p):"},
    "dropped": {"en": "{n} block-{unit} cell(s) dropped (an arm with < 2 persons)",
                "da": "{n} blok-{unit}-celle(r) udeladt (en gruppe med < 2 personer)"},
    "pretrend": {"en": "Pre-trend test, {o}: chi2 = {c} on {df} df, p = {p}",
                 "da": "Test for forudgående trend, {o}: chi2 = {c} med {df} frihedsgrader, p = {p}"},
}


def _say(key: str, lang: str, **values: Any) -> str:
    return _WORDS[key][lang].format(**values)


def _p_is(v: Any, lang: str) -> str:
    """``p = 0.0123``, or ``p < 0,001`` where the number is written as a bound."""
    text = console.p(v, lang)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def _estimate_text(noun: str, effect: Any, low: Any, high: Any, p: Any, lang: str) -> str:
    """``effect 0.46 [0.2, 0.7], p = 0.001``; without an interval (no variation) that is said instead."""
    head = f"{noun} {_est(effect, lang)}" if noun else _est(effect, lang)
    if pd.isna(low) or pd.isna(high):
        return f"{head} ({_say('no_interval', lang)})"
    return f"{head} [{_est(low, lang)}, {_est(high, lang)}], {_p_is(p, lang)}"


def _pct(v: Any, lang: str = "en") -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "    · "
    return f"{100 * v:5.1f} %" if lang == "en" else f"{console.fmt(v, '', lang, 'share'):>7}"


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
    axis
        The time axis of the periods (copied from a :class:`~trialeval.panel.PanelResult`; weeks since
        visitation for a long panel).
    nonzero
        Internal: per outcome and week the persons of each arm with a non-zero value of a continuous
        outcome (``nonzero_treatment``, ``nonzero_control``), used by the disclosure rule; never exported.
    groups
        The labels of the groups compared: the programme group, then the reference group. The table's
        columns keep role names whatever the labels (``mean_treatment`` is the programme group's mean,
        ``mean_control`` the reference group's); summaries, figures and the report show the labels.
    event_study
        Comparison designs with pre-periods: per outcome and period (pre-periods included) the difference
        between the groups from one stacked regression (``estimate, se, df, ci_low, ci_high, p_value``).
    pretrend
        Comparison designs with pre-periods: per outcome the Wald test that every pre-period difference
        is 0 (``chi2, df, p_value``).
    assumption
        Comparison designs: what the comparison rests on, in words (e.g. "compared with a matched
        comparison group; rests on selection on observables"); summaries and figures show it, and say
        "difference" rather than "effect" without it.
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
    axis: TimeAxis = WEEKS_SINCE_VISITATION
    groups: tuple[str, str] = ARMS
    event_study: pd.DataFrame | None = None
    pretrend: pd.DataFrame | None = None
    assumption: str | None = None

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
                                    indicators=set(self.indicator_outcomes) | set(INDICATOR_OUTCOMES),
                                    keys=("outcome", self.axis.column))

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
            out["dropped_blocks"] = self.dropped_blocks[["outcome", self.axis.column, "block", "reason"]].copy()
        if self.event_study is not None:
            out["event_study"] = self.event_study.copy()
        if self.pretrend is not None:
            out["pretrend"] = self.pretrend.copy()
        return out

    def summary(self, periods: Sequence[int] | None = None, lang: str = "en") -> str:
        """A short text report: design, weeks, and the effect at a few weeks per outcome (as exported).

        Parameters
        ----------
        periods
            The periods (weeks or months since visitation) to show, e.g. ``[13, 26, 35]``; a period not in
            the curves reads "not estimated". Default: five periods spread over the curve.
        lang
            Language of the numbers: ``"en"`` (``0.4604``, ``p = 0.0123``) or ``"da"`` (``0,460``,
            ``p = 0,012``, ``< 0,001``).
        """
        console.check(lang)
        t = self.export_frame()
        exported = self.export_tables()
        period, unit, units = self.axis.column, self.axis.unit(lang), self.axis.unit(lang, plural=True)
        noun = _say("effect" if self.assumption is None else "difference", lang)
        conf = console.fmt(100 * (1 - self.alpha), "g", lang)
        design = i18n.value(self.design, lang)
        lines = [_say("title", lang, noun=noun.capitalize(), design=design, n=len(self.outcomes), conf=conf)]
        if self.groups != ARMS:
            lines.append(_say("groups", lang, a=self.groups[0], b=self.groups[1]))
        for outcome in self.outcomes:
            rows = t[t["outcome"] == outcome]
            if rows.empty:
                continue
            weeks = rows[period].to_numpy()
            lines.append(f"{outcome}: {units} {self._label(weeks.min(), 0)}–{self._label(weeks.max(), 0)}")
            lines += self._period_lines(rows, periods, lang, noun)
            if self.bands is not None:
                b = self.bands[self.bands["outcome"] == outcome]
                if len(b):
                    lines.append("  " + _say("band", lang, c=console.fmt(b["critical_value"].iloc[0], ".3f", lang),
                                             t=console.fmt(b["t_pointwise"].iloc[0], ".3f", lang)))
        if self.summary_table is not None:
            lines.append(_say("average", lang, units=units, k=self.settings.get("summary_weeks")))
            for _, r in exported["summary"].iterrows():
                if r["suppressed"]:
                    lines.append(f"  {r['outcome']}: {_say('suppressed', lang, k=self.min_cell)}")
                    continue
                average = _estimate_text("", r["effect"], r["ci_low"], r["ci_high"], r["p_value"], lang)
                lines.append(f"  {r['outcome']}: {average}, Holm {_p_is(r['p_holm'], lang)}")
        if self.dropped_blocks is not None and len(self.dropped_blocks):
            lines.append(_say("dropped", lang, n=console.fmt(len(self.dropped_blocks), "", lang, "count"), unit=unit))
        if self.hours is not None:
            lines.append(self.hours.summary(lang))
        if self.pretrend is not None:
            lines += [_say("pretrend", lang, o=r["outcome"], c=console.fmt(r["chi2"], ".4g", lang), df=int(r["df"]),
                           p=console.p(r["p_value"], lang)) for _, r in self.pretrend.iterrows()]
        return "\n".join(lines)

    def _label(self, k: int, width: int = 3) -> str:
        """Period ``k`` as the summary writes it: ``13`` (right-aligned in ``width``), or ``2016-W43`` on a
        calendar axis."""
        return self.axis.period_label(int(k)) if self.axis.alignment == "calendar" else f"{int(k):>{width}}"

    def _period_lines(self, rows: pd.DataFrame, periods: Sequence[int] | None, lang: str, noun: str) -> list[str]:
        period, unit = self.axis.column, self.axis.unit(lang)
        if periods is None:
            show = rows.iloc[np.unique(np.linspace(0, len(rows) - 1, min(5, len(rows))).astype(int))]
            wanted = [int(w) for w in show[period]]
        else:
            wanted = [int(w) for w in periods]
        by_period = rows.set_index(period)
        lines = []
        for w in wanted:
            if w not in by_period.index:
                lines.append(f"  {unit} {self._label(w)}: {_say('not_estimated', lang)}")
                continue
            r = by_period.loc[w]
            if r["suppressed"]:
                lines.append(f"  {unit} {self._label(w)}: {_say('suppressed', lang, k=self.min_cell)}")
                continue
            lines.append(f"  {unit} {self._label(w)}: "
                         + _estimate_text(noun, r["effect"], r["ci_low"], r["ci_high"], r["p_value"], lang))
        return lines

    def tidy(self, *, suppress: bool = True) -> pd.DataFrame:
        """One row per outcome and period in the broom / pyfixest sense.

        Columns: ``term`` (the outcome), ``period``, ``estimate`` (difference of the group means),
        ``std_error``, ``statistic`` (estimate / std_error), ``df``, ``p_value``, ``conf_low``, ``conf_high``,
        ``n`` (persons of both groups), ``n_treatment``, ``n_control`` and ``suppressed``. With ``suppress``
        (the default) small cells are blanked as in :meth:`export_frame`.
        """
        t = self.export_frame() if suppress else self.table.assign(suppressed=False)
        out = pd.DataFrame({
            "term": t["outcome"].astype(str), "period": t[self.axis.column].astype(int),
            "estimate": t["effect"], "std_error": t["se"], "statistic": t["effect"] / t["se"], "df": t["df"],
            "p_value": t["p_value"], "conf_low": t["ci_low"], "conf_high": t["ci_high"],
            "n": t["n_treatment"] + t["n_control"], "n_treatment": t["n_treatment"], "n_control": t["n_control"],
            "suppressed": t["suppressed"].astype(bool),
        })
        return out.reset_index(drop=True)

    def plot(self, outcome: str | None = None, ax: Any = None, *, lang: str = "en",
             grey_below: int | None = None) -> Figure:
        """Two-panel figure of one outcome (delegates to :func:`trialeval.plots.plot_effect_curve`)."""
        from trialeval.plots import plot_effect_curve

        return plot_effect_curve(self, outcome or self.outcomes[0], axes=ax, lang=lang, grey_below=grey_below,
                                 axis=self.axis)

    def figures(self, *, lang: str = "en", grey_below: int | None = None) -> dict[str, Figure]:
        """One figure per outcome, plus ``"hours"`` for the hours distribution when present."""
        from trialeval.plots import plot_effect_curve, plot_hours_distribution

        figs = {o: plot_effect_curve(self, o, lang=lang, grey_below=grey_below, axis=self.axis)
                for o in self.outcomes}
        if self.hours is not None:
            figs["hours"] = plot_hours_distribution(self.hours, lang=lang, axis=self.axis)
        if self.assumption is not None:
            from trialeval.report_design import comparison_figures

            figs = comparison_figures(self, figs, lang)
        return figs

    def _repr_html_(self) -> str:
        return f"<p>{self.design}</p>" + self.export_frame().to_html(index=False, na_rep="·")

    def provenance(self) -> dict[str, Any]:
        """The estimator and options that produced these curves (JSON-ready), for reports and audits."""
        groups = {} if self.groups == ARMS else {"groups": list(self.groups)}
        if self.assumption is not None:
            groups["assumption"] = self.assumption  # type: ignore[assignment]
        return {"design": self.design, "outcomes": list(self.outcomes), "alpha": self.alpha,
                "min_cell": self.min_cell, **groups,
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

