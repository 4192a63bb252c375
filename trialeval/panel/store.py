"""The store: compact chunks of the panel, their expansion into the long table, and the streaming writer.

A panel is held as the chunks the kernel builds (a bit per indicator, hours sparse). :class:`_Layout`
expands a chunk, or a range of its persons, into the long Arrow table; :class:`_PanelStore` takes each
chunk as it is built, adds it to the running sums, and writes it (``out=``), keeps it, or lets it go;
:func:`_panel_writer` writes Parquet in person-ordered row groups of at most ``ROW_GROUP_ROWS`` rows.
"""

from __future__ import annotations

import base64
import collections
import contextlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from trialeval.design import Design
from trialeval.io import atomic_write
from trialeval.panel._parquet_join import JoinedParquet
from trialeval.panel.kernel import _Chunk
from trialeval.timeaxis import WEEKS_SINCE_VISITATION

#: Parquet row groups hold whole persons and at most this many rows.
ROW_GROUP_ROWS = 1 << 20

#: How Parquet is written. Dictionary encoding only where values repeat as text (ids repeat once per
#: week; arm, municipality, stratum): on the 0/1 and week columns it cost half the writing time for
#: nothing that compression does not recover. LZ4 (the raw codec every current reader knows) writes a
#: row group of a million rows in about 60 % of zstd level 1's time and reads it in about 65 %, for a
#: file about 1.8x larger (1 MB per million rows). No column statistics: min/max of the ids cost a
#: sixth of the writing time and only served readers that skip row groups by id. Values are encoded
#: 64 Ki at a time (Arrow's default, 1 Ki, spends a third of the writing time per batch).
PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "lz4", "write_statistics": False,
    "use_dictionary": ["person_id", "arm", "municipality", "stratum"], "write_batch_size": 1 << 16,
}

#: Where a Parquet file keeps the Arrow schema its readers restore (Arrow's own key).
_ARROW_SCHEMA_KEY = "ARROW:schema"

#: ``table(chunk, start=None, stop=None, *, dictionary_ids=False)``: the long table of persons
#: ``[start, stop)`` of a chunk.
ChunkTable = Callable[..., pa.Table]
_NO_CHUNK = _Chunk(0, 0, np.zeros(0, np.uint8), np.zeros(0, np.int64), np.zeros(0))


