"""Reading a panel file in batches of whole persons, for the streamed effects.

A Parquet panel is read row group by row group (only the columns needed, ``person_id`` and ``arm``
kept dictionary-encoded); a CSV panel in blocks of bytes. Each batch is cut at its persons: the whole
persons inside it become a :class:`Block` at once, and its first and last person, which may go on in the
neighbouring batch, are kept aside and stitched into one more block at the end (a few rows per batch).
Every batch also reports its first and last person id and whether its ids increase, so the caller can
tell that the file is person-ordered (:func:`check_person_order`).
"""

from __future__ import annotations

import os
import threading

from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from trialeval.exceptions import InputDataError
from trialeval.io import ARMS, describe_rows, split_date_format
from trialeval.timeaxis import WEEKS_SINCE_VISITATION

#: Bytes per block when a CSV panel is read (about a million rows of a six-outcome panel).
CSV_BLOCK_BYTES = 32 << 20
#: File types that are streamed; other types are read whole.
STREAMED_SUFFIXES = (".parquet", ".pq", ".csv")

T = TypeVar("T")
_TRUE_WORDS = {"True", "TRUE", "true"}
_BOOLEAN_WORDS = _TRUE_WORDS | {"False", "FALSE", "false"}
_KEY1, _KEY2 = "trialevalperson1", "trialevalperson2"    # two 16-byte hash keys: 128 bits per id


@dataclass(frozen=True, eq=False)
class GroupLabels:
    """A grouping column (blocks, clusters) of a batch: its distinct values, sorted, and each row's code."""

    values: np.ndarray
    codes: np.ndarray


@dataclass(frozen=True, eq=False)
class Block:
    """Whole persons of the panel as arrays: one run of rows per person, in file order.

    ``rows`` is the file row (0-based, data rows) of the first row, or of every row when the block was
    stitched from pieces of several batches; ``starts`` the first row of each person and the end.
    """

    rows: int | np.ndarray
    starts: np.ndarray
    ids: pa.Array
    t: np.ndarray
    week: np.ndarray
    values: Mapping[str, np.ndarray]
    labels: Mapping[str, GroupLabels] = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        return len(self.week)

    @property
    def n_persons(self) -> int:
        return len(self.starts) - 1

    def person(self) -> np.ndarray:
        """The person (0 … n_persons − 1, in block order) of each row."""
        return np.repeat(np.arange(self.n_persons), np.diff(self.starts))

    def file_rows(self, mask: np.ndarray) -> np.ndarray:
        """File rows of the rows in ``mask``."""
        pos = np.flatnonzero(mask)
        return pos + self.rows if isinstance(self.rows, int) else self.rows[pos]


@dataclass(frozen=True)
class BatchOrder:
    """What one batch tells about the order of persons: its first and last id, and whether ids increase."""

    first: str | None
    last: str | None
    increasing: bool


