"""Register files turned into spells: DREAM's weekly status codes and eIndkomst's monthly hours.

**DREAM** comes as one row per person and one column per ISO week (``y_2016_43``: the column pattern is
configurable), each cell a status code; an empty cell means no public benefit that week. A code map
(``[registers.dream] codes``) says which codes (or ranges of codes) are which spell type. A run of
consecutive ISO weeks with the same type becomes one spell, from that run's first Monday to its last
Sunday. A week column missing from the file breaks a run.

**eIndkomst** comes as rows ``person_id, month (YYYY-MM), hours [, workplace_id]``. Each row with hours
becomes an ``ordinary_hours`` spell over the days of the month with ``hours_per_week = hours × 7 /
days in the month``, so the panel's pro-rata rule (hours × overlapping days / 7) gives back exactly the
month's hours. A month with 0 hours has no spell.

Both read their input a batch of rows at a time (Parquet row groups, CSV blocks) and write the spells as
they go, so memory is bounded by the batch, not the file. Rows that break a rule stop the conversion with
the file, column, rule and rows named, and nothing is written.
"""

from __future__ import annotations

import datetime
import itertools
import os
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from trialeval.dates import CsvDialect
from trialeval.exceptions import ConfigError, InputDataError
from trialeval.io import atomic_write, describe_rows

#: The spells a conversion writes (the spells contract; ``workplace_id`` only when the input has one).
SPELL_SCHEMA = pa.schema([("person_id", pa.string()), ("spell_type", pa.string()), ("start_date", pa.date32()),
                          ("end_date", pa.date32()), ("hours_per_week", pa.float64())])
#: DREAM's default week-column pattern: ``y_2016_43`` is ISO week 43 of 2016.
DREAM_WEEK_COLUMNS = "y_{year}_{week:02d}"
#: Rows read at a time.
BATCH_ROWS = 200_000
_EPOCH = datetime.date(1970, 1, 1)
_MAX_HOURS_PER_WEEK = 168.0


# --------------------------------------------------------------------------------------------------
# the code map

