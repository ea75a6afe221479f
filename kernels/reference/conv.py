"""im2col / col2im and GEMM: the convolution as a matrix product.

Conventions shared by every implementation:
- x is NCHW; ``kernel_size``, ``stride``, ``dilation`` are (height, width) pairs of ints >= 1;
- ``padding`` is (top, bottom, left, right) of zeros, >= 0 (asymmetric padding serves ``padding='same'`` with
  even kernels);
- the output size is Ho = (H + top + bottom - dh (kh - 1) - 1) // sh + 1, and likewise Wo; both must be >= 1;
- cols is (N, C * kh * kw, Ho * Wo), row index c * kh * kw + i * kw + j, so that for each image
  ``weight.reshape(Cout, -1) @ cols[n]`` is the convolution's output (Cout, Ho * Wo) in NCHW order;
- arrays are float32 or float64 (both operands of gemm and matmul of one dtype).

The checks of these rules live here, once (``check_conv_args`` and the ``check_*_args`` built on it); every
implementation calls them before it touches memory, and the depthwise kernels reuse the geometry check.
"""

from __future__ import annotations

import numpy as np
from minidl_kernels.reference.arguments import float_array_shape, float_dtype, int_tuple, nchw_shape, shape_of, show


def conv_output_size(
    size: tuple[int, int],
    kernel_size: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int, int, int],
    dilation: tuple[int, int],
) -> tuple[int, int]:
    """(Ho, Wo) of a convolution or pooling window sweep over an (H, W) input (see the module docstring)."""
    (h, w), (kh, kw), (sh, sw), (pt, pb, pl, pr), (dh, dw) = size, kernel_size, stride, padding, dilation
    return (h + pt + pb - dh * (kh - 1) - 1) // sh + 1, (w + pl + pr - dw * (kw - 1) - 1) // sw + 1


def check_conv_args(
    x_shape: tuple[int, ...],
    kernel_size: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int, int, int],
    dilation: tuple[int, int],
    what: str = "im2col",
) -> tuple[int, int]:
    """(Ho, Wo) of a window sweep over an (N, C, H, W) input, or a clear error for arguments outside the module's
    contract: every im2col, col2im and depthwise implementation checks its geometry with this."""
    _, _, h, w = nchw_shape(x_shape, "x_shape", what)
    kh, kw = int_tuple(kernel_size, 2, 1, "kernel_size", what)
    int_tuple(stride, 2, 1, "stride", what)
    pt, pb, pl, pr = int_tuple(padding, 4, 0, "padding (top, bottom, left, right)", what)
    int_tuple(dilation, 2, 1, "dilation", what)
    ho, wo = conv_output_size((h, w), kernel_size, stride, padding, dilation)
    if ho < 1 or wo < 1:
        raise ValueError(
            f"{what}: a kernel that fits the padded input expected, got a {kh}x{kw} kernel with dilation "
            f"{show(dilation)} on a padded {h + pt + pb}x{w + pl + pr} input (it does not fit: output {ho}x{wo})"
        )
    return ho, wo


def check_im2col_args(x, kernel_size, stride, padding, dilation) -> tuple[int, int]:
    """(Ho, Wo) for ``im2col(x, ...)``: x a float32/float64 (N, C, H, W) array, the geometry as above."""
    shape = float_array_shape(x, "x", "(N, C, H, W)", "im2col")
    return check_conv_args(shape, kernel_size, stride, padding, dilation, "im2col")


def check_col2im_args(cols, x_shape, kernel_size, stride, padding, dilation) -> tuple[int, int]:
    """(Ho, Wo) for ``col2im(cols, x_shape, ...)``: cols a float32/float64 array of im2col's output shape
    (N, C * kh * kw, Ho * Wo) for an input of ``x_shape``."""
    ho, wo = check_conv_args(x_shape, kernel_size, stride, padding, dilation, "col2im")
    (n, c), (kh, kw) = x_shape[:2], kernel_size
    expected = (n, c * kh * kw, ho * wo)
    shape = shape_of(cols, "cols", "col2im")
    if tuple(shape) != expected:
        raise ValueError(
            f"col2im: cols of shape {show(expected)} (N, C * kh * kw, Ho * Wo) expected, got {show(shape)}"
        )
    float_dtype(cols, "cols", "col2im")
    return ho, wo


