"""``trialeval demo``: the whole pipeline on sample_data/."""

from __future__ import annotations

from pathlib import Path

import typer

from trialeval.cli._app import app, say, user_errors
from trialeval.cli._progress import progress_bar
from trialeval.demo import run_demo


@app.command("demo")
def demo_command(
    out_dir: Path = typer.Option(Path("trialeval-demo"), "--dir", help="Output folder (created if needed)."),
    data: Path = typer.Option(Path("sample_data"), "--data", help="Folder holding the sample trial."),
    lang: str = typer.Option("en", "--lang", help="Language of figures and report: en or da."),
    min_cell: int = typer.Option(5, "--min-cell", min=0, help="Suppress exported cells of fewer persons."),
) -> None:
    """Run draw, verify, balance, panel, effects, costs and report on the sample trial, all into --dir.

    Example: trialeval demo --dir output
    """
    with user_errors(), progress_bar("Running the sample trial") as progress:
        result = run_demo(out_dir, data, lang=lang, min_cell=min_cell, progress=progress)
    say(result.summary())
