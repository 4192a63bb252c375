"""The panel of a person-partitioned dataset: one part at a time, the parts' sums added up.

A dataset made by :func:`trialeval.partition_extract` (or laid out the same way) holds, for each part
``k``, the ledger rows and the spells of the same persons::

    DIR/ledger/part=KKK/<one file>.parquet      DIR/spells/part=KKK/<one file>.parquet

Persons are independent in the panel, so the panel of each part is built on its own
(:func:`build_part`, which calls :func:`~trialeval.panel.build_panel` with ``keep_panel=False``) and
reduced to its :class:`PanelSums`: the number at risk and the per-(arm, observed weeks, week) counts,
indicator sums and hours moments. Sums of disjoint sets of persons add up (:func:`combine`); the total
is turned into a :class:`~trialeval.panel.PanelResult` that gives :meth:`~PanelResult.means`,
:meth:`~PanelResult.week_moments` and the default effect curves exactly as the result of the flat files
does. Memory is bounded by one part, whatever the number of parts. The parts can also be built by
workers of a Dask cluster (:mod:`trialeval.engine.dask`): the same :func:`build_part`, reduced the same
way.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from trialeval.dates import split_date_format
from trialeval.exceptions import InputDataError
from trialeval.io import ARMS, check_outputs
from trialeval.panel.build import CHUNK_CELLS, _iso, _panel_axis, _write_side_files, build_panel, side_paths
from trialeval.panel._memory import _release_memory
from trialeval.panel.joined import join_panels
from trialeval.panel.results import PanelResult, _check_int, _WeekSums
from trialeval.outcomes import DeclaredOutcome
from trialeval.panel.rules import _flag_outcomes
from trialeval.panel.spells import (
    MIN_MATCHED_SHARE,
    SPELL_TYPES,
    _as_day,
    _IdLookup,
    _read_compact_spells,
    _spell_batches,
    _spell_types,
)
from trialeval.panel.store import _Layout
from trialeval.stats.moments import CellMoments
from trialeval.timeaxis import WEEKS_SINCE_VISITATION, TimeAxis

#: File describing a dataset made by :func:`trialeval.partition_extract`.
MANIFEST_NAME = "partition.json"
_PART_PREFIX = "part="

ProgressCallback = Callable[[int, int], None]


# --------------------------------------------------------------------------------------------------
# The dataset's parts
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DatasetPart:
    """One part of a partitioned dataset: its key and its ledger and spells files (None when absent)."""

    key: str
    ledger: str | None
    spells: str | None


def is_dataset(path: Any) -> bool:
    """True when ``path`` is a folder: a partitioned dataset (or one of its ``ledger``/``spells`` halves).

    Examples
    --------
    >>> import tempfile
    >>> is_dataset(tempfile.mkdtemp()), is_dataset("ledger.csv")
    (True, False)
    """
    return isinstance(path, (str, os.PathLike)) and Path(path).is_dir()


def _half(path: Path, name: str, label: str) -> Path:
    """The folder of parts of the ledger or spells: ``path`` itself or its ``name`` subfolder."""
    if (path / name).is_dir() and not any(p.name.startswith(_PART_PREFIX) for p in path.iterdir()):
        path = path / name
    if not any(p.is_dir() and p.name.startswith(_PART_PREFIX) for p in path.iterdir()):
        raise InputDataError(
            f"{label} {path}: is a folder without parts; a partitioned dataset holds ledger/part=K/ and "
            "spells/part=K/ folders of Parquet files (trialeval partition makes one from flat files)")
    return path


def _part_files(folder: Path, label: str) -> dict[str, str]:
    files: dict[str, str] = {}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and p.name.startswith(_PART_PREFIX)):
        found = sorted(f for f in sub.iterdir() if f.is_file() and f.suffix.lower() in (".parquet", ".pq"))
        if len(found) > 1:
            raise InputDataError(f"{label} {sub}: holds {len(found)} Parquet files; a part is one file "
                                 "(trialeval partition writes one per part)")
        if found:
            files[sub.name[len(_PART_PREFIX):]] = str(found[0])
    return files


def dataset_parts(ledger: str | os.PathLike[str], spells: str | os.PathLike[str]) -> list[DatasetPart]:
    """The parts of a partitioned dataset, in key order.

    ``ledger`` and ``spells`` are the dataset folder (holding ``ledger/`` and ``spells/``) or its two
    halves. A part present in only one half is kept (its persons have no spells, or its spells no
    person in the ledger).
    """
    ledger_dir = _half(Path(ledger), "ledger", "--ledger")
    spells_dir = _half(Path(spells), "spells", "--spells")
    if ledger_dir.resolve() == spells_dir.resolve():
        raise InputDataError(f"--ledger {ledger} and --spells {spells}: are the same folder of parts")
    ledger_files, spell_files = _part_files(ledger_dir, "--ledger"), _part_files(spells_dir, "--spells")
    keys = sorted(set(ledger_files) | set(spell_files), key=lambda k: (len(k), k))
    if not keys:
        raise InputDataError(f"--ledger {ledger}: the dataset holds no Parquet files")
    return [DatasetPart(k, ledger_files.get(k), spell_files.get(k)) for k in keys]


# --------------------------------------------------------------------------------------------------
# The sums of a set of persons
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class PanelSums:
    """What the panel of a set of persons adds to the panel of all: additive over disjoint persons.

    Attributes
    ----------
    flag_outcomes
        The indicator outcomes of these persons' panel (benefit and same-workplace outcomes only when
        their spells hold benefit spells or workplaces).
    extras
        Declared spell types.
    k_min, n_weeks
        First week and number of weeks of the window.
    n, s1, hours
        Per cell (arm, observed weeks, week): person-weeks, indicator sums, hours moments.
    persons
        ``(arms, weeks + 1)``: persons by arm and number of observed weeks (what the result's counts
        need; no per-person array travels or grows with the number of parts).
    at_risk
        ``(arms, weeks)`` persons observed.
    counts
        ``n_excluded``, ``n_spells_not_in_ledger``, ``n_persons_not_in_ledger``, ``n_spells_used`` and
        ``n_persons_matched`` (ledger persons with a spell).
    groups
        The ledger's grouping columns (``municipality``, ``stratum``) present.
    rejects
        Rows dropped with ``drop_bad_rows``.
    """

    flag_outcomes: tuple[str, ...]
    extras: tuple[str, ...]
    k_min: int
    n_weeks: int
    n: np.ndarray
    s1: dict[str, np.ndarray]
    hours: CellMoments
    persons: np.ndarray
    at_risk: np.ndarray
    counts: dict[str, int]
    groups: tuple[str, ...] = ()
    rejects: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    declared: tuple[DeclaredOutcome, ...] = ()

    @classmethod
    def empty(cls, k_min: int, n_weeks: int, extras: Sequence[str] = (),
              declared: Sequence[DeclaredOutcome] = ()) -> PanelSums:
        """The sums of no persons: the identity of ``+``."""
        n_cells = len(ARMS) * (n_weeks + 1) * n_weeks
        flags = _flag_outcomes(False, False, tuple(extras), declared)
        return cls(flags, tuple(extras), k_min, n_weeks, np.zeros(n_cells), {f: np.zeros(n_cells) for f in flags},
                   CellMoments.empty(n_cells), np.zeros((len(ARMS), n_weeks + 1), np.int64),
                   np.zeros((len(ARMS), n_weeks), np.int64), dict.fromkeys(_COUNTS, 0), declared=tuple(declared))

    @property
    def outcomes(self) -> tuple[str, ...]:
        """The panel's outcomes, in panel order."""
        return ("in_internship", "in_wage_subsidy", "ordinary_hours", *self.flag_outcomes[2:])

    def _s1(self, name: str) -> np.ndarray:
        """Sums of an indicator, also one these persons' spells cannot give: no benefit spell means
        self-supporting every observed week; no workplace never reaches the same-workplace rule."""
        if name in self.s1:
            return self.s1[name]
        if name == "self_supporting":
            return self.n
        return np.zeros_like(self.n)

    def __add__(self, other: PanelSums) -> PanelSums:
        if (self.k_min, self.n_weeks, self.extras, self.declared) != (other.k_min, other.n_weeks, other.extras,
                                                                       other.declared):
            raise InputDataError("panel sums of different windows or spell types cannot be added")
        has_benefit, has_workplace = (any(f in s.flag_outcomes for s in (self, other))
                                      for f in ("self_supporting", "reached_13_weeks_same_workplace"))
        flags = _flag_outcomes(has_benefit, has_workplace, self.extras, self.declared)
        rejects = [r for r in (self.rejects, other.rejects) if len(r)]
        return PanelSums(
            flag_outcomes=flags, extras=self.extras, k_min=self.k_min, n_weeks=self.n_weeks,
            n=self.n + other.n, s1={f: self._s1(f) + other._s1(f) for f in flags},
            hours=self.hours + other.hours, persons=self.persons + other.persons,
            at_risk=self.at_risk + other.at_risk,
            counts={k: self.counts[k] + other.counts[k] for k in _COUNTS},
            groups=tuple(dict.fromkeys(self.groups + other.groups)), declared=self.declared,
            rejects=pd.concat(rejects, ignore_index=True) if len(rejects) > 1 else (
                rejects[0] if rejects else self.rejects))


