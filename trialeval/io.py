"""Reading and writing the plain files trialeval works on.

Inputs are chosen by extension: CSV, Parquet, Stata ``.dta``, SAS ``.sas7bdat`` (and XLSX).
Every writer goes through :func:`atomic_write`: the output appears complete or not at all.
Row numbers in messages count data rows from 1 (the header of a CSV is not a row).
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import hashlib
import os
import re
import stat
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from trialeval.exceptions import InputDataError

if TYPE_CHECKING:
    import pyarrow as pa

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


# --------------------------------------------------------------------------------------------------
# Dates: ISO YYYY-MM-DD or a declared format, never a guess
# --------------------------------------------------------------------------------------------------

#: Key of the config's ``[columns]`` table that declares the format of the date columns of input files;
#: it is not a column name and is never used to rename one.
DATE_FORMAT_KEY = "date_format"
#: A date as text: ISO ``YYYY-MM-DD``, optionally followed by a time of day (Stata and Excel write
#: ``2016-03-01 00:00:00``), which is ignored.
_ISO_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[ T][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?)?\Z")
_ISO_OPTION = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_date(value: Any, what: str) -> pd.Timestamp:
    """One date given by the user: ``YYYY-MM-DD`` text that is a calendar date, or a date object.

    Parameters
    ----------
    value
        Text ``YYYY-MM-DD`` (surrounding blanks ignored), or a ``datetime.date``, ``datetime.datetime``,
        ``numpy.datetime64`` or ``pandas.Timestamp`` (its time of day is dropped).
    what
        Where the date comes from, for the message: an option (``--date``) or a config key.

    Returns
    -------
    pandas.Timestamp
        Midnight of that day.

    Raises
    ------
    InputDataError
        Text in another form (``01-03-2016``, ``2016-3-1``, ``20160301``, ``now``), a day that does not
        exist (``2016-02-30``), a missing value or another type; the message names ``what``.

    Examples
    --------
    >>> parse_date("2016-03-01", "--date")
    Timestamp('2016-03-01 00:00:00')
    >>> parse_date("01-03-2016", "--date")
    Traceback (most recent call last):
    ...
    trialeval.exceptions.InputDataError: --date: '01-03-2016' is not a date YYYY-MM-DD
    """
    if isinstance(value, str):
        text = value.strip()
        if not _ISO_OPTION.fullmatch(text):
            raise InputDataError(f"{what}: {value!r} is not a date YYYY-MM-DD")
        try:
            day = datetime.date.fromisoformat(text)
        except ValueError:
            raise InputDataError(f"{what}: {value!r} is not a calendar date (YYYY-MM-DD)") from None
    elif isinstance(value, (datetime.date, np.datetime64)) and not pd.isna(value):
        day = pd.Timestamp(value).date() if isinstance(value, np.datetime64) else value
        if isinstance(day, datetime.datetime):
            day = day.date()
    elif value is None or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        raise InputDataError(f"{what}: a date YYYY-MM-DD is missing")
    else:
        raise InputDataError(f"{what}: {value!r} is not a date YYYY-MM-DD")
    try:
        return pd.Timestamp(day)
    except (ValueError, OverflowError):
        raise InputDataError(f"{what}: {value!r} is outside the dates this tool handles") from None


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


def check_date_format(fmt: Any, what: str) -> str:
    """Check a declared date format: a strftime pattern with a 4-digit year, a month and a day.

    Examples
    --------
    >>> check_date_format("%d-%m-%Y", "[columns] date_format")
    '%d-%m-%Y'
    >>> check_date_format("%d/%m/%y", "[columns] date_format")
    Traceback (most recent call last):
    ...
    trialeval.exceptions.InputDataError: [columns] date_format: '%d/%m/%y' needs a 4-digit year %Y, a month (%m, %b or %B) and a day %d
    """
    if not isinstance(fmt, str):
        raise InputDataError(f"{what}: must be a strftime pattern such as \"%d-%m-%Y\"; got {fmt!r}")
    fields = set(re.findall(r"%(.)", fmt.replace("%%", "")))
    if not ("Y" in fields and "d" in fields and fields & {"m", "b", "B"}):
        raise InputDataError(f"{what}: {fmt!r} needs a 4-digit year %Y, a month (%m, %b or %B) and a day %d")
    allowed = {"Y", "m", "b", "B", "d", "a", "A", "H", "M", "S", "f", "p", "I"}
    unknown = sorted(fields - allowed)
    if unknown:
        raise InputDataError(f"{what}: {fmt!r} holds field(s) {', '.join('%' + f for f in unknown)} "
                             "that a date column cannot be read with")
    probe = datetime.datetime(2016, 3, 1)
    try:
        back = datetime.datetime.strptime(probe.strftime(fmt), fmt)
    except ValueError as exc:
        raise InputDataError(f"{what}: {fmt!r} is not a usable strftime pattern: {exc}") from None
    if back.date() != probe.date():
        raise InputDataError(f"{what}: {fmt!r} does not read back the dates it writes")
    return fmt


def split_date_format(rename: Mapping[str, str] | None) -> tuple[dict[str, str], str | None]:
    """Split the config's ``[columns]`` table into the column renames and the declared date format.

    Examples
    --------
    >>> split_date_format({"person_id": "pnr", "date_format": "%d-%m-%Y"})
    ({'person_id': 'pnr'}, '%d-%m-%Y')
    """
    rename = dict(rename or {})
    fmt = rename.pop(DATE_FORMAT_KEY, None)
    if fmt is not None:
        check_date_format(fmt, f"[columns] {DATE_FORMAT_KEY}")
    return rename, fmt


def parse_date_column(values: pd.Series, date_format: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A date column as int64 day numbers since 1970-01-01, with masks of missing and unreadable values.

    Dates and timestamps (Parquet, Stata) are taken as they are. Text must be ISO ``YYYY-MM-DD``
    (a time of day after it is ignored) and a calendar day, or, when ``date_format`` is given, exactly
    that strftime pattern (and then ISO text is unreadable). Days are counted without nanoseconds, so
    open ends such as ``9999-12-31`` do not overflow. Missing and unreadable values get day 0. Python
    date objects in a column of objects are read as their ISO text. Each distinct text is parsed once.

    Examples
    --------
    >>> import pandas as pd
    >>> days, missing, bad = parse_date_column(pd.Series(["2016-03-01", "2016-02-30", None, "01-03-2016"]))
    >>> days[0], missing.tolist(), bad.tolist()
    (np.int64(16861), [False, False, True, False], [False, True, False, True])
    >>> parse_date_column(pd.Series(["01-03-2016"]), "%d-%m-%Y")[0].tolist()
    [16861]
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        if getattr(values.dt, "tz", None) is not None:
            values = values.dt.tz_localize(None)
        missing = values.isna().to_numpy()
        days = np.asarray(values.to_numpy()).astype("datetime64[D]").astype(np.int64)
        days[missing] = 0
        return days, missing, np.zeros(len(values), dtype=bool)
    import pyarrow as pa
    import pyarrow.compute as pc

    # Each distinct text is parsed once: a register holds few distinct dates however many rows it has.
    arr = pa.array(values.astype("str"), from_pandas=True)      # numbers (20160301) become their text
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    encoded = pc.dictionary_encode(pc.utf8_trim_whitespace(arr.cast(pa.large_string())))
    distinct = encoded.dictionary.to_numpy(zero_copy_only=False)
    distinct_days = np.zeros(len(distinct) + 1, dtype=np.int64)       # the last entry: missing
    distinct_ok = np.zeros(len(distinct) + 1, dtype=bool)
    distinct_blank = np.ones(len(distinct) + 1, dtype=bool)
    epoch = datetime.date(1970, 1, 1)
    for i, text in enumerate(distinct):
        distinct_blank[i] = text == ""
        try:
            if date_format is None:
                if not _ISO_TEXT.match(text):
                    continue
                day = datetime.date.fromisoformat(text[:10])
            else:
                day = datetime.datetime.strptime(text, date_format).date()
        except ValueError:
            continue
        distinct_days[i], distinct_ok[i] = (day - epoch).days, True
    index = encoded.indices.fill_null(len(distinct)).to_numpy(zero_copy_only=False)
    missing = distinct_blank[index]
    bad = ~missing & ~distinct_ok[index]
    days = np.where(distinct_ok[index], distinct_days[index], 0)
    return days, missing, bad


def date_rule(date_format: str | None) -> str:
    """The rule a date column breaks, for messages."""
    if date_format is None:
        return "is not a date YYYY-MM-DD"
    return f"is not a date in the declared format {date_format!r} ([columns] {DATE_FORMAT_KEY})"


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
    rename, _ = split_date_format(rename)
    user_text = [rename.get(c, c) for c in text_columns]
    try:
        if suffix == ".csv":
            df = pd.read_csv(path, dtype={c: str for c in user_text}, keep_default_na=True)
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


LEDGER_COLUMNS = (
    "person_id", "arm", "visitation_date", "municipality", "stratum", "wave",
    "followup_end", "excluded", "exclusion_reason", "exclusion_date",
)


def validate_ledger(df: pd.DataFrame, source: str, *, date_format: str | None = None) -> pd.DataFrame:
    """Check the ledger contract and normalise types.

    Dates become ``datetime64``; ``excluded`` a bool; optional columns are added empty. Dates given as
    text must be ISO ``YYYY-MM-DD``, or follow ``date_format`` when it is given.

    Examples
    --------
    >>> import pandas as pd
    >>> led = pd.DataFrame({"person_id": ["1"], "arm": ["treatment"], "visitation_date": ["2016-03-01"]})
    >>> validate_ledger(led, "ledger.csv")["visitation_date"].dt.day.tolist()
    [1]
    """
    require_columns(df, ["person_id", "arm", "visitation_date"], source)
    # Every rule lives in compact_ledger (also used for ledgers of millions of persons); here the checked
    # columns come back as pandas types and the rest of the frame (covariates) is kept as it is.
    checked = [c for c in LEDGER_COLUMNS if c in df.columns and c != "exclusion_reason"]
    compact = compact_ledger(_arrow_table(df[checked]), source, date_format=date_format)
    df = df.copy()
    # by position: the caller's frame may have any index (e.g. a filtered ledger)
    df["arm"] = pd.Series(np.asarray(compact["arm"].to_pandas(), dtype=object), index=df.index).astype("str")
    for col in ("visitation_date", "followup_end", "exclusion_date"):
        values = (compact[col].to_pandas(date_as_object=False) if col in compact.column_names
                  else pd.Series(pd.NaT, index=range(len(df))))
        df[col] = pd.Series(np.asarray(values, dtype="datetime64[ns]"), index=df.index)
    df["excluded"] = np.asarray(compact["excluded"].to_numpy(zero_copy_only=False), dtype=bool)
    if "exclusion_reason" in df.columns:
        df["exclusion_reason"] = df["exclusion_reason"].astype("str").fillna("")
    else:
        df["exclusion_reason"] = ""
    if "wave" in compact.column_names:
        df["wave"] = compact["wave"].to_numpy().astype(np.int64)
    for col in ("municipality", "stratum"):
        if col in df.columns:
            df[col] = df[col].astype("str").fillna("")
    return df


def _arrow_table(df: pd.DataFrame) -> "pa.Table":
    """Columns as Arrow arrays; a column of mixed Python types (e.g. numbers and text) goes as text."""
    import pyarrow as pa

    arrays = {}
    for col in df.columns:
        try:
            arrays[col] = pa.array(df[col], from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            arrays[col] = pa.array(df[col].astype("str"), from_pandas=True)
    return pa.table(arrays)


def read_population(path: str | os.PathLike[str], rename: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Read and validate a population file."""
    return validate_population(read_table(path, rename=rename), str(path))


