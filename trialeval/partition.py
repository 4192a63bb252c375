"""A ledger and a spells extract split by person into a partitioned Parquet dataset, in one pass.

:func:`partition_extract` reads each input once, a batch of rows at a time (Parquet row batches, CSV
blocks), and writes every row to the part its person belongs to::

    DIR/partition.json                      what was split, how, and how many rows each part holds
    DIR/ledger/part=007/part.parquet        the ledger rows of the persons of part 7
    DIR/spells/part=007/part.parquet        the spells of the same persons

The part of a person is ``FNV-1a-64(person id as UTF-8 text, blanks trimmed) mod parts``: the same on
every machine and in every Python process (it does not depend on ``PYTHONHASHSEED``), so a person's
ledger row and spells always land in the same part. Persons are independent in the panel, so the panel
of each part can be built on its own and the per-week sums of the parts added up
(:func:`trialeval.panel.partitioned.build_partitioned`); memory is then bounded by one part.

The dataset is written into a temporary folder beside ``DIR`` and renamed onto it when complete: an
interrupted run leaves nothing half-written.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from trialeval.exceptions import InputDataError
from trialeval.io import (
    check_not_inputs,
    read_table,
    require_columns,
    require_rows,
    sha256_file,
    split_date_format,
)
from trialeval.ledger import LEDGER_TABLE_COLUMNS, compact_ledger, read_ledger, read_ledger_table
from trialeval.manifest import check_ledger_manifest
from trialeval.panel.spells import _check_spells, _fast_check, _spell_types, read_spells

#: Spells a part should hold when the number of parts is not given: what one part's panel needs in
#: memory is then about what a flat file of a million spells needs.
PART_SPELLS = 1_000_000
#: Most parts a dataset may have.
MAX_PARTS = 4096
#: Name of the dataset's description, in its folder.
MANIFEST_NAME = "partition.json"
#: Format name written into the description.
DATASET_FORMAT = "trialeval-partitioned"
#: The ledger columns a part keeps: those the panel reads. ``wave`` and ``exclusion_date`` are checked
#: here and left out; the ledger's manifest is checked here and its SHA-256 kept in ``partition.json``.
PART_LEDGER_COLUMNS = ("person_id", "arm", "visitation_date", "followup_end", "excluded", "municipality",
                       "stratum")
#: Rows read from an input at a time.
BATCH_ROWS = 1 << 19
#: Rows gathered for one part before they are written as a row group.
GROUP_ROWS = 1 << 16
#: What pandas' CSV reader takes as missing (as the readers of the ledger and the spells do).
_PANDAS_NA = ("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
              "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null")
_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)

ProgressCallback = Callable[[int, int], None]


def part_of(ids: pa.Array | pa.ChunkedArray | Sequence[Any], parts: int) -> np.ndarray:
    """The part (0 to ``parts - 1``) of each person id: FNV-1a 64 of its UTF-8 text, modulo ``parts``.

    Ids are taken as text with surrounding blanks removed (numbers as their decimal digits, as the
    panel matches them); a missing id goes to part 0. The result does not depend on the Python process.

    Examples
    --------
    >>> part_of(["P0000001", "P0000002", 17], 8).tolist()
    [2, 7, 1]
    >>> part_of(["17"], 8).tolist() == part_of([" 17 "], 8).tolist()
    True
    """
    text = _id_text(ids if isinstance(ids, (pa.Array, pa.ChunkedArray)) else pa.array(
        [None if v is None else str(v) for v in ids], type=pa.large_string()))
    text = pc.utf8_trim_whitespace(text).cast(pa.large_string())
    n = len(text)
    bufs = text.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int64, count=n + 1, offset=8 * text.offset)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    starts, lengths = offsets[:-1], np.diff(offsets)
    h = np.full(n, _FNV_OFFSET, dtype=np.uint64)
    for j in range(int(lengths.max(initial=0))):
        rows = np.flatnonzero(lengths > j)
        h[rows] = (h[rows] ^ data[starts[rows] + j].astype(np.uint64)) * _FNV_PRIME
    if text.null_count:
        h[text.is_null().to_numpy(zero_copy_only=False)] = 0
    return (h % np.uint64(parts)).astype(np.int64)


def _id_text(col: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Ids as one large_string array: text as it is, whole numbers (also as floats) as their digits."""
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    typ = col.type
    if pa.types.is_dictionary(typ):
        col, typ = col.cast(typ.value_type), typ.value_type
    if pa.types.is_floating(typ):
        values = col.to_numpy(zero_copy_only=False)
        present = values[~np.isnan(values)]
        if bool(np.all(present == np.round(present))):
            col = col.cast(pa.int64(), safe=False)
    if pa.types.is_null(col.type):
        return pa.nulls(len(col), pa.large_string())
    return col.cast(pa.large_string())