@dataclass(frozen=True)
class DreamCodes:
    """Which DREAM status codes are which spell type.

    ``codes`` maps a spell type to its codes; a code is a text (``"651"``) or an inclusive range of
    whole-number codes (``"111-136"``). ``unmapped`` says what happens to codes in the file that the map
    does not name: ``"error"`` (the default: they are listed with their counts) or ``"ignore"`` (treated as
    no spell). ``week_columns`` is the pattern of the week columns, with ``{year}`` and ``{week}``.
    ``any_code_is_benefit`` (default true): DREAM records public benefits, so a week with any mapped code
    is also a week on public support and becomes part of a ``benefit`` spell — a person in an internship
    or wage subsidy is not self-supporting, as in DREAM's own measure of self-sufficiency (no code that
    week). Set it false when the map's ``benefit`` codes alone mean public support.

    Examples
    --------
    >>> codes = DreamCodes.from_dict({"codes": {"benefit": ["111-113"], "internship": ["651"]}})
    >>> codes.type_of(["112", "651", "999"])
    ['benefit', 'internship', None]
    """

    codes: Mapping[str, tuple[str, ...]]
    unmapped: str = "error"
    week_columns: str = DREAM_WEEK_COLUMNS
    any_code_is_benefit: bool = True
    _exact: dict[str, str] = field(default_factory=dict, repr=False)
    _ranges: tuple[tuple[int, int, str], ...] = field(default=(), repr=False)

    @classmethod
    def from_dict(cls, table: Mapping[str, Any], source: str = "[registers.dream]") -> DreamCodes:
        """Validate a ``[registers.dream]`` table."""
        allowed = {"codes", "unmapped", "week_columns", "any_code_is_benefit"}
        unknown = set(table) - allowed
        if unknown:
            raise ConfigError(f"{source}: unknown key '{min(unknown)}'; allowed: {', '.join(sorted(allowed))}")
        codes = table.get("codes")
        if not isinstance(codes, Mapping) or not codes:
            raise ConfigError(f"{source}: codes must be a table of spell type = [codes], e.g. "
                              "codes = { benefit = [\"111-136\"], internship = [\"651\"] }")
        unmapped = table.get("unmapped", "error")
        if unmapped not in ("error", "ignore"):
            raise ConfigError(f"{source}: unmapped must be \"error\" or \"ignore\"; got {unmapped!r}")
        pattern = table.get("week_columns", DREAM_WEEK_COLUMNS)
        if not isinstance(pattern, str) or "{year" not in pattern or "{week" not in pattern:
            raise ConfigError(f"{source}: week_columns must be a pattern with {{year}} and {{week}}, "
                              f"e.g. {DREAM_WEEK_COLUMNS!r}; got {pattern!r}")
        exact: dict[str, str] = {}
        ranges: list[tuple[int, int, str]] = []
        for spell_type, listed in codes.items():
            if not isinstance(listed, list) or not all(isinstance(c, (str, int)) and not isinstance(c, bool)
                                                       for c in listed):
                raise ConfigError(f"{source}: codes.{spell_type} must be a list of codes or ranges like \"111-136\"")
            for code in map(str, listed):
                m = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", code)
                if m:
                    lo, hi = int(m[1]), int(m[2])
                    if hi < lo:
                        raise ConfigError(f"{source}: codes.{spell_type}: range {code!r} ends before it starts")
                    ranges.append((lo, hi, spell_type))
                else:
                    exact[code.strip()] = spell_type
        claimed = _overlaps(exact, ranges)
        if claimed:
            raise ConfigError(f"{source}: code {claimed} is given to more than one spell type")
        any_code = table.get("any_code_is_benefit", True)
        if not isinstance(any_code, bool):
            raise ConfigError(f"{source}: any_code_is_benefit must be true or false")
        frozen = {t: tuple(map(str, v)) for t, v in codes.items()}
        return cls(frozen, unmapped, pattern, any_code, exact, tuple(ranges))

    @property
    def spell_types(self) -> tuple[str, ...]:
        """The types codes map to, in the map's order."""
        return tuple(self.codes)

    @property
    def output_types(self) -> tuple[str, ...]:
        """The spell types a conversion writes (``benefit`` added when any code means public support)."""
        extra = ("benefit",) if self.any_code_is_benefit and "benefit" not in self.codes else ()
        return self.spell_types + extra

    def type_of(self, values: Sequence[str]) -> list[str | None]:
        """The spell type of each code (None: not in the map)."""
        out: list[str | None] = []
        for value in values:
            kind = self._exact.get(value)
            if kind is None and value.isdigit():
                number = int(value)
                kind = next((t for lo, hi, t in self._ranges if lo <= number <= hi), None)
            out.append(kind)
        return out


def dream_codes(path: str | os.PathLike[str]) -> DreamCodes:
    """The ``[registers.dream]`` code map of a TOML file (a trial config or a file holding only the map)."""
    import tomllib

    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: code map file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    table = data.get("registers", {}).get("dream")
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: no [registers.dream] table")
    return DreamCodes.from_dict(table, f"{path}: [registers.dream]")


def _overlaps(exact: Mapping[str, str], ranges: Sequence[tuple[int, int, str]]) -> str | None:
    """A code the map gives to two spell types, or None."""
    for code, kind in exact.items():
        if code.isdigit() and any(lo <= int(code) <= hi and t != kind for lo, hi, t in ranges):
            return repr(code)
    for lo1, hi1, t1 in ranges:                     # code maps are short: every pair is checked
        for lo2, hi2, t2 in ranges:
            if t1 != t2 and lo2 <= hi1 and lo1 <= hi2:
                return str(max(lo1, lo2))
    return None


# --------------------------------------------------------------------------------------------------
# reading in batches

