"""im2col / col2im and GEMM: the convolution as a matrix product.

Conventions shared by every implementation:
- x is NCHW; ``kernel_size``, ``stride``, ``dilation`` are (height, width) pairs of ints >= 1;
- ``padding`` is (top, bottom, left, right) of zeros, >= 0 (asymmetric padding serves ``padding='same'`` with
  even kernels);
- the output size is Ho = (H + top + bottom - dh (kh - 1) - 1) // sh + 1, and likewise Wo; both must be >= 1;
- cols is (N, C * kh * kw, Ho * Wo), row index c * kh * kw + i * kw + j, so that for each image
  ``weight.reshape(Cout, -1) @ cols[n]`` is the convolution's output (Cout, Ho * Wo) in NCHW order.
"""

from __future__ import annotations

import numpy as np


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
) -> tuple[int, int]:
    """(Ho, Wo) for an im2col / col2im call, or a clear error for arguments outside the contract (every compiled
    implementation checks its arguments with this)."""
    if len(x_shape) != 4:
        raise ValueError(f"im2col: expected an (N, C, H, W) shape, got {tuple(x_shape)}")
    (kh, kw), (sh, sw), (pt, pb, pl, pr), (dh, dw) = kernel_size, stride, padding, dilation
    if min(kh, kw) < 1 or min(sh, sw) < 1 or min(dh, dw) < 1:
        raise ValueError(
            f"im2col: kernel_size {tuple(kernel_size)}, stride {tuple(stride)} and dilation {tuple(dilation)} "
            "must be >= 1"
        )
    if min(pt, pb, pl, pr) < 0:
        raise ValueError(f"im2col: padding {tuple(padding)} must be >= 0")
    h, w = x_shape[2], x_shape[3]
    ho, wo = conv_output_size((h, w), kernel_size, stride, padding, dilation)
    if ho < 1 or wo < 1:
        raise ValueError(
            f"im2col: a {kh}x{kw} kernel with dilation {tuple(dilation)} does not fit the padded "
            f"{h + pt + pb}x{w + pl + pr} input (output would be {ho}x{wo})"
        )
    return ho, wo


def float_array(x: np.ndarray, name: str) -> np.ndarray:
    """``x`` as a C-contiguous float32/float64 array (a copy only when it is not one), or a TypeError."""
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"{name}: dtype {x.dtype} is not float32 or float64")
    return np.ascontiguousarray(x)


def im2col(
    x: np.ndarray,
    kernel_size: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int, int, int],
    dilation: tuple[int, int],
) -> np.ndarray:
    """The patches of x as columns. x: (N, C, H, W) -> cols: (N, C * kh * kw, Ho * Wo), a new C-contiguous array."""
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (pt, pb, pl, pr), (dh, dw) = kernel_size, stride, padding, dilation
    ho, wo = conv_output_size((h, w), kernel_size, stride, padding, dilation)
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
    n, c, h, w = x_shape
    (kh, kw), (sh, sw), (pt, pb, pl, pr), (dh, dw) = kernel_size, stride, padding, dilation
    ho, wo = conv_output_size((h, w), kernel_size, stride, padding, dilation)
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
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
        raise ValueError(f"gemm: shapes {a.shape} and {b.shape} are not (M, K) and (K, N)")
    if a.dtype != b.dtype:
        raise TypeError(f"gemm: dtypes {a.dtype} and {b.dtype} differ")
    return np.ascontiguousarray(np.matmul(a, b))


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The batched matrix product with ``np.matmul``'s broadcasting, written as a plain sum of products (no BLAS):
    a (..., M, K), b (..., K, N) -> (..., M, N)."""
    return np.einsum("...mk,...kn->...mn", a, b, optimize=False)
