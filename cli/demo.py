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
    design: str = typer.Option("randomised", "--design", help="Sample trial: randomised, or comparison (a selection "
                                                             "draw, a matched comparison group, DiD)."),
) -> None:
    """Run draw, verify, balance, panel, effects, costs and report on the sample trial, all into --dir.

    Example: trialeval demo --dir output

    With --design comparison: the comparison-design sample trial (a selection draw in five municipalities,
    a matched comparison group from five others, the panel with pre-weeks, difference in differences with
    the pre-trend test, the report), by default into trialeval-demo-comparison.

    Example: trialeval demo --design comparison --dir output-comparison
    """
    if design not in ("randomised", "comparison"):
        with user_errors():
            raise pipeline.OptionError(f"--design must be randomised or comparison; got {design!r}", option="--design")
    with user_errors(), progress_bar("Running the sample trial") as progress:
        if design == "comparison":
            target = out_dir if out_dir != Path("trialeval-demo") else Path("trialeval-demo-comparison")
            step = pipeline.demo_comparison(target, data, lang=lang, min_cell=min_cell, progress=progress)
        else:
            step = pipeline.demo(out_dir, data, lang=lang, min_cell=min_cell, progress=progress)
    say(lambda: step.summary(console_lang()))   # the demo's summary lists the files it wrote