_COUNTS = ("n_excluded", "n_spells_not_in_ledger", "n_persons_not_in_ledger", "n_spells_used",
           "n_persons_matched")


def combine(sums: Iterable[PanelSums]) -> PanelSums:
    """The sums of the union of disjoint sets of persons, added in the order given.

    Counts and indicator sums add exactly; hours moments by the parallel-variance formula, so the
    result equals that of one pass over all persons up to rounding (about 1e-15 relative).

    Examples
    --------
    >>> a, b = PanelSums.empty(1, 4), PanelSums.empty(1, 4)
    >>> combine([a, b]).n.sum()
    np.float64(0.0)
    """
    total: PanelSums | None = None
    for s in sums:
        total = s if total is None else total + s
    if total is None:
        raise InputDataError("combine: no panel sums given")
    return total


# --------------------------------------------------------------------------------------------------
# One part
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PartOptions:
    """The arguments every part is built with (checked once, by :func:`build_partitioned`)."""

    extraction_date: str
    weeks: int
    pre_weeks: int = 0
    min_days: int = 1
    drop_bad_rows: bool = False
    spell_types: tuple[str, ...] = ()
    date_format: str | None = None
    chunk_persons: int = 100_000
    axis: str = WEEKS_SINCE_VISITATION.name
    out_dir: str | None = None      # each part's panel is written here (``part=K.parquet``) when given
    out_suffix: str = ".parquet"
    declared_outcomes: tuple[DeclaredOutcome, ...] = ()

    def part_out(self, part: DatasetPart) -> Path | None:
        """Where the panel of ``part`` is written, or None."""
        return None if self.out_dir is None else Path(self.out_dir) / f"{_PART_PREFIX}{part.key}{self.out_suffix}"


