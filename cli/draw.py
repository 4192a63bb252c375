"""``trialeval draw``, ``verify``, ``exclude`` and ``power``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from trialeval import pipeline
from trialeval.cli._app import app, console_lang, say, user_errors


@app.command("draw")
def draw_command(
    population: Path = typer.Option(..., "--population", help="Candidates: CSV, Parquet, .dta or .sas7bdat."),
    config: Path = typer.Option(..., "--config", help="The trial config, trial.toml."),
    ledger: Path = typer.Option(..., "--ledger", help="Assignments ledger (created on the first wave)."),
    request: list[str] = typer.Option(..., "--request", help="Programme places, MUNICIPALITY=N; repeat per site."),
    date: str = typer.Option(..., "--date", help="The wave's visitation date, YYYY-MM-DD."),
    design_change: Optional[str] = typer.Option(
        None, "--design-change", metavar="REASON",
        help="Allow this wave's seed, share, eligibility rules or strata to differ from the earlier waves'; "
             "the reason is recorded in the manifest."),
    lock_timeout: float = typer.Option(
        pipeline.DEFAULT_LOCK_TIMEOUT, "--lock-timeout", min=0, metavar="SECONDS",
        help="How long to wait for another draw or exclusion writing the same ledger."),
) -> None:
    """Draw one wave: sample ceil(N / share) eligible candidates per municipality and assign arms.

    Example: trialeval draw --population pop.csv --config trial.toml --ledger ledger.csv
    --request Aarhus=10 --request Odense=4 --date 2016-03-01
    """
    with user_errors():
        step = pipeline.draw(population, config, ledger, request, date, design_change=design_change,
                             lock_timeout=lock_timeout)
    say(lambda: step.summary(console_lang()))


@app.command("verify")
def verify_command(
    population: list[Path] = typer.Option(
        ..., "--population",
        help="The population file the waves were drawn from; repeat it when waves had their own extracts "
             "(each wave is matched to its file by SHA-256)."),
    config: Path = typer.Option(..., "--config", help="The trial config, trial.toml."),
    ledger: Path = typer.Option(..., "--ledger", help="The ledger to check (its manifest sits beside it)."),
    spells: Optional[Path] = typer.Option(
        None, "--spells", help="For a ledger written by trialeval match: the spells it was matched with."),
    programme_ledger: Optional[Path] = typer.Option(
        None, "--programme-ledger",
        help="For a ledger written by trialeval match: the ledger whose programme group was matched."),
) -> None:
    """Replay every wave from the manifest and confirm the ledger, or report every difference (exit 1).

    A ledger written by trialeval match is replayed instead: the matching is run again from the files it
    was made from (--programme-ledger, --population, --spells, --config; their SHA-256 must be the
    recorded ones) and the ledger is compared with the replay row by row.

    Example: trialeval verify --population pop_march.csv --population pop_april.csv --config trial.toml
    --ledger ledger.csv
    """
    with user_errors():
        step = pipeline.verify(population, config, ledger, spells=spells, programme_ledger=programme_ledger)
    if not step.result.ok:
        typer.echo(step.summary(console_lang()), err=True)
        raise typer.Exit(1)
    say(lambda: step.summary(console_lang()))


@app.command("exclude")
def exclude_command(
    ledger: Path = typer.Option(..., "--ledger", help="The ledger to record the exclusion in."),
    person: str = typer.Option(..., "--person", help="The person_id to exclude."),
    reason: str = typer.Option(..., "--reason", help="Reason code, e.g. prison, health, already_active."),
    date: Optional[str] = typer.Option(None, "--date", help="Date of the exclusion, YYYY-MM-DD (default today)."),
    lock_timeout: float = typer.Option(
        pipeline.DEFAULT_LOCK_TIMEOUT, "--lock-timeout", min=0, metavar="SECONDS",
        help="How long to wait for another draw or exclusion writing the same ledger."),
) -> None:
    """Record a post-draw exclusion; the person stays in the ledger (intention-to-treat by default).

    Example: trialeval exclude --ledger ledger.csv --person P000123 --reason health --date 2016-05-02
    """
    with user_errors():
        pipeline.exclude(ledger, person, reason, date, lock_timeout=lock_timeout)
    say(f"Excluded {person} ({reason}); the row stays in {ledger}.")


@app.command("power")
def power_command(
    n: int = typer.Option(..., "--n", help="Planned number of persons, both arms."),
    share: float = typer.Option(0.5, "--share", help="Share assigned to treatment."),
    sd: Optional[float] = typer.Option(None, "--sd", help="Outcome standard deviation (continuous outcome)."),
    proportion: Optional[float] = typer.Option(None, "--proportion", help="Baseline proportion (binary outcome)."),
    alpha: float = typer.Option(0.05, "--alpha", help="Two-sided significance level."),
    power: float = typer.Option(0.8, "--power", help="Power."),
) -> None:
    """Minimum detectable effect for a planned trial.

    Example: trialeval power --n 4800 --proportion 0.07
    """
    with user_errors():
        step = pipeline.power(n, share=share, sd=sd, proportion=proportion, alpha=alpha, power=power)
    say(lambda: step.summary(console_lang()))
