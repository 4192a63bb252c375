"""One self-contained HTML page with the whole evaluation (``trialeval report``).

The report is built from the files the steps wrote into one folder — the ledger and its manifest, the
balance tables, the effect table and figures, the hours distribution, the cost scenarios — so it can be
made at any time after the steps, and it shows exactly what was exported (already disclosure-controlled).
Figures are embedded as base64 PNG: the page needs no network and no other file to be read.
"""

from __future__ import annotations

import base64
import html
import json
import os
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from trialeval import __version__, i18n, layout
from trialeval import formatting as fmt
from trialeval import report_tables
from trialeval.config import TrialConfig
from trialeval.design import DEFAULT_GROUPS, Design
from trialeval.report_design import design_section
from trialeval.disclosure import (
    DEFAULT_MIN_CELL,
    neutralise_text,
    protect_counts,
    protect_distribution,
    protect_effect_table,
    small_count,
    suppress_small_cells,
)
from trialeval.draw import check_ledger_manifest, is_draw_event, manifest_path, read_manifest
from trialeval.exceptions import InputDataError
from trialeval.io import atomic_write, read_ledger, write_text
from trialeval.timeaxis import WEEKS_SINCE_VISITATION, TimeAxis, axis_of_columns

Lang = Literal["en", "da"]

#: The report's headings and running text in each language (the catalogue's, :mod:`trialeval.i18n`).
TEXT: dict[str, dict[str, str]] = i18n.TEXT

