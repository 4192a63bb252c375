"""Building the panel: arguments, the ledger, the memory plan, the chunk loop; and writing it.

:func:`build_panel` reads the ledger as compact Arrow columns (only the columns the panel needs, none as
Python objects), turns it into plain per-person arrays in id order, reads and matches the spells
(:mod:`trialeval.panel.spells`), then runs the kernel (:mod:`trialeval.panel.kernel`) over chunks of
persons; each chunk goes to the store (:mod:`trialeval.panel.store`), which adds it to the running sums
and writes, keeps or drops it. The :class:`~trialeval.panel.results.PanelResult` is made once, complete,
at the end.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from trialeval.config import MAX_WEEKS
from trialeval.design import Design
from trialeval.draw import check_ledger_manifest
from trialeval.exceptions import InputDataError
from trialeval.io import (
    LEDGER_TABLE_COLUMNS,
    check_outputs,
    compact_ledger,
    read_ledger_table,
    row_error,
    split_date_format,
    validate_ledger,
    write_table,
)
from trialeval.panel._memory import _check_kept_memory, _release_memory
from trialeval.panel.idtext import _in_id_order
from trialeval.panel.kernel import ChunkHook, _Context, _run_chunks, default_workers
from trialeval.panel.results import PanelResult, _check_int, _WeekSums
from trialeval.outcomes import DeclaredOutcome, check_declared
from trialeval.panel.rules import _counted_in_weeks, _flag_outcomes, _rules_for
from trialeval.panel.spells import (
    MIN_MATCHED_SHARE,
    SPELL_TYPES,
    _arrow_text,
    _as_day,
    _check_matched,
    _ids_as_text,
    _read_compact_spells,
    _rejects_frame,
    _spell_batches,
    _spell_types,
    _Spells,
)
from trialeval.panel.store import _Layout, _panel_writer, _PanelStore
from trialeval.progress import tick
from trialeval.panel.periods import MAX_MIN_DAYS, PanelWindow, panel_axis, panel_window
from trialeval.timeaxis import WEEKS_SINCE_VISITATION, FixedLengthAxis, TimeAxis

#: Most person-weeks built at a time (a chunk's working memory is about 20 bytes each): with many
#: weeks, fewer persons are processed together.
CHUNK_CELLS = 40_000_000

ProgressCallback = Callable[[int, int], None]
#: Persons processed together by default (see ``chunk_persons`` of :func:`build_panel`).
CHUNK_PERSONS = 100_000


def build_panel(
    ledger: pd.DataFrame | str | os.PathLike[str],
    spells: pd.DataFrame | str | os.PathLike[str],
    extraction_date: Any,
    weeks: int = WEEKS_SINCE_VISITATION.periods_per_year,
    *,
    pre_weeks: int = 0,
    min_days: int = 1,
    drop_bad_rows: bool = False,
    spell_types: Sequence[str] | None = None,
    columns: Mapping[str, str] | None = None,
    progress: ProgressCallback | None = None,
    chunk_persons: int = CHUNK_PERSONS,
    out: str | os.PathLike[str] | None = None,
    keep_panel: bool = True,
    min_matched_share: float = MIN_MATCHED_SHARE,
    axis: TimeAxis | str = WEEKS_SINCE_VISITATION,
    design: Design | None = None,
    workers: int | None = None,
    declared_outcomes: Sequence[DeclaredOutcome] = (),
    period_from: Any = None,
    period_to: Any = None,
    on_chunk: Callable[[np.ndarray], ChunkHook] | None = None,
    week_sums: bool = True,
) -> PanelResult:
    """Build the weekly person-by-week panel from a ledger and register spells.

    Parameters
    ----------
    ledger
        The assignments ledger as a DataFrame or a file. Every row stays in the panel,
        excluded persons included (intention-to-treat). A folder is a person-partitioned dataset
        (made by :func:`trialeval.partition_extract`): its parts are built one at a time and the panel
        is not kept (:func:`trialeval.panel.partitioned.build_partitioned`).
    spells
        Spells as a DataFrame or a file (see :func:`read_spells`), or the dataset's folder.
    extraction_date
        Last day covered by the register extract, ``YYYY-MM-DD`` or a date; weeks ending after it are absent.
    weeks
        Last week since visitation to build (week 1 starts on the visitation date), 1 to ``MAX_WEEKS``
        (20 years); default one year. On a month axis: the last month since visitation.
    pre_weeks
        Number of pre-visitation weeks ``0, -1, …`` to add, for covariates and placebo curves
        (at most ``MAX_WEEKS``); on a month axis, months.
    min_days
        Days of overlap (1 to the days of a week, or to 28 on a month axis) a spell needs to cover a period
        (ordinary hours are always pro rata).
    drop_bad_rows
        Drop rows that break a row rule into :attr:`PanelResult.rejects` instead of stopping.
    spell_types
        Further spell types to accept; each gives an indicator ``in_<type>``.
    columns
        ``{contract_name: user_name}`` renames, used when ``ledger`` or ``spells`` is a file, and the
        optional ``date_format`` of their date columns (the config's ``[columns]`` table); without it,
        dates given as text must be ISO ``YYYY-MM-DD``.
    progress
        ``callback(done, total)`` called after each chunk of persons.
    chunk_persons
        Persons processed together; bounds the working memory. Lowered when the weeks are many, so that a
        chunk holds at most ``CHUNK_CELLS`` person-weeks (the result does not depend on it).
    out
        Stream the panel to this ``.parquet`` or ``.csv`` file (and the side files of
        :func:`write_panel`) a chunk of persons at a time, keeping none of it: memory then does not grow
        with the number of persons beyond the compact inputs. The result still gives the number at risk,
        :meth:`PanelResult.means` and :meth:`PanelResult.week_moments` (so effect curves), but not the
        long table.
    keep_panel
        Keep the compact panel in memory (the default), for :meth:`PanelResult.to_frame` and
        :func:`write_panel`. With ``keep_panel=False`` only the number at risk and the per-week sums are
        kept, which is all :meth:`PanelResult.means`, :meth:`PanelResult.week_moments` and the default
        estimator of ``trialeval.effects`` need: memory then does not grow with the panel, as with ``out=``.
    min_matched_share
        Smallest share (0–1) of the ledger's persons that must have at least one spell; below it, or when
        no spell matches a ledger person, the spells and the ledger almost surely do not fit (lost leading
        zeros, another id column, another extract) and :class:`InputDataError` shows a sample of the
        unmatched ids and the likely cause. ``0`` turns the check off.
    axis
        The time axis (a :class:`~trialeval.timeaxis.TimeAxis` or its name): ``weeks_since_visitation``
        (the default), ``months_since_visitation``, ``calendar_week`` or ``calendar_month``. The period
        column is named after it (``week``, ``month``, ``calendar_week``, ``calendar_month``), and the result
        carries it (:attr:`PanelResult.axis`). Hours in a month are the month's hours (the pro-rata weekly
        hours of its days, summed); the 13-week rule and rolling sums are counted in weeks and each month
        shows the value of the last week ending in it ("reached by the end of the month").
    period_from, period_to
        On a calendar axis: the first and last calendar period (``2016-W43`` or ``2016-10``). Everyone in the
        ledger is followed in these periods (the visitation date does not move the window); by default from
        the period of the earliest visitation to the last period that ends by the extraction date.
    design
        The trial's :class:`~trialeval.design.Design`, whose group labels the ledger's ``arm`` holds
        (the programme group and the reference group); without one they must be ``treatment`` and
        ``control``. The panel's ``arm`` column and tables carry the labels (:attr:`PanelResult.groups`).
    declared_outcomes
        Outcomes the trial declares (``[outcomes]`` of its config, :func:`trialeval.outcomes.parse_outcomes`):
        indicators computed from the built-in outcomes and the spells, added as panel columns in the order
        given.
    workers
        Threads that build chunks of persons at once (default: every core); the result is the same
        whatever their number.
    on_chunk
        Optional ``on_chunk(arm) -> hook``: the hook (:data:`~trialeval.panel.kernel.ChunkHook`) is called
        with every chunk's dense arrays, for sums the panel does not keep (flat files only; ``arm`` per
        person in id order, 0 the programme group).
    week_sums
        Keep the running sums per week and arm that :meth:`PanelResult.means`,
        :meth:`PanelResult.week_moments` and the effect curves taken from the build read. ``False`` when
        only the panel file (``out``) is wanted: about a fifth less work, and those methods then raise.
        A partitioned dataset always keeps them.

    Returns
    -------
    PanelResult

    Raises
    ------
    InputDataError
        A missing column, a bad row (unless ``drop_bad_rows``), a visitation date after the extraction
        date (unless ``drop_bad_rows``), spells that fit too few ledger persons (``min_matched_share``),
        an output that would replace an input or a trial's ledger, or an invalid argument. The message
        names the input, the column, the rule and up to ten rows.

    Notes
    -----
    Outcomes per observed person-week: ``in_internship``, ``in_wage_subsidy``, ``ordinary_hours``
    (``Σ hours_per_week × overlap_days / DAYS_PER_WEEK``: hours are a weekly rate), ``has_ordinary_hours`` (hours > 0),
    ``company_directed`` (any of those three), ``self_supporting`` (no benefit spell covers the week; only
    when the spells hold benefit spells), ``reached_13_weeks`` and, when ``workplace_id`` has values,
    ``reached_13_weeks_same_workplace``. Overlapping spells of one type are merged for indicators and
    summed for hours. See ``docs/panel.md`` for the 13-week rule and its same-workplace variant.

    Examples
    --------
    >>> import pandas as pd
    >>> ledger = pd.DataFrame({"person_id": ["a", "b"], "arm": ["treatment", "control"],
    ...                        "visitation_date": ["2016-03-01", "2016-03-08"]})
    >>> spells = pd.DataFrame({"person_id": ["a", "zz"], "spell_type": ["internship", "internship"],
    ...                        "start_date": ["2016-03-06", "2016-03-01"],
    ...                        "end_date": ["2016-03-09", "2016-03-30"]})
    >>> res = build_panel(ledger, spells, "2016-03-28", weeks=4)
    >>> res.to_frame()[["person_id", "week", "in_internship"]].values.tolist()
    [['a', 1, 1], ['a', 2, 1], ['a', 3, 0], ['a', 4, 0], ['b', 1, 0], ['b', 2, 0], ['b', 3, 0]]
    >>> res.n_spells_not_in_ledger
    1
    """
    if any(isinstance(x, (str, os.PathLike)) and os.path.isdir(x) for x in (ledger, spells)):
        from trialeval.panel.partitioned import build_partitioned   # a partitioned dataset: part by part

        return build_partitioned(ledger, spells, extraction_date, weeks, pre_weeks=pre_weeks,  # type: ignore[arg-type]
                                 min_days=min_days, drop_bad_rows=drop_bad_rows, spell_types=spell_types,
                                 columns=columns, progress=progress, chunk_persons=chunk_persons, out=out,
                                 min_matched_share=min_matched_share, axis=axis, design=design,
                                 declared_outcomes=declared_outcomes)
    period_axis = panel_axis(axis)
    workers = default_workers() if workers is None else _check_int(workers, "workers", 1)
    weeks, pre_weeks, min_days, chunk_persons, extraction, types, out = _check_arguments(
        weeks, pre_weeks, min_days, chunk_persons, extraction_date, spell_types, out, keep_panel,
        min_matched_share, drop_bad_rows, ledger, spells, columns, MAX_MIN_DAYS[period_axis.name])
    if period_axis.alignment == "calendar" and pre_weeks:
        raise InputDataError(f"pre_weeks counts periods before visitation; on the calendar axis "
                             f"{period_axis.name} choose the first period with period_from")
    _, date_format = split_date_format(columns)
    table, ledger_source = _read_ledger(ledger, columns, date_format, design)
    _release_memory()        # the reader's temporaries would otherwise stay in the peak of every later step
    if isinstance(spells, pd.DataFrame):
        spells_source = str(spells.attrs.get("source", "spells"))
        date_format = spells.attrs.get("date_format", date_format)     # as read_spells read it
        batches: Iterator[pd.DataFrame | pa.RecordBatch] = iter([spells])
        n_spell_rows: int | None = len(spells)
    else:
        spells_source = str(spells)
        batches, n_spell_rows = _spell_batches(spells, columns)

    ledger_ids, persons, window = _ledger_persons(table, extraction, 1 - pre_weeks, weeks, drop_bad_rows,
                                                  ledger_source, period_axis, period_from, period_to)
    del table
    k_min, weeks = window.k_min, window.last
    # Memory planned before anything is allocated: a chunk's working set is bounded by its person-weeks,
    # and a panel kept in memory must fit in this machine's memory.
    n_weeks = window.n_periods
    lookback = max((o.lookback for o in declared_outcomes), default=0)
    cells_per_person = n_weeks + (5 * n_weeks + lookback if window.months else 0)   # months: also their weeks
    chunk_persons = max(1, min(chunk_persons, CHUNK_CELLS // cells_per_person))
    if keep_panel and out is None:
        _check_kept_memory(int(persons.n_obs.sum()))
    _release_memory()

    sp, spell_rejects, counts = _read_compact_spells(batches, spells_source, types, drop_bad_rows,
                                                      ledger_ids, persons.late_ids, n_spell_rows, date_format,
                                                      workers=workers)
    _check_matched(ledger_ids, sp.person, counts, spell_rejects, min_matched_share,
                   spells_source=spells_source, ledger_source=ledger_source)
    del counts["absent_ids"]
    ids = ledger_ids.cast(pa.string())       # 32-bit offsets, as the panel writes them; one copy kept
    del ledger_ids
    _release_memory()

    extras = types[len(SPELL_TYPES):]
    flag_outcomes = _flag_outcomes(counts["has_benefit"], counts["has_workplace"], extras, declared_outcomes)
    outcomes = ("in_internship", "in_wage_subsidy", "ordinary_hours", *flag_outcomes[2:])
    check_declared(declared_outcomes, outcomes[:len(outcomes) - len(declared_outcomes)], types)
    layout = _Layout(ids=ids, arm=persons.arm, groups=persons.groups, n_obs=persons.n_obs, outcomes=outcomes,
                     flag_outcomes=flag_outcomes, k_min=k_min, period_column=period_axis.column,
                     arm_labels=persons.arm_labels, weight=persons.weight, period_values=window.values)
    sums = _WeekSums(layout, n_weeks, kept=week_sums)
    group, group_weeks = sums.person_groups() if week_sums else (None, None)
    ctx = _Context(v=persons.v, last_week=persons.last_week, n_obs=persons.n_obs, k_min=k_min,
                   n_weeks=n_weeks, min_days=min_days, period_days=7,
                   rules=_rules_for(flag_outcomes, len(extras), declared_outcomes, types), group=group,
                   group_weeks=group_weeks, compact=out is not None or keep_panel, lookback=lookback,
                   months=window.months, week_rules=_counted_in_weeks(flag_outcomes, declared_outcomes),
                   on_chunk=on_chunk(persons.arm) if on_chunk is not None else None)
    with _PanelStore(layout, sums, out=out, keep=keep_panel, workers=workers) as store:
        _run_chunks(ctx, sp, store, chunk_persons, progress, workers)

    settings = {
        "extraction_date": _iso(extraction), "weeks": weeks, "pre_weeks": pre_weeks,
        "min_days": min_days, "drop_bad_rows": bool(drop_bad_rows), "spell_types": list(types),
        "chunk_persons": chunk_persons, "ledger": ledger_source, "spells": spells_source,
        "n_excluded": persons.n_excluded, "out": None if out is None else str(out),
        "keep_panel": bool(keep_panel and out is None), "axis": period_axis.name,
    }
    if window.labels is not None:
        settings["period_from"], settings["period_to"] = window.labels
    result = PanelResult(
        outcomes=outcomes, number_at_risk=_number_at_risk(persons.arm, persons.n_obs, k_min, weeks,
                                                          period_axis.column, persons.arm_labels, window.values),
        rejects=_all_rejects(spell_rejects, persons.rejects), n_spells_not_in_ledger=counts["n_absent"],
        n_persons_not_in_ledger=counts["n_absent_persons"], n_spells_used=len(sp.person), settings=settings,
        _layout=layout, _chunks=store.chunks, _sums=sums, axis=period_axis,
    )
    if out is not None:
        _write_side_files(result, out)
    return result


def _check_arguments(
    weeks: Any, pre_weeks: Any, min_days: Any, chunk_persons: Any, extraction_date: Any,
    spell_types: Sequence[str] | None, out: str | os.PathLike[str] | None, keep_panel: Any,
    min_matched_share: Any, drop_bad_rows: bool, ledger: Any, spells: Any, columns: Mapping[str, str] | None,
    period_days: int,
) -> tuple[int, int, int, int, int, tuple[str, ...], Path | None]:
    """Every argument of :func:`build_panel` checked once, before any input is read; ``out`` must not
    replace an input or a trial's ledger."""
    weeks, pre_weeks, min_days, chunk_persons = (
        _check_int(weeks, "weeks", 1, MAX_WEEKS), _check_int(pre_weeks, "pre_weeks", 0, MAX_WEEKS),
        _check_int(min_days, "min_days", 1, period_days), _check_int(chunk_persons, "chunk_persons", 1))
    extraction = _as_day(extraction_date, "extraction_date")
    types = _spell_types(spell_types)
    out_path = None
    if out is not None:
        out_path = Path(out)
        if out_path.suffix.lower() not in (".parquet", ".csv"):
            raise InputDataError(f"{out_path}: the panel is written as .parquet or .csv; got "
                                 f"'{out_path.suffix.lower()}'")
        at_risk_path, rejects_path = side_paths(out_path)
        check_outputs([("--out", out_path), ("--out (number at risk beside it)", at_risk_path),
                       ("--out (rejects beside it)", rejects_path if drop_bad_rows else None)],
                      [("--ledger", None if isinstance(ledger, pd.DataFrame) else ledger),
                       ("--spells", None if isinstance(spells, pd.DataFrame) else spells)], columns=columns)

    if not isinstance(keep_panel, bool):
        raise InputDataError(f"keep_panel must be True or False; got {keep_panel!r}")
    if (isinstance(min_matched_share, bool) or not isinstance(min_matched_share, (int, float))
            or not 0 <= min_matched_share <= 1):
        raise InputDataError(f"min_matched_share must be a share from 0 to 1 of the ledger's persons; "
                             f"got {min_matched_share!r}")
    return weeks, pre_weeks, min_days, chunk_persons, extraction, types, out_path


