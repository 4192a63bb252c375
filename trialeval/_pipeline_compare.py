"""File-to-file steps of designs without a lottery: ``match``, ``balance --population`` for a selection
design, ``--drop-exclusions`` on ``panel`` and ``effects``, and the replay of a match by ``verify``.

They are re-exported by :mod:`trialeval.pipeline` (the command line calls them as ``pipeline.X``) and
import from it only inside the functions, so that either module can be imported first.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from trialeval.config import AnalysisSettings, load_config
from trialeval.design import Design
from trialeval.disclosure import write_export
from trialeval.draw import check_ledger_manifest, manifest_path
from trialeval.exceptions import InputDataError, TrialevalWarning
from trialeval.io import (atomic_write, check_outputs, parse_date, read_ledger, read_population, sha256_file,
                          write_table, write_text)
from trialeval.manifest import _append_event as append_manifest_event

if TYPE_CHECKING:
    from trialeval.balance_population import PopulationBalance
    from trialeval.match import ComparisonResult
    from trialeval.pipeline import Step

PathLike = str | os.PathLike[str]

#: What an analysis of the drawn minus the excluded rests on, besides the lottery.
EXCLUSIONS_WARNING = ("{n} person(s) excluded after the draw were left out (--drop-exclusions): the comparison "
                      "no longer rests on the lottery alone, since who was excluded may depend on the group a "
                      "person was drawn into")


def exclusions_note(panel: PathLike) -> Path:
    """The note beside a panel built without the excluded persons: ``<panel>_exclusions.json``."""
    panel = Path(panel)
    return panel.with_name(f"{panel.stem}_exclusions.json")


# --------------------------------------------------------------------------------------------------
# balance --population for a selection design

def balance_population(ledger: PathLike, out: PathLike, population: PathLike | None, *,
                       config: PathLike | None, covariates: Sequence[str] | None, categorical: Sequence[str],
                       min_cell: int | None, drop_excluded: bool | None, plot: PathLike | None
                       ) -> Step[PopulationBalance]:
    """The drawn group (or the drawn minus the excluded) against the whole eligible population; the table
    is written to ``out`` (.csv, .xlsx or .parquet)."""
    from trialeval.balance_population import population_balance
    from trialeval.pipeline import OptionError, Step
    if population is None:
        raise OptionError("a selection design has no control group to balance against: give --population to "
                          "compare the drawn with the whole eligible population", option="--population")
    if plot is not None:
        raise OptionError("a selection design's balance has no love plot; leave out --plot", option="--plot")
    if Path(out).suffix.lower() not in (".csv", ".xlsx", ".parquet"):
        raise OptionError(f"--out {out}: the drawn-against-population table is written as .csv, .xlsx or "
                          ".parquet", option="--out")
    cfg = load_config(Path(config)) if config is not None else None
    rename = cfg.columns if cfg is not None else None
    check_outputs([("--out", out)], [("--ledger", ledger), ("--population", population), ("--config", config)],
                  columns=rename)
    settings = AnalysisSettings.from_config(cfg, covariates=covariates, min_cell=min_cell,
                                            drop_exclusions=drop_excluded)
    if settings.covariates is None:
        raise InputDataError("no covariates: give --covariates or [analysis] covariates in the config")
    check_ledger_manifest(ledger)
    table = read_ledger(ledger, rename=rename, design=Design.from_config(cfg) if cfg is not None else None)
    people = read_population(population, rename=rename)
    result = population_balance(
        table, people, list(settings.covariates), eligibility=cfg.rules if cfg else (),
        eligibility_groups=cfg.rule_groups if cfg else (), drop_excluded=bool(settings.drop_exclusions),
        categorical=categorical, min_cell=int(settings.min_cell), source=str(ledger),
        population_source=str(population))
    return Step(result, (write_export(result.table, out),))


# --------------------------------------------------------------------------------------------------
# --drop-exclusions

@contextlib.contextmanager
def _without_exclusions(ledger: PathLike, config: PathLike | None, out: PathLike) -> Iterator[tuple[Path, int]]:
    """The ledger without the persons excluded after the draw, as a temporary Parquet file beside ``out``
    (deleted afterwards), and how many were left out."""
    if Path(ledger).is_dir():
        raise InputDataError(f"--ledger {ledger}: --drop-exclusions needs the ledger file, not a partitioned "
                             "dataset")
    cfg = load_config(Path(config)) if config is not None else None
    check_ledger_manifest(ledger)
    table = read_ledger(ledger, rename=cfg.columns if cfg is not None else None,
                        design=Design.from_config(cfg) if cfg is not None else None)
    excluded = table["excluded"].fillna(False).astype(bool).to_numpy() if "excluded" in table else None
    n = int(excluded.sum()) if excluded is not None else 0
    folder = Path(tempfile.mkdtemp(prefix=".trialeval-ledger-", dir=Path(out).parent))
    try:
        path = folder / "ledger.parquet"
        write_table(table.loc[~excluded] if excluded is not None else table, path)
        yield path, n
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _warned(n: int) -> str:
    text = EXCLUSIONS_WARNING.format(n=n)
    warnings.warn(text, TrialevalWarning, stacklevel=3)
    return text


def panel_without_exclusions(step: Callable[..., Step[Any]], ledger: PathLike, spells: PathLike, out: PathLike,
                             **options: Any) -> Step[Any]:
    """``panel`` on the ledger without the excluded persons; the warning goes to the console and into
    ``<out>_exclusions.json`` beside the panel (which ``effects --panel`` carries into its settings)."""
    from trialeval.pipeline import Step
    note = exclusions_note(out)
    check_outputs([("--out", out), ("--out (exclusions note beside it)", note)],
                  [("--ledger", ledger), ("--spells", spells), ("--config", options.get("config"))])
    with _without_exclusions(ledger, options.get("config"), out) as (path, n):
        done = step(path, spells, out, **options)
    text = _warned(n)
    _set_ledger(done.result, ledger)
    written = write_text(json.dumps({"ledger": str(ledger), "excluded_left_out": n, "warning": text}, indent=2)
                         + "\n", note)
    return Step(done.result, done.written + (written,), done.lang, note=text)


def effects_without_exclusions(step: Callable[..., Step[Any]], ledger: PathLike, spells: PathLike, out: PathLike,
                               **options: Any) -> Step[Any]:
    """``effects --ledger --spells`` on the ledger without the excluded persons; the warning goes to the
    console and into the effects' settings file."""
    from trialeval import layout
    from trialeval.pipeline import Step
    check_outputs([("--out", out)], [("--ledger", ledger), ("--spells", spells), ("--config", options.get("config"))])
    with _without_exclusions(ledger, options.get("config"), out) as (path, n):
        done = step(path, spells, out, **options)
    text = _warned(n)
    _add_to_settings(layout.effects_settings(out), {"ledger": str(ledger), "excluded_left_out": n, "warning": text})
    return Step(done.result, done.written, done.lang, note=text)


