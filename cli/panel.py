"""``trialeval panel``: the weekly person-by-week panel from a ledger and register spells."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from trialeval import pipeline
from trialeval.cli._app import app, console_lang, say, user_errors
from trialeval.cli._progress import progress_bar


@app.command("panel")
def panel(
    ledger: Path = typer.Option(
        ..., "--ledger", help="Assignments ledger (CSV, Parquet, …), or a dataset folder from trialeval partition."),
    spells: Optional[Path] = typer.Option(
        None, "--spells", help="Register spells (CSV, Parquet, …), or the dataset folder (or --dream/--eindkomst)."),
    dream: Optional[Path] = typer.Option(
        None, "--dream", help="A DREAM extract instead of --spells: one column per ISO week (code map in the config)."),
    eindkomst: Optional[Path] = typer.Option(
        None, "--eindkomst", help="eIndkomst hours per person and month instead of --spells (with --dream or alone)."),
    codes: Optional[Path] = typer.Option(None, "--codes", help="With --dream: a TOML file holding its code map."),
    out: Path = typer.Option(..., "--out", help="Panel to write: .parquet or .csv."),
    extraction_date: Optional[str] = typer.Option(
        None, "--extraction-date", help="Last day of the register extract, YYYY-MM-DD (or from --config)."),
    weeks: Optional[int] = typer.Option(
        None, "--weeks", help="Periods since visitation to build (weeks, or months on a month axis), 1–1040 [a year]."),
    pre_weeks: Optional[int] = typer.Option(
        None, "--pre-weeks", help="Periods before visitation 0, -1, …, at most 1040 [0]."),
    min_days: Optional[int] = typer.Option(
        None, "--min-days", help="Days of overlap a spell needs to cover a period, 1–7 (1–28 for months) [1]."),
    axis: Optional[str] = typer.Option(
        None, "--axis", help="How periods are counted: weeks_since_visitation, months_since_visitation, "
        "calendar_week or calendar_month [weeks_since_visitation]."),
    period_from: Optional[str] = typer.Option(
        None, "--from", help="Calendar axes: first period, e.g. 2016-W43 or 2016-10 [the earliest visitation]."),
    period_to: Optional[str] = typer.Option(
        None, "--to", help="Calendar axes: last period [the last one ending by the extraction date]."),
    drop_bad_rows: bool = typer.Option(
        False, "--drop-bad-rows", help="Drop bad rows into <out>_rejects.csv instead of stopping."),
    min_matched_share: Optional[float] = typer.Option(
        None, "--min-matched-share", min=0.0, max=1.0,
        help="Stop unless at least this share of the ledger's persons have a spell (0 = no check) [0.5]."),
    config: Optional[Path] = typer.Option(
        None, "--config", help="trial.toml: extraction_date, weeks, … and column names."),
    effects_out: Optional[Path] = typer.Option(
        None, "--effects-out", help="Also write the effect curves here, from the sums gathered on the way."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="Threads that build the panel [every core]."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
    engine: str = typer.Option(
        "local", "--engine", help="local, or dask: the parts of a partitioned dataset on a Dask cluster."),
    scheduler: Optional[str] = typer.Option(
        None, "--scheduler", help="With --engine dask: scheduler address, e.g. tcp://host:8786 [a local cluster]."),
    drop_exclusions: bool = typer.Option(
        False, "--drop-exclusions", help="Leave out persons excluded after the draw (with a warning: the "
        "comparison then no longer rests on the lottery alone)."),
) -> None:
    """Build one row per observed person and period with the panel's outcomes and the number at risk.

    Example: trialeval panel --ledger ledger.csv --spells spells.csv --extraction-date 2016-12-31
    --weeks 52 --out panel.parquet

    With --effects-out the effect curves (the config's effects settings) are written as well, as
    trialeval effects --panel would write them from the panel.
    """
    with user_errors(), progress_bar("Building panel", quiet=quiet) as progress:
        step = pipeline.panel(
            ledger, spells, out, config=config, extraction_date=extraction_date, weeks=weeks,
            pre_weeks=pre_weeks, min_days=min_days, drop_bad_rows=drop_bad_rows,
            min_matched_share=min_matched_share, effects_out=effects_out, workers=workers, progress=progress,
            engine=engine, scheduler=scheduler, dream=dream, eindkomst=eindkomst, codes=codes,
            drop_exclusions=drop_exclusions, axis=axis, period_from=period_from, period_to=period_to,
            week_sums=False,
        )
    say(lambda: step.summary(console_lang()))
    for path in step.written:
        say(f"wrote {path}")
