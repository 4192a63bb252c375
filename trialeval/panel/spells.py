"""The spells contract: reading, row rules, rejects, matching to the ledger and the matched-share check.

A Parquet or CSV spells file is read a batch of rows at a time and each batch reduced at once to int32
person positions and day numbers, int8 type codes, int32 workplace codes and hours of the ordinary-hours
spells (about 19 bytes a spell), written into arrays allocated once; Parquet batches are checked with
Arrow and numpy (:func:`_fast_check`) and become DataFrames only when they break a rule
(:func:`_check_spells`, which names the file, column, rule and rows).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from trialeval.exceptions import InputDataError
from trialeval.io import (
    DECIMAL_COMMA_RULE,
    PADDED_ID_RULE,
    date_rule,
    decimal_comma,
    padded_id_error,
    parse_date,
    parse_date_column,
    read_table,
    require_columns,
    require_rows,
    row_error,
    CsvDialect,
    split_date_format,
)
from trialeval.panel._memory import _release_memory
from trialeval.panel.idtext import _fixed_width, _IdLookup, _plain_text  # noqa: F401  (re-exported)

#: The built-in spell types, in the order of their internal codes.
SPELL_TYPES = ("internship", "wage_subsidy", "ordinary_hours", "benefit")
_INTERNSHIP, _WAGE_SUBSIDY, _HOURS, _BENEFIT = range(4)

#: Upper bound of ``hours_per_week`` (hours in a week).
MAX_HOURS = 168.0
#: Default smallest share of the ledger's persons that must have a spell (``min_matched_share``).
MIN_MATCHED_SHARE = 0.5

_SPELL_TEXT_COLUMNS = ("person_id", "spell_type", "workplace_id")

T = TypeVar("T")


def read_spells(path: str | os.PathLike[str], rename: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Read a spells file and check its columns.

    Row-level rules (end before start, hours, spell types) are checked by :func:`build_panel`, which can
    either stop at them or drop them (``drop_bad_rows``); messages name this file because its name is
    kept in ``DataFrame.attrs["source"]``.

    Parameters
    ----------
    path
        CSV, Parquet, Stata or SAS file with ``person_id, spell_type, start_date, end_date`` and optionally
        ``hours_per_week`` and ``workplace_id``.
    rename
        ``{contract_name: user_name}`` from the config's ``[columns]`` table.

    Returns
    -------
    pandas.DataFrame
        The spells with contract column names; ids and spell types as text.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "spells.csv"
    >>> _ = p.write_text("pnr,spell_type,start_date,end_date\\n007,internship,2016-03-01,2016-03-20\\n")
    >>> df = read_spells(p, rename={"person_id": "pnr"})
    >>> df["person_id"].tolist(), df.attrs["source"] == str(p)
    (['007'], True)
    """
    df = read_table(path, text_columns=_SPELL_TEXT_COLUMNS, rename=rename)
    require_columns(df, ["person_id", "spell_type", "start_date", "end_date"], str(path))
    df.attrs["source"] = str(path)
    _, date_format = split_date_format(rename)
    if date_format is not None:
        df.attrs["date_format"] = date_format
    return df


def _ids_as_text(s: pd.Series) -> pd.Series:
    """Ids as text without a loop in Python; numbers lose a spurious ``.0``; blanks become missing."""
    if pd.api.types.is_float_dtype(s):
        present = s.dropna()
        if present.eq(present.round()).all():
            s = s.astype("Int64")
    out = s.astype("str").str.strip()
    return out.where(s.notna() & (out != ""))


