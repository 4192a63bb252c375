"""How C ``malloc`` keeps freed memory while a command runs (glibc only; elsewhere nothing changes).

glibc gives freed memory back to the operating system as soon as more than 128 KB lie free at the top
of its heap, and serves blocks from about 128 KB up (the limit moves with use) by mapping fresh pages.
numpy's temporaries of a few MB each, made and freed thousands of times over a long panel, then
fault their pages in again every time: on a virtual machine a page fault costs microseconds, and the
effects command spent a quarter of its time in the kernel (``a - b[c]`` on 200,000 values took 3.7 ms
instead of 0.4 ms). :func:`keep_freed_memory` lets the heap keep up to 256 MB free at its top and
serve blocks of up to 32 MB (glibc's largest such limit), so the pages are reused. Memory that a
step frees as a whole is still given back where the panel asks for it (``malloc_trim``).
"""

from __future__ import annotations

import ctypes
import os

#: mallopt's parameters (malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
TRIM_THRESHOLD = 256 << 20
MMAP_THRESHOLD = 32 << 20


def keep_freed_memory() -> bool:
    """Set glibc's trim and mmap thresholds (once per process); False where there is no ``mallopt``."""
    if os.name != "posix":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)) and bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
