"""``trialeval partition``: a ledger and a spells file split by person into a partitioned dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from trialeval import pipeline
from trialeval.cli._app import app, console_lang, say, say_written, user_errors
from trialeval.cli._progress import progress_bar


@app.command("partition")
def partition(
    ledger: Path = typer.Option(..., "--ledger", help="Assignments ledger (CSV, Parquet, …)."),
    spells: Path = typer.Option(..., "--spells", help="Register spells (CSV, Parquet, …)."),
    out: Path = typer.Option(..., "--out", help="Dataset folder to create (new or empty)."),
    parts: Optional[int] = typer.Option(
        None, "--parts", min=1, max=4096, help="Number of parts [about a million spells each]."),
    drop_bad_rows: bool = typer.Option(
        False, "--drop-bad-rows", help="Leave bad spell rows to the panel's --drop-bad-rows instead of stopping."),
    force: bool = typer.Option(False, "--force", help="Replace a dataset already at --out."),
    config: Optional[Path] = typer.Option(
        None, "--config", help="trial.toml: column names, date format and declared spell types."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Split the ledger and the spells by a hash of person_id into DIR/ledger/part=K and DIR/spells/part=K.

    One pass over each file, in batches, so memory does not grow with the extract. panel and effects
    take the folder as --ledger DIR --spells DIR and build it one part at a time (--engine dask: on a
    cluster).

    Example: trialeval partition --ledger ledger.csv --spells spells.parquet --out extract
    """
    with user_errors(), progress_bar("Partitioning (rows)", quiet=quiet) as progress:
        step = pipeline.partition(ledger, spells, out, parts=parts, config=config, drop_bad_rows=drop_bad_rows,
                                  force=force, progress=progress)
    say(lambda: step.summary(console_lang()))
    say_written(step.written)
