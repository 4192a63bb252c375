"""Person ids as text, fast: checks and matching on the bytes of Arrow's buffers, without Python strings.

:func:`_plain_text` checks that ids need no stripping, :func:`_fixed_width` makes a numpy fixed-width
copy of them, and :class:`_IdLookup` finds spells' ids among the ledger's sorted ids by binary search
(on numbers when ids are at most eight bytes).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def _plain_text(col: pa.Array) -> pa.Array | None:
    """A text column as large_string when every present value is :func:`_ids_as_text` of itself
    (no surrounding blanks, not empty), else None.

    That is :data:`_PLAIN_TEXT`: the first and the last byte of each present value printable ASCII
    other than a blank; checked on the bytes of the Arrow buffers, without a regular expression.
    """
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    if not (pa.types.is_string(col.type) or pa.types.is_large_string(col.type)):
        return None
    col = col.cast(pa.large_string())
    present = col.drop_null()
    if len(present):
        offsets, data = _text_buffers(present)
        lengths = np.diff(offsets)
        if not bool((lengths > 0).all()):
            return None
        ends = data[offsets[1:] - 1]
        starts = data[offsets[:-1]]
        if not bool(((starts >= 0x21) & (starts <= 0x7E) & (ends >= 0x21) & (ends <= 0x7E)).all()):
            return None
    return col


def _text_buffers(text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """A large_string array's value offsets (``len + 1``, int64) and its data bytes, without copies."""
    buffers = text.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64, count=len(text) + 1, offset=8 * text.offset)
    data = np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] is not None else np.zeros(0, np.uint8)
    return offsets, data


def _fixed_width(text: pa.Array, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Text without nulls as a numpy ``S<width>`` array (zero-padded bytes) made without Python strings,
    and a mask of the values it holds exactly (at most ``width`` bytes and no NUL byte)."""
    text = text.cast(pa.large_string())
    n, width = len(text), max(width, 1)
    offsets, data = _text_buffers(text)
    starts, lengths = offsets[:-1], np.diff(offsets)
    used = data[offsets[0]:offsets[-1]] if n else data[:0]
    if n and bool((lengths == width).all()):
        # Every value is exactly `width` bytes: the data buffer is the array already.
        out = np.ascontiguousarray(used).reshape(n, width)
    else:
        out = np.zeros((n, width), dtype=np.uint8)
        for j in range(width):
            rows = np.flatnonzero(lengths > j)
            out[rows, j] = data[starts[rows] + j]
    fits = lengths <= width
    if bool((used == 0).any()):
        fits &= ~pc.match_substring(text, "\x00").to_numpy(zero_copy_only=False)
    return out.view(f"S{width}").ravel(), fits


def _as_words(keys: np.ndarray) -> np.ndarray:
    """``S<w>`` keys (``w <= 8``) as big-endian uint64: numbers in the byte order of the keys."""
    width = keys.dtype.itemsize
    padded = np.zeros((len(keys), 8), dtype=np.uint8)
    padded[:, :width] = keys.view(np.uint8).reshape(len(keys), width)
    return padded.view(">u8").ravel().astype(np.uint64)


class _IdLookup:
    """Positions of ids in the sorted ledger ids, by binary search on fixed-width bytes.

    ``pc.index_in`` builds a hash table of the whole ledger on every call (some 70 bytes an id, for each
    batch of spells); the fixed-width copy costs the longest id's length per person, once. It is used
    only when it is exact: no NUL bytes in the ledger ids and their byte order is numpy's; else this
    falls back to ``pc.index_in``.
    """

    def __init__(self, ids: pa.Array) -> None:
        self.ids = ids
        self.keys: np.ndarray | None = None
        if len(ids) and not ids.null_count:
            width = int(pc.max(pc.binary_length(ids)).as_py())
            keys, fits = _fixed_width(ids, width)
            if bool(fits.all()) and bool(np.all(keys[1:] > keys[:-1])):
                self.keys, self.width = keys, width
                if width <= 8:          # searched as numbers: several times faster than as bytes
                    self.keys = _as_words(keys)

    def index(self, values: pa.Array) -> np.ndarray:
        """Position of each value (int64), -1 when absent or missing."""
        if self.keys is None or values.null_count:
            found = pc.index_in(values, value_set=self.ids)
            return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        keys, fits = _fixed_width(values, self.width)
        if self.width <= 8:
            keys = _as_words(keys)
        pos = np.searchsorted(self.keys, keys)
        found = fits & (pos < len(self.keys))
        found[found] = self.keys[pos[found]] == keys[found]
        return np.where(found, pos, -1).astype(np.int64)


def _in_id_order(ids: pa.Array) -> bool:
    """Whether the ids increase strictly (in the byte order sorting uses): then they are unique and sorting
    them changes nothing, so a ledger exported in id order is not sorted again."""
    return len(ids) < 2 or bool(pc.all(pc.less(ids.slice(0, len(ids) - 1), ids.slice(1))).as_py())