def _read_ledger(ledger: pd.DataFrame | str | os.PathLike[str], columns: Mapping[str, str] | None,
                 date_format: str | None, design: Design | None = None) -> tuple[pa.Table, str]:
    """The ledger as compact Arrow columns, and its name for messages.

    Only the columns the panel needs are read, and none of them becomes Python objects (a DataFrame of
    millions of id strings costs hundreds of MB). A ledger file is checked against its manifest first.
    ``arm`` becomes codes into the design's labels (0 the programme group, 1 the reference group).
    """
    if isinstance(ledger, pd.DataFrame):
        source = str(ledger.attrs.get("source", "ledger"))
        checked = validate_ledger(ledger, source, date_format=date_format, design=design)
        return _ledger_frame_table(checked, source, design), source
    check_ledger_manifest(ledger)
    return read_ledger_table(ledger, rename=columns, design=design), str(ledger)


@dataclass(frozen=True, eq=False)
class _Persons:
    """The ledger as plain per-person arrays, in id order (the order the panel is written in)."""

    v: np.ndarray                   # int32 visitation day number
    last_week: np.ndarray           # int32 last observed week
    n_obs: np.ndarray               # int64 observed weeks
    arm: np.ndarray                 # int8 code into arm_labels (0 programme group, 1 reference group)
    arm_labels: tuple[str, str]     # the design's group labels
    weight: np.ndarray | None       # float64 weight per person, when the ledger has one
    groups: dict[str, tuple[np.ndarray, pa.Array]]
    n_excluded: int
    rejects: pd.DataFrame           # ledger rows dropped for a visitation after the extraction date
    late_ids: pa.Array              # their ids


