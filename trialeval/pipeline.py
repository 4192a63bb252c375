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

import datetime
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import pandas as pd

from trialeval import layout
from trialeval.manifest import _append_event as append_manifest_event
from trialeval.progress import ProgressCallback
from trialeval._validation import OptionError, check_option
from trialeval.exceptions import ConfigError
from trialeval.balance_formats import FORMATS as BALANCE_FORMATS
from trialeval.config import MAX_WEEKS, AnalysisSettings, TrialConfig, load_config
from trialeval.design import Design
from trialeval.disclosure import write_export
from trialeval.draw import DEFAULT_LOCK_TIMEOUT, DrawResult, VerifyResult, check_ledger_manifest, manifest_path
from trialeval.draw import run_draw, run_exclude
from trialeval.draw import verify as verify_ledger
from trialeval.effects import EffectsResult
from trialeval.exceptions import InputDataError
from trialeval.effects import effects as estimate_effects
from trialeval.effects.stream import effects_from_file
from trialeval.io import (atomic_write, check_outputs, parse_date, read_ledger, read_population, read_table,
                          require_columns, sha256_file, write_table, write_text)
from trialeval.panel import MIN_MATCHED_SHARE, PanelResult
from trialeval.panel.build import CHUNK_PERSONS
from trialeval.panel.partitioned import ENGINES, build_panel_engine

if TYPE_CHECKING:
    from trialeval.partition import PartitionResult
    from trialeval.balance import BalanceResult
    from trialeval.match import ComparisonResult
    from trialeval.registers import ConversionResult
    from trialeval.costs import CostsResult
    from trialeval.demo import DemoResult
    from trialeval.power import PowerResult
    from trialeval.explain import Regression
    from trialeval.report import ReportResult


__all__ = [
    "BALANCE_FORMATS", "DEFAULT_LOCK_TIMEOUT", "ENGINES", "MAX_WEEKS", "MIN_MATCHED_SHARE", "OptionError", "Step",
    "balance", "convert", "costs", "demo", "draw", "effects", "effects_from_spells", "exclude", "explain", "layout",
    "match", "panel", "partition", "power", "report", "report_weeks", "verify", "write_effects",
]

R = TypeVar("R")
PathLike = str | os.PathLike[str]
Progress = ProgressCallback | None


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


def _design(cfg: TrialConfig | None) -> Design | None:
    """The design the config declares (``[trial] design``, ``groups``, ``reference``); None without one."""
    return Design.from_config(cfg) if cfg is not None else None


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
    from trialeval.power import power as power_mde
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
    from trialeval.balance import balance as balance_table, output_format
    from trialeval.plots import check_figure_path, save_figure
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
    table = read_ledger(ledger, rename=rename, design=_design(cfg))
    if settings.covariates is None:
        raise InputDataError("no covariates: give --covariates or [analysis] covariates in the config")
    people = read_population(population, rename=rename) if population is not None else None
    result = balance_table(
        table, list(settings.covariates), population=people, eligibility=cfg.rules if cfg else (),
        eligibility_groups=cfg.rule_groups if cfg else (),
        representativeness="treatment" if treated_only else "both", categorical=categorical,
        strata_fe=strata_fe, ri_draws=ri_draws, rng=settings.seed if settings.seed is not None else 0,
        alpha=float(settings.alpha), min_cell=int(settings.min_cell), drop_excluded=settings.drop_exclusions,
        source=str(ledger), progress=progress, design=_design(cfg),
    )
    figure = result.plot(lang=settings.lang) if plot is not None else None
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
    effects_out: PathLike | None = None, workers: int | None = None, progress: Progress = None,
    engine: str = "local", scheduler: str | None = None,
) -> Step[PanelResult]:
    """Build the weekly panel and stream it to ``out``, with the number at risk (and rejects) beside it.

    Each chunk of persons is written as soon as it is built and then let go. With ``effects_out`` the
    effect curves are written there too, as ``effects --panel out --config config`` writes them: the
    default estimator from the sums gathered while the panel is built, options that need the rows
    (from the config) from the file just written. ``workers`` threads build the panel (default: every
    core). ``ledger`` and ``spells`` may be a partitioned dataset's folder (:func:`partition`), built
    part by part by ``engine`` (``local`` or ``dask`` at ``scheduler``).
    """
    cfg = _config(config)
    settings = _panel_settings(cfg, extraction_date, weeks=weeks, pre_weeks=pre_weeks, min_days=min_days,
                               min_matched_share=min_matched_share)
    if effects_out is not None:
        check_outputs([("--effects-out", effects_out)], [("--config", config), ("--out", out)])
    result = _build(ledger, spells, settings, drop_bad_rows=drop_bad_rows, out=out, workers=workers,
                    progress=progress, design=_design(cfg), engine=engine, scheduler=scheduler)
    written = _written([out, layout.panel_at_risk(out), layout.panel_rejects(out) if drop_bad_rows else None])
    if effects_out is not None:
        fx = AnalysisSettings.from_config(cfg)
        if _needs_rows(fx, None, None, False, 0):
            written += effects(out, effects_out, config=config).written
        else:
            written += _curves_from_sums(result, effects_out, fx, None, [("--config", config), ("--out", out)])[1]
    return Step(result, written)


