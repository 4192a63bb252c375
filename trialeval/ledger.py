"""The ledger contract: the assignments ledger read, checked and normalised.

:func:`read_ledger` and :func:`validate_ledger` give a pandas frame; :func:`read_ledger_table` and
:func:`compact_ledger` give compact Arrow columns for ledgers of millions of persons. Both paths apply the
same rules with the same messages (file, column, rule, up to ten rows). The names are also importable from
:mod:`trialeval.io`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from trialeval.design import Design
from trialeval.exceptions import InputDataError
from trialeval.io import (
    _as_text,
    date_rule,
    padded_id_error,
    parse_date_column,
    read_table,
    require_columns,
    require_rows,
    row_error,
    CsvDialect,
    split_date_format,
)

if TYPE_CHECKING:
    import pyarrow as pa


LEDGER_COLUMNS = (
    "person_id", "arm", "visitation_date", "municipality", "stratum", "wave",
    "followup_end", "excluded", "exclusion_reason", "exclusion_date", "weight",
)


def validate_ledger(df: pd.DataFrame, source: str, *, date_format: str | None = None,
                    design: Design | None = None) -> pd.DataFrame:
    """Check the ledger contract and normalise types.

    Dates become ``datetime64``; ``excluded`` a bool; optional columns are added empty; an optional
    ``weight`` becomes float64 (finite, ≥ 0). Dates given as text must be ISO ``YYYY-MM-DD``, or follow
    ``date_format`` when it is given. ``arm`` holds the groups of ``design`` (without one,
    ``treatment`` and ``control``).

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
    compact = compact_ledger(_arrow_table(df[checked]), source, date_format=date_format, design=design)
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
    if "weight" in compact.column_names:
        df["weight"] = compact["weight"].to_numpy().astype(np.float64)
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

def read_ledger(path: str | os.PathLike[str], rename: Mapping[str, str] | None = None, *,
                design: Design | None = None) -> pd.DataFrame:
    """Read and validate an assignments ledger.

    A ``date_format`` in ``rename`` (the config's ``[columns]``) applies to its date columns, except in a
    ledger written by ``draw`` (one with a manifest beside it), whose dates are always ISO. ``arm``
    holds the groups of ``design`` (without one, ``treatment`` and ``control``).
    """
    df = read_table(path, text_columns=("person_id", "arm", "municipality", "stratum", "exclusion_reason"),
                    rename=rename)
    return validate_ledger(df, str(path), date_format=_ledger_date_format(path, rename), design=design)


def _ledger_date_format(path: str | os.PathLike[str], rename: Mapping[str, str] | None) -> str | None:
    """The declared date format for a ledger file; None (ISO) for a ledger that ``draw`` wrote."""
    _, fmt = split_date_format(rename)
    path = Path(path)
    if fmt is not None and path.with_name(path.stem + ".manifest.jsonl").is_file():
        return None
    return fmt



# --------------------------------------------------------------------------------------------------
# The ledger as compact Arrow columns (for the panel of millions of persons)
# --------------------------------------------------------------------------------------------------

