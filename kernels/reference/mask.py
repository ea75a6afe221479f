"""keep_where: a gradient kept where a mask is true and zeroed elsewhere (the backward of ReLU-like ops).

g: float32/float64 of any shape; keep: bool of g's shape (no broadcasting); the result is a new array like g.
"""

import numpy as np
from minidl_kernels.reference.arguments import float_dtype, shape_of


def check_keep_where_args(g: np.ndarray, keep: np.ndarray) -> None:
    """g a float32/float64 array, keep a bool array of g's shape."""
    float_dtype(g, "g", "keep_where")
    g_shape, keep_shape = shape_of(g, "g", "keep_where"), shape_of(keep, "keep", "keep_where")
    if keep.dtype != np.bool_:
        raise TypeError(f"keep_where: a bool keep expected, got {keep.dtype}")
    if keep_shape != g_shape:
        raise ValueError(f"keep_where: keep of g's shape {g_shape} expected, got {keep_shape}")


def keep_where(g: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """g where ``keep``, an exact 0 elsewhere (also where g is inf or nan). g: float (...), keep: bool, same shape."""
    check_keep_where_args(g, keep)
    return np.where(keep, g, np.zeros((), dtype=g.dtype))
