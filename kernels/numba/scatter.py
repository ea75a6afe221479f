"""Scatter-add in Numba: the backward of gathering with repeated indices."""

import numpy as np
from minidl_kernels.reference.scatter import check_scatter_args, scatter_index_error
from numba import njit


@njit(cache=True)
def _scatter_add_loop(out, index, src):  # pragma: no cover - compiled
    m = out.shape[0]
    for i in range(index.shape[0]):
        j = index[i]
        if j < 0 or j >= m:
            return i
        out[j] += src[i]
    return -1


def scatter_add(out: np.ndarray, index: np.ndarray, src: np.ndarray) -> None:
    """Add ``src[i]`` into ``out[index[i]]`` for every i, in place; repeated indices accumulate.

    out: (M,) float32/float64, index: (N,) int64 in [0, M), src: (N,) same dtype as out; strided views allowed.
    """
    check_scatter_args(out, index, src)
    bad = _scatter_add_loop(out, index, src)
    if bad >= 0:
        raise scatter_index_error(bad, index, out.shape[0])