def _panel_settings(cfg: TrialConfig | None, extraction_date: str | None, **options: int | float | None
                    ) -> AnalysisSettings:
    """The panel's settings: options over the config; an extraction date is required."""
    date = parse_date(extraction_date, "--extraction-date") if extraction_date is not None else None
    settings = AnalysisSettings.from_config(cfg, extraction_date=date, **options)
    if settings.extraction_date is None:
        raise OptionError("give --extraction-date or a --config with [analysis] extraction_date")
    return settings


#: Persons a chunk when only the sums are gathered: small chunks stay in the processor's caches (some
#: 10 % faster than the library's default) and keep the threads' working memory small.
SUMS_CHUNK_PERSONS = 25_000


def _build(ledger: PathLike, spells: PathLike, settings: AnalysisSettings, *, drop_bad_rows: bool,
           out: PathLike | None, workers: int | None, progress: Progress, design: Design | None = None,
           engine: str = "local", scheduler: str | None = None) -> PanelResult:
    """The panel with the settings (flat files or a partitioned dataset, on ``engine``); streamed to
    ``out`` or, without it, not kept."""
    return build_panel_engine(
        ledger, spells, settings.extraction_date, engine=engine, scheduler=scheduler,
        weeks=settings.panel_weeks, pre_weeks=settings.pre_weeks,
        min_days=settings.min_days, drop_bad_rows=drop_bad_rows,
        spell_types=list(settings.spell_types) if settings.spell_types is not None else None,
        min_matched_share=settings.min_matched_share,  # type: ignore[arg-type]
        columns=settings.columns, progress=progress, out=out, keep_panel=False, workers=workers,
        chunk_persons=SUMS_CHUNK_PERSONS if out is None else CHUNK_PERSONS, design=design,
    )


# --------------------------------------------------------------------------------------------------
# partition

