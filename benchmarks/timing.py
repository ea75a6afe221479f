"""Timing helpers: thread pinning, alternating repeats, medians."""

from __future__ import annotations

import os
import statistics
import sys
import time
from typing import Callable

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def pin_threads(threads: int) -> None:
    """Limit every thread pool (OpenMP, OpenBLAS, MKL, Numba) to ``threads``. Must run before NumPy, Numba or
    PyTorch is imported, since the pools read these variables when they start. Where Numba is imported already (the
    suites called from Python), its variable is left alone, since Numba refuses to compile anything once it changes
    under a running pool; ``numba.set_num_threads`` limits the pool instead."""
    for name in THREAD_VARIABLES:
        if name != "NUMBA_NUM_THREADS" or "numba" not in sys.modules:
            os.environ[name] = str(threads)
    if "numba" in sys.modules:
        import numba

        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def pin_torch_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)


def time_alternating(
    candidates: dict[str, Callable[[], object]], repeat: int, warmup: int = 5, inner: int = 1
) -> dict[str, list[float]]:
    """Call each candidate ``warmup`` times, then ``repeat`` rounds of A B A B ..., so that drift (turbo, other
    load) hits every candidate alike. Each sample is the mean of ``inner`` back-to-back calls, in seconds."""
    for fn in candidates.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(repeat):
        for name, fn in candidates.items():
            start = time.perf_counter()
            for _ in range(inner):
                fn()
            samples[name].append((time.perf_counter() - start) / inner)
    return samples


def summary(samples: list[float]) -> dict[str, float]:
    """Median and minimum of a list of timings (seconds)."""
    return {"median_s": statistics.median(samples), "min_s": min(samples), "runs": len(samples)}
