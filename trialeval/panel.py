"""The weekly person-by-week panel built from register spells.

Week ``k`` of a person with visitation date ``v`` covers the days ``[v + 7(k-1), v + 7k - 1]``; weeks
``k <= 0`` are pre-visitation weeks. A week is *observed* iff its last day is on or before the extraction
date and on or before the person's ``followup_end``; unobserved weeks are absent from the panel, never
zero. Because both limits cut the calendar at one day, the observed weeks of a person are always a prefix
``k_min .. K`` of the requested window, and that is what makes the construction below cheap.

How it is computed (no loop over persons anywhere):

1. Dates become integer day numbers once; ``person_id`` is matched to the ledger once
   (Arrow's hash lookup on the id text), so the hot path sees only integer arrays.
2. Persons are processed in chunks (``chunk_persons``). Each spell is turned into a day range relative to
   its person's visitation date and clipped to that person's observed window.
3. The clipped range is expanded into one row per spell-week with :func:`numpy.repeat`; the overlap days
   in each week come from clipping the range to the week's first and last day.
4. :func:`numpy.bincount` adds those rows into a dense ``persons x weeks`` array per outcome (coverage for
   indicators, ``hours_per_week x overlap_days / 7`` for hours). With ``min_days > 1`` overlapping spells
   of one type are first merged into disjoint intervals so that days are never counted twice.
5. The 13-week rule is a loop over *weeks* (at most ``weeks`` iterations) of vector operations over all
   persons of the chunk.
6. The observed cells are kept in a compact form (one bit per indicator, hours stored sparsely), so a panel
   of a million persons and 100 weeks costs a few hundred MB; the long table is expanded chunk by chunk when
   it is written (:func:`write_panel`) or asked for (:meth:`PanelResult.to_frame`). With ``out=`` each
   chunk is written as soon as it is built and then dropped, so memory does not grow with the panel;
   with ``keep_panel=False`` it is dropped unwritten (means and effects need only the sums of step 7).
7. While the chunks are built, per (arm, number of observed weeks, week) counts and sums of every outcome
   are gathered; per-week means, and the Welch difference in means of the effects step, come from them
   without a long table (:meth:`PanelResult.week_moments`).

Inputs are made compact as they are read: only the ledger columns the panel needs are read, as Arrow
columns (:func:`trialeval.io.read_ledger_table`; ids as one text buffer, municipality and stratum
dictionary-encoded, dates as day numbers), then reduced to a few arrays;
a Parquet or CSV spells file is read a batch of rows at a time and each batch reduced at once to int32
person positions and day numbers, int8 type codes, int32 workplace codes and hours of the ordinary-hours
spells (about 19 bytes a spell), written into arrays allocated once; Parquet batches are checked with
Arrow and numpy and become DataFrames only when they break a rule.
"""

from __future__ import annotations

import contextlib
import dataclasses
import html
import os
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from trialeval.draw import check_ledger_manifest
from trialeval.config import MAX_WEEKS
from trialeval.exceptions import InputDataError
from trialeval.io import (
    ARMS,
    DECIMAL_COMMA_RULE,
    LEDGER_TABLE_COLUMNS,
    PADDED_ID_RULE,
    atomic_write,
    check_outputs,
    compact_ledger,
    date_rule,
    decimal_comma,
    padded_id_error,
    parse_date,
    parse_date_column,
    physical_memory,
    read_ledger_table,
    read_table,
    require_columns,
    require_rows,
    row_error,
    split_date_format,
    validate_ledger,
    write_table,
)

__all__ = ["PanelResult", "build_panel", "read_spells", "write_panel", "SPELL_TYPES"]

#: The built-in spell types, in the order of their internal codes.
SPELL_TYPES = ("internship", "wage_subsidy", "ordinary_hours", "benefit")
_INTERNSHIP, _WAGE_SUBSIDY, _HOURS, _BENEFIT = range(4)

#: The 13-week rule: a chain must hold this many company-directed weeks ...
CHAIN_WEEKS = 13
#: ... and survives runs of at most this many non-company-directed weeks (which do not count).
MAX_GAP_WEEKS = 4
#: Upper bound of ``hours_per_week`` (hours in a week).
MAX_HOURS = 168.0
#: Default smallest share of the ledger's persons that must have a spell (``min_matched_share``).
MIN_MATCHED_SHARE = 0.5
#: Most person-weeks built at a time (a chunk's working memory is about 20 bytes each): with many
#: weeks, fewer persons are processed together.
CHUNK_CELLS = 40_000_000
#: Bytes a kept panel holds per person-week (indicator bits, week, hours), for the memory plan.
_KEPT_BYTES_PER_ROW = 4
#: Parquet row groups hold whole persons and at most this many rows.
ROW_GROUP_ROWS = 1 << 20

_SPELL_TEXT_COLUMNS = ("person_id", "spell_type", "workplace_id")
ProgressCallback = Callable[[int, int], None]


# --------------------------------------------------------------------------------------------------
# Reading and validating spells
# --------------------------------------------------------------------------------------------------

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


def _arrow_text(s: pd.Series) -> pa.Array:
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
    arrays = {"ids": ids, "kind": kind, "start": start, "end": end, "hours": hours}
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
    rename, _ = split_date_format(rename)
    inverse = {user: contract for contract, user in rename.items()}
    user_text = [rename.get(c, c) for c in _SPELL_TEXT_COLUMNS]
    try:
        if suffix == ".csv":
            head = pd.read_csv(path, nrows=1, dtype=str)
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
                                     chunksize=SPELL_BATCH_ROWS)
                frames: Iterator[pd.DataFrame] = iter(reader)
            else:
                # Arrow batches, not DataFrames: _read_compact_spells checks them with Arrow and numpy and
                # makes a DataFrame only of a batch that breaks a rule. Only columns it can use are read.
                wanted = [c for c in names if inverse.get(c, c) in _SPELL_FILE_COLUMNS]
                frames = (b.rename_columns([inverse.get(c, c) for c in b.schema.names])
                          for b in parquet.iter_batches(batch_size=SPELL_BATCH_ROWS, columns=wanted))
            empty = True
            for frame in frames:
                if len(frame):
                    empty = False
                    yield frame.rename(columns=inverse) if isinstance(frame, pd.DataFrame) else frame
            if empty:
                require_rows(0, str(path))
        except (ValueError, OSError, UnicodeDecodeError, pa.ArrowException) as exc:
            raise InputDataError(f"{path}: cannot be read as {suffix[1:]}: {exc}") from exc

    return batches(), (None if suffix == ".csv" else parquet.metadata.num_rows)


#: Columns of a spells file that are read: the contract columns and what the rejects table shows.
_SPELL_FILE_COLUMNS = ("person_id", "spell_type", "start_date", "end_date", "hours_per_week", "workplace_id",
                       "visitation_date")
#: Text that :meth:`str.strip` leaves as it is and that is not empty: first and last character printable ASCII.
_PLAIN_TEXT = r"(?s)^[!-~](.*[!-~])?$"
_DAY_UNITS = {"s": 86_400, "ms": 86_400_000, "us": 86_400_000_000, "ns": 86_400_000_000_000}


def _plain_text(col: pa.Array) -> pa.Array | None:
    """A text column as large_string when every present value is :func:`_ids_as_text` of itself
    (no surrounding blanks, not empty), else None."""
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        return None
    col = col.cast(pa.large_string())
    present = col.drop_null()
    if len(present) and not pc.all(pc.match_substring_regex(present, _PLAIN_TEXT)).as_py():
        return None
    return col


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


def _release_memory() -> None:
    """Give freed memory back to the operating system: Arrow's allocator and C ``malloc`` keep freed
    pages for reuse, and after the temporaries of a large step those pages would count in the peak of
    every later step (glibc only for ``malloc``; elsewhere a no-op)."""
    pa.default_memory_pool().release_unused()
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def _find_malloc_trim() -> Any:
    try:
        import ctypes

        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None


