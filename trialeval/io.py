"""Reading and writing the plain files trialeval works on.

Inputs are chosen by extension: CSV, Parquet, Stata ``.dta``, SAS ``.sas7bdat`` (and XLSX).
Every writer goes through :func:`atomic_write`: the output appears complete or not at all.
Row numbers in messages count data rows from 1 (the header of a CSV is not a row).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import os
import stat
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trialeval.dates import (  # noqa: F401  (the date helpers are also importable from here)
    DATE_FORMAT_KEY,
    check_date_format,
    date_rule,
    parse_date,
    parse_date_column,
    CsvDialect,
    split_date_format,
)
from trialeval.exceptions import InputDataError


READERS = (".csv", ".parquet", ".pq", ".dta", ".sas7bdat", ".xlsx")
WRITERS = (".csv", ".parquet", ".xlsx")
ARMS = ("treatment", "control")
MAX_ROWS_SHOWN = 10


def describe_rows(positions: Sequence[int] | np.ndarray) -> str:
    """Name up to ten offending rows (1-based), e.g. ``"3 rows (rows 17, 240, 1032)"``."""
    positions = np.asarray(positions, dtype=np.int64)
    shown = ", ".join(str(p + 1) for p in positions[:MAX_ROWS_SHOWN])
    more = f", … {len(positions) - MAX_ROWS_SHOWN} more" if len(positions) > MAX_ROWS_SHOWN else ""
    noun = "row" if len(positions) == 1 else "rows"
    return f"{len(positions)} {noun} ({noun} {shown}{more})"


def row_error(source: str, column: str, rule: str, bad: np.ndarray | pd.Series) -> InputDataError:
    """Build the standard message: file, column, rule and the offending rows."""
    positions = np.flatnonzero(np.asarray(bad, dtype=bool))
    return InputDataError(f"{source}: column '{column}' {rule} in {describe_rows(positions)}")


def make_rng(rng: Any, what: str = "seed") -> np.random.Generator:
    """``rng`` as a numpy Generator: a Generator, None (fresh entropy) or a whole-number seed ``>= 0``.

    Examples
    --------
    >>> float(make_rng(1).random()) == float(make_rng(1).random())
    True
    >>> make_rng(-1)
    Traceback (most recent call last):
    ...
    trialeval.exceptions.InputDataError: seed must be a whole number >= 0; got -1
    """
    if rng is None or isinstance(rng, (np.random.Generator, np.random.BitGenerator, np.random.SeedSequence)):
        return np.random.default_rng(rng)
    if isinstance(rng, bool) or not isinstance(rng, (int, np.integer)) or rng < 0:
        raise InputDataError(f"{what} must be a whole number >= 0; got {rng!r}")
    return np.random.default_rng(int(rng))


def physical_memory() -> int | None:
    """Bytes of memory of this machine, or None where the system does not say (memory plans are skipped)."""
    try:
        size = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None
    return size if size > 0 else None


def read_table(
    path: str | os.PathLike[str],
    *,
    text_columns: Sequence[str] = ("person_id",),
    rename: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Read a table by extension and rename the user's columns onto the contract's.

    Parameters
    ----------
    path
        ``.csv``, ``.parquet``, ``.dta``, ``.sas7bdat`` or ``.xlsx``.
    text_columns
        Contract names of columns kept as text (ids must not lose leading zeros).
    rename
        ``{contract_name: user_name}`` from the config's ``[columns]`` table (its ``date_format`` is
        not a column and renames nothing).

    Raises
    ------
    InputDataError
        An unsupported file type, a missing or unreadable file, or a file with a header but no rows.

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "pop.csv"
    >>> _ = p.write_text("pnr,municipality\\n007,Aarhus\\n")
    >>> read_table(p, rename={"person_id": "pnr"})["person_id"].tolist()
    ['007']
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in READERS:
        raise InputDataError(
            f"{path}: unsupported file type '{suffix}'; expected one of {', '.join(READERS)}"
        )
    if not path.is_file():
        raise InputDataError(f"{path}: file not found")
    dialect = CsvDialect.of(rename)
    rename, _ = split_date_format(rename)
    user_text = [rename.get(c, c) for c in text_columns]
    try:
        if suffix == ".csv":
            df = pd.read_csv(path, dtype={c: str for c in user_text}, keep_default_na=True, **dialect.pandas())
        elif suffix in (".parquet", ".pq"):
            df = pd.read_parquet(path)
        elif suffix == ".dta":
            df = pd.read_stata(path)
        elif suffix == ".sas7bdat":
            # pyreadstat reads files written by SAS and by ReadStat-based tools (haven, Stat/Transfer-like
            # converters); pandas' own reader garbles the latter's column names
            import pyreadstat

            df, _ = pyreadstat.read_sas7bdat(str(path))
        else:
            df = pd.read_excel(path, dtype={c: str for c in user_text})
    except (ValueError, OSError, UnicodeDecodeError, ImportError) as exc:
        raise InputDataError(f"{path}: cannot be read as {suffix[1:]}: {exc}") from exc
    require_rows(len(df), str(path))
    inverse = {user: contract for contract, user in rename.items() if user in df.columns}
    df = df.rename(columns=inverse)
    for col in text_columns:
        if col in df.columns:
            df[col] = _as_text(df[col])
    return df


def _as_text(s: pd.Series) -> pd.Series:
    """Text columns as pandas' Arrow-backed ``str`` dtype (compact for millions of ids); numbers read
    from Stata/SAS become text without their ``.0``."""
    if pd.api.types.is_float_dtype(s) and s.dropna().eq(s.dropna().round()).all():
        s = s.astype("Int64")
    return s.astype("str")


#: The rule a number written with a decimal comma breaks, for messages.
DECIMAL_COMMA_RULE = "has a decimal comma, which is not read (use '.' as decimal separator)"


def decimal_comma(values: pd.Series) -> np.ndarray:
    """Rows holding a number written with a decimal comma (``37,5``), which is never read as 37.5.

    Examples
    --------
    >>> import pandas as pd
    >>> decimal_comma(pd.Series(["37,5", "37.5", "a,b", None])).tolist()
    [True, False, False, False]
    """
    if not (values.dtype == object or pd.api.types.is_string_dtype(values)):
        return np.zeros(len(values), dtype=bool)
    text = values.astype("str").str.strip()
    return np.asarray(text.str.fullmatch(r"[+-]?\d*,\d+").fillna(False), dtype=bool) & values.notna().to_numpy()


def require_rows(n_rows: int, source: str) -> None:
    """Raise when a file holds a header but no data rows (an export that went wrong, not an empty trial)."""
    if n_rows == 0:
        raise InputDataError(f"{source}: has a header but no rows")


def require_columns(df: pd.DataFrame, columns: Sequence[str], source: str) -> None:
    """Raise naming every contract column the table lacks."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        found = [str(c) for c in df.columns]
        hint = ("; the header looks separated by ';' — write the file with ',' as separator and '.' as "
                "decimal separator" if len(found) == 1 and ";" in found[0] else "")
        raise InputDataError(
            f"{source}: required column(s) {', '.join(repr(c) for c in missing)} missing; "
            f"found {', '.join(found)}{hint}"
        )


