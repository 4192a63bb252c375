"""``trialeval target``: a target population over calendar time, by site group, with the two-period
difference in differences; ``trialeval curves``: descriptive curves of declared groups."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from trialeval import pipeline
from trialeval.cli._app import app, console_lang, say, say_written, user_errors


@app.command("target")
def target(
    population: Path = typer.Option(..., "--population", help="One row per person: person_id, the site and the site group."),
    spells: Path = typer.Option(..., "--spells", help="Register spells (or a converted DREAM extract)."),
    config: Path = typer.Option(..., "--config", help="trial.toml with [target] (rule, from, to, site_group, …)."),
    extraction_date: Optional[str] = typer.Option(
        None, "--extraction-date", help="Last day of the register extract, YYYY-MM-DD (or from --config)."),
    out: str = typer.Option(..., "--out", help="Prefix (results/stv gives results/stv_curves.csv …) or folder (results/)."),
    lang: Optional[str] = typer.Option(None, "--lang", help="Language of the figures and summary: en or da."),
    min_cell: Optional[int] = typer.Option(None, "--min-cell", min=0, help="Smallest cell shown [5]."),
) -> None:
    """Follow a target population over calendar weeks or months, by site group.

    A person enters the gross group in the first period the [target] rule holds and stays in it; a
    person-period is in the narrow group when the rule holds that period. Writes the curves (mean and
    persons followed per site group and period), with before/after the difference in differences of the
    site groups' changes (CR2 standard errors clustered by site), and a figure per outcome. This compares
    groups of sites over time, not a lottery. Example: trialeval target --population population.csv
    --spells spells.csv --config trial.toml --extraction-date 2017-06-30 --out results/
    """
    with user_errors():
        step = pipeline.target(population, spells, config, extraction_date, out, lang=lang, min_cell=min_cell)
    say(lambda: step.summary(console_lang()))
    say_written(step.written)


@app.command("curves")
def curves(
    panel: Path = typer.Option(..., "--panel", help="Panel file (from trialeval panel), on any time axis."),
    ledger: Path = typer.Option(..., "--ledger", help="One row per person with the columns the group filters name."),
    config: Path = typer.Option(..., "--config", help="trial.toml with [curves.groups] (and [curves.labels])."),
    out: Path = typer.Option(..., "--out", help="Table to write (.csv or .xlsx)."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Figure per outcome: curves.png gives curves_<outcome>.png."),
    outcomes: Optional[str] = typer.Option(None, "--outcomes", help="Outcome columns, comma-separated."),
    lang: Optional[str] = typer.Option(None, "--lang", help="Language of the figures and summary: en or da."),
    min_cell: Optional[int] = typer.Option(None, "--min-cell", min=0, help="Smallest cell shown [5]."),
) -> None:
    """Descriptive curves for groups that may overlap: mean and persons followed per group and period.

    No effect and no confidence interval is computed between the groups. Example: trialeval curves
    --panel panel.parquet --ledger ledger.csv --config trial.toml --out curves.csv --plot curves.png
    """
    with user_errors():
        names = [o.strip() for o in outcomes.split(",") if o.strip()] if outcomes else None
        step = pipeline.curves(panel, ledger, config, out, plot=plot, outcomes=names, lang=lang, min_cell=min_cell)
    say(lambda: step.summary(console_lang()))
    say_written(step.written)