def _ledger_persons(table: pa.Table, extraction: int, k_min: int, weeks: int, drop_bad_rows: bool,
                    source: str, axis: TimeAxis, period_from: Any = None, period_to: Any = None
                    ) -> tuple[pa.Array, _Persons, PanelWindow]:
    """The ledger's ids (sorted, large_string), its persons' arrays and the panel's window on the time
    axis (:func:`~trialeval.panel.periods.panel_window`); the table is not kept.

    A visitation after the extraction date leaves nothing of that person to observe and usually means a
    wrong extraction date, so it is an error unless bad rows are dropped. Matching and sorting run in
    Arrow on the id text, never on Python string objects; ids are matched exactly (the ledger's were
    checked for surrounding blanks when it was read).
    """
    v_all = _day_numbers(table["visitation_date"])
    late = v_all > extraction
    ledger_rejects = _late_rejects(table, late)
    if late.any():
        if not drop_bad_rows:
            raise row_error(source, "visitation_date", f"is after the extraction date {_iso(extraction)}", late)
        table = table.filter(pa.array(~late))
        v_all = v_all[~late]
    ledger_ids = _combined(table["person_id"]).cast(pa.large_string())
    if _in_id_order(ledger_ids):
        order = np.arange(len(ledger_ids))
    else:
        order = pc.sort_indices(ledger_ids).to_numpy()
        ledger_ids = ledger_ids.take(pa.array(order))
    late_ids = _arrow_text(_ids_as_text(pd.Series(ledger_rejects["person_id"], dtype=object)).dropna())
    v = v_all[order]
    limit = (_day_numbers(table["followup_end"], missing=extraction)[order] if "followup_end" in table.column_names
             else np.full(len(v), extraction, dtype=np.int64))
    limit = np.minimum(limit, extraction)
    window = panel_window(axis, v, limit, k_min=k_min, last=weeks, period_from=period_from, period_to=period_to)
    n_obs = (window.last_observed.astype(np.int64) - window.k_min + 1)
    groups: dict[str, tuple[np.ndarray, pa.Array]] = {}
    for col in ("municipality", "stratum"):
        if col in table.column_names:
            groups[col] = _first_seen_codes(_combined(table[col]), order)
    arm = _combined(table["arm"])
    weight = (_combined(table["weight"]).to_numpy().astype(np.float64)[order] if "weight" in table.column_names
              else None)
    # Day numbers and weeks fit int32 (as the spells' days do): half the memory per person.
    return ledger_ids, _Persons(
        v=window.v.astype(np.int32), last_week=window.last_observed, n_obs=n_obs,
        arm=np.asarray(arm.indices).astype(np.int8)[order], groups=groups, weight=weight,
        arm_labels=tuple(arm.dictionary.to_pylist()),  # type: ignore[arg-type]
        n_excluded=int(pc.sum(table["excluded"]).as_py() or 0), rejects=ledger_rejects, late_ids=late_ids), window


