"""im2col / col2im in numba.cuda: the convolution as a matrix product, on device arrays.

``im2col`` runs one thread per element of cols: thread e finds its (image, channel, kernel offset, output pixel)
and copies the input pixel that position reads, or writes the zero of the padding. Consecutive threads handle
consecutive output pixels of one row of cols, so the writes are coalesced and, at stride 1, so are the reads.

``col2im`` is its adjoint written as a gather: one thread per input pixel sums the kh * kw column entries at most
that read it (an entry exists where the pixel sits on the stride grid of output pixels), so every output element
is written once and no atomics are needed.

Geometry as in ``minidl_kernels.reference.conv``: padding is (top, bottom, left, right); the bottom and right
paddings only shape (Ho, Wo), which the kernels receive.
"""

from __future__ import annotations

from typing import Any, Callable

from minidl_kernels.cuda import runtime
from minidl_kernels.reference.conv import check_col2im_args, check_im2col_args
from numba import cuda


@cuda.jit
def _im2col_kernel(x, kh, kw, sh, sw, pt, pl, dh, dw, ho, wo, cols):
    """x: (N, C, H, W) -> cols: flat (N, C * kh * kw, Ho * Wo), one thread per element of cols."""
    e = cuda.grid(1)
    if e >= cols.size:
        return
    _, c, h, w = x.shape
    ow = e % wo
    t = e // wo
    oh = t % ho
    t //= ho
    j = t % kw
    t //= kw
    i = t % kh
    t //= kh
    channel = t % c
    image = t // c
    row = oh * sh + i * dh - pt
    col = ow * sw + j * dw - pl
    if 0 <= row < h and 0 <= col < w:
        cols[e] = x[image, channel, row, col]
    else:
        cols[e] = 0


@cuda.jit
def _col2im_kernel(cols, c, h, w, kh, kw, sh, sw, pt, pl, dh, dw, ho, wo, dx):
    """cols: (N, C * kh * kw, Ho * Wo) -> dx: flat (N, C, H, W), one thread per pixel of dx summing the column
    entries read from it."""
    e = cuda.grid(1)
    if e >= dx.size:
        return
    col = e % w
    t = e // w
    row = t % h
    t //= h
    channel = t % c
    image = t // c
    # At most kh * kw terms: the sum is kept in float64 for either dtype (the kernel is memory-bound).
    total = 0.0
    for i in range(kh):
        # Output row oh reads this pixel through kernel row i when oh * sh + i * dh - pt == row.
        dy = row + pt - i * dh
        if dy < 0 or dy % sh != 0 or dy // sh >= ho:
            continue
        oh = dy // sh
        for j in range(kw):
            dxw = col + pl - j * dw
            if dxw < 0 or dxw % sw != 0 or dxw // sw >= wo:
                continue
            total += cols[image, (channel * kh + i) * kw + j, oh * wo + dxw // sw]
    dx[e] = total


def _signatures(dtype: str) -> tuple[str, str]:
    ints = ", ".join(["int64"] * 10)
    return (
        f"void({dtype}[:, :, :, ::1], {ints}, {dtype}[::1])",
        f"void({dtype}[:, :, ::1], int64, int64, int64, {ints}, {dtype}[::1])",
    )


PTX_CHECKS: list[tuple[Callable, str]] = [
    check
    for dtype in ("float32", "float64")
    for check in zip((_im2col_kernel.py_func, _col2im_kernel.py_func), _signatures(dtype))
]


def im2col(
    x: Any,
    kernel_size: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int, int, int],
    dilation: tuple[int, int],
) -> Any:
    """The patches of x as columns. x: (N, C, H, W) float32/float64, any strides -> cols:
    (N, C * kh * kw, Ho * Wo), a new C-contiguous device array of x's dtype."""
    ho, wo = check_im2col_args(x, kernel_size, stride, padding, dilation)
    x = runtime.contiguous(x)
    n, c = x.shape[:2]
    (kh, kw), (sh, sw), (pt, _, pl, _), (dh, dw) = kernel_size, stride, padding, dilation
    cols = runtime.empty((n, c * kh * kw, ho * wo), x.dtype)
    runtime.launch_1d(_im2col_kernel, cols.size, x, kh, kw, sh, sw, pt, pl, dh, dw, ho, wo, cols.reshape(-1))
    return cols


def col2im(
    cols: Any,
    x_shape: tuple[int, int, int, int],
    kernel_size: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int, int, int],
    dilation: tuple[int, int],
) -> Any:
    """The adjoint of im2col: every column entry added back into the pixel it was read from (zero padding
    dropped). cols: (N, C * kh * kw, Ho * Wo) float32/float64, any strides -> dx: (N, C, H, W), a new C-contiguous
    device array of cols' dtype."""
    ho, wo = check_col2im_args(cols, x_shape, kernel_size, stride, padding, dilation)
    cols = runtime.contiguous(cols)
    n, c, h, w = x_shape
    (kh, kw), (sh, sw), (pt, _, pl, _), (dh, dw) = kernel_size, stride, padding, dilation
    dx = runtime.empty((n, c, h, w), cols.dtype)
    runtime.launch_1d(_col2im_kernel, dx.size, cols, c, h, w, kh, kw, sh, sw, pt, pl, dh, dw, ho, wo, dx.reshape(-1))
    return dx
