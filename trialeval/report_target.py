"""The report's sections on a target population over calendar time and on curves by group.

Each section appears when its files are in the output folder:

=====================================  ==================================================================
Section                                Files
=====================================  ==================================================================
Target population over calendar time   ``target_curves.csv`` (and ``target_did.csv``), from ``trialeval target --out <folder>/``
Curves by group                        ``curves.csv`` (``trialeval curves --out curves.csv``)
=====================================  ==================================================================

The disclosure rule is applied again to what is shown (a table written with a smaller ``--min-cell`` or
by hand is controlled here): a cell with fewer than ``min_cell`` persons followed, or a share resting on
fewer than ``min_cell`` persons with or without the outcome (an outcome whose means all lie in [0, 1] and
that is not hours is taken as a share), is blanked, in the tables and in the
figures, which are drawn from the controlled tables in the report's language.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trialeval.disclosure import few_persons, share_disclosive

#: The files of the sections.
TARGET_CURVES = "target_curves.csv"
TARGET_DID = "target_did.csv"
CURVES = "curves.csv"

TEXT: dict[str, dict[str, str]] = {
    "en": {"target": "Target population over calendar time", "curves": "Curves by group",
           "did": "Before and after by site group, and the difference in differences (CR2 standard errors "
                  "clustered by site)",
           "last": "The last period: mean and persons followed", "figure": "{outcome}",
           "population": "Population", "site_group": "Site group", "outcome": "Outcome", "group": "Group",
           "n_before": "Persons before", "n_after": "Persons after", "mean_before": "Mean before",
           "mean_after": "Mean after", "change": "Change", "ci_low": "95 % CI, low", "ci_high": "95 % CI, high",
           "p_value": "p", "n_sites": "Sites", "period": "Period", "n_followed": "Persons followed", "mean": "Mean",
           "difference": "Difference (programme sites − others)", "gross": "gross", "narrow": "narrow"},
    "da": {"target": "Målgruppe over kalendertid", "curves": "Kurver pr. gruppe",
           "did": "Før og efter pr. gruppe af enheder og forskellen i forskelle (CR2-standardfejl klynget på enhed)",
           "last": "Sidste periode: gennemsnit og personer fulgt", "figure": "{outcome}",
           "population": "Population", "site_group": "Gruppe af enheder", "outcome": "Udfald", "group": "Gruppe",
           "n_before": "Personer før", "n_after": "Personer efter", "mean_before": "Gennemsnit før",
           "mean_after": "Gennemsnit efter", "change": "Ændring", "ci_low": "95 %-KI, nedre",
           "ci_high": "95 %-KI, øvre", "p_value": "p", "n_sites": "Enheder", "period": "Periode",
           "n_followed": "Personer fulgt", "mean": "Gennemsnit",
           "difference": "Forskel (indsatsens enheder − øvrige)", "gross": "brutto", "narrow": "netto"},
}


def control(table: pd.DataFrame, min_cell: int) -> pd.DataFrame:
    """The curves table with the disclosure rule applied again: small cells and shares resting on few
    persons blanked (``n_followed``, ``mean``) and marked ``suppressed``.

    Examples
    --------
    >>> t = pd.DataFrame({"outcome": ["y", "y"], "n_followed": [10, 3], "mean": [0.5, 0.5], "suppressed": False})
    >>> control(t, 5)["mean"].tolist()
    [0.5, nan]
    """
    from trialeval.report_tables import HOURS_OUTCOMES
    out = table.copy()
    hidden = few_persons(out["n_followed"].fillna(0), min_cell) & out["n_followed"].notna().to_numpy()
    for outcome, rows in out.groupby("outcome", sort=False):
        if outcome not in HOURS_OUTCOMES and rows["mean"].dropna().between(0, 1).all():     # a share
            mask = out["outcome"].to_numpy() == outcome
            hidden |= mask & share_disclosive(out["n_followed"].fillna(0), out["mean"].fillna(0), min_cell)
    out.loc[hidden, ["n_followed", "mean"]] = np.nan
    out["suppressed"] = out["suppressed"].astype(bool) | hidden
    return out


def _header(t: dict[str, str]) -> Any:
    """Column headers in the report's language."""
    return lambda c: t["period"] if c == "period_label" else t.get(c, c)


def _png(fig: Any, caption: str) -> str:
    from trialeval.report_sites import _figure
    return _figure(fig, caption)


