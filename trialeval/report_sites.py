"""The report's sections on where it worked and why: results by site, subgroups, site and person regressions.

Each section appears when its files are in the output folder (nothing to declare in the config):

=====================================  ==================================================================
Section                                Files (beside the effect table ``effects.csv``)
=====================================  ==================================================================
Results by site                        ``effects_sites.csv``, ``effects_heterogeneity.csv``
Subgroups                              ``effects_subgroups.csv``, ``effects_interactions.csv``
What explains the site results         ``explain.csv`` (``trialeval explain --out explain.csv``), ``explain.png``
Who gets there                         ``explain_person.csv`` (``trialeval explain --person``)
=====================================  ==================================================================

The disclosure rule is applied again to what is shown (a table written with ``--min-cell 0`` or by hand
is controlled here): a site or subgroup with fewer than ``min_cell`` persons in an arm, or a share
resting on fewer than ``min_cell`` persons with or without the outcome, is left out; a person-level
term that fewer than ``min_cell`` persons have or lack is blanked. The caterpillar and forest plots are
drawn from the controlled tables in the report's language, at the last week of each outcome.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd

from trialeval import layout
from trialeval.disclosure import few_persons, share_disclosive

SITES = layout.effects_table(layout.EFFECTS, "sites").name
HETEROGENEITY = layout.effects_table(layout.EFFECTS, "heterogeneity").name
SUBGROUPS = layout.effects_table(layout.EFFECTS, "subgroups").name
INTERACTIONS = layout.effects_table(layout.EFFECTS, "interactions").name
#: The site regression (``trialeval explain --out explain.csv --plot explain.png``).
SITE_REGRESSION = "explain.csv"
SITE_SCATTER = "explain.png"
#: The person-level regression (``trialeval explain --person --out explain_person.csv``).
PERSON_REGRESSION = "explain_person.csv"
_PERIOD = "week"
_POOLED_ROWS = ("all (pooled persons)", "random effects (DerSimonian–Laird)")

TEXT: dict[str, dict[str, str]] = {
    "en": {"sites": "Results by site", "heterogeneity": "Heterogeneity across sites (Q, I², random-effects mean)",
           "subgroups": "Subgroups", "interactions": "Interaction tests (Holm-adjusted across the covariates)",
           "explain": "What explains the site results", "who": "Who gets there",
           "caveat": "These are associations among the persons followed, not effects of the covariates: persons "
                     "differ in more than the covariates shown.",
           "hidden": "{n} row(s) with fewer than {k} persons are not shown.",
           "fit": "n = {n}, R² = {r2}; HC2 standard errors."},
    "da": {"sites": "Resultater pr. enhed", "heterogeneity": "Forskelle mellem enhederne (Q, I², gennemsnit med "
           "tilfældige effekter)", "subgroups": "Undergrupper",
           "interactions": "Interaktionstest (Holm-korrigeret over baggrundsvariablene)",
           "explain": "Hvad forklarer enhedernes resultater", "who": "Hvem kommer i mål",
           "caveat": "Tallene er sammenhænge blandt de fulgte personer, ikke effekter af baggrundsforholdene: "
                     "personerne adskiller sig på mere end de viste forhold.",
           "hidden": "{n} række(r) med færre end {k} personer vises ikke.",
           "fit": "n = {n}, R² = {r2}; HC2-standardfejl."},
}


def _figure(fig: Any, caption: str) -> str:
    """A matplotlib figure as an embedded PNG, as the report embeds its figure files."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=150)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def controlled_rows(table: pd.DataFrame, min_cell: int, hours_outcomes: frozenset[str] = frozenset()
                    ) -> tuple[pd.DataFrame, int]:
    """The site or subgroup rows that may be shown, and how many were left out.

    The pooled rows (all persons, random effects) stay; any other row goes with fewer than ``min_cell``
    persons in an arm or, for an outcome that is a share, fewer than ``min_cell`` persons with or
    without it in an arm.

    Examples
    --------
    >>> t = pd.DataFrame({"outcome": ["y", "y"], "site": ["A", "B"], "n_treatment": [20, 4], "n_control": [20, 30],
    ...                   "mean_treatment": [0.5, 0.5], "mean_control": [0.5, 0.5]})
    >>> rows, hidden = controlled_rows(t, 5)
    >>> rows["site"].tolist(), hidden
    (['A'], 1)
    """
    pooled = table["site"].isin(_POOLED_ROWS) if "site" in table.columns else pd.Series(False, index=table.index)
    small = few_persons(table["n_treatment"], min_cell) | few_persons(table["n_control"], min_cell)
    share = ~table["outcome"].astype(str).isin(hours_outcomes).to_numpy()
    for arm in ("treatment", "control"):
        small |= share & share_disclosive(table[f"n_{arm}"].fillna(0), table[f"mean_{arm}"].fillna(0), min_cell)
    drop = small & ~pooled.to_numpy()
    return table.loc[~drop].reset_index(drop=True), int(drop.sum())