#: The rule for ids with blanks around them: ``"007 "`` and ``"007"`` must never quietly become one person.
PADDED_ID_RULE = "has leading or trailing spaces"


def padded_id_error(source: str, column: str, padded: np.ndarray | pd.Series, example: str) -> InputDataError:
    """The message for ids with leading or trailing whitespace: file, column, rule, rows and an example.

    Examples
    --------
    >>> str(padded_id_error("spells.csv", "person_id", [False, True], "007 "))[:67]
    "spells.csv: column 'person_id' has leading or trailing spaces in 1 "
    """
    error = row_error(source, column, PADDED_ID_RULE, padded)
    return InputDataError(f"{error} (e.g. {example!r}); ids must match exactly, so remove the spaces "
                          "in the file rather than have them guessed away")


def check_ids(df: pd.DataFrame, source: str) -> None:
    """``person_id`` present, non-empty, without surrounding whitespace and unique.

    Examples
    --------
    >>> import pandas as pd
    >>> check_ids(pd.DataFrame({"person_id": ["007", "008 "]}), "pop.csv")
    Traceback (most recent call last):
    ...
    trialeval.exceptions.InputDataError: pop.csv: column 'person_id' has leading or trailing spaces in 1 row (row 2) (e.g. '008 '); ids must match exactly, so remove the spaces in the file rather than have them guessed away
    """
    ids = df["person_id"]
    text = ids.astype(str)
    stripped = text.str.strip()
    empty = ids.isna() | (stripped == "")
    if empty.any():
        raise row_error(source, "person_id", "is empty", empty)
    padded = (text != stripped).to_numpy(dtype=bool)
    if padded.any():
        raise padded_id_error(source, "person_id", padded, text.iloc[int(np.argmax(padded))])
    dup = ids.duplicated(keep=False)
    if dup.any():
        raise row_error(source, "person_id", "must be unique; duplicates", dup)


