"""``trialeval match``: a matched comparison group for the programme group of a ledger."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from trialeval import pipeline
from trialeval.cli._app import app, console_lang, say, say_written, user_errors


@app.command("match")
def match(
    ledger: Path = typer.Option(..., "--ledger", help="Ledger whose programme group is to be matched."),
    population: Path = typer.Option(..., "--population", help="Register population the candidates come from."),
    spells: Path = typer.Option(..., "--spells", help="Spells, for the history covariates."),
    config: Path = typer.Option(..., "--config", help="trial.toml with eligibility rules and a [matching] table."),
    out: Path = typer.Option(..., "--out", help="The matched ledger to write (a new file, .csv)."),
    keep_excluded: bool = typer.Option(False, "--keep-excluded", help="Also match persons excluded after the draw."),
    date: Optional[str] = typer.Option(None, "--date", help="Date recorded in the manifest, YYYY-MM-DD [today]."),
) -> None:
    """Match each programme person to candidates eligible at that person's visitation date.

    Candidates meet the trial's eligibility rules, are not in the ledger and (unless [matching]
    same_municipalities = true) live outside the programme's municipalities. Matching is exact on the
    visitation month and the [matching] exact columns, then greedy nearest neighbour on the logit
    propensity score of the [matching] covariates and spell history, highest score first, 1:ratio,
    caliper in standard deviations of the logit (default 0.2), with or without replacement ([matching]
    replace); or ATT odds weighting ([matching] method = "weighting"). The result is a new ledger (arm
    programme or comparison, weight, match_id, pseudo visitation dates, and unit_id when a person has
    several rows) with a manifest line; trialeval verify replays it.

    Example: trialeval match --ledger ledger.csv --population population.csv --spells spells.csv
    --config trial.toml --out comparison.csv
    """
    with user_errors():
        step = pipeline.match(ledger, population, spells, config, out, keep_excluded=keep_excluded, date=date)
    say(lambda: step.summary(console_lang()))
    say_written(step.written)
