"""Special functions NumPy lacks, compiled with Numba (the C library's erf/erff)."""

import math

import numpy as np
from minidl_kernels.reference.special import check_erf_args
from numba import njit


@njit(cache=True)
def _erf_loop(x, out):  # pragma: no cover - compiled
    for i in range(x.shape[0]):
        out[i] = math.erf(x[i])


def erf(x: np.ndarray) -> np.ndarray:
    """The error function, element-wise. x: any shape, float32/float64; returns a new array, same shape/dtype."""
    check_erf_args(x)
    flat = np.ascontiguousarray(x).reshape(-1)
    out = np.empty_like(flat)
    _erf_loop(flat, out)
    return out.reshape(x.shape)
