# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""im2col / col2im in Cython, without the GIL (see ``minidl_kernels.reference.conv`` for the contract: padding
(top, bottom, left, right), any stride and dilation).

For one (image, channel) plane and one kernel offset (i, j), output row oh reads input row
ih = oh * sh + i * dh - top at columns iw = ow * sw + j * dw - left. The range of ow inside the image is worked out
once per (i, j), so the inner loops test no bounds: ``memset`` for the zero padding and, at stride 1, a copy of
the contiguous segment in whole 64-byte chunks (see ``_copy_row_segments``); col2im adds the segments back
instead, plane by plane, so overlapping windows accumulate. The loops are single-threaded (the Numba kernels are
the parallel ones) and compiled for the baseline x86-64 target (no ``-march`` in setup.py).

Non-contiguous inputs (strided, transposed, reversed views) are first copied to a C-contiguous array: for im2col
that copy is kh * kw times smaller than the output it feeds; for col2im it is the size of cols. The element type is
a compile-time specialisation (float or double).
"""

cimport numpy as cnp
from libc.string cimport memcpy, memset

import numpy as np

from minidl_kernels.reference.conv import check_col2im_args, check_im2col_args

cnp.import_array()

ctypedef fused real:
    float
    double


cdef inline void _inside(Py_ssize_t off, Py_ssize_t step, Py_ssize_t size, Py_ssize_t count,
                         Py_ssize_t* lo, Py_ssize_t* hi) noexcept nogil:
    """[lo, hi): the t in [0, count) with 0 <= t * step + off < size (floor divisions on signed values)."""
    cdef Py_ssize_t a, b
    if step == 1:  # no divisions on the common path
        lo[0] = min(count, max(<Py_ssize_t>0, -off))
        hi[0] = max(lo[0], min(count, size - off))
        return
    a = step - 1 - off
    b = size - 1 - off
    a = a // step - (1 if (a % step != 0 and a < 0) else 0)
    b = b // step - (1 if (b % step != 0 and b < 0) else 0) + 1
    lo[0] = min(count, max(<Py_ssize_t>0, a))
    hi[0] = max(lo[0], min(count, b))


cdef inline void _copy_row_segments(const real* src, Py_ssize_t src_step, real* dst, Py_ssize_t wo,
                                    Py_ssize_t rows, Py_ssize_t lo, Py_ssize_t hi,
                                    const real* src_end, real* dst_end) noexcept nogil:
    """For r < rows: dst[r * wo + t] = src[r * src_step + t] for lo <= t < hi, zeros for the other t < wo.

    The copies go in whole 64-byte chunks, which the compiler turns into a few vector moves (a call to memcpy per
    short segment costs more than the copy). The last chunk may run past a segment's end: that is safe when it
    stays below src_end and dst_end, since whatever it overwrites in dst is written afterwards (segments are
    written in increasing address order, and the caller passes the end of the region it writes in order)."""
    cdef Py_ssize_t chunk = 64 // sizeof(real)
    cdef Py_ssize_t count = hi - lo, r, t
    cdef Py_ssize_t padded = (count + chunk - 1) & -chunk  # chunk is a power of two
    # The segments r < whole may overrun; only the last few can reach src_end or dst_end.
    cdef Py_ssize_t whole = rows
    while whole > 0 and (src + (whole - 1) * src_step + lo + padded > src_end
                         or dst + (whole - 1) * wo + lo + padded > dst_end):
        whole -= 1
    src = src + lo
    if lo == 0 and hi == wo and padded == chunk:  # the common case: one chunk per segment, no zero padding
        for r in range(whole):
            memcpy(dst, src, 64)
            dst += wo
            src += src_step
    else:
        for r in range(whole):
            if lo > 0:
                memset(dst, 0, lo * sizeof(real))
            t = 0
            while t < padded:
                memcpy(dst + lo + t, src + t, 64)
                t += chunk
            if hi < wo:
                memset(dst + hi, 0, (wo - hi) * sizeof(real))
            dst += wo
            src += src_step
    for r in range(whole, rows):  # copied exactly
        memset(dst, 0, lo * sizeof(real))
        memcpy(dst + lo, src, count * sizeof(real))
        memset(dst + hi, 0, (wo - hi) * sizeof(real))
        dst += wo
        src += src_step


cdef void _im2col(const real* x, Py_ssize_t planes, Py_ssize_t h, Py_ssize_t w,
                  Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t pt, Py_ssize_t pl,
                  Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t ho, Py_ssize_t wo, real* cols) noexcept nogil:
    cdef Py_ssize_t plane, i, j, oh, t, oh_lo, oh_hi, ow_lo, ow_hi, off
    cdef const real* src
    cdef const real* x_end = x + planes * h * w
    cdef real* row
    cdef real* dst
    for plane in range(planes):
        for i in range(kh):
            _inside(i * dh - pt, sh, h, ho, &oh_lo, &oh_hi)
            for j in range(kw):
                row = cols + ((plane * kh + i) * kw + j) * ho * wo
                off = j * dw - pl
                _inside(off, sw, w, wo, &ow_lo, &ow_hi)
                memset(row, 0, oh_lo * wo * sizeof(real))
                src = x + (plane * h + oh_lo * sh + i * dh - pt) * w + off
                if sw == 1:
                    _copy_row_segments(src, sh * w, row + oh_lo * wo, wo, oh_hi - oh_lo, ow_lo, ow_hi,
                                       x_end, cols + (plane + 1) * kh * kw * ho * wo)
                else:
                    for oh in range(oh_lo, oh_hi):
                        dst = row + oh * wo
                        memset(dst, 0, ow_lo * sizeof(real))
                        for t in range(ow_lo, ow_hi):
                            dst[t] = src[t * sw]
                        memset(dst + ow_hi, 0, (wo - ow_hi) * sizeof(real))
                        src += sh * w
                memset(row + oh_hi * wo, 0, (ho - oh_hi) * wo * sizeof(real))


cdef void _col2im(const real* cols, Py_ssize_t planes, Py_ssize_t h, Py_ssize_t w,
                  Py_ssize_t kh, Py_ssize_t kw, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t pt, Py_ssize_t pl,
                  Py_ssize_t dh, Py_ssize_t dw, Py_ssize_t ho, Py_ssize_t wo, real* dx) noexcept nogil:
    cdef Py_ssize_t plane, i, j, oh, t, oh_lo, oh_hi, ow_lo, ow_hi, off
    cdef const real* src
    cdef real* dst
    memset(dx, 0, planes * h * w * sizeof(real))
    for plane in range(planes):
        for i in range(kh):
            _inside(i * dh - pt, sh, h, ho, &oh_lo, &oh_hi)
            for j in range(kw):
                off = j * dw - pl
                _inside(off, sw, w, wo, &ow_lo, &ow_hi)
                for oh in range(oh_lo, oh_hi):
                    src = cols + ((plane * kh + i) * kw + j) * ho * wo + oh * wo
                    dst = dx + (plane * h + oh * sh + i * dh - pt) * w + off
                    if sw == 1:
                        for t in range(ow_lo, ow_hi):
                            dst[t] += src[t]
                    else:
                        for t in range(ow_lo, ow_hi):
                            dst[t * sw] += src[t]


def im2col(x, kernel_size, stride, padding, dilation):
    """The patches of x as columns. x: (N, C, H, W) float32/float64, any strides -> cols:
    (N, C * kh * kw, Ho * Wo), a new C-contiguous array of x's dtype."""
    ho, wo = check_im2col_args(x, kernel_size, stride, padding, dilation)
    cdef cnp.ndarray xc = np.ascontiguousarray(x)
    cdef Py_ssize_t n = xc.shape[0], c = xc.shape[1], h = xc.shape[2], w = xc.shape[3]
    cdef Py_ssize_t kh = kernel_size[0], kw = kernel_size[1], sh = stride[0], sw = stride[1]
    cdef Py_ssize_t pt = padding[0], pl = padding[2], dh = dilation[0], dw = dilation[1]
    cdef Py_ssize_t ho_ = ho, wo_ = wo
    cdef cnp.ndarray cols = np.empty((n, c * kh * kw, ho * wo), dtype=xc.dtype)
    cdef void* xd = cnp.PyArray_DATA(xc)
    cdef void* cd = cnp.PyArray_DATA(cols)
    cdef bint single = xc.dtype.num == cnp.NPY_FLOAT32
    with nogil:
        if single:
            _im2col(<const float*>xd, n * c, h, w, kh, kw, sh, sw, pt, pl, dh, dw, ho_, wo_, <float*>cd)
        else:
            _im2col(<const double*>xd, n * c, h, w, kh, kw, sh, sw, pt, pl, dh, dw, ho_, wo_, <double*>cd)
    return cols


