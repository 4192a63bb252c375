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
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import pandas as pd

from trialeval._allocator import keep_freed_memory  # noqa: F401  (the command line sets it through here)
from trialeval._imports import import_in_background
from trialeval import layout
from trialeval.progress import ProgressCallback
from trialeval.timeaxis import axis_of_columns
from trialeval._validation import OptionError, check_option
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
from trialeval.effects._inputs import KNOWN_OUTCOMES
from trialeval.io import _header
from trialeval._pipeline_comparison import (comparison_requested, demo_comparison,  # noqa: F401
                                           effects_comparison)
from trialeval.io import (check_outputs, parse_date, read_ledger, read_population, read_table, write_table,
                          write_text)
from trialeval.panel import MIN_MATCHED_SHARE, PanelResult
from trialeval.panel.partitioned import ENGINES, build_panel_engine
from trialeval._pipeline_kernel import kernel_effects, kernel_effects_possible
from trialeval._pipeline_sites import (by_site, effects_by_site, effects_from_spells_by_site, explain,  # noqa: F401
                                      explain_person, site_options)
from trialeval._pipeline_target import curves as curves, target as target  # noqa: F401

if TYPE_CHECKING:
    from trialeval.partition import PartitionResult
    from trialeval.balance import BalanceResult
    from trialeval.registers import ConversionResult
    from trialeval.costs import CostsResult
    from trialeval.demo import DemoResult
    from trialeval.power import PowerResult
    from trialeval.report import ReportResult


__all__ = [
    "BALANCE_FORMATS", "COSTS_SEED", "DEFAULT_LOCK_TIMEOUT", "ENGINES", "MAX_WEEKS", "MIN_MATCHED_SHARE", "OptionError", "Step",
    "balance", "by_site", "convert", "costs", "demo", "draw", "effects", "effects_by_site", "effects_from_spells",
    "effects_from_spells_by_site", "site_options", "exclude", "explain", "explain_person", "layout", "match", "panel", "partition",
    "power", "report", "report_weeks", "verify", "write_effects",
]

R = TypeVar("R")
PathLike = str | os.PathLike[str]
Progress = ProgressCallback | None


@dataclass(frozen=True, eq=False)
class Step(Generic[R]):
    """What a step returns: the library's result object and the files it wrote, in order."""

    result: R
    written: tuple[Path, ...] = ()
    lang: str = "en"
    note: str = ""

    def summary(self, lang: str | None = None) -> str:
        """The result's summary, its numbers in ``lang`` (default: the step's language, the option's or the
        config's), and the step's warning, if any."""
        text = _summary(self.result, lang or self.lang)
        return f"{text}\nWarning: {self.note}" if self.note else text


from trialeval._console import summary as _summary  # noqa: E402


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


def verify(populations: Sequence[PathLike], config: PathLike, ledger: PathLike, *, spells: PathLike | None = None,
           programme_ledger: PathLike | None = None) -> Step[VerifyResult]:
    """Replay every wave from the manifest and compare with the ledger (writes nothing); a ledger written
    by ``match`` is replayed from ``programme_ledger``, the population and ``spells`` (:func:`verify_matched`)."""
    if is_matched(ledger):
        return verify_matched(populations, config, ledger, spells=spells, programme_ledger=programme_ledger)  # type: ignore[return-value]
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
    progress: Progress = None, lang: str | None = None,
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
    if cfg is not None and cfg.design == "selection":        # no control group: drawn vs the population
        return balance_population(ledger, out, population, config=config, covariates=covariates,  # type: ignore[return-value]
                                  categorical=categorical, min_cell=min_cell, drop_excluded=drop_excluded, plot=plot)
    if cfg is not None and cfg.design == "comparison":     # no lottery: no tests of randomisation
        raise InputDataError(
            f"{config}: this is a comparison design: its groups were not drawn by lot, so there is no randomisation "
            "to test; "
            "its balance is the matching's: trialeval match writes <out>_balance.csv (standardised differences and "
            "variance ratios before and after matching, |SMD| > 0.1 flagged) and the love plot <out>_love.png")
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
                                            drop_exclusions=drop_excluded, lang=lang)
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
        written.append(save_figure(figure, plot, lang=settings.lang))  # type: ignore[arg-type]
    return Step(result, tuple(written), settings.lang)


