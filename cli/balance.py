"""``trialeval balance``: balance of the arms, omnibus tests, and representativeness of the drawn group."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from trialeval import pipeline
from trialeval.cli._app import app, console_lang, say, say_written, user_errors
from trialeval.cli._progress import progress_bar


def _names(text: Optional[str]) -> Optional[list[str]]:
    if text is None:
        return None
    return [name.strip() for name in text.split(",") if name.strip()]


@app.command("balance")
def balance_command(
    ledger: Path = typer.Option(..., "--ledger", help="Assignments ledger (CSV, Parquet, .dta, .sas7bdat)."),
    out: Path = typer.Option(..., "--out", help="Balance table: .csv, .xlsx, .tex or .md; "
                             f"{pipeline.layout.balance_omnibus('<stem>')} and "
                             f"{pipeline.layout.balance_representativeness('<stem>')} are written beside it."),
    population: Optional[Path] = typer.Option(None, "--population",
                                              help="Candidates: adds the drawn vs eligible-not-drawn table."),
    config: Optional[Path] = typer.Option(None, "--config", help="trial.toml: covariates, eligibility, seed."),
    covariates: Optional[str] = typer.Option(None, "--covariates",
                                             help="Comma-separated covariates (default: the config's)."),
    categorical: Optional[str] = typer.Option(None, "--categorical",
                                              help="Numeric covariates to treat as categorical, a,b."),
    strata_fe: bool = typer.Option(False, "--strata-fe", help="Block fixed effects in the F-test."),
    treated_only: bool = typer.Option(False, "--treated-only",
                                      help="Representativeness of the treatment arm only."),
    ri_draws: int = typer.Option(2000, "--ri-draws", min=0, help="Re-randomisations for the RI p-value."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed of the re-randomisations "
                                       "(default: the config's seed, else 0)."),
    format: Optional[str] = typer.Option(None, "--format",
                                         help=f"One of {', '.join(pipeline.BALANCE_FORMATS)} (default: from --out)."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Love plot, .png or .pdf."),
    min_cell: Optional[int] = typer.Option(None, "--min-cell", min=0,
                                           help="Blank cells of fewer persons (default: config's, else 5)."),
    drop_exclusions: Optional[bool] = typer.Option(None, "--drop-exclusions/--keep-exclusions",
                                                   help="Drop persons excluded after the draw (default: keep)."),
) -> None:
    """Compare the arms on background covariates (SMD, Welch / chi-square / Fisher p) with an omnibus
    F-test and its randomisation p-value; with --population also the drawn vs the eligible not drawn.

    Example: trialeval balance --ledger ledger.csv --config trial.toml --population population.csv
    --out balance.csv --plot love.png
    """
    with user_errors(), progress_bar("Randomisation inference") as progress:
        step = pipeline.balance(
            ledger, out, population=population, config=config, covariates=_names(covariates),
            categorical=_names(categorical) or (), strata_fe=strata_fe, treated_only=treated_only,
            ri_draws=ri_draws, seed=seed, format=format, plot=plot, min_cell=min_cell,
            drop_excluded=drop_exclusions, progress=progress, lang=console_lang(),
        )
    say(lambda: step.summary(console_lang()))
    say_written(step.written)