def partition(
    ledger: PathLike, spells: PathLike, out: PathLike, *, parts: int | None = None,
    config: PathLike | None = None, drop_bad_rows: bool = False, force: bool = False, progress: Progress = None,
) -> Step[PartitionResult]:
    """Split a ledger and a spells file by person into the partitioned dataset ``out`` (a folder)."""
    from trialeval.partition import partition_extract

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
    workers: int | None = None,
) -> Step[EffectsResult]:
    """Estimate the effect curves from a panel file; write the exported tables, settings and figures.

    ``out`` gets the effect table and, when there are any, the summary, band, hours and dropped-block
    tables beside it (:func:`trialeval.layout.effects_table`) and ``<stem>_settings.json``; ``plot``
    is the base name of the figures, one per outcome (and the hours distribution), PNG and PDF.
    ``covariates`` (the Lin adjustment) comes from the option only: ``[analysis] covariates`` are the
    balance covariates. A Parquet or CSV panel is read in batches of whole persons
    (:func:`trialeval.effects.stream.effects_from_file`), ``workers`` threads at once (default: every core);
    a panel whose persons' rows are not together is read whole.
    """
    from trialeval.plots import check_lang
    if lang is not None:
        check_lang(lang)
    cfg = _config(config)
    settings = AnalysisSettings.from_config(
        cfg, outcomes=outcomes, blocks=blocks, min_weeks=min_weeks, summary_weeks=summary_weeks,
        hours_week=hours_week, weeks=weeks, lang=lang, seed=seed, min_cell=min_cell)
    out = Path(out)
    inputs = [("--panel", panel), ("--config", config)]
    check_outputs([("--out", out)], inputs)          # before the estimation, which may take long
    result = effects_from_file(
        panel, list(settings.outcomes) if settings.outcomes is not None else None, blocks=settings.blocks,
        covariates=list(covariates) if covariates is not None else None, cluster=cluster, min_weeks=settings.min_weeks,
        band=band, ri=ri, summary_weeks=settings.summary_weeks, hours_week=settings.hours_week,
        alpha=settings.alpha, rng=settings.seed, min_cell=settings.min_cell, weeks=settings.weeks,
        source=str(panel), rename=cfg.columns if cfg is not None else None, workers=workers, progress=progress,
        unordered="read whole", design=_design(cfg),
    )
    written = write_effects(result, out, plot, settings.lang, inputs=inputs)
    return Step(result, written)


def write_effects(result: EffectsResult, out: PathLike, plot: PathLike | None, lang: str, *,
                  inputs: Sequence[tuple[str, PathLike | None]] = ()) -> tuple[Path, ...]:
    """Write an effects result's exported tables, its settings and (with ``plot``) its figures."""
    from trialeval.plots import save_figure
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
# effects from spells: one command from the register extract to the curves

def effects_from_spells(
    ledger: PathLike, spells: PathLike, out: PathLike, *, extraction_date: str | None = None,
    config: PathLike | None = None, outcomes: Sequence[str] | None = None, blocks: str | None = None,
    covariates: Sequence[str] | None = None, cluster: str | None = None, band: bool = False, ri: int = 0,
    min_weeks: int | None = None, summary_weeks: int | None = None, hours_week: int | None = None,
    weeks: int | None = None, lang: str | None = None, seed: int | None = None, min_cell: int | None = None,
    plot: PathLike | None = None, min_days: int | None = None, drop_bad_rows: bool = False,
    min_matched_share: float | None = None, panel_out: PathLike | None = None, workers: int | None = None,
    progress: Progress = None,
) -> Step[EffectsResult]:
    """Effect curves straight from the ledger and the spells, as ``panel`` then ``effects --panel`` give them.

    The default estimator (difference in means, Welch) with ``min_weeks`` and ``weeks`` comes from the
    per-week sums gathered while the panel is built: no long table is made, and none is written unless
    ``panel_out`` asks for it. Options that need the rows (``blocks``, ``covariates``, ``cluster``,
    ``band``, ``ri``, ``summary_weeks``, ``hours_week``, also from the config) build the panel to
    ``panel_out`` or else to a temporary Parquet file beside ``out``, deleted afterwards (also on an
    error), and run :func:`effects` on it. The panel has ``weeks`` weeks (else the config's, else
    the default), which are also the weeks reported. With ``drop_bad_rows`` and no ``panel_out`` the
    dropped rows go to ``<out>_rejects.csv``.
    """
    from trialeval.plots import check_figure_path, check_lang
    if lang is not None:
        check_lang(lang)
    cfg = _config(config)
    panel_settings = _panel_settings(cfg, extraction_date, weeks=weeks, min_days=min_days,
                                     min_matched_share=min_matched_share)
    fx = AnalysisSettings.from_config(
        cfg, outcomes=outcomes, blocks=blocks, min_weeks=min_weeks, summary_weeks=summary_weeks,
        hours_week=hours_week, weeks=weeks, lang=lang, seed=seed, min_cell=min_cell)
    out = Path(out)
    inputs = [("--ledger", ledger), ("--spells", spells), ("--config", config)]
    rejects = layout.panel_rejects(out) if drop_bad_rows and panel_out is None else None
    check_outputs([("--out", out), ("--panel-out", panel_out), ("--out (rejects beside it)", rejects)],
                  inputs, columns=cfg.columns if cfg is not None else None)
    if plot is not None:
        check_figure_path(plot)
    if not _needs_rows(fx, covariates, cluster, band, ri):
        result = _build(ledger, spells, panel_settings, drop_bad_rows=drop_bad_rows, out=panel_out,
                        workers=workers, progress=progress, design=_design(cfg))
        written = _written([panel_out, layout.panel_at_risk(panel_out) if panel_out is not None else None])
        if rejects is not None:
            written += (write_table(result.rejects, rejects),)
        curves, files = _curves_from_sums(result, out, fx, plot, inputs)
        return Step(curves, written + files)
    return _effects_via_file(ledger, spells, out, panel_out, panel_settings, config=config, rejects=rejects,
                             drop_bad_rows=drop_bad_rows, workers=workers, progress=progress,
                             options=dict(outcomes=outcomes, blocks=blocks, covariates=covariates,
                                          cluster=cluster, band=band, ri=ri, min_weeks=min_weeks,
                                          summary_weeks=summary_weeks, hours_week=hours_week, weeks=weeks,
                                          lang=lang, seed=seed, min_cell=min_cell, plot=plot))


