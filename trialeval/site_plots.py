"""Figures of results by site and subgroup: the caterpillar plot and the forest plot (en/da)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from trialeval.plots import _axes, check_lang

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from trialeval.sites import SiteResult, SubgroupResult

_TEXT = {
    "en": {"effect": "Effect (programme minus control) with 95 % CI", "pooled": "All persons pooled",
           "random": "Random-effects mean", "site": "Site", "period": "period {p}",
           "other": "other (small sites pooled)", "test": "interaction p = {p}"},
    "da": {"effect": "Effekt (indsats minus kontrol) med 95 %-konfidensinterval", "pooled": "Alle personer samlet",
           "random": "Gennemsnit (tilfældige effekter)", "site": "Enhed", "period": "periode {p}",
           "other": "øvrige (små enheder samlet)", "test": "interaktion p = {p}"},
}


def caterpillar_plot(result: SiteResult, *, ax: Any = None, lang: str = "en") -> Figure:
    """Sites ordered by estimate with their CIs; the pooled and the random-effects estimates as lines."""
    txt = _TEXT[check_lang(lang)]
    table = result.table.sort_values("effect", kind="stable").reset_index(drop=True)
    fig, ax = _axes(ax, (7.0, 1.2 + 0.28 * len(table)))
    pos = np.arange(len(table))
    ax.errorbar(table["effect"], pos, xerr=[table["effect"] - table["ci_low"], table["ci_high"] - table["effect"]],
                fmt="o", color="C0", ecolor="C0", capsize=2)
    ax.axvline(float(result.pooled["effect"]), color="C1", linestyle="--", label=txt["pooled"])
    ax.axvline(result.heterogeneity.estimate, color="C2", linestyle=":", label=txt["random"])
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set_yticks(pos, [txt["other"] if s == "other" else str(s) for s in table["site"]])
    ax.set_xlabel(txt["effect"])
    ax.set_title(f"{result.outcome}, {txt['period'].format(p=result.period)}")
    ax.legend(loc="lower right", fontsize="small")
    return fig


def forest_plot(result: SubgroupResult, *, ax: Any = None, lang: str = "en") -> Figure:
    """Subgroup effects with their CIs, grouped by covariate, each with its (Holm-adjusted) interaction p."""
    txt = _TEXT[check_lang(lang)]
    table = result.table.reset_index(drop=True)
    fig, ax = _axes(ax, (7.0, 1.2 + 0.3 * (len(table) + len(result.tests))))
    labels, ys, y = [], [], 0
    p_holm = dict(zip(result.tests["covariate"], result.tests["p_holm"]))
    for covariate, rows in table.groupby("covariate", sort=False):
        labels.append(f"{covariate} ({txt['test'].format(p=f'{p_holm[covariate]:.3g}')})")
        ys.append(y)
        y += 1
        for r in rows.itertuples(index=False):
            ax.errorbar([r.effect], [y], xerr=[[r.effect - r.ci_low], [r.ci_high - r.effect]], fmt="s",
                        color="C0", capsize=2)
            labels.append(f"   {r.subgroup}")
            ys.append(y)
            y += 1
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set_yticks(ys, labels)
    ax.invert_yaxis()
    ax.set_xlabel(txt["effect"])
    ax.set_title(f"{result.outcome}, {txt['period'].format(p=result.period)}")
    return fig


def regression_scatter(fit: Any, *, ax: Any = None, lang: str = "en") -> Figure:
    """The response against its one factor, with the fitted line and the equation in the corner."""
    check_lang(lang)
    slopes = [t for t in fit.table["term"] if t != "(Intercept)"]
    if len(slopes) != 1:
        raise ValueError("a scatter shows a regression on one factor")
    x = fit.data[slopes[0]].to_numpy(dtype=float)
    y = fit.data[fit.response].to_numpy(dtype=float)
    est = dict(zip(fit.table["term"], fit.table["estimate"]))
    fig, ax = _axes(ax, (6.0, 4.2))
    ax.scatter(x, y, color="C0", s=18)
    grid = np.linspace(np.nanmin(x), np.nanmax(x), 50)
    ax.plot(grid, est["(Intercept)"] + est[slopes[0]] * grid, color="C1")
    ax.text(0.02, 0.97, fit.equation(), transform=ax.transAxes, va="top")
    ax.set_xlabel(slopes[0])
    ax.set_ylabel(fit.response)
    return fig


_LOVE = {"en": {"x": "Standardised mean difference (0/1 covariates: difference in proportions)",
                "before": "Before matching", "after": "After matching"},
         "da": {"x": "Standardiseret forskel i gennemsnit (0/1-variable: forskel i andele)",
                "before": "Før matchning", "after": "Efter matchning"}}


def love_before_after(balance: Any, *, ax: Any = None, lang: str = "en") -> Figure:
    """Love plot: each covariate's SMD before (open) and after (filled) matching, with ±0.1 marked."""
    txt = _LOVE[check_lang(lang)]
    table = balance.table.iloc[::-1].reset_index(drop=True)
    fig, ax = _axes(ax, (7.0, 1.5 + 0.28 * len(table)))
    pos = np.arange(len(table))
    ax.scatter(table["smd_before"], pos, facecolors="none", edgecolors="C1", label=txt["before"])
    ax.scatter(table["smd_after"], pos, color="C0", label=txt["after"])
    for x in (-0.1, 0.1):
        ax.axvline(x, color="grey", linestyle="--", linewidth=0.8)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(pos, [str(c).replace("_", " ") for c in table["covariate"]])
    ax.set_xlabel(txt["x"])
    ax.legend(loc="best", fontsize="small")
    return fig


_OVERLAP = {"en": {"x": "Propensity score (logit)", "y": "Persons", "programme": "Programme group",
                   "comparison": "Comparison candidates"},
            "da": {"x": "Propensity score (logit)", "y": "Personer", "programme": "Indsatsgruppe",
                   "comparison": "Sammenligningskandidater"}}


def overlap_plot(logit: np.ndarray, programme: np.ndarray, *, ax: Any = None, lang: str = "en",
                 bins: int = 30, min_cell: int = 5) -> Figure:
    """Histograms of the logit score of programme persons and candidates (bars of fewer than ``min_cell``
    persons are not drawn), to see the common support."""
    txt = _OVERLAP[check_lang(lang)]
    logit = np.asarray(logit, dtype=float)
    programme = np.asarray(programme, dtype=bool)
    edges = np.histogram_bin_edges(logit, bins=bins)
    fig, ax = _axes(ax, (7.0, 4.0))
    for mask, color, label in ((programme, "C0", txt["programme"]), (~programme, "C1", txt["comparison"])):
        counts, _ = np.histogram(logit[mask], bins=edges)
        shown = np.where(counts >= min_cell, counts, 0)
        ax.stairs(shown, edges, color=color, label=label, fill=True, alpha=0.4)
    ax.set_xlabel(txt["x"])
    ax.set_ylabel(txt["y"])
    ax.legend(loc="best", fontsize="small")
    return fig
