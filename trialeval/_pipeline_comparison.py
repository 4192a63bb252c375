"""The effects step of a comparison design (``trialeval effects`` with ``--did``, ``--twfe`` or ``--matches``):
read the panel whole, take the matched sets
from the matched ledger when the panel does not carry them, estimate and write as the effects step does."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from trialeval._validation import OptionError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from trialeval.demo import DemoResult
    from trialeval.effects import EffectsResult
    from trialeval.pipeline import Step

PathLike = str | os.PathLike[str]


def comparison_requested(*, did: bool = False, twfe: bool = False, matches: PathLike | None = None) -> bool:
    """Whether the effects step is a comparison design's estimators: ``--did``, ``--twfe`` or ``--matches``
    (a panel file that has a ``match_id`` column is recognised by :func:`trialeval.effects.effects` itself)."""
    return did or twfe or matches is not None


def effects_comparison(
    panel: PathLike, out: PathLike, *, config: PathLike | None = None, outcomes: Sequence[str] | None = None,
    did: bool = False, baseline: int | None = None, twfe: bool = False, unit: str | None = None,
    window: tuple[int, int] | None = None, matches: PathLike | None = None, weeks: int | None = None,
    lang: str | None = None, min_cell: int | None = None, plot: PathLike | None = None, ri: int = 0,
) -> Step[EffectsResult]:
    """Curves of a comparison design from a panel file; the tables (with ``<out>_event_study`` and
    ``<out>_pretrend`` when the panel has pre-periods), settings and figures written as ``effects`` does.

    ``did`` needs ``baseline`` (P: the baseline is the mean of periods −P … −1); ``twfe`` needs ``unit``.
    ``matches`` is the matched ledger (``trialeval match``): its ``match_id`` (and ``weight``, when the
    panel has none) per person, for a panel that does not carry them.
    """
    from trialeval.config import AnalysisSettings
    from trialeval.effects import effects as estimate_effects
    from trialeval.io import check_outputs, read_table
    from trialeval.pipeline import Step, _config, _design, write_effects
    from trialeval._figure_options import check_lang

    if did and baseline is None:
        raise OptionError("--did needs --baseline P (the baseline is the mean of periods -P..-1)", option="--baseline")
    if baseline is not None and not did:
        raise OptionError("--baseline goes with --did", option="--baseline")
    if twfe and not unit:
        raise OptionError("--twfe needs --unit COLUMN (the unit of the two-way fixed effects, e.g. site)",
                          option="--unit")
    if lang is not None:
        check_lang(lang)
    cfg = _config(config)
    settings = AnalysisSettings.from_config(cfg, outcomes=outcomes, weeks=weeks, lang=lang, min_cell=min_cell)
    inputs = [("--panel", panel), ("--config", config), ("--matches", matches)]
    check_outputs([("--out", Path(out))], inputs)
    frame = read_table(panel, rename=cfg.columns if cfg is not None else None)
    if matches is not None and "match_id" not in frame.columns:
        frame = join_matches(frame, matches, str(panel))
    design = _design(cfg)
    if design is not None and design.kind != "comparison" and not (did or twfe):
        design = None
    result = estimate_effects(
        frame, list(settings.outcomes) if settings.outcomes is not None else None, design=design,
        did=baseline if did else None, twfe=twfe, unit=unit, window=window, weeks=settings.weeks,
        alpha=settings.alpha, min_cell=settings.min_cell, source=str(panel), ri=ri)
    written = write_effects(result, out, plot, settings.lang, inputs=inputs)
    return Step(result, written)


def demo_comparison(out_dir: PathLike = "trialeval-demo-comparison", data: PathLike | None = None, *,
                    lang: str = "en", min_cell: int | None = None, progress: object = None) -> Step[DemoResult]:
    """Run the comparison-design sample trial into ``out_dir`` (:func:`trialeval.demo.run_comparison_demo`)."""
    from trialeval.config import AnalysisSettings
    from trialeval.demo import run_comparison_demo
    from trialeval.pipeline import Step

    settings = AnalysisSettings.from_config(None, lang=lang, min_cell=min_cell)
    result = run_comparison_demo(Path(out_dir), Path(data) if data is not None else None, lang=settings.lang,
                                 min_cell=settings.min_cell, progress=progress)  # type: ignore[arg-type]
    return Step(result, result.files)


def join_matches(frame: pd.DataFrame, matches: PathLike, source: str) -> pd.DataFrame:
    """The panel with each person's (or, matched with replacement, each unit's) ``match_id`` and, when the
    panel has none, ``weight`` from the matched ledger ``matches``."""
    from trialeval.io import read_table, row_error

    ledger = read_table(matches, text_columns=("person_id", "match_id", "unit_id"))
    if "unit_id" in ledger.columns:     # matched with replacement: the panel's persons are the ledger's units
        ledger = ledger.drop(columns="person_id").rename(columns={"unit_id": "person_id"})
    twice = ledger["person_id"].duplicated(keep=False).to_numpy()
    if twice.any():
        raise row_error(str(matches), "person_id", "appears in more than one matched set (a ledger matched with "
                        "replacement names each match in unit_id)", twice)
    keep = ["person_id", "match_id"] + (["weight"] if "weight" not in frame.columns else [])
    frame = frame.merge(ledger[keep].assign(person_id=ledger["person_id"].astype(str)),
                        left_on=frame["person_id"].astype(str), right_on="person_id", how="left",
                        suffixes=("", "_matched")).drop(columns=["key_0", "person_id_matched"], errors="ignore")
    missing = frame["match_id"].isna()
    if missing.any():
        raise row_error(source, "person_id", f"has no matched set in {matches}", missing.to_numpy())
    return frame
