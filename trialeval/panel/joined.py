"""One panel file from the panel files of a partitioned dataset's parts, a row group at a time.

The parts' panels are written one by one (each by :func:`~trialeval.panel.build_panel` with ``out=``)
and then joined in part order: Parquet row group by row group (each holds whole persons, so the joined
file is grouped by person as a flat build writes it, ordered by part and then by id), CSV by copying
its lines. An outcome a part's spells cannot give (no benefit spell: self-supporting every week; no
workplace: the same-workplace rule never reached) is added as its constant column, so every part has
the columns of the whole panel.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from trialeval.io import atomic_write
from trialeval.panel.store import PARQUET_OPTIONS

#: Value of an outcome column absent from a part (see the module's description).
FILL = {"self_supporting": 1, "reached_13_weeks_same_workplace": 0}


def _aligned(table: pa.Table, columns: Sequence[str]) -> pa.Table:
    n = table.num_rows
    return pa.table({c: table[c] if c in table.column_names else pa.array(np.full(n, FILL[c], dtype=np.int8))
                     for c in columns})


def join_panels(files: Sequence[Path], out: Path, columns: Sequence[str]) -> Path:
    """Join the parts' panel files (all ``.parquet`` or all ``.csv``) into ``out``, columns in ``columns``
    order; ``out`` gets its name only when complete."""
    with atomic_write(out) as tmp:
        if out.suffix.lower() == ".parquet":
            _join_parquet(files, tmp, columns)
        else:
            _join_csv(files, tmp, columns)
    return out


def _join_parquet(files: Sequence[Path], tmp: Path, columns: Sequence[str]) -> None:
    writer: pq.ParquetWriter | None = None
    try:
        for path in files:
            pf = pq.ParquetFile(path)
            for i in range(pf.num_row_groups):
                table = _aligned(pf.read_row_group(i), columns)
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema, **PARQUET_OPTIONS)
                writer.write_table(table.cast(writer.schema), row_group_size=max(table.num_rows, 1))
            if writer is None and pf.num_row_groups == 0:
                writer = pq.ParquetWriter(tmp, _aligned(pf.schema_arrow.empty_table(), columns).schema,
                                          **PARQUET_OPTIONS)
    finally:
        if writer is not None:
            writer.close()


def _join_csv(files: Sequence[Path], tmp: Path, columns: Sequence[str]) -> None:
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        fh.write(",".join(columns) + "\n")
        for path in files:
            with open(path, encoding="utf-8", newline="") as part:
                header = part.readline().rstrip("\r\n").split(",")
                if header == list(columns):
                    shutil.copyfileobj(part, fh)
                    continue
            for frame in pd.read_csv(path, dtype=str, keep_default_na=False, chunksize=1 << 18):
                fill: Mapping[str, object] = {c: str(FILL[c]) for c in columns if c not in frame.columns}
                frame.assign(**fill)[list(columns)].to_csv(fh, index=False, header=False, lineterminator="\n")