def _number_at_risk(arm: np.ndarray, n_obs: np.ndarray, k_min: int, weeks: int, column: str,
                    labels: Sequence[str] = Design().labels, values: np.ndarray | None = None) -> pd.DataFrame:
    """``arm, week, n_at_risk``: persons observed per arm and week (``column`` names the week, ``labels``
    the groups of the codes in ``arm``, ``values`` the numbers of weeks ``k_min .. weeks``, default
    themselves)."""
    n_weeks = weeks - k_min + 1
    rows = []
    for a, name in enumerate(labels):
        counts = np.bincount(n_obs[arm == a], minlength=n_weeks + 1)
        at_risk = counts[::-1].cumsum()[::-1][1:n_weeks + 1]   # persons with n_obs >= j + 1
        rows.append(pd.DataFrame({"arm": name, column: np.arange(k_min, weeks + 1) if values is None else values,
                                  "n_at_risk": at_risk.astype(np.int64)}))
    return pd.concat(rows, ignore_index=True)


def _panel_axis(axis: TimeAxis | str) -> FixedLengthAxis:
    """The time axis of a panel built part by part: weeks since visitation only."""
    resolved = TimeAxis.from_name(axis) if isinstance(axis, str) else axis
    if resolved != WEEKS_SINCE_VISITATION or not isinstance(resolved, FixedLengthAxis):
        name = getattr(resolved, "name", repr(resolved))
        raise InputDataError(f"time axis {name!r}: a person-partitioned dataset is built on "
                             f"{WEEKS_SINCE_VISITATION.name}; build other axes from one spells file")
    return resolved


