"""Memory: give freed pages back to the operating system, and plan a panel kept in memory."""

from __future__ import annotations

import os
from typing import Any

import pyarrow as pa

from trialeval.exceptions import InputDataError
from trialeval.io import physical_memory

#: Bytes a kept panel holds per person-week (indicator bits, week, hours), for the memory plan.
_KEPT_BYTES_PER_ROW = 4


def _release_memory() -> None:
    """Give freed memory back to the operating system: Arrow's allocator and C ``malloc`` keep freed
    pages for reuse, and after the temporaries of a large step those pages would count in the peak of
    every later step (glibc only for ``malloc``; elsewhere a no-op)."""
    pa.default_memory_pool().release_unused()
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def _find_malloc_trim() -> Any:
    try:
        import ctypes

        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None


_MALLOC_TRIM = _find_malloc_trim() if os.name == "posix" else None

def _check_kept_memory(n_rows: int) -> None:
    """Stop before building a panel that, kept in memory, would need more than the machine has."""
    physical = physical_memory()
    need = n_rows * _KEPT_BYTES_PER_ROW
    if physical is not None and need > physical:
        raise InputDataError(
            f"the panel would hold {n_rows:,} person-weeks, about {need / 2**30:.1f} GB kept in memory, more "
            f"than this machine's {physical / 2**30:.1f} GB; write it to a file with out=... (as "
            "`trialeval panel` does) or pass keep_panel=False, or build fewer weeks")

