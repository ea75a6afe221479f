"""Helpers of the fault tests: temporary names as killed and live writers leave them, and the peak memory a call
takes."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tracemalloc
from typing import Iterator

from minidl import tempfiles


def dead_pid() -> int:
    """The pid of a process that has ended (and been waited for)."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True)
    return int(done.stdout)


def owned_name(destination: str, suffix: str, pid: int, host: str | None = None) -> str:
    """A temporary name of ``destination`` as process ``pid`` of ``host`` (default: this one) writes it."""
    name = tempfiles.temp_name(destination, suffix)
    mine = f"-{os.getpid()}."
    prefix, _, random = name.rpartition(mine)
    if host is not None:
        prefix = prefix[: prefix.rindex(".") + 1] + host
    return f"{prefix}-{pid}.{random}"


def stale_and_live_names(destination: str, suffix: str, legacy_random: str = "0123456789ab") -> dict[str, bool]:
    """Temporary names of ``destination``, each with whether ``tempfiles.remove_stale`` must remove it: one of the
    older unowned form, one of a killed process of this host (removed); one of this live process, one of another
    host (kept)."""
    return {
        f".{destination}.{legacy_random}{suffix}": True,
        owned_name(destination, suffix, dead_pid()): True,
        owned_name(destination, suffix, os.getpid()): False,
        owned_name(destination, suffix, dead_pid(), host="another-host"): False,
    }


@contextlib.contextmanager
def traced_peak() -> Iterator[list[int]]:
    """Trace allocations (Python objects and NumPy arrays) in the block; the list it yields then holds the peak,
    in bytes."""
    peak: list[int] = []
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    try:
        yield peak
    finally:
        peak.append(tracemalloc.get_traced_memory()[1] - base)
        if started:
            tracemalloc.stop()
