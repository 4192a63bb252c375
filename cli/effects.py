"""``trialeval effects``: effect curves, their tables and figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from trialeval import pipeline
from trialeval.cli._app import app, console_lang, renamed, say, say_written, user_errors
from trialeval.pipeline import OptionError
from trialeval.cli._progress import progress_bar


def _split(text: Optional[str]) -> Optional[list[str]]:
    return [p.strip() for p in text.split(",") if p.strip()] if text else None


@app.command("effects")
def effects_command(
    panel: Optional[Path] = typer.Option(
        None, "--panel", help="Long panel: person_id, arm, week and outcome columns (or --ledger and --spells)."),
    ledger: Optional[Path] = typer.Option(
        None, "--ledger", help="Assignments ledger: build the panel on the way (with --spells), or, beside "
        "--panel, the source of --by/--subgroups columns the panel lacks."),
    spells: Optional[Path] = typer.Option(None, "--spells", help="Register spells, with --ledger."),
    extraction_date: Optional[str] = typer.Option(
        None, "--extraction-date", help="With --spells: last day of the register extract, YYYY-MM-DD."),
    min_days: Optional[int] = typer.Option(None, "--min-days", help="With --spells: days a spell needs to cover a week [1]."),
    axis: Optional[str] = typer.Option(
        None, "--axis", help="With --spells: how periods are counted, weeks_since_visitation, months_since_visitation, "
        "calendar_week or calendar_month [the config's, else weeks]; a panel file's period column gives its own."),
    drop_bad_rows: bool = typer.Option(
        False, "--drop-bad-rows", help="With --spells: drop bad rows into <out>_rejects.csv instead of stopping."),
    min_matched_share: Optional[float] = typer.Option(
        None, "--min-matched-share", min=0.0, max=1.0,
        help="With --spells: least share of the ledger's persons with a spell [0.5]."),
    panel_out: Optional[Path] = typer.Option(
        None, "--panel-out", help="With --spells: also write the long panel here (.parquet or .csv)."),
    workers: Optional[int] = typer.Option(
        None, "--workers", min=1, help="Threads that build the panel or read the panel file [every core]."),
    out: Path = typer.Option(..., "--out", help="Effect table (.csv, .parquet or .xlsx); small cells suppressed."),
    config: Optional[Path] = typer.Option(
        None, "--config", help="trial.toml; its analysis section gives defaults (outcomes, weeks, min_cell_size…)."),
    outcomes: Optional[str] = typer.Option(None, "--outcomes", help="Comma-separated outcome columns."),
    blocks: Optional[str] = typer.Option(None, "--blocks", help="Block column: estimatr's blocked estimator."),
    covariates: Optional[str] = typer.Option(None, "--covariates", help="Comma-separated covariates (Lin 2013)."),
    cluster: Optional[str] = typer.Option(None, "--cluster", help="Cluster column: CR2, Bell–McCaffrey df."),
    band: bool = typer.Option(False, "--band", help="Add a sup-t simultaneous 95 % band."),
    ratio: bool = typer.Option(
        False, "--ratio", help="Also the ratio of the groups' means with a delta-method CI (OUT_ratio)."),
    among_positive: bool = typer.Option(
        False, "--among-positive", help="Also the mean among those with the outcome above zero (OUT_positive)."),
    ri: int = typer.Option(0, "--ri", help="Randomisation-inference draws (0 = none)."),
    min_weeks: Optional[int] = typer.Option(None, "--min-weeks", help="Fixed cohort: persons followed >= K weeks."),
    summary_weeks: Optional[int] = typer.Option(None, "--summary-weeks", help="Average effect over weeks 1-K."),
    hours_week: Optional[int] = typer.Option(None, "--hours-week", help="Hours distribution at this week."),
    weeks: Optional[int] = typer.Option(None, "--last-week", help="Report weeks 1-N (default: every week >= 1); "
                                        "with --spells also the weeks built."),
    old_weeks: Optional[int] = typer.Option(None, "--weeks", hidden=True, help="Old name of --last-week."),
    lang: Optional[str] = typer.Option(None, "--lang", help="Figure language: en or da."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed of the band and RI draws (default: the trial seed)."),
    min_cell: Optional[int] = typer.Option(None, "--min-cell", help="Smallest exported cell (default 5)."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Figure base name: writes BASE_<outcome>.png and .pdf."),
    by: Optional[str] = typer.Option(
        None, "--by", help="Site column (e.g. municipality): effect per site at the report weeks, OUT_sites and "
        "OUT_heterogeneity (Q, I², random-effects mean); small sites pooled into 'other'."),
    subgroups: Optional[str] = typer.Option(
        None, "--subgroups", help="Comma-separated covariates: effect per subgroup, OUT_subgroups and "
        "OUT_interactions (interaction tests, Holm-adjusted)."),
    drop_exclusions: bool = typer.Option(
        False, "--drop-exclusions", help="With --spells: leave out persons excluded after the draw (with a "
        "warning: the comparison then no longer rests on the lottery alone)."),
    did: bool = typer.Option(False, "--did", help="Comparison design: difference in differences (with --baseline)."),
    baseline: Optional[int] = typer.Option(None, "--baseline", min=1, help="With --did: baseline = mean of periods -P..-1."),
    twfe: bool = typer.Option(False, "--twfe", help="Two-way fixed-effects event study of --unit over periods."),
    unit: Optional[str] = typer.Option(None, "--unit", help="With --twfe: the unit column (e.g. site)."),
    window: Optional[str] = typer.Option(None, "--window", help="With --twfe: event times FIRST:LAST, outside binned."),
    matches: Optional[Path] = typer.Option(None, "--matches", help="Matched ledger: match_id per person (comparison)."),
) -> None:
    """Per week since visitation: arm means, the effect and its 95 % CI, per outcome.

    Writes OUT (small cells suppressed) and, when asked for, OUT_summary, OUT_band, OUT_hours and
    OUT_dropped_blocks beside it; with --plot effects.png one figure per outcome,
    effects_<outcome>.png and .pdf (and effects_hours.png/.pdf with --hours-week).

    With --ledger and --spells instead of --panel the panel is built on the way and the curves come
    from the sums gathered while it is built, without writing it (unless --panel-out), also with
    --summary-weeks and --band; options that need the rows (--blocks, --covariates, --cluster, --ri,
    --hours-week) build it to a temporary file first.

    Example: trialeval effects --panel panel.parquet --config trial.toml --band --summary-weeks 26
    --out effects.csv --plot effects.png

    With --by and/or --subgroups the effects per site and subgroup at the report weeks are written
    beside OUT too, with a caterpillar and a forest plot (BASE_sites_<outcome>.png,
    BASE_subgroups_<outcome>.png) with --plot.

    Example: trialeval effects --ledger ledger.csv --spells spells.parquet --extraction-date 2018-12-31
    --last-week 104 --out effects.csv

    A comparison design (--matches with the matched ledger, --did, --twfe) gives the weighted difference
    with CR2 standard errors by match_id, or with --did --baseline P the difference in differences, and
    writes OUT_event_study and OUT_pretrend (the pre-trend test) beside OUT.

    Example: trialeval effects --panel panel.parquet --config trial.toml --did --baseline 26 --out effects.csv
    """
    common: dict[str, Any] = dict(config=config, outcomes=_split(outcomes) or None, blocks=blocks or None,
                  covariates=_split(covariates), cluster=cluster, band=band, ri=ri, min_weeks=min_weeks,
                  summary_weeks=summary_weeks, hours_week=hours_week, lang=lang, seed=seed,
                  min_cell=min_cell, plot=plot, ratio=ratio, among_positive=among_positive)
    with user_errors():
        if pipeline.comparison_requested(did=did, twfe=twfe, matches=matches):
            step = pipeline.effects_comparison(
                _one_panel(panel), out, config=config, outcomes=_split(outcomes), did=did, baseline=baseline,
                twfe=twfe, unit=unit, window=_window(window), matches=matches,
                weeks=renamed(weeks, old_weeks, "--last-week", "--weeks"), lang=lang, min_cell=min_cell, plot=plot,
                ri=ri)
            sites = pipeline.site_options(config, by, _split(subgroups))
            if sites["by"] or sites["subgroups"]:
                step_sites = pipeline.by_site(_one_panel(panel), out, **sites, outcomes=_split(outcomes),
                                              ledger=ledger, config=config, plot=plot, lang=lang, min_cell=min_cell,
                                              matches=matches)
                step = pipeline.Step(step.result, step.written + step_sites.written, step.lang)
            say(lambda: step.summary(console_lang()))
            say_written(step.written)
            return
        sites: dict[str, Any] = pipeline.site_options(config, by, _split(subgroups))
    by_sites = bool(sites["by"] or sites["subgroups"])
    beside = ledger if panel is not None and spells is None and by_sites else None
    with user_errors():
        common["weeks"] = renamed(weeks, old_weeks, "--last-week", "--weeks")
        if axis is not None and (spells is None or by_sites):
            raise pipeline.OptionError("--axis sets the periods of a panel built from --spells (not with --by or "
                                       "--subgroups); a panel file's period column gives its own axis",
                                       option="--axis")
        from_spells = _source(panel, None if beside else ledger, spells, extraction_date, min_days, drop_bad_rows,
                              min_matched_share, panel_out, drop_exclusions)
    title = "Building panel and effects" if from_spells else "Effects"
    with user_errors(), progress_bar(title) as progress:
        if by_sites:
            step = (pipeline.effects_from_spells_by_site(
                ledger, spells, out, extraction_date=extraction_date, min_days=min_days,
                drop_bad_rows=drop_bad_rows, min_matched_share=min_matched_share, panel_out=panel_out,
                workers=workers, progress=progress, **sites, **common) if from_spells else
                pipeline.effects_by_site(panel, out, ledger=beside, progress=progress, workers=workers, **sites,
                                         **common))
        elif from_spells:
            step = pipeline.effects_from_spells(
                ledger, spells, out, extraction_date=extraction_date, min_days=min_days,
                drop_bad_rows=drop_bad_rows, min_matched_share=min_matched_share, panel_out=panel_out,
                workers=workers, progress=progress, drop_exclusions=drop_exclusions, axis=axis, **common)
        else:
            step = pipeline.effects(panel, out, progress=progress, workers=workers, **common)
    say(lambda: step.summary(console_lang()))
    say_written(step.written)


def _one_panel(panel: Optional[Path]) -> Path:
    if panel is None:
        raise OptionError("a comparison design is estimated from a panel file: give --panel", option="--panel")
    return panel


def _window(text: Optional[str]) -> Optional[tuple[int, int]]:
    if text is None:
        return None
    try:
        first, last = (int(p) for p in text.split(":"))
    except ValueError:
        raise OptionError(f"--window must be FIRST:LAST, e.g. -4:4; got {text!r}", option="--window") from None
    return first, last


def _source(panel: Optional[Path], ledger: Optional[Path], spells: Optional[Path], *spell_options: object) -> bool:
    """True for the curves from --ledger and --spells, False for --panel; anything else is a usage error."""
    if panel is not None and (ledger is not None or spells is not None):
        raise OptionError("give either --panel or --ledger with --spells, not both", option="--panel")
    if panel is not None:
        if any(o not in (None, False) for o in spell_options):
            raise OptionError("--extraction-date, --min-days, --drop-bad-rows, --min-matched-share, "
                              "--panel-out and --drop-exclusions build a panel: give them with --ledger and "
                              "--spells, not --panel (a panel built by trialeval panel --drop-exclusions "
                              "carries its warning into the effects)",
                              option="--panel")
        return False
    if ledger is None or spells is None:
        raise OptionError("give --panel, or --ledger with --spells to build the panel on the way",
                          option="--ledger" if ledger is None else "--spells")
    return True