# --------------------------------------------------------------------------------------------------
# panel

def panel(
    ledger: PathLike, spells: PathLike | None, out: PathLike, *, config: PathLike | None = None,
    extraction_date: str | None = None, weeks: int | None = None, pre_weeks: int | None = None,
    min_days: int | None = None, drop_bad_rows: bool = False, min_matched_share: float | None = None,
    effects_out: PathLike | None = None, workers: int | None = None, progress: Progress = None,
    engine: str = "local", scheduler: str | None = None, dream: PathLike | None = None,
    eindkomst: PathLike | None = None, codes: PathLike | None = None, drop_exclusions: bool = False,
    axis: str | None = None, period_from: str | None = None, period_to: str | None = None,
    week_sums: bool = True,
) -> Step[PanelResult]:
    """Build the panel and stream it to ``out``, with the number at risk (and rejects) beside it.

    Each chunk of persons is written as soon as it is built and then let go. With ``effects_out`` the
    effect curves are written there too, as ``effects --panel out --config config`` writes them: the
    default estimator from the sums gathered while the panel is built, options that need the rows
    (from the config) from the file just written. ``workers`` threads build the panel (default: every
    core). ``ledger`` and ``spells`` may be a partitioned dataset's folder (:func:`partition`), built
    part by part by ``engine`` (``local`` or ``dask`` at ``scheduler``). Instead of ``spells``, a DREAM
    extract (``dream``, with its code map in ``codes`` or the config) and/or eIndkomst hours (``eindkomst``)
    are read directly (:func:`trialeval._pipeline_registers.register_spells`). ``drop_exclusions`` leaves
    out the persons excluded after the draw, with a warning (:func:`panel_without_exclusions`). ``axis``
    (``[analysis] axis``) counts the periods: weeks or months since visitation, calendar weeks or months
    (from ``period_from`` to ``period_to`` on a calendar axis). ``week_sums=False`` leaves out the running
    per-week sums of the result (:func:`~trialeval.panel.build_panel`) when only the file is wanted; they
    are kept with ``effects_out``.
    """
    from trialeval._pipeline_registers import register_spells
    if has_units(ledger) or drop_exclusions:
        if dream is not None or eindkomst is not None or spells is None:
            raise OptionError("--drop-exclusions and a matched ledger with units read --spells: convert the "
                              "registers with trialeval convert first", option="--dream")
        return (by_unit if has_units(ledger) else panel_without_exclusions)(
            panel, ledger, spells, out, config=config, extraction_date=extraction_date, weeks=weeks,
            pre_weeks=pre_weeks, min_days=min_days, drop_bad_rows=drop_bad_rows, min_matched_share=min_matched_share,
            effects_out=effects_out, workers=workers, progress=progress, engine=engine, scheduler=scheduler)
    cfg = _config(config)
    settings = _panel_settings(cfg, extraction_date, weeks=weeks, pre_weeks=pre_weeks, min_days=min_days,
                               min_matched_share=min_matched_share, axis=axis, period_from=period_from,
                               period_to=period_to)
    if effects_out is not None:
        check_outputs([("--effects-out", effects_out)], [("--config", config), ("--out", out)])
    check_outputs([("--out", out)], [("--ledger", ledger), ("--spells", spells), ("--dream", dream),
                                     ("--eindkomst", eindkomst), ("--codes", codes), ("--config", config)])
    with register_spells(spells, dream, eindkomst, cfg=cfg, codes=codes, beside=out) as spell_file:
        result = _build(ledger, spell_file, settings, drop_bad_rows=drop_bad_rows, out=out, workers=workers,
                        progress=progress, design=_design(cfg), engine=engine, scheduler=scheduler,
                        week_sums=week_sums or effects_out is not None)
    written = _written([out, layout.panel_at_risk(out), layout.panel_rejects(out) if drop_bad_rows else None])
    if effects_out is not None:
        fx = AnalysisSettings.from_config(cfg)
        if _needs_rows(fx, None, None, False, 0):
            written += effects(out, effects_out, config=config).written
        else:
            written += _curves_from_sums(result, effects_out, fx, None, [("--config", config), ("--out", out)])[1]
    return Step(result, written, settings.lang)


