"""``trialeval report``: one self-contained HTML page from the outputs in a folder."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from trialeval import pipeline
from trialeval.cli._app import app, console_lang, renamed, say, user_errors


@app.command("report")
def report_command(
    config: Path = typer.Option(..., "--config", help="The trial config, trial.toml."),
    out_dir: Path = typer.Option(..., "--dir", help=f"Folder with the steps' outputs; {pipeline.layout.REPORT} is written there."),
    lang: str = typer.Option("en", "--lang", help="Language of the page: en or da."),
    weeks: Optional[str] = typer.Option(None, "--table-weeks", help="Weeks in the effect table, e.g. 13,26,35,52."),
    old_weeks: Optional[str] = typer.Option(None, "--weeks", hidden=True, help="Old name of --table-weeks."),
    min_cell: Optional[int] = typer.Option(None, "--min-cell", min=0,
                                           help="Suppress cells of fewer persons (default: config's, else 5)."),
    xlsx: bool = typer.Option(False, "--xlsx", help=f"Also gather the tables into DIR/{pipeline.layout.WORKBOOK}, a sheet each."),
    pdf: bool = typer.Option(False, "--pdf", help="Also print the page to DIR/report.pdf (A4) with headless Chromium."),
) -> None:
    """Build the report page: trial summary, balance, effect figures and table, hours, costs, provenance.

    Example: trialeval report --config sample_data/trial.toml --dir output --lang da
    """
    with user_errors():
        chosen = pipeline.report_weeks(renamed(weeks, old_weeks, "--table-weeks", "--weeks"),
                                       option="--weeks" if weeks is None else "--table-weeks")
        step = pipeline.report(config, out_dir, lang=lang, weeks=chosen, min_cell=min_cell, xlsx=xlsx,
                               pdf=pdf)
    say(lambda: step.summary(console_lang()))
    if xlsx:
        say(f"Tables gathered in {step.written[1]}.")
    if pdf:
        say(f"Printed to {step.written[-1]}.")
