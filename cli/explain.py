"""``trialeval explain``: a result per site regressed on site factors (fidelity, beliefs, size)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from trialeval import pipeline
from trialeval.cli._app import app, console_lang, say, say_written, user_errors


@app.command("explain")
def explain(
    panel: Path = typer.Option(..., "--panel", help="Panel file (from trialeval panel)."),
    site_factors: Path = typer.Option(..., "--site-factors", help="One row per site: the site column and its factors."),
    out: Path = typer.Option(..., "--out", help="Coefficient table to write (.csv or .xlsx)."),
    outcome: str = typer.Option(..., "--outcome", help="Outcome column of the panel."),
    week: int = typer.Option(..., "--week", min=1, help="The period the site result is taken at."),
    by: str = typer.Option("municipality", "--by", help="Column naming the site, in panel and factors file."),
    measure: str = typer.Option("share", "--measure",
                                help="share (programme group's mean), change (since --from-week) or effect."),
    from_week: Optional[int] = typer.Option(None, "--from-week", min=1, help="Earlier period of a change."),
    factors: Optional[str] = typer.Option(None, "--factors", help="Factor columns, comma-separated [every numeric one]."),
    weights: Optional[str] = typer.Option(None, "--weights", help="Weight sites: n (their persons) or a column."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Scatter with the fitted line (one factor)."),
    config: Optional[Path] = typer.Option(None, "--config", help="trial.toml: column names, min cell size, language."),
    lang: Optional[str] = typer.Option(None, "--lang", help="Language of the figure: en or da."),
) -> None:
    """Regress a result per site on site factors: OLS (WLS with --weights) with HC2 standard errors.

    Sites with fewer than 5 persons are left out. Example: trialeval explain --panel panel.parquet
    --site-factors fidelity.csv --outcome company_directed --week 26 --factors fidelity --out explain.csv
    """
    with user_errors():
        step = pipeline.explain(panel, site_factors, out, outcome=outcome, week=week, by=by, measure=measure,
                                from_week=from_week, factors=factors.split(",") if factors else None,
                                weights=weights, config=config, plot=plot, lang=lang)
    say(step.summary(console_lang()))
    say_written(step.written)
