"""Thread settings shared by the examples (``--threads N``).

Every thread pool (OpenMP, OpenBLAS, MKL, Numba) reads its size from the environment when it starts, so a script
pins them from its command line before NumPy and Numba are imported; ``limit_numba_threads`` covers the case
where they started first (``main()`` called from Python, as the tests do).
"""

from __future__ import annotations

import os
import sys

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def pin_threads(threads: int | None) -> None:
    """Limit every thread pool to ``threads`` (None: leave them alone); only effective before they start, except
    Numba's: once Numba is imported its variable stays as it is (Numba refuses to compile anything after it changes
    under a running pool) and ``limit_numba_threads`` applies the limit."""
    if threads is None:
        return
    for name in THREAD_VARIABLES:
        if name != "NUMBA_NUM_THREADS" or "numba" not in sys.modules:
            os.environ[name] = str(threads)
    if "numba" in sys.modules:
        limit_numba_threads(threads)


DEFAULT_THREADS = 1  # every example's --threads default: 1 thread is the comparison the README's figures use


def threads_flag(argv: list[str]) -> int:
    """The value of ``--threads N`` / ``--threads=N`` in ``argv``, else ``DEFAULT_THREADS`` (argparse checks the
    value properly later)."""
    for i, arg in enumerate(argv):
        value = argv[i + 1] if arg == "--threads" and i + 1 < len(argv) else arg.partition("--threads=")[2]
        if value.isdigit() and int(value) > 0:
            return int(value)
    return DEFAULT_THREADS


def limit_numba_threads(threads: int | None) -> None:
    """Apply ``threads`` to Numba when it started before ``pin_threads`` could run; NumPy's BLAS keeps the
    threads it started with."""
    if threads is not None:
        import numba

        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
