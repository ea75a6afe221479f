"""Log-softmax over the rows of a matrix: the shared core of softmax, log_softmax and cross-entropy."""

from __future__ import annotations

import numpy as np
from minidl_kernels.reference.arguments import FLOATS, show


def check_log_softmax_args(x: np.ndarray) -> None:
    """x must be a 2-D float32/float64 array (rows, classes) with at least one class."""
    if not hasattr(x, "shape") or not hasattr(x, "dtype"):
        raise TypeError(f"log_softmax: x must be an array, got {type(x).__name__}")
    if len(x.shape) != 2 or x.shape[1] < 1:
        raise ValueError(
            f"log_softmax: x must be 2-D (rows, classes) with at least one class, got shape {show(x.shape)}"
        )
    if x.dtype not in FLOATS:
        raise TypeError(f"log_softmax: x must be float32 or float64, got {x.dtype}")


def log_softmax(x: np.ndarray) -> np.ndarray:
    """x: (M, C) -> (M, C), row by row: x - max - log(sum(exp(x - max))), exact for logits in the thousands
    (an infinite or NaN row gives NaN where the arithmetic does)."""
    check_log_softmax_args(x)
    shifted = x - np.max(x, axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))).astype(x.dtype, copy=False)