@dataclass(frozen=True, eq=False)
class _Layout:
    """Who the persons of the panel are and which columns it has: what expands a chunk into rows."""

    ids: pa.Array                                   # person ids, in panel (sorted id) order
    arm: np.ndarray                                 # int8 code into arm_labels
    groups: dict[str, tuple[np.ndarray, pa.Array]]  # municipality, stratum: codes and values
    n_obs: np.ndarray                               # observed weeks per person
    outcomes: tuple[str, ...]
    flag_outcomes: tuple[str, ...]                  # the indicator outcomes, in bit order
    k_min: int                                      # first week of the window
    period_column: str = WEEKS_SINCE_VISITATION.column  # name of the period column (the time axis's)
    arm_labels: tuple[str, str] = Design().labels   # the groups: the programme group, the reference group
    weight: np.ndarray | None = None                # float64 weight per person, when the ledger has one
    period_values: np.ndarray | None = None         # the number written for each period (default k_min + j)

    def table(self, chunk: _Chunk, start: int | None = None, stop: int | None = None, *,
              dictionary_ids: bool = False) -> pa.Table:
        """Persons ``[start, stop)`` of ``chunk`` (all of it by default) as the long Arrow table.

        With ``dictionary_ids`` the ``person_id`` column is dictionary-encoded: the ids of these persons
        (a slice of :attr:`ids`, no copy) and each row's position among them, which is what a Parquet
        writer stores, without looking up and hashing an id per row (the values are the same).
        """
        start = chunk.start if start is None else start
        stop = chunk.stop if stop is None else stop
        n_obs = self.n_obs[start:stop]
        skip = int(self.n_obs[chunk.start:start].sum())
        total = int(n_obs.sum())
        uniform = len(n_obs) > 0 and n_obs.min() == n_obs.max()
        reps: int | np.ndarray = int(n_obs[0]) if uniform else n_obs     # np.repeat is faster by a number
        columns: dict[str, pa.Array] = {
            "person_id": self._person_ids(start, stop, reps, dictionary_ids),
            "arm": pa.DictionaryArray.from_arrays(pa.array(np.repeat(self.arm[start:stop], reps)),
                                                  pa.array(list(self.arm_labels)), safe=False),
            self.period_column: pa.array(self._periods(n_obs, total, uniform)),
        }
        flags = chunk.flags[skip:skip + total]
        for name in self.outcomes:
            if name == "ordinary_hours":
                row, value = chunk.hours_row, chunk.hours
                if skip or (len(row) and int(row.max()) >= total):      # persons [start, stop) of the chunk
                    in_range = (row >= skip) & (row < skip + total)
                    row, value = row[in_range] - skip, value[in_range]
                hours = np.zeros(total, dtype=np.float64)
                hours[row] = value
                columns[name] = pa.array(hours)
            else:
                one, bit = flags.dtype.type(1), flags.dtype.type(self.flag_outcomes.index(name))
                values = (flags >> bit) & one
                columns[name] = pa.array(values.view(np.int8) if values.itemsize == 1 else values.astype(np.int8))
        for name, (codes, values) in self.groups.items():
            columns[name] = pa.DictionaryArray.from_arrays(pa.array(np.repeat(codes[start:stop], reps)), values,
                                                           safe=False)
        if self.weight is not None:
            columns["weight"] = pa.array(np.repeat(self.weight[start:stop], reps), type=pa.float64())
        return pa.table(columns)

    def _person_ids(self, start: int, stop: int, reps: int | np.ndarray, dictionary: bool) -> pa.Array:
        """The ``person_id`` column of persons ``[start, stop)``: their ids repeated over their rows."""
        if dictionary:
            position = np.repeat(np.arange(stop - start, dtype=np.int32), reps)
            ids = self.ids.slice(start, stop - start)
            ids = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
            return pa.DictionaryArray.from_arrays(pa.array(position), ids, safe=False)
        return self.ids.take(pa.array(np.repeat(np.arange(start, stop, dtype=np.int64), reps)))

    def _periods(self, n_obs: np.ndarray, total: int, uniform: bool) -> np.ndarray:
        """The period column: each person's observed periods ``k_min, k_min + 1, …`` (or their values)."""
        if uniform:                                             # every person the same periods
            one = np.arange(int(n_obs[0]))
            return np.tile(self._period_numbers(one), len(n_obs))
        index = np.ones(total, dtype=np.int32 if total < 2**31 else np.int64)   # 1 a row, 0 at a person's first
        if total:
            seen = n_obs[n_obs > 0].astype(np.int64)
            index[(np.cumsum(seen) - seen)[1:]] = 1 - seen[:-1]
            index[0] = 0
        np.cumsum(index, out=index)
        return self._period_numbers(index)

    def _period_numbers(self, index: np.ndarray) -> np.ndarray:
        """The number written for period ``index`` (0: the first of the window), int16 unless too large."""
        if self.period_values is None:
            return (index + self.k_min).astype(np.int16)
        wide = self.period_values.max(initial=0) >= 2**15
        return self.period_values[index].astype(np.int32 if wide else np.int16)

    def empty_table(self) -> pa.Table:
        """The long table with no rows (its schema)."""
        return self.table(_NO_CHUNK)


class _Accumulator(Protocol):
    def add(self, chunk: _Chunk) -> None: ...


class _PanelStore:
    """Takes each chunk as it is built: adds it to the running sums, then writes, keeps or drops it.

    Used as a context manager around the chunk loop; with ``out`` the file gets its final name only when
    the block completes. :attr:`chunks` are the chunks kept (none when written or not kept).
    """

    def __init__(self, layout: _Layout, sums: _Accumulator, *, out: Path | None, keep: bool, workers: int = 1
                 ) -> None:
        self._layout, self._sums, self._out, self._keep, self._workers = layout, sums, out, keep, workers
        self._kept: list[_Chunk] = []
        self._stack = contextlib.ExitStack()
        self._write: Callable[[_Chunk], None] | None = None

    def __enter__(self) -> _PanelStore:
        if self._out is not None:
            layout = self._layout
            self._write = self._stack.enter_context(_panel_writer(
                layout.table, layout.n_obs, self._out,
                required=("person_id", "arm", layout.period_column, *layout.outcomes), workers=self._workers))
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> bool | None:
        return self._stack.__exit__(kind, exc, tb)

    def add(self, chunk: _Chunk) -> None:
        self._sums.add(chunk)
        if self._write is not None:
            self._write(chunk)            # written now, then let go: memory does not grow with persons
        elif self._keep:
            self._kept.append(chunk)

    @property
    def chunks(self) -> tuple[_Chunk, ...]:
        return tuple(self._kept)


