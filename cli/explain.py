"""``trialeval explain``: a result per site regressed on site factors, or who gets there (``--person``)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from trialeval import pipeline
from trialeval.cli._app import app, console_lang, say, say_written, user_errors
from trialeval.pipeline import OptionError


def _split(text: Optional[str]) -> Optional[list[str]]:
    return [p.strip() for p in text.split(",") if p.strip()] if text else None


@app.command("explain")
def explain(
    panel: Path = typer.Option(..., "--panel", help="Panel file (from trialeval panel)."),
    site_factors: Optional[Path] = typer.Option(
        None, "--site-factors", help="One row per site: the site column and its factors (not with --person)."),
    out: Path = typer.Option(..., "--out", help="Coefficient table to write (.csv or .xlsx)."),
    outcome: str = typer.Option(..., "--outcome", help="Outcome column of the panel."),
    week: int = typer.Option(..., "--week", min=1, help="The period the result is taken at."),
    by: str = typer.Option("municipality", "--by", help="Column naming the site, in panel and factors file."),
    measure: str = typer.Option("share", "--measure",
                                help="share (programme group's mean), change (since --from-week) or effect."),
    from_week: Optional[int] = typer.Option(None, "--from-week", min=1, help="Earlier period of a change."),
    factors: Optional[str] = typer.Option(None, "--factors", help="Factor columns, comma-separated [every numeric one]."),
    weights: Optional[str] = typer.Option(None, "--weights", help="Weight sites: n (their persons) or a column."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Scatter with the fitted line (one factor)."),
    person: bool = typer.Option(
        False, "--person", help="Who gets there: regress each person's outcome on --covariates instead."),
    covariates: Optional[str] = typer.Option(
        None, "--covariates", help="With --person: background columns, comma-separated (0/1, numbers or categories)."),
    ever: bool = typer.Option(False, "--ever", help="With --person: the outcome ever (> 0) in weeks 1 to --week."),
    ledger: Optional[Path] = typer.Option(
        None, "--ledger", help="With --person: ledger to take covariates the panel lacks from."),
    config: Optional[Path] = typer.Option(None, "--config", help="trial.toml: column names, min cell size, language."),
    lang: Optional[str] = typer.Option(None, "--lang", help="Language of the figure: en or da."),
) -> None:
    """Regress a result per site on site factors: OLS (WLS with --weights) with HC2 standard errors.

    Sites with fewer than 5 persons are left out. Example: trialeval explain --panel panel.parquet
    --site-factors fidelity.csv --outcome company_directed --week 26 --factors fidelity --out explain.csv

    With --person: each person's outcome at --week (or, with --ever, whether it was ever positive by
    then) regressed on background covariates, categories as one 0/1 column per level but the first;
    HC2 standard errors. These are associations, not effects. Example: trialeval explain --person
    --panel panel.parquet --ledger ledger.csv --covariates gender,age_band --outcome
    company_directed --week 26 --ever --out who.csv
    """
    with user_errors():
        if person:
            site_only = {"--site-factors": site_factors, "--measure": measure != "share", "--from-week": from_week,
                         "--factors": factors, "--weights": weights, "--plot": plot}
            given = [name for name, value in site_only.items() if value not in (None, False)]
            if given:
                raise OptionError(f"{', '.join(given)} belong to the site regression, not --person", option=given[0])
            step = pipeline.explain_person(panel, out, outcome=outcome, week=week, covariates=_split(covariates) or [],
                                           ever=ever, ledger=ledger, config=config)
        else:
            if site_factors is None or covariates or ever or ledger:
                raise OptionError("the site regression needs --site-factors (and takes no --covariates, --ever "
                                  "or --ledger: those are for --person)", option="--site-factors")
            step = pipeline.explain(panel, site_factors, out, outcome=outcome, week=week, by=by, measure=measure,
                                    from_week=from_week, factors=_split(factors), weights=weights, config=config,
                                    plot=plot, lang=lang)
    say(lambda: step.summary(console_lang()))
    say_written(step.written)