def _target(out_dir: Path, t: dict[str, str], k: int, table_html: Any, labels: dict[str, Any],
            settings: Any = None) -> tuple[list[str], int]:
    from trialeval.i18n import outcome as outcome_label
    from trialeval.target import DIFFERENCE, TEXT as TARGET_TEXT, plot_target
    from trialeval.timeaxis import CALENDAR_MONTH, CALENDAR_WEEK
    lang = t["lang"]
    curves = control(pd.read_csv(out_dir / TARGET_CURVES, dtype={"site_group": str}), k)
    axis = CALENDAR_WEEK if CALENDAR_WEEK.column in curves.columns else CALENDAR_MONTH
    body = [f"<h2>{t['target']}</h2>", f"<p class='note'>{TARGET_TEXT[lang]['caveat']}</p>"]
    figures = 0
    programme = settings.programme_value(curves["site_group"], TARGET_CURVES) if settings is not None else None
    site_group = settings.site_group if settings is not None else "site_group"
    for outcome in dict.fromkeys(curves["outcome"]):
        body.append(_png(plot_target(curves, str(outcome), axis, site_group, lang=lang, labels=labels,
                                     programme=programme),
                         outcome_label(str(outcome), lang, labels)))
        figures += 1
    if (out_dir / TARGET_DID).is_file():
        did = pd.read_csv(out_dir / TARGET_DID, dtype={"site_group": str})
        shown = did.drop(columns=["se", "df", "suppressed"]).copy()
        shown["population"] = shown["population"].map(lambda p: t.get(p, p))
        shown["outcome"] = shown["outcome"].map(lambda o: outcome_label(str(o), lang, labels))
        shown["site_group"] = shown["site_group"].replace({DIFFERENCE: t["difference"]})
        body.append(f"<h3>{t['did']}</h3>" + table_html(shown.rename(columns=_header(t))))
    last = curves.loc[curves[axis.column] == curves[axis.column].max()]
    shown = last[["population", "site_group", "period_label", "outcome", "n_followed", "mean"]].copy()
    shown["population"] = shown["population"].map(lambda p: t.get(p, p))
    shown["outcome"] = shown["outcome"].map(lambda o: outcome_label(str(o), lang, labels))
    body.append(f"<h3>{t['last']}</h3>" + table_html(shown.rename(columns=_header(t))))
    return body, figures


def _curves(out_dir: Path, t: dict[str, str], k: int, table_html: Any, labels: dict[str, Any],
            groups: Any) -> tuple[list[str], int]:
    from trialeval.curves import TEXT as CURVE_TEXT, CurveGroup, CurvesResult, panel_axis
    from trialeval.i18n import outcome as outcome_label
    lang = t["lang"]
    table = control(pd.read_csv(out_dir / CURVES, dtype={"group": str, "label": str, "label_da": str}), k)
    axis = panel_axis(list(table.columns), str(out_dir / CURVES))
    declared = {g.name: g for g in (groups or ())}
    danish = table["label_da"] if "label_da" in table.columns else table["label"]
    order = [declared.get(name, CurveGroup(name, "", label_en=str(en), label_da=str(da)))
             for name, (en, da) in dict(zip(table["group"], zip(table["label"], danish))).items()]
    result = CurvesResult(table, axis, tuple(order), k, labels)
    body = [f"<h2>{t['curves']}</h2>", f"<p class='note'>{CURVE_TEXT[lang]['note']}</p>"]
    for outcome in result.outcomes:
        body.append(_png(result.plot(outcome, lang=lang), outcome_label(outcome, lang, labels)))
    last = table.loc[table[axis.column] == table[axis.column].max()].copy()
    last["group"] = last["group"].map(lambda g: next((o.label(lang) for o in order if o.name == g), g))
    last["outcome"] = last["outcome"].map(lambda o: outcome_label(str(o), lang, labels))
    shown = last[["group", "period_label", "outcome", "n_followed", "mean"]]
    body.append(f"<h3>{t['last']}</h3>" + table_html(shown.rename(columns=_header(t))))
    return body, len(result.outcomes)


def target_sections(out_dir: str | Path, lang: str, min_cell: int, table_html: Any, config: Any,
                    body: list[str], sections: list[str], figures: int) -> tuple[list[str], list[str], int]:
    """``body``, ``sections`` and ``figures`` with the sections whose files are in ``out_dir`` added.

    ``table_html(frame)`` renders a table as the rest of the report does; ``config`` (the trial config)
    gives the outcome labels and the groups' labels.
    """
    out_dir = Path(out_dir)
    t = {**TEXT[lang], "lang": lang}
    labels = {**{o.name: {"label_en": o.label("en"), "label_da": o.label("da")} for o in config.declared_outcomes},
              **(config.analysis.get("labels") or {})}
    if (out_dir / TARGET_CURVES).is_file():
        parts, n = _target(out_dir, t, min_cell, table_html, labels, getattr(config, "target", None))
        body, sections, figures = body + parts, sections + ["target"], figures + n
    if (out_dir / CURVES).is_file():
        groups = config.curves.groups if getattr(config, "curves", None) is not None else ()
        parts, n = _curves(out_dir, t, min_cell, table_html, labels, groups)
        body, sections, figures = body + parts, sections + ["curves"], figures + n
    return body, sections, figures
