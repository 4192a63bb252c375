"""Dates in input files: ISO ``YYYY-MM-DD`` or a declared format, never a guess.

The names are also importable from :mod:`trialeval.io`.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from trialeval.exceptions import InputDataError

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
    for key in CSV_KEYS:              # the files' CSV dialect, not a column (see CsvDialect)
        rename.pop(key, None)
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


#: Keys of ``[columns]`` that declare the CSV dialect of your files (never guessed).
CSV_KEYS = ("csv_delimiter", "csv_decimal", "csv_encoding")


@dataclass(frozen=True)
class CsvDialect:
    """How your CSV files are written: the delimiter, the decimal mark and the encoding, as ``[columns]``
    declares them (``csv_delimiter = ";"``, ``csv_decimal = ","``, ``csv_encoding = "latin-1"`` for a
    Danish spreadsheet's export). The default is a comma, a point and UTF-8.

    Examples
    --------
    >>> CsvDialect.of({"person_id": "cpr", "csv_delimiter": ";", "csv_decimal": ","}).pandas()
    {'sep': ';', 'decimal': ',', 'encoding': 'utf-8-sig'}
    """

    delimiter: str = ","
    decimal: str = "."
    encoding: str = "utf-8"

    @classmethod
    def of(cls, columns: Mapping[str, str] | None, where: str = "[columns]") -> CsvDialect:
        """The dialect a ``[columns]`` table declares; an :class:`InputDataError` names a bad key."""
        import codecs

        table = dict(columns or {})
        delimiter = table.get("csv_delimiter", ",")
        decimal = table.get("csv_decimal", ".")
        encoding = table.get("csv_encoding", "utf-8")
        if delimiter not in (",", ";", "\t", "|"):
            raise InputDataError(f"{where} csv_delimiter must be one of ',', ';', '\\t' or '|'; got {delimiter!r}")
        if decimal not in (".", ","):
            raise InputDataError(f"{where} csv_decimal must be '.' or ','; got {decimal!r}")
        if decimal == delimiter:
            raise InputDataError(f"{where} csv_decimal and csv_delimiter cannot both be {decimal!r}")
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise InputDataError(f"{where} csv_encoding {encoding!r} is not an encoding "
                                 "(e.g. \"utf-8\", \"latin-1\", \"cp1252\")") from None
        return cls(delimiter, decimal, encoding)

    def pandas(self) -> dict[str, str]:
        """Keyword arguments of :func:`pandas.read_csv`."""
        utf8 = self.encoding.lower().replace("_", "-") in ("utf-8", "utf8")
        return {"sep": self.delimiter, "decimal": self.decimal, "encoding": "utf-8-sig" if utf8 else self.encoding}

    def arrow(self, block_size: int | None = None) -> tuple[Any, Any]:
        """pyarrow's ``ReadOptions`` and ``ParseOptions`` for these files."""
        import pyarrow.csv as pacsv

        read = pacsv.ReadOptions(encoding=self.encoding, **({"block_size": block_size} if block_size else {}))
        return read, pacsv.ParseOptions(delimiter=self.delimiter)