class PanelFile:
    """A Parquet or CSV panel read in batches of rows; columns named by the contract (after ``rename``).

    Parameters
    ----------
    path
        ``.parquet``/``.pq`` or ``.csv``.
    rename
        ``{contract_name: user_name}`` from the config's ``[columns]`` table.
    """

    def __init__(self, path: str | os.PathLike[str], rename: Mapping[str, str] | None = None,
                 groups: tuple[str, str] = ARMS) -> None:
        self.groups = groups
        self.path = Path(path)
        self.source = str(path)
        self.suffix = self.path.suffix.lower()
        if not self.path.is_file():
            raise InputDataError(f"{self.path}: file not found")
        renames, _ = split_date_format(dict(rename or {}))
        self._to_user = dict(renames)
        try:
            if self.suffix == ".csv":
                self._parquet = None
                schema = self._csv_schema()
            else:
                self._parquet = pq.ParquetFile(self.path)
                schema = self._parquet.schema_arrow
        except (ValueError, OSError, pa.ArrowException) as exc:
            raise InputDataError(f"{self.path}: cannot be read as {self.suffix[1:]}: {exc}") from exc
        inverse = {user: contract for contract, user in self._to_user.items() if user in schema.names}
        self.columns = [inverse.get(c, c) for c in schema.names]
        self._user = {c: u for c, u in zip(self.columns, schema.names)}
        self.schema = schema

    # ---- the table's columns -------------------------------------------------------------------
    def _csv_schema(self) -> pa.Schema:
        reader = pacsv.open_csv(self.path, read_options=pacsv.ReadOptions(block_size=1 << 20))
        return reader.schema

    def empty_frame(self) -> pd.DataFrame:
        """No rows, the file's columns (contract names) and dtypes: for the checks of names and types."""
        frame = self.schema.remove_metadata().empty_table().to_pandas()
        frame.columns = self.columns
        return frame

    def column_types(self, columns: Sequence[str]) -> dict[str, pa.DataType]:
        """The arrow type of each column (contract names); a dictionary column has its values' type."""
        out = {}
        for c in columns:
            kind = self.schema.field(self._user[c]).type
            out[c] = kind.value_type if pa.types.is_dictionary(kind) else kind
        return out

    @property
    def n_rows(self) -> int | None:
        """Data rows (None for CSV, known only when read)."""
        return None if self._parquet is None else self._parquet.metadata.num_rows

    # ---- batches ---------------------------------------------------------------------------------
    def batches(self, columns: Sequence[str]) -> Iterator[Callable[[], tuple[int, pa.Table]]]:
        """Loaders of the batches in file order; each returns (first file row, table of ``columns``).

        Parquet loaders may run in any thread (a row group each); CSV batches are read here, in order.
        """
        user = [self._user[c] for c in columns]
        if self._parquet is not None:
            meta = self._parquet.metadata
            keep_dictionary = [u for u, c in zip(user, columns) if c in ("person_id", "arm")]
            local = threading.local()                  # a ParquetFile is not shared between threads

            def reader() -> pq.ParquetFile:
                if not hasattr(local, "file"):
                    local.file = pq.ParquetFile(self.path, metadata=meta, read_dictionary=keep_dictionary)
                return local.file

            offset = 0
            for i in range(meta.num_row_groups):
                n = meta.row_group(i).num_rows

                def load(i: int = i, offset: int = offset) -> tuple[int, pa.Table]:
                    try:
                        table = reader().read_row_group(i, columns=user)
                    except (OSError, pa.ArrowException) as exc:
                        raise InputDataError(f"{self.path}: cannot be read as parquet: {exc}") from exc
                    return offset, table.rename_columns(list(columns))

                yield load
                offset += n
            return
        convert = pacsv.ConvertOptions(include_columns=user, column_types={u: pa.string() for u in user},
                                       strings_can_be_null=True)
        try:
            blocks = pacsv.open_csv(self.path, read_options=pacsv.ReadOptions(block_size=CSV_BLOCK_BYTES),
                                    convert_options=convert)
            start = 0
            for batch in blocks:
                yield _loaded(start, pa.Table.from_batches([batch]).rename_columns(list(columns)))
                start += batch.num_rows
        except (OSError, pa.ArrowException) as exc:
            raise InputDataError(f"{self.path}: cannot be read as csv: {exc}") from exc


def _loaded(offset: int, table: pa.Table) -> Callable[[], tuple[int, pa.Table]]:
    """A loader of a batch already read."""
    return lambda: (offset, table)


def run_tasks(tasks: Iterator[Callable[[], T]], workers: int) -> Iterator[T]:
    """Results of ``tasks`` in their order, at most ``workers`` running at once (threads) and a few queued."""
    if workers <= 1:
        for task in tasks:
            yield task()
        return
    with ThreadPoolExecutor(workers) as pool:
        pending: list[Future[T]] = []
        for task in tasks:
            pending.append(pool.submit(task))
            if len(pending) > workers:
                yield pending.pop(0).result()
        for fut in pending:
            yield fut.result()


# ---- one batch -----------------------------------------------------------------------------------
def person_codes(table: pa.Table, source: str, offset: int) -> tuple[np.ndarray, pa.Array]:
    """Integer code of each row's person within the batch, and the distinct ids (unique)."""
    col = table.column("person_id")
    if col.null_count:
        raise InputDataError(f"{source}: column 'person_id' is empty in "
                             f"{describe_rows(offset + np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False)))}")
    arr = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    if pa.types.is_dictionary(arr.type):
        dictionary = arr.dictionary
        if len(pc.unique(dictionary)) != len(dictionary):
            arr = arr.cast(dictionary.type)
    if not pa.types.is_dictionary(arr.type):
        if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
            arr = arr.cast(pa.string())
        arr = arr.dictionary_encode()
    return arr.indices.to_numpy(zero_copy_only=False), arr.dictionary.cast(pa.string())


def split_persons(table: pa.Table, source: str, offset: int
                  ) -> tuple[tuple[int, int], np.ndarray, pa.Array, BatchOrder]:
    """The rows of the batch's inner persons ``(lo, hi)``, the person code of each row, the id of each run.

    The first and the last person of a batch may go on in the neighbouring batches: rows ``[0, lo)``
    and ``[hi, n)`` are theirs. A batch of one person has ``lo == hi == n``.
    """
    code, dictionary = person_codes(table, source, offset)
    n = len(code)
    starts = np.concatenate([[0], np.flatnonzero(code[1:] != code[:-1]) + 1])
    ids = dictionary.take(pa.array(code[starts]))
    increasing = bool(len(ids) < 2 or pc.all(pc.less(ids[:-1], ids[1:])).as_py())
    order = BatchOrder(ids[0].as_py() if n else None, ids[-1].as_py() if n else None, increasing)
    if len(starts) < 2:
        return (n, n), code, ids, order
    return (int(starts[1]), int(starts[-1])), code, ids, order


