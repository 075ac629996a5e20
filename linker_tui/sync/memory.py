"""Giving the memory a big sync frees back to the system while the run goes on.

glibc's allocator serves a block from its heap unless it is bigger than its *mmap
threshold*, and gives freed heap back only above its *trim threshold*. Both start at
128 KiB, but each time a block over the mmap threshold is freed glibc raises both to
that block's size (up to 32 MiB): after the first few big NumPy arrays and SQLite
buffers of a run, tens of MiB freed stay in the process. Fixing the thresholds at
128 KiB (as ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` would) keeps big
blocks mapped on their own, returned when freed. Only glibc has these knobs; elsewhere
nothing is done.

It is done only once a run turns out big (a CSV file read while written, an Open
Dental full read): every array over 128 KiB then costs a fresh mapping and its page
faults, which made a run of 1,000 changes in 1M appointments ~0.25 s slower (0.52-0.74
against 0.80-1.18 s); small runs keep glibc's own thresholds.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters
_THRESHOLD = 128 * 1024  # glibc's own starting value, kept from then on
_done = False


def return_freed_memory() -> bool:
    """Fix glibc's mmap and trim thresholds for this process (once); False where the C
    library is not glibc."""
    global _done
    if _done:
        return True
    if platform.libc_ver()[0] != "glibc":
        return False
    path = ctypes.util.find_library("c")
    if path is None:
        return False
    libc = ctypes.CDLL(path)
    ok = bool(libc.mallopt(_M_MMAP_THRESHOLD, _THRESHOLD))
    ok = bool(libc.mallopt(_M_TRIM_THRESHOLD, _THRESHOLD)) and ok
    _done = ok
    return ok