#: Ledger columns :func:`read_ledger_table` reads by default: what the panel needs, and the columns with
#: a row rule in :func:`validate_ledger` (``exclusion_reason`` has none and is not read).
LEDGER_TABLE_COLUMNS = (
    "person_id", "arm", "visitation_date", "followup_end", "excluded", "municipality", "stratum",
    "wave", "exclusion_date", "weight",
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
    design: Design | None = None,
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
    design
        The trial's :class:`~trialeval.design.Design`, whose groups ``arm`` holds; without one,
        ``treatment`` and ``control``.

    Returns
    -------
    pyarrow.Table
        In the order of the contract: ``person_id`` (large_string), ``arm`` (dictionary of int8 codes into
        the design's labels, the programme group 0 and the reference group 1), dates as ``date32``
        (missing as null), ``excluded`` (bool, also when absent), ``wave`` (int64), ``municipality`` and
        ``stratum`` (dictionary-encoded text, missing as ``""``), ``weight`` (float64) when present.

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
        df = read_ledger(path, rename=rename, design=design)  # its messages: file type, not found, rules
        return compact_ledger(pa.Table.from_pandas(df[[c for c in wanted if c in df.columns]],
                                                   preserve_index=False), source, design=design)
    date_format = _ledger_date_format(path, rename)
    dialect = CsvDialect.of(rename)
    rename, _ = split_date_format(rename)
    inverse = {user: contract for contract, user in rename.items()}
    try:
        if suffix == ".csv":
            with open(path, "rb") as fh:
                read_options, parse_options = dialect.arrow(1 << 16)
                head = pacsv.open_csv(fh, read_options=read_options, parse_options=parse_options)
                names = head.schema.names
        else:
            names = pq.read_schema(path).names
        contract = [inverse.get(c, c) for c in names]
        require_columns(pd.DataFrame(columns=contract), ["person_id", "arm", "visitation_date"], source)
        read = [user for user, c in zip(names, contract) if c in wanted]
        if suffix == ".csv":
            # As read_table reads CSV: missing values as pandas sees them; text and dates as text.
            text = {rename.get(c, c): pa.string() for c in wanted if c not in ("wave", "weight")}
            read_options, parse_options = dialect.arrow()
            table = pacsv.read_csv(path, read_options=read_options, parse_options=parse_options,
                                   convert_options=pacsv.ConvertOptions(
                include_columns=read, column_types={k: v for k, v in text.items() if k in read},
                null_values=list(_PANDAS_NA), strings_can_be_null=True, quoted_strings_can_be_null=True,
                decimal_point=dialect.decimal))
        else:
            # Text that repeats (arm, municipality, stratum) is read dictionary-encoded.
            repeats = [rename.get(c, c) for c in ("arm", "municipality", "stratum")]
            # One file: ParquetFile reads it without loading pyarrow's dataset layer (0.4 s of CPU).
            with pq.ParquetFile(path, read_dictionary=[c for c in read if c in repeats]) as parquet:
                table = parquet.read(columns=read)
            table = table.unify_dictionaries()
    except InputDataError:
        raise                                       # a missing column, already named
    except (ValueError, OSError, UnicodeDecodeError, pa.ArrowException) as exc:
        raise InputDataError(f"{path}: cannot be read as {suffix[1:]}: {exc}") from exc
    require_rows(table.num_rows, source)
    table = table.rename_columns([inverse.get(c, c) for c in table.column_names])
    return compact_ledger(table, source, date_format=date_format, design=design)


def compact_ledger(table: "pa.Table", source: str, *, date_format: str | None = None,
                   design: Design | None = None) -> "pa.Table":
    """Check the ledger contract on an Arrow table and make its columns compact.

    The rules, their order and their messages are those of :func:`validate_ledger`; see
    :func:`read_ledger_table` for what is returned. Columns other than the contract's are dropped.
    ``arm`` must hold the groups of ``design`` (without one, ``treatment`` and ``control``).

    Examples
    --------
    >>> import pyarrow as pa
    >>> t = pa.table({"person_id": ["1"], "arm": ["treatment"], "visitation_date": ["2016-03-01"]})
    >>> compact_ledger(t, "ledger.csv")["visitation_date"].to_pylist()
    [datetime.date(2016, 3, 1)]
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from trialeval.panel.idtext import _in_id_order

    names = table.column_names
    require_columns(pd.DataFrame(columns=names), ["person_id", "arm", "visitation_date"], source)
    out: dict[str, pa.Array] = {}

    ids = _arrow_as_text(table["person_id"], ids=True)
    trimmed = pc.utf8_trim_whitespace(ids)
    empty = pc.fill_null(pc.equal(trimmed, ""), True)
    if pc.any(empty).as_py():
        raise row_error(source, "person_id", "is empty", empty.to_numpy(zero_copy_only=False))
    del empty
    padded = pc.not_equal(trimmed, ids)
    del trimmed
    if pc.any(padded).as_py():
        mask = padded.to_numpy(zero_copy_only=False)
        raise padded_id_error(source, "person_id", mask, ids[int(np.argmax(mask))].as_py())
    del padded
    # Duplicates by sorting (a hash table of millions of strings costs several times more memory); ids
    # already in increasing order are unique.
    if not _in_id_order(ids):
        ordered = ids.take(pc.sort_indices(ids))
        if pc.any(pc.equal(ordered.slice(1), ordered.slice(0, len(ids) - 1))).as_py():
            dup = pd.Series(ids.to_numpy(zero_copy_only=False)).duplicated(keep=False)
            raise row_error(source, "person_id", "must be unique; duplicates", dup)
        del ordered
    out["person_id"] = ids

    out["arm"] = _arm_codes(table["arm"], source, design)

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
    if "weight" in names:
        out["weight"] = _arrow_weight(table["weight"], source)
    order = [c for c in LEDGER_COLUMNS if c in out]
    return pa.table({c: out[c] for c in order})


def _arm_codes(col: "pa.ChunkedArray", source: str, design: Design | None) -> "pa.DictionaryArray":
    """``arm`` as int8 codes into the design's labels (0 the programme group, 1 the reference group);
    a label outside them is an error naming the rows and the allowed labels."""
    import pyarrow as pa
    import pyarrow.compute as pc

    labels = (design or Design()).labels
    arm = _combined(col)
    arms = pa.array(labels, type=pa.large_string())
    if _is_text_dictionary(arm.type):
        codes = pc.index_in(arm.dictionary.cast(pa.large_string()), value_set=arms).take(arm.indices)
    else:
        codes = pc.index_in(_arrow_as_text(arm), value_set=arms)
    bad = pc.is_null(codes)
    if pc.any(bad).as_py():
        raise (design or Design()).label_error(source, bad.to_numpy(zero_copy_only=False),
                                               declared=design is not None)
    return pa.DictionaryArray.from_arrays(codes.cast(pa.int8()), pa.array(labels))


def _arrow_weight(col: "pa.ChunkedArray", source: str) -> "pa.Array":
    """``weight`` as float64: a number (text such as ``"1.5"`` is read as one), finite and ≥ 0."""
    import pyarrow as pa

    col = _combined(col)
    if pa.types.is_integer(col.type) or pa.types.is_floating(col.type) or pa.types.is_boolean(col.type):
        values = pd.Series(col.to_numpy(zero_copy_only=False), dtype="float64")
    else:
        values = pd.to_numeric(pd.Series(col.to_numpy(zero_copy_only=False), dtype=object), errors="coerce")
    number = values.to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isnan(number).any():
        raise row_error(source, "weight", "must be a number", np.isnan(number))
    if not np.isfinite(number).all():
        raise row_error(source, "weight", "must be finite", ~np.isfinite(number))
    if (number < 0).any():
        raise row_error(source, "weight", "must be ≥ 0", number < 0)
    return pa.array(number, type=pa.float64())


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