def _needs_rows(settings: AnalysisSettings, covariates: Sequence[str] | None, cluster: str | None,
                band: bool, ri: int) -> bool:
    """Whether the effects asked for need the long panel (anything but the default estimator)."""
    return bool(settings.blocks or covariates or cluster or band or ri or settings.summary_weeks is not None
                or settings.hours_week is not None)


def _curves_from_sums(panel_result: PanelResult, out: PathLike, settings: AnalysisSettings,
                      plot: PathLike | None, inputs: Sequence[tuple[str, PathLike | None]]
                      ) -> tuple[EffectsResult, tuple[Path, ...]]:
    """The default estimator on a built panel's sums, written to ``out`` (and ``plot``); the files written."""
    result = estimate_effects(
        panel_result, list(settings.outcomes) if settings.outcomes is not None else None,
        min_weeks=settings.min_weeks, alpha=settings.alpha, min_cell=settings.min_cell, weeks=settings.weeks,
        source=str(panel_result.settings["spells"]))
    return result, write_effects(result, out, plot, settings.lang, inputs=inputs)


def _effects_via_file(ledger: PathLike, spells: PathLike, out: Path, panel_out: PathLike | None,
                      settings: AnalysisSettings, *, config: PathLike | None, rejects: Path | None,
                      drop_bad_rows: bool, workers: int | None, progress: Progress,
                      options: dict[str, Any]) -> Step[EffectsResult]:
    """Build the panel to ``panel_out`` (or a temporary file beside ``out``), then :func:`effects` on it."""
    folder = None if panel_out is not None else Path(tempfile.mkdtemp(prefix=".trialeval-panel-",
                                                                      dir=out.parent))
    try:
        path = Path(panel_out) if panel_out is not None else Path(folder) / layout.PANEL  # type: ignore[arg-type]
        built = _build(ledger, spells, settings, drop_bad_rows=drop_bad_rows, out=path, workers=workers,
                       progress=progress, design=_design(_config(config)))
        kept = _written([panel_out, layout.panel_at_risk(panel_out) if panel_out is not None else None,
                         layout.panel_rejects(panel_out) if panel_out is not None and drop_bad_rows else None])
        if rejects is not None:
            kept += (write_table(built.rejects, rejects),)
        step = effects(path, out, config=config, **options)
        return Step(step.result, kept + step.written)
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


# --------------------------------------------------------------------------------------------------
# costs