def col2im(cols, x_shape, kernel_size, stride, padding, dilation):
    """The adjoint of im2col: every column entry added back into the pixel it was read from (zero padding
    dropped). cols: (N, C * kh * kw, Ho * Wo) float32/float64, any strides -> dx: (N, C, H, W), a new
    C-contiguous array of cols' dtype."""
    ho, wo = check_col2im_args(cols, x_shape, kernel_size, stride, padding, dilation)
    n, c, h, w = (int(v) for v in x_shape)
    kh, kw = kernel_size
    cdef cnp.ndarray cc = np.ascontiguousarray(cols)
    cdef cnp.ndarray dx = np.empty((n, c, h, w), dtype=cc.dtype)
    cdef Py_ssize_t planes = n * c, h_ = h, w_ = w, kh_ = kh, kw_ = kw
    cdef Py_ssize_t sh = stride[0], sw = stride[1], pt = padding[0], pl = padding[2]
    cdef Py_ssize_t dh = dilation[0], dw = dilation[1], ho_ = ho, wo_ = wo
    cdef void* cd = cnp.PyArray_DATA(cc)
    cdef void* dd = cnp.PyArray_DATA(dx)
    cdef bint single = cc.dtype.num == cnp.NPY_FLOAT32
    with nogil:
        if single:
            _col2im(<const float*>cd, planes, h_, w_, kh_, kw_, sh, sw, pt, pl, dh, dw, ho_, wo_, <float*>dd)
        else:
            _col2im(<const double*>cd, planes, h_, w_, kh_, kw_, sh, sw, pt, pl, dh, dw, ho_, wo_, <double*>dd)
    return dx