def _batches(path: Path, text: Sequence[str] | None, dialect: CsvDialect = CsvDialect()) -> Iterator[pa.RecordBatch]:
    """The file's rows a batch at a time; CSV columns in ``text`` (all when None) stay text; a CSV file is
    read in the declared ``dialect``."""
    suffix = path.suffix.lower()
    if not path.is_file():
        raise InputDataError(f"{path}: file not found")
    try:
        if suffix in (".parquet", ".pq"):
            yield from pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS)
        elif suffix == ".csv":
            small, parse = dialect.arrow(1 << 16)
            header = pacsv.open_csv(path, read_options=small, parse_options=parse).schema.names
            types = {c: pa.string() for c in (header if text is None else text) if c in header}
            reader = pacsv.open_csv(path, read_options=dialect.arrow(1 << 24)[0], parse_options=parse,
                                    convert_options=pacsv.ConvertOptions(column_types=types,
                                                                         strings_can_be_null=True,
                                                                         decimal_point=dialect.decimal))
            yield from reader
        else:
            raise InputDataError(f"{path}: unsupported file type '{suffix}'; expected .csv or .parquet")
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputDataError(f"{path}: cannot be read: {exc}") from exc


def _require(schema_names: Sequence[str], columns: Sequence[str], source: str) -> None:
    missing = [c for c in columns if c not in schema_names]
    if missing:
        raise InputDataError(f"{source}: missing required column(s): {', '.join(missing)}")


class _SpellWriter:
    """Spells written a batch at a time into a temporary file renamed onto ``out`` when all went well."""

    def __init__(self, tmp: Path, workplace: bool) -> None:
        schema = SPELL_SCHEMA.append(pa.field("workplace_id", pa.string())) if workplace else SPELL_SCHEMA
        self.schema = schema
        self.writer = pq.ParquetWriter(tmp, schema)
        self.n_spells = 0

    def write(self, columns: Mapping[str, Any]) -> None:
        table = pa.table(dict(columns), schema=self.schema)
        self.n_spells += table.num_rows
        if table.num_rows:
            self.writer.write_table(table)

    def close(self) -> None:
        self.writer.close()


@dataclass(frozen=True)
class ConversionResult:
    """What a conversion wrote."""

    register: str
    source: str
    out: Path
    n_rows: int
    n_spells: int
    counts: dict[str, int]

    def _repr_html_(self) -> str:
        """A compact view for notebooks: the summary (and the table, when there is one)."""
        from trialeval._console import summary_html

        return summary_html(self)

    def summary(self) -> str:
        types = ", ".join(f"{k} {v:,}" for k, v in self.counts.items()) or "none"
        return (f"{self.register}: {self.n_rows:,} rows of {self.source} became {self.n_spells:,} spells ({types}) in {self.out}")


# --------------------------------------------------------------------------------------------------
# DREAM

def dream_week_columns(names: Sequence[str], pattern: str = DREAM_WEEK_COLUMNS) -> dict[str, datetime.date]:
    """The week columns among ``names`` and the Monday each one starts on, in calendar order.

    Examples
    --------
    >>> dream_week_columns(["person_id", "y_2016_53", "y_2016_52", "y_2015_53"])
    {'y_2015_53': datetime.date(2015, 12, 28), 'y_2016_52': datetime.date(2016, 12, 26)}
    """
    regex = re.escape(pattern)
    regex = re.sub(r"\\\{year(?::[^}]*)?\\\}", r"(?P<year>\\d{4})", regex)
    regex = re.sub(r"\\\{week(?::[^}]*)?\\\}", r"(?P<week>\\d{1,2})", regex)
    found: dict[str, datetime.date] = {}
    for name in names:
        m = re.fullmatch(regex, name)
        if m is None:
            continue
        try:
            found[name] = datetime.date.fromisocalendar(int(m["year"]), int(m["week"]), 1)
        except ValueError:
            continue        # e.g. week 53 of a year with 52 ISO weeks: not a week, so not a week column
    return dict(sorted(found.items(), key=lambda kv: kv[1]))