def costs(
    effects: PathLike, scenarios: PathLike, out: PathLike, *, plot: PathLike | None = None,
    flows: PathLike | None = None, seed: int | None = None, draws: int = 2000, tornado: str | None = None,
    lang: str | None = None, progress: Progress = None,
) -> Step[CostsResult]:
    """Value an effects table under every scenario; write the table, the flows and the three figures."""
    from trialeval.costs import costs as value_costs, load_scenarios
    from trialeval.plots import check_figure_path, check_lang, save_figure
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
           min_cell: int | None = None, xlsx: bool = False, pdf: bool = False) -> Step[ReportResult]:
    """Write the report page (with ``xlsx`` the workbook of tables, with ``pdf`` the page printed to
    ``report.pdf`` by headless Chromium) from the outputs in ``out_dir``.

    The page's language is ``lang``, whatever ``[analysis] lang`` says; ``min_cell`` and the weeks of the
    effect table default to the config's.
    """
    from trialeval.plots import check_lang
    from trialeval import pdf as _pdf
    from trialeval.report import REPORT_PDF, build_report, write_workbook
    check_lang(lang)
    out_dir = Path(out_dir)
    browser = _pdf.find_browser() if pdf else None
    check_outputs([("--dir", out_dir / layout.REPORT), ("--xlsx", out_dir / layout.WORKBOOK if xlsx else None),
                   ("--pdf", out_dir / REPORT_PDF if pdf else None)], [("--config", config)])
    cfg = load_config(Path(config))
    settings = AnalysisSettings.from_config(cfg, min_cell=min_cell, report_weeks=weeks)
    result = build_report(cfg, out_dir, lang=lang, weeks=settings.report_weeks,  # type: ignore[arg-type]
                          min_cell=settings.min_cell)
    workbook = write_workbook(out_dir, min_cell=result.min_cell) if xlsx else None
    printed = _pdf.html_to_pdf(result.path, out_dir / REPORT_PDF, browser=browser) if browser else None
    return Step(result, _written([result.path, workbook, printed]))


def demo(out_dir: PathLike = "trialeval-demo", data: PathLike | None = None, *, lang: str = "en",
         min_cell: int | None = None, progress: Progress = None) -> Step[DemoResult]:
    """Run the whole pipeline on the sample trial into ``out_dir`` (see :func:`trialeval.demo.run_demo`)."""
    from trialeval.demo import run_demo
    settings = AnalysisSettings.from_config(None, lang=lang, min_cell=min_cell)
    result = run_demo(Path(out_dir), Path(data) if data is not None else None, lang=settings.lang, min_cell=settings.min_cell, progress=progress)
    return Step(result, result.files)



# --------------------------------------------------------------------------------------------------
# convert

REGISTERS = ("dream", "eindkomst")


def convert(register: str, source: PathLike, out: PathLike, *, config: PathLike | None = None,
            codes: PathLike | None = None) -> Step[ConversionResult]:
    """Turn a DREAM extract or eIndkomst hours into spells in ``out`` (Parquet).

    DREAM's code map is the ``[registers.dream]`` table of ``codes`` (a TOML file holding only the map)
    or else of ``config``.
    """
    from trialeval.registers import convert_dream, convert_eindkomst, dream_codes
    if register not in REGISTERS:
        raise OptionError(f"register must be one of {', '.join(REGISTERS)}; got {register!r}")
    cfg = _config(config)
    check_outputs([("--out", out)], [("IN", source), ("--config", config), ("--codes", codes)])
    if Path(out).suffix.lower() not in (".parquet", ".pq"):
        raise OptionError(f"--out {out}: spells are written as Parquet; give a .parquet file")
    if register == "dream":
        code_map = (dream_codes(codes) if codes is not None
                    else cfg.registers.get("dream") if cfg is not None else None)
        if code_map is None:
            raise ConfigError(f"{config or '--config'}: converting DREAM needs its code map, a [registers.dream] table "
                              "(codes = { benefit = [\"...\"], internship = [\"...\"], … }) in --config or --codes")
        result = convert_dream(source, code_map, out, person_column=cfg.columns.get("person_id", "person_id")
                               if cfg is not None else "person_id")
    else:
        result = convert_eindkomst(source, out, rename=cfg.columns if cfg is not None else None)
    return Step(result, (Path(out),))


# --------------------------------------------------------------------------------------------------
# explain