def _arrow_text(s: pd.Series | np.ndarray) -> pa.Array:
    """Text (missing allowed) as one Arrow large_string array."""
    arr = pa.array(s, from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr.cast(pa.large_string())


def _index_in(values: pd.Series | pa.Array, lookup: pa.Array) -> np.ndarray:
    """Position of each value in ``lookup`` (int64), -1 when absent or missing."""
    if isinstance(values, pd.Series):
        values = _arrow_text(values)
    found = pc.index_in(values, value_set=lookup)
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def _parse_days(s: pd.Series, date_format: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dates as int64 day numbers since 1970-01-01, plus masks of missing and unreadable values: text is
    ISO ``YYYY-MM-DD`` and a calendar day, or follows the declared ``date_format``
    (:func:`trialeval.io.parse_date_column`)."""
    return parse_date_column(s, date_format)


def _as_day(value: Any, what: str) -> int:
    """One date given by the caller as an int64 day number; text must be ISO ("03/04/2016" means
    different days to different readers) and a calendar day."""
    ts = parse_date(value, what)
    return int(np.datetime64(ts.date(), "D").astype(np.int64))


@dataclass
class _Spells:
    """Validated spells as plain arrays, sorted by ledger position of their person."""

    person: np.ndarray      # int32 index into the (sorted) ledger
    kind: np.ndarray        # int8 code into the spell types
    start: np.ndarray       # int32 day number, inclusive
    end: np.ndarray         # int32 day number, inclusive
    hours: np.ndarray       # float64, of the ordinary_hours spells only (in their order)
    workplace: np.ndarray   # int32 code, -1 when missing
    n_workplaces: int


def _check_spells(
    df: pd.DataFrame, source: str, types: tuple[str, ...], drop_bad_rows: bool, offset: int = 0,
    date_format: str | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray, pd.DataFrame]:
    """Apply every row rule of the spells and the ledger; fatal by default, else return the rejected rows.

    ``offset`` is the number of data rows of the file before ``df`` (a batch), for row numbers;
    ``date_format`` the declared format of date text (None: ISO).
    """
    require_columns(df, ["person_id", "spell_type", "start_date", "end_date"], source)
    n = len(df)
    # (column, rule, mask) in the order a row is blamed; a row gets the first rule it breaks.
    rules: list[tuple[str, str, np.ndarray]] = []

    ids = _ids_as_text(df["person_id"])
    rules.append(("person_id", "is empty", ids.isna().to_numpy()))
    raw_ids = df["person_id"]
    if raw_ids.dtype == object or pd.api.types.is_string_dtype(raw_ids):
        text = raw_ids.astype("str")
        padded = (ids.notna() & (text != ids)).to_numpy(dtype=bool)
    else:
        text, padded = None, np.zeros(n, dtype=bool)
    rules.append(("person_id", PADDED_ID_RULE, padded))

    kind_text = df["spell_type"].astype("str").str.strip().where(df["spell_type"].notna())
    kind = _index_in(kind_text, pa.array(list(types), type=pa.large_string())).astype(np.int8)
    unknown = kind < 0
    if unknown.any():
        found = sorted({str(v) for v in kind_text[unknown].unique()})
        shown = ", ".join(repr(v) for v in found[:5]) + (", …" if len(found) > 5 else "")
        rule = (f"has unknown spell types {shown} (allowed: {', '.join(types)}; "
                "declare others under [analysis] spell_types)")
    else:
        rule = "has unknown spell types"
    rules.append(("spell_type", rule, unknown))

    start, start_missing, start_bad = _parse_days(df["start_date"], date_format)
    end, end_missing, end_bad = _parse_days(df["end_date"], date_format)
    not_a_date = date_rule(date_format)
    rules += [("start_date", "is empty", start_missing), ("start_date", not_a_date, start_bad),
              ("end_date", "is empty", end_missing), ("end_date", not_a_date, end_bad)]
    dates_ok = ~(start_missing | start_bad | end_missing | end_bad)
    rules.append(("end_date", "is before start_date", dates_ok & (end < start)))

    is_hours = kind == _HOURS
    if "hours_per_week" in df.columns:
        raw_hours = df["hours_per_week"]
        hours = pd.to_numeric(raw_hours, errors="coerce").to_numpy(dtype=np.float64)
        raw_missing = np.array(raw_hours.isna().to_numpy(), dtype=bool)     # writable (copy-on-write)
        comma = np.zeros(n, dtype=bool)
        if raw_hours.dtype == object or pd.api.types.is_string_dtype(raw_hours):
            raw_text = raw_hours.astype("str").str.strip()
            raw_missing |= (raw_text == "").to_numpy()
            comma = decimal_comma(raw_hours)
    else:
        hours = np.full(n, np.nan)
        raw_missing = np.ones(n, dtype=bool)
        comma = np.zeros(n, dtype=bool)
    rules.append(("hours_per_week", "is missing on ordinary_hours spells", is_hours & raw_missing))
    rules.append(("hours_per_week", DECIMAL_COMMA_RULE, is_hours & ~raw_missing & comma))
    rules.append(("hours_per_week", "is not a number", is_hours & ~raw_missing & np.isnan(hours)))
    with np.errstate(invalid="ignore"):
        out_of_range = is_hours & ~np.isnan(hours) & ((hours <= 0) | (hours > MAX_HOURS))
    rules.append(("hours_per_week", f"must be > 0 and <= {MAX_HOURS:g}", out_of_range))

    bad_any = np.zeros(n, dtype=bool)
    blamed_column = np.full(n if drop_bad_rows else 0, "", dtype=object)
    blamed_rule = np.full(n if drop_bad_rows else 0, "", dtype=object)
    for column, rule, mask in rules:
        if not mask.any():
            continue
        if not drop_bad_rows:
            in_file = np.concatenate([np.zeros(offset, dtype=bool), mask])
            if rule == PADDED_ID_RULE and text is not None:
                raise padded_id_error(source, column, in_file, text.iloc[int(np.argmax(mask))])
            raise row_error(source, column, rule, in_file)
        new = mask & ~bad_any
        blamed_column[new] = column
        blamed_rule[new] = f"{column} {rule}"
        bad_any |= mask

    rejects = (_rejects_frame(df, "spells", bad_any, blamed_column, blamed_rule, offset) if drop_bad_rows
               else _rejects_frame(df, "spells", np.zeros(0, dtype=bool), blamed_column, blamed_rule))
    hours = np.where(is_hours, hours, np.nan)
    arrays: dict[str, Any] = {"ids": ids, "kind": kind, "start": start, "end": end, "hours": hours}
    return arrays, ~bad_any, rejects


#: Rows of a spells file read at a time when it is given as a Parquet or CSV file.
SPELL_BATCH_ROWS = 1 << 19


def _spell_batches(path: str | os.PathLike[str], rename: Mapping[str, str] | None
                   ) -> tuple[Iterator[pd.DataFrame | pa.RecordBatch], int | None]:
    """The spells file in batches of at most ``SPELL_BATCH_ROWS`` rows, with contract column names.

    Parquet is read a batch at a time with pyarrow, as Arrow record batches of the columns the panel and
    its rejects use, and CSV with pandas' chunked reader (text columns as text, as :func:`read_spells`
    reads them), so that at most one batch is ever held as Python objects; other formats are read whole.
    Also returns the number of rows when it is known before reading (Parquet, other formats), else None.
    The file and its columns are checked before the first batch is asked for.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".pq", ".csv") or not path.is_file():
        whole = read_spells(path, rename=rename)       # its messages: file type, file not found
        return iter([whole]), len(whole)
    dialect = CsvDialect.of(rename)
    rename, _ = split_date_format(rename)
    inverse = {user: contract for contract, user in rename.items()}
    user_text = [rename.get(c, c) for c in _SPELL_TEXT_COLUMNS]
    try:
        if suffix == ".csv":
            head = pd.read_csv(path, nrows=1, dtype=str, **dialect.pandas())
            names, n_head = head.columns, len(head)
        else:
            parquet = pq.ParquetFile(path, pre_buffer=False)     # else a row group is held twice
            names, n_head = parquet.schema_arrow.names, parquet.metadata.num_rows
    except (ValueError, OSError, UnicodeDecodeError, pa.ArrowException) as exc:
        raise InputDataError(f"{path}: cannot be read as {suffix[1:]}: {exc}") from exc
    require_rows(n_head, str(path))
    require_columns(pd.DataFrame(columns=[inverse.get(c, c) for c in names]),
                    ["person_id", "spell_type", "start_date", "end_date"], str(path))

    def batches() -> Iterator[pd.DataFrame]:
        try:
            if suffix == ".csv":
                reader = pd.read_csv(path, dtype={c: str for c in user_text}, keep_default_na=True,
                                     chunksize=SPELL_BATCH_ROWS, **dialect.pandas())
                frames: Iterator[pd.DataFrame] = iter(reader)
            else:
                # Arrow batches, not DataFrames: _read_compact_spells checks them with Arrow and numpy and
                # makes a DataFrame only of a batch that breaks a rule. Only columns it can use are read.
                wanted = [c for c in names if inverse.get(c, c) in _SPELL_FILE_COLUMNS]
                frames = (b.rename_columns([inverse.get(c, c) for c in b.schema.names])
                          for b in parquet.iter_batches(batch_size=SPELL_BATCH_ROWS, columns=wanted))
            empty = True
            for frame in _prefetched(frames):
                if len(frame):
                    empty = False
                    yield frame.rename(columns=inverse) if isinstance(frame, pd.DataFrame) else frame
            if empty:
                require_rows(0, str(path))
        except (ValueError, OSError, UnicodeDecodeError, pa.ArrowException) as exc:
            raise InputDataError(f"{path}: cannot be read as {suffix[1:]}: {exc}") from exc

    return batches(), (None if suffix == ".csv" else parquet.metadata.num_rows)


