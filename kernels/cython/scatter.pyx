# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Scatter-add in Cython: ``out[index[i]] += src[i]`` over strided 1-D views, without the GIL."""

from libc.stdint cimport int64_t
cimport cython


ctypedef fused real:
    float
    double


def _scatter_add_loop(real[:] out, const int64_t[:] index, const real[:] src):
    cdef Py_ssize_t i, n = index.shape[0], bad = -1
    cdef int64_t j, m = out.shape[0]
    with nogil:
        for i in range(n):
            j = index[i]
            if j < 0 or j >= m:
                bad = i
                break
            out[j] += src[i]
    return bad


def scatter_add(out, index, src):
    """Add ``src[i]`` into ``out[index[i]]`` for every i, in place; repeated indices accumulate.

    out: (M,) float32/float64, index: (N,) int64 in [0, M), src: (N,) same dtype as out; strided views allowed.
    """
    from minidl_kernels.reference import _check_scatter_args

    _check_scatter_args(out, index, src)
    bad = _scatter_add_loop(out, index, src)
    if bad >= 0:
        raise IndexError(
            f"scatter_add: index[{bad}] = {index[bad]} is out of range for out of size {out.shape[0]} "
            "(entries before it were already added)"
        )
