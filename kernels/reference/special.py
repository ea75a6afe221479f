"""Special functions NumPy lacks, element by element through Python's math module (slow, exact).

x: float32/float64 of any shape; the result is a new array of x's shape and dtype.
"""

import math

import numpy as np
from minidl_kernels.reference.arguments import float_dtype, shape_of


def check_erf_args(x: np.ndarray) -> None:
    """x a float32/float64 array."""
    shape_of(x, "x", "erf")
    float_dtype(x, "x", "erf")


def erf(x: np.ndarray) -> np.ndarray:
    """The error function, element-wise. x: any shape, float32/float64; returns the same shape and dtype."""
    check_erf_args(x)
    return np.vectorize(math.erf, otypes=[x.dtype])(x).astype(x.dtype, copy=False)
