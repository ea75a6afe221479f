"""Scatter-add: the backward of gathering with repeated indices."""

import numpy as np


def check_scatter_args(out: np.ndarray, index: np.ndarray, src: np.ndarray) -> None:
    """The argument checks every scatter_add implementation shares: 1-D arrays, matching lengths and dtypes."""
    if out.ndim != 1 or index.ndim != 1 or src.ndim != 1:
        raise ValueError(
            f"scatter_add expects 1-D out, index and src, got {out.ndim}-D, {index.ndim}-D and {src.ndim}-D"
        )
    if index.shape[0] != src.shape[0]:
        raise ValueError(f"scatter_add: index has {index.shape[0]} elements but src has {src.shape[0]}")
    if out.dtype != src.dtype:
        raise TypeError(f"scatter_add: out is {out.dtype} but src is {src.dtype}")
    if index.dtype != np.int64:
        raise TypeError(f"scatter_add: index must be int64, got {index.dtype}")


def scatter_index_error(position: int, index: np.ndarray, size: int) -> IndexError:
    """The error a compiled scatter_add raises when ``index[position]`` is outside [0, size)."""
    return IndexError(
        f"scatter_add: index[{position}] = {index[position]} is out of range for out of size {size} "
        "(entries before it were already added)"
    )


def scatter_add(out: np.ndarray, index: np.ndarray, src: np.ndarray) -> None:
    """Add ``src[i]`` into ``out[index[i]]`` for every i, in place; repeated indices accumulate.

    out: (M,) float32/float64, index: (N,) int64 with values in [0, M), src: (N,) same dtype as out.
    Any of them may be a strided (non-contiguous) view. Raises IndexError for an index outside [0, M).
    """
    check_scatter_args(out, index, src)
    if index.size and (index.min() < 0 or index.max() >= out.shape[0]):
        raise IndexError(f"scatter_add: index out of range for out of size {out.shape[0]}")
    np.add.at(out, index, src)