#: Numbers of the tables and figures of the page being built ([tables, figures] so far).
_NUMBERS: ContextVar[list[int]] = ContextVar("report_numbers", default=[0, 0])

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1.2em;color:#1d2530;line-height:1.45}
h1{font-size:1.7em;border-bottom:3px solid #2b6cb0;padding-bottom:.3em}
h2{font-size:1.3em;margin-top:2em;border-bottom:1px solid #cbd5e0;padding-bottom:.2em}
h3{font-size:1.05em;margin-top:1.4em}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:.86em}
th,td{border:1px solid #d5dbe3;padding:.25em .55em;text-align:right;vertical-align:top}
th{background:#edf2f7} td:first-child,th:first-child,td.l{text-align:left}
tr.flag td{background:#fff5e6}
.facts{display:grid;grid-template-columns:repeat(auto-fit,minmax(160px,1fr));gap:.6em;margin:1em 0}
.fact{background:#f4f7fb;border-radius:6px;padding:.6em .8em}.fact b{display:block;font-size:1.4em}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #e2e8f0}
figure.narrow img{max-width:640px}.scroll{overflow-x:auto}
figcaption{font-size:.85em;color:#4a5568}
.note{font-size:.85em;color:#4a5568} pre{background:#f7fafc;padding:.8em;overflow-x:auto;font-size:.8em}
.source{font-size:.78em;color:#4a5568;margin:-.8em 0 1.2em}
caption{caption-side:top;text-align:left;font-weight:600;padding:.3em 0}
@page{size:A4;margin:14mm 12mm 16mm}
@media print{
body{max-width:none;margin:0;padding:0;font-size:9.5pt;line-height:1.3}
h1{font-size:16pt}h2{font-size:13pt;break-before:page;page-break-before:always;break-after:avoid}
h1+p+h2{break-before:auto;page-break-before:auto}h3{break-after:avoid;page-break-after:avoid}
.scroll{overflow:visible}
table{width:100%;font-size:7pt;break-inside:auto}thead{display:table-header-group}
th,td{padding:.12em .25em;overflow-wrap:anywhere;word-break:break-word;hyphens:auto}
tr,figure,img,.fact,caption{break-inside:avoid;page-break-inside:avoid}
figure img,figure.narrow img{max-width:100%;max-height:235mm;border:0}
pre{white-space:pre-wrap;overflow:visible;word-break:break-all;font-size:6.5pt}
.facts{grid-template-columns:repeat(4,1fr)}
}
"""
#: The PDF beside the report page (``trialeval report --pdf``).
REPORT_PDF = "report.pdf"


@dataclass(frozen=True, eq=False)
class ReportResult:
    """The written report and what went into it."""

    path: Path
    sections: tuple[str, ...]
    figures: int
    min_cell: int

    def _repr_html_(self) -> str:
        """A compact view for notebooks: the summary (and the table, when there is one)."""
        from trialeval._console import summary_html

        return summary_html(self)

    def summary(self) -> str:
        return (f"Report written to {self.path} ({self.path.stat().st_size / 1024:.0f} KiB, "
                f"{self.figures} figures embedded; sections: {', '.join(self.sections)}).")

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "sections": list(self.sections), "figures": self.figures,
                "min_cell": self.min_cell}


def _number(kind: int, lang: str) -> str:
    """The next number of a table (``kind`` 0) or figure (1) on the page: ``Tabel 3`` / ``Figure 2``."""
    numbers = _NUMBERS.get()
    numbers[kind] += 1
    return f"{i18n.label('table' if kind == 0 else 'figure', lang)} {numbers[kind]}"


def _source(lang: str) -> str:
    return f"<p class='source'>{html.escape(i18n.label('source', lang))}</p>"


def _img(path: Path, caption: str = "", *, narrow: bool = False, lang: str | None = None) -> str:
    """A figure embedded as PNG; with ``lang`` numbered (``Figur 2.``) and followed by the source line."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    shown = f"{_number(1, lang)}. {caption}" if lang is not None else caption
    cap = f"<figcaption>{html.escape(shown)}</figcaption>" if shown else ""
    cls = " class='narrow'" if narrow else ""
    return (f'<figure{cls}><img alt="{html.escape(caption or path.stem)}" '
            f'src="data:image/png;base64,{data}">{cap}</figure>' + (_source(lang) if lang is not None else ""))


#: Outcomes measured in hours (their means and effects are hours, the others shares).
HOURS_OUTCOMES = report_tables.HOURS_OUTCOMES
#: Columns in kroner and columns that are shares, wherever they appear.
_KRONER_COLUMNS = frozenset({"benefit_savings", "tax_revenue", "costs", "net_result", "net_result_per_100"})
_SHARE_COLUMNS = frozenset({"prob_net_positive"})
_ESTIMATE_PREFIXES = ("mean_", "effect", "se", "ci_", "band_")


def _quantity(column: str, row: pd.Series) -> str | None:
    """What a table cell holds, for its number format: p-value, kroner, share, percentage points, hours."""
    if column.startswith("p_value") or column in ("p_holm", "p_adjusted"):
        return "p_value"
    if column in _KRONER_COLUMNS:
        return "kroner"
    if column in _SHARE_COLUMNS:
        return "share"
    if column.startswith(_ESTIMATE_PREFIXES) and "outcome" in row.index:
        if str(row["outcome"]) in HOURS_OUTCOMES:
            return "hours"
        return "share" if column.startswith("mean_") else "pp"
    return None


def _fmt(v: Any, lang: str = "en", quantity: str | None = None) -> str:
    """A cell as the reader of ``lang`` writes it (:mod:`trialeval.formatting`); ``·`` when missing."""
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
        return "·"
    if isinstance(v, (bool, np.bool_)):
        return "✓" if v else ""
    if isinstance(v, (int, np.integer, float, np.floating)):
        if quantity is not None:
            return html.escape(fmt.formatter(quantity, lang)(float(v)))
        if isinstance(v, (int, np.integer)) or (float(v).is_integer() and abs(float(v)) >= 1):
            return fmt.count(v, lang)  # counts come back as floats once a suppressed cell made the column NaN
        a = abs(float(v))
        return fmt.number(v, lang, 0 if a >= 1000 else 3 if a >= 0.001 or a == 0 else 4)
    return html.escape(str(v))


def _table(df: pd.DataFrame, lang: str = "en", *, flag_column: str | None = None, caption: str | None = None,
           labels: Mapping[str, Any] | None = None, period: tuple[str, str] | None = None, left: int = 1) -> str:
    """A table with its headers in ``lang`` (:mod:`trialeval.i18n`), numbers formatted per quantity; with
    ``labels`` (the user's, possibly none) its label cells (outcomes, groups, tests …) in ``lang`` too; with
    ``caption`` numbered (``Tabel 2.``) and followed by the source line. ``period`` is the time axis's
    column and its header. The first ``left`` columns (labels) are aligned left, the others right."""
    def header(c: Any) -> str:
        return period[1] if period is not None and c == period[0] else i18n.column(str(c), lang)

    def cell(c: Any, v: Any, row: pd.Series) -> str:
        if labels is not None and isinstance(v, str) and (c in i18n.VALUE_COLUMNS or c == "outcome"):
            return html.escape(i18n.value(v, lang, labels))
        return _fmt(v, lang, "share" if c in ("share", "share_positive") else _quantity(str(c), row))

    head = "".join(f"<th>{html.escape(header(c))}</th>" for c in df.columns)
    rows = []
    for _, row in df.iterrows():
        cls = ' class="flag"' if flag_column and str(row.get(flag_column, "") or "") not in ("", "nan") else ""
        rows.append(f"<tr{cls}>" + "".join(f"<td{' class=l' if 0 < j < left else ''}>{cell(c, v, row)}</td>"
                                           for j, (c, v) in enumerate(row.items())) + "</tr>")
    cap = f"<caption>{html.escape(_number(0, lang))}. {html.escape(caption)}</caption>" if caption else ""
    return (f"<div class='scroll'><table>{cap}<thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></div>" + (_source(lang) if caption else ""))


def _read(path: Path) -> pd.DataFrame | None:
    return pd.read_csv(path) if path.is_file() else None


#: Columns of costs.csv shown in the report (the CSV and the workbook keep them all).
COST_COLUMNS = ("scenario", "label", "payer", "benefit_savings", "tax_revenue", "costs", "net_result",
                "net_result_per_100", "break_even_scale", "payback_week", "prob_net_positive")
COST_FIGURES = layout.COST_FIGURE_CAPTIONS

#: Aggregate tables that go into the workbook, in this order (person-level files never do).
WORKBOOK_TABLES = layout.WORKBOOK_TABLES


def write_workbook(
    out_dir: str | os.PathLike[str], path: str | os.PathLike[str] | None = None, *,
    min_cell: int = DEFAULT_MIN_CELL,
) -> Path:
    """Gather the exported aggregate tables of ``out_dir`` into one XLSX workbook, a sheet per table.

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> pd.DataFrame({"outcome": ["y"], "week": [1]}).to_csv(d / "effects.csv", index=False)
    >>> list(pd.read_excel(write_workbook(d), sheet_name=None))
    ['effects']
    """
    out_dir = Path(out_dir)
    tables = {name: exported_table(out_dir, name, min_cell) for name in WORKBOOK_TABLES
              if layout.folder_table(out_dir, name).is_file()}
    if not tables:
        raise InputDataError(f"{out_dir}: no exported tables to put in a workbook")
    target = Path(path) if path is not None else out_dir / layout.WORKBOOK
    with atomic_write(target) as tmp:
        with pd.ExcelWriter(tmp, engine="openpyxl") as writer:
            for name, table in tables.items():
                finite, infinite = _blank_infinities(table)
                neutralise_text(finite).to_excel(writer, sheet_name=name[:31], index=False)
                _style_sheet(writer.sheets[name[:31]], finite)
                _note_infinities(writer.sheets[name[:31]], infinite)
    return target


def _blank_infinities(table: pd.DataFrame) -> tuple[pd.DataFrame, list[tuple[int, int, float]]]:
    """The table with ±inf blanked (Excel has no infinite number), and where they were: (row, column, value)
    with rows and columns counted as the sheet does (header row 1, first column 1)."""
    numeric = table.select_dtypes("number")
    mask = np.isinf(numeric.to_numpy(dtype=float)) if numeric.shape[1] else np.zeros((len(table), 0), bool)
    if not mask.any():
        return table, []
    rows, cols = np.nonzero(mask)
    where = [(int(r) + 2, table.columns.get_loc(numeric.columns[c]) + 1, float(numeric.iat[r, c]))
             for r, c in zip(rows, cols)]
    out = table.copy()
    out[numeric.columns] = numeric.mask(mask)
    return out, where


def _note_infinities(sheet: Any, where: list[tuple[int, int, float]]) -> None:
    """A note on each blanked infinite cell saying what the CSV holds there."""
    from openpyxl.comments import Comment

    for row, column, value in where:
        sign = "" if value > 0 else "-"
        sheet.cell(row=row, column=column).comment = Comment(
            f"{sign}inf in the CSV: never reached (e.g. no persistence makes the programme break even); "
            "left blank because a spreadsheet cannot hold an infinite number.", "trialeval")


#: Number formats of the workbook's cells by what they hold (Excel shows them in the reader's locale).
_EXCEL_FORMATS = {**fmt.EXCEL_FORMATS, "pp": "0.0%", "count": "#,##0"}


def _style_sheet(sheet: Any, table: pd.DataFrame) -> None:
    """A readable sheet: bold shaded header, frozen header row, columns as wide as their text, and each
    number cell formatted for what it holds (shares as percent, kroner whole, p-values with 3 decimals)."""
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    bold, shade = Font(bold=True), PatternFill("solid", fgColor="DDE4EE")
    for cell in sheet[1]:
        cell.font, cell.fill = bold, shade
    sheet.freeze_panes = "A2"
    for j, column in enumerate(table.columns, start=1):
        width = max([len(str(column))] + [len(str(v)) for v in table[column].head(200)])
        sheet.column_dimensions[get_column_letter(j)].width = min(max(width + 2, 8), 40)
        for i, (_, row) in enumerate(table.iterrows(), start=2):
            value = row[column]
            if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
                quantity = _quantity(str(column), row)
                if quantity is None and (isinstance(value, (int, np.integer)) or float(value).is_integer()):
                    quantity = "count"
                if quantity is not None:
                    sheet.cell(row=i, column=j).number_format = _EXCEL_FORMATS.get(quantity, "General")


def exported_table(out_dir: str | os.PathLike[str], name: str, min_cell: int = DEFAULT_MIN_CELL, *,
                   axis: TimeAxis = WEEKS_SINCE_VISITATION) -> pd.DataFrame:
    """Read ``out_dir/<name>.csv`` as the report and workbook show it: with the disclosure rule applied.

    The steps write their tables already controlled; applying the rule again here changes nothing in
    those, and controls a table written with ``--min-cell 0`` or by hand (the effect table, the hours
    distribution, the panel's number at risk, which is a working file with exact counts).

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> pd.DataFrame({"arm": ["treatment"], "week": [9], "n_at_risk": [3]}).to_csv(d / layout.PANEL_AT_RISK)
    >>> exported_table(d, layout.table_name(layout.PANEL_AT_RISK))["n_at_risk"].isna().tolist()
    [True]
    """
    table = pd.read_csv(layout.folder_table(out_dir, name))
    period = axis.column
    if name == layout.table_name(layout.PANEL_AT_RISK):
        return suppress_small_cells(table, ["n_at_risk"], [], min_cell)
    if name == layout.table_name(layout.EFFECTS) and {"outcome", period, "n_treatment", "n_control"} <= set(table.columns):
        return protect_effect_table(table, min_cell, keys=("outcome", period))
    if name == layout.table_name(layout.EFFECTS_HOURS) and {period, "arm", "count", "n_observed"} <= set(table.columns):
        return protect_distribution(table, [period, "arm"], "count", "n_observed",
                                    [c for c in ("share", "share_positive") if c in table.columns], min_cell)
    return table


def trial_summary(ledger: pd.DataFrame, min_cell: int = DEFAULT_MIN_CELL,
                  groups: Sequence[str] = DEFAULT_GROUPS) -> dict[str, pd.DataFrame]:
    """Draws per municipality and arm, and exclusions by reason, with small cells suppressed.

    ``groups`` are the labels of the arms (the programme group first), one column each.

    Examples
    --------
    >>> import pandas as pd
    >>> led = pd.DataFrame({"person_id": list("abcdefgh"), "arm": ["treatment", "control"] * 4,
    ...                     "municipality": ["A"] * 6 + ["B"] * 2, "excluded": [False] * 8,
    ...                     "exclusion_reason": [""] * 8})
    >>> trial_summary(led)["per_municipality"]["treatment"].tolist()
    [nan, nan]
    """
    per_muni = (ledger.groupby(["municipality", "arm"]).size().unstack("arm", fill_value=0)
                .reindex(columns=list(groups), fill_value=0).reset_index())
    # the report shows the totals per arm and of exclusions: a lone blanked cell gets a companion
    per_muni = protect_counts(per_muni, list(groups), min_cell)
    reasons = (ledger.loc[ledger["excluded"]].groupby("exclusion_reason").size()
               .rename("persons").reset_index())
    reasons = protect_counts(reasons, ["persons"], min_cell)
    return {"per_municipality": per_muni, "exclusions": reasons}


def build_report(
    config: TrialConfig,
    out_dir: str | os.PathLike[str],
    *,
    lang: Lang = "en",
    weeks: tuple[int, ...] | None = None,
    min_cell: int | None = None,
    path: str | os.PathLike[str] | None = None,
    axis: TimeAxis | None = None,
) -> ReportResult:
    """Write the report page (``path``, else :data:`trialeval.layout.REPORT` in ``out_dir``) from its outputs.

    Parameters
    ----------
    config
        The trial config (name, seed, design) for the summary and provenance.
    out_dir
        The folder with the ledger and whatever later steps wrote, under the names of
        :mod:`trialeval.layout`: the balance tables, the effect tables and figures, the hours
        distribution, the cost table and figures.
    weeks
        Weeks shown in the effect table (default ``[analysis] report_weeks`` or 13, 26, 35, 52).
    axis
        The time axis of the effect tables: their period column and the words of the headings (default:
        the one the effect table's period column names).

    Examples
    --------
    >>> from trialeval.demo import run_demo  # the demo writes a report page; see docs/report.md
    """
    if lang not in TEXT:
        raise InputDataError(f"--lang must be one of {', '.join(TEXT)}; got {lang!r}")
    if axis is None:
        effects_file = Path(out_dir) / layout.EFFECTS
        axis = (axis_of_columns(pd.read_csv(effects_file, nrows=0).columns) if effects_file.is_file()
                else WEEKS_SINCE_VISITATION)
    t = _words(lang, axis)
    out_dir = Path(out_dir)
    ledger_path = out_dir / layout.LEDGER
    if not ledger_path.is_file():
        raise InputDataError(f"{out_dir}: no {layout.LEDGER} in the output folder; run the steps (or `trialeval demo`) first")
    k = int(min_cell if min_cell is not None else config.analysis.get("min_cell_size", DEFAULT_MIN_CELL))
    weeks = tuple(weeks or config.analysis.get("report_weeks", (13, 26, 35, 52)))
    check_ledger_manifest(ledger_path)
    design = Design.from_config(config)
    groups = design.labels
    ledger = read_ledger(ledger_path, rename=config.columns, design=design)
    manifest = read_manifest(manifest_path(ledger_path))
    figures = 0
    _NUMBERS.set([0, 0])
    sections: list[str] = []
    body: list[str] = [f"<h1>{html.escape(config.name)} — {t['title']}</h1>",
                       f'<p class="note">{t["suppressed"].format(k=k)}</p>']

    # --- trial summary
    sections.append("summary")
    body += _summary_section(ledger, t, k, groups)

    # --- balance
    labels = {**{o.name: {"label_en": o.label("en"), "label_da": o.label("da")} for o in config.declared_outcomes},
              **(config.analysis.get("labels") or {})}      # declared outcomes bring their labels
    body += _balance_section(out_dir, lang, t, labels)
    sections += ["balance"] if (out_dir / layout.BALANCE).is_file() else []
    figures += sum(1 for _ in out_dir.glob(f"{layout.table_name(layout.BALANCE)}*.png")) if "balance" in sections else 0

    # --- effects and the hours distribution (a design without a lottery: what it rests on first)
    body += design_section(design, out_dir, lang)
    parts, effect_sections, n_figures = _effects_sections(out_dir, t, k, weeks, axis, labels)
    body += parts
    sections += effect_sections
    figures += n_figures

    # --- by site and subgroup, what explains it, who gets there (when their files are in the folder)
    from trialeval.report_sites import site_sections
    parts, more, n_figures = site_sections(out_dir, lang, k, lambda df: _table(df, lang), HOURS_OUTCOMES)
    body, sections, figures = body + parts, sections + more, figures + n_figures
    from trialeval.report_target import target_sections     # target population, curves by group (when written)
    body, sections, figures = target_sections(out_dir, lang, k, lambda df: _table(df, lang), config, body, sections,
                                              figures)

    # --- costs
    costs = _read(out_dir / layout.COSTS)
    body.append(f"<h2>{t['costs']}</h2>")
    if costs is not None:
        sections.append("costs")
        if {"scenario", "payer", "net_result"} <= set(costs.columns):
            body.append(_table(report_tables.net_by_payer(costs, lang), lang, caption=t["net_table"], left=2))
            body.append(_table(report_tables.components(costs, lang), lang, caption=t["components_table"], left=2))
        else:
            shown = [c for c in COST_COLUMNS if c in costs.columns]
            body.append(_table(costs[shown] if shown else costs, lang, caption=t["net_table"]))
        for (name, _), key in zip(COST_FIGURES.items(), ("jcurve", "bars", "tornado")):
            if (out_dir / name).is_file():
                body.append(_img(out_dir / name, t[key], narrow=name != layout.COSTS_PLOT, lang=lang))
                figures += 1
    else:
        body.append(f"<p class='note'>{t['missing']}</p>")

    # --- provenance
    sections.append("provenance")
    body += _provenance(config, manifest, out_dir, t)

    page = (f"<!DOCTYPE html><html lang='{lang}'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width,initial-scale=1'>"
            f"<title>{html.escape(config.name)} — {t['title']}</title><style>{CSS}</style></head>"
            f"<body>{''.join(body)}</body></html>")
    target = Path(path) if path is not None else out_dir / layout.REPORT
    write_text(page, target)
    return ReportResult(path=target, sections=tuple(sections), figures=figures, min_cell=k)


def _summary_section(ledger: pd.DataFrame, t: dict[str, str], k: int, groups: tuple[str, str]) -> list[str]:
    """The trial summary: key counts, draws per municipality and group, exclusions (small cells blank).

    ``groups`` are the design's labels; the default ones are shown in the report's words ("Programme
    group"), others as they are given.
    """
    body: list[str] = []
    shown_as = (t["treatment"], t["control"]) if groups == DEFAULT_GROUPS else groups
    n_arm = ledger["arm"].value_counts()
    facts = [(t["drawn"], len(ledger)), (shown_as[0], int(n_arm.get(groups[0], 0))),
             (shown_as[1], int(n_arm.get(groups[1], 0))), (t["waves"], ledger["wave"].nunique() if "wave" in ledger else 1),
             (t["first_wave"], fmt.date(ledger["visitation_date"].min().date(), t["lang"])),
             (t["last_wave"], fmt.date(ledger["visitation_date"].max().date(), t["lang"])),
             (t["excluded"], int(ledger["excluded"].sum()))]
    # a count of 1 to k − 1 persons is itself a small cell (e.g. three exclusions)
    persons = {t["drawn"], *shown_as, t["excluded"]}
    facts = [(label, np.nan if label in persons and small_count([v], k)[0] else v) for label, v in facts]
    body.append(f"<h2>{t['summary']}</h2><div class='facts'>" + "".join(
        f"<div class='fact'><b>{_fmt(v, t['lang'])}</b>{html.escape(label)}</div>" for label, v in facts) + "</div>")
    summary = trial_summary(ledger, k, groups)
    per_muni = summary["per_municipality"].drop(columns="suppressed").rename(columns={
        "municipality": t["municipality"], groups[0]: shown_as[0], groups[1]: shown_as[1]})
    body.append(f"<h3>{t['per_muni']}</h3>" + _table(per_muni, t["lang"]))
    if len(summary["exclusions"]):
        excl = summary["exclusions"].drop(columns="suppressed")
        excl["exclusion_reason"] = [i18n.value(str(v), t["lang"]) for v in excl["exclusion_reason"]]
        excl = excl.rename(columns={"exclusion_reason": t["reason"], "persons": t["persons"]})
        body.append(f"<h3>{t['exclusions']}</h3>" + _table(excl, t["lang"]))
    return body


def _words(lang: str, axis: TimeAxis) -> dict[str, str]:
    """The report's words in ``lang``, the headings of the effect curves in the time axis's words."""
    words = {"unit": axis.unit(lang), "units": axis.unit(lang, plural=True)}
    text = TEXT[lang]
    return {**text, "lang": lang, **{key: text[key].format(**words) for key in
                                     ("effects", "effects_at", "effects_table")},
            "effect_figure": text["effect_figure"].format(outcome="{outcome}", **words),
            "summary_table": text["summary_table"].format(n="{n}", **words)}


def _balance_section(out_dir: Path, lang: str, t: dict[str, str], labels: Mapping[str, Any]) -> list[str]:
    """The balance section: flagged covariates, the readable balance table, joint tests, drawn vs not
    drawn, the love plot (the raw tables stay in the CSV files)."""
    balance = _read(out_dir / layout.BALANCE)
    body = [f"<h2>{t['balance']}</h2>"]
    if balance is None:
        return body + [f"<p class='note'>{t['missing']}</p>"]
    flagged = (balance.loc[balance["flag"].astype(object).fillna("").astype(str).str.len() > 0] if "flag" in balance
               else balance.iloc[:0])
    body.append(f"<h3>{t['flags']}</h3>" + (_table(report_tables.balance_table(flagged, lang, labels), lang,
                                                    caption=t["flags_table"])
                                             if len(flagged) else f"<p>{t['none_flagged']}</p>"))
    body.append(_table(report_tables.balance_table(balance, lang, labels), lang, caption=t["balance_table"]))
    omnibus = _read(out_dir / layout.BALANCE_OMNIBUS)
    if omnibus is not None:
        body.append(f"<h3>{t['omnibus']}</h3>" + _table(omnibus, lang, caption=t["omnibus"], labels=labels))
    rep = _read(out_dir / layout.BALANCE_REPRESENTATIVENESS)
    if rep is not None:
        groups = ("drawn", "not_drawn") if "mean_drawn" in rep else ("treatment", "control")
        body.append(f"<h3>{t['representativeness']}</h3>" + _table(
            report_tables.balance_table(rep, lang, labels, groups), lang, caption=t["representativeness"]))
    for png in sorted(out_dir.glob(f"{layout.table_name(layout.BALANCE)}*.png")):
        body.append(_img(png, t["love"], narrow=True, lang=lang))
    return body


def _effects_sections(out_dir: Path, t: dict[str, str], k: int, weeks: tuple[int, ...], axis: TimeAxis,
                      labels: Mapping[str, Any] | None = None) -> tuple[list[str], list[str], int]:
    """The effect curves and the hours distribution: their HTML parts, the sections shown, the figures."""
    body: list[str] = []
    sections: list[str] = []
    figures = 0
    lang = t["lang"]
    period = (axis.column, axis.unit(lang).capitalize())
    effects = (exported_table(out_dir, layout.table_name(layout.EFFECTS), k, axis=axis) if (out_dir / layout.EFFECTS).is_file()
               else None)
    body.append(f"<h2>{t['effects']}</h2>")
    if effects is not None:
        sections.append("effects")
        prefix = layout.table_name(layout.EFFECTS_PLOT) + "_"
        from trialeval.report_sites import is_site_figure
        for png in sorted(p for p in out_dir.glob(f"{prefix}*.png")
                          if p.name != layout.EFFECTS_HOURS_PLOT and not is_site_figure(p)):
            name = i18n.outcome(png.stem.removeprefix(prefix), lang, labels)
            body.append(_img(png, t["effect_figure"].format(outcome=name), lang=lang))
            figures += 1
        at = report_tables.effects_table(effects, weeks, axis.column, lang, labels)
        at = at.rename(columns={i18n.column(axis.column, lang): period[1]})
        body.append(f"<h3>{t['effects_at']}</h3>" + _table(at, lang, caption=t["effects_table"]))
        summary_table = _read(out_dir / layout.EFFECTS_SUMMARY)
        if summary_table is not None:
            n = summary_table["weeks"].dropna().unique() if "weeks" in summary_table else []
            caption = t["summary_table"].format(n=fmt.count(n[0], lang) if len(n) == 1 else "").replace("  ", " ")
            compact = summary_table.drop(columns=[c for c in ("se", "effect_person_means", "se_person_means")
                                                  if c in summary_table])      # all of them stay in the CSV
            body.append(_table(compact, lang, caption=caption, labels=labels))
    else:
        body.append(f"<p class='note'>{t['missing']}</p>")

    hours = (exported_table(out_dir, layout.table_name(layout.EFFECTS_HOURS), k, axis=axis)
             if (out_dir / layout.EFFECTS_HOURS).is_file() else None)
    if hours is not None:
        sections.append("hours")
        body.append(f"<h2>{t['hours']}</h2>" + _table(hours, lang, caption=t["hours_table"], period=period,
                                                              labels=labels))
        if (out_dir / layout.EFFECTS_HOURS_PLOT).is_file():
            body.append(_img(out_dir / layout.EFFECTS_HOURS_PLOT, t["hours_figure"], narrow=True, lang=lang))
            figures += 1
    return body, sections, figures


def _provenance(config: TrialConfig, manifest: list[dict[str, Any]], out_dir: Path, t: dict[str, str]) -> list[str]:
    """The provenance section: tool, seed, config and input hashes, the recorded settings."""
    body: list[str] = []
    inputs = sorted({(e.get("population_file", ""), e.get("population_sha256", "")) for e in manifest if is_draw_event(e)})
    settings = out_dir / layout.SETTINGS
    body.append(f"<h2>{t['provenance']}</h2><table><tbody>"
                f"<tr><td>{t['tool']}</td><td>trialeval {__version__}</td></tr>"
                f"<tr><td>{t['seed']}</td><td>{config.seed}</td></tr>"
                f"<tr><td>{t['config']}</td><td>{html.escape(config.source)} (SHA-256 {config.sha256[:16]}…)</td></tr>"
                + "".join(f"<tr><td>{t['inputs']}</td><td>{html.escape(name)}: {sha}</td></tr>" for name, sha in inputs)
                + "</tbody></table>")
    for recorded in (out_dir / layout.EFFECTS_SETTINGS, settings):
        if recorded.is_file():
            text = json.dumps(json.loads(recorded.read_text(encoding="utf-8")), indent=2)
            body.append(f"<h3>{t['estimator'] if recorded.name == layout.EFFECTS_SETTINGS else t['settings']}</h3>"
                        f"<pre>{html.escape(text)}</pre>")
    config_text = Path(config.source).read_text(encoding="utf-8") if Path(config.source).is_file() else ""
    if config_text:
        body.append(f"<h3>{t['config']}</h3><pre>{html.escape(config_text)}</pre>")
    body.append(f"<p class='note'>{t['generated'].format(v=__version__)}</p>")
    return body
