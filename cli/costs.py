"""``trialeval costs``: the cost scenarios of an effects table."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from trialeval import pipeline
from trialeval.cli._app import app, console_lang, say, say_written, user_errors
from trialeval.cli._progress import progress_bar


@app.command("costs")
def costs_command(
    effects: Path = typer.Option(..., "--effects", help="Effects table (effects.csv) written by `trialeval effects`."),
    scenarios: Path = typer.Option(..., "--scenarios", help="Scenario file, costs.toml (see docs/costs.md)."),
    out: Path = typer.Option(..., "--out", help="Output table, one row per scenario and payer (.csv/.xlsx/.parquet)."),
    plot: Optional[Path] = typer.Option(
        None, "--plot", help="J-curve figure (.png/.pdf); the bars and tornado go to <stem>_bars and <stem>_tornado."),
    flows: Optional[Path] = typer.Option(None, "--flows", help="Also write the weekly discounted flows here."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed of the draws behind P(net > 0) "
                                       f"(default: the --config trial's seed, else {pipeline.COSTS_SEED})."),
    config: Optional[Path] = typer.Option(None, "--config", help="trial.toml: the seed and the language."),
    draws: int = typer.Option(2000, "--draws", min=0, help="Draws of the effect curves (0 = skip P(net > 0))."),
    tornado: Optional[str] = typer.Option(None, "--tornado", help="Scenario shown in the tornado (default C)."),
    lang: Optional[str] = typer.Option(None, "--lang", help="Figure labels: en or da [en]."),
) -> None:
    """Value the effects under every scenario: benefit savings, tax, costs and net result per payer.

    Example: trialeval costs --effects effects.csv --scenarios costs.toml --out costs.csv --plot costs.png --seed 1
    """
    with user_errors(), progress_bar("costs") as progress:
        step = pipeline.costs(effects, scenarios, out, plot=plot, flows=flows, seed=seed, draws=draws,
                              tornado=tornado, lang=lang, progress=progress,
                              config=config)
    say(lambda: step.summary(console_lang()))
    say_written(step.written)
