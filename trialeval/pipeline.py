"""File-to-file steps: one function per command, the command line's only entry into the library.

Each step takes paths and options, and does what its command does between parsing and printing: load
the trial config, merge its ``[analysis]`` defaults with the options (:class:`AnalysisSettings`, the one
place where defaults are applied), refuse outputs that would overwrite an input or a trial file
(:func:`~trialeval.io.check_outputs`) before anything long runs, read the inputs, make one library call,
and write the outputs — exported aggregates through :func:`~trialeval.disclosure.write_export`, working
files through :func:`~trialeval.io.write_table` and :func:`~trialeval.panel.write_panel` — under the
names of :mod:`trialeval.layout`. It returns a :class:`Step`: the result and the files written.

Examples
--------
>>> step = power(4800, proportion=0.07)
>>> step.written
()
>>> print(step.summary().splitlines()[0])  # doctest: +ELLIPSIS
Minimum detectable effect...
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import pandas as pd

from trialeval import layout
from trialeval._validation import OptionError, check_option
from trialeval.balance import FORMATS as BALANCE_FORMATS
from trialeval.balance import BalanceResult, output_format
from trialeval.balance import balance as balance_table
from trialeval.config import MAX_WEEKS, AnalysisSettings, TrialConfig, load_config
from trialeval.costs import CostsResult, load_scenarios
from trialeval.costs import costs as value_costs
from trialeval.demo import DemoResult, run_demo
from trialeval.disclosure import write_export
from trialeval.draw import DEFAULT_LOCK_TIMEOUT, DrawResult, VerifyResult, check_ledger_manifest, manifest_path
from trialeval.draw import run_draw, run_exclude
from trialeval.draw import verify as verify_ledger
from trialeval.effects import EffectsResult
from trialeval.exceptions import InputDataError
from trialeval.effects import effects as estimate_effects
from trialeval.io import check_outputs, parse_date, read_ledger, read_population, read_table, write_text
from trialeval.panel import MIN_MATCHED_SHARE, PanelResult
from trialeval.panel.partitioned import ENGINES, build_panel_engine
from trialeval.partition import PartitionResult, partition_extract
from trialeval.plots import check_figure_path, check_lang, save_figure
from trialeval.power import PowerResult
from trialeval.power import power as power_mde
from trialeval.report import ReportResult, build_report, write_workbook

__all__ = [
    "BALANCE_FORMATS", "DEFAULT_LOCK_TIMEOUT", "MAX_WEEKS", "MIN_MATCHED_SHARE", "OptionError", "Step", "balance", "costs", "demo", "draw", "effects",
    "ENGINES", "exclude", "layout", "panel", "partition", "power", "report", "report_weeks", "verify", "write_effects",
]

R = TypeVar("R")
PathLike = str | os.PathLike[str]
Progress = Callable[[int, int], None] | None


@dataclass(frozen=True, eq=False)
class Step(Generic[R]):
    """What a step returns: the library's result object and the files it wrote, in order."""

    result: R
    written: tuple[Path, ...] = ()

    def summary(self) -> str:
        """The result's summary."""
        return str(self.result.summary())  # type: ignore[attr-defined]


def _config(path: PathLike | None) -> TrialConfig | None:
    return load_config(Path(path)) if path is not None else None


def _written(paths: Sequence[PathLike | None]) -> tuple[Path, ...]:
    return tuple(Path(p) for p in paths if p is not None)


# --------------------------------------------------------------------------------------------------
# draw, verify, exclude, power