def _all_rejects(spell_rejects: pd.DataFrame, ledger_rejects: pd.DataFrame) -> pd.DataFrame:
    rejects = pd.concat([spell_rejects, ledger_rejects], ignore_index=True)
    if len(rejects):
        # Missing values as None whichever way concat treated the empty object columns.
        rejects = rejects.astype(object).where(rejects.notna(), None)
    return rejects


# --------------------------------------------------------------------------------------------------
# The ledger as Arrow columns
# --------------------------------------------------------------------------------------------------

def _combined(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    if isinstance(col, pa.ChunkedArray):
        return col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    return col


def _day_numbers(col: pa.ChunkedArray, missing: int = 0) -> np.ndarray:
    """A ``date32`` column as int64 day numbers since 1970-01-01; nulls become ``missing``."""
    return pc.fill_null(_combined(col).cast(pa.int32()), missing).to_numpy().astype(np.int64)


def _first_seen_codes(col: pa.DictionaryArray, order: np.ndarray) -> tuple[np.ndarray, pa.Array]:
    """int32 codes of a dictionary column taken in ``order``, numbered by first appearance in that order
    (as :func:`pandas.factorize` numbers them), and the values they stand for."""
    idx = np.asarray(col.indices)[order]
    if len(idx) == 0:
        return idx.astype(np.int32), pa.array([], type=pa.string())
    used, first = np.unique(idx, return_index=True)
    by_first = used[np.argsort(first, kind="stable")]
    remap = np.empty(len(col.dictionary), dtype=np.int32)
    remap[by_first] = np.arange(len(by_first), dtype=np.int32)
    return remap[idx], col.dictionary.take(pa.array(by_first)).cast(pa.string())


def _ledger_frame_table(frame: pd.DataFrame, source: str, design: Design | None = None) -> pa.Table:
    """A ledger DataFrame checked by :func:`validate_ledger` as the compact table of
    :func:`trialeval.io.read_ledger_table` (ids as text, as the panel matches them)."""
    cols = {c: frame[c] for c in LEDGER_TABLE_COLUMNS if c in frame.columns}
    cols["person_id"] = _ids_as_text(frame["person_id"]).astype(object)
    return compact_ledger(pa.Table.from_pandas(pd.DataFrame(cols), preserve_index=False), source, design=design)


def _late_rejects(table: pa.Table, late: np.ndarray) -> pd.DataFrame:
    """Ledger rows whose visitation is after the extraction date, as rows of the rejects table."""
    rows = np.flatnonzero(late)
    sub = pd.DataFrame({
        "person_id": table["person_id"].take(pa.array(rows)).to_numpy(zero_copy_only=False).astype(object),
        "visitation_date": pd.Series(_day_numbers(table["visitation_date"].take(pa.array(rows)))
                                     .astype("datetime64[D]").astype("datetime64[ns]"))})
    n = len(rows)
    out = _rejects_frame(sub, "ledger", np.ones(n, dtype=bool), np.full(n, "visitation_date", object),
                         np.full(n, "visitation_date is after the extraction date", object))
    out["row"] = rows + 1
    return out


def _iso(day: int) -> str:
    """A day number as ISO ``YYYY-MM-DD``."""
    return str(np.datetime64(int(day), "D"))


# --------------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------------

def side_paths(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Where :func:`write_panel` puts the number-at-risk table and the rejects, beside the panel.

    Examples
    --------
    >>> [p.name for p in side_paths("out/panel.parquet")]
    ['panel_at_risk.csv', 'panel_rejects.csv']
    """
    path = Path(path)
    return (path.with_name(f"{path.stem}_at_risk.csv"), path.with_name(f"{path.stem}_rejects.csv"))


def write_panel(result: PanelResult, path: str | os.PathLike[str], *,
                progress: ProgressCallback | None = None) -> tuple[Path, ...]:
    """Write the panel (Parquet or CSV) and, beside it, the number at risk and the rejects.

    Parquet is written a group of whole persons at a time (person-ordered row groups of at most
    ``ROW_GROUP_ROWS`` rows), so memory stays bounded; CSV is UTF-8 with ISO dates. Every file goes to a
    temporary name first and is renamed when complete.

    Parameters
    ----------
    result
        From :func:`build_panel`.
    path
        ``.parquet`` or ``.csv``. ``<stem>_at_risk.csv`` is written beside it, and ``<stem>_rejects.csv``
        when the panel was built with ``drop_bad_rows``.
    progress
        ``callback(done, total)`` called after each chunk of persons.

    Returns
    -------
    tuple of pathlib.Path
        The files written, the panel first.

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> ledger = pd.DataFrame({"person_id": ["a"], "arm": ["treatment"], "visitation_date": ["2016-03-01"]})
    >>> spells = pd.DataFrame({"person_id": ["a"], "spell_type": ["internship"],
    ...                        "start_date": ["2016-03-01"], "end_date": ["2016-03-10"]})
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "panel.parquet"
    >>> [p.name for p in write_panel(build_panel(ledger, spells, "2016-03-31", weeks=4), out)]
    ['panel.parquet', 'panel_at_risk.csv']
    >>> pd.read_parquet(out)["in_internship"].tolist()
    [1, 1, 0, 0]
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise InputDataError(f"{path}: the panel is written as .parquet or .csv; got '{suffix}'")
    result._require_cells("write_panel")
    at_risk_path, rejects_path = side_paths(path)
    inputs = [(f"--{name}", result.settings[name]) for name in ("ledger", "spells")
              if os.path.isfile(result.settings[name])]
    check_outputs([("path", path), ("path (number at risk beside it)", at_risk_path),
                   ("path (rejects beside it)", rejects_path if result.settings["drop_bad_rows"] else None)],
                  inputs)
    total = len(result._chunks)
    with _panel_writer(result._chunk_table, result._n_obs, path, workers=default_workers()) as write:
        for done, chunk in enumerate(result._chunks, start=1):
            write(chunk)
            tick(progress, done, total, "Writing the panel", "chunks")
    return _write_side_files(result, path)


def _write_side_files(result: PanelResult, path: Path) -> tuple[Path, ...]:
    """Write the number at risk (and the rejects, with ``drop_bad_rows``) beside the panel at ``path``."""
    at_risk_path, rejects_path = side_paths(path)
    written = [path, write_table(result.number_at_risk, at_risk_path)]
    if result.settings["drop_bad_rows"]:
        written.append(write_table(result.rejects, rejects_path))
    return tuple(written)

