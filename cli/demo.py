"""``trialeval demo``: the whole pipeline on sample_data/."""

from __future__ import annotations

from pathlib import Path

import typer

from trialeval.cli._app import app, user_errors
from trialeval.cli._progress import progress_bar
from trialeval.demo import run_demo


@app.command("demo")
def demo_command(
    out_dir: Path = typer.Option(Path("trialeval-demo"), "--dir", help="Output folder (created if needed)."),
    data: Path = typer.Option(Path("sample_data"), "--data", help="Folder holding the sample trial."),
) -> None:
    """Run draw, verify and the later steps on the sample trial and write every output into --dir.

    Example: trialeval demo --dir output
    """
    with user_errors(), progress_bar("Running the sample trial") as progress:
        result = run_demo(out_dir, data, progress=progress)
    typer.echo(result.summary())
