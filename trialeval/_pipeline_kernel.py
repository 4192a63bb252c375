"""``effects --ledger --spells`` with ``--summary-weeks`` or ``--band`` without a panel file.

The summary's person means and the band's products are taken from the panel kernel's chunks while the
panel is built (:class:`~trialeval.effects._kernel_stats.KernelStats`), then the streamed estimator
(:mod:`trialeval.effects.stream`) makes the same curves, summary and band as it would from the panel
file. Used for flat files when no other option needs the long table; otherwise (and whenever the
outcomes asked for are not all the kernel's) the pipeline writes the panel and streams it back.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trialeval.config import AnalysisSettings

if TYPE_CHECKING:
    from trialeval.effects import EffectsResult
    from trialeval.pipeline import Step

PathLike = str | os.PathLike[str]


def kernel_effects_possible(ledger: PathLike, spells: PathLike, fx: AnalysisSettings, *, panel_out: PathLike | None,
                            covariates: Any, cluster: Any, band: bool, ri: int, ratio: bool,
                            among_positive: bool) -> bool:
    """Whether the effects asked for come from the kernel: only ``summary_weeks`` and ``band`` need rows."""
    from trialeval.panel.partitioned import is_dataset

    return (panel_out is None and not (fx.blocks or covariates or cluster or ri or ratio or among_positive)
            and fx.hours_week is None and (band or fx.summary_weeks is not None)
            and not is_dataset(ledger) and not is_dataset(spells))


def kernel_effects(ledger: PathLike, spells: PathLike, out: Path, panel_settings: AnalysisSettings,
                   fx: AnalysisSettings, *, config: PathLike | None, band: bool, plot: PathLike | None,
                   rejects: Path | None, drop_bad_rows: bool, workers: int | None, progress: Any,
                   inputs: list[tuple[str, PathLike | None]]) -> Step[EffectsResult] | None:
    """Build the panel (not kept) with the kernel's sums, estimate and write; None when the outcomes asked
    for are not all in the panel (the caller then takes the panel file's path, which names the problem)."""
    from threadpoolctl import threadpool_limits

    from trialeval.effects._kernel_stats import KernelStats
    from trialeval.io import write_table
    from trialeval.panel.kernel import default_workers
    from trialeval.pipeline import Step, _build, _config, _design, _outcome_list, write_effects

    cfg = _config(config)
    source = str(spells)
    stats = KernelStats(fx.outcomes, min_weeks=fx.min_weeks, summary_weeks=fx.summary_weeks, band=band,
                        source=source)
    # The band's matrix products run on the kernel's threads: one BLAS thread each while several run. Its
    # small decompositions after them are slower on several BLAS threads than on one (thread hand-offs).
    with threadpool_limits(1 if (workers or default_workers()) > 1 else None, user_api="blas"):
        built = _build(ledger, spells, panel_settings, drop_bad_rows=drop_bad_rows, out=None, workers=workers,
                       progress=progress, design=_design(cfg), on_chunk=stats.hook)
        outcomes = _outcome_list(fx, lambda: built.outcomes)
        if outcomes is None:
            from trialeval.effects._inputs import KNOWN_OUTCOMES

            outcomes = [o for o in KNOWN_OUTCOMES if o in built.outcomes]
        gathered = stats.outcomes or ()
        if not outcomes or len(set(outcomes)) != len(outcomes) or not set(outcomes) <= set(gathered):
            return None
        result = _estimate(stats, built, outcomes, fx, band, source, _design(cfg))
    written = (write_table(built.rejects, rejects),) if rejects is not None else ()
    return Step(result, written + write_effects(result, out, plot, fx.lang, inputs=inputs), fx.lang)


def _estimate(stats: Any, built: Any, outcomes: list[str], fx: AnalysisSettings, band: bool, source: str,
              design: Any) -> EffectsResult:
    """The streamed estimator on the kernel's pass 1 (and band products), as on the panel file."""
    from trialeval.effects._inputs import _check_int, _require_both_arms, _whole
    from trialeval.effects._stream_pass import PassOptions
    from trialeval.effects.api import _Options
    from trialeval.effects.stream import _estimate as estimate
    from trialeval.exceptions import InputDataError
    from trialeval.io import make_rng

    opts = _Options(
        blocks=None, covariates=[], cluster=None, min_weeks=_check_int("min_weeks", fx.min_weeks, 1), band=band,
        ri=0, summary_weeks=_check_int("summary_weeks", fx.summary_weeks, 1), hours_week=None,
        alpha=float(fx.alpha), min_cell=_whole("min_cell", fx.min_cell, 0), band_draws=_whole("band_draws", 5000, 10),
        multiplier="gaussian", source=source, design=design)
    first = stats.first_pass(built, outcomes)
    if first.n_rows == 0:
        raise InputDataError(f"{source}: the panel has no rows")
    groups = built.groups
    _require_both_arms([a for a, n in zip((groups[1], groups[0]), first.arm_rows) if n], source, groups)
    popts = PassOptions(source, tuple(outcomes), opts.min_weeks, opts.summary_weeks)
    return estimate(first, outcomes, opts, fx.weeks, stats, popts, make_rng(fx.seed))