@contextlib.contextmanager
def _panel_writer(table: ChunkTable, n_obs: np.ndarray, path: Path, required: Sequence[str] = (),
                  workers: int = 1) -> Iterator[Callable[[_Chunk], None]]:
    """Open ``path`` (.parquet or .csv) under a temporary name and yield ``write(chunk)``.

    ``required`` are columns that never hold a missing value: Parquet stores them without definition
    levels, which makes writing them about a third cheaper (readers see the same values and types).

    Parquet gets ``person_id`` dictionary-encoded (each row group's ids and each row's position among
    them), which is how Parquet stores it anyway, so the writer neither looks up nor hashes an id per
    row; the Arrow schema kept in the file is the long table's (``person_id`` a string column), so every
    reader sees the column as it always was.

    ``table`` expands a chunk (or persons ``[start, stop)`` of it) into rows and ``n_obs`` are the
    observed weeks per person. The file gets its final name only when the block completes. Each chunk
    is expanded into row groups and encoded as a Parquet part in memory on one of ``workers`` threads
    (Arrow and numpy release the GIL) while the caller builds the next chunks; the parts are appended
    to the file in chunk order and one footer lists them all (:class:`JoinedParquet`). At most
    ``workers`` chunks are in flight, so memory holds that many compact chunks and encoded parts more.
    """
    with atomic_write(path) as tmp:
        if path.suffix.lower() == ".parquet":
            stored = _required(table(_NO_CHUNK).schema, required)          # what readers see
            schema = _required(table(_NO_CHUNK, dictionary_ids=True).schema, required)
            workers = max(1, workers)

            def encode(chunk: _Chunk) -> pa.Buffer:
                sink = pa.BufferOutputStream()
                with pq.ParquetWriter(sink, schema, **PARQUET_OPTIONS, store_schema=False) as writer:
                    for part in _split_rows(table, n_obs, chunk, dictionary_ids=True):
                        writer.write_table(pa.Table.from_arrays(part.columns, schema=schema),
                                           row_group_size=max(part.num_rows, 1))
                return sink.getvalue()

            with open(tmp, "wb") as fh, ThreadPoolExecutor(max_workers=workers) as pool:
                joined = JoinedParquet(fh, {_ARROW_SCHEMA_KEY: base64.b64encode(stored.serialize().to_pybytes())})
                pending: collections.deque[Future[pa.Buffer]] = collections.deque()

                def write(chunk: _Chunk) -> None:
                    while len(pending) >= workers:
                        joined.append(pending.popleft().result())
                    pending.append(pool.submit(encode, chunk))

                yield write
                while pending:
                    joined.append(pending.popleft().result())
                if joined.empty:
                    joined.append(encode(_NO_CHUNK))           # no person: a file with no row group
                joined.close()
        else:
            with open(tmp, "w", encoding="utf-8", newline="") as text:
                header = [True]

                def write_csv(chunk: _Chunk) -> None:
                    frame = table(chunk).to_pandas()
                    frame.to_csv(text, index=False, header=header[0], lineterminator="\n")
                    header[0] = False

                yield write_csv
                if header[0]:
                    table(_NO_CHUNK).to_pandas().to_csv(text, index=False, lineterminator="\n")


def _required(schema: pa.Schema, required: Sequence[str]) -> pa.Schema:
    """``schema`` with the ``required`` columns marked as never missing."""
    return pa.schema([f.with_nullable(f.name not in required) for f in schema], metadata=schema.metadata)


def _split_rows(table: ChunkTable, n_obs: np.ndarray, chunk: _Chunk, dictionary_ids: bool = False
                ) -> Iterator[pa.Table]:
    """Tables of whole persons of one chunk, each at most ``ROW_GROUP_ROWS`` rows (unless one person has more).

    Each table is expanded from a chunk of its own persons (its share of the flags and of the hours,
    found by bisection), not by scanning the whole chunk's hours for every table. ``dictionary_ids``:
    ``person_id`` dictionary-encoded (see :meth:`_Layout.table`).
    """
    ends = np.cumsum(n_obs[chunk.start:chunk.stop])
    hours_row, hours = chunk.hours_row, chunk.hours
    if len(hours_row) > 1 and not bool((hours_row[1:] >= hours_row[:-1]).all()):
        order = np.argsort(hours_row, kind="stable")
        hours_row, hours = hours_row[order], hours[order]
    start = chunk.start
    while start < chunk.stop:
        base = int(ends[start - chunk.start - 1]) if start > chunk.start else 0
        stop = chunk.start + int(np.searchsorted(ends, base + ROW_GROUP_ROWS, side="right"))
        stop = min(max(stop, start + 1), chunk.stop)
        end = int(ends[stop - chunk.start - 1])
        lo, hi = np.searchsorted(hours_row, [base, end])
        part = _Chunk(start, stop, chunk.flags[base:end], hours_row[lo:hi] - hours_row.dtype.type(base), hours[lo:hi])
        yield table(part, dictionary_ids=dictionary_ids)
        start = stop