def to_block(table: pa.Table, rows: int | np.ndarray, code: np.ndarray, outcomes: Sequence[str],
             source: str, period: str = WEEKS_SINCE_VISITATION.column, groups: tuple[str, str] = ARMS,
             label_columns: Sequence[str] = (), nullable: Sequence[str] = ()) -> Block:
    """A table of whole persons (person codes ``code`` per row) as a :class:`Block`, keys checked."""
    n = table.num_rows
    starts = np.concatenate([[0], np.flatnonzero(code[1:] != code[:-1]) + 1, [n]]).astype(np.int64)
    ids_all = table.column("person_id")
    ids = pc.cast(ids_all.take(pa.array(starts[:-1])), pa.string())
    ids = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids

    def bad(column: str, rule: str, mask: np.ndarray) -> InputDataError:
        pos = np.flatnonzero(mask)
        where = pos + rows if isinstance(rows, int) else rows[pos]
        return InputDataError(f"{source}: column '{column}' {rule} in {describe_rows(where)}")

    t = _treated(table.column("arm"), bad, groups)
    week = _whole_numbers(table.column(period), period, bad)
    values = {o: _numeric(table.column(o), o, bad) for o in outcomes}
    labels = {c: read_labels(table.column(c), c, source, rows, allow_null=c in nullable)
              for c in label_columns}
    return Block(rows, starts, ids, t, week, values, labels)


def _treated(col: pa.ChunkedArray, bad: Callable[[str, str, np.ndarray], InputDataError],
             groups: tuple[str, str] = ARMS) -> np.ndarray:
    """1 for the programme group (``groups[0]``), 0 for the reference group; another label is an error."""
    arr = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    if not pa.types.is_dictionary(arr.type):
        arr = arr.cast(pa.string()).dictionary_encode()
    labels = [str(v) for v in arr.dictionary.to_pylist()]
    known = np.array([v in groups for v in labels] + [False])
    indices = arr.indices.fill_null(len(labels)) if arr.null_count else arr.indices
    codes = indices.to_numpy(zero_copy_only=False)
    if not known[:-1].all() or arr.null_count:            # an unknown label, used or not, or a missing arm
        if not known[codes].all():
            raise bad("arm", f"must be '{groups[0]}' or '{groups[1]}'", ~known[codes])
    treated = [i for i, v in enumerate(labels) if v == groups[0]]
    if len(treated) == 1:                                   # one comparison instead of a lookup per row
        return (codes == treated[0]).view(np.int8)
    is_treat = np.array([v == groups[0] for v in labels] + [False])
    return is_treat[codes].view(np.int8)


def _whole_numbers(col: pa.ChunkedArray, name: str, bad: Callable[[str, str, np.ndarray], InputDataError]
                   ) -> np.ndarray:
    arr = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    if pa.types.is_integer(arr.type) and not arr.null_count:
        return arr.to_numpy()                                  # int16 from `panel`: no copy
    num = _as_float(arr)
    wrong = np.isnan(num) | (num != np.round(num))
    if wrong.any():
        raise bad(name, "must be a whole number", wrong)
    return num.astype(np.int64)


def _as_float(arr: pa.Array) -> np.ndarray:
    """Numbers of a column as float64 (NaN for missing and for text that is not a number)."""
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        try:
            return pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False)
        except pa.ArrowInvalid:
            return pd.to_numeric(pd.Series(arr.to_pylist(), dtype=object), errors="coerce").to_numpy(
                dtype=np.float64)
    if pa.types.is_dictionary(arr.type):
        return _as_float(arr.cast(arr.type.value_type))
    return pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False)


def _numeric(col: pa.ChunkedArray, name: str, bad: Callable[[str, str, np.ndarray], InputDataError]
             ) -> np.ndarray:
    """An outcome as numpy: integer and boolean columns without missing values as they are, else float64."""
    arr = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    kind = arr.type
    if (pa.types.is_integer(kind) or pa.types.is_boolean(kind)) and not arr.null_count:
        out = arr.to_numpy(zero_copy_only=False)
        return out.astype(np.int8) if out.dtype == bool else out
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind):
        return pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False)
    text = arr.cast(pa.string()) if not pa.types.is_string(kind) else arr
    words = pc.unique(text.drop_null()).to_pylist()
    if words and not text.null_count and set(words) <= _BOOLEAN_WORDS:     # a boolean column, as pandas reads it
        return np.isin(np.asarray(text.fill_null("").to_pylist(), dtype=object), list(_TRUE_WORDS)).astype(np.int8)
    num = _as_float(text)
    wrong = np.isnan(num) & ~text.is_null().to_numpy(zero_copy_only=False)
    if wrong.any():
        raise bad(name, "must be numeric", wrong)
    return num