def _sites(out_dir: Path, t: dict[str, str], k: int, table_html: Any, hours: frozenset[str]
           ) -> tuple[list[str], int]:
    from trialeval.site_plots import caterpillar_plot
    from trialeval.sites import dersimonian_laird
    rows, hidden = controlled_rows(pd.read_csv(out_dir / SITES, dtype={"site": str}), k, hours)
    body = [f"<h2>{t['sites']}</h2>"]
    figures = 0
    for outcome, of_outcome in rows.groupby("outcome", sort=False):
        last = of_outcome.loc[of_outcome[_PERIOD] == of_outcome[_PERIOD].max()]
        sites = last.loc[~last["site"].isin(_POOLED_ROWS)]
        pooled = last.loc[last["site"] == _POOLED_ROWS[0]]
        if len(sites) and len(pooled):
            h = dersimonian_laird(sites["effect"], sites["se"] ** 2)
            view = SimpleNamespace(table=sites, pooled=pooled.iloc[0], heterogeneity=h, outcome=outcome,
                                   period=int(last[_PERIOD].iloc[0]))
            body.append(_figure(caterpillar_plot(view, lang=t["lang"]), f"{outcome}: {t['sites']}"))  # type: ignore[arg-type]
            figures += 1
    body.append(table_html(rows))
    if hidden:
        body.append(f"<p class='note'>{t['hidden'].format(n=hidden, k=k)}</p>")
    if (out_dir / HETEROGENEITY).is_file():
        body.append(f"<h3>{t['heterogeneity']}</h3>" + table_html(pd.read_csv(out_dir / HETEROGENEITY)))
    return body, figures


def _subgroups(out_dir: Path, t: dict[str, str], k: int, table_html: Any, hours: frozenset[str]
               ) -> tuple[list[str], int]:
    from trialeval.site_plots import forest_plot
    rows, hidden = controlled_rows(pd.read_csv(out_dir / SUBGROUPS, dtype={"subgroup": str}), k, hours)
    tests = pd.read_csv(out_dir / INTERACTIONS) if (out_dir / INTERACTIONS).is_file() else None
    body = [f"<h2>{t['subgroups']}</h2>"]
    figures = 0
    if tests is not None:
        for outcome, of_outcome in rows.groupby("outcome", sort=False):
            week = of_outcome[_PERIOD].max()
            at = tests.loc[(tests["outcome"] == outcome) & (tests[_PERIOD] == week)]
            shown = of_outcome.loc[(of_outcome[_PERIOD] == week) & of_outcome["covariate"].isin(at["covariate"])]
            if len(shown):
                view = SimpleNamespace(table=shown, tests=at, outcome=outcome, period=int(week))
                body.append(_figure(forest_plot(view, lang=t["lang"]), f"{outcome}: {t['subgroups']}"))  # type: ignore[arg-type]
                figures += 1
    body.append(table_html(rows))
    if hidden:
        body.append(f"<p class='note'>{t['hidden'].format(n=hidden, k=k)}</p>")
    if tests is not None:
        body.append(f"<h3>{t['interactions']}</h3>" + table_html(tests))
    return body, figures


