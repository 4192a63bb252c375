"""``trialeval effects``: effect curves, their tables and figures."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from trialeval import pipeline
from trialeval.cli._app import app, say, say_written, user_errors
from trialeval.cli._progress import progress_bar


def _split(text: Optional[str]) -> Optional[list[str]]:
    return [p.strip() for p in text.split(",") if p.strip()] if text else None


@app.command("effects")
def effects_command(
    panel: Path = typer.Option(..., "--panel", help="Long panel: person_id, arm, week and outcome columns."),
    out: Path = typer.Option(..., "--out", help="Effect table (.csv, .parquet or .xlsx); small cells suppressed."),
    config: Optional[Path] = typer.Option(
        None, "--config", help="trial.toml; its analysis section gives defaults (outcomes, weeks, min_cell_size…)."),
    outcomes: Optional[str] = typer.Option(None, "--outcomes", help="Comma-separated outcome columns."),
    blocks: Optional[str] = typer.Option(None, "--blocks", help="Block column: estimatr's blocked estimator."),
    covariates: Optional[str] = typer.Option(None, "--covariates", help="Comma-separated covariates (Lin 2013)."),
    cluster: Optional[str] = typer.Option(None, "--cluster", help="Cluster column: CR2, Bell–McCaffrey df."),
    band: bool = typer.Option(False, "--band", help="Add a sup-t simultaneous 95 % band."),
    ri: int = typer.Option(0, "--ri", help="Randomisation-inference draws (0 = none)."),
    min_weeks: Optional[int] = typer.Option(None, "--min-weeks", help="Fixed cohort: persons followed >= K weeks."),
    summary_weeks: Optional[int] = typer.Option(None, "--summary-weeks", help="Average effect over weeks 1-K."),
    hours_week: Optional[int] = typer.Option(None, "--hours-week", help="Hours distribution at this week."),
    weeks: Optional[int] = typer.Option(None, "--weeks", help="Report weeks 1-N (default: every week >= 1)."),
    lang: Optional[str] = typer.Option(None, "--lang", help="Figure language: en or da."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed of the band and RI draws (default: the trial seed)."),
    min_cell: Optional[int] = typer.Option(None, "--min-cell", help="Smallest exported cell (default 5)."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Figure base name: writes BASE_<outcome>.png and .pdf."),
    workers: Optional[int] = typer.Option(
        None, "--workers", min=1, help="Threads reading the panel file at once (default: every core)."),
) -> None:
    """Per week since visitation: arm means, the effect and its 95 % CI, per outcome.

    Writes OUT (small cells suppressed) and, when asked for, OUT_summary, OUT_band, OUT_hours and
    OUT_dropped_blocks beside it; with --plot effects.png one figure per outcome,
    effects_<outcome>.png and .pdf (and effects_hours.png/.pdf with --hours-week).

    Example: trialeval effects --panel panel.parquet --config trial.toml --band --summary-weeks 26
    --out effects.csv --plot effects.png
    """
    with user_errors(), progress_bar("Effects") as progress:
        step = pipeline.effects(
            panel, out, config=config, outcomes=_split(outcomes) or None, blocks=blocks or None,
            covariates=_split(covariates), cluster=cluster, band=band, ri=ri, min_weeks=min_weeks,
            summary_weeks=summary_weeks, hours_week=hours_week, weeks=weeks, lang=lang, seed=seed,
            min_cell=min_cell, plot=plot, progress=progress, workers=workers,
        )
    say(step.summary())
    say_written(step.written)