def convert_dream(path: str | os.PathLike[str], codes: DreamCodes, out: str | os.PathLike[str], *,
                  person_column: str = "person_id", dialect: CsvDialect = CsvDialect()) -> ConversionResult:
    """Turn a DREAM extract into spells in ``out`` (Parquet); a CSV extract is read in ``dialect``.

    Raises
    ------
    InputDataError
        No person column or no week columns, a missing person id, or (with ``unmapped = "error"``)
        codes the map does not name — listed with their counts. Nothing is written then.
    """
    path, out = Path(path), Path(out)
    source = str(path)
    batches = _batches(path, None, dialect)
    first = next(batches, None)
    names = first.schema.names if first is not None else []
    _require(names, [person_column], source)
    weeks = dream_week_columns(names, codes.week_columns)
    if not weeks:
        raise InputDataError(f"{source}: no week columns matching {codes.week_columns!r} "
                             f"(e.g. {codes.week_columns.format(year=2016, week=43)})")
    columns = list(weeks)
    mondays = np.array([(d - _EPOCH).days for d in weeks.values()], dtype=np.int32)
    follows = np.r_[False, np.diff(mondays) == 7]          # the column is the week after the previous one
    type_names = codes.output_types
    unmapped: Counter[str] = Counter()
    counts = np.zeros(len(type_names), dtype=np.int64)
    n_rows = 0
    with atomic_write(out) as tmp:
        writer = _SpellWriter(tmp, workplace=False)
        try:
            row0 = 0
            for batch in itertools.chain([first] if first is not None else [], batches):
                ids = batch.column(person_column)
                _check_ids(ids, source, person_column, row0)
                kinds = _dream_kinds(batch, columns, codes, unmapped)
                person, start, stop, kind = _dream_spells(kinds, follows, codes)
                counts += np.bincount(kind - 1, minlength=len(type_names))
                writer.write({
                    "person_id": pc.take(ids.cast(pa.string()), pa.array(person)),
                    "spell_type": pa.array(np.asarray(type_names, dtype=object)[kind - 1], pa.string()),
                    "start_date": pa.array(mondays[start], pa.int32()).cast(pa.date32()),
                    "end_date": pa.array(mondays[stop] + 6, pa.int32()).cast(pa.date32()),
                    "hours_per_week": pa.nulls(len(person), pa.float64()),
                })
                n_rows += batch.num_rows
                row0 += batch.num_rows
        finally:
            writer.close()
        if unmapped and codes.unmapped == "error":
            listed = ", ".join(f"{code!r} ({n:,} person-weeks)" for code, n in unmapped.most_common(10))
            raise InputDataError(
                f"{source}: status codes not in the code map: {listed}"
                f"{' …' if len(unmapped) > 10 else ''}; add them to [registers.dream] codes, or set "
                "unmapped = \"ignore\" to read them as no spell")
    return ConversionResult("DREAM", source, out, n_rows, writer.n_spells,
                            {t: int(c) for t, c in zip(type_names, counts)})


def _check_ids(ids: pa.Array, source: str, column: str, row0: int) -> None:
    text = ids.cast(pa.string())
    bad = pc.or_(pc.is_null(text), pc.equal(pc.utf8_trim_whitespace(text), "")).to_numpy(zero_copy_only=False)
    if bad.any():
        raise InputDataError(f"{source}: column '{column}' must not be empty in "
                             f"{describe_rows(np.flatnonzero(bad) + row0)}")


def _dream_kinds(batch: pa.RecordBatch, columns: Sequence[str], codes: DreamCodes,
                 unmapped: Counter[str]) -> np.ndarray:
    """persons × weeks: 0 for no spell, else 1 + the index of the week's spell type."""
    kinds = np.zeros((batch.num_rows, len(columns)), dtype=np.int8)
    lookup: dict[str, int] = {}
    index = {t: i + 1 for i, t in enumerate(codes.spell_types)}
    for j, name in enumerate(columns):
        col = batch.column(name).cast(pa.string())
        col = pc.utf8_trim_whitespace(col)
        encoded = pc.dictionary_encode(col).combine_chunks() if isinstance(col, pa.ChunkedArray) \
            else pc.dictionary_encode(col)
        values = encoded.dictionary.to_pylist()
        new = [v for v in values if v not in lookup]
        for v, kind in zip(new, codes.type_of(new)):
            lookup[v] = 0 if v == "" else index[kind] if kind is not None else -1
        code_of = np.array([lookup[v] for v in values] or [0], dtype=np.int8)
        idx = encoded.indices.to_numpy(zero_copy_only=False)
        valid = ~np.asarray(encoded.indices.is_null().to_numpy(zero_copy_only=False), dtype=bool)
        week = np.zeros(batch.num_rows, dtype=np.int8)
        week[valid] = code_of[idx[valid].astype(np.int64)]
        missing = week < 0
        if missing.any():
            for v, n in zip(*np.unique(idx[missing].astype(np.int64), return_counts=True)):
                unmapped[values[v]] += int(n)
            week[missing] = 0
        kinds[:, j] = week
    return kinds