def _fit_note(table: pd.DataFrame, t: dict[str, str]) -> str:
    if not {"n", "r2"} <= set(table.columns) or table.empty:
        return ""
    r2 = f"{float(table['r2'].iloc[0]):.3f}"
    return f"<p class='note'>{t['fit'].format(n=int(table['n'].iloc[0]), r2=r2)}</p>"


def _regressions(out_dir: Path, t: dict[str, str], k: int, table_html: Any) -> tuple[list[str], list[str], int]:
    body: list[str] = []
    sections: list[str] = []
    figures = 0
    if (out_dir / SITE_REGRESSION).is_file():
        sections.append("explain")
        table = pd.read_csv(out_dir / SITE_REGRESSION)
        body.append(f"<h2>{t['explain']}</h2>")
        if (out_dir / SITE_SCATTER).is_file():
            data = base64.b64encode((out_dir / SITE_SCATTER).read_bytes()).decode("ascii")
            body.append(f"<figure class='narrow'><img alt='{html.escape(t['explain'])}' "
                        f"src='data:image/png;base64,{data}'></figure>")
            figures += 1
        body.append(table_html(table.drop(columns=[c for c in ("n", "r2", "note") if c in table.columns]))
                    + _fit_note(table, t))
    if (out_dir / PERSON_REGRESSION).is_file():
        sections.append("who")
        table = pd.read_csv(out_dir / PERSON_REGRESSION)
        if "persons" in table.columns and "n" in table.columns:
            small = (few_persons(table["persons"], k) | few_persons(table["n"] - table["persons"], k)) \
                & table["persons"].notna().to_numpy()
            if "suppressed" in table.columns:
                small |= table["suppressed"].astype(str).str.lower().eq("true").to_numpy()
            numbers = [c for c in ("estimate", "se", "t", "p_value", "ci_low", "ci_high", "persons") if c in table]
            table.loc[small, numbers] = float("nan")
            table["suppressed"] = small
        body.append(f"<h2>{t['who']}</h2><p class='note'>{t['caveat']}</p>")
        body.append(table_html(table.drop(columns=[c for c in ("n", "r2", "note") if c in table.columns]))
                    + _fit_note(table, t))
    return body, sections, figures


def site_sections(out_dir: str | Path, lang: str, min_cell: int, table_html: Any,
                  hours_outcomes: frozenset[str] = frozenset()) -> tuple[list[str], list[str], int]:
    """The four sections whose files are in ``out_dir``: their HTML parts, their names, the figures.

    ``table_html(frame)`` renders a table as the rest of the report does.
    """
    out_dir = Path(out_dir)
    t = {**TEXT[lang], "lang": lang}
    body: list[str] = []
    sections: list[str] = []
    figures = 0
    if (out_dir / SITES).is_file():
        parts, n = _sites(out_dir, t, min_cell, table_html, hours_outcomes)
        body, sections, figures = body + parts, sections + ["sites"], figures + n
    if (out_dir / SUBGROUPS).is_file():
        parts, n = _subgroups(out_dir, t, min_cell, table_html, hours_outcomes)
        body, sections, figures = body + parts, sections + ["subgroups"], figures + n
    parts, more, n = _regressions(out_dir, t, min_cell, table_html)
    return body + parts, sections + more, figures + n


def is_site_figure(path: Path) -> bool:
    """Whether a figure file of the effects is one of the site or subgroup plots (drawn by these sections)."""
    prefix = layout.table_name(layout.EFFECTS_PLOT)
    return path.name.startswith((f"{prefix}_sites_", f"{prefix}_subgroups_"))