@dataclass(frozen=True, eq=False)
class PartitionResult:
    """What :func:`partition_extract` wrote.

    Attributes
    ----------
    out
        The dataset folder.
    parts
        Number of parts.
    ledger_rows, spells_rows
        Rows written to each part (``int64`` arrays of length ``parts``).
    manifest
        The dataset's description (also in ``out / "partition.json"``).
    """

    out: Path
    parts: int
    ledger_rows: np.ndarray
    spells_rows: np.ndarray
    manifest: dict[str, Any] = field(repr=False)

    def _repr_html_(self) -> str:
        """A compact view for notebooks: the summary (and the table, when there is one)."""
        from trialeval._console import summary_html

        return summary_html(self)

    def summary(self) -> str:
        """A plain-text account: parts, rows and the largest part."""
        return "\n".join([
            "Partitioned extract",
            f"  folder: {self.out}",
            f"  parts: {self.parts} (by a hash of person_id)",
            f"  ledger rows: {int(self.ledger_rows.sum()):,}; spells: {int(self.spells_rows.sum()):,}",
            f"  largest part: {int(self.ledger_rows.max(initial=0)):,} persons, "
            f"{int(self.spells_rows.max(initial=0)):,} spells",
        ])

    def to_dict(self) -> dict[str, Any]:
        """The dataset's description as JSON-ready values."""
        return dict(self.manifest)


def partition_extract(
    ledger: str | os.PathLike[str],
    spells: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    parts: int | None = None,
    columns: Mapping[str, str] | None = None,
    spell_types: Sequence[str] | None = None,
    drop_bad_rows: bool = False,
    force: bool = False,
    progress: ProgressCallback | None = None,
) -> PartitionResult:
    """Split a ledger and a spells file by person into a partitioned Parquet dataset, in one pass each.

    Parameters
    ----------
    ledger
        The assignments ledger (CSV or Parquet are read in batches; other formats whole). A ledger
        written by ``draw`` is checked against its manifest first.
    spells
        The register spells (CSV or Parquet in batches; other formats whole).
    out
        The dataset folder to create. It must not exist or be empty; with ``force`` an existing dataset
        made by this function is replaced (never any other folder).
    parts
        Number of parts, 1 to ``MAX_PARTS``; default: enough parts for about ``PART_SPELLS`` spells each.
    columns
        ``{contract_name: user_name}`` renames and the ``date_format`` of the config's ``[columns]``; the
        dataset is written with the contract's column names.
    spell_types
        Further spell types to accept (as for the panel).
    drop_bad_rows
        Leave the spells' row rules to the panel, which drops bad rows into its rejects; by default every
        spell is checked here and a bad one stops the split (naming file, column, rule and rows). The
        ledger's rules are always checked.
    force
        Replace an existing dataset at ``out``.
    progress
        ``callback(rows_done, rows_total)`` after each batch of input rows (ledger and spells together).

    Returns
    -------
    PartitionResult

    Raises
    ------
    InputDataError
        A missing column, a bad row, an unreadable input, or an output folder that exists (without
        ``force``) or would hold an input.

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> pd.DataFrame({"person_id": ["a", "b", "c"], "arm": ["treatment", "control", "control"],
    ...               "visitation_date": ["2016-03-01"] * 3}).to_csv(d / "ledger.csv", index=False)
    >>> pd.DataFrame({"person_id": ["a", "c"], "spell_type": ["internship"] * 2,
    ...               "start_date": ["2016-03-01"] * 2, "end_date": ["2016-03-10"] * 2}
    ...              ).to_csv(d / "spells.csv", index=False)
    >>> res = partition_extract(d / "ledger.csv", d / "spells.csv", d / "data", parts=2)
    >>> int(res.ledger_rows.sum()), int(res.spells_rows.sum()), sorted(p.name for p in (d / "data").iterdir())
    (3, 2, ['ledger', 'partition.json', 'spells'])
    """
    ledger, spells, out = Path(ledger), Path(spells), Path(out)
    types = _spell_types(spell_types)
    _check_inputs(ledger, spells, out, force, drop_bad_rows)
    n_spells = _count_rows(spells)
    n_parts = _check_parts(parts, n_spells)
    report = _Progress(progress, _count_rows(ledger) + n_spells)
    rename, date_format = split_date_format(columns)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        ledger_rows = _split(_ledger_batches(ledger, columns), tmp / "ledger", n_parts, None, report)
        check = None if drop_bad_rows else _SpellCheck(str(spells), types, date_format)
        spells_rows = _split(_spell_batches(spells, rename), tmp / "spells", n_parts, check, report)
        _check_unique_ids(tmp / "ledger", n_parts, ledger, columns)
        manifest = {"format": DATASET_FORMAT, "version": 1, "parts": n_parts,
                    "part_of": "fnv1a64(utf8(trim(person_id))) mod parts",
                    "ledger": _described(ledger, ledger_rows), "spells": _described(spells, spells_rows),
                    "date_format": date_format}
        (tmp / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)          # _check_out allowed it: empty, or a dataset with force
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return PartitionResult(out=out, parts=n_parts, ledger_rows=ledger_rows, spells_rows=spells_rows,
                           manifest=manifest)