def _panel_settings(cfg: TrialConfig | None, extraction_date: str | None, **options: int | float | str | None
                    ) -> AnalysisSettings:
    """The panel's settings: options over the config; an extraction date is required."""
    date = parse_date(extraction_date, "--extraction-date") if extraction_date is not None else None
    settings = AnalysisSettings.from_config(cfg, extraction_date=date, **options)
    if settings.extraction_date is None:
        raise OptionError("give --extraction-date or a --config with [analysis] extraction_date")
    return settings


#: Persons a chunk in the commands: small chunks stay in the processor's caches (some 10 % faster than
#: the library's default) and keep the threads' working memory small; written to a file, the writer starts
#: sooner and finishes the last chunk sooner (1 M persons: 4.6 s and 0.52 GB against 5.1 s and 0.90 GB).
SUMS_CHUNK_PERSONS = 25_000


def _build(ledger: PathLike, spells: PathLike, settings: AnalysisSettings, *, drop_bad_rows: bool,
           out: PathLike | None, workers: int | None, progress: Progress, design: Design | None = None,
           engine: str = "local", scheduler: str | None = None, on_chunk: Any = None, week_sums: bool = True
           ) -> PanelResult:
    """The panel with the settings (flat files or a partitioned dataset, on ``engine``); streamed to
    ``out`` or, without it, not kept (``on_chunk``, ``week_sums``: see :func:`~trialeval.panel.build_panel`)."""
    return build_panel_engine(
        ledger, spells, settings.extraction_date, engine=engine, scheduler=scheduler,
        weeks=settings.panel_weeks, pre_weeks=settings.pre_weeks,
        min_days=settings.min_days, drop_bad_rows=drop_bad_rows,
        spell_types=list(settings.spell_types) if settings.spell_types is not None else None,
        min_matched_share=settings.min_matched_share,  # type: ignore[arg-type]
        columns=settings.columns, progress=progress, out=out, keep_panel=False, workers=workers,
        chunk_persons=SUMS_CHUNK_PERSONS, design=design,
        declared_outcomes=settings.declared_outcomes, axis=settings.axis,
        **{k: v for k, v in (("period_from", settings.period_from), ("period_to", settings.period_to),
                             ("on_chunk", on_chunk)) if v is not None},
        **({} if week_sums else {"week_sums": False}),
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
    workers: int | None = None, ratio: bool = False, among_positive: bool = False,
) -> Step[EffectsResult]:
    """Estimate the effect curves from a panel file; write the exported tables, settings and figures.

    ``out`` gets the effect table and, when there are any, the summary, band, hours and dropped-block
    tables beside it (:func:`trialeval.layout.effects_table`) and ``<stem>_settings.json``; ``plot``
    is the base name of the figures, one per outcome (and the hours distribution), PNG and PDF.
    ``covariates`` (the Lin adjustment) comes from the option only: ``[analysis] covariates`` are the
    balance covariates. A Parquet or CSV panel is read in batches of whole persons
    (:func:`trialeval.effects.stream.effects_from_file`), ``workers`` threads at once (default: every core);
    a panel whose persons' rows are not together is read whole. ``ratio`` and ``among_positive`` add
    ``<stem>_ratio`` (ratio of the arms' means, delta-method CI) and ``<stem>_positive`` (the mean among
    those with the outcome above zero) beside ``out`` (:mod:`trialeval.effects.ratio`).
    """
    from trialeval._figure_options import check_lang
    if lang is not None:
        check_lang(lang)
    if (ratio or among_positive) and (blocks or covariates or cluster or min_weeks):
        raise OptionError("--ratio and --among-positive compare the persons observed each week as two groups: "
                          "give them without --blocks, --covariates, --cluster and --min-weeks", option="--ratio")
    cfg = _config(config)
    settings = AnalysisSettings.from_config(
        cfg, outcomes=outcomes, blocks=blocks, min_weeks=min_weeks, summary_weeks=summary_weeks,
        hours_week=hours_week, weeks=weeks, lang=lang, seed=seed, min_cell=min_cell)
    out = Path(out)
    inputs = [("--panel", panel), ("--config", config)]
    extra = {name: out.with_name(f"{out.stem}_{name}{out.suffix}")
             for name, asked in (("ratio", ratio), ("positive", among_positive)) if asked}
    check_outputs([("--out", out), *[("--out", p) for p in extra.values()]], inputs)   # before the estimation
    import_in_background("scipy.special")      # the confidence intervals need it once the file is read
    result = effects_from_file(
        panel, _outcome_list(settings, lambda: _header(Path(panel))), blocks=settings.blocks,
        covariates=list(covariates) if covariates is not None else None, cluster=cluster, min_weeks=settings.min_weeks,
        band=band, ri=ri, summary_weeks=settings.summary_weeks, hours_week=settings.hours_week,
        alpha=settings.alpha, rng=settings.seed, min_cell=settings.min_cell, weeks=settings.weeks,
        source=str(panel), rename=cfg.columns if cfg is not None else None, workers=workers, progress=progress,
        unordered="read whole", design=_design(cfg),
    )
    written = write_effects(result, out, plot, settings.lang, inputs=inputs)
    if extra:
        from trialeval.effects.ratio import ratio_and_positive
        tables = dict(zip(("ratio", "positive"), ratio_and_positive(
            panel, list(dict.fromkeys(result.table["outcome"])), groups=(_design(cfg) or Design()).labels, alpha=settings.alpha, min_cell=settings.min_cell)))
        weeks_shown = result.table[["outcome", "week"]]
        written += tuple(write_export(tables[name].merge(weeks_shown, on=["outcome", "week"]), path)
                         for name, path in extra.items())
    carry_exclusions_note(panel, out)
    return Step(result, written, settings.lang)


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
    if figures:
        from trialeval.plots import save_figure
        written += [save_figure(fig, path, lang=lang) for path, fig in figures.items()]
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
    progress: Progress = None, ratio: bool = False, among_positive: bool = False, drop_exclusions: bool = False,
    axis: str | None = None,
) -> Step[EffectsResult]:
    """Effect curves straight from the ledger and the spells, as ``panel`` then ``effects --panel`` give them.

    The default estimator (difference in means, Welch) with ``min_weeks`` and ``weeks`` comes from the
    per-week sums gathered while the panel is built: no long table is made, and none is written unless
    ``panel_out`` asks for it; ``summary_weeks`` and ``band`` alone take their sums from the panel's
    chunks too (:mod:`trialeval._pipeline_kernel`). Options that need the rows (``blocks``,
    ``covariates``, ``cluster``, ``ri``, ``hours_week``, also from the config) build the panel to
    ``panel_out`` or else to a temporary Parquet file beside ``out``, deleted afterwards (also on an
    error), and run :func:`effects` on it. The panel has ``weeks`` weeks (else the config's, else
    the default), which are also the weeks reported. With ``drop_bad_rows`` and no ``panel_out`` the
    dropped rows go to ``<out>_rejects.csv``. ``drop_exclusions`` leaves out the persons excluded after
    the draw, with a warning (:func:`effects_without_exclusions`). ``axis`` counts the periods (else the
    config's ``[analysis] axis``, else weeks since visitation).
    """
    if (has_units(ledger) or drop_exclusions) and axis is not None:
        raise OptionError("--axis: a matched ledger or --drop-exclusions builds weeks since visitation; set "
                          "[analysis] axis in the config instead", option="--axis")
    if has_units(ledger) or drop_exclusions:
        return (by_unit if has_units(ledger) else effects_without_exclusions)(
            effects_from_spells, ledger, spells, out, extraction_date=extraction_date, config=config,
            outcomes=outcomes, blocks=blocks, covariates=covariates, cluster=cluster, band=band, ri=ri,
            min_weeks=min_weeks, summary_weeks=summary_weeks, hours_week=hours_week, weeks=weeks, lang=lang,
            seed=seed, min_cell=min_cell, plot=plot, min_days=min_days, drop_bad_rows=drop_bad_rows,
            min_matched_share=min_matched_share, panel_out=panel_out, workers=workers, progress=progress,
            ratio=ratio, among_positive=among_positive)
    from trialeval._figure_options import check_figure_path, check_lang
    if lang is not None:
        check_lang(lang)
    cfg = _config(config)
    panel_settings = _panel_settings(cfg, extraction_date, weeks=weeks, min_days=min_days,
                                     min_matched_share=min_matched_share, axis=axis)
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
    import_in_background("scipy.special")      # the confidence intervals need it once the panel is built
    if not (_needs_rows(fx, covariates, cluster, band, ri) or ratio or among_positive):
        result = _build(ledger, spells, panel_settings, drop_bad_rows=drop_bad_rows, out=panel_out,
                        workers=workers, progress=progress, design=_design(cfg))
        written = _written([panel_out, layout.panel_at_risk(panel_out) if panel_out is not None else None])
        if rejects is not None:
            written += (write_table(result.rejects, rejects),)
        curves, files = _curves_from_sums(result, out, fx, plot, inputs)
        return Step(curves, written + files, fx.lang)
    if kernel_effects_possible(ledger, spells, fx, panel_out=panel_out, covariates=covariates, cluster=cluster,
                               band=band, ri=ri, ratio=ratio, among_positive=among_positive):
        step = kernel_effects(ledger, spells, out, panel_settings, fx, config=config, band=band, plot=plot,
                              rejects=rejects, drop_bad_rows=drop_bad_rows, workers=workers, progress=progress,
                              inputs=inputs)
        if step is not None:
            return step
    return _effects_via_file(ledger, spells, out, panel_out, panel_settings, config=config, rejects=rejects,
                             drop_bad_rows=drop_bad_rows, workers=workers, progress=progress,
                             options=dict(outcomes=outcomes, blocks=blocks, covariates=covariates,
                                          cluster=cluster, band=band, ri=ri, min_weeks=min_weeks,
                                          summary_weeks=summary_weeks, hours_week=hours_week, weeks=weeks,
                                          lang=lang, seed=seed, min_cell=min_cell, plot=plot, ratio=ratio,
                                          among_positive=among_positive))