def carry_exclusions_note(panel: PathLike, out: PathLike) -> None:
    """When ``panel`` was built with ``--drop-exclusions``, copy its warning into the effects' settings."""
    from trialeval import layout
    note = exclusions_note(panel)
    if Path(panel).is_file() and note.is_file():
        record = json.loads(note.read_text(encoding="utf-8"))
        warnings.warn(str(record.get("warning", "")), TrialevalWarning, stacklevel=2)
        _add_to_settings(layout.effects_settings(out), record)


def _add_to_settings(path: Path, record: dict[str, Any]) -> None:
    settings = json.loads(path.read_text(encoding="utf-8"))
    settings["drop_exclusions"] = record
    write_text(json.dumps(settings, indent=2) + "\n", path)


def _set_ledger(result: Any, ledger: PathLike) -> None:
    """Name the user's ledger, not the temporary file, in a panel result's settings."""
    settings = getattr(result, "settings", None)
    if isinstance(settings, dict) and "ledger" in settings:
        settings["ledger"] = str(ledger)


# --------------------------------------------------------------------------------------------------
# a matched ledger with a person in several rows (matching with replacement, weighting)

def has_units(ledger: PathLike) -> bool:
    """Whether a ledger file has a ``unit_id`` column (written by ``match`` when a person has several rows)."""
    path = Path(ledger)
    try:
        if path.suffix.lower() == ".csv":
            return "unit_id" in pd.read_csv(path, nrows=0).columns
        if path.suffix.lower() in (".parquet", ".pq"):
            import pyarrow.parquet as pq
            return "unit_id" in pq.read_schema(path).names
    except (OSError, ValueError):
        return False        # the reader that follows reports an unreadable file with its own message
    return False


@contextlib.contextmanager
def _by_unit(ledger: PathLike, spells: PathLike, out: PathLike, config: PathLike | None
             ) -> Iterator[tuple[Path, Path, int]]:
    """The ledger keyed by ``unit_id`` and the spells with a copy of a person's spells for each of the
    person's units, as temporary Parquet files beside ``out`` (deleted afterwards)."""
    from trialeval.io import read_table
    cfg = load_config(Path(config)) if config is not None else None
    rename = cfg.columns if cfg is not None else None
    check_ledger_manifest(ledger)
    table = read_table(ledger, text_columns=("person_id", "unit_id"), rename=rename)
    units = table[["person_id", "unit_id"]].astype(str)
    if units["unit_id"].duplicated().any():
        raise InputDataError(f"{ledger}: column 'unit_id' is not unique")
    spell_rows = read_table(spells, rename=rename)
    spell_rows["person_id"] = spell_rows["person_id"].astype(str)
    several = units.loc[units["unit_id"] != units["person_id"]]
    copies = spell_rows.merge(several, on="person_id", how="inner")
    copies["person_id"] = copies.pop("unit_id")
    single = spell_rows.loc[~spell_rows["person_id"].isin(several["person_id"])]
    folder = Path(tempfile.mkdtemp(prefix=".trialeval-units-", dir=Path(out).parent))
    try:
        write_table(table.assign(person_id=units["unit_id"]).drop(columns="unit_id"), folder / "ledger.parquet")
        write_table(pd.concat([single, copies], ignore_index=True), folder / "spells.parquet")
        yield folder / "ledger.parquet", folder / "spells.parquet", int(several["person_id"].nunique())
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def by_unit(step: Callable[..., Step[Any]], ledger: PathLike, spells: PathLike, out: PathLike,
            **options: Any) -> Step[Any]:
    """``panel`` or ``effects --ledger --spells`` on a matched ledger whose persons may have several rows:
    the panel's person key is ``unit_id`` (``<person_id>~<k>`` for the k-th row of a person with several),
    and each unit has the person's spells, measured from its own (pseudo) visitation date."""
    from trialeval.pipeline import Step
    check_outputs([("--out", out)], [("--ledger", ledger), ("--spells", spells), ("--config", options.get("config"))])
    with _by_unit(ledger, spells, out, options.get("config")) as (led, spl, n):
        done = step(led, spl, out, **options)
    _set_ledger(done.result, ledger)
    return Step(done.result, done.written, done.lang, note=done.note)


