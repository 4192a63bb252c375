"""``trialeval demo``: the whole pipeline on the sample trial that ships with trialeval."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from trialeval import pipeline
from trialeval.cli._app import app, console_lang, say, user_errors
from trialeval.cli._progress import progress_bar


@app.command("demo")
def demo_command(
    out_dir: Path = typer.Option(Path("trialeval-demo"), "--dir", help="Output folder (created if needed)."),
    data: Optional[Path] = typer.Option(None, "--data", help="Folder holding a sample trial [the one that ships "
                                                              "with trialeval]."),
    lang: str = typer.Option("en", "--lang", help="Language of figures and report: en or da."),
    min_cell: Optional[int] = typer.Option(None, "--min-cell", min=0,
                                           help="Suppress exported cells of fewer persons [5]."),
) -> None:
    """Run draw, verify, balance, panel, effects, costs and report on the sample trial, all into --dir.

    Example: trialeval demo --dir output
    """
    with user_errors(), progress_bar("Running the sample trial") as progress:
        step = pipeline.demo(out_dir, data, lang=lang, min_cell=min_cell, progress=progress)
    say(step.summary(console_lang()))   # the demo's summary lists the files it wrote
