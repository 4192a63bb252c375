"""``trialeval costs``: the cost scenarios of an effects table."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from trialeval.cli._app import app, say, user_errors
from trialeval.cli._progress import progress_bar
from trialeval.costs import costs, load_scenarios
from trialeval.disclosure import write_export
from trialeval.io import check_outputs, read_table
from trialeval.plots import check_figure_path, check_lang, save_figure


def figure_paths(plot: Path) -> dict[str, Path]:
    """``costs.png`` → the J-curve there, ``costs_bars.png`` and ``costs_tornado.png`` beside it."""
    return {"jcurve": plot, "bars": plot.with_name(f"{plot.stem}_bars{plot.suffix}"),
            "tornado": plot.with_name(f"{plot.stem}_tornado{plot.suffix}")}


@app.command("costs")
def costs_command(
    effects: Path = typer.Option(..., "--effects", help="Effects table (effects.csv) written by `trialeval effects`."),
    scenarios: Path = typer.Option(..., "--scenarios", help="Scenario file, costs.toml (see docs/costs.md)."),
    out: Path = typer.Option(..., "--out", help="Output table, one row per scenario and payer (.csv/.xlsx/.parquet)."),
    plot: Optional[Path] = typer.Option(
        None, "--plot", help="J-curve figure (.png/.pdf); the bars and tornado go to <stem>_bars and <stem>_tornado."),
    flows: Optional[Path] = typer.Option(None, "--flows", help="Also write the weekly discounted flows here."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed of the draws behind P(net > 0)."),
    draws: int = typer.Option(2000, "--draws", min=0, help="Draws of the effect curves (0 = skip P(net > 0))."),
    tornado: Optional[str] = typer.Option(None, "--tornado", help="Scenario shown in the tornado (default C)."),
    lang: str = typer.Option("en", "--lang", help="Figure labels: en or da."),
) -> None:
    """Value the effects under every scenario: benefit savings, tax, costs and net result per payer.

    Example: trialeval costs --effects effects.csv --scenarios costs.toml --out costs.csv --plot costs.png --seed 1
    """
    with user_errors():
        check_lang(lang)
        check_outputs([("--out", out), ("--flows", flows)]
                      + [("--plot", path) for path in (figure_paths(plot).values() if plot is not None else ())],
                      [("--effects", effects), ("--scenarios", scenarios)])
        if plot is not None:
            check_figure_path(plot)
        table = read_table(effects, text_columns=("outcome",))
        spec = load_scenarios(scenarios)
        if tornado is not None and tornado not in {s.name for s in spec.scenarios}:
            raise typer.BadParameter(f"no scenario named {tornado!r} in {scenarios.name}", param_hint="--tornado")
        with progress_bar("costs") as progress:
            result = costs(table, spec, draws=draws, rng=seed, source=str(effects), progress=progress)
        write_export(result.to_frame(), out)
        if flows is not None:
            write_export(result.flows, flows)
        if plot is not None:
            for kind, path in figure_paths(plot).items():
                save_figure(result.plot(kind, scenario=tornado, lang=lang), path)  # type: ignore[arg-type]
    say(result.summary())
