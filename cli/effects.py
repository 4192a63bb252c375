"""``trialeval effects``: effect curves, their tables and figures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from trialeval.cli._app import app, say, user_errors
from trialeval.cli._progress import progress_bar
from trialeval.config import load_config
from trialeval.effects import effects
from trialeval.disclosure import write_export
from trialeval.io import check_outputs, read_table, write_text
from trialeval.plots import check_lang, save_figure


def _split(text: Optional[str]) -> Optional[list[str]]:
    return [p.strip() for p in text.split(",") if p.strip()] if text else None


def _sibling(path: Path, name: str) -> Path:
    """``effects.csv`` + ``summary`` -> ``effects_summary.csv``."""
    return path.with_name(f"{path.stem}_{name}{path.suffix}") if name else path


@app.command("effects")
def effects_command(
    panel: Path = typer.Option(..., "--panel", help="Long panel: person_id, arm, week and outcome columns."),
    out: Path = typer.Option(..., "--out", help="Effect table (.csv, .parquet or .xlsx); small cells suppressed."),
    config: Optional[Path] = typer.Option(
        None, "--config", help="trial.toml; its analysis section gives defaults (outcomes, weeks, min_cell_size…)."),
    outcomes: Optional[str] = typer.Option(None, "--outcomes", help="Comma-separated outcome columns."),
    blocks: Optional[str] = typer.Option(None, "--blocks", help="Block column: estimatr's blocked estimator."),
    covariates: Optional[str] = typer.Option(None, "--covariates", help="Comma-separated covariates (Lin 2013)."),
    cluster: Optional[str] = typer.Option(None, "--cluster", help="Cluster column: CR2, Bell–McCaffrey df."),
    band: bool = typer.Option(False, "--band", help="Add a sup-t simultaneous 95 % band."),
    ri: int = typer.Option(0, "--ri", help="Randomisation-inference draws (0 = none)."),
    min_weeks: Optional[int] = typer.Option(None, "--min-weeks", help="Fixed cohort: persons followed >= K weeks."),
    summary_weeks: Optional[int] = typer.Option(None, "--summary-weeks", help="Average effect over weeks 1-K."),
    hours_week: Optional[int] = typer.Option(None, "--hours-week", help="Hours distribution at this week."),
    weeks: Optional[int] = typer.Option(None, "--weeks", help="Report weeks 1-N (default: every week >= 1)."),
    lang: Optional[str] = typer.Option(None, "--lang", help="Figure language: en or da."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed of the band and RI draws (default: the trial seed)."),
    min_cell: Optional[int] = typer.Option(None, "--min-cell", help="Smallest exported cell (default 5)."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Figure base name: writes BASE_<outcome>.png and .pdf."),
) -> None:
    """Per week since visitation: arm means, the effect and its 95 % CI, per outcome.

    Writes OUT (small cells suppressed) and, when asked for, OUT_summary, OUT_band, OUT_hours and
    OUT_dropped_blocks beside it; with --plot effects.png one figure per outcome,
    effects_<outcome>.png and .pdf (and effects_hours.png/.pdf with --hours-week).

    Example: trialeval effects --panel panel.parquet --config trial.toml --band --summary-weeks 26
    --out effects.csv --plot effects.png
    """
    with user_errors():
        if lang is not None:
            check_lang(lang)
        cfg = load_config(config) if config is not None else None
        analysis = cfg.analysis if cfg is not None else {}
        inputs = [("--panel", panel), ("--config", config)]
        check_outputs([("--out", out)], inputs)          # before the estimation, which may take long
        data = read_table(panel, rename=cfg.columns if cfg is not None else None)
        with progress_bar("Randomisation inference") as progress:
            result = effects(
                data,
                _split(outcomes) or analysis.get("outcomes"),
                blocks=blocks or analysis.get("blocks"),
                covariates=_split(covariates),
                cluster=cluster,
                min_weeks=min_weeks if min_weeks is not None else analysis.get("min_weeks"),
                band=band,
                ri=ri,
                summary_weeks=summary_weeks if summary_weeks is not None else analysis.get("summary_weeks"),
                hours_week=hours_week if hours_week is not None else analysis.get("hours_week"),
                alpha=analysis.get("alpha", 0.05),
                rng=seed if seed is not None else (cfg.seed if cfg is not None else None),
                min_cell=min_cell if min_cell is not None else analysis.get("min_cell_size", 5),
                weeks=weeks if weeks is not None else analysis.get("weeks"),
                source=str(panel),
                progress=progress,
            )
        tables = {_sibling(out, name): table for name, table in result.export_tables().items()}
        settings = out.with_name(f"{out.stem}_settings.json")
        figures = ({plot.with_name(f"{plot.stem}_{name}{suffix}"): fig
                    for name, fig in result.figures(lang=lang or analysis.get("lang", "en")).items()
                    for suffix in (".png", ".pdf")} if plot is not None else {})
        check_outputs([("--out", path) for path in tables] + [("--out (settings beside it)", settings)]
                      + [("--plot", path) for path in figures], inputs)
        written = [write_export(table, path) for path, table in tables.items()]
        written.append(write_text(json.dumps(result.provenance(), indent=2) + "\n", settings))
        for path, fig in figures.items():
            written.append(save_figure(fig, path))
    say(result.summary())
    say("Wrote " + ", ".join(str(p) for p in written))