def _rows(path: str | None) -> int:
    if path is None:
        return 0
    try:
        return int(pq.ParquetFile(path).metadata.num_rows)
    except (OSError, pa.ArrowException) as exc:
        raise InputDataError(f"{path}: cannot be read as parquet: {exc}") from exc


def build_part(part: DatasetPart, options: PartOptions) -> PanelSums:
    """The panel of one part, built with :func:`~trialeval.panel.build_panel` and reduced to its sums.

    Runs where the part's files are (a worker of a cluster reads them from shared storage).
    """
    sums = _build_part(part, options)
    _release_memory()     # else each part's freed pages stay mapped and the peak creeps up part by part
    return sums


def _build_part(part: DatasetPart, options: PartOptions) -> PanelSums:
    k_min, n_weeks = 1 - options.pre_weeks, options.weeks + options.pre_weeks
    types = _spell_types(list(options.spell_types))
    extras = types[len(SPELL_TYPES):]
    columns = {"date_format": options.date_format} if options.date_format else None
    n_spells = _rows(part.spells)
    if _rows(part.ledger) == 0:
        return _spells_only(part, types, extras, k_min, n_weeks, options, columns) if n_spells else \
            PanelSums.empty(k_min, n_weeks, extras, options.declared_outcomes)
    spells: Any = part.spells if n_spells else pd.DataFrame(
        {c: pd.Series([], dtype=object) for c in ("person_id", "spell_type", "start_date", "end_date")})
    res = build_panel(part.ledger, spells, options.extraction_date, options.weeks,  # type: ignore[arg-type]
                      pre_weeks=options.pre_weeks, min_days=options.min_days,
                      drop_bad_rows=options.drop_bad_rows, spell_types=list(options.spell_types) or None,
                      columns=columns, chunk_persons=options.chunk_persons, keep_panel=False,
                      min_matched_share=0, axis=options.axis, out=options.part_out(part),
                      declared_outcomes=options.declared_outcomes)
    sums = res._sums
    at_risk = res.number_at_risk["n_at_risk"].to_numpy(dtype=np.int64).reshape(len(ARMS), n_weeks)
    counts = {"n_excluded": int(res.settings["n_excluded"]), "n_spells_not_in_ledger": res.n_spells_not_in_ledger,
              "n_persons_not_in_ledger": res.n_persons_not_in_ledger, "n_spells_used": res.n_spells_used,
              "n_persons_matched": _matched(res._layout.ids, part.spells) if n_spells else 0}
    return PanelSums(
        flag_outcomes=res._layout.flag_outcomes, extras=extras, k_min=k_min, n_weeks=n_weeks, n=sums.n,
        s1=dict(sums.s1), hours=sums.hours, persons=_persons(res._layout.arm, res._layout.n_obs, n_weeks),
        at_risk=at_risk, counts=counts,
        groups=tuple(res._layout.groups), rejects=res.rejects, declared=options.declared_outcomes)