# --------------------------------------------------------------------------------------------------
# match

def match(ledger: PathLike, population: PathLike, spells: PathLike, config: PathLike, out: PathLike, *,
          keep_excluded: bool = False, date: str | None = None) -> Step[ComparisonResult]:
    """Build a matched comparison group for the ledger's programme group and write it as a new ledger
    (``out``), with a manifest line recording the inputs' hashes and the settings, and the programme
    persons left unmatched beside it (``<out>_unmatched.csv``)."""
    from trialeval.match import match_comparison
    from trialeval.pipeline import Step
    from trialeval.plots import save_figure
    from trialeval.site_plots import overlap_plot
    when = pd.Timestamp(parse_date(date, "--date")).date() if date is not None else datetime.date.today()
    cfg = load_config(Path(config))
    out = Path(out)
    unmatched_path = out.with_name(f"{out.stem}_unmatched.csv")
    beside = [out.with_name(f"{out.stem}_{part}") for part in ("balance.csv", "love.png", "overlap.png")]
    inputs = [("--ledger", ledger), ("--population", population), ("--spells", spells), ("--config", config)]
    check_outputs([("--out", out), ("--out (manifest beside it)", manifest_path(out)),
                   ("--out (unmatched beside it)", unmatched_path)]
                  + [("--out (balance beside it)", path) for path in beside], inputs)
    if manifest_path(out).exists() or out.exists():
        raise InputDataError(f"--out {out}: a ledger (or its manifest) is already there; a matched comparison "
                             "group is written to a new ledger, never over one")
    check_ledger_manifest(ledger)
    led = read_ledger(ledger, rename=cfg.columns, design=Design.from_config(cfg))
    people = read_population(population, rename=cfg.columns)
    result = match_comparison(led, people, spells, cfg, keep_excluded=keep_excluded, source=str(population))
    entry = {"event": "match", "date": when.isoformat(), "settings": result.settings.to_dict(),
             "counts": result.counts, "keep_excluded": keep_excluded,
             "inputs": {name.lstrip("-"): sha256_file(path) for name, path in inputs}}
    with atomic_write(out) as tmp:
        result.ledger.to_csv(tmp, index=False, lineterminator="\n")
        append_manifest_event(manifest_path(out), [], entry, tmp)
    written = [out, manifest_path(out)]
    balance = result.balance()
    written.append(write_export(balance.table, out.with_name(f"{out.stem}_balance.csv")))
    written.append(save_figure(balance.plot(), out.with_name(f"{out.stem}_love.png")))
    written.append(save_figure(overlap_plot(result.risk_sets["score"], result.risk_sets["programme"]),
                               out.with_name(f"{out.stem}_overlap.png")))
    if len(result.unmatched):
        written.append(write_text(result.unmatched.to_csv(index=False, lineterminator="\n"), unmatched_path))
    return Step(result, tuple(written))


# --------------------------------------------------------------------------------------------------
# verify a match

def is_matched(ledger: PathLike) -> bool:
    """Whether the ledger was written by ``match`` (its manifest records a match)."""
    from trialeval.match_verify import match_event
    return Path(ledger).is_file() and match_event(ledger) is not None


def verify_matched(populations: Sequence[PathLike], config: PathLike, ledger: PathLike, *,
                   spells: PathLike | None, programme_ledger: PathLike | None) -> Step[Any]:
    """Replay a match from the files it was made from and compare with its ledger (writes nothing); of
    several ``populations`` the one with the recorded SHA-256 is used."""
    from trialeval.match_verify import match_event, verify_match
    from trialeval.pipeline import Step
    recorded = (match_event(ledger) or {}).get("inputs", {}).get("population")
    chosen = next((p for p in populations if sha256_file(p) == recorded), populations[0] if populations else None)
    return Step(verify_match(ledger, programme_ledger=programme_ledger, population=chosen, spells=spells,
                             config=config))


__all__ = ["EXCLUSIONS_WARNING", "balance_population", "by_unit", "has_units", "carry_exclusions_note", "effects_without_exclusions",
           "exclusions_note", "is_matched", "match", "panel_without_exclusions", "verify_matched"]
