"""Every output file name in one place: what each step writes, and where its side files go.

A step writes its main file where the user asks (``--out``) and its side files beside it, named
``<stem>_<part><suffix>``; the demo and the report use the default names below in one folder. Writers
(:mod:`trialeval.pipeline`, :mod:`trialeval.demo`) and readers (:mod:`trialeval.report`) take the names
from here, so a file is named once.

Examples
--------
>>> from pathlib import Path
>>> sibling(Path("out/effects.csv"), "summary").name
'effects_summary.csv'
>>> [p.name for p in cost_figures(Path("costs.png")).values()]
['costs.png', 'costs_bars.png', 'costs_tornado.png']
"""

from __future__ import annotations

import os
from pathlib import Path

#: Default names of the files in an output folder (the demo's, and what the report reads).
TRIAL_CONFIG = "trial.toml"
LEDGER = "ledger.csv"
BALANCE = "balance.csv"
BALANCE_PLOT = "balance_love.png"
PANEL = "panel.parquet"
EFFECTS = "effects.csv"
EFFECTS_PLOT = "effects.png"
COSTS = "costs.csv"
COSTS_PLOT = "costs.png"
REPORT = "report.html"
WORKBOOK = "tables.xlsx"
#: The demo's record of the settings and input checksums of its run.
SETTINGS = "settings.json"
#: The demo's list of the files it wrote, with their SHA-256.
DEMO_MARKER = "demo_files.json"
#: Figure formats written per effect figure.
FIGURE_SUFFIXES = (".png", ".pdf")
#: The figure of the hours distribution among the effect figures.
HOURS = "hours"


def sibling(path: str | os.PathLike[str], part: str, suffix: str | None = None) -> Path:
    """``<stem>_<part><suffix>`` beside ``path`` (its own suffix unless given); ``path`` itself for ``part=""``.

    Examples
    --------
    >>> sibling("out/panel.parquet", "at_risk", ".csv").as_posix()
    'out/panel_at_risk.csv'
    >>> sibling("effects.csv", "").name
    'effects.csv'
    """
    path = Path(path)
    if not part:
        return path if suffix is None else path.with_suffix(suffix)
    return path.with_name(f"{path.stem}_{part}{path.suffix if suffix is None else suffix}")


# --- balance
def balance_omnibus(out: str | os.PathLike[str]) -> Path:
    """The omnibus tests beside the balance table: ``balance_omnibus.csv``."""
    return sibling(out, "omnibus")


def balance_representativeness(out: str | os.PathLike[str]) -> Path:
    """Drawn vs eligible not drawn beside the balance table: ``balance_representativeness.csv``."""
    return sibling(out, "representativeness")


# --- panel
def panel_at_risk(panel: str | os.PathLike[str]) -> Path:
    """The number at risk beside the panel: ``panel_at_risk.csv`` (always CSV)."""
    return sibling(panel, "at_risk", ".csv")


def panel_rejects(panel: str | os.PathLike[str]) -> Path:
    """The rows dropped by ``--drop-bad-rows`` beside the panel: ``panel_rejects.csv`` (always CSV)."""
    return sibling(panel, "rejects", ".csv")


# --- effects
def effects_table(out: str | os.PathLike[str], part: str) -> Path:
    """An exported effects table: ``part`` is a key of ``EffectsResult.export_tables()`` (``""`` = the main one).

    Examples
    --------
    >>> [effects_table("effects.csv", p).name for p in ("", "summary", "band", "hours", "dropped_blocks")]
    ['effects.csv', 'effects_summary.csv', 'effects_band.csv', 'effects_hours.csv', 'effects_dropped_blocks.csv']
    """
    return sibling(out, part)


def effects_settings(out: str | os.PathLike[str]) -> Path:
    """The estimator's settings and provenance beside the effect table: ``effects_settings.json``."""
    return sibling(out, "settings", ".json")


def effects_figure(base: str | os.PathLike[str], name: str, suffix: str) -> Path:
    """One effect figure: ``effects.png`` + ``employed`` + ``.pdf`` → ``effects_employed.pdf``."""
    return sibling(base, name, suffix)


def effects_figures(base: str | os.PathLike[str], names: list[str] | tuple[str, ...]) -> dict[tuple[str, str], Path]:
    """Every effect figure for ``names`` (outcomes, and ``hours``) in every format of :data:`FIGURE_SUFFIXES`."""
    return {(name, suffix): effects_figure(base, name, suffix) for name in names for suffix in FIGURE_SUFFIXES}


# --- costs
def cost_figures(plot: str | os.PathLike[str]) -> dict[str, Path]:
    """``costs.png`` → the J-curve there, ``costs_bars.png`` and ``costs_tornado.png`` beside it."""
    plot = Path(plot)
    return {"jcurve": plot, "bars": sibling(plot, "bars"), "tornado": sibling(plot, "tornado")}


# --- the tables of one output folder, by name without ``.csv`` (as sheets of the workbook)
def table_name(file_name: str | os.PathLike[str]) -> str:
    """The name of a table in an output folder and its workbook sheet: the file name without suffix."""
    return Path(file_name).stem


def folder_table(out_dir: str | os.PathLike[str], name: str) -> Path:
    """``out_dir/<name>.csv``: a table of an output folder by its name."""
    return Path(out_dir) / f"{name}.csv"


PANEL_AT_RISK = panel_at_risk(PANEL).name
EFFECTS_SETTINGS = effects_settings(EFFECTS).name
EFFECTS_HOURS = effects_table(EFFECTS, HOURS).name
EFFECTS_HOURS_PLOT = effects_figure(EFFECTS_PLOT, HOURS, ".png").name
EFFECTS_SUMMARY = effects_table(EFFECTS, "summary").name
BALANCE_OMNIBUS = balance_omnibus(BALANCE).name
BALANCE_REPRESENTATIVENESS = balance_representativeness(BALANCE).name
#: Aggregate tables that go into the workbook, in this order (person-level files never do).
WORKBOOK_TABLES = tuple(table_name(name) for name in (
    BALANCE, BALANCE_OMNIBUS, BALANCE_REPRESENTATIVENESS, PANEL_AT_RISK, EFFECTS, EFFECTS_SUMMARY,
    effects_table(EFFECTS, "band").name, EFFECTS_HOURS, effects_table(EFFECTS, "dropped_blocks").name, COSTS,
))
#: The cost figures of an output folder, with their captions in the report.
COST_FIGURE_CAPTIONS = dict(zip((p.name for p in cost_figures(COSTS_PLOT).values()), (
    "Cumulative net result per participant over time, by scenario",
    "Net result per participant by scenario and payer",
    "One-way sensitivity of the net result",
)))
