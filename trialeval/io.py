"""Reading and writing the plain files trialeval works on (SPEC §4, §9, §11).

Inputs are chosen by extension: CSV, Parquet, Stata ``.dta``, SAS ``.sas7bdat`` (and XLSX).
Every writer goes through :func:`atomic_write`: the output appears complete or not at all.
Row numbers in messages count data rows from 1 (the header of a CSV is not a row).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

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
        ``{contract_name: user_name}`` from the config's ``[columns]`` table.

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
    rename = dict(rename or {})
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


def require_columns(df: pd.DataFrame, columns: Sequence[str], source: str) -> None:
    """Raise naming every contract column the table lacks."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputDataError(
            f"{source}: required column(s) {', '.join(repr(c) for c in missing)} missing; "
            f"found {', '.join(map(str, df.columns))}"
        )


def check_ids(df: pd.DataFrame, source: str) -> None:
    """``person_id`` present, non-empty and unique."""
    ids = df["person_id"]
    empty = ids.isna() | (ids.astype(str).str.strip() == "")
    if empty.any():
        raise row_error(source, "person_id", "is empty", empty)
    dup = ids.duplicated(keep=False)
    if dup.any():
        raise row_error(source, "person_id", "must be unique; duplicates", dup)


def parse_dates(df: pd.DataFrame, column: str, source: str, *, required: bool) -> pd.Series:
    """Parse an ISO date column; unparseable values are an error naming the rows."""
    raw = df[column]
    if pd.api.types.is_datetime64_any_dtype(raw):
        parsed = raw.dt.tz_localize(None) if getattr(raw.dt, "tz", None) else raw
    else:
        text = raw.astype("str").str.strip().str.slice(0, 10)  # "2016-03-01 00:00:00" from Stata/Excel
        text = text.where(text.notna() & (text != ""))
        parsed = pd.to_datetime(text, format="%Y-%m-%d", errors="coerce")
        bad = text.notna() & parsed.isna()
        if bad.any():
            raise row_error(source, column, "is not a date YYYY-MM-DD", bad)
    if required and parsed.isna().any():
        raise row_error(source, column, "is empty", parsed.isna())
    return parsed.astype("datetime64[ns]").dt.normalize()


def parse_bool(s: pd.Series, source: str, column: str) -> pd.Series:
    """Booleans as written by people: true/false, 1/0, yes/no (any case); empty = False."""
    if pd.api.types.is_bool_dtype(s):
        return s.astype(bool)
    truth = {"true": True, "1": True, "yes": True, "1.0": True,
             "false": False, "0": False, "no": False, "0.0": False, "": False}
    out = s.astype("str").fillna("").str.strip().str.lower().map(truth)
    if out.isna().any():
        raise row_error(source, column, "is not a boolean (true/false)", out.isna())
    return out.astype(bool)


def validate_population(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """Check the population contract (SPEC §4.1); return it sorted by ``person_id``.

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


def validate_ledger(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """Check the ledger contract (SPEC §4.2) and normalise types.

    Dates become ``datetime64``; ``excluded`` a bool; optional columns are added empty.

    Examples
    --------
    >>> import pandas as pd
    >>> led = pd.DataFrame({"person_id": ["1"], "arm": ["treatment"], "visitation_date": ["2016-03-01"]})
    >>> validate_ledger(led, "ledger.csv")["visitation_date"].dt.day.tolist()
    [1]
    """
    require_columns(df, ["person_id", "arm", "visitation_date"], source)
    check_ids(df, source)
    df = df.copy()
    bad_arm = ~df["arm"].isin(ARMS)
    if bad_arm.any():
        raise row_error(source, "arm", "must be 'treatment' or 'control'", bad_arm)
    df["arm"] = df["arm"].astype(str)
    df["visitation_date"] = parse_dates(df, "visitation_date", source, required=True)
    for col in ("followup_end", "exclusion_date"):
        if col in df.columns:
            df[col] = parse_dates(df, col, source, required=False)
        else:
            df[col] = pd.Series(pd.NaT, index=df.index, dtype="datetime64[ns]")
    df["excluded"] = parse_bool(df["excluded"], source, "excluded") if "excluded" in df else False
    if "exclusion_reason" in df.columns:
        df["exclusion_reason"] = df["exclusion_reason"].astype("str").fillna("")
    else:
        df["exclusion_reason"] = ""
    if "wave" in df.columns:
        if df["wave"].isna().any() or not pd.api.types.is_numeric_dtype(df["wave"]):
            bad = pd.to_numeric(df["wave"], errors="coerce").isna()
            raise row_error(source, "wave", "must be a whole number", bad)
        df["wave"] = df["wave"].astype(np.int64)
    for col in ("municipality", "stratum"):
        if col in df.columns:
            df[col] = df[col].astype("str").fillna("")
    return df


def read_population(path: str | os.PathLike[str], rename: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Read and validate a population file."""
    return validate_population(read_table(path, rename=rename), str(path))


def read_ledger(path: str | os.PathLike[str], rename: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Read and validate an assignments ledger."""
    df = read_table(path, text_columns=("person_id", "municipality", "stratum", "exclusion_reason"),
                    rename=rename)
    return validate_ledger(df, str(path))


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    An interrupted or failed write leaves whatever was at ``path`` untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes 0600; outputs are ordinary files
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


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