def _outcome_list(settings: AnalysisSettings, columns: Callable[[], Sequence[str]]) -> list[str] | None:
    """The outcomes asked for; by default (None) the built-in ones, and the declared ones when the trial
    declares outcomes (``columns()`` gives the panel's columns)."""
    if settings.outcomes is not None:
        return list(settings.outcomes)
    if not settings.declared_outcomes:
        return None
    present = set(columns())
    return [c for c in (*KNOWN_OUTCOMES, *(o.name for o in settings.declared_outcomes)) if c in present]


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
        panel_result, _outcome_list(settings, lambda: panel_result.outcomes),
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
                       progress=progress, design=_design(_config(config)), week_sums=False)
        kept = _written([panel_out, layout.panel_at_risk(panel_out) if panel_out is not None else None,
                         layout.panel_rejects(panel_out) if panel_out is not None and drop_bad_rows else None])
        if rejects is not None:
            kept += (write_table(built.rejects, rejects),)
        step = effects(path, out, config=config, **options)
        return Step(step.result, kept + step.written, step.lang)
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)


# --------------------------------------------------------------------------------------------------
# costs

#: Seed of the cost draws when neither ``--seed`` nor a trial config gives one.
COSTS_SEED = 20160301


def costs(
    effects: PathLike, scenarios: PathLike, out: PathLike, *, plot: PathLike | None = None,
    flows: PathLike | None = None, seed: int | None = None, draws: int = 2000, tornado: str | None = None,
    lang: str | None = None, progress: Progress = None, config: PathLike | None = None,
) -> Step[CostsResult]:
    """Value an effects table under every scenario; write the table, the flows and the three figures.

    The draws behind P(net > 0) are seeded by ``seed``, else the trial's seed (``config``), else
    :data:`COSTS_SEED`, so the same call gives the same P.
    """
    from trialeval.costs import costs as value_costs, load_scenarios
    from trialeval.plots import check_figure_path, check_lang, save_figure
    settings = AnalysisSettings.from_config(_config(config), lang=lang, seed=seed)
    check_lang(settings.lang)
    figures = layout.cost_figures(plot) if plot is not None else {}
    check_outputs([("--out", out), ("--flows", flows)] + [("--plot", path) for path in figures.values()],
                  [("--effects", effects), ("--scenarios", scenarios), ("--config", config)])
    if plot is not None:
        check_figure_path(plot)
    table = read_table(effects, text_columns=("outcome",))
    spec = load_scenarios(Path(scenarios), axis=axis_of_columns(table.columns))
    if tornado is not None and tornado not in {s.name for s in spec.scenarios}:
        raise OptionError(f"no scenario named {tornado!r} in {Path(scenarios).name}", option="--tornado")
    result = value_costs(table, spec, draws=draws, rng=COSTS_SEED if settings.seed is None else settings.seed,
                         source=str(effects), progress=progress)
    written = [write_export(result.to_frame(), out)]
    if flows is not None:
        written.append(write_export(result.flows, flows))
    for kind, path in figures.items():
        written.append(save_figure(result.plot(kind, scenario=tornado, lang=settings.lang), path,  # type: ignore[arg-type]
                                   lang=settings.lang))
    return Step(result, tuple(written), settings.lang)