def explain(panel: PathLike, site_factors: PathLike, out: PathLike, *, outcome: str, week: int,
            by: str = "municipality", measure: str = "share", from_week: int | None = None,
            factors: Sequence[str] | None = None, weights: str | None = None, config: PathLike | None = None,
            plot: PathLike | None = None, lang: str | None = None, min_cell: int | None = None) -> Step[Regression]:
    """Regress a result per site (share, change or effect at ``week``) on the site factors of a file.

    ``factors`` defaults to every numeric column of ``site_factors`` but ``by``; ``weights`` is ``n``
    (the site's number of persons) or a column of the factors file.
    """
    from trialeval.explain import hc2_regression, site_measure
    from trialeval.plots import save_figure
    cfg = _config(config)
    settings = AnalysisSettings.from_config(cfg, lang=lang, min_cell=min_cell)
    check_outputs([("--out", out), ("--plot", plot)],
                  [("--panel", panel), ("--site-factors", site_factors), ("--config", config)])
    data = read_table(panel, rename=cfg.columns if cfg is not None else None)
    table = read_table(site_factors, text_columns=(by,))
    require_columns(table, [by], str(site_factors))
    per_site = site_measure(data, by, outcome, week, measure=measure, from_period=from_week,  # type: ignore[arg-type]
                            min_cell=settings.min_cell, source=str(panel))
    merged = per_site.merge(table.assign(**{by: table[by].astype(str)}), on=by, how="inner")
    unmatched = sorted(set(per_site[by].astype(str)) - set(merged[by]))
    if unmatched:
        raise InputDataError(f"{site_factors}: no row for the site(s) {', '.join(unmatched[:10])} of the panel's "
                             f"column '{by}'")
    chosen = list(factors) if factors else [c for c in table.columns if c != by
                                           and pd.api.types.is_numeric_dtype(table[c])]
    fit = hc2_regression(merged, measure, chosen, weights=weights, source=str(site_factors))
    written = [write_export(fit.table, out)]
    if plot is not None and len(chosen) == 1:
        written.append(save_figure(fit.plot(lang=settings.lang), plot))
    return Step(fit, tuple(written))


# --------------------------------------------------------------------------------------------------
# match

def match(ledger: PathLike, population: PathLike, spells: PathLike, config: PathLike, out: PathLike, *,
          keep_excluded: bool = False, date: str | None = None) -> Step[ComparisonResult]:
    """Build a matched comparison group for the ledger's programme group and write it as a new ledger
    (``out``), with a manifest line recording the inputs' hashes and the settings, and the programme
    persons left unmatched beside it (``<out>_unmatched.csv``)."""
    from trialeval.match import match_comparison
    from trialeval.plots import save_figure
    from trialeval.site_plots import overlap_plot
    cfg = load_config(Path(config))
    out = Path(out)
    unmatched_path = out.with_name(f"{out.stem}_unmatched.csv")
    beside = [out.with_name(f"{out.stem}_{part}") for part in ("balance.csv", "love.png", "overlap.png")]
    inputs = [("--ledger", ledger), ("--population", population), ("--spells", spells), ("--config", config)]
    check_outputs([("--out", out), ("--out (manifest beside it)", manifest_path(out)),
                   ("--out (unmatched beside it)", unmatched_path)]
                  + [("--out (balance beside it)", path) for path in beside], inputs)
    if manifest_path(out).exists() or out.exists():
        raise InputDataError(f"--out {out}: a ledger (or its manifest) is already there; a matched comparison "
                             "group is written to a new ledger, never over one")
    check_ledger_manifest(ledger)
    led = read_ledger(ledger, rename=cfg.columns, design=Design.from_config(cfg))
    people = read_population(population, rename=cfg.columns)
    result = match_comparison(led, people, spells, cfg, keep_excluded=keep_excluded, source=str(population))
    when = pd.Timestamp(parse_date(date, "--date")).date() if date is not None else datetime.date.today()
    entry = {"event": "match", "date": when.isoformat(), "settings": result.settings.to_dict(),
             "counts": result.counts, "keep_excluded": keep_excluded,
             "inputs": {name.lstrip("-"): sha256_file(path) for name, path in inputs}}
    with atomic_write(out) as tmp:
        result.ledger.to_csv(tmp, index=False, lineterminator="\n")
        append_manifest_event(manifest_path(out), [], entry, tmp)
    written = [out, manifest_path(out)]
    balance = result.balance()
    written.append(write_export(balance.table, out.with_name(f"{out.stem}_balance.csv")))
    written.append(save_figure(balance.plot(), out.with_name(f"{out.stem}_love.png")))
    written.append(save_figure(overlap_plot(result.risk_sets["score"], result.risk_sets["programme"]),
                               out.with_name(f"{out.stem}_overlap.png")))
    if len(result.unmatched):
        written.append(write_text(result.unmatched.to_csv(index=False, lineterminator="\n"), unmatched_path))
    return Step(result, tuple(written))