def draw(population: PathLike, config: PathLike, ledger: PathLike, requests: list[str], date: str, *,
         design_change: str | None = None, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> Step[DrawResult]:
    """Draw one wave (``date`` is ``YYYY-MM-DD``) into the ledger and its manifest."""
    result = run_draw(Path(population), Path(config), Path(ledger), requests, parse_date(date, "--date"),
                      design_change=design_change, lock_timeout=lock_timeout)
    return Step(result, _written([ledger, manifest_path(ledger)]))


def verify(populations: Sequence[PathLike], config: PathLike, ledger: PathLike) -> Step[VerifyResult]:
    """Replay every wave from the manifest and compare with the ledger (writes nothing)."""
    return Step(verify_ledger([Path(p) for p in populations], Path(config), Path(ledger)))


def exclude(ledger: PathLike, person: str, reason: str, date: str | None = None, *,
            lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> Step[pd.DataFrame]:
    """Record a post-draw exclusion in the ledger (and its manifest); the result is the updated ledger."""
    result = run_exclude(Path(ledger), person, reason, None if date is None else parse_date(date, "--date"),
                         lock_timeout=lock_timeout)
    manifest = manifest_path(ledger)
    return Step(result, _written([ledger, manifest if manifest.is_file() else None]))


def power(n: int, *, share: float = 0.5, sd: float | None = None, proportion: float | None = None,
          alpha: float = 0.05, power: float = 0.8) -> Step[PowerResult]:
    """Minimum detectable effect for a planned trial (writes nothing)."""
    return Step(power_mde(n, share=share, sd=sd, proportion=proportion, alpha=alpha, power=power))


# --------------------------------------------------------------------------------------------------
# balance

def balance(
    ledger: PathLike, out: PathLike, *, population: PathLike | None = None, config: PathLike | None = None,
    covariates: Sequence[str] | None = None, categorical: Sequence[str] = (), strata_fe: bool = False,
    treated_only: bool = False, ri_draws: int = 2000, seed: int | None = None, format: str | None = None,
    plot: PathLike | None = None, min_cell: int | None = None, drop_excluded: bool | None = None,
    progress: Progress = None,
) -> Step[BalanceResult]:
    """Read the ledger (and population, config), run the balance tests, write the tables and the love plot.

    Defaults come from ``trial.toml`` when given (:class:`AnalysisSettings`): covariates, the seed (else
    0, so a run is always reproducible), ``min_cell``, ``drop_exclusions``, ``alpha``, eligibility rules
    and column names. Nothing is written when the computation fails.
    """
    fmt = output_format(out, format)
    cfg = _config(config)
    rename = cfg.columns if cfg is not None else None
    out = Path(out)
    side = [layout.balance_omnibus(out), layout.balance_representativeness(out) if population is not None else None]
    check_outputs(
        [("--out", out), ("--out (omnibus table beside it)", side[0]),
         ("--out (representativeness table beside it)", side[1]), ("--plot", plot)],
        [("--ledger", ledger), ("--population", population), ("--config", config)],
        columns=rename)
    if plot is not None:
        check_figure_path(plot)
    settings = AnalysisSettings.from_config(cfg, covariates=covariates, seed=seed, min_cell=min_cell,
                                            drop_exclusions=drop_excluded)
    check_ledger_manifest(ledger)
    table = read_ledger(ledger, rename=rename)
    if settings.covariates is None:
        raise InputDataError("no covariates: give --covariates or [analysis] covariates in the config")
    people = read_population(population, rename=rename) if population is not None else None
    result = balance_table(
        table, list(settings.covariates), population=people, eligibility=cfg.rules if cfg else (),
        representativeness="treatment" if treated_only else "both", categorical=categorical,
        strata_fe=strata_fe, ri_draws=ri_draws, rng=settings.seed if settings.seed is not None else 0,
        alpha=float(settings.alpha), min_cell=int(settings.min_cell), drop_excluded=settings.drop_exclusions,
        source=str(ledger), progress=progress,
    )
    figure = result.plot() if plot is not None else None
    written = result.write(out, fmt)  # type: ignore[arg-type]
    if figure is not None:
        written.append(save_figure(figure, plot))  # type: ignore[arg-type]
    return Step(result, tuple(written))


# --------------------------------------------------------------------------------------------------
# panel

def panel(
    ledger: PathLike, spells: PathLike, out: PathLike, *, config: PathLike | None = None,
    extraction_date: str | None = None, weeks: int | None = None, pre_weeks: int | None = None,
    min_days: int | None = None, drop_bad_rows: bool = False, min_matched_share: float | None = None,
    progress: Progress = None, engine: str = "local", scheduler: str | None = None,
) -> Step[PanelResult]:
    """Build the weekly panel and stream it to ``out``, with the number at risk (and rejects) beside it.

    Each chunk of persons is written as soon as it is built and then let go. ``ledger`` and ``spells``
    may be a partitioned dataset's folder (:func:`partition`), built part by part by ``engine``.
    """
    cfg = _config(config)
    date = parse_date(extraction_date, "--extraction-date") if extraction_date is not None else None
    settings = AnalysisSettings.from_config(cfg, extraction_date=date, weeks=weeks, pre_weeks=pre_weeks,
                                            min_days=min_days, min_matched_share=min_matched_share)
    if settings.extraction_date is None:
        raise OptionError("give --extraction-date or a --config with [analysis] extraction_date")
    result = build_panel_engine(
        ledger, spells, settings.extraction_date, engine=engine, scheduler=scheduler,
        weeks=settings.panel_weeks, pre_weeks=settings.pre_weeks,
        min_days=settings.min_days, drop_bad_rows=drop_bad_rows,
        spell_types=list(settings.spell_types) if settings.spell_types is not None else None,
        min_matched_share=settings.min_matched_share,  # type: ignore[arg-type]
        columns=settings.columns, progress=progress, out=out,
    )
    return Step(result, _written([out, layout.panel_at_risk(out),
                                  layout.panel_rejects(out) if drop_bad_rows else None]))


# --------------------------------------------------------------------------------------------------
# partition

def partition(
    ledger: PathLike, spells: PathLike, out: PathLike, *, parts: int | None = None,
    config: PathLike | None = None, drop_bad_rows: bool = False, force: bool = False, progress: Progress = None,
) -> Step[PartitionResult]:
    """Split a ledger and a spells file by person into the partitioned dataset ``out`` (a folder)."""
    settings = AnalysisSettings.from_config(_config(config))
    result = partition_extract(
        ledger, spells, out, parts=parts, columns=settings.columns, drop_bad_rows=drop_bad_rows, force=force,
        spell_types=list(settings.spell_types) if settings.spell_types is not None else None, progress=progress)
    return Step(result, (result.out,))


# --------------------------------------------------------------------------------------------------
# effects

def effects(
    panel: PathLike, out: PathLike, *, config: PathLike | None = None, outcomes: Sequence[str] | None = None,
    blocks: str | None = None, covariates: Sequence[str] | None = None, cluster: str | None = None,
    band: bool = False, ri: int = 0, min_weeks: int | None = None, summary_weeks: int | None = None,
    hours_week: int | None = None, weeks: int | None = None, lang: str | None = None, seed: int | None = None,
    min_cell: int | None = None, plot: PathLike | None = None, progress: Progress = None,
) -> Step[EffectsResult]:
    """Estimate the effect curves from a panel file; write the exported tables, settings and figures.

    ``out`` gets the effect table and, when there are any, the summary, band, hours and dropped-block
    tables beside it (:func:`trialeval.layout.effects_table`) and ``<stem>_settings.json``; ``plot``
    is the base name of the figures, one per outcome (and the hours distribution), PNG and PDF.
    ``covariates`` (the Lin adjustment) comes from the option only: ``[analysis] covariates`` are the
    balance covariates.
    """
    if lang is not None:
        check_lang(lang)
    cfg = _config(config)
    settings = AnalysisSettings.from_config(
        cfg, outcomes=outcomes, blocks=blocks, min_weeks=min_weeks, summary_weeks=summary_weeks,
        hours_week=hours_week, weeks=weeks, lang=lang, seed=seed, min_cell=min_cell)
    out = Path(out)
    inputs = [("--panel", panel), ("--config", config)]
    check_outputs([("--out", out)], inputs)          # before the estimation, which may take long
    data = read_table(panel, rename=cfg.columns if cfg is not None else None)
    result = estimate_effects(
        data, list(settings.outcomes) if settings.outcomes is not None else None, blocks=settings.blocks,
        covariates=list(covariates) if covariates is not None else None, cluster=cluster, min_weeks=settings.min_weeks,
        band=band, ri=ri, summary_weeks=settings.summary_weeks, hours_week=settings.hours_week,
        alpha=settings.alpha, rng=settings.seed, min_cell=settings.min_cell, weeks=settings.weeks,
        source=str(panel), progress=progress,
    )
    written = write_effects(result, out, plot, settings.lang, inputs=inputs)
    return Step(result, written)


def write_effects(result: EffectsResult, out: PathLike, plot: PathLike | None, lang: str, *,
                  inputs: Sequence[tuple[str, PathLike | None]] = ()) -> tuple[Path, ...]:
    """Write an effects result's exported tables, its settings and (with ``plot``) its figures."""
    out = Path(out)
    tables = {layout.effects_table(out, part): table for part, table in result.export_tables().items()}
    settings = layout.effects_settings(out)
    figures = ({layout.effects_figure(plot, name, suffix): fig
                for name, fig in result.figures(lang=lang).items()
                for suffix in layout.FIGURE_SUFFIXES} if plot is not None else {})
    check_outputs([("--out", path) for path in tables] + [("--out (settings beside it)", settings)]
                  + [("--plot", path) for path in figures], list(inputs))
    written = [write_export(table, path) for path, table in tables.items()]
    written.append(write_text(json.dumps(result.provenance(), indent=2) + "\n", settings))
    written += [save_figure(fig, path) for path, fig in figures.items()]
    return tuple(written)


# --------------------------------------------------------------------------------------------------
# costs

def costs(
    effects: PathLike, scenarios: PathLike, out: PathLike, *, plot: PathLike | None = None,
    flows: PathLike | None = None, seed: int | None = None, draws: int = 2000, tornado: str | None = None,
    lang: str | None = None, progress: Progress = None,
) -> Step[CostsResult]:
    """Value an effects table under every scenario; write the table, the flows and the three figures."""
    settings = AnalysisSettings.from_config(None, lang=lang, seed=seed)
    check_lang(settings.lang)
    figures = layout.cost_figures(plot) if plot is not None else {}
    check_outputs([("--out", out), ("--flows", flows)] + [("--plot", path) for path in figures.values()],
                  [("--effects", effects), ("--scenarios", scenarios)])
    if plot is not None:
        check_figure_path(plot)
    table = read_table(effects, text_columns=("outcome",))
    spec = load_scenarios(Path(scenarios))
    if tornado is not None and tornado not in {s.name for s in spec.scenarios}:
        raise OptionError(f"no scenario named {tornado!r} in {Path(scenarios).name}", option="--tornado")
    result = value_costs(table, spec, draws=draws, rng=settings.seed, source=str(effects), progress=progress)
    written = [write_export(result.to_frame(), out)]
    if flows is not None:
        written.append(write_export(result.flows, flows))
    for kind, path in figures.items():
        written.append(save_figure(result.plot(kind, scenario=tornado, lang=settings.lang), path))  # type: ignore[arg-type]
    return Step(result, tuple(written))


# --------------------------------------------------------------------------------------------------
# report, demo

def report_weeks(text: str | None) -> tuple[int, ...] | None:
    """``"13,26,52"`` as whole weeks from 1 to ``MAX_WEEKS``; anything else is an :class:`OptionError`.

    Examples
    --------
    >>> report_weeks("13,26,52")
    (13, 26, 52)
    """
    if not text:
        return None
    try:
        chosen = tuple(int(w) for w in text.split(","))
    except ValueError:
        raise OptionError(f"weeks must be a comma-separated list of whole weeks, e.g. 13,26,52; got {text!r}",
                          option="--weeks") from None
    try:
        check_option("weeks", text, all(1 <= w <= MAX_WEEKS for w in chosen), f"from 1 to {MAX_WEEKS}")
    except OptionError as exc:
        raise OptionError(exc.message, option="--weeks") from None
    return chosen


def report(config: PathLike, out_dir: PathLike, *, lang: str = "en", weeks: Sequence[int] | None = None,
           min_cell: int | None = None, xlsx: bool = False) -> Step[ReportResult]:
    """Write the report page (and with ``xlsx`` the workbook of tables) from the outputs in ``out_dir``.

    The page's language is ``lang``, whatever ``[analysis] lang`` says; ``min_cell`` and the weeks of the
    effect table default to the config's.
    """
    check_lang(lang)
    out_dir = Path(out_dir)
    check_outputs([("--dir", out_dir / layout.REPORT), ("--xlsx", out_dir / layout.WORKBOOK if xlsx else None)],
                  [("--config", config)])
    cfg = load_config(Path(config))
    settings = AnalysisSettings.from_config(cfg, min_cell=min_cell, report_weeks=weeks)
    result = build_report(cfg, out_dir, lang=lang, weeks=settings.report_weeks,  # type: ignore[arg-type]
                          min_cell=settings.min_cell)
    workbook = write_workbook(out_dir, min_cell=result.min_cell) if xlsx else None
    return Step(result, _written([result.path, workbook]))


def demo(out_dir: PathLike = "trialeval-demo", data: PathLike = "sample_data", *, lang: str = "en",
         min_cell: int | None = None, progress: Progress = None) -> Step[DemoResult]:
    """Run the whole pipeline on the sample trial into ``out_dir`` (see :func:`trialeval.demo.run_demo`)."""
    settings = AnalysisSettings.from_config(None, lang=lang, min_cell=min_cell)
    result = run_demo(Path(out_dir), Path(data), lang=settings.lang, min_cell=settings.min_cell, progress=progress)
    return Step(result, result.files)