def _persons(arm: np.ndarray, n_obs: np.ndarray, n_weeks: int) -> np.ndarray:
    """``(arms, weeks + 1)`` counts of persons by arm and observed weeks."""
    cells = arm.astype(np.int64) * (n_weeks + 1) + n_obs
    return np.bincount(cells, minlength=len(ARMS) * (n_weeks + 1)).reshape(len(ARMS), n_weeks + 1)


def _matched(ids: pa.Array, spells: str | None) -> int:
    """Ledger persons (``ids``, sorted) with at least one spell row in ``spells``."""
    from trialeval.partition import _id_text

    spell_ids = _id_text(pq.read_table(spells, columns=["person_id"])["person_id"])
    pos = _IdLookup(ids.cast(pa.large_string())).index(spell_ids)
    return int(np.unique(pos[pos >= 0]).size)


def _spells_only(part: DatasetPart, types: tuple[str, ...], extras: tuple[str, ...], k_min: int, n_weeks: int,
                 options: PartOptions, columns: Mapping[str, str] | None) -> PanelSums:
    """A part whose spells have no person in the ledger: checked, and counted as not in the ledger."""
    batches, n_rows = _spell_batches(str(part.spells), columns)
    none = pa.array([], type=pa.large_string())
    _, rejects, counts = _read_compact_spells(batches, str(part.spells), types, options.drop_bad_rows, none,
                                              none, n_rows, options.date_format)
    empty = PanelSums.empty(k_min, n_weeks, extras, options.declared_outcomes)
    flags = _flag_outcomes(counts["has_benefit"], counts["has_workplace"], extras, options.declared_outcomes)
    return replace(empty, flag_outcomes=flags, s1={f: empty._s1(f) for f in flags}, rejects=rejects,
                   counts={**empty.counts, "n_spells_not_in_ledger": counts["n_absent"],
                           "n_persons_not_in_ledger": counts["n_absent_persons"]})


# --------------------------------------------------------------------------------------------------
# All parts
# --------------------------------------------------------------------------------------------------

#: Engines that build the parts: ``local`` one after another in this process, ``dask`` on a cluster.
ENGINES = ("local", "dask")


def run_local(parts: Sequence[DatasetPart], options: PartOptions,
              progress: ProgressCallback | None = None) -> PanelSums:
    """Build the parts one after another in this process and add up their sums (in part order)."""
    total: PanelSums | None = None
    for done, part in enumerate(parts, start=1):
        sums = build_part(part, options)
        total = sums if total is None else total + sums
        del sums
        if progress is not None:
            progress(done, len(parts))
    assert total is not None      # dataset_parts never returns no parts
    return total