def _described(path: Path, rows: np.ndarray) -> dict[str, Any]:
    """An input as the dataset's description records it."""
    return {"file": str(path), "sha256": sha256_file(path), "rows": int(rows.sum()), "rows_per_part": rows.tolist()}


# --------------------------------------------------------------------------------------------------
# Arguments and the output folder
# --------------------------------------------------------------------------------------------------

def _check_inputs(ledger: Path, spells: Path, out: Path, force: bool, drop_bad_rows: Any) -> None:
    """The inputs exist (a ledger written by ``draw`` is in step with its manifest); ``out`` may be
    written (:func:`_check_out`)."""
    _check_out(out, [("--ledger", ledger), ("--spells", spells)], force)
    for label, path in (("--ledger", ledger), ("--spells", spells)):
        if not path.is_file():
            raise InputDataError(f"{label} {path}: no such file")
    if drop_bad_rows not in (True, False):
        raise InputDataError(f"drop_bad_rows must be True or False; got {drop_bad_rows!r}")
    check_ledger_manifest(ledger)


def _check_out(out: Path, inputs: Sequence[tuple[str, Path]], force: bool) -> None:
    """``out`` may be new or empty; with ``force`` also a dataset this module wrote. Never an input, never
    a folder holding an input."""
    check_not_inputs([("--out", out)], inputs)
    for label, path in inputs:
        if out.resolve() in path.resolve().parents:
            raise InputDataError(f"--out {out}: holds the input {label} {path}; the dataset is written into "
                                 "a new folder. Choose another folder; nothing was written")
    if out.exists() and not out.is_dir():
        raise InputDataError(f"--out {out}: is a file; the dataset is a folder. Choose another name; "
                             "nothing was written")
    if out.is_dir() and any(out.iterdir()):
        if not (out / MANIFEST_NAME).is_file():
            raise InputDataError(f"--out {out}: is a folder that is not empty and not a partitioned dataset; "
                                 "choose a new folder; nothing was written")
        if not force:
            raise InputDataError(f"--out {out}: already holds a partitioned dataset; pass --force to replace "
                                 "it; nothing was written")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputDataError(f"--out {out}: its folder cannot be created ({exc}); nothing was written") from exc
    if not os.access(out.parent, os.W_OK):
        raise InputDataError(f"--out {out}: its folder {out.parent} cannot be written in; nothing was written")