def _dream_spells(kinds: np.ndarray, follows: np.ndarray, codes: DreamCodes) -> tuple[np.ndarray, ...]:
    """The spells of a batch, ordered by person and start: runs of each type and, with
    ``any_code_is_benefit``, runs of weeks with any code as benefit spells."""
    if not codes.any_code_is_benefit:
        return _runs(kinds, follows)
    benefit = codes.output_types.index("benefit") + 1
    programmes = np.where(kinds == benefit, 0, kinds).astype(np.int8)
    support = np.where(kinds != 0, benefit, 0).astype(np.int8)
    parts = [_runs(programmes, follows), _runs(support, follows)]
    person, start, stop, kind = (np.concatenate(cols) for cols in zip(*parts))
    order = np.lexsort((kind, start, person))
    return person[order], start[order], stop[order], kind[order]


def _runs(kinds: np.ndarray, follows: np.ndarray) -> tuple[np.ndarray, ...]:
    """Runs of the same non-zero type in consecutive weeks: (person row, first week, last week, type)."""
    n, w = kinds.shape
    if n == 0 or w == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, empty.astype(np.int8)
    same_as_before = np.zeros_like(kinds, dtype=bool)
    same_as_before[:, 1:] = (kinds[:, 1:] == kinds[:, :-1]) & follows[1:]
    starts = (kinds != 0) & ~same_as_before
    ends = np.zeros_like(starts)
    ends[:, :-1] = (kinds[:, :-1] != 0) & ~same_as_before[:, 1:]
    ends[:, -1] = kinds[:, -1] != 0
    person, first = np.nonzero(starts)
    _, last = np.nonzero(ends)                     # row-major order: the k-th end closes the k-th start
    return person, first, last, kinds[person, first].astype(np.int64)


# --------------------------------------------------------------------------------------------------
# eIndkomst

def convert_eindkomst(path: str | os.PathLike[str], out: str | os.PathLike[str], *,
                      rename: Mapping[str, str] | None = None) -> ConversionResult:
    """Turn eIndkomst hours (``person_id, month, hours [, workplace_id]``) into ordinary-hours spells.

    Raises
    ------
    InputDataError
        A missing column or person id, a month that is not ``YYYY-MM``, hours that are missing, negative,
        not a number or more than a month can hold (168 hours a week). Nothing is written then.
    """
    path, out = Path(path), Path(out)
    source = str(path)
    names = {contract: (rename or {}).get(contract, contract)
             for contract in ("person_id", "month", "hours", "workplace_id")}
    batches = _batches(path, [names["person_id"], names["month"], names["workplace_id"]], CsvDialect.of(rename))
    first = next(batches, None)
    header = first.schema.names if first is not None else []
    _require(header, [names["person_id"], names["month"], names["hours"]], source)
    workplace = names["workplace_id"] in header
    n_rows = 0
    with atomic_write(out) as tmp:
        writer = _SpellWriter(tmp, workplace)
        try:
            row0 = 0
            for batch in itertools.chain([first] if first is not None else [], batches):
                writer.write(_eindkomst_spells(batch, names, source, row0, workplace))
                n_rows += batch.num_rows
                row0 += batch.num_rows
        finally:
            writer.close()
    return ConversionResult("eIndkomst", source, out, n_rows, writer.n_spells,
                            {"ordinary_hours": writer.n_spells})