def _prefetched(items: Iterator[T]) -> Iterator[T]:
    """``items``, each read on a thread while the caller works on the one before (one ahead at most):
    decoding the next batch of a file overlaps checking and matching this one."""
    end = object()
    with ThreadPoolExecutor(max_workers=1) as pool:
        ahead = pool.submit(next, items, end)
        while True:
            item = ahead.result()
            if item is end:
                return
            ahead = pool.submit(next, items, end)
            yield item  # type: ignore[misc]


#: Columns of a spells file that are read: the contract columns and what the rejects table shows.
_SPELL_FILE_COLUMNS = ("person_id", "spell_type", "start_date", "end_date", "hours_per_week", "workplace_id",
                       "visitation_date")
#: Text that :meth:`str.strip` leaves as it is and that is not empty: first and last character printable ASCII.
_PLAIN_TEXT = r"(?s)^[!-~](.*[!-~])?$"
_DAY_UNITS = {"s": 86_400, "ms": 86_400_000, "us": 86_400_000_000, "ns": 86_400_000_000_000}


def _arrow_days(col: pa.Array) -> np.ndarray | None:
    """A date or naive timestamp column without nulls as int64 day numbers (as :func:`_parse_days` gives
    them), else None."""
    if col.null_count:
        return None
    t = col.type
    if pa.types.is_date32(t):
        return col.cast(pa.int32()).to_numpy().astype(np.int64)
    if pa.types.is_date64(t):
        return col.cast(pa.int64()).to_numpy() // _DAY_UNITS["ms"]
    if pa.types.is_timestamp(t) and t.tz is None:
        return col.cast(pa.int64()).to_numpy() // _DAY_UNITS[t.unit]     # floor, as numpy's datetime64[D]
    return None