def validate_population(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """Check the population contract; return it sorted by ``person_id``.

    Examples
    --------
    >>> import pandas as pd
    >>> pop = pd.DataFrame({"person_id": ["b", "a"], "municipality": ["X", "Y"]})
    >>> validate_population(pop, "pop.csv")["person_id"].tolist()
    ['a', 'b']
    """
    require_columns(df, ["person_id", "municipality"], source)
    check_ids(df, source)
    empty = df["municipality"].isna()
    if empty.any():
        raise row_error(source, "municipality", "is empty", empty)
    df = df.copy()
    df["municipality"] = df["municipality"].astype(str)
    return df.sort_values("person_id", kind="stable", ignore_index=True)



def read_population(path: str | os.PathLike[str], rename: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Read and validate a population file."""
    return validate_population(read_table(path, rename=rename), str(path))


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    An interrupted or failed write leaves whatever was at ``path`` untouched. A file that is replaced
    keeps its permissions (a ledger readable only by the project group stays so); a new file gets the
    permissions of an ordinary file (``0o666`` less the umask). A folder that cannot be written in, an
    output path that is a folder, or a path under a file raises :class:`InputDataError` naming it, before
    anything is written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.txt"
    >>> with atomic_write(p) as tmp:
    ...     _ = tmp.write_text("done")
    >>> p.read_text()
    'done'
    """
    path = Path(path)
    if path.is_dir():
        raise InputDataError(f"{path}: is a folder, not a file; nothing was written")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
    except OSError as exc:
        raise _unwritable(path, exc) from exc
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        try:
            mode = stat.S_IMODE(os.stat(path).st_mode) if path.is_file() else None
        except OSError:
            mode = None
        if mode is None:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask  # mkstemp makes 0600; outputs are ordinary files
        os.chmod(tmp_path, mode)
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _unwritable(path: Path, exc: OSError) -> InputDataError:
    """Why nothing can be written at ``path``: the folder, or the file in the way of it."""
    blocker = _nearest_existing(path.parent)
    if not blocker.is_dir():
        why = f"{blocker} is a file, not a folder"
    elif isinstance(exc, PermissionError):
        why = f"no permission to write in the folder {blocker}"
    else:
        why = f"cannot write in the folder {blocker} ({exc.strerror or exc})"
    return InputDataError(f"{path}: {why}; nothing was written")


def _nearest_existing(folder: Path) -> Path:
    """``folder`` or its nearest ancestor that exists (a folder, or a file standing in the way)."""
    folder = Path(os.path.abspath(folder))
    while not os.path.lexists(folder) and folder.parent != folder:
        folder = folder.parent
    return folder


def _dates_as_text(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = out[col].dt.strftime("%Y-%m-%d").astype(object).where(out[col].notna(), None)
    return out


def write_table(df: pd.DataFrame, path: str | os.PathLike[str], *, sheet_name: str = "table") -> Path:
    """Write a table by extension (CSV, Parquet, XLSX), atomically.

    CSV is UTF-8 with ``.`` decimals, ISO dates and ``\\n`` line ends, so equal tables give equal bytes.

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = write_table(pd.DataFrame({"a": [1.5]}), p)
    >>> p.read_text()
    'a\\n1.5\\n'
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in WRITERS:
        raise InputDataError(f"{path}: cannot write '{suffix}'; expected one of {', '.join(WRITERS)}")
    with atomic_write(path) as tmp:
        if suffix == ".csv":
            _dates_as_text(df).to_csv(tmp, index=False, lineterminator="\n", encoding="utf-8")
        elif suffix == ".parquet":
            df.to_parquet(tmp, index=False)
        else:
            _dates_as_text(df).to_excel(tmp, index=False, sheet_name=sheet_name[:31])
    return path


def write_text(text: str, path: str | os.PathLike[str]) -> Path:
    """Write a text file atomically (UTF-8, ``\\n`` line ends)."""
    path = Path(path)
    with atomic_write(path) as tmp:
        tmp.write_text(text, encoding="utf-8", newline="\n")
    return path


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------------
# Outputs never destroy inputs or a trial
# --------------------------------------------------------------------------------------------------

#: The columns that make a table a randomisation ledger.
LEDGER_KEY_COLUMNS = ("person_id", "arm", "visitation_date")
#: How the manifest beside a ledger is named: ``ledger.csv`` → ``ledger.manifest.jsonl``.
MANIFEST_SUFFIX = ".manifest.jsonl"

PathLike = str | os.PathLike[str]
Labelled = Mapping[str, PathLike | None] | Sequence[tuple[str, PathLike | None]]


def trial_file_kind(path: PathLike, columns: Mapping[str, str] | None = None) -> str | None:
    """What makes an existing file part of a trial, or None: a manifest, a ledger with its manifest
    beside it, or a table whose header has ``person_id``, ``arm`` and ``visitation_date``.

    Parameters
    ----------
    path
        Any path; a path that is not an existing file is not a trial file.
    columns
        ``{contract_name: user_name}`` from the config's ``[columns]``; the user's names count too.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "assignments.csv").write_text("person_id,arm,visitation_date\\n1,control,2016-03-01\\n")
    >>> trial_file_kind(d / "assignments.csv")
    'a randomisation ledger (it has the columns person_id, arm and visitation_date)'
    >>> trial_file_kind(d / "other.csv") is None
    True
    """
    path = Path(path)
    if not path.is_file():
        return None
    if path.name.endswith(MANIFEST_SUFFIX):
        return "a randomisation manifest"
    beside = path.with_name(path.stem + MANIFEST_SUFFIX)
    if beside.is_file():
        return f"a randomisation ledger (its manifest {beside.name} is beside it)"
    names = set(_header(path))
    columns = dict(columns or {})
    if all(c in names or columns.get(c) in names for c in LEDGER_KEY_COLUMNS):
        return "a randomisation ledger (it has the columns person_id, arm and visitation_date)"
    return None


def _header(path: Path) -> list[str]:
    """Column names of a CSV, Parquet or XLSX file, read without reading the rows; [] when unreadable."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            with open(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
                return [c.strip() for c in next(csv.reader([fh.readline()]), [])]
        if suffix in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            return list(pq.read_schema(path).names)
        if suffix == ".xlsx":
            import openpyxl

            book = openpyxl.load_workbook(path, read_only=True)
            try:
                first = next(book.worksheets[0].iter_rows(max_row=1, values_only=True), ())
            finally:
                book.close()
            return [str(c).strip() for c in first if c is not None]
    except Exception:  # noqa: BLE001 - a file that cannot be read as a table is not a ledger
        return []
    return []


def _labelled(items: Labelled) -> list[tuple[str, Path]]:
    pairs = items.items() if isinstance(items, Mapping) else items
    return [(label, Path(p)) for label, p in pairs if p is not None]


def _same_path(a: Path, b: Path) -> bool:
    """Whether two paths name one file: as resolved (``./x.csv``, ``x.csv``, symlinks) or as the same
    file on disk (hard links, case-insensitive file systems)."""
    if a.resolve() == b.resolve():
        return True
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def check_not_inputs(outputs: Labelled, inputs: Labelled) -> None:
    """Stop if a file about to be written is one of the command's inputs, however its path is spelled.

    :func:`check_outputs` does this and more; a command that appends to a file it also reads (``draw`` and
    its ledger) calls only this part.

    Examples
    --------
    >>> check_not_inputs({"--ledger": "pop.csv"}, {"--population": "./pop.csv"})
    Traceback (most recent call last):
    ...
    trialeval.exceptions.InputDataError: --ledger pop.csv: is the input --population (pop.csv); an output never replaces an input. Choose another name; nothing was written
    """
    ins = _labelled(inputs)
    for label, path in _labelled(outputs):
        for in_label, in_path in ins:
            if _same_path(path, in_path):
                raise InputDataError(f"{label} {path}: is the input {in_label} ({in_path}); an output never "
                                     "replaces an input. Choose another name; nothing was written")


def check_outputs(
    outputs: Labelled,
    inputs: Labelled = (),
    *,
    columns: Mapping[str, str] | None = None,
) -> None:
    """Stop before anything is written if an output would destroy an input or a trial, or cannot be written.

    Every command calls this with all the files it is about to write (side files included) before it
    writes the first. An output may not be one of the command's inputs, nor an existing ledger or
    manifest (an evaluation can never recreate its randomisation), nor a folder, nor the same file as
    another output; and its folder must be one that can be written in (or created).

    Parameters
    ----------
    outputs
        ``{label: path}`` or ``[(label, path), ...]``; the label names the option in messages, e.g.
        ``"--out"``. ``None`` paths are skipped.
    inputs
        The command's input files, labelled the same way.
    columns
        ``{contract_name: user_name}`` from the config's ``[columns]``, for recognising a ledger whose
        columns have the user's names.

    Raises
    ------
    InputDataError
        Naming the option, the file and the rule; nothing has been written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "effects.csv").write_text("outcome,week\\n")
    >>> check_outputs({"--out": d / "costs.csv"}, {"--effects": d / "effects.csv"})
    >>> check_outputs({"--out": d / "effects.csv"}, {"--effects": d / "effects.csv"})
    Traceback (most recent call last):
    ...
    trialeval.exceptions.InputDataError: --out ...effects.csv: is the input --effects (...effects.csv); an output never replaces an input. Choose another name; nothing was written
    """
    outs = _labelled(outputs)
    check_not_inputs(outs, inputs)
    seen: list[tuple[str, Path]] = []
    for label, path in outs:
        where = f"{label} {path}"
        for other_label, other in seen:
            if _same_path(path, other):
                raise InputDataError(f"{where}: is also the output {other_label}; two outputs cannot share "
                                     "one file. Choose another name; nothing was written")
        seen.append((label, path))
        if path.is_dir():
            raise InputDataError(f"{where}: is a folder, not a file. Give a file name; nothing was written")
        kind = trial_file_kind(path, columns)
        if kind is not None:
            raise InputDataError(f"{where}: is {kind}; an output never replaces a trial's ledger or "
                                 "manifest. Choose another name; nothing was written")
    checked: set[Path] = set()
    for label, path in outs:
        folder = _nearest_existing(path.parent)
        if folder in checked:
            continue
        checked.add(folder)
        problem = _folder_problem(folder)
        if problem is not None:
            raise InputDataError(f"{label} {path}: {problem}; nothing was written")


def _folder_problem(folder: Path) -> str | None:
    """Why no file can be created in ``folder`` (the nearest existing ancestor of an output), or None.

    ``os.access`` answers for permissions and read-only file systems; a file created and removed at once
    answers for the rest (root passes every permission check, but not ``/proc`` or a full quota).
    """
    if not folder.is_dir():
        return f"{folder} is a file, not a folder"
    if hasattr(os, "statvfs") and os.statvfs(folder).f_flag & os.ST_RDONLY:
        return f"the folder {folder} is on a read-only file system"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"no permission to write in the folder {folder}"
    try:
        fd, probe = tempfile.mkstemp(prefix=".trialeval-probe.", dir=folder)
    except OSError as exc:
        if isinstance(exc, PermissionError):
            return f"no permission to write in the folder {folder}"
        return f"cannot write in the folder {folder} ({exc.strerror or exc})"
    os.close(fd)
    os.unlink(probe)
    return None


# --------------------------------------------------------------------------------------------------
# The ledger contract lives in trialeval.ledger; its names stay importable from here.
# --------------------------------------------------------------------------------------------------

from trialeval.ledger import (  # noqa: E402  (trialeval.ledger builds on the readers above)
    _PANDAS_NA,
    _SLICE_ROWS,
    LEDGER_COLUMNS,
    LEDGER_TABLE_COLUMNS,
    _arrow_as_text,
    _arrow_bool,
    _arrow_dates,
    _arrow_table,
    _combined,
    _is_text_dictionary,
    _ledger_date_format,
    _text_dictionary,
    compact_ledger,
    read_ledger,
    read_ledger_table,
    validate_ledger,
)
