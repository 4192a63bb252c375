"""``trialeval convert``: DREAM or eIndkomst register files turned into spells."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from trialeval import pipeline
from trialeval.cli._app import app, console_lang, say, say_written, user_errors


@app.command("convert")
def convert(
    register: str = typer.Argument(..., help="Which register: dream or eindkomst."),
    source: Path = typer.Argument(..., help="The register file (CSV or Parquet)."),
    out: Path = typer.Option(..., "--out", help="Spells to write (.parquet)."),
    codes: Optional[Path] = typer.Option(
        None, "--codes", help="TOML file with the DREAM code map (a registers.dream table), instead of --config."),
    config: Optional[Path] = typer.Option(
        None, "--config", help="trial.toml: the DREAM code map (registers.dream table) and column names (columns table)."),
) -> None:
    """Turn a register file into spells that panel and effects read.

    DREAM (one row per person, one column per ISO week holding a status code): each run of consecutive
    weeks whose codes map to the same spell type becomes one spell from its first Monday to its last
    Sunday. eIndkomst (person_id, month YYYY-MM, hours): each month with hours becomes an ordinary-hours
    spell over the month, hours_per_week = hours × 7 / days in the month, so the panel gives back the
    month's hours.

    Example: trialeval convert dream dream.csv --config trial.toml --out spells.parquet
    """
    with user_errors():
        step = pipeline.convert(register, source, out, config=config, codes=codes)
    say(lambda: step.summary(console_lang()))
    say_written(step.written)