def build_partitioned(
    ledger: str | os.PathLike[str],
    spells: str | os.PathLike[str],
    extraction_date: Any,
    weeks: int = WEEKS_SINCE_VISITATION.periods_per_year,
    *,
    pre_weeks: int = 0,
    min_days: int = 1,
    drop_bad_rows: bool = False,
    spell_types: Sequence[str] | None = None,
    columns: Mapping[str, str] | None = None,
    progress: ProgressCallback | None = None,
    chunk_persons: int = 100_000,
    min_matched_share: float = MIN_MATCHED_SHARE,
    axis: TimeAxis | str = WEEKS_SINCE_VISITATION,
    out: str | os.PathLike[str] | None = None,
    engine: str = "local",
    scheduler: Any = None,
    workers: int | None = None,
    design: Any = None,
    declared_outcomes: Sequence[DeclaredOutcome] = (),
) -> PanelResult:
    """The panel of a person-partitioned dataset, one part at a time: its number at risk and sums.

    ``workers`` is accepted for the one call of every engine and not used: parts are built one after
    another, each in the memory of one part. A ``design`` must have the groups ``treatment`` and
    ``control`` (other labels in a dataset are not supported yet).

    The arguments are those of :func:`~trialeval.panel.build_panel`; the panel itself is not kept (as
    with ``keep_panel=False``), so memory is bounded by one part whatever the number of parts. The
    result gives :meth:`PanelResult.means`, :meth:`PanelResult.week_moments` and the default effect
    curves, equal to those of the flat files (to rounding, about 1e-15).

    Parameters
    ----------
    ledger, spells
        The dataset folder (made by :func:`trialeval.partition_extract`) or its ``ledger`` and
        ``spells`` folders of parts.
    extraction_date, weeks, pre_weeks, min_days, drop_bad_rows, spell_types, chunk_persons, axis,
    declared_outcomes
        As for :func:`~trialeval.panel.build_panel`. Rejected rows name the part's file and its rows.
    columns
        Only its ``date_format`` is used: the dataset's columns have the contract's names.
    progress
        ``callback(done, total)`` after each part.
    out
        Also write the panel to this ``.parquet`` or ``.csv`` file (and the side files of
        :func:`~trialeval.panel.write_panel`): each part's panel is written into a temporary folder beside
        it (which every worker must see, with the dask engine) and the parts are joined in part order,
        grouped by person (:mod:`trialeval.panel.joined`).
    min_matched_share
        Smallest share of the ledger's persons with at least one spell row, over the whole dataset.
    engine
        ``"local"`` (the parts one after another in this process) or ``"dask"`` (the parts as tasks on
        a Dask cluster; see :func:`trialeval.engine.dask.run_dask`).
    scheduler
        With ``engine="dask"``: the scheduler's address (``tcp://host:8786``) or a
        ``distributed.Client``; None starts a local cluster on this machine.

    Returns
    -------
    PanelResult
        Without the long table (``kept`` is False); ``settings`` also holds ``parts`` and ``engine``.

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> from trialeval import partition_extract
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> pd.DataFrame({"person_id": ["a", "b", "c"], "arm": ["treatment", "control", "control"],
    ...               "visitation_date": ["2016-03-01"] * 3}).to_csv(d / "ledger.csv", index=False)
    >>> pd.DataFrame({"person_id": ["a", "c"], "spell_type": ["internship"] * 2,
    ...               "start_date": ["2016-03-01"] * 2, "end_date": ["2016-03-10"] * 2}
    ...              ).to_csv(d / "spells.csv", index=False)
    >>> _ = partition_extract(d / "ledger.csv", d / "spells.csv", d / "data", parts=2)
    >>> res = build_partitioned(d / "data", d / "data", "2016-03-31", weeks=4)
    >>> res.means().loc[lambda m: m["arm"] == "control", "in_internship"].tolist()
    [0.5, 0.5, 0.0, 0.0]
    """
    options = _options(extraction_date, weeks, pre_weeks, min_days, drop_bad_rows, spell_types, columns,
                       chunk_persons, axis)
    options = replace(options, declared_outcomes=tuple(declared_outcomes))
    if engine not in ENGINES:
        raise InputDataError(f"engine must be one of {', '.join(ENGINES)}; got {engine!r}")
    if design is not None and tuple(design.labels) != ("treatment", "control"):
        raise InputDataError("a partitioned dataset is built with the groups 'treatment' and 'control'; other "
                             "group labels are not supported for datasets yet: build the panel from flat files")
    if (isinstance(min_matched_share, bool) or not isinstance(min_matched_share, (int, float))
            or not 0 <= min_matched_share <= 1):
        raise InputDataError(f"min_matched_share must be a share from 0 to 1 of the ledger's persons; "
                             f"got {min_matched_share!r}")
    parts = dataset_parts(ledger, spells)
    out_path = _check_out(out, drop_bad_rows)
    tmp = None
    if out_path is not None:
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_path.name}.", suffix=".parts", dir=out_path.parent))
        options = replace(options, out_dir=str(tmp), out_suffix=out_path.suffix.lower())
    try:
        total = _run(parts, options, engine, scheduler, progress)
        _check_matched_share(total, min_matched_share, str(ledger), str(spells))
        result = panel_result(total, replace(options, out_dir=None), ledger=str(ledger), spells=str(spells),
                              parts=len(parts), engine=engine, out=None if out_path is None else str(out_path))
        if out_path is not None:
            files = [f for f in (options.part_out(p) for p in parts) if f is not None and f.is_file()]
            join_panels(files, out_path, result.columns)
            _write_side_files(result, out_path)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return result


