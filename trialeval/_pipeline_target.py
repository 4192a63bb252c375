"""Pipeline steps of the target population over calendar time (``trialeval target``) and of the
descriptive curves of declared groups (``trialeval curves``). Re-exported by :mod:`trialeval.pipeline`,
the command line's one entry.

``target`` writes, beside a prefix (``--out results/stv`` gives ``results/stv_curves.csv``) or into a
folder (``--out results/`` gives ``results/target_curves.csv``): ``_curves.csv`` (per population, site
group, period and outcome), ``_did.csv`` (with ``before``/``after``) and a figure ``_<outcome>.png`` per
outcome. ``curves`` writes its table and, with ``plot``, a figure ``<plot>_<outcome>.png`` per outcome.
Every output is checked, and every table and figure computed, before the first file is written.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from trialeval._validation import OptionError
from trialeval.config import AnalysisSettings, TrialConfig, load_config
from trialeval.disclosure import write_export
from trialeval.exceptions import ConfigError, InputDataError
from trialeval.io import check_outputs, parse_date, read_table

if TYPE_CHECKING:
    from trialeval.curves import CurvesResult
    from trialeval.pipeline import PathLike, Step
    from trialeval.target import TargetResult

#: The column of the target rule's indicator when the rule is a spell type (not already an outcome).
RULE_COLUMN = "in_target_rule"


def _labels(cfg: TrialConfig) -> dict[str, Any]:
    """Outcome labels: the declared outcomes' and ``[analysis] labels``."""
    return {**{o.name: {"label_en": o.label("en"), "label_da": o.label("da")} for o in cfg.declared_outcomes},
            **(cfg.analysis.get("labels") or {})}


def _lang(lang: str | None) -> str | None:
    """``--lang``, checked (en or da) before anything is read or written."""
    from trialeval.plots import check_lang
    return check_lang(lang, "--lang") if lang is not None else None


def curves_outputs(out: PathLike, plot: PathLike | None, outcomes: Sequence[str]) -> dict[str, Path]:
    """The files :func:`curves` writes: the table and, with ``plot``, ``<plot>_<outcome>.png`` per outcome."""
    paths = {"table": Path(out)}
    if plot is not None:
        base = Path(plot)
        paths.update({o: base.with_name(f"{base.stem}_{o}{base.suffix or '.png'}") for o in outcomes})
    return paths


def curves(panel: PathLike, ledger: PathLike, config: PathLike, out: PathLike, *, plot: PathLike | None = None,
           outcomes: Sequence[str] | None = None, lang: str | None = None,
           min_cell: int | None = None) -> Step[CurvesResult]:
    """Descriptive curves of the groups of ``[curves]``: per group and period the mean of each outcome and
    the persons followed, with no effect or CI between the groups (which may overlap).

    ``outcomes`` defaults to ``[curves] outcomes``, then to the ``[analysis] outcomes`` the panel has.
    """
    from trialeval.curves import group_curves
    from trialeval.pipeline import Step
    from trialeval.plots import check_figure_path, save_figure
    _lang(lang)
    cfg = load_config(Path(config))
    if cfg.curves is None:
        raise ConfigError(f"{config}: no [curves] section; declare the groups, e.g. [curves.groups] all = \"true\"")
    settings = AnalysisSettings.from_config(cfg, lang=lang, min_cell=min_cell)
    if plot is not None:
        check_figure_path(plot)
    inputs = [("--panel", panel), ("--ledger", ledger), ("--config", config)]
    check_outputs([("--out", out)], inputs)
    data = read_table(panel, rename=cfg.columns)
    people = read_table(ledger, text_columns=("person_id", "arm", "municipality", "stratum"), rename=cfg.columns)
    names = list(outcomes or cfg.curves.outcomes or [o for o in (settings.outcomes or ()) if o in data.columns])
    if not names:
        raise OptionError("give --outcomes (or [curves] outcomes, or [analysis] outcomes in the config)",
                          option="--outcomes")
    targets = curves_outputs(out, plot, names)
    check_outputs([("--out" if k == "table" else "--plot", p) for k, p in targets.items()], inputs)
    result = group_curves(data, people, cfg.curves, outcomes=names, min_cell=settings.min_cell, source=str(ledger),
                          labels=_labels(cfg))
    figures = {o: result.plot(o, lang=settings.lang) for o in names} if plot is not None else {}
    written = [write_export(result.table, targets["table"])]
    written += [save_figure(fig, targets[o], lang=settings.lang) for o, fig in figures.items()]
    return Step(result, tuple(written), settings.lang)