def _check_parts(parts: Any, n_spells: int) -> int:
    if parts is None:
        return int(min(MAX_PARTS, max(1, -(-n_spells // PART_SPELLS))))
    if isinstance(parts, bool) or not isinstance(parts, (int, np.integer)) or not 1 <= parts <= MAX_PARTS:
        raise InputDataError(f"parts must be a whole number between 1 and {MAX_PARTS}; got {parts!r}")
    return int(parts)


def _count_rows(path: Path) -> int:
    """Data rows of a file: from the Parquet footer, by counting lines of a CSV, else by reading it."""
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return int(pq.ParquetFile(path).metadata.num_rows)
        if suffix == ".csv":
            lines, last = 0, b"\n"
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 22), b""):
                    lines += block.count(b"\n")
                    last = block[-1:]
            return max(0, lines + (last != b"\n") - 1)
    except (OSError, pa.ArrowException) as exc:
        raise InputDataError(f"{path}: cannot be read as {suffix[1:]}: {exc}") from exc
    return len(read_table(path))


# --------------------------------------------------------------------------------------------------
# Reading the inputs in batches
# --------------------------------------------------------------------------------------------------

def _file_batches(path: Path, rename: Mapping[str, str], required: Sequence[str]) -> Iterator[pa.RecordBatch]:
    """A CSV (every column as text, missing values as pandas reads them) or Parquet file in batches, with
    contract column names; ``required`` columns are checked before the first batch."""
    suffix = path.suffix.lower()
    inverse = {user: contract for contract, user in rename.items()}
    try:
        if suffix == ".csv":
            with open(path, "rb") as fh:
                names = pacsv.open_csv(fh, read_options=pacsv.ReadOptions(block_size=1 << 16)).schema.names
            reader: Any = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=1 << 24),
                                         convert_options=pacsv.ConvertOptions(
                                             column_types={c: pa.string() for c in names},
                                             null_values=list(_PANDAS_NA), strings_can_be_null=True,
                                             quoted_strings_can_be_null=True))
        else:
            parquet = pq.ParquetFile(path, pre_buffer=False)
            names = parquet.schema_arrow.names
            reader = parquet.iter_batches(batch_size=BATCH_ROWS)
        require_columns(pd.DataFrame(columns=[inverse.get(c, c) for c in names]), list(required), str(path))
        contract = [inverse.get(c, c) for c in names]
        for batch in reader:
            if len(batch):
                yield batch.rename_columns(contract)
    except InputDataError:
        raise
    except (ValueError, OSError, UnicodeDecodeError, pa.ArrowException) as exc:
        raise InputDataError(f"{path}: cannot be read as {suffix[1:]}: {exc}") from exc


def _ledger_batches(path: Path, columns: Mapping[str, str] | None) -> Iterator[pa.Table]:
    """The ledger in checked, compact batches (:func:`~trialeval.ledger.compact_ledger`).

    A rule broken in a batch is reported as the readers report it, naming the file's rows: the ledger is
    then read whole by :func:`~trialeval.ledger.read_ledger_table`, whose message names them.
    """
    rename, date_format = split_date_format(columns)
    if path.suffix.lower() not in (".csv", ".parquet", ".pq"):
        frame = read_ledger(path, rename=columns)
        table = pa.Table.from_pandas(frame[[c for c in LEDGER_TABLE_COLUMNS if c in frame.columns]],
                                     preserve_index=False)
        compact = compact_ledger(table, str(path))
        yield compact.select([c for c in compact.column_names if c in PART_LEDGER_COLUMNS])
        return
    from trialeval.ledger import _ledger_date_format

    fmt = _ledger_date_format(path, columns)
    empty = True
    for batch in _file_batches(path, rename, ["person_id", "arm", "visitation_date"]):
        empty = False
        table = pa.Table.from_batches([batch])
        table = table.select([c for c in table.column_names if c in LEDGER_TABLE_COLUMNS])
        try:
            compact = compact_ledger(table, str(path), date_format=fmt)
        except InputDataError:
            read_ledger_table(path, rename=columns)    # the message with the file's row numbers
            raise
        yield compact.select([c for c in compact.column_names if c in PART_LEDGER_COLUMNS])
    if empty:
        require_rows(0, str(path))
    del date_format


def _spell_batches(path: Path, rename: Mapping[str, str]) -> Iterator[pa.Table]:
    """The spells in batches, as they are (Parquet) or as text (CSV, as the spells reader takes it)."""
    if path.suffix.lower() not in (".csv", ".parquet", ".pq"):
        frame = read_spells(path, rename=rename)
        yield pa.Table.from_pandas(frame, preserve_index=False)
        return
    empty = True
    for batch in _file_batches(path, rename, ["person_id", "spell_type", "start_date", "end_date"]):
        empty = False
        yield pa.Table.from_batches([batch])
    if empty:
        require_rows(0, str(path))


