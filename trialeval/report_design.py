"""What a comparison rests on, in words: the design labels of curves, figures and the report.

A design without a lottery measures differences between a programme group and a comparison group; they
are effects only under an assumption — selection on observables for a matched comparison, parallel
pre-trends for a difference in differences or a two-way fixed-effects event study. The wording here is
put on every summary, figure and report section of such a design (in English and Danish), and the
pre-trend test is shown beside the curves.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from trialeval.design import Design
    from trialeval.effects.results import EffectsResult

#: The wording by language: what the groups are compared with, and the assumption of each method.
WORDING: dict[str, dict[str, str]] = {
    "en": {
        "matched": "compared with a matched comparison group; rests on selection on observables",
        "unmatched": "compared with a comparison group not formed by lot; rests on selection on observables",
        "did": "compared with a matched comparison group; rests on parallel pre-trends (difference in differences)",
        "twfe": "compared with units not (yet) in the programme; rests on parallel pre-trends "
                "(two-way fixed effects)",
        "selection": "a random selection, all in the programme; compared with persons outside it; "
                     "rests on selection on observables",
        "difference": "difference from the comparison group",
        "event": "event study, pre-periods included",
        "pretrend": "pre-trend test: χ² = {chi2:.3g} on {df} df, p = {p:.3g}",
        "heading": "Design: what the comparison rests on",
        "period": "Period",
    },
    "da": {
        "matched": "sammenlignet med en matchet sammenligningsgruppe; hviler på selektion på observerbare "
                   "kendetegn",
        "unmatched": "sammenlignet med en sammenligningsgruppe, der ikke er dannet ved lodtrækning; hviler på "
                     "selektion på observerbare kendetegn",
        "did": "sammenlignet med en matchet sammenligningsgruppe; hviler på parallelle tendenser før start "
               "(forskel i forskelle)",
        "twfe": "sammenlignet med enheder, der (endnu) ikke er i indsatsen; hviler på parallelle tendenser "
                "før start (tosidede faste effekter)",
        "selection": "en tilfældig udvælgelse, alle i indsatsen; sammenlignet med personer uden for den; "
                     "hviler på selektion på observerbare kendetegn",
        "difference": "forskel fra sammenligningsgruppen",
        "event": "hændelsesstudie inkl. perioder før start",
        "pretrend": "test for tendens før start: χ² = {chi2:.3g} med {df} frihedsgrader, p = {p:.3g}",
        "heading": "Design: hvad sammenligningen hviler på",
        "period": "Periode",
    },
}


def design_wording(kind: str, method: str = "matched", lang: str = "en") -> str:
    """What a comparison of the given design ``kind`` by ``method`` rests on, in ``lang``.

    Examples
    --------
    >>> design_wording("comparison", "did")
    'compared with a matched comparison group; rests on parallel pre-trends (difference in differences)'
    >>> design_wording("randomised")
    'random assignment'
    """
    words = WORDING.get(lang, WORDING["en"])
    if kind == "randomised":
        return "tilfældig fordeling (lodtrækning)" if lang == "da" else "random assignment"
    if method in ("did", "twfe", "unmatched") or kind == "comparison":
        return words[method]
    return words["selection"]


def pretrend_text(result: EffectsResult, outcome: str, lang: str = "en") -> str | None:
    """The pre-trend test of ``outcome`` in words, or None without one."""
    if result.pretrend is None:
        return None
    row = result.pretrend.loc[result.pretrend["outcome"] == outcome]
    if row.empty:
        return None
    r = row.iloc[0]
    return WORDING.get(lang, WORDING["en"])["pretrend"].format(chi2=r["chi2"], df=int(r["df"]), p=r["p_value"])


def comparison_figures(result: EffectsResult, figures: dict[str, Figure], lang: str = "en") -> dict[str, Figure]:
    """The curves of a comparison design labelled with what they rest on (subtitle, "difference" for
    "effect", the pre-trend test), plus one event-study figure per outcome (``event_<outcome>``)."""
    words = WORDING.get(lang, WORDING["en"])
    wording = design_wording("comparison", str(result.settings.get("method", "unmatched")), lang)
    out = dict(figures)
    for outcome in result.outcomes:
        fig = out.get(outcome)
        if fig is None:
            continue
        ax_r = fig.axes[-1]
        ax_r.set_title(f"{outcome}: {words['difference']}", fontsize="medium")
        legend = ax_r.get_legend()
        for text in legend.get_texts() if legend is not None else []:
            if text.get_text().lower() in ("effect", "effekt"):
                text.set_text(words["difference"])
        test = pretrend_text(result, outcome, lang)
        fig.suptitle(wording + (f"\n{test}" if test else ""), fontsize="small")
        if result.event_study is not None:
            out[f"event_{outcome}"] = plot_event_study(result, outcome, lang)
    return out


def plot_event_study(result: EffectsResult, outcome: str, lang: str = "en") -> Figure:
    """The differences by period, pre-periods included, with their confidence intervals and the
    pre-trend test in the title."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    words = WORDING.get(lang, WORDING["en"])
    assert result.event_study is not None
    rows = result.event_study.loc[result.event_study["outcome"] == outcome]
    period = result.axis.column if result.axis.column in rows else rows.columns[1]
    x = rows[period].to_numpy(dtype=float)
    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.axvline(0, color="grey", linewidth=0.8, linestyle=":")
    ax.fill_between(x, rows["ci_low"], rows["ci_high"], color="C2", alpha=0.2, step=None)
    ax.plot(x, rows["estimate"], color="C2", marker="o", markersize=3)
    ax.set_xlabel(words["period"])
    ax.set_ylabel(words["difference"])
    test = pretrend_text(result, outcome, lang)
    ax.set_title(f"{outcome}: {words['event']}" + (f"\n{test}" if test else ""), fontsize="medium")
    wording = design_wording("comparison", str(result.settings.get("method", "matched")), lang)
    fig.suptitle(wording, fontsize="small")
    fig.tight_layout()
    return fig


def design_section(design: Design, out_dir: str | Path, lang: str = "en") -> list[str]:
    """The report's paragraph on what a design that is not randomised rests on, with the pre-trend tests
    when the effects step wrote them (``effects_pretrend.csv``); nothing for a randomised design."""
    import json

    from trialeval import layout

    if design.randomised:
        return []
    words = WORDING.get(lang, WORDING["en"])
    effects = Path(out_dir) / layout.EFFECTS
    path, settings = layout.effects_table(effects, "pretrend"), layout.effects_settings(effects)
    method = "matched"
    if settings.is_file():
        method = str(json.loads(settings.read_text(encoding="utf-8")).get("settings", {}).get("method", method))
    parts = [f"<h2>{html.escape(words['heading'])}</h2>",
             f"<p class='note'>{html.escape(design_wording(design.kind, method, lang))}</p>"]
    if path.is_file():
        table = pd.read_csv(path)
        lines = [f"{html.escape(str(r['outcome']))}: " + html.escape(words["pretrend"].format(
            chi2=float(r["chi2"]), df=int(r["df"]), p=float(r["p_value"]))) for _, r in table.iterrows()
            if np.isfinite(float(r["chi2"]))]
        parts.append("<ul>" + "".join(f"<li>{line}</li>" for line in lines) + "</ul>")
    return parts
