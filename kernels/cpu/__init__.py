"""Numba CPU kernels (``@njit(cache=True)``): compiled on first call, then loaded from the on-disk cache."""