def check_gemm_args(a, b, what: str = "gemm") -> None:
    """a (M, K) and b (K, N), both float32 or both float64."""
    shape_a, shape_b = shape_of(a, "a", what), shape_of(b, "b", what)
    if len(shape_a) != 2 or len(shape_b) != 2 or shape_a[1] != shape_b[0]:
        raise ValueError(f"{what}: a (M, K) and b (K, N) expected, got shapes {show(shape_a)} and {show(shape_b)}")
    _same_float_dtype(a, b, what)


def check_matmul_args(a, b, what: str = "matmul") -> tuple[int, ...]:
    """The batch shape of a (..., M, K) @ b (..., K, N), whose batch dims broadcast; both float32 or both float64."""
    shape_a, shape_b = shape_of(a, "a", what), shape_of(b, "b", what)
    if len(shape_a) < 2 or len(shape_b) < 2 or shape_a[-1] != shape_b[-2]:
        raise ValueError(
            f"{what}: a (..., M, K) and b (..., K, N) expected, got shapes {show(shape_a)} and {show(shape_b)}"
        )
    _same_float_dtype(a, b, what)
    batch = _broadcast(shape_a[:-2], shape_b[:-2])
    if batch is None:
        raise ValueError(f"{what}: batch dims that broadcast expected, got shapes {show(shape_a)} and {show(shape_b)}")
    return batch


def _broadcast(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...] | None:
    """The broadcast of two shapes, or None when they do not broadcast (``np.broadcast_shapes`` costs ~20 us)."""
    if a == b:
        return a
    if len(a) < len(b):
        a, b = b, a
    b = (1,) * (len(a) - len(b)) + b
    if any(x != y and x != 1 and y != 1 for x, y in zip(a, b)):
        return None
    return tuple(y if x == 1 else x for x, y in zip(a, b))


def _same_float_dtype(a, b, what: str) -> None:
    dtype = float_dtype(a, "a", what)
    if float_dtype(b, "b", what) != dtype:
        raise TypeError(f"{what}: a and b of one dtype expected, got {a.dtype} and {b.dtype}")


def im2col(
    x: np.ndarray,
    kernel_size: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int, int, int],
    dilation: tuple[int, int],
) -> np.ndarray:
    """The patches of x as columns. x: (N, C, H, W) -> cols: (N, C * kh * kw, Ho * Wo), a new C-contiguous array."""
    ho, wo = check_im2col_args(x, kernel_size, stride, padding, dilation)
    n, c = x.shape[:2]
    (kh, kw), (sh, sw), (pt, pb, pl, pr), (dh, dw) = kernel_size, stride, padding, dilation
    padded = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    cols = np.empty((n, c, kh, kw, ho, wo), dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, i, j] = padded[
                :, :, i * dh : i * dh + sh * (ho - 1) + 1 : sh, j * dw : j * dw + sw * (wo - 1) + 1 : sw
            ]
    return cols.reshape(n, c * kh * kw, ho * wo)


def col2im(
    cols: np.ndarray,
    x_shape: tuple[int, int, int, int],
    kernel_size: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int, int, int],
    dilation: tuple[int, int],
) -> np.ndarray:
    """The adjoint of im2col: every column entry added back into the pixel it was read from (zero padding
    dropped). cols: (N, C * kh * kw, Ho * Wo) -> dx: (N, C, H, W), a new array of cols' dtype."""
    ho, wo = check_col2im_args(cols, x_shape, kernel_size, stride, padding, dilation)
    n, c, h, w = x_shape
    (kh, kw), (sh, sw), (pt, pb, pl, pr), (dh, dw) = kernel_size, stride, padding, dilation
    padded = np.zeros((n, c, h + pt + pb, w + pl + pr), dtype=cols.dtype)
    blocks = cols.reshape(n, c, kh, kw, ho, wo)
    for i in range(kh):
        for j in range(kw):
            padded[:, :, i * dh : i * dh + sh * (ho - 1) + 1 : sh, j * dw : j * dw + sw * (wo - 1) + 1 : sw] += blocks[
                :, :, i, j
            ]
    return np.ascontiguousarray(padded[:, :, pt : pt + h, pl : pl + w])


def gemm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The matrix product a @ b. a: (M, K), b: (K, N), any strides, same float dtype -> (M, N), C-contiguous."""
    check_gemm_args(a, b)
    return np.ascontiguousarray(np.matmul(a, b))


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The batched matrix product with ``np.matmul``'s broadcasting, written as a plain sum of products (no BLAS):
    a (..., M, K), b (..., K, N), both float32 or both float64 -> (..., M, N)."""
    check_matmul_args(a, b)
    return np.einsum("...mk,...kn->...mn", a, b, optimize=False)
