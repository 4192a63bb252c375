"""Register files as the panel's spells: ``panel --dream/--eindkomst`` without a separate ``convert`` step.

DREAM and eIndkomst are converted (a batch at a time) into Parquet spells in a working folder beside the
output, joined into one spells file when both are given, and the folder is removed when the step ends.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from trialeval._validation import OptionError
from trialeval.exceptions import ConfigError

if TYPE_CHECKING:
    from trialeval.config import TrialConfig
    from trialeval.registers import ConversionResult

PathLike = str | os.PathLike[str]


@contextlib.contextmanager
def register_spells(spells: PathLike | None, dream: PathLike | None, eindkomst: PathLike | None, *,
                    cfg: TrialConfig | None, codes: PathLike | None, beside: PathLike) -> Iterator[Path]:
    """The spells file to build from: ``spells`` itself, or the registers converted into one Parquet file
    in a working folder beside ``beside`` (removed afterwards, also on error).

    DREAM's code map is ``[registers.dream]`` of ``codes`` (a TOML file with only the map) or of the config.
    """
    registers = {name: path for name, path in (("--dream", dream), ("--eindkomst", eindkomst)) if path is not None}
    if spells is not None and registers:
        raise OptionError(f"give --spells or the registers ({', '.join(registers)}), not both: convert the "
                          "registers with trialeval convert and join them to your spells first", option="--spells")
    if spells is not None:
        yield Path(spells)
        return
    if not registers:
        raise OptionError("give --spells, or --dream and/or --eindkomst to read the registers directly",
                          option="--spells")
    if codes is not None and dream is None:
        raise OptionError("--codes is DREAM's code map: give it with --dream", option="--codes")
    Path(beside).parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=".trialeval-registers-", dir=Path(beside).parent))
    try:
        parts = []
        if dream is not None:
            parts.append(_dream(dream, cfg, codes, folder / "dream.parquet"))
        if eindkomst is not None:
            from trialeval.registers import convert_eindkomst

            convert_eindkomst(eindkomst, folder / "eindkomst.parquet", rename=cfg.columns if cfg is not None else None)
            parts.append(folder / "eindkomst.parquet")
        yield parts[0] if len(parts) == 1 else _join(parts, folder / "spells.parquet")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _dream(dream: PathLike, cfg: TrialConfig | None, codes: PathLike | None, out: Path) -> Path:
    dream_spells(dream, cfg, codes, out, what="reading DREAM")
    return out


def dream_spells(dream: PathLike, cfg: TrialConfig | None, codes: PathLike | None, out: PathLike, *,
                 what: str) -> ConversionResult:
    """DREAM converted into spells in ``out`` with its code map (``codes``, else the config's
    ``[registers.dream]``), its person column and CSV dialect from the config; ``what`` starts the message
    when there is no code map."""
    from trialeval.dates import CsvDialect
    from trialeval.registers import convert_dream, dream_codes

    code_map = dream_codes(codes) if codes is not None else cfg.registers.get("dream") if cfg is not None else None
    if code_map is None:
        raise ConfigError(f"{what} needs its code map, a [registers.dream] table (codes = {{ benefit = "
                          "[\"...\"], internship = [\"...\"], … }}) in --config or --codes")
    return convert_dream(dream, code_map, out,
                         person_column=cfg.columns.get("person_id", "person_id") if cfg else "person_id",
                         dialect=CsvDialect.of(cfg.columns if cfg else None))


def _join(parts: list[Path], out: Path) -> Path:
    """The spells of ``parts`` in one Parquet file, a row group at a time (``workplace_id`` empty where a
    part has none)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from trialeval.registers import SPELL_SCHEMA

    schema = SPELL_SCHEMA.append(pa.field("workplace_id", pa.string()))
    with pq.ParquetWriter(out, schema) as writer:
        for part in parts:
            file = pq.ParquetFile(part)
            for group in range(file.num_row_groups):
                table = file.read_row_group(group)
                if "workplace_id" not in table.column_names:
                    table = table.append_column("workplace_id", pa.nulls(table.num_rows, pa.string()))
                writer.write_table(table.select(schema.names).cast(schema))
    return out