def _run(parts: Sequence[DatasetPart], options: PartOptions, engine: str, scheduler: Any,
         progress: ProgressCallback | None) -> PanelSums:
    """The sums of all parts, built by ``engine``."""
    if engine == "dask":
        from trialeval.engine.dask import run_dask

        return run_dask(parts, options, scheduler=scheduler, progress=progress)
    return run_local(parts, options, progress)


def _check_out(out: str | os.PathLike[str] | None, drop_bad_rows: bool) -> Path | None:
    if out is None:
        return None
    path = Path(out)
    if path.suffix.lower() not in (".parquet", ".csv"):
        raise InputDataError(f"{path}: the panel is written as .parquet or .csv; got '{path.suffix.lower()}'")
    at_risk, rejects = side_paths(path)
    check_outputs([("--out", path), ("--out (number at risk beside it)", at_risk),
                   ("--out (rejects beside it)", rejects if drop_bad_rows else None)])
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _options(extraction_date: Any, weeks: Any, pre_weeks: Any, min_days: Any, drop_bad_rows: Any,
             spell_types: Sequence[str] | None, columns: Mapping[str, str] | None, chunk_persons: Any,
             axis: TimeAxis | str) -> PartOptions:
    period_axis = _panel_axis(axis)
    weeks = _check_int(weeks, "weeks", 1, 1040)
    pre_weeks = _check_int(pre_weeks, "pre_weeks", 0, 1040)
    min_days = _check_int(min_days, "min_days", 1, period_axis.period_days)
    chunk_persons = _check_int(chunk_persons, "chunk_persons", 1)
    if drop_bad_rows not in (True, False):
        raise InputDataError(f"drop_bad_rows must be True or False; got {drop_bad_rows!r}")
    types = _spell_types(spell_types)
    _, date_format = split_date_format(columns)
    return PartOptions(extraction_date=_iso(_as_day(extraction_date, "extraction_date")), weeks=weeks,
                       pre_weeks=pre_weeks, min_days=min_days, drop_bad_rows=bool(drop_bad_rows),
                       spell_types=types[len(SPELL_TYPES):], date_format=date_format,
                       chunk_persons=chunk_persons, axis=period_axis.name)


def _check_matched_share(total: PanelSums, share: float, ledger: str, spells: str) -> None:
    """Stop when fewer than ``share`` of the dataset's ledger persons have a spell (as the panel does)."""
    n_persons, matched = int(total.persons.sum()), total.counts["n_persons_matched"]
    if n_persons == 0 or share <= 0 or matched >= share * n_persons:
        return
    head = (f"{spells}: no spell matches any of the {n_persons} persons in {ledger}" if matched == 0 else
            f"{spells}: only {matched} of the {n_persons} persons in {ledger} "
            f"({100 * matched / n_persons:.1f} %) have any spell")
    raise InputDataError(
        f"{head}; at least {100 * share:g} % must have one (min_matched_share). Spells of "
        f"{total.counts['n_persons_not_in_ledger']} persons are not in the ledger. Check that both halves "
        "come from one extract and one partitioning; if the spells really cover so few of the trial's "
        "persons, lower [analysis] min_matched_share in the config or pass --min-matched-share (0 turns "
        "the check off).")


