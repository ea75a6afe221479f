"""How the CPU backend asks the C allocator to treat NumPy's large temporaries.

A training step allocates the same large arrays again and again (im2col columns, activations, gradients). glibc's
malloc serves blocks from 128 KiB up with fresh ``mmap`` pages and returns them to the OS on ``free``, so every
step faults every page of every temporary in again: on LeNet-5 at batch 64 that was ~3,000 page faults and ~5 ms
of a ~12 ms step. Serving blocks up to 32 MiB from the heap and keeping freed memory there makes a reused block
cost nothing; the price is that the process keeps its peak memory instead of shrinking after it.

``keep_freed_memory()`` runs when the CPU backend is imported, unless ``MINIDL_KEEP_FREED_MEMORY=0``; where the C
library is not glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)


def keep_freed_memory(threshold: int = 32 * 2**20) -> bool:
    """Make glibc's malloc serve blocks up to ``threshold`` bytes from its heap and keep up to 4 × that of freed
    memory (the environment's ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_``). False where it could not."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, threshold)) and bool(mallopt(_M_TRIM_THRESHOLD, 4 * threshold))


def configure_from_environment() -> bool:
    """Apply ``keep_freed_memory()`` unless ``MINIDL_KEEP_FREED_MEMORY`` is "0"; True when it took effect."""
    if os.environ.get("MINIDL_KEEP_FREED_MEMORY", "1") == "0":
        return False
    return keep_freed_memory()
