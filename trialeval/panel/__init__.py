"""The weekly person-by-week panel built from register spells.

Periods come from the time axis (:mod:`trialeval.timeaxis`; the panel counts weeks since visitation):
week ``k`` of a person with visitation date ``v`` is ``WEEKS_SINCE_VISITATION.period_bounds(v, k)``, the
visitation day and the six days after it for ``k = 1``; weeks ``k <= 0`` are pre-visitation weeks. A week is *observed* iff its last day is on or before the extraction
date and on or before the person's ``followup_end``; unobserved weeks are absent from the panel, never
zero. Because both limits cut the calendar at one day, the observed weeks of a person are always a prefix
``k_min .. K`` of the requested window, and that is what makes the construction below cheap.

How it is computed (no loop over persons anywhere), one module a step:

1. :mod:`~trialeval.panel.spells` — the spells contract. Dates become integer day numbers once;
   ``person_id`` is matched to the ledger once, so the hot path sees only integer arrays. A Parquet or
   CSV spells file is read a batch of rows at a time, each batch reduced at once to int32 person
   positions and day numbers, int8 type codes, int32 workplace codes and hours (about 19 bytes a spell);
   Parquet batches are checked with Arrow and numpy and become DataFrames only when they break a rule.
2. :mod:`~trialeval.panel.build` — orchestration. The ledger is read as compact Arrow columns (ids as
   one text buffer, municipality and stratum dictionary-encoded, dates as day numbers) and reduced to a
   few arrays; persons are processed in chunks (``chunk_persons``), planned against memory.
3. :mod:`~trialeval.panel.kernel` — one chunk. Each spell becomes a day range relative to its person's
   visitation date, clipped to that person's observed window.
4. :mod:`~trialeval.panel.intervals` — the clipped range is expanded into one row per spell-week with
   :func:`numpy.repeat`; the overlap days in each week come from clipping the range to the week's first
   and last day, and :func:`numpy.bincount` adds those rows into a dense ``persons x weeks`` array
   (coverage for indicators, ``hours_per_week x overlap_days / DAYS_PER_WEEK`` for hours). With ``min_days > 1``
   overlapping spells of one type are first merged into disjoint intervals so that no day counts twice.
5. :mod:`~trialeval.panel.rules` — one function per outcome rule; the 13-week rule is a loop over
   *weeks* (at most ``weeks`` iterations) of vector operations over all persons of the chunk.
6. :mod:`~trialeval.panel.store` — the observed cells are kept in a compact form (one bit per indicator,
   hours stored sparsely), so a panel of a million persons and 100 weeks costs a few hundred MB; the long
   table is expanded chunk by chunk when it is written (:func:`write_panel`) or asked for
   (:meth:`PanelResult.to_frame`). With ``out=`` each chunk is written as soon as it is built and then
   dropped, so memory does not grow with the panel; with ``keep_panel=False`` it is dropped unwritten.
7. :mod:`~trialeval.panel.results` — :class:`PanelResult`. While the chunks are built, per (arm, number
   of observed weeks, week) counts and sums of every outcome are gathered; per-week means, and the Welch
   difference in means of the effects step, come from them without a long table
   (:meth:`PanelResult.week_moments`).
"""

from __future__ import annotations

# ruff: noqa: F401  (the names below are re-exported: everything importable from the panel before it
# became a package still is)

import sys
import types
from typing import Any

from trialeval.panel import _memory, build, intervals, kernel, results, rules, spells, store
from trialeval.panel._memory import (
    _KEPT_BYTES_PER_ROW,
    _MALLOC_TRIM,
    _check_kept_memory,
    _find_malloc_trim,
    _release_memory,
)
from trialeval.panel.build import (
    CHUNK_CELLS,
    ProgressCallback,
    _combined,
    _day_numbers,
    _first_seen_codes,
    _iso,
    _late_rejects,
    _ledger_frame_table,
    _write_side_files,
    build_panel,
    side_paths,
    write_panel,
)
from trialeval.panel.intervals import _coverage, _expand_weeks, _merge_intervals, _prorata_hours, _sum_cells
from trialeval.panel.kernel import _build_chunk, _Chunk, _Context
from trialeval.panel.results import PanelResult, _check_int, _WeekSums
from trialeval.panel.rules import CHAIN_WEEKS, MAX_GAP_WEEKS, _first_reach, _same_workplace_first
from trialeval.panel.spells import (
    _BENEFIT,
    _DAY_UNITS,
    _HOURS,
    _INTERNSHIP,
    _PLAIN_TEXT,
    _REJECT_COLUMNS,
    _SPELL_FILE_COLUMNS,
    _SPELL_TEXT_COLUMNS,
    _WAGE_SUBSIDY,
    MAX_HOURS,
    MIN_MATCHED_SHARE,
    SPELL_BATCH_ROWS,
    SPELL_TYPES,
    _arrow_days,
    _arrow_text,
    _as_day,
    _check_matched,
    _check_spells,
    _fast_check,
    _fixed_width,
    _id_shape,
    _IdLookup,
    _ids_as_text,
    _index_in,
    _mismatch_cause,
    _parse_days,
    _plain_text,
    _read_compact_spells,
    read_spells,
    _rejects_frame,
    _sample,
    _spell_batches,
    _spell_types,
    _SpellBuffer,
    _Spells,
)
from trialeval.panel.store import PARQUET_OPTIONS, ROW_GROUP_ROWS, _panel_writer, _split_rows

__all__ = ["PanelResult", "build_panel", "read_spells", "write_panel", "SPELL_TYPES"]

_MODULES = (spells, intervals, rules, kernel, store, results, build, _memory)


class _Panel(types.ModuleType):
    """``trialeval.panel`` itself: setting one of its names also sets it in the module that uses it.

    The names above are re-exported from the modules that define them, so replacing one on the package
    alone (``monkeypatch.setattr(trialeval.panel, "ROW_GROUP_ROWS", 25)``, as tests do to make small
    row groups or batches) would not reach the code that reads it. Setting and restoring go to every
    module of the package that holds the name.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        for module in _MODULES:
            if name in vars(module):
                setattr(module, name, value)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Panel