# --------------------------------------------------------------------------------------------------
# report, demo

def report_weeks(text: str | None, option: str = "--weeks") -> tuple[int, ...] | None:
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
                          option=option) from None
    try:
        check_option("weeks", text, all(1 <= w <= MAX_WEEKS for w in chosen), f"from 1 to {MAX_WEEKS}")
    except OptionError as exc:
        raise OptionError(exc.message, option=option) from None
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
    return Step(result, _written([result.path, workbook, printed]), lang)


def demo(out_dir: PathLike = "trialeval-demo", data: PathLike | None = None, *, lang: str = "en",
         min_cell: int | None = None, progress: Progress = None) -> Step[DemoResult]:
    """Run the whole pipeline on the sample trial into ``out_dir`` (see :func:`trialeval.demo.run_demo`)."""
    from trialeval.demo import run_demo
    settings = AnalysisSettings.from_config(None, lang=lang, min_cell=min_cell)
    result = run_demo(Path(out_dir), Path(data) if data is not None else None, lang=settings.lang, min_cell=settings.min_cell, progress=progress)
    return Step(result, result.files, settings.lang)



# --------------------------------------------------------------------------------------------------
# convert

REGISTERS = ("dream", "eindkomst")


def convert(register: str, source: PathLike, out: PathLike, *, config: PathLike | None = None,
            codes: PathLike | None = None) -> Step[ConversionResult]:
    """Turn a DREAM extract or eIndkomst hours into spells in ``out`` (Parquet).

    DREAM's code map is the ``[registers.dream]`` table of ``codes`` (a TOML file holding only the map)
    or else of ``config``.
    """
    from trialeval._pipeline_registers import dream_spells
    from trialeval.registers import convert_eindkomst
    if register not in REGISTERS:
        raise OptionError(f"register must be one of {', '.join(REGISTERS)}; got {register!r}")
    cfg = _config(config)
    check_outputs([("--out", out)], [("IN", source), ("--config", config), ("--codes", codes)])
    if Path(out).suffix.lower() not in (".parquet", ".pq"):
        raise OptionError(f"--out {out}: spells are written as Parquet; give a .parquet file")
    if register == "dream":
        result = dream_spells(source, cfg, codes, out, what=f"{config or '--config'}: converting DREAM")
    else:
        result = convert_eindkomst(source, out, rename=cfg.columns if cfg is not None else None)
    return Step(result, (Path(out),))


from trialeval._pipeline_compare import (balance_population, by_unit, carry_exclusions_note,  # noqa: E402,F401
                                       effects_without_exclusions, has_units, is_matched, match,
                                       panel_without_exclusions, verify_matched)
