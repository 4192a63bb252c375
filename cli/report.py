"""``trialeval report``: one self-contained HTML page from the outputs in a folder."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from trialeval.cli._app import app, say, user_errors
from trialeval.config import MAX_WEEKS, load_config
from trialeval.io import check_outputs
from trialeval.plots import check_lang
from trialeval.report import build_report, write_workbook


def _weeks(text: Optional[str]) -> Optional[tuple[int, ...]]:
    """``"13,26,52"`` as whole weeks >= 1; anything else is a usage error."""
    if not text:
        return None
    try:
        chosen = tuple(int(w) for w in text.split(","))
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a comma-separated list of whole weeks, e.g. 13,26,52",
                                 param_hint="--weeks") from None
    if any(w < 1 or w > MAX_WEEKS for w in chosen):
        raise typer.BadParameter(f"weeks must be from 1 to {MAX_WEEKS}; got {text}", param_hint="--weeks")
    return chosen


@app.command("report")
def report_command(
    config: Path = typer.Option(..., "--config", help="The trial config, trial.toml."),
    out_dir: Path = typer.Option(..., "--dir", help="Folder with the steps' outputs; report.html is written there."),
    lang: str = typer.Option("en", "--lang", help="Language of the page: en or da."),
    weeks: Optional[str] = typer.Option(None, "--weeks", help="Weeks in the effect table, e.g. 13,26,35,52."),
    min_cell: Optional[int] = typer.Option(None, "--min-cell", min=0,
                                           help="Suppress cells of fewer persons (default: config's, else 5)."),
    xlsx: bool = typer.Option(False, "--xlsx", help="Also gather the tables into DIR/tables.xlsx, a sheet each."),
) -> None:
    """Build report.html: trial summary, balance, effect figures and table, hours, costs, provenance.

    Example: trialeval report --config sample_data/trial.toml --dir output --lang da
    """
    chosen = _weeks(weeks)
    with user_errors():
        check_lang(lang)
        check_outputs([("--dir", out_dir / "report.html"), ("--xlsx", out_dir / "tables.xlsx" if xlsx else None)],
                      [("--config", config)])
        result = build_report(load_config(config), out_dir, lang=lang, weeks=chosen,  # type: ignore[arg-type]
                              min_cell=min_cell)
        workbook = write_workbook(out_dir, min_cell=result.min_cell) if xlsx else None
    say(result.summary())
    if workbook is not None:
        say(f"Tables gathered in {workbook}.")
