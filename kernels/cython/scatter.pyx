# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Scatter-add in Cython: ``out[index[i]] += src[i]`` over strided 1-D arrays, without the GIL.

Contiguous arrays take a loop over plain pointers (as fast as the Numba kernel); strided and reversed views
take a loop over byte strides, with no copy. The element type is a compile-time specialisation (float or
double).
"""

cimport numpy as cnp
from libc.stdint cimport int64_t

from minidl_kernels.reference.scatter import check_scatter_args, scatter_index_error

cnp.import_array()

ctypedef fused real:
    float
    double


cdef Py_ssize_t _scatter_add_contiguous(
    real* out, int64_t m, const int64_t* index, const real* src, Py_ssize_t n
) noexcept nogil:
    """Returns the position of the first out-of-range index, or -1 when all were added."""
    cdef Py_ssize_t i
    cdef int64_t j
    for i in range(n):
        j = index[i]
        if j < 0 or j >= m:
            return i
        out[j] += src[i]
    return -1


cdef Py_ssize_t _scatter_add_strided(
    real* out, Py_ssize_t out_stride, int64_t m,
    const char* index, Py_ssize_t index_stride,
    const char* src, Py_ssize_t src_stride,
    Py_ssize_t n,
) noexcept nogil:
    """Returns the position of the first out-of-range index, or -1 when all were added."""
    cdef Py_ssize_t i
    cdef int64_t j
    cdef char* base = <char*>out
    for i in range(n):
        j = (<const int64_t*>(index + i * index_stride))[0]
        if j < 0 or j >= m:
            return i
        (<real*>(base + j * out_stride))[0] += (<const real*>(src + i * src_stride))[0]
    return -1


def scatter_add(out, index, src):
    """Add ``src[i]`` into ``out[index[i]]`` for every i, in place; repeated indices accumulate.

    out: (M,) float32/float64, index: (N,) int64 in [0, M), src: (N,) same dtype as out; strided views allowed.
    """
    check_scatter_args(out, index, src)  # before the typed views below, so any bad argument gets its message
    cdef cnp.ndarray out_array = out, index_array = index, src_array = src
    cdef Py_ssize_t bad
    cdef Py_ssize_t n = index_array.shape[0]
    cdef int64_t m = out_array.shape[0]
    cdef char* out_data = <char*>cnp.PyArray_DATA(out_array)
    cdef const char* index_data = <const char*>cnp.PyArray_DATA(index_array)
    cdef const char* src_data = <const char*>cnp.PyArray_DATA(src_array)
    cdef Py_ssize_t out_stride = out_array.strides[0], index_stride = index_array.strides[0]
    cdef Py_ssize_t src_stride = src_array.strides[0]
    cdef bint single = out_array.dtype.num == cnp.NPY_FLOAT32
    cdef Py_ssize_t item = 4 if single else 8
    cdef bint contiguous = out_stride == item and src_stride == item and index_stride == 8
    with nogil:
        if contiguous and single:
            bad = _scatter_add_contiguous(<float*>out_data, m, <const int64_t*>index_data, <const float*>src_data, n)
        elif contiguous:
            bad = _scatter_add_contiguous(<double*>out_data, m, <const int64_t*>index_data, <const double*>src_data, n)
        elif single:
            bad = _scatter_add_strided(<float*>out_data, out_stride, m, index_data, index_stride, src_data, src_stride, n)
        else:
            bad = _scatter_add_strided(<double*>out_data, out_stride, m, index_data, index_stride, src_data, src_stride, n)
    if bad >= 0:
        raise scatter_index_error(bad, index, m)