def _fast_check(batch: pa.RecordBatch, types: tuple[str, ...]) -> dict[str, Any] | None:
    """A batch that breaks no rule of :func:`_check_spells`, checked and converted with Arrow and numpy.

    Returns None when the batch breaks a rule or holds values this path does not convert (text dates,
    ids with blanks, numbers as text...): :func:`_check_spells` then checks it as a DataFrame, with the
    same results and messages.
    """
    names = batch.schema.names
    ids = _plain_text(batch.column("person_id"))
    if ids is None or ids.null_count:
        return None
    col = batch.column("spell_type")
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        return None
    # An exact match needs no stripping: the allowed types are names without blanks.
    found = pc.index_in(col.cast(pa.large_string()), value_set=pa.array(list(types), type=pa.large_string()))
    if found.null_count:
        return None
    kind = found.to_numpy().astype(np.int8)
    start, end = _arrow_days(batch.column("start_date")), _arrow_days(batch.column("end_date"))
    if start is None or end is None or bool((end < start).any()):
        return None
    is_hours = kind == _HOURS
    hours = np.full(len(kind), np.nan)
    if is_hours.any():
        if "hours_per_week" not in names:
            return None
        raw = batch.column("hours_per_week")
        if not (pa.types.is_floating(raw.type) or pa.types.is_integer(raw.type)):
            return None
        h = raw.cast(pa.float64()).to_numpy(zero_copy_only=False)[is_hours]
        with np.errstate(invalid="ignore"):
            if not bool(((h > 0) & (h <= MAX_HOURS)).all()):          # also False for missing (NaN)
                return None
        hours[is_hours] = h
    workplace = None
    if "workplace_id" in names:
        col = batch.column("workplace_id")
        workplace = (pa.nulls(len(col), pa.large_string()) if pa.types.is_null(col.type) else _plain_text(col))
        if workplace is None:
            return None
    return {"ids": ids, "kind": kind, "start": start, "end": end, "hours": hours, "workplace": workplace}