def check_person_order(orders: Sequence[BatchOrder]) -> bool:
    """Whether the ids increase through the file (batches in file order; a person may straddle two)."""
    if not all(o.increasing for o in orders):
        return False
    seen = [o for o in orders if o.first is not None]
    return all(a.last is not None and b.first is not None and a.last <= b.first for a, b in zip(seen, seen[1:]))


def find_split_person(panel: PanelFile) -> str | None:
    """A person whose rows are not together (None: every person's rows are contiguous); reads ``person_id``.

    Each person's first row is hashed (two 64-bit hashes of the id); an id that starts two runs is split.
    """
    hashes = []
    last: str | None = None
    for load in panel.batches(["person_id"]):
        offset, table = load()
        if table.num_rows == 0:
            continue
        _, code, ids, order = split_persons(table, panel.source, offset)
        if last is not None and order.first == last:
            ids = ids[1:]
        last = order.last
        values = np.asarray(ids.to_pylist(), dtype=object)
        hashes.append(np.stack([pd.util.hash_array(values, hash_key=_KEY1),
                                pd.util.hash_array(values, hash_key=_KEY2)], axis=1))
    if not hashes:
        return None
    allh = np.concatenate(hashes)
    keys = allh.view(np.dtype([("a", np.uint64), ("b", np.uint64)])).ravel()
    uniq, counts = np.unique(keys, return_counts=True)
    if not (counts > 1).any():
        return None
    target = uniq[counts > 1][0]
    for load in panel.batches(["person_id"]):
        _, table = load()
        ids = pc.unique(table.column("person_id").cast(pa.string())).to_pylist()
        values = np.asarray(ids, dtype=object)
        h = np.stack([pd.util.hash_array(values, hash_key=_KEY1),
                      pd.util.hash_array(values, hash_key=_KEY2)], axis=1)
        hit = h.view(keys.dtype).ravel() == target
        if hit.any():
            return str(values[np.flatnonzero(hit)[0]])
    return None


def compact(table: pa.Table, lo: int, hi: int) -> pa.Table:
    """Rows ``[lo, hi)`` of a batch as a table of their own (copied: the batch's buffers can go)."""
    part = table.take(pa.array(np.arange(lo, hi)))
    cols = {name: (part.column(name).cast(part.column(name).type.value_type)
                   if pa.types.is_dictionary(part.column(name).type) else part.column(name))
            for name in part.column_names}
    return pa.table(cols)


def fragments_table(pieces: list[tuple[pa.Table, int]]) -> tuple[pa.Table, np.ndarray]:
    """Stitch the batches' edge persons (in file order) into one table; the file row of each of its rows."""
    rows = np.concatenate([np.arange(off, off + t.num_rows) for t, off in pieces])
    return pa.concat_tables([t for t, _ in pieces], promote_options="permissive"), rows


def read_labels(column: pa.ChunkedArray, name: str, source: str, rows: int | np.ndarray,
                allow_null: bool = False) -> GroupLabels:
    """A grouping column of a batch: the sorted distinct values and each row's code.

    An empty value is an error; with ``allow_null`` its code is −1 (covariates are checked on the rows
    that enter only).
    """
    arr = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(arr.type.value_type)
    if arr.null_count and allow_null:
        valid = arr.is_valid()
        inner = read_labels(pa.chunked_array([arr.filter(valid)]), name, source, rows)
        codes = np.full(len(arr), -1, np.int64)
        codes[valid.to_numpy(zero_copy_only=False)] = inner.codes
        return GroupLabels(inner.values, codes)
    if arr.null_count:
        pos = np.flatnonzero(arr.is_null().to_numpy(zero_copy_only=False))
        where = pos + rows if isinstance(rows, int) else rows[pos]
        raise InputDataError(f"{source}: column '{name}' is empty in {describe_rows(where)}")
    enc = arr.dictionary_encode()
    dictionary = enc.dictionary
    order = pc.array_sort_indices(dictionary).to_numpy()
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    values = np.asarray(dictionary.take(pa.array(order)).to_pylist(), dtype=object)
    return GroupLabels(values, rank[enc.indices.to_numpy(zero_copy_only=False)])
