"""Numba CPU kernels (``@njit(cache=True)``): compiled on first call, then loaded from the on-disk cache, which lives
in a per-user folder outside the package (``minidl_kernels.numba_cache``)."""

from minidl_kernels import numba_cache as _numba_cache  # noqa: F401  (before any kernel module is decorated)
