"""Special functions NumPy lacks, element by element through Python's math module (slow, exact)."""

import math

import numpy as np


def erf(x: np.ndarray) -> np.ndarray:
    """The error function, element-wise. x: any shape, float32/float64; returns the same shape and dtype."""
    return np.vectorize(math.erf, otypes=[x.dtype])(x).astype(x.dtype, copy=False)