def _eindkomst_spells(batch: pa.RecordBatch, names: Mapping[str, str], source: str, row0: int,
                      workplace: bool) -> dict[str, Any]:
    ids = batch.column(names["person_id"])
    _check_ids(ids, source, names["person_id"], row0)
    month = pc.utf8_trim_whitespace(batch.column(names["month"]).cast(pa.string()))
    parts = pc.extract_regex(month, r"^(?P<y>\d{4})-(?P<m>\d{2})$")
    ok = pc.fill_null(pc.is_valid(parts), False).to_numpy(zero_copy_only=False)
    year = np.zeros(batch.num_rows, dtype=np.int64)
    mon = np.zeros(batch.num_rows, dtype=np.int64)
    if ok.any():
        year[ok] = pc.struct_field(parts, "y").cast(pa.int64()).to_numpy(zero_copy_only=False)[ok]
        mon[ok] = pc.struct_field(parts, "m").cast(pa.int64()).to_numpy(zero_copy_only=False)[ok]
    ok &= (mon >= 1) & (mon <= 12) & (year >= 1900)
    if not ok.all():
        raise _rows_error(source, names["month"], "must be a month YYYY-MM (e.g. 2016-03)", ~ok, row0)
    hours_col = batch.column(names["hours"])
    try:
        hours = hours_col.cast(pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        text = pc.utf8_trim_whitespace(hours_col.cast(pa.string()))
        numeric = pc.match_substring_regex(text, r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
        bad = ~pc.fill_null(numeric, False).to_numpy(zero_copy_only=False)
        raise _rows_error(source, names["hours"], "must be a number of hours (decimal point)", bad,
                          row0) from None
    hours = np.where(np.isnan(hours) & ~pc.is_null(hours_col).to_numpy(zero_copy_only=False), np.nan, hours)
    days = _days_in_month(year, mon)
    bad = ~np.isfinite(hours) | (hours < 0)
    if bad.any():
        raise _rows_error(source, names["hours"], "must be given, a number and not negative", bad, row0)
    too_many = hours * 7.0 / days > _MAX_HOURS_PER_WEEK
    if too_many.any():
        raise _rows_error(source, names["hours"], "is more than a month can hold (168 hours a week)",
                                 too_many, row0)
    keep = hours > 0
    first_num = _first_days(year, mon).astype(np.int64)
    take = pa.array(np.flatnonzero(keep))
    columns: dict[str, Any] = {
        "person_id": pc.take(ids.cast(pa.string()), take),
        "spell_type": pa.array(np.full(int(keep.sum()), "ordinary_hours", dtype=object), pa.string()),
        "start_date": pa.array(first_num[keep].astype(np.int32), pa.int32()).cast(pa.date32()),
        "end_date": pa.array((first_num + days - 1)[keep].astype(np.int32), pa.int32()).cast(pa.date32()),
        "hours_per_week": pa.array(hours[keep] * 7.0 / days[keep], pa.float64()),
    }
    if workplace:
        columns["workplace_id"] = pc.take(batch.column(names["workplace_id"]).cast(pa.string()), take)
    return columns


def _first_days(year: np.ndarray, month: np.ndarray) -> np.ndarray:
    """The first day of each month, vectorised."""
    return ((year - 1970) * 12 + (month - 1)).astype("datetime64[M]").astype("datetime64[D]")


def _days_in_month(year: np.ndarray, month: np.ndarray) -> np.ndarray:
    start = ((year - 1970) * 12 + (month - 1)).astype("datetime64[M]")
    return ((start + 1).astype("datetime64[D]") - start.astype("datetime64[D]")).astype(np.int64)


def _rows_error(source: str, column: str, rule: str, bad: np.ndarray, row0: int) -> InputDataError:
    """The standard row error for a batch whose first row is row ``row0`` of the file (0-based)."""
    return InputDataError(f"{source}: column '{column}' {rule} in {describe_rows(np.flatnonzero(bad) + row0)}")