# --------------------------------------------------------------------------------------------------
# results by site and subgroup

def by_site(panel: PathLike, out: PathLike, *, by: str | None = None, subgroups: Sequence[str] = (),
            outcomes: Sequence[str] | None = None, weeks: Sequence[int] | None = None,
            ledger: PathLike | None = None, config: PathLike | None = None, plot: PathLike | None = None,
            lang: str | None = None, min_cell: int | None = None) -> Step[list[Any]]:
    """Effects per site (``by``) and per subgroup of ``subgroups`` at the report weeks, written beside
    ``out``: ``<out>_sites.csv`` and ``<out>_heterogeneity.csv``; ``<out>_subgroups.csv`` and
    ``<out>_interactions.csv``; a caterpillar and a forest plot per outcome at the last week with ``plot``.
    Subgroup columns missing from the panel come from ``ledger`` (one row per person)."""
    from trialeval.plots import save_figure
    from trialeval.sites import sites_tables, subgroup_tables
    cfg = _config(config)
    settings = AnalysisSettings.from_config(cfg, lang=lang, min_cell=min_cell)
    out = Path(out)
    chosen_weeks = list(weeks) if weeks else list(settings.report_weeks)
    targets = {name: out.with_name(f"{out.stem}_{name}.csv") for name in
               (["sites", "heterogeneity"] if by else []) + (["subgroups", "interactions"] if subgroups else [])}
    inputs = [("--panel", panel), ("--ledger", ledger), ("--config", config)]
    check_outputs([("--out", path) for path in targets.values()], inputs)
    data = read_table(panel, rename=cfg.columns if cfg is not None else None)
    missing = [c for c in subgroups if c not in data.columns]
    if missing:
        if ledger is None:
            raise InputDataError(f"{panel}: no column(s) {', '.join(missing)}; give --ledger to take them from it")
        people = read_table(ledger, rename=cfg.columns if cfg is not None else None)
        require_columns(people, ["person_id", *missing], str(ledger))
        data = data.merge(people[["person_id", *missing]].drop_duplicates("person_id"), on="person_id", how="left")
    names = list(outcomes) if outcomes else [o for o in (settings.outcomes or ()) if o in data.columns]
    if not names:
        raise OptionError("give --outcomes (or [analysis] outcomes in the config)")
    written: list[Path] = []
    results: list[Any] = []
    if by:
        rows, het, site_results = sites_tables(data, by, names, chosen_weeks, min_cell=settings.min_cell,
                                               source=str(panel))
        written += [write_export(rows, targets["sites"]), write_export(het, targets["heterogeneity"])]
        results += site_results
        if plot is not None:
            for r in site_results[len(chosen_weeks) - 1::len(chosen_weeks)]:
                written.append(save_figure(r.plot(lang=settings.lang),
                                           Path(plot).with_name(f"{Path(plot).stem}_sites_{r.outcome}.png")))
    if subgroups:
        rows, tests, group_results = subgroup_tables(data, subgroups, names, chosen_weeks,
                                                     min_cell=settings.min_cell, source=str(panel))
        written += [write_export(rows, targets["subgroups"]), write_export(tests, targets["interactions"])]
        results += group_results
        if plot is not None:
            for g in group_results[len(chosen_weeks) - 1::len(chosen_weeks)]:
                written.append(save_figure(g.plot(lang=settings.lang),
                                           Path(plot).with_name(f"{Path(plot).stem}_subgroups_{g.outcome}.png")))
    return Step(results, tuple(written))