class _SpellBuffer:
    """The compact spell arrays, filled a batch at a time; capacity grows by half when it must.

    ``hours`` holds only the ordinary-hours spells (the others have none), so it has its own length.
    Pages of the capacity not yet written cost no memory.
    """

    dtypes = {"person": np.int32, "kind": np.int8, "start": np.int32, "end": np.int32, "hours": np.float64,
              "workplace": np.int32}

    def __init__(self, capacity: int) -> None:
        self.n = dict.fromkeys(self.dtypes, 0)
        self.arrays = {k: np.empty(capacity, dtype=d) for k, d in self.dtypes.items()}

    def append(self, **values: np.ndarray) -> None:
        for k, arr in self.arrays.items():
            start = self.n[k]
            need = start + len(values[k])
            if need > len(arr):      # realloc: in place when it can be; no views of it are handed out
                arr.resize(max(need, len(arr) + len(arr) // 2), refcheck=False)
            arr[start:need] = values[k]
            self.n[k] = need

    def finish(self) -> dict[str, np.ndarray]:
        for k, arr in self.arrays.items():
            arr.resize(self.n[k], refcheck=False)
        arrays, self.arrays = self.arrays, {}
        return arrays


@dataclass
class _BatchPart:
    """One batch of spells checked and matched to the ledger: the kept spells' arrays and what it counts."""

    arrays: dict[str, np.ndarray]          # person, kind, start, end, hours (ordinary hours only)
    workplace: pa.Array | None             # the kept spells' workplace ids as text (None: no such column)
    rejects: pd.DataFrame | None           # rows broken by a rule (None: none)
    absent_ids: pa.Array | None            # ids not in the ledger (None: none)
    n_absent: int
    has_benefit: bool
    has_workplace: bool


def _batch_part(batch: pd.DataFrame | pa.RecordBatch, offset: int, source: str, types: tuple[str, ...],
                drop_bad_rows: bool, lookup: _IdLookup, late_ids: pa.Array, date_format: str | None
                ) -> _BatchPart:
    """Check one batch (rows ``offset + 1 …`` of the file), match it to the ledger and reduce it to arrays.

    Depends on nothing but the batch and the ledger, so batches are reduced on several threads at once.
    """
    rejects = None
    checked = _fast_check(batch, types) if isinstance(batch, pa.RecordBatch) else None
    if checked is not None:
        good = np.ones(len(batch), dtype=bool)
        good_ids = checked["ids"]
        wp_all = checked["workplace"]
    else:
        if isinstance(batch, pa.RecordBatch):
            try:
                batch = pa.Table.from_batches([batch]).to_pandas()
            except (ValueError, pa.ArrowException) as exc:
                raise InputDataError(f"{source}: cannot be read as parquet: {exc}") from exc
        checked, good, rejects = _check_spells(batch, source, types, drop_bad_rows, offset, date_format)
        good_ids = _arrow_text(checked["ids"][good])
        wp_all = _arrow_text(_ids_as_text(batch["workplace_id"])) if "workplace_id" in batch.columns else None
    person = lookup.index(good_ids)
    absent = person < 0
    # Spells of ledger persons dropped for a late visitation are not "absent from the ledger".
    if len(late_ids):
        absent &= ~pc.is_in(good_ids, value_set=late_ids).to_numpy(zero_copy_only=False)
    absent_ids = pc.unique(good_ids.filter(pa.array(absent))) if absent.any() else None
    sel = np.flatnonzero(good)[person >= 0]
    has_workplace, workplace = False, None
    if wp_all is not None:
        has_workplace = bool(pc.any(pc.is_valid(wp_all.filter(pa.array(good)))).as_py() or False)
        workplace = wp_all.take(pa.array(sel))
    # Day numbers fit int32 (years 1 to 5.8 million); halves the memory of the largest arrays.
    kind = checked["kind"][sel]
    arrays = {"person": person[person >= 0], "kind": kind, "start": checked["start"][sel],
              "end": checked["end"][sel], "hours": checked["hours"][sel[kind == _HOURS]]}
    return _BatchPart(arrays, workplace, rejects if rejects is not None and len(rejects) else None, absent_ids,
                      int(absent.sum()), bool((checked["kind"][good] == _BENEFIT).any()), has_workplace)


def _parts(batches: Iterator[pd.DataFrame | pa.RecordBatch], reduce: Any, workers: int) -> Iterator[Any]:
    """``reduce(batch, offset)`` of each batch in file order, on ``workers`` threads (at most ``workers``
    batches in flight beyond the one being used)."""
    if workers <= 1:
        offset = 0
        for batch in batches:
            yield reduce(batch, offset)
            offset += len(batch)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: list[Any] = []
        offset = 0
        for batch in batches:
            pending.append(pool.submit(reduce, batch, offset))
            offset += len(batch)
            del batch
            if len(pending) > workers:
                yield pending.pop(0).result()
        while pending:
            yield pending.pop(0).result()


def _read_compact_spells(
    batches: Iterator[pd.DataFrame | pa.RecordBatch], source: str, types: tuple[str, ...],
    drop_bad_rows: bool, ledger_ids: pa.Array, late_ids: pa.Array, n_rows: int | None = None,
    date_format: str | None = None, workers: int = 2,
) -> tuple[_Spells, pd.DataFrame, dict[str, Any]]:
    """Check, match to the ledger and compact the spells a batch at a time.

    Each batch is reduced at once to int32 person positions and day numbers, int8 type codes, float64
    hours and int32 workplace codes (about 25 bytes a spell), written into arrays allocated once for the
    whole file when its number of rows is known (``n_rows``), and let go; workplace codes are made
    against one dictionary that grows across batches, so they mean the same in every batch. An Arrow
    batch is checked with Arrow and numpy (:func:`_fast_check`) and becomes a DataFrame only when it
    breaks a rule, so that :func:`_check_spells` blames the rows. Batches are checked on ``workers``
    threads and added in file order, so the result does not depend on the threads.
    """
    buffer = _SpellBuffer(n_rows if n_rows is not None else SPELL_BATCH_ROWS)
    lookup = _IdLookup(ledger_ids)
    rejects: list[pd.DataFrame] = []
    absent_ids: list[pa.Array] = []
    workplaces = pa.array([], type=pa.large_string())
    n_absent, has_benefit, has_workplace, offset, columns = 0, False, False, 0, None

    def reduce(batch: pd.DataFrame | pa.RecordBatch, at: int) -> tuple[_BatchPart, int, list[str]]:
        names = list(batch.schema.names if isinstance(batch, pa.RecordBatch) else batch.columns)
        return (_batch_part(batch, at, source, types, drop_bad_rows, lookup, late_ids, date_format),
                len(batch), names)

    for part, n, names in _parts(batches, reduce, workers):
        columns = columns or names
        if part.rejects is not None:
            rejects.append(part.rejects)
        if part.absent_ids is not None:
            absent_ids.append(part.absent_ids)
        n_absent += part.n_absent
        has_benefit |= part.has_benefit
        has_workplace |= part.has_workplace
        if part.workplace is not None:
            wp = part.workplace
            new = pc.unique(wp.drop_null())
            new = new.filter(pc.invert(pc.is_in(new, value_set=workplaces)))
            workplaces = pa.concat_arrays([workplaces, new.cast(pa.large_string())])
            workplace = _index_in(wp, workplaces).astype(np.int32)
            del wp
        else:
            workplace = np.full(len(part.arrays["person"]), -1, dtype=np.int32)
        buffer.append(**part.arrays, workplace=workplace)
        offset += n
        del part, workplace
        _release_memory()
    if not rejects:          # the empty table of rejects, with the columns of the file
        rejects.append(_rejects_frame(pd.DataFrame(columns=columns or []), "spells", np.zeros(0, dtype=bool),
                                      np.zeros(0, dtype=object), np.zeros(0, dtype=object)))
    arrays = buffer.finish()
    # Sorted by person only when the file is not already, one array at a time.
    person = arrays["person"]
    if len(person) > 1 and not bool(np.all(person[1:] >= person[:-1])):
        by_person = np.argsort(person, kind="stable")
        # Hours of ordinary-hours spells only: follow their spells through the sort.
        hours_at = np.cumsum(arrays["kind"] == _HOURS) - 1
        hours_at = hours_at[by_person]
        for k in ("person", "kind", "start", "end", "workplace"):
            arrays[k] = arrays.pop(k)[by_person]
        arrays["hours"] = arrays.pop("hours")[hours_at[arrays["kind"] == _HOURS]]
        del by_person, hours_at
    del person
    sp = _Spells(person=arrays.pop("person"), kind=arrays.pop("kind"), start=arrays.pop("start"),
                 end=arrays.pop("end"), hours=arrays.pop("hours"), workplace=arrays.pop("workplace"),
                 n_workplaces=len(workplaces))
    absent = (pc.unique(pa.concat_arrays(absent_ids)) if absent_ids else pa.array([], type=pa.large_string()))
    counts = {"n_absent": n_absent, "n_absent_persons": len(absent), "has_benefit": has_benefit,
              "has_workplace": has_workplace, "absent_ids": absent, "n_rows": offset}
    return sp, pd.concat(rejects, ignore_index=True) if len(rejects) > 1 else rejects[0], counts


_REJECT_COLUMNS = ("source", "row", "person_id", "column", "reason", "spell_type", "start_date",
                   "end_date", "hours_per_week", "workplace_id", "visitation_date")


def _rejects_frame(df: pd.DataFrame, source: str, bad: np.ndarray, column: np.ndarray,
                   reason: np.ndarray, offset: int = 0) -> pd.DataFrame:
    """The dropped rows as they were given (values as text), with the rule each one broke."""
    rows = np.flatnonzero(bad)
    out = pd.DataFrame({"source": source, "row": offset + rows + 1, "column": column[rows], "reason": reason[rows]})
    for col in _REJECT_COLUMNS:
        if col in ("source", "row", "column", "reason"):
            continue
        if col in df.columns:
            vals = df[col].iloc[rows]
            if pd.api.types.is_datetime64_any_dtype(vals):
                vals = vals.dt.strftime("%Y-%m-%d")
            out[col] = vals.astype(object).where(vals.notna(), None).map(
                lambda v: v if v is None else str(v)).to_numpy(dtype=object)
        else:
            out[col] = pd.Series([None] * len(rows), dtype=object)
    return out.loc[:, list(_REJECT_COLUMNS)]


# --------------------------------------------------------------------------------------------------
# Do the spells fit the ledger?
# --------------------------------------------------------------------------------------------------

def _check_matched(ledger_ids: pa.Array, person: np.ndarray, counts: dict[str, Any], rejects: pd.DataFrame,
                   min_share: float, *, spells_source: str, ledger_source: str) -> None:
    """Stop when fewer than ``min_share`` of the ledger's persons have a spell (none at all included).

    ``person`` holds the ledger position of every matched spell, sorted. The message shows a sample of
    the spell ids not in the ledger and of the ledger ids without a spell, and the likely cause.
    """
    n_persons = len(ledger_ids)
    if n_persons == 0 or min_share <= 0:
        return
    has_spell = np.zeros(n_persons, dtype=bool)
    has_spell[person] = True
    n_matched = int(np.count_nonzero(has_spell))
    if n_matched >= min_share * n_persons:
        return
    absent: pa.Array = counts["absent_ids"]
    lonely = ledger_ids.filter(pa.array(~has_spell))
    pct = f"{100 * n_matched / n_persons:.1f} %"
    if counts["n_rows"] == 0:
        raise InputDataError(
            f"{spells_source}: holds no spells, so none of the {n_persons} persons in {ledger_source} has "
            f"any; at least {100 * min_share:g} % must have one (min_matched_share). If that is right, pass "
            "--min-matched-share 0 or set [analysis] min_matched_share = 0 in the config.")
    if n_matched == 0:
        head = f"{spells_source}: no spell matches any of the {n_persons} persons in {ledger_source}"
    else:
        head = (f"{spells_source}: only {n_matched} of the {n_persons} persons in {ledger_source} ({pct}) "
                "have any spell")
    parts = [f"{head}; at least {100 * min_share:g} % must have one (min_matched_share)."]
    if len(absent):
        parts.append(f"{counts['n_absent']} spells of {len(absent)} persons are not in the ledger, "
                     f"e.g. {_sample(absent)}.")
    parts.append(f"Ledger persons without any spell: {len(lonely)}, e.g. {_sample(lonely)}.")
    parts.append("Likely cause: " + _mismatch_cause(absent, lonely, n_matched, rejects))
    parts.append("If the spells really cover so few of the trial's persons, lower [analysis] "
                 "min_matched_share in the config or pass --min-matched-share (0 turns the check off).")
    raise InputDataError(" ".join(parts))


def _sample(ids: pa.Array, k: int = 5) -> str:
    shown = ", ".join(repr(v) for v in ids.slice(0, k).to_pylist())
    return shown + (", …" if len(ids) > k else "")


def _mismatch_cause(absent: pa.Array, lonely: pa.Array, n_matched: int, rejects: pd.DataFrame) -> str:
    """The likeliest reason why spell ids and ledger ids do not meet, found with vector operations."""
    padded = int((rejects["reason"] == f"person_id {PADDED_ID_RULE}").sum()) if len(rejects) else 0
    if padded:
        return (f"{padded} spell rows were dropped because their person_id {PADDED_ID_RULE} (see the rejects "
                "file); remove the spaces in the spells file.")
    for what, normalise, advice in (
        ("once leading zeros are ignored", lambda a: pc.utf8_ltrim(a, "0"),
         "an id column read as a number (for example by a spreadsheet) loses its leading zeros; keep the "
         "ids as text in both files."),
        ("once upper and lower case are ignored", pc.utf8_lower,
         "the two files spell the ids in different case; make them agree."),
    ):
        if not len(absent) or not len(lonely):
            break
        key_spell, key_ledger = normalise(absent), normalise(lonely)
        at = pc.index_in(key_spell, value_set=key_ledger)
        hits = pc.and_(pc.is_valid(at), pc.not_equal(key_spell, ""))
        n_hits = int(pc.sum(hits).as_py() or 0)
        if n_hits:
            first = int(np.argmax(hits.to_numpy(zero_copy_only=False)))
            return (f"{n_hits} of the {len(absent)} spell ids not in the ledger equal a ledger id {what} "
                    f"(e.g. spell id {absent[first].as_py()!r} and ledger id "
                    f"{lonely[at[first].as_py()].as_py()!r}); {advice}")
    if n_matched == 0 and len(absent) and len(lonely):
        spell_shape, ledger_shape = _id_shape(absent), _id_shape(lonely)
        if spell_shape != ledger_shape:
            return (f"no id is shared and the ids look different: spell ids are {spell_shape}, ledger ids "
                    f"are {ledger_shape}. The files probably hold different id columns (another register "
                    "number, or a pseudonym from another key); check which column is the person in each "
                    "file and [columns] person_id in the config.")
        return (f"no id is shared, though both look alike ({spell_shape}): the spells are probably an "
                "extract for other persons (another trial or pseudonymisation key).")
    return ("the spells cover only part of the trial; check that the extract holds every municipality, "
            "wave and period of the ledger.")


def _id_shape(ids: pa.Array) -> str:
    """How ids look, e.g. ``"7 characters, digits only"`` or ``"6–8 characters, starting with 'P'"``."""
    lengths = pc.utf8_length(ids)
    lo, hi = pc.min(lengths).as_py(), pc.max(lengths).as_py()
    shape = f"{lo} characters" if lo == hi else f"{lo}–{hi} characters"
    if pc.all(pc.match_substring_regex(ids, r"^[0-9]+$")).as_py():
        return f"{shape}, digits only"
    prefix = pc.struct_field(pc.extract_regex(ids, r"^(?P<p>[^0-9]*)"), [0])
    counts = pc.value_counts(prefix)
    top = counts.field("values")[int(np.argmax(counts.field("counts").to_numpy()))].as_py()
    return f"{shape}, starting with {top!r}" if top else f"{shape}, mixed"


def _spell_types(extra: Sequence[str] | None) -> tuple[str, ...]:
    """The built-in spell types followed by the declared ``extra`` ones (each a lower-case name)."""
    types = list(SPELL_TYPES)
    for t in extra or ():
        if not isinstance(t, str) or not t.isidentifier() or t != t.lower():
            raise InputDataError(f"spell_types: {t!r} is not a lower-case name like 'education'")
        if t not in types:
            types.append(t)
    return tuple(types)