def target_outputs(out: PathLike, outcomes: Sequence[str], did: bool) -> dict[str, Path]:
    """The files :func:`target` writes: into a folder (``out`` is one, or ends with ``/``) as
    ``target_curves.csv``…, else beside the prefix ``out`` as ``<out>_curves.csv``…"""
    text = str(out)
    folder = Path(out).is_dir() or text.endswith(("/", "\\"))
    base = Path(out) / "target" if folder else Path(out)

    def named(part: str, suffix: str) -> Path:
        return base.with_name(f"{base.name}_{part}{suffix}")
    paths = {"curves": named("curves", ".csv")}
    if did:
        paths["did"] = named("did", ".csv")
    paths.update({o: named(o, ".png") for o in outcomes})
    return paths


def _ledger(population: pd.DataFrame, first_day: datetime.date) -> pd.DataFrame:
    """Everyone of the population as one group's ledger, visited on the first day of ``from`` (on a
    calendar axis the visitation date does not set the window)."""
    return pd.DataFrame({"person_id": population["person_id"].astype(str), "arm": "treatment",
                         "visitation_date": pd.Timestamp(first_day)})


def _rule_outcome(cfg: TrialConfig) -> tuple[str, tuple[Any, ...]]:
    """The panel column of the target rule and the declared outcomes the panel is built with."""
    from trialeval.effects._inputs import KNOWN_OUTCOMES
    from trialeval.outcomes import DeclaredOutcome
    assert cfg.target is not None
    rule = cfg.target.rule
    declared = tuple(cfg.declared_outcomes)
    if rule in KNOWN_OUTCOMES or any(o.name == rule for o in declared):
        return rule, declared
    extra = DeclaredOutcome.from_table(RULE_COLUMN, {"any_of": [rule], "label_en": f"In the target group ({rule})",
                                                     "label_da": f"I målgruppen ({rule})"}, cfg.source)
    return RULE_COLUMN, (*declared, extra)


def target(population: PathLike, spells: PathLike, config: PathLike, extraction_date: str | None, out: PathLike, *,
           lang: str | None = None, min_cell: int | None = None) -> Step[TargetResult]:
    """The target population of ``[target]``: the gross and narrow groups' curves by site group per calendar
    period and, with ``before``/``after``, the two-period difference in differences (CR2 by site).

    Everyone in ``population`` (with the site and site group columns) is followed from ``from`` to ``to``
    (and the last complete period by ``extraction_date``) in a panel built from ``spells``.
    """
    from trialeval.panel import build_panel
    from trialeval.pipeline import Step
    from trialeval.plots import save_figure
    from trialeval.target import target_population
    _lang(lang)
    cfg = load_config(Path(config))
    if cfg.target is None:
        raise ConfigError(f"{config}: no [target] section; declare rule, from, to and site_group")
    ts = cfg.target
    settings = AnalysisSettings.from_config(cfg, lang=lang, min_cell=min_cell)
    if extraction_date is None and settings.extraction_date is None:
        raise OptionError("give --extraction-date (or [analysis] extraction_date in the config)",
                          option="--extraction-date")
    extraction = (parse_date(extraction_date, "--extraction-date") if extraction_date is not None
                  else settings.extraction_date)
    names = list(ts.outcomes or settings.outcomes or ())
    if not names:
        raise ConfigError(f"{config}: give [target] outcomes (or [analysis] outcomes)")
    inputs = [("--population", population), ("--spells", spells), ("--config", config)]
    targets = target_outputs(out, names, ts.before is not None)
    check_outputs([("--out", p) for p in targets.values()], inputs)
    people = read_table(population, rename=cfg.columns)
    ts.check_columns(people, str(population))
    first_day, _ = ts.axis.period_bounds(None, [ts.period_from])
    rule, declared = _rule_outcome(cfg)
    built = build_panel(_ledger(people, pd.Timestamp(first_day[0]).date()), spells, extraction, axis=ts.axis,
                        period_from=ts.label(ts.period_from), period_to=ts.label(ts.period_to),
                        columns=cfg.columns, declared_outcomes=declared, keep_panel=True,
                        min_days=settings.min_days)
    panel = built.panel
    missing = [o for o in names if o not in panel.columns]
    if missing:
        raise InputDataError(f"{config}: outcome(s) {', '.join(missing)} are not panel columns "
                             f"(known: {', '.join(c for c in panel.columns if c not in ('person_id', 'arm'))})")
    result = target_population(panel, people, dataclasses.replace(ts, rule=rule), names, min_cell=settings.min_cell,
                               alpha=settings.alpha, source=str(population), labels=_labels(cfg))
    figures = {o: result.plot(o, lang=settings.lang) for o in names}
    written = [write_export(result.curves, targets["curves"])]
    if result.did is not None:
        written.append(write_export(result.did, targets["did"]))
    written += [save_figure(fig, targets[o], lang=settings.lang) for o, fig in figures.items()]
    return Step(result, tuple(written), settings.lang)