_MALLOC_TRIM = _find_malloc_trim() if os.name == "posix" else None


def _fixed_width(text: pa.Array, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Text without nulls as a numpy ``S<width>`` array (zero-padded bytes) made without Python strings,
    and a mask of the values it holds exactly (at most ``width`` bytes and no NUL byte)."""
    text = text.cast(pa.large_string())
    n, width = len(text), max(width, 1)
    buffers = text.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64, count=n + 1, offset=8 * text.offset)
    data = np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] is not None else np.zeros(0, np.uint8)
    starts, lengths = offsets[:-1], np.diff(offsets)
    out = np.zeros((n, width), dtype=np.uint8)
    for j in range(width):
        rows = np.flatnonzero(lengths > j)
        out[rows, j] = data[starts[rows] + j]
    has_nul = pc.match_substring(text, "\x00").to_numpy(zero_copy_only=False)
    return out.view(f"S{width}").ravel(), (lengths <= width) & ~has_nul


class _IdLookup:
    """Positions of ids in the sorted ledger ids, by binary search on fixed-width bytes.

    ``pc.index_in`` builds a hash table of the whole ledger on every call (some 70 bytes an id, for each
    batch of spells); the fixed-width copy costs the longest id's length per person, once. It is used
    only when it is exact: no NUL bytes in the ledger ids and their byte order is numpy's; else this
    falls back to ``pc.index_in``.
    """

    def __init__(self, ids: pa.Array) -> None:
        self.ids = ids
        self.keys: np.ndarray | None = None
        if len(ids) and not ids.null_count:
            width = int(pc.max(pc.binary_length(ids)).as_py())
            keys, fits = _fixed_width(ids, width)
            if bool(fits.all()) and bool(np.all(keys[1:] > keys[:-1])):
                self.keys, self.width = keys, width

    def index(self, values: pa.Array) -> np.ndarray:
        """Position of each value (int64), -1 when absent or missing."""
        if self.keys is None or values.null_count:
            return _index_in(values, self.ids)
        keys, fits = _fixed_width(values, self.width)
        pos = np.searchsorted(self.keys, keys)
        found = fits & (pos < len(self.keys))
        found[found] = self.keys[pos[found]] == keys[found]
        return np.where(found, pos, -1).astype(np.int64)


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


def _read_compact_spells(
    batches: Iterator[pd.DataFrame | pa.RecordBatch], source: str, types: tuple[str, ...],
    drop_bad_rows: bool, ledger_ids: pa.Array, late_ids: pa.Array, n_rows: int | None = None,
    date_format: str | None = None,
) -> tuple[_Spells, pd.DataFrame, dict[str, Any]]:
    """Check, match to the ledger and compact the spells a batch at a time.

    Each batch is reduced at once to int32 person positions and day numbers, int8 type codes, float64
    hours and int32 workplace codes (about 25 bytes a spell), written into arrays allocated once for the
    whole file when its number of rows is known (``n_rows``), and let go; workplace codes are made
    against one dictionary that grows across batches, so they mean the same in every batch. An Arrow
    batch is checked with Arrow and numpy (:func:`_fast_check`) and becomes a DataFrame only when it
    breaks a rule, so that :func:`_check_spells` blames the rows.
    """
    buffer = _SpellBuffer(n_rows if n_rows is not None else SPELL_BATCH_ROWS)
    lookup = _IdLookup(ledger_ids)
    rejects: list[pd.DataFrame] = []
    absent_ids: list[pa.Array] = []
    workplaces = pa.array([], type=pa.large_string())
    n_absent, has_benefit, has_workplace, offset = 0, False, False, 0
    for batch in batches:
        checked = _fast_check(batch, types) if isinstance(batch, pa.RecordBatch) else None
        if checked is not None:
            n = batch.num_rows
            good = np.ones(n, dtype=bool)
            columns = batch.schema.names
            rejects.append(_rejects_frame(pa.Table.from_batches([batch.slice(0, 0)]).to_pandas(), "spells",
                                          np.zeros(0, dtype=bool), np.zeros(0, dtype=object),
                                          np.zeros(0, dtype=object)))
            good_ids = checked["ids"]
            wp_all = checked["workplace"]
        else:
            if isinstance(batch, pa.RecordBatch):
                try:
                    batch = pa.Table.from_batches([batch]).to_pandas()
                except (ValueError, pa.ArrowException) as exc:
                    raise InputDataError(f"{source}: cannot be read as parquet: {exc}") from exc
            n = len(batch)
            columns = list(batch.columns)
            checked, good, spell_rejects = _check_spells(batch, source, types, drop_bad_rows, offset,
                                                         date_format)
            rejects.append(spell_rejects)
            good_ids = _arrow_text(checked["ids"][good])
            wp_all = _arrow_text(_ids_as_text(batch["workplace_id"])) if "workplace_id" in columns else None
        del batch
        person = lookup.index(good_ids)
        absent = person < 0
        # Spells of ledger persons dropped for a late visitation are not "absent from the ledger".
        if len(late_ids):
            absent &= ~pc.is_in(good_ids, value_set=late_ids).to_numpy(zero_copy_only=False)
        if absent.any():
            n_absent += int(absent.sum())
            absent_ids.append(pc.unique(good_ids.filter(pa.array(absent))))
        sel = np.flatnonzero(good)[person >= 0]
        has_benefit |= bool((checked["kind"][good] == _BENEFIT).any())
        if wp_all is not None:
            has_workplace |= bool(pc.any(pc.is_valid(wp_all.filter(pa.array(good)))).as_py() or False)
            wp = wp_all.take(pa.array(sel))
            new = pc.unique(wp.drop_null())
            new = new.filter(pc.invert(pc.is_in(new, value_set=workplaces)))
            workplaces = pa.concat_arrays([workplaces, new.cast(pa.large_string())])
            workplace = _index_in(wp, workplaces).astype(np.int32)
            del wp
        else:
            workplace = np.full(len(sel), -1, dtype=np.int32)
        # Day numbers fit int32 (years 1 to 5.8 million); halves the memory of the largest arrays.
        kind = checked["kind"][sel]
        buffer.append(person=person[person >= 0], kind=kind, start=checked["start"][sel],
                      end=checked["end"][sel], hours=checked["hours"][sel[kind == _HOURS]], workplace=workplace)
        offset += n
        del checked, good, good_ids, wp_all, person, absent, sel, workplace, kind
        _release_memory()
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
    sp = _Spells(*(arrays.pop(k) for k in ("person", "kind", "start", "end", "hours", "workplace")),
                 n_workplaces=len(workplaces))
    absent = (pc.unique(pa.concat_arrays(absent_ids)) if absent_ids else pa.array([], type=pa.large_string()))
    counts = {"n_absent": n_absent, "n_absent_persons": len(absent), "has_benefit": has_benefit,
              "has_workplace": has_workplace, "absent_ids": absent, "n_rows": offset}
    # Batches without rejects are left out: concatenating empty object columns changes missing values.
    rejects = [r for r in rejects if len(r)] or rejects[:1]
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
# Interval arithmetic (all vectorised)
# --------------------------------------------------------------------------------------------------

def _expand_weeks(group: np.ndarray, a: np.ndarray, b: np.ndarray, lo: int, n_weeks: int,
                  overlap: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """One row per (interval, week) it touches: the dense cell ``group * n_weeks + j`` and overlap days.

    ``a, b`` are inclusive day ranges relative to visitation, already clipped to ``[lo, lo + 7 n_weeks)``;
    week index ``j`` covers relative days ``[lo + 7j, lo + 7j + 6]``. Interior weeks overlap 7 days, so only
    the first and last week of each interval need arithmetic.
    """
    ja = (a - lo) // 7
    jb = (b - lo) // 7
    count = jb - ja + 1
    total = int(count.sum())
    first = np.cumsum(count) - count
    cells = np.repeat(group * n_weeks + ja - first, count) + np.arange(total, dtype=np.int64)
    if not overlap:
        return cells, None
    days = np.full(total, 7, dtype=np.int64)
    days[first] = np.minimum(b, lo + 7 * ja + 6) - a + 1
    days[first + count - 1] = b - np.maximum(a, lo + 7 * jb) + 1
    return cells, days


def _sum_cells(cells: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum ``values`` over equal ``cells``; returns the distinct cells (sorted) and their sums."""
    unique, inverse = np.unique(cells, return_inverse=True)
    return unique, np.bincount(inverse.ravel(), weights=values, minlength=len(unique))


def _merge_intervals(
    group: np.ndarray, a: np.ndarray, b: np.ndarray, lo: int, span: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Union of the intervals within each group, as disjoint intervals (touching ones are joined).

    ``b - lo`` must lie in ``[0, span)``; the running maximum of the ends is taken over keys
    ``group * span + (b - lo)``, which never leak from one group into the next.
    """
    if len(a) == 0:
        return group, a, b
    order = np.lexsort((a, group))
    group, a, b = group[order], a[order], b[order]
    running = np.maximum.accumulate(group * span + (b - lo)) - group * span + lo
    new = np.ones(len(a), dtype=bool)
    new[1:] = (group[1:] != group[:-1]) | (a[1:] > running[:-1] + 1)
    starts = np.flatnonzero(new)
    return group[starts], a[starts], np.maximum.reduceat(b, starts)


def _coverage(group: np.ndarray, a: np.ndarray, b: np.ndarray, n_groups: int, n_weeks: int, lo: int,
              min_days: int) -> np.ndarray:
    """Dense ``(n_groups, n_weeks)`` bool: the union of a group's intervals covers >= min_days of the week."""
    out = np.zeros(n_groups * n_weeks, dtype=bool)
    if min_days <= 1:
        cells, _ = _expand_weeks(group, a, b, lo, n_weeks, overlap=False)
        out[cells] = True
        return out.reshape(n_groups, n_weeks)
    # Disjoint intervals never count a day twice; a week is fully inside at most one of them, and only
    # partial weeks (first or last of an interval) can be shared by several.
    group, a, b = _merge_intervals(group, a, b, lo, 7 * n_weeks)
    cells, days = _expand_weeks(group, a, b, lo, n_weeks)
    out[cells[days == 7]] = True
    partial, total = _sum_cells(cells[days < 7], days[days < 7])
    out[partial[total >= min_days]] = True
    return out.reshape(n_groups, n_weeks)


def _first_reach(active: np.ndarray, week_one: int, need: int = CHAIN_WEEKS,
                 max_gap: int = MAX_GAP_WEEKS) -> np.ndarray:
    """Week index at which a chain first holds ``need`` active weeks (``n_weeks`` if never).

    The 13-week rule, vectorised over rows and iterated over weeks from ``week_one`` (week 1):
    an active week adds one to the chain; inactive weeks add nothing, and the chain is reset to zero when
    the run of inactive weeks becomes longer than ``max_gap``.
    """
    n_rows, n_weeks = active.shape
    first = np.full(n_rows, n_weeks, dtype=np.int64)
    if n_rows == 0 or week_one >= n_weeks:
        return first
    rows = np.flatnonzero(np.count_nonzero(active[:, week_one:], axis=1) >= need)  # others never reach it
    if len(rows) == 0:
        return first
    sub = active[rows, week_one:]
    # Transposed in blocks of rows (cache-friendly), so that each week is one contiguous vector.
    by_week = np.concatenate([np.ascontiguousarray(sub[i:i + 4096].T) for i in range(0, len(rows), 4096)],
                             axis=1)
    chain = np.zeros(len(rows), dtype=np.uint8)
    gap = np.zeros(len(rows), dtype=np.uint8)
    ok = np.empty(len(rows), dtype=bool)
    done = np.zeros(len(rows), dtype=bool)
    weeks_done = np.zeros(len(rows), dtype=np.int64)     # weeks since the chain first held `need`
    # Arithmetic instead of masked assignment: several times faster on these short vectors.
    for act in by_week:
        np.add(gap, 1, out=gap)
        np.multiply(gap, ~act, out=gap)                    # an active week closes the gap ...
        np.minimum(gap, max_gap + 1, out=gap)
        np.add(chain, act, out=chain)                      # ... and counts; gap weeks do not count
        np.less_equal(gap, max_gap, out=ok)
        np.multiply(chain, ok, out=chain)                  # a gap longer than max_gap breaks the chain
        np.minimum(chain, need, out=chain)                 # beyond `need` the count does not matter
        np.greater_equal(chain, need, out=ok)
        done |= ok
        weeks_done += done
    found = np.where(done, week_one + len(by_week) - weeks_done, n_weeks)
    first[rows] = found
    return first


# --------------------------------------------------------------------------------------------------
# The result
# --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Chunk:
    """Observed cells of persons ``[start, stop)`` of the ledger, in long (person, week) order."""

    start: int
    stop: int
    flags: np.ndarray       # one bit per indicator outcome
    hours_row: np.ndarray   # rows with ordinary hours > 0
    hours: np.ndarray       # their hours


class _WeekSums:
    """Sums for per-week means and variances, gathered chunk by chunk while the panel is built.

    Cells are (arm, persons' number of observed weeks, week): the middle key lets a fixed cohort (persons
    observed at least K weeks) be summed afterwards without the rows. Per outcome Σz and Σz² with
    ``z = y - shift``: indicators use shift 0 (then Σz² = Σz), hours the mean of the first chunk, so
    that Σz² − (Σz)²/n loses no digits worth speaking of.
    """

    def __init__(self, result: PanelResult) -> None:
        s = result.settings
        self.k_min = 1 - s["pre_weeks"]
        self.n_weeks = s["weeks"] - self.k_min + 1
        self.n_cells = len(ARMS) * (self.n_weeks + 1) * self.n_weeks
        self._arm, self._n_obs = result._arm, result._n_obs
        self.flag_outcomes = result._flag_outcomes
        self.n = np.zeros(self.n_cells)
        self.s1 = {name: np.zeros(self.n_cells) for name in result.outcomes}
        self.s2 = np.zeros(self.n_cells)          # of ordinary_hours; indicators need none
        self.shift = 0.0
        self._first = True

    def add(self, chunk: _Chunk) -> None:
        n_obs = self._n_obs[chunk.start:chunk.stop]
        total = int(n_obs.sum())
        if total == 0:
            return
        first = np.cumsum(n_obs) - n_obs
        person_cell = (self._arm[chunk.start:chunk.stop].astype(np.int64) * (self.n_weeks + 1) + n_obs) * self.n_weeks
        cell = np.repeat(person_cell - first, n_obs) + np.arange(total, dtype=np.int64)
        n_bits = len(self.flag_outcomes)
        if n_bits <= 8:
            # One bincount over (cell, bit pattern) gives every indicator's sum.
            patterns = (np.arange(256)[:, None] >> np.arange(n_bits)[None, :]) & 1
            counts = np.bincount(cell * 256 + chunk.flags, minlength=self.n_cells * 256).reshape(self.n_cells, 256)
            n = counts.sum(axis=1).astype(np.float64)
            by_bit = counts @ patterns
        else:
            n = np.bincount(cell, minlength=self.n_cells).astype(np.float64)
            by_bit = np.stack([np.bincount(cell, weights=(chunk.flags >> np.uint64(bit)) & 1, minlength=self.n_cells)
                               for bit in range(n_bits)], axis=1)
        self.n += n
        for bit, name in enumerate(self.flag_outcomes):
            self.s1[name] += by_bit[:, bit]
        if self._first:
            self.shift = float(chunk.hours.sum()) / total
            self._first = False
        c = self.shift
        hours_cell = cell[chunk.hours_row]
        zeros = n - np.bincount(hours_cell, minlength=self.n_cells)      # rows without hours: y = 0
        z = chunk.hours - c
        self.s1["ordinary_hours"] += np.bincount(hours_cell, weights=z, minlength=self.n_cells) - zeros * c
        self.s2 += np.bincount(hours_cell, weights=z * z, minlength=self.n_cells) + zeros * (c * c)

    def moments(self, name: str, min_weeks: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Count, mean and sum of squared deviations, each ``(arms, weeks)``, over the persons observed
        at least up to week ``min_weeks`` (all persons when None)."""
        shape = (len(ARMS), self.n_weeks + 1, self.n_weeks)
        lo = 0 if min_weeks is None else min(max(min_weeks - self.k_min + 1, 0), self.n_weeks + 1)
        n = self.n.reshape(shape)[:, lo:].sum(axis=1)
        s1 = self.s1[name].reshape(shape)[:, lo:].sum(axis=1)
        if name == "ordinary_hours":
            sq, c = self.s2.reshape(shape)[:, lo:].sum(axis=1), self.shift
        else:
            sq, c = s1, 0.0
        with np.errstate(invalid="ignore", divide="ignore"):
            return n, c + s1 / n, np.maximum(sq - s1 * s1 / n, 0.0)


@dataclass(frozen=True, eq=False)
class PanelResult:
    """A weekly person-by-week panel and what went into it; build it with :func:`build_panel`.

    Attributes
    ----------
    outcomes
        Outcome columns, in panel order.
    number_at_risk
        ``arm, week, n_at_risk``: persons observed per arm and week (also :meth:`at_risk`).
    rejects
        Rows dropped with ``drop_bad_rows``: ``source, row`` (1-based data row), ``person_id``, the
        ``column`` and ``reason`` (rule), and the row's values as text.
    n_spells_not_in_ledger, n_persons_not_in_ledger
        Spells (and distinct persons) in the spells input whose person is not in the ledger; ignored.
    n_spells_used
        Valid spells of ledger persons.
    settings
        The arguments that produced the panel.

    Notes
    -----
    The observed cells are held compactly (a bit per indicator, hours sparse); :attr:`panel` and
    :meth:`to_frame` expand them into the long table, :meth:`iter_frames` does so a chunk of persons at a
    time, and :func:`write_panel` streams them to disk.
    """

    outcomes: tuple[str, ...]
    number_at_risk: pd.DataFrame
    rejects: pd.DataFrame
    n_spells_not_in_ledger: int
    n_persons_not_in_ledger: int
    n_spells_used: int
    settings: dict[str, Any]
    _ids: pa.Array = field(repr=False)
    _arm: np.ndarray = field(repr=False)
    _groups: dict[str, tuple[np.ndarray, pa.Array]] = field(repr=False)
    _n_obs: np.ndarray = field(repr=False)
    _chunks: tuple[_Chunk, ...] = field(repr=False)
    _flag_outcomes: tuple[str, ...] = field(repr=False)
    _sums: _WeekSums | None = field(default=None, repr=False)

    @property
    def streamed(self) -> bool:
        """True when the panel was written to ``settings["out"]`` while it was built and not kept."""
        return self.settings.get("out") is not None

    @property
    def kept(self) -> bool:
        """True when the compact panel is held in memory (not built with ``out=`` or ``keep_panel=False``)."""
        return self.settings.get("keep_panel", not self.streamed)

    def _require_cells(self, what: str) -> None:
        if self.streamed:
            raise InputDataError(
                f"{what}: the panel was written to {self.settings['out']} while it was built and is not "
                "kept in memory; read that file, or build without 'out' to keep the panel")
        if not self.kept:
            raise InputDataError(
                f"{what}: the panel was built with keep_panel=False and is not kept in memory (only the "
                "number at risk and the per-week sums are); build with keep_panel=True, or with out= to "
                "write it to a file")

    # ---- sizes -----------------------------------------------------------------------------------
    @property
    def n_persons(self) -> int:
        """Persons in the panel (ledger rows, excluded ones included)."""
        return len(self._arm)

    @property
    def n_rows(self) -> int:
        """Observed person-weeks, i.e. rows of the panel."""
        return int(self._n_obs.sum())

    @property
    def columns(self) -> list[str]:
        """Columns of the panel, in order."""
        return ["person_id", "arm", "week", *self.outcomes, *self._groups]

    # ---- tables ----------------------------------------------------------------------------------
    def _chunk_table(self, chunk: _Chunk, start: int | None = None, stop: int | None = None) -> pa.Table:
        start = chunk.start if start is None else start
        stop = chunk.stop if stop is None else stop
        n_obs = self._n_obs[start:stop]
        skip = int(self._n_obs[chunk.start:start].sum())
        total = int(n_obs.sum())
        person = np.repeat(np.arange(start, stop, dtype=np.int64), n_obs)
        first = np.repeat(np.cumsum(n_obs) - n_obs, n_obs)
        k_min = 1 - self.settings["pre_weeks"]
        week = (np.arange(total, dtype=np.int64) - first + k_min).astype(np.int16)
        flags = chunk.flags[skip:skip + total]
        in_range = (chunk.hours_row >= skip) & (chunk.hours_row < skip + total)
        hours = np.zeros(total, dtype=np.float64)
        hours[chunk.hours_row[in_range] - skip] = chunk.hours[in_range]
        columns: dict[str, pa.Array] = {
            "person_id": self._ids.take(pa.array(person)),
            "arm": pa.DictionaryArray.from_arrays(pa.array(self._arm[person]), pa.array(list(ARMS))),
            "week": pa.array(week),
        }
        for name in self.outcomes:
            if name == "ordinary_hours":
                columns[name] = pa.array(hours)
            else:
                bit = self._flag_outcomes.index(name)
                columns[name] = pa.array(((flags >> bit) & 1).astype(np.int8))
        for name, (codes, values) in self._groups.items():
            columns[name] = pa.DictionaryArray.from_arrays(pa.array(codes[person]), values)
        return pa.table(columns)

    def iter_frames(self) -> Iterator[pd.DataFrame]:
        """The panel a chunk of persons at a time (person-ordered), for inputs too big to hold at once.

        Examples
        --------
        >>> import pandas as pd
        >>> ledger = pd.DataFrame({"person_id": ["a", "b"], "arm": ["treatment", "control"],
        ...                        "visitation_date": ["2016-03-01", "2016-03-01"]})
        >>> spells = pd.DataFrame({"person_id": ["a"], "spell_type": ["internship"],
        ...                        "start_date": ["2016-03-01"], "end_date": ["2016-03-10"]})
        >>> res = build_panel(ledger, spells, "2016-03-31", weeks=4, chunk_persons=1)
        >>> [len(f) for f in res.iter_frames()]
        [4, 4]
        """
        self._require_cells("iter_frames")
        for chunk in self._chunks:
            yield self._chunk_table(chunk).to_pandas()

    def to_frame(self) -> pd.DataFrame:
        """The long panel: one row per observed person-week (a new DataFrame on every call).

        Columns ``person_id, arm, week``, the outcomes, then ``municipality`` and ``stratum`` when the
        ledger has them. ``arm``, ``municipality`` and ``stratum`` are categoricals, ``week`` is int16,
        indicators int8 (0/1) and ``ordinary_hours`` float64.

        Examples
        --------
        >>> import pandas as pd
        >>> ledger = pd.DataFrame({"person_id": ["a"], "arm": ["treatment"],
        ...                        "visitation_date": ["2016-03-01"]})
        >>> spells = pd.DataFrame({"person_id": ["a"], "spell_type": ["ordinary_hours"],
        ...                        "start_date": ["2016-03-05"], "end_date": ["2016-03-20"],
        ...                        "hours_per_week": [14.0]})
        >>> build_panel(ledger, spells, "2016-03-31", weeks=4).to_frame()["ordinary_hours"].tolist()
        [6.0, 14.0, 12.0, 0.0]
        """
        self._require_cells("to_frame")
        tables = [self._chunk_table(c) for c in self._chunks]
        if not tables:
            return self._empty_table().to_pandas()
        return pa.concat_tables(tables).to_pandas()

    def _empty_table(self) -> pa.Table:
        return self._chunk_table(_Chunk(0, 0, np.zeros(0, np.uint8), np.zeros(0, np.int64), np.zeros(0)))

    @cached_property
    def panel(self) -> pd.DataFrame:
        """The long panel, expanded on first access and kept (see :meth:`to_frame`)."""
        return self.to_frame()

    def at_risk(self) -> pd.DataFrame:
        """Number at risk: persons observed per arm and week (a copy of :attr:`number_at_risk`)."""
        return self.number_at_risk.copy()

    def plot(self, outcome: str = "has_ordinary_hours", ax: Any = None, *, lang: str = "en",
             min_cell: int = 5) -> Any:
        """Per-week mean of one outcome by arm (delegates to :func:`trialeval.plots.plot_panel_means`).

        Descriptive only; the effect with its confidence interval is :func:`trialeval.effects`' plot.
        """
        from trialeval.plots import plot_panel_means

        if outcome not in self.outcomes:
            raise InputDataError(f"panel has no outcome '{outcome}'; it has {', '.join(self.outcomes)}")
        return plot_panel_means(self.means(), outcome, ax=ax, lang=lang, min_cell=min_cell)

    def means(self) -> pd.DataFrame:
        """Per-week means of every outcome by arm, over the persons observed that week.

        A descriptive table computed from the compact panel without expanding it; for effects with
        confidence intervals use the effects step.

        Returns
        -------
        pandas.DataFrame
            ``arm, week, n_at_risk`` and one column per outcome (NaN where nobody is observed).

        Examples
        --------
        >>> import pandas as pd
        >>> ledger = pd.DataFrame({"person_id": ["a", "b"], "arm": ["treatment", "treatment"],
        ...                        "visitation_date": ["2016-03-01", "2016-03-01"]})
        >>> spells = pd.DataFrame({"person_id": ["a"], "spell_type": ["internship"],
        ...                        "start_date": ["2016-03-01"], "end_date": ["2016-03-10"]})
        >>> m = build_panel(ledger, spells, "2016-03-31", weeks=4).means()
        >>> m.loc[m["arm"] == "treatment", "in_internship"].tolist()
        [0.5, 0.5, 0.0, 0.0]
        """
        moments = self.week_moments()
        out = self.number_at_risk.copy()
        for name in self.outcomes:
            out[name] = moments.loc[moments["outcome"] == name, "mean"].to_numpy()
        return out

    def week_moments(self, outcomes: Sequence[str] | None = None, *, min_weeks: int | None = None
                     ) -> pd.DataFrame:
        """Per outcome, arm and week: persons observed, their mean and sum of squared deviations.

        What a difference in means with Welch standard errors needs, gathered while the panel was built
        (also when it was streamed to a file), so effect curves need no long table
        (``trialeval.effects(result)`` uses it).

        Parameters
        ----------
        outcomes
            Outcomes to report (default: all).
        min_weeks
            Fixed cohort: only persons observed at least up to week ``min_weeks``.

        Returns
        -------
        pandas.DataFrame
            ``outcome, arm, week, n, mean, ss`` (``mean`` NaN where nobody is observed).

        Examples
        --------
        >>> import pandas as pd
        >>> ledger = pd.DataFrame({"person_id": ["a", "b"], "arm": ["treatment", "treatment"],
        ...                        "visitation_date": ["2016-03-01", "2016-03-01"]})
        >>> spells = pd.DataFrame({"person_id": ["a"], "spell_type": ["internship"],
        ...                        "start_date": ["2016-03-01"], "end_date": ["2016-03-10"]})
        >>> m = build_panel(ledger, spells, "2016-03-31", weeks=4).week_moments(["in_internship"])
        >>> m.loc[m["arm"] == "treatment", ["n", "mean", "ss"]].values.tolist()[0]
        [2.0, 0.5, 0.5]
        """
        names = list(self.outcomes) if outcomes is None else list(outcomes)
        unknown = [o for o in names if o not in self.outcomes]
        if unknown:
            raise InputDataError(f"week_moments: unknown outcome(s) {', '.join(unknown)}; the panel has "
                                 f"{', '.join(self.outcomes)}")
        if min_weeks is not None:
            min_weeks = _check_int(min_weeks, "min_weeks", 1)
        sums = self._sums
        k_min = 1 - self.settings["pre_weeks"]
        week = np.arange(k_min, self.settings["weeks"] + 1)
        frames = []
        for name in names:
            n, mean, ss = sums.moments(name, min_weeks)
            frames.append(pd.DataFrame({"outcome": name, "arm": np.repeat(ARMS, len(week)),
                                        "week": np.tile(week, len(ARMS)), "n": n.ravel(),
                                        "mean": mean.ravel(), "ss": ss.ravel()}))
        return pd.concat(frames, ignore_index=True)

    # ---- reporting -------------------------------------------------------------------------------
    def rejects_by_reason(self) -> pd.DataFrame:
        """Counts of dropped rows per source and rule."""
        if self.rejects.empty:
            return pd.DataFrame({"source": [], "reason": [], "rows": []}).astype({"rows": np.int64})
        return (self.rejects.groupby(["source", "reason"], sort=True).size()
                .rename("rows").reset_index())

    def summary(self) -> str:
        """A plain-text account of the panel: persons, weeks, rows, spells used, dropped and ignored."""
        s = self.settings
        arms = np.bincount(self._arm, minlength=len(ARMS)) if self.n_persons else np.zeros(2, int)
        no_weeks = int((self._n_obs == 0).sum())
        k_min = 1 - s["pre_weeks"]
        from trialeval.disclosure import DEFAULT_MIN_CELL, small_count

        def persons(v: int) -> str:
            # a console summary is an export: 1-4 persons read "<5", as in the report
            return f"<{DEFAULT_MIN_CELL}" if small_count([v], DEFAULT_MIN_CELL)[0] else f"{v:,}"

        lines = [
            "Weekly panel",
            f"  persons: {persons(self.n_persons)} ({persons(arms[0])} treatment, {persons(arms[1])} control; "
            f"{persons(s['n_excluded'])} excluded kept, intention-to-treat)",
            f"  weeks: {k_min} to {s['weeks']}; extraction date {s['extraction_date']}; "
            f"min_days {s['min_days']}",
            f"  rows (observed person-weeks): {self.n_rows:,}; persons with no observed week: {persons(no_weeks)}",
            f"  spells used: {self.n_spells_used:,}",
            f"  spells of persons not in the ledger (ignored): {self.n_spells_not_in_ledger:,} "
            f"({self.n_persons_not_in_ledger:,} persons)",
        ]
        if s["drop_bad_rows"]:
            lines.append(f"  rows dropped as bad input: {len(self.rejects):,}")
            for row in self.rejects_by_reason().itertuples(index=False):
                lines.append(f"    {row.source}: {row.reason}: {row.rows:,}")
        lines.append(f"  outcomes: {', '.join(self.outcomes)}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Counts, settings and the number-at-risk table as JSON-ready Python values."""
        return {
            "settings": dict(self.settings),
            "outcomes": list(self.outcomes),
            "columns": self.columns,
            "n_persons": self.n_persons,
            "n_rows": self.n_rows,
            "n_spells_used": self.n_spells_used,
            "n_spells_not_in_ledger": self.n_spells_not_in_ledger,
            "n_persons_not_in_ledger": self.n_persons_not_in_ledger,
            "n_rejected_rows": len(self.rejects),
            "rejects_by_reason": self.rejects_by_reason().to_dict(orient="records"),
            "number_at_risk": self.number_at_risk.to_dict(orient="records"),
        }

    def _repr_html_(self) -> str:
        head = "".join(f"<li>{html.escape(line.strip())}</li>" for line in self.summary().splitlines()[1:])
        from trialeval.disclosure import DEFAULT_MIN_CELL, suppress_small_cells

        # a notebook display is an export: numbers at risk below the disclosure threshold show as "·"
        shown = suppress_small_cells(self.number_at_risk, ["n_at_risk"], [], DEFAULT_MIN_CELL)
        wide = shown.pivot(index="week", columns="arm", values="n_at_risk")
        return (f"<h4>Weekly panel</h4><ul>{head}</ul><p>Number at risk by week (fewer than "
                f"{DEFAULT_MIN_CELL} persons: ·)</p>{wide.to_html(max_rows=20, na_rep='·', float_format='{:,.0f}'.format)}")


# --------------------------------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------------------------------

def build_panel(
    ledger: pd.DataFrame | str | os.PathLike[str],
    spells: pd.DataFrame | str | os.PathLike[str],
    extraction_date: Any,
    weeks: int = 52,
    *,
    pre_weeks: int = 0,
    min_days: int = 1,
    drop_bad_rows: bool = False,
    spell_types: Sequence[str] | None = None,
    columns: Mapping[str, str] | None = None,
    progress: ProgressCallback | None = None,
    chunk_persons: int = 100_000,
    out: str | os.PathLike[str] | None = None,
    keep_panel: bool = True,
    min_matched_share: float = MIN_MATCHED_SHARE,
) -> PanelResult:
    """Build the weekly person-by-week panel from a ledger and register spells.

    Parameters
    ----------
    ledger
        The assignments ledger as a DataFrame or a file. Every row stays in the panel,
        excluded persons included (intention-to-treat).
    spells
        Spells as a DataFrame or a file (see :func:`read_spells`).
    extraction_date
        Last day covered by the register extract, ``YYYY-MM-DD`` or a date; weeks ending after it are absent.
    weeks
        Last week since visitation to build (week 1 starts on the visitation date), 1 to ``MAX_WEEKS``
        (20 years).
    pre_weeks
        Number of pre-visitation weeks ``0, -1, …`` to add, for covariates and placebo curves
        (at most ``MAX_WEEKS``).
    min_days
        Days of overlap (1–7) a spell needs to cover a week (ordinary hours are always pro rata).
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
    (``Σ hours_per_week × overlap_days / 7``), ``has_ordinary_hours`` (hours > 0),
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
    weeks, pre_weeks, min_days, chunk_persons = (
        _check_int(weeks, "weeks", 1, MAX_WEEKS), _check_int(pre_weeks, "pre_weeks", 0, MAX_WEEKS),
        _check_int(min_days, "min_days", 1, 7), _check_int(chunk_persons, "chunk_persons", 1))
    extraction = _as_day(extraction_date, "extraction_date")
    types = _spell_types(spell_types)
    if out is not None:
        out = Path(out)
        if out.suffix.lower() not in (".parquet", ".csv"):
            raise InputDataError(f"{out}: the panel is written as .parquet or .csv; got '{out.suffix.lower()}'")
        at_risk_path, rejects_path = side_paths(out)
        check_outputs([("--out", out), ("--out (number at risk beside it)", at_risk_path),
                       ("--out (rejects beside it)", rejects_path if drop_bad_rows else None)],
                      [("--ledger", None if isinstance(ledger, pd.DataFrame) else ledger),
                       ("--spells", None if isinstance(spells, pd.DataFrame) else spells)], columns=columns)

    if not isinstance(keep_panel, bool):
        raise InputDataError(f"keep_panel must be True or False; got {keep_panel!r}")
    if (isinstance(min_matched_share, bool) or not isinstance(min_matched_share, (int, float))
            or not 0 <= min_matched_share <= 1):
        raise InputDataError(f"min_matched_share must be a share from 0 to 1 of the ledger's persons; "
                             f"got {min_matched_share!r}")

    # The ledger as compact Arrow columns: only the columns the panel needs are read, and none of them
    # becomes Python objects (a DataFrame of millions of id strings costs hundreds of MB).
    _, date_format = split_date_format(columns)
    if isinstance(ledger, pd.DataFrame):
        ledger_source = str(ledger.attrs.get("source", "ledger"))
        table = _ledger_frame_table(validate_ledger(ledger, ledger_source, date_format=date_format),
                                    ledger_source)
    else:
        ledger_source = str(ledger)
        check_ledger_manifest(ledger)
        table = read_ledger_table(ledger, rename=columns)
    _release_memory()        # the reader's temporaries would otherwise stay in the peak of every later step
    if isinstance(spells, pd.DataFrame):
        spells_source = str(spells.attrs.get("source", "spells"))
        date_format = spells.attrs.get("date_format", date_format)     # as read_spells read it
        batches: Iterator[pd.DataFrame | pa.RecordBatch] = iter([spells])
        n_spell_rows: int | None = len(spells)
    else:
        spells_source = str(spells)
        batches, n_spell_rows = _spell_batches(spells, columns)

    # Visitation after the extraction date: nothing of that person can be observed, and it usually
    # means a wrong extraction date, so it is an error unless bad rows are dropped.
    v_all = _day_numbers(table["visitation_date"])
    late = v_all > extraction
    ledger_rejects = _late_rejects(table, late)
    if late.any():
        if not drop_bad_rows:
            raise row_error(ledger_source, "visitation_date",
                            f"is after the extraction date {_iso(extraction)}", late)
        table = table.filter(pa.array(~late))
        v_all = v_all[~late]

    # The ledger becomes plain arrays (persons in id order; the panel is written in this order) and the
    # table is let go before the spells are read. Matching and sorting run in Arrow on the id text,
    # never on Python string objects.
    # Ids are matched exactly: the ledger's were checked for surrounding blanks when it was read.
    ledger_ids = _combined(table["person_id"]).cast(pa.large_string())
    order = pc.sort_indices(ledger_ids).to_numpy()
    ledger_ids = ledger_ids.take(pa.array(order))
    late_ids = _arrow_text(_ids_as_text(pd.Series(ledger_rejects["person_id"], dtype=object)).dropna())
    k_min = 1 - pre_weeks
    n_weeks = weeks - k_min + 1
    v = v_all[order]
    limit = (_day_numbers(table["followup_end"], missing=extraction)[order] if "followup_end" in table.column_names
             else np.full(len(v), extraction, dtype=np.int64))
    limit = np.minimum(limit, extraction)
    last_week = np.clip(np.floor_divide(limit - v + 1, 7), k_min - 1, weeks)
    n_obs = (last_week - k_min + 1).astype(np.int64)
    # Memory planned before anything is allocated: a chunk's working set is bounded by its person-weeks,
    # and a panel kept in memory must fit in this machine's memory.
    chunk_persons = max(1, min(chunk_persons, CHUNK_CELLS // n_weeks))
    if keep_panel and out is None:
        _check_kept_memory(int(n_obs.sum()))
    # Day numbers and weeks fit int32 (as the spells' days do): half the memory per person.
    v, last_week = v.astype(np.int32), last_week.astype(np.int32)
    arm = np.asarray(_combined(table["arm"]).indices).astype(np.int8)[order]
    groups: dict[str, tuple[np.ndarray, pa.Array]] = {}
    for col in ("municipality", "stratum"):
        if col in table.column_names:
            groups[col] = _first_seen_codes(_combined(table[col]), order)
    n_excluded = int(pc.sum(table["excluded"]).as_py() or 0)
    del table, v_all, limit, order
    _release_memory()

    sp, spell_rejects, counts = _read_compact_spells(batches, spells_source, types, drop_bad_rows,
                                                      ledger_ids, late_ids, n_spell_rows, date_format)
    _check_matched(ledger_ids, sp.person, counts, spell_rejects, min_matched_share,
                   spells_source=spells_source, ledger_source=ledger_source)
    del counts["absent_ids"]
    ids = ledger_ids.cast(pa.string())       # 32-bit offsets, as the panel writes them; one copy kept
    del ledger_ids
    _release_memory()

    # Outcomes present: benefit only when the input holds benefit spells (before matching, so that
    # the columns do not depend on which persons happen to be drawn); same-workplace only with values.
    extras = types[len(SPELL_TYPES):]
    flag_outcomes = ["in_internship", "in_wage_subsidy", "has_ordinary_hours", "company_directed"]
    if counts["has_benefit"]:
        flag_outcomes.append("self_supporting")
    flag_outcomes.append("reached_13_weeks")
    has_workplace = counts["has_workplace"]
    if has_workplace:
        flag_outcomes.append("reached_13_weeks_same_workplace")
    flag_outcomes += [f"in_{t}" for t in extras]
    outcomes = ["in_internship", "in_wage_subsidy", "ordinary_hours", *flag_outcomes[2:]]

    ctx = _Context(v=v, last_week=last_week, n_obs=n_obs, k_min=k_min, n_weeks=n_weeks, min_days=min_days,
                   extras=len(extras), flag_outcomes=tuple(flag_outcomes), has_workplace=has_workplace)

    at_risk_rows = []
    for a, name in enumerate(ARMS):
        at_risk_counts = np.bincount(n_obs[arm == a], minlength=n_weeks + 1)
        at_risk = at_risk_counts[::-1].cumsum()[::-1][1:n_weeks + 1]   # persons with n_obs >= j + 1
        at_risk_rows.append(pd.DataFrame({"arm": name, "week": np.arange(k_min, weeks + 1),
                                          "n_at_risk": at_risk.astype(np.int64)}))
    number_at_risk = pd.concat(at_risk_rows, ignore_index=True)

    rejects = pd.concat([spell_rejects, ledger_rejects], ignore_index=True)
    if len(rejects):
        # Missing values as None whichever way concat treated the empty object columns.
        rejects = rejects.astype(object).where(rejects.notna(), None)
    settings = {
        "extraction_date": _iso(extraction), "weeks": weeks, "pre_weeks": pre_weeks,
        "min_days": min_days, "drop_bad_rows": bool(drop_bad_rows), "spell_types": list(types),
        "chunk_persons": chunk_persons, "ledger": ledger_source, "spells": spells_source,
        "n_excluded": n_excluded, "out": None if out is None else str(out),
        "keep_panel": bool(keep_panel and out is None),
    }
    result = PanelResult(
        outcomes=tuple(outcomes), number_at_risk=number_at_risk, rejects=rejects,
        n_spells_not_in_ledger=counts["n_absent"], n_persons_not_in_ledger=counts["n_absent_persons"],
        n_spells_used=len(sp.person), settings=settings,
        _ids=ids, _arm=arm, _groups=groups,
        _n_obs=n_obs, _chunks=(), _flag_outcomes=tuple(flag_outcomes),
    )

    n_persons = len(n_obs)
    bounds = np.searchsorted(sp.person, np.arange(0, n_persons + chunk_persons, chunk_persons))
    n_chunks = -(-n_persons // chunk_persons)
    sums = _WeekSums(result)
    chunks = []
    hours_done = 0
    with contextlib.ExitStack() as stack:
        write = stack.enter_context(_panel_writer(result, out)) if out is not None else None
        for c in range(n_chunks):
            p0, p1 = c * chunk_persons, min((c + 1) * chunk_persons, n_persons)
            n_hours = int(np.count_nonzero(sp.kind[bounds[c]:bounds[c + 1]] == _HOURS))
            chunk = _build_chunk(ctx, p0, p1, sp, slice(bounds[c], bounds[c + 1]),
                                 slice(hours_done, hours_done + n_hours))
            hours_done += n_hours
            sums.add(chunk)
            if write is not None:
                write(chunk)              # written now, then let go: memory does not grow with persons
            elif keep_panel:
                chunks.append(chunk)
            del chunk
            if progress is not None:
                progress(c + 1, n_chunks)
    result = dataclasses.replace(result, _chunks=tuple(chunks), _sums=sums)
    if out is not None:
        _write_side_files(result, out)
    return result


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


def _ledger_frame_table(frame: pd.DataFrame, source: str) -> pa.Table:
    """A ledger DataFrame checked by :func:`validate_ledger` as the compact table of
    :func:`trialeval.io.read_ledger_table` (ids as text, as the panel matches them)."""
    cols = {c: frame[c] for c in LEDGER_TABLE_COLUMNS if c in frame.columns}
    cols["person_id"] = _ids_as_text(frame["person_id"]).astype(object)
    return compact_ledger(pa.Table.from_pandas(pd.DataFrame(cols), preserve_index=False), source)


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


@dataclass(frozen=True)
class _Context:
    v: np.ndarray
    last_week: np.ndarray
    n_obs: np.ndarray
    k_min: int
    n_weeks: int
    min_days: int
    extras: int
    flag_outcomes: tuple[str, ...]
    has_workplace: bool


def _build_chunk(ctx: _Context, p0: int, p1: int, sp: _Spells, rows: slice, hours_rows: slice) -> _Chunk:
    """Outcomes of persons ``[p0, p1)`` as dense ``persons x weeks`` arrays, then compacted.

    ``rows`` are the spells of those persons and ``hours_rows`` the hours of their ordinary-hours spells.
    """
    n_p, n_weeks, lo = p1 - p0, ctx.n_weeks, 7 * (ctx.k_min - 1)
    local = sp.person[rows].astype(np.int64) - p0      # int64: codes such as local * n_workplaces
    v = ctx.v[sp.person[rows]]
    # Relative days, clipped to the person's observed window [lo, last observed day].
    a = np.maximum(sp.start[rows] - v, lo)
    b = np.minimum(sp.end[rows] - v, 7 * ctx.last_week[sp.person[rows]] - 1)
    keep = a <= b
    local, a, b = local[keep], a[keep], b[keep]
    kind = sp.kind[rows][keep]
    hours_pw = np.full(len(keep), np.nan)
    hours_pw[sp.kind[rows] == _HOURS] = sp.hours[hours_rows]
    hours_pw = hours_pw[keep]
    workplace = sp.workplace[rows][keep]

    def covered(code: int) -> np.ndarray:
        m = kind == code
        return _coverage(local[m], a[m], b[m], n_p, n_weeks, lo, ctx.min_days)

    in_internship = covered(_INTERNSHIP)
    in_wage_subsidy = covered(_WAGE_SUBSIDY)
    # Hours are summed, not merged: Σ hours_per_week × overlap_days / 7 over the spells touching a week.
    m = kind == _HOURS
    cells, days = _expand_weeks(local[m], a[m], b[m], lo, n_weeks)
    spell_weeks = (b[m] - lo) // 7 - (a[m] - lo) // 7 + 1
    hours_cells, hours = _sum_cells(cells, np.repeat(hours_pw[m], spell_weeks) * days / 7)
    has_hours = np.zeros(n_p * n_weeks, dtype=bool)
    has_hours[hours_cells] = True          # hours_per_week > 0, so every touched week has hours > 0
    has_hours = has_hours.reshape(n_p, n_weeks)
    company = in_internship | in_wage_subsidy | has_hours
    week_one = -ctx.k_min + 1          # index of week 1
    weeks_idx = np.arange(n_weeks)

    flags: dict[str, np.ndarray] = {
        "in_internship": in_internship, "in_wage_subsidy": in_wage_subsidy,
        "has_ordinary_hours": has_hours, "company_directed": company,
        "reached_13_weeks": weeks_idx[None, :] >= _first_reach(company, week_one)[:, None],
    }
    if "self_supporting" in ctx.flag_outcomes:
        flags["self_supporting"] = ~covered(_BENEFIT)
    if ctx.has_workplace:
        flags["reached_13_weeks_same_workplace"] = weeks_idx[None, :] >= _same_workplace_first(
            local, a, b, kind, workplace, sp.n_workplaces, n_p, n_weeks, lo, ctx.min_days,
            week_one)[:, None]
    for e in range(ctx.extras):
        flags[ctx.flag_outcomes[-ctx.extras + e]] = covered(len(SPELL_TYPES) + e)

    n_bits = len(ctx.flag_outcomes)
    dtype = np.uint8 if n_bits <= 8 else np.uint16 if n_bits <= 16 else np.uint32 if n_bits <= 32 else np.uint64
    packed = np.zeros((n_p, n_weeks), dtype=dtype)
    shifted = np.empty((n_p, n_weeks), dtype=dtype)
    for bit, name in enumerate(ctx.flag_outcomes):
        np.left_shift(flags[name], dtype(bit), out=shifted, dtype=dtype, casting="unsafe")
        packed |= shifted
    n_obs = ctx.n_obs[p0:p1]
    offsets = np.cumsum(n_obs) - n_obs
    flat = packed.ravel() if int(n_obs.sum()) == n_p * n_weeks else packed[weeks_idx[None, :] < n_obs[:, None]]
    # Hours cells are all observed (spells were clipped to the window); map them to long rows.
    pos = hours_cells // n_weeks
    row_dtype = np.int32 if n_obs.sum() < 2**31 else np.int64
    hours_row = (offsets[pos] + hours_cells - pos * n_weeks).astype(row_dtype)
    return _Chunk(start=p0, stop=p1, flags=flat, hours_row=hours_row, hours=hours)


def _same_workplace_first(local: np.ndarray, a: np.ndarray, b: np.ndarray, kind: np.ndarray,
                          workplace: np.ndarray, n_workplaces: int, n_p: int, n_weeks: int, lo: int,
                          min_days: int, week_one: int) -> np.ndarray:
    """First week of reaching 13 company-directed weeks at one workplace (the 13-week rule per workplace).

    A person-workplace pair is active in a week when internship or wage-subsidy spells at that workplace
    cover the week (``min_days``) or an ordinary-hours spell at that workplace overlaps it; the 13-week
    rule runs on each pair separately and a person reaches it when any pair does.
    """
    first = np.full(n_p, n_weeks, dtype=np.int64)
    m = (kind <= _HOURS) & (workplace >= 0)
    if not m.any():
        return first
    pair, pair_index = np.unique(local[m] * n_workplaces + workplace[m], return_inverse=True)
    pa_, pb, pk = a[m], b[m], kind[m]
    # A pair whose spells touch fewer than 13 weeks in all cannot reach the rule: skip it.
    touched = np.bincount(pair_index.ravel(), weights=(pb - lo) // 7 - (pa_ - lo) // 7 + 1)
    keep = touched[pair_index.ravel()] >= CHAIN_WEEKS
    if not keep.any():
        return first
    pair, pair_index = np.unique(pair[pair_index.ravel()[keep]], return_inverse=True)
    pair_index = pair_index.ravel().astype(np.int64)
    pa_, pb, pk = pa_[keep], pb[keep], pk[keep]
    active = np.zeros((len(pair), n_weeks), dtype=bool)
    for code, days in ((_INTERNSHIP, min_days), (_WAGE_SUBSIDY, min_days), (_HOURS, 1)):
        s = pk == code
        active |= _coverage(pair_index[s], pa_[s], pb[s], len(pair), n_weeks, lo, days)
    np.minimum.at(first, pair // n_workplaces, _first_reach(active, week_one))
    return first


def _check_kept_memory(n_rows: int) -> None:
    """Stop before building a panel that, kept in memory, would need more than the machine has."""
    physical = physical_memory()
    need = n_rows * _KEPT_BYTES_PER_ROW
    if physical is not None and need > physical:
        raise InputDataError(
            f"the panel would hold {n_rows:,} person-weeks, about {need / 2**30:.1f} GB kept in memory, more "
            f"than this machine's {physical / 2**30:.1f} GB; write it to a file with out=... (as "
            "`trialeval panel` does) or pass keep_panel=False, or build fewer weeks")


def _check_int(value: Any, name: str, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low or (
            high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f">= {low}"
        raise InputDataError(f"{name} must be a whole number {bound}; got {value!r}")
    return int(value)


def _spell_types(extra: Sequence[str] | None) -> tuple[str, ...]:
    types = list(SPELL_TYPES)
    for t in extra or ():
        if not isinstance(t, str) or not t.isidentifier() or t != t.lower():
            raise InputDataError(f"spell_types: {t!r} is not a lower-case name like 'education'")
        if t not in types:
            types.append(t)
    return tuple(types)


def _iso(day: int) -> str:
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
    with _panel_writer(result, path) as write:
        for done, chunk in enumerate(result._chunks, start=1):
            write(chunk)
            if progress is not None:
                progress(done, total)
    return _write_side_files(result, path)


#: How Parquet is written. Dictionary encoding only where values repeat as text (ids repeat once per
#: week; arm, municipality, stratum): on the 0/1 and week columns it cost half the writing time for
#: nothing that zstd does not recover. zstd level 1 is as fast as Snappy here and makes files 4x smaller.
#: Statistics only on ``person_id`` (row groups are person-ordered, so readers can skip by id).
PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd", "compression_level": 1, "write_statistics": ["person_id"],
    "use_dictionary": ["person_id", "arm", "municipality", "stratum"],
}


@contextlib.contextmanager
def _panel_writer(result: PanelResult, path: Path) -> Iterator[Callable[[_Chunk], None]]:
    """Open ``path`` (.parquet or .csv) under a temporary name and yield ``write(chunk)``.

    The file gets its final name only when the block completes. A chunk is expanded into row groups and
    written on a thread (Arrow and numpy release the GIL) while the caller builds the next chunk; one
    chunk is in flight at a time, so memory holds one compact chunk and one row group more.
    """
    with atomic_write(path) as tmp:
        if path.suffix.lower() == ".parquet":
            schema = result._empty_table().schema
            with pq.ParquetWriter(tmp, schema, **PARQUET_OPTIONS) as writer, \
                    ThreadPoolExecutor(max_workers=1) as pool:
                pending: list[Any] = []

                def write_chunk(chunk: _Chunk) -> None:
                    for table in _split_rows(result, chunk):
                        writer.write_table(table, row_group_size=max(table.num_rows, 1))

                def write(chunk: _Chunk) -> None:
                    if pending:
                        pending.pop().result()
                    pending.append(pool.submit(write_chunk, chunk))

                yield write
                if pending:
                    pending.pop().result()
        else:
            with open(tmp, "w", encoding="utf-8", newline="") as fh:
                header = [True]

                def write(chunk: _Chunk) -> None:
                    frame = result._chunk_table(chunk).to_pandas()
                    frame.to_csv(fh, index=False, header=header[0], lineterminator="\n")
                    header[0] = False

                yield write
                if header[0]:
                    result._empty_table().to_pandas().to_csv(fh, index=False, lineterminator="\n")


def _write_side_files(result: PanelResult, path: Path) -> tuple[Path, ...]:
    at_risk_path, rejects_path = side_paths(path)
    written = [path, write_table(result.number_at_risk, at_risk_path)]
    if result.settings["drop_bad_rows"]:
        written.append(write_table(result.rejects, rejects_path))
    return tuple(written)


def _split_rows(result: PanelResult, chunk: _Chunk) -> Iterator[pa.Table]:
    """Tables of whole persons of one chunk, each at most ``ROW_GROUP_ROWS`` rows (unless one person has more)."""
    ends = np.cumsum(result._n_obs[chunk.start:chunk.stop])
    start = chunk.start
    while start < chunk.stop:
        base = ends[start - chunk.start - 1] if start > chunk.start else 0
        stop = chunk.start + int(np.searchsorted(ends, base + ROW_GROUP_ROWS, side="right"))
        stop = min(max(stop, start + 1), chunk.stop)
        yield result._chunk_table(chunk, start, stop)
        start = stop
