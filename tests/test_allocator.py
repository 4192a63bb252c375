"""The command line lets glibc keep freed memory for reuse (see trialeval._allocator).

Checked through glibc's own accounting (``mallinfo2``) in a fresh interpreter, since the setting is
process-wide: by default a 16 MB block is mapped on its own and unmapped when freed; after
:func:`keep_freed_memory` it comes from the heap and stays there, free, for the next one.
"""

from __future__ import annotations

import ctypes
import subprocess
import sys

import pytest

SCRIPT = """
import ctypes, sys
class MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                 "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
if sys.argv[1] == "keep":
    from trialeval._allocator import keep_freed_memory
    assert keep_freed_memory()
before = libc.mallinfo2()
block = libc.malloc(16 << 20)
during = libc.mallinfo2()
libc.free(block)
after = libc.mallinfo2()
print(during.hblks - before.hblks, after.fordblks - before.fordblks)
"""


def _glibc_with_mallinfo2() -> bool:
    try:
        return hasattr(ctypes.CDLL(None), "mallinfo2")
    except OSError:
        return False


@pytest.mark.skipif(not _glibc_with_mallinfo2(), reason="glibc's malloc (with mallinfo2) only")
def test_freed_blocks_stay_in_the_heap_for_reuse() -> None:
    def run(mode: str) -> tuple[int, int]:
        out = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, check=True)
        mapped, kept_free = out.stdout.split()
        return int(mapped), int(kept_free)

    assert run("default")[0] == 1                  # glibc's default: the block mapped alone, then unmapped
    mapped, kept_free = run("keep")
    assert mapped == 0 and kept_free >= 16 << 20   # from the heap, and kept free there after free()


def test_the_command_line_sets_it_before_any_work(monkeypatch: pytest.MonkeyPatch) -> None:
    import warnings

    import trialeval.cli as cli
    import trialeval.pipeline as pipeline

    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)     # main() replaces it; put back after

    calls: list[str] = []
    monkeypatch.setattr(pipeline, "keep_freed_memory", lambda: calls.append("set") or True)
    monkeypatch.setattr(cli, "_load", lambda: lambda prog_name: calls.append(prog_name))
    monkeypatch.setattr(sys, "argv", ["trialeval", "panel"])
    cli.main()
    assert calls == ["set", "trialeval"]