def read_ledger(path: str | os.PathLike[str], rename: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Read and validate an assignments ledger.

    A ``date_format`` in ``rename`` (the config's ``[columns]``) applies to its date columns, except in a
    ledger written by ``draw`` (one with a manifest beside it), whose dates are always ISO.
    """
    df = read_table(path, text_columns=("person_id", "municipality", "stratum", "exclusion_reason"),
                    rename=rename)
    return validate_ledger(df, str(path), date_format=_ledger_date_format(path, rename))


def _ledger_date_format(path: str | os.PathLike[str], rename: Mapping[str, str] | None) -> str | None:
    """The declared date format for a ledger file; None (ISO) for a ledger that ``draw`` wrote."""
    _, fmt = split_date_format(rename)
    path = Path(path)
    if fmt is not None and path.with_name(path.stem + ".manifest.jsonl").is_file():
        return None
    return fmt


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
# The ledger as compact Arrow columns (for the panel of millions of persons)
# --------------------------------------------------------------------------------------------------

#: Ledger columns :func:`read_ledger_table` reads by default: what the panel needs, and the columns with
#: a row rule in :func:`validate_ledger` (``exclusion_reason`` has none and is not read).
LEDGER_TABLE_COLUMNS = (
    "person_id", "arm", "visitation_date", "followup_end", "excluded", "municipality", "stratum",
    "wave", "exclusion_date",
)
#: Rows converted to Python objects at a time where a rule needs pandas (dates given as text).
_SLICE_ROWS = 1 << 20
#: What pandas' CSV reader takes as missing by default (``keep_default_na=True``).
_PANDAS_NA = ("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
              "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null")


def read_ledger_table(
    path: str | os.PathLike[str],
    rename: Mapping[str, str] | None = None,
    *,
    columns: Sequence[str] = LEDGER_TABLE_COLUMNS,
) -> "pa.Table":
    """Read and validate an assignments ledger as compact Arrow columns, reading only ``columns``.

    The rules and messages are those of :func:`read_ledger` (file, column, rule, up to ten rows) for the
    columns read, but no column becomes Python objects: a ledger of millions of persons costs tens of
    bytes a person rather than hundreds. CSV and Parquet are read with pyarrow, other formats with
    :func:`read_ledger`.

    Parameters
    ----------
    path
        The ledger file.
    rename
        ``{contract_name: user_name}`` from the config's ``[columns]`` table.
    columns
        Contract columns to read when present (``person_id``, ``arm`` and ``visitation_date`` always).

    Returns
    -------
    pyarrow.Table
        In the order of the contract: ``person_id`` (large_string), ``arm`` (dictionary of int8 codes into
        ``("treatment", "control")``), dates as ``date32`` (missing as null), ``excluded`` (bool, also
        when absent), ``wave`` (int64), ``municipality`` and ``stratum`` (dictionary-encoded text, missing
        as ``""``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "ledger.csv"
    >>> _ = p.write_text("person_id,arm,visitation_date,municipality,note\\n007,control,2016-03-01,A,x\\n")
    >>> t = read_ledger_table(p)
    >>> t.column_names, t["person_id"].to_pylist(), t["arm"].to_pylist()
    (['person_id', 'arm', 'visitation_date', 'municipality', 'excluded'], ['007'], ['control'])
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    path = Path(path)
    suffix = path.suffix.lower()
    source = str(path)
    wanted = list(dict.fromkeys(["person_id", "arm", "visitation_date", *columns]))
    if suffix not in (".csv", ".parquet", ".pq") or not path.is_file():
        df = read_ledger(path, rename=rename)     # its messages: file type, file not found, every rule
        return compact_ledger(pa.Table.from_pandas(df[[c for c in wanted if c in df.columns]],
                                                   preserve_index=False), source)
    date_format = _ledger_date_format(path, rename)
    rename, _ = split_date_format(rename)
    inverse = {user: contract for contract, user in rename.items()}
    try:
        if suffix == ".csv":
            with open(path, "rb") as fh:
                head = pacsv.open_csv(fh, read_options=pacsv.ReadOptions(block_size=1 << 16))
                names = head.schema.names
        else:
            names = pq.read_schema(path).names
        contract = [inverse.get(c, c) for c in names]
        require_columns(pd.DataFrame(columns=contract), ["person_id", "arm", "visitation_date"], source)
        read = [user for user, c in zip(names, contract) if c in wanted]
        if suffix == ".csv":
            # As read_table reads CSV: missing values as pandas sees them; text and dates as text.
            text = {rename.get(c, c): pa.string() for c in wanted if c != "wave"}
            table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
                include_columns=read, column_types={k: v for k, v in text.items() if k in read},
                null_values=list(_PANDAS_NA), strings_can_be_null=True, quoted_strings_can_be_null=True))
        else:
            # Text that repeats (arm, municipality, stratum) is read dictionary-encoded.
            repeats = [rename.get(c, c) for c in ("arm", "municipality", "stratum")]
            table = pq.read_table(path, columns=read, read_dictionary=[c for c in read if c in repeats])
            table = table.unify_dictionaries()
    except InputDataError:
        raise                                       # a missing column, already named
    except (ValueError, OSError, UnicodeDecodeError, pa.ArrowException) as exc:
        raise InputDataError(f"{path}: cannot be read as {suffix[1:]}: {exc}") from exc
    require_rows(table.num_rows, source)
    table = table.rename_columns([inverse.get(c, c) for c in table.column_names])
    return compact_ledger(table, source, date_format=date_format)


def compact_ledger(table: "pa.Table", source: str, *, date_format: str | None = None) -> "pa.Table":
    """Check the ledger contract on an Arrow table and make its columns compact.

    The rules, their order and their messages are those of :func:`validate_ledger`; see
    :func:`read_ledger_table` for what is returned. Columns other than the contract's are dropped.

    Examples
    --------
    >>> import pyarrow as pa
    >>> t = pa.table({"person_id": ["1"], "arm": ["treatment"], "visitation_date": ["2016-03-01"]})
    >>> compact_ledger(t, "ledger.csv")["visitation_date"].to_pylist()
    [datetime.date(2016, 3, 1)]
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    names = table.column_names
    require_columns(pd.DataFrame(columns=names), ["person_id", "arm", "visitation_date"], source)
    out: dict[str, pa.Array] = {}

    ids = _arrow_as_text(table["person_id"], ids=True)
    empty = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(ids), ""), True)
    if pc.any(empty).as_py():
        raise row_error(source, "person_id", "is empty", empty.to_numpy(zero_copy_only=False))
    del empty
    padded = pc.not_equal(pc.utf8_trim_whitespace(ids), ids)
    if pc.any(padded).as_py():
        mask = padded.to_numpy(zero_copy_only=False)
        raise padded_id_error(source, "person_id", mask, ids[int(np.argmax(mask))].as_py())
    del padded
    # Duplicates by sorting (a hash table of millions of strings costs several times more memory).
    ordered = ids.take(pc.sort_indices(ids))
    if len(ids) > 1 and pc.any(pc.equal(ordered.slice(1), ordered.slice(0, len(ids) - 1))).as_py():
        dup = pd.Series(ids.to_numpy(zero_copy_only=False)).duplicated(keep=False)
        raise row_error(source, "person_id", "must be unique; duplicates", dup)
    del ordered
    out["person_id"] = ids

    arm = _combined(table["arm"])
    arms = pa.array(ARMS, type=pa.large_string())
    if _is_text_dictionary(arm.type):
        codes = pc.index_in(arm.dictionary.cast(pa.large_string()), value_set=arms).take(arm.indices)
    else:
        codes = pc.index_in(_arrow_as_text(arm), value_set=arms)
    bad = pc.is_null(codes)
    if pc.any(bad).as_py():
        raise row_error(source, "arm", "must be 'treatment' or 'control'", bad.to_numpy(zero_copy_only=False))
    out["arm"] = pa.DictionaryArray.from_arrays(codes.cast(pa.int8()), pa.array(ARMS))

    out["visitation_date"] = _arrow_dates(table["visitation_date"], "visitation_date", source, required=True,
                                          date_format=date_format)
    for col in ("followup_end", "exclusion_date"):
        if col in names:
            out[col] = _arrow_dates(table[col], col, source, required=False, date_format=date_format)
    out["excluded"] = (_arrow_bool(table["excluded"], source) if "excluded" in names
                       else pa.array(np.zeros(table.num_rows, dtype=bool)))
    if "wave" in names:
        wave = table["wave"].combine_chunks() if table.num_rows else pa.array([], table["wave"].type)
        if wave.null_count or not (pa.types.is_integer(wave.type) or pa.types.is_floating(wave.type)
                                   or pa.types.is_boolean(wave.type)):
            # Text such as "1" (a ledger read as text) is a whole number; anything else is blamed.
            number = pd.to_numeric(pd.Series(wave.to_numpy(zero_copy_only=False)), errors="coerce")
            bad = number.isna() | (number != number.round())
            if bad.any():
                raise row_error(source, "wave", "must be a whole number", bad)
            wave = pa.array(number.to_numpy(dtype=np.int64))
        out["wave"] = pa.array(wave.to_numpy(zero_copy_only=False).astype(np.int64))
    for col in ("municipality", "stratum"):
        if col in names:
            out[col] = _text_dictionary(_combined(table[col]))
    order = [c for c in LEDGER_COLUMNS if c in out]
    return pa.table({c: out[c] for c in order})


def _combined(col: "pa.ChunkedArray | pa.Array") -> "pa.Array":
    import pyarrow as pa

    if isinstance(col, pa.ChunkedArray):
        return col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    return col


def _is_text_dictionary(typ: "pa.DataType") -> bool:
    import pyarrow as pa

    return pa.types.is_dictionary(typ) and (pa.types.is_string(typ.value_type)
                                            or pa.types.is_large_string(typ.value_type))


def _text_dictionary(col: "pa.Array") -> "pa.DictionaryArray":
    """Text with missing values as ``""`` (as :func:`validate_ledger` makes them), dictionary-encoded
    with int32 codes; a column that is already dictionary-encoded text keeps its codes."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not _is_text_dictionary(col.type):
        return pc.dictionary_encode(pc.fill_null(_arrow_as_text(col), ""))
    values = col.dictionary.cast(pa.large_string())
    indices = col.indices.cast(pa.int32())
    if col.null_count or values.null_count:
        if values.null_count:
            indices = pc.if_else(pc.is_null(values).take(indices), pa.scalar(None, pa.int32()), indices)
        blank = pc.index(values, "").as_py()
        if blank < 0:
            blank = len(values)
            values = pa.concat_arrays([values, pa.array([""], pa.large_string())])
        indices = pc.fill_null(indices, blank)
    if pc.count_distinct(values).as_py() < len(values):       # e.g. "" twice: encode afresh
        return pc.dictionary_encode(values.take(indices))
    return pa.DictionaryArray.from_arrays(indices, values)


def _arrow_as_text(col: "pa.ChunkedArray | pa.Array", *, ids: bool = False) -> "pa.Array":
    """A column as one large_string array, as :func:`read_table` / :func:`validate_ledger` make text:
    text stays as it is; other types go through pandas (numbers lose a spurious ``.0``)."""
    import pyarrow as pa

    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    typ = col.type
    if pa.types.is_dictionary(typ) and (pa.types.is_string(typ.value_type)
                                        or pa.types.is_large_string(typ.value_type)):
        return col.cast(pa.large_string())
    if pa.types.is_string(typ) or pa.types.is_large_string(typ) or pa.types.is_string_view(typ):
        return col.cast(pa.large_string())
    if pa.types.is_null(typ):
        return pa.nulls(len(col), pa.large_string())
    s = pd.Series(col.to_pandas())
    text = _as_text(s) if ids else s.astype("str")
    arr = pa.array(text, from_pandas=True)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr.cast(pa.large_string())


def _arrow_dates(col: "pa.ChunkedArray", column: str, source: str, *, required: bool,
                 date_format: str | None = None) -> "pa.Array":
    """:func:`compact_ledger`'s date rule (that of :func:`parse_date_column`): text is ISO ``YYYY-MM-DD``
    and a calendar day (a time of day after it is ignored, as Stata and Excel write
    ``2016-03-01 00:00:00``), or follows ``date_format``; returned as ``date32`` (missing as null).

    Timestamps and dates are converted in Arrow; text is parsed a slice of rows at a time, so that only
    one slice is ever held as Python objects.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    typ = col.type
    if pa.types.is_timestamp(typ):
        if typ.tz is not None:
            col = pc.local_timestamp(col)
        raw = pc.fill_null(col.cast(pa.int64()), 0).to_numpy()
        per_day = {"s": 86_400, "ms": 86_400_000, "us": 86_400_000_000, "ns": 86_400_000_000_000}[typ.unit]
        days = np.floor_divide(raw, per_day)
        dates = pa.array(days.astype(np.int32), type=pa.int32(), mask=col.is_null().to_numpy(
            zero_copy_only=False)).cast(pa.date32())
    elif pa.types.is_date(typ):
        dates = col.cast(pa.date32())
    else:
        parts, bad_parts = [], []
        for start in range(0, max(len(col), 1), _SLICE_ROWS):
            raw = pd.Series(col.slice(start, _SLICE_ROWS).to_pandas())
            day, missing, bad = parse_date_column(raw, date_format)
            bad_parts.append(bad)
            parts.append(pa.array(day.astype(np.int32), type=pa.int32(), mask=missing | bad).cast(pa.date32()))
        bad = np.concatenate(bad_parts)
        if bad.any():
            raise row_error(source, column, date_rule(date_format), bad)
        dates = pa.concat_arrays(parts)
    if required and dates.null_count:
        raise row_error(source, column, "is empty", dates.is_null().to_numpy(zero_copy_only=False))
    return dates


def _arrow_bool(col: "pa.ChunkedArray", source: str) -> "pa.Array":
    """``excluded`` as people write booleans: true/false, 1/0, yes/no (any case); empty = False."""
    import pyarrow as pa
    import pyarrow.compute as pc

    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if pa.types.is_boolean(col.type) and not col.null_count:
        return col
    text = pc.utf8_lower(pc.utf8_trim_whitespace(pc.fill_null(_arrow_as_text(col), "")))
    truthy = pc.is_in(text, value_set=pa.array(["true", "1", "yes", "1.0"], pa.large_string()))
    falsy = pc.is_in(text, value_set=pa.array(["false", "0", "no", "0.0", ""], pa.large_string()))
    bad = pc.invert(pc.or_(truthy, falsy))
    if pc.any(bad).as_py():
        raise row_error(source, "excluded", "is not a boolean (true/false)", bad.to_numpy(zero_copy_only=False))
    return truthy
