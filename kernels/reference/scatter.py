"""Scatter-add: the backward of gathering with repeated indices.

out: (M,) float32/float64, writable; index: (N,) int64 with values in [0, M); src: (N,) of out's dtype. Any of them
may be a strided view. ``check_scatter_args`` checks all but the index values, once, for every implementation;
each checks the values itself as it goes (IndexError, ``scatter_index_error``).
"""

import numpy as np
from minidl_kernels.reference.arguments import float_dtype, shape_of

_WHAT = "scatter_add"


def check_scatter_args(out: np.ndarray, index: np.ndarray, src: np.ndarray) -> None:
    """The argument checks every scatter_add implementation shares: 1-D arrays, matching lengths, float dtypes
    (out and src alike), int64 indices, a writable out."""
    shapes = [shape_of(a, name, _WHAT) for a, name in ((out, "out"), (index, "index"), (src, "src"))]
    if any(len(shape) != 1 for shape in shapes):
        given = ", ".join(f"{len(s)}-D" for s in shapes)
        raise ValueError(f"{_WHAT}: 1-D out, index and src expected, got {given}")
    if shapes[1] != shapes[2]:
        raise ValueError(f"{_WHAT}: index and src of one length expected, got {shapes[1][0]} and {shapes[2][0]}")
    dtype = float_dtype(out, "out", _WHAT)
    if src.dtype != dtype:
        raise TypeError(f"{_WHAT}: src of out's dtype {dtype} expected, got {src.dtype}")
    if index.dtype != np.int64:
        raise TypeError(f"{_WHAT}: int64 index expected, got {index.dtype}")
    if not getattr(getattr(out, "flags", None), "writeable", True):
        raise ValueError(f"{_WHAT}: a writable out expected, got a read-only array")


def scatter_index_error(position: int, index: np.ndarray, size: int) -> IndexError:
    """The error a compiled scatter_add raises when ``index[position]`` is outside [0, size)."""
    return IndexError(
        f"{_WHAT}: index[{position}] in [0, {size}) expected, got {index[position]}: out of range "
        "(entries before it were already added)"
    )


def scatter_add(out: np.ndarray, index: np.ndarray, src: np.ndarray) -> None:
    """Add ``src[i]`` into ``out[index[i]]`` for every i, in place; repeated indices accumulate.

    out: (M,) float32/float64, index: (N,) int64 with values in [0, M), src: (N,) same dtype as out.
    Any of them may be a strided (non-contiguous) view. Raises IndexError for an index outside [0, M).
    """
    check_scatter_args(out, index, src)
    if index.size and (index.min() < 0 or index.max() >= out.shape[0]):
        raise IndexError(f"{_WHAT}: indices in [0, {out.shape[0]}) expected, got some out of range")
    np.add.at(out, index, src)
