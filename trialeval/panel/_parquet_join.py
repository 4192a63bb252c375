"""One Parquet file from parts encoded separately (on several threads): their bytes copied, footers merged.

Arrow's Parquet writer encodes one file on one thread. To encode a long panel on every core, each
chunk of persons is written as a small Parquet file in memory on its own thread; :class:`JoinedParquet`
then appends each part's row groups to the one output file, in order, and at the end writes one
footer listing every row group. A part's bytes are copied unchanged; only the positions its footer
records (where each column chunk, dictionary page, index and filter starts) move by where the part
landed in the joined file.

The footer is Thrift's compact encoding of Parquet's ``FileMetaData``. :func:`_read_struct` reads it
into plain fields that keep each value's wire type, and :func:`_write_struct` writes them back; a
footer read and written unchanged gives the same bytes (tested), so nothing is lost or re-typed.
fastparquet's Thrift reader was tried for this and re-types some fields (a logical type's byte
``bitWidth`` comes back as an i64, which Arrow then refuses).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

import pyarrow as pa

from trialeval.exceptions import TrialevalError

_MAGIC = b"PAR1"

# compact protocol wire types
_TRUE, _FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY, _LIST, _SET, _MAP, _STRUCT = range(1, 13)
_INTEGERS = (_I16, _I32, _I64)

# field ids of Parquet's footer (parquet.thrift)
_FILE_NUM_ROWS, _FILE_ROW_GROUPS, _FILE_KEY_VALUE, _FILE_ENCRYPTION = 3, 4, 5, 8
_GROUP_COLUMNS, _GROUP_FILE_OFFSET, _GROUP_ORDINAL = 1, 5, 7
_CHUNK_FILE_PATH, _CHUNK_FILE_OFFSET, _CHUNK_META, _CHUNK_OFFSET_INDEX, _CHUNK_COLUMN_INDEX = 1, 2, 3, 4, 6
_CHUNK_CRYPTO = (8, 9)
#: ColumnMetaData: data page, index page, dictionary page, bloom filter offsets
_META_OFFSETS = (9, 10, 11, 14)


class ParquetJoinError(TrialevalError):
    """A part cannot be joined (not Parquet, encrypted, another schema): a fault of the writer, not of data."""


@dataclass
class _Field:
    id: int
    type: int
    value: object          # int, float, bytes, bool, _List, list[_Field] (a struct), _Map


@dataclass
class _List:
    type: int              # wire type of the elements (``_LIST`` or ``_SET`` kept in ``kind``)
    items: list[object]
    kind: int = _LIST


@dataclass
class _Map:
    key_type: int
    value_type: int
    items: list[tuple[object, object]]


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def byte(self) -> int:
        b = self.data[self.pos]
        self.pos += 1
        return b

    def varint(self) -> int:
        shift = result = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            if b < 0x80:
                return result
            shift += 7

    def zigzag(self) -> int:
        n = self.varint()
        return (n >> 1) ^ -(n & 1)

    def take(self, n: int) -> bytes:
        out = self.data[self.pos:self.pos + n]
        if len(out) != n:
            raise ParquetJoinError("a Parquet footer ends too early")
        self.pos += n
        return out


def _read_value(r: _Reader, kind: int) -> object:
    if kind in (_TRUE, _FALSE):             # inside a list: one byte (1 true, otherwise false)
        return r.byte() == _TRUE
    if kind == _BYTE:
        return r.byte()
    if kind in _INTEGERS:
        return r.zigzag()
    if kind == _DOUBLE:
        return struct.unpack("<d", r.take(8))[0]
    if kind == _BINARY:
        return r.take(r.varint())
    if kind in (_LIST, _SET):
        head = r.byte()
        size = head >> 4 if head >> 4 != 15 else r.varint()
        elem = head & 0x0F
        return _List(elem, [_read_value(r, elem) for _ in range(size)], kind)
    if kind == _MAP:
        size = r.varint()
        if size == 0:
            return _Map(0, 0, [])
        types = r.byte()
        kt, vt = types >> 4, types & 0x0F
        return _Map(kt, vt, [(_read_value(r, kt), _read_value(r, vt)) for _ in range(size)])
    if kind == _STRUCT:
        return _read_struct(r)
    raise ParquetJoinError(f"a Parquet footer holds an unknown Thrift type {kind}")


def _read_struct(r: _Reader) -> list[_Field]:
    fields: list[_Field] = []
    last = 0
    while True:
        head = r.byte()
        if head == 0:
            return fields
        kind, delta = head & 0x0F, head >> 4
        fid = last + delta if delta else r.zigzag()
        value: object = kind == _TRUE if kind in (_TRUE, _FALSE) else _read_value(r, kind)
        fields.append(_Field(fid, kind, value))
        last = fid


def _varint(out: bytearray, n: int) -> None:
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _zigzag(out: bytearray, n: int) -> None:
    _varint(out, (n << 1) ^ (n >> 63))


def _write_value(out: bytearray, kind: int, value: object) -> None:
    if kind in (_TRUE, _FALSE):
        out.append(_TRUE if value else _FALSE)
    elif kind == _BYTE:
        out.append(int(value) & 0xFF)  # type: ignore[call-overload]
    elif kind in _INTEGERS:
        _zigzag(out, int(value))  # type: ignore[call-overload]
    elif kind == _DOUBLE:
        out += struct.pack("<d", value)
    elif kind == _BINARY:
        assert isinstance(value, bytes)
        _varint(out, len(value))
        out += value
    elif kind in (_LIST, _SET):
        assert isinstance(value, _List)
        size = len(value.items)
        if size < 15:
            out.append(size << 4 | value.type)
        else:
            out.append(0xF0 | value.type)
            _varint(out, size)
        for item in value.items:
            _write_value(out, value.type, item)
    elif kind == _MAP:
        assert isinstance(value, _Map)
        _varint(out, len(value.items))
        if value.items:
            out.append(value.key_type << 4 | value.value_type)
            for k, v in value.items:
                _write_value(out, value.key_type, k)
                _write_value(out, value.value_type, v)
    elif kind == _STRUCT:
        assert isinstance(value, list)
        _write_struct(out, value)
    else:
        raise ParquetJoinError(f"cannot write Thrift type {kind}")


def _write_struct(out: bytearray, fields: list[_Field]) -> None:
    last = 0
    for f in fields:
        kind = (_TRUE if f.value else _FALSE) if f.type in (_TRUE, _FALSE) else f.type
        if 0 < f.id - last <= 15:
            out.append((f.id - last) << 4 | kind)
        else:
            out.append(kind)
            _zigzag(out, f.id)
        if kind not in (_TRUE, _FALSE):
            _write_value(out, kind, f.value)
        last = f.id
    out.append(0)


def _get(fields: list[_Field], fid: int) -> _Field | None:
    return next((f for f in fields if f.id == fid), None)


def _structs(fields: list[_Field], fid: int) -> list[list[_Field]]:
    """The structs of list field ``fid`` (none when the field is absent)."""
    f = _get(fields, fid)
    if f is None:
        return []
    assert isinstance(f.value, _List)
    return [item for item in f.value.items if isinstance(item, list)]


def _shift(fields: list[_Field], ids: tuple[int, ...], by: int) -> None:
    for f in fields:
        if f.id in ids:
            f.value = int(f.value) + by  # type: ignore[call-overload]


def footer_of(part: bytes | memoryview) -> tuple[list[_Field], int]:
    """The parsed footer of one Parquet file held in memory, and where the footer starts."""
    data = memoryview(part)
    if len(data) < 12 or bytes(data[:4]) != _MAGIC or bytes(data[-4:]) != _MAGIC:
        raise ParquetJoinError("a part is not a Parquet file (no PAR1 at its start and end)")
    length = struct.unpack("<i", data[-8:-4])[0]
    start = len(data) - 8 - length
    if not 4 <= start:
        raise ParquetJoinError("a part's footer length is out of range")
    return _read_struct(_Reader(bytes(data[start:len(data) - 8]))), start


class JoinedParquet:
    """Appends Parquet parts (same schema, in order) to ``fh`` and writes one footer at :meth:`close`.

    ``fh`` is a binary file opened for writing, at position 0. ``key_value`` is the file's key-value
    metadata (e.g. the Arrow schema readers restore); the parts' own are not kept.
    """

    def __init__(self, fh: BinaryIO, key_value: dict[str, bytes]) -> None:
        self._fh, self._key_value = fh, key_value
        self._fh.write(_MAGIC)
        self._pos = len(_MAGIC)
        self._groups: list[object] = []            # the row groups (structs), in file order
        self._rows = 0
        self._first: list[_Field] | None = None
        self._schema: bytes | None = None

    def append(self, part: pa.Buffer | bytes) -> None:
        """Copy the row groups of one part (a whole Parquet file in memory) to the end of the file."""
        data = memoryview(part)
        meta, start = footer_of(data)
        if _get(meta, _FILE_ENCRYPTION) is not None:
            raise ParquetJoinError("encrypted parts cannot be joined")
        schema = _get(meta, 2)
        encoded = bytearray()
        if schema is not None:
            _write_value(encoded, schema.type, schema.value)
        if self._schema is None:
            self._first, self._schema = meta, bytes(encoded)
        elif bytes(encoded) != self._schema:
            raise ParquetJoinError("parts with different schemas cannot be joined")
        by = self._pos - len(_MAGIC)            # the part's bytes after its magic land at self._pos
        for group in _structs(meta, _FILE_ROW_GROUPS):
            _shift(group, (_GROUP_FILE_OFFSET,), by)
            for chunk in _structs(group, _GROUP_COLUMNS):
                if _get(chunk, _CHUNK_FILE_PATH) is not None or any(_get(chunk, c) for c in _CHUNK_CRYPTO):
                    raise ParquetJoinError("parts whose columns live in other files or are encrypted cannot be joined")
                _shift(chunk, (_CHUNK_FILE_OFFSET, _CHUNK_OFFSET_INDEX, _CHUNK_COLUMN_INDEX), by)
                meta_data = _get(chunk, _CHUNK_META)
                if meta_data is not None:
                    assert isinstance(meta_data.value, list)
                    _shift(meta_data.value, _META_OFFSETS, by)
            ordinal = _get(group, _GROUP_ORDINAL)
            if ordinal is not None:
                if len(self._groups) < 2**15:
                    ordinal.value = len(self._groups)
                else:
                    group.remove(ordinal)
            self._groups.append(group)
        rows = _get(meta, _FILE_NUM_ROWS)
        self._rows += int(rows.value) if rows is not None else 0  # type: ignore[call-overload]
        self._fh.write(data[len(_MAGIC):start])
        self._pos += start - len(_MAGIC)

    @property
    def empty(self) -> bool:
        """No part appended yet."""
        return self._first is None

    def close(self) -> None:
        """Write the footer: the first part's, with every part's row groups and rows and ``key_value``."""
        if self._first is None:
            raise ParquetJoinError("no part was written")
        fields = [f for f in self._first if f.id not in (_FILE_NUM_ROWS, _FILE_ROW_GROUPS, _FILE_KEY_VALUE)]
        pairs = [[_Field(1, _BINARY, k.encode()), _Field(2, _BINARY, v)] for k, v in self._key_value.items()]
        fields += [_Field(_FILE_NUM_ROWS, _I64, self._rows), _Field(_FILE_ROW_GROUPS, _LIST, _List(_STRUCT, self._groups))]
        if pairs:
            fields.append(_Field(_FILE_KEY_VALUE, _LIST, _List(_STRUCT, list(pairs))))
        fields.sort(key=lambda f: f.id)
        out = bytearray()
        _write_struct(out, fields)
        self._fh.write(out)
        self._fh.write(struct.pack("<i", len(out)))
        self._fh.write(_MAGIC)