def panel_result(total: PanelSums, options: PartOptions, **settings: Any) -> PanelResult:
    """A :class:`PanelResult` (without the long table) from the sums of all persons."""
    period_axis = _panel_axis(options.axis)
    groups = {g: (np.zeros(0, np.int32), pa.array([], type=pa.string())) for g in total.groups}
    # Persons in arm order, each arm by observed weeks: what the result's counts and summary read.
    arm = np.repeat(np.arange(len(ARMS), dtype=np.int8), total.persons.sum(axis=1))
    n_obs = np.concatenate([np.repeat(np.arange(total.n_weeks + 1, dtype=np.int16), row) for row in total.persons])
    layout = _Layout(ids=pa.array([], type=pa.string()), arm=arm, groups=groups, n_obs=n_obs,
                     outcomes=total.outcomes, flag_outcomes=total.flag_outcomes, k_min=total.k_min,
                     period_column=period_axis.column)
    sums = _WeekSums(layout, total.n_weeks)
    sums.n, sums.s1, sums.hours = total.n, {f: total._s1(f) for f in total.flag_outcomes}, total.hours
    week = np.arange(total.k_min, total.k_min + total.n_weeks)
    at_risk = pd.concat([pd.DataFrame({"arm": name, period_axis.column: week,
                                       "n_at_risk": total.at_risk[a].astype(np.int64)})
                         for a, name in enumerate(ARMS)], ignore_index=True)
    n_weeks = options.weeks + options.pre_weeks
    all_settings = {
        "extraction_date": options.extraction_date, "weeks": options.weeks, "pre_weeks": options.pre_weeks,
        "min_days": options.min_days, "drop_bad_rows": options.drop_bad_rows,
        "spell_types": [*SPELL_TYPES, *options.spell_types],
        "chunk_persons": max(1, min(options.chunk_persons, CHUNK_CELLS // n_weeks)),
        "n_excluded": total.counts["n_excluded"], "out": None, "keep_panel": False, **settings,
    }
    rejects = total.rejects if len(total.rejects) else _no_rejects()
    return PanelResult(
        outcomes=total.outcomes, number_at_risk=at_risk, rejects=rejects,
        n_spells_not_in_ledger=total.counts["n_spells_not_in_ledger"],
        n_persons_not_in_ledger=total.counts["n_persons_not_in_ledger"],
        n_spells_used=total.counts["n_spells_used"], settings=all_settings, _layout=layout, _chunks=(),
        _sums=sums, axis=period_axis)


def _no_rejects() -> pd.DataFrame:
    from trialeval.panel.spells import _REJECT_COLUMNS

    return pd.DataFrame({c: pd.Series([], dtype=object) for c in _REJECT_COLUMNS})


def build_panel_engine(ledger: Any, spells: Any, extraction_date: Any, weeks: int = WEEKS_SINCE_VISITATION.periods_per_year,
                       *, engine: str = "local", scheduler: Any = None, **options: Any) -> PanelResult:
    """:func:`~trialeval.panel.build_panel` on flat files or a partitioned dataset, with a choice of engine.

    The entry for every command that builds a panel from ``--ledger``/``--spells`` with
    ``--engine``/``--scheduler``: ``engine="local"`` is :func:`~trialeval.panel.build_panel` itself (which
    takes a dataset folder too); ``engine="dask"`` needs a dataset and builds its parts on the cluster at
    ``scheduler`` (:func:`build_partitioned`). ``options`` are those of
    :func:`~trialeval.panel.build_panel`; ``keep_panel`` is ignored for a dataset (never kept).
    """
    if engine not in ENGINES:
        raise InputDataError(f"--engine must be one of {', '.join(ENGINES)}; got {engine!r}")
    if engine == "local" and scheduler is None:
        return build_panel(ledger, spells, extraction_date, weeks, **options)
    if engine == "local":
        raise InputDataError("--scheduler is an address of a Dask scheduler; it needs --engine dask")
    if not (is_dataset(ledger) and is_dataset(spells)):
        raise InputDataError(
            "--engine dask builds a person-partitioned dataset: give --ledger and --spells as the folder "
            "made by trialeval partition (flat files are built by the local engine)")
    options.pop("keep_panel", None)
    options.pop("week_sums", None)                  # a dataset's parts always keep their sums
    return build_partitioned(ledger, spells, extraction_date, weeks, engine=engine, scheduler=scheduler,
                             **options)