@dataclass
class _SpellCheck:
    """The panel's row rules for spells, applied batch by batch with the file's row numbers."""

    source: str
    types: tuple[str, ...]
    date_format: str | None
    offset: int = 0

    def __call__(self, table: pa.Table) -> None:
        batch = table.combine_chunks().to_batches()[0] if table.num_rows else None
        if batch is not None and _fast_check(batch, self.types) is None:
            _check_spells(table.to_pandas(), self.source, self.types, False, self.offset, self.date_format)
        self.offset += table.num_rows


# --------------------------------------------------------------------------------------------------
# Writing the parts
# --------------------------------------------------------------------------------------------------

class _PartWriters:
    """One Parquet writer per part, each fed row groups of about ``GROUP_ROWS`` rows."""

    def __init__(self, folder: Path, parts: int) -> None:
        self.folder, self.parts = folder, parts
        self.writers: dict[int, pq.ParquetWriter] = {}
        self.pending: list[list[pa.Table]] = [[] for _ in range(parts)]
        self.rows = np.zeros(parts, dtype=np.int64)
        self.schema: pa.Schema | None = None

    def path(self, k: int) -> Path:
        return self.folder / f"part={k:03d}" / "part.parquet"

    def add(self, k: int, table: pa.Table) -> None:
        if self.schema is None:
            self.schema = table.schema
        elif table.schema != self.schema:
            table = table.cast(self.schema)
        self.pending[k].append(table)
        self.rows[k] += table.num_rows
        if sum(t.num_rows for t in self.pending[k]) >= GROUP_ROWS:
            self._flush(k)

    def _flush(self, k: int) -> None:
        if not self.pending[k]:
            return
        table = pa.concat_tables(self.pending[k]).combine_chunks()
        self.pending[k] = []
        if k not in self.writers:
            self.path(k).parent.mkdir(parents=True, exist_ok=True)
            self.writers[k] = pq.ParquetWriter(self.path(k), table.schema, compression="zstd",
                                               compression_level=1)
        self.writers[k].write_table(table)

    def close(self) -> None:
        for k in range(self.parts):
            self._flush(k)
            if k in self.writers:
                self.writers[k].close()
            elif self.schema is not None:
                self.path(k).parent.mkdir(parents=True, exist_ok=True)
                pq.write_table(self.schema.empty_table(), self.path(k))


@dataclass
class _Progress:
    """Rows done of both inputs, for the caller's ``callback(done, total)``."""

    callback: ProgressCallback | None
    total: int
    done: int = 0

    def add(self, rows: int) -> None:
        self.done += rows
        if self.callback is not None:
            self.callback(min(self.done, self.total), self.total)


def _split(batches: Iterator[pa.Table], folder: Path, parts: int, check: Callable[[pa.Table], None] | None,
           progress: _Progress) -> np.ndarray:
    """Write every batch's rows to their parts; returns the rows per part."""
    writers = _PartWriters(folder, parts)
    try:
        for table in batches:
            if check is not None:
                check(table)
            part = part_of(table["person_id"], parts)
            order = np.argsort(part, kind="stable")
            bounds = np.searchsorted(part[order], np.arange(parts + 1))
            ordered = table.take(pa.array(order))
            for k in np.flatnonzero(np.diff(bounds)):
                writers.add(int(k), ordered.slice(int(bounds[k]), int(bounds[k + 1] - bounds[k])))
            progress.add(table.num_rows)
    finally:
        writers.close()
    return writers.rows


def _check_unique_ids(folder: Path, parts: int, ledger: Path, columns: Mapping[str, str] | None) -> None:
    """A person id twice in the ledger lands twice in one part: each part is checked; a duplicate is then
    reported by the ledger reader, with the file's row numbers."""
    for k in range(parts):
        path = folder / f"part={k:03d}" / "part.parquet"
        if not path.is_file():
            continue
        ids = pq.read_table(path, columns=["person_id"])["person_id"]
        if len(ids) and pc.count_distinct(ids).as_py() != len(ids):
            read_ledger_table(ledger, rename=columns)
            raise InputDataError(f"{ledger}: column 'person_id' must be unique; a person id is repeated")
