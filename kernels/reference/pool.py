"""Max and average pooling over NCHW windows, forward and backward.

Conventions shared by every implementation: ``kernel_size``, ``stride``, ``dilation`` are (height, width) pairs of
ints >= 1 (average pooling has no dilation: 1); ``padding`` is (ph, pw), the same on both sides (PyTorch's
pooling), from 0 to half the dilated kernel's extent, (d (k - 1) + 1) // 2;
``out_size`` is (Ho, Wo), decided by the caller (it knows ``ceil_mode``): along each dim either the floor size
(H + 2 p - d (k - 1) - 1) // s + 1 >= 1 or the ceil_mode size (the same division rounded up, less one when that last
window would start past the input and its left padding). Windows may then run past the padded input on the
bottom/right, and those positions are simply not part of the window; every window must hold at least one input
element. Arrays are float32 or float64; max pooling's indices are int64 (h * W + w in the input plane).

The checks of these rules live here, once (``check_*_args``); every implementation calls them before it touches
memory.
"""

from __future__ import annotations

import numpy as np
from minidl_kernels.reference.arguments import (
    float_array_shape,
    int_tuple,
    nchw_shape,
    positive_int,
    shape_of,
    show,
)


def pool_output_sizes(size: int, kernel: int, stride: int, pad: int, dilation: int) -> tuple[int, int]:
    """The output lengths along one dim a caller may choose: (floor, ceil_mode), as PyTorch computes them (ceil_mode
    drops a last window that would start past the input and its left padding)."""
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    floor, ceil = span // stride + 1, -(-span // stride) + 1
    if (ceil - 1) * stride >= size + pad:
        ceil -= 1
    return floor, ceil


def _first_window_without_input(size: int, out: int, kernel: int, stride: int, pad: int, dilation: int) -> int:
    """The first of ``out`` windows along one dim whose taps all miss [0, size), or -1. Only windows that start
    in the padding can (a window starting inside the input holds its first tap, and none starts past it), so
    this looks at the first ceil(pad / stride) of them."""
    for o in range(min(out, -(-pad // stride))):
        start = o * stride - pad
        first = -(start // dilation)  # the first tap t with start + t * dilation >= 0: ceil(-start / dilation)
        if first >= kernel or start + first * dilation >= size:
            return o
    return -1


def check_pool_args(
    x_shape: tuple[int, int, int, int],
    kernel_size: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    out_size: tuple[int, int],
    what: str,
    out_name: str = "out_size",
) -> None:
    """The window geometry of a pooling kernel over an input of ``x_shape`` (see the module docstring)."""
    _, _, h, w = nchw_shape(x_shape, "x_shape", what)
    kernel = int_tuple(kernel_size, 2, 1, "kernel_size", what)
    strides = int_tuple(stride, 2, 1, "stride", what)
    pads = int_tuple(padding, 2, 0, "padding (ph, pw)", what)
    dilations = int_tuple(dilation, 2, 1, "dilation", what)
    outs = int_tuple(out_size, 2, 1, out_name, what)
    for axis, size, k, s, p, d, o in zip("HW", (h, w), kernel, strides, pads, dilations, outs):
        if p > (d * (k - 1) + 1) // 2:
            raise ValueError(
                f"{what}: padding at most half the dilated kernel expected, got padding {show(padding)} for kernel "
                f"{show(kernel_size)} and dilation {show(dilation)}"
            )
        floor, ceil = pool_output_sizes(size, k, s, p, d)
        if floor < 1:
            raise ValueError(
                f"{what}: a window that fits the padded input expected, got a kernel of {d * (k - 1) + 1} along "
                f"{axis} over {size + 2 * p} (input {size}, padding {p} each side)"
            )
        if o not in (floor, ceil):
            allowed = f"{floor}" if floor == ceil else f"{floor} (floor) or {ceil} (ceil_mode)"
            raise ValueError(f"{what}: {out_name} with {axis}o = {allowed} expected, got {show(out_size)}")
        bad = _first_window_without_input(size, o, k, s, p, d)
        if bad >= 0:
            raise ValueError(
                f"{what}: windows that each hold an input element expected, got window {bad} along {axis} with no "
                f"input element (input {size}, kernel {k}, stride {s}, padding {p}, dilation {d})"
            )


def check_max_pool2d_forward_args(x, kernel_size, stride, padding, dilation, out_size) -> None:
    """x a float32/float64 (N, C, H, W) array, the geometry as the module docstring says."""
    what = "max_pool2d_forward"
    shape = float_array_shape(x, "x", "(N, C, H, W)", what)
    check_pool_args(shape, kernel_size, stride, padding, dilation, out_size, what)


def check_max_pool2d_backward_args(grad_out, indices, x_shape) -> None:
    """grad_out a float32/float64 (N, C, Ho, Wo) array for an input of ``x_shape`` (N, C, H, W), indices an int64
    array of its shape. (Index values are checked by each implementation as it reads them.)"""
    what = "max_pool2d_backward"
    n, c, _, _ = nchw_shape(x_shape, "x_shape", what)
    shape = float_array_shape(grad_out, "grad_out", "(N, C, Ho, Wo)", what)
    if shape[:2] != (n, c):
        raise ValueError(
            f"{what}: grad_out of shape ({n}, {c}, Ho, Wo) for x_shape {show(x_shape)} expected, got {show(shape)}"
        )
    if shape_of(indices, "indices", what) != shape:
        raise ValueError(f"{what}: indices of grad_out's shape {show(shape)} expected, got {show(indices.shape)}")
    if indices.dtype != np.int64:
        raise TypeError(f"{what}: int64 indices expected, got {indices.dtype}")


def _check_divisor(divisor_override, what: str) -> None:
    if divisor_override is not None:
        positive_int(divisor_override, "divisor_override (or None)", what)


def check_avg_pool2d_forward_args(x, kernel_size, stride, padding, out_size, divisor_override) -> None:
    """x a float32/float64 (N, C, H, W) array, the geometry as the module docstring says (no dilation),
    divisor_override None or an integer >= 1."""
    what = "avg_pool2d_forward"
    shape = float_array_shape(x, "x", "(N, C, H, W)", what)
    check_pool_args(shape, kernel_size, stride, padding, (1, 1), out_size, what)
    _check_divisor(divisor_override, what)


def check_avg_pool2d_backward_args(grad_out, x_shape, kernel_size, stride, padding, divisor_override) -> None:
    """grad_out a float32/float64 (N, C, Ho, Wo) array, with the N and C of ``x_shape`` and an (Ho, Wo) its
    forward pass may have produced (see the module docstring); divisor_override None or an integer >= 1."""
    what = "avg_pool2d_backward"
    n, c, _, _ = nchw_shape(x_shape, "x_shape", what)
    shape = float_array_shape(grad_out, "grad_out", "(N, C, Ho, Wo)", what)
    if shape[:2] != (n, c):
        raise ValueError(
            f"{what}: grad_out of shape ({n}, {c}, Ho, Wo) for x_shape {show(x_shape)} expected, got {show(shape)}"
        )
    check_pool_args(x_shape, kernel_size, stride, padding, (1, 1), shape[2:], what, "grad_out's (Ho, Wo)")
    _check_divisor(divisor_override, what)


def _window_rows(out: int, stride: int, pad: int, kernel: int, dilation: int) -> tuple[np.ndarray, np.ndarray]:
    """For each output row: the input rows its window reads (some may be outside [0, size))."""
    starts = np.arange(out) * stride - pad
    return starts, starts[:, None] + np.arange(kernel)[None, :] * dilation


def max_pool2d_forward(
    x: np.ndarray,
    kernel_size: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    out_size: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray]:
    """x: (N, C, H, W) -> (out (N, C, Ho, Wo), indices (N, C, Ho, Wo) int64 = h * W + w of each maximum).

    The first maximum in row-major window order wins; a NaN wins over numbers, the last NaN over earlier ones
    (PyTorch's rule: a value replaces the maximum when it is larger or NaN).
    Every window must hold at least one input element.
    """
    check_max_pool2d_forward_args(x, kernel_size, stride, padding, dilation, out_size)
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (ho, wo) = kernel_size, stride, padding, dilation, out_size
    _, rows = _window_rows(ho, sh, ph, kh, dh)  # (Ho, kh)
    _, cols = _window_rows(wo, sw, pw, kw, dw)  # (Wo, kw)
    r = rows[:, None, :, None]  # (Ho, 1, kh, 1)
    q = cols[None, :, None, :]  # (1, Wo, 1, kw)
    inside = (r >= 0) & (r < h) & (q >= 0) & (q < w)  # (Ho, Wo, kh, kw)
    values = x[:, :, np.clip(r, 0, h - 1), np.clip(q, 0, w - 1)]  # (N, C, Ho, Wo, kh, kw)
    values = np.where(inside, values, -np.inf).reshape(n, c, ho, wo, kh * kw)
    nan = np.isnan(values)
    last_nan = kh * kw - 1 - np.argmax(nan[..., ::-1], axis=-1)
    # The first maximum among the window's input elements (padding is -inf too, but never a candidate).
    best = np.max(values, axis=-1, keepdims=True)
    first_max = np.argmax((values == best) & inside.reshape(1, 1, ho, wo, kh * kw), axis=-1)
    pick = np.where(nan.any(-1), last_nan, first_max)  # the last NaN, else the first maximum
    out = np.take_along_axis(values, pick[..., None], axis=-1)[..., 0].astype(x.dtype)
    flat = (np.broadcast_to(r, (ho, wo, kh, kw)) * w + np.broadcast_to(q, (ho, wo, kh, kw))).reshape(ho, wo, kh * kw)
    indices = np.take_along_axis(np.broadcast_to(flat, (n, c, ho, wo, kh * kw)), pick[..., None], axis=-1)[..., 0]
    return out, indices.astype(np.int64)


def max_pool2d_backward(grad_out: np.ndarray, indices: np.ndarray, x_shape: tuple[int, int, int, int]) -> np.ndarray:
    """grad_out, indices: (N, C, Ho, Wo) -> dx: (N, C, H, W), each gradient added at its maximum's position."""
    check_max_pool2d_backward_args(grad_out, indices, x_shape)
    n, c, h, w = x_shape
    if indices.size and (indices.min() < 0 or indices.max() >= h * w):
        raise IndexError(f"max_pool2d_backward: indices in [0, {h * w}) expected, got some out of range")
    dx = np.zeros((n * c, h * w), dtype=grad_out.dtype)
    rows = np.repeat(np.arange(n * c), grad_out.shape[2] * grad_out.shape[3])
    np.add.at(dx, (rows, indices.reshape(-1)), grad_out.reshape(-1))
    return dx.reshape(n, c, h, w)


def _avg_weights(
    x_hw: tuple[int, int], kernel_size, stride, padding, out_size, count_include_pad: bool, divisor_override
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows and columns each window covers, and 1 / divisor per output position, as PyTorch defines them: the
    window is clipped to the padded input; the divisor counts the padded window, or only the real elements
    when ``count_include_pad`` is False, unless ``divisor_override`` is given."""
    (h, w), (kh, kw), (sh, sw), (ph, pw), (ho, wo) = x_hw, kernel_size, stride, padding, out_size
    hs = np.arange(ho) * sh - ph
    ws = np.arange(wo) * sw - pw
    he, we = np.minimum(hs + kh, h + ph), np.minimum(ws + kw, w + pw)
    padded_count = (he - hs)[:, None] * (we - ws)[None, :]
    hs_c, ws_c, he_c, we_c = np.maximum(hs, 0), np.maximum(ws, 0), np.minimum(he, h), np.minimum(we, w)
    real_count = (he_c - hs_c)[:, None] * (we_c - ws_c)[None, :]
    if divisor_override:
        divisor = np.full((ho, wo), divisor_override)
    else:
        divisor = padded_count if count_include_pad else real_count
    rows = (np.arange(h)[None, :] >= hs_c[:, None]) & (np.arange(h)[None, :] < he_c[:, None])  # (Ho, H)
    cols = (np.arange(w)[None, :] >= ws_c[:, None]) & (np.arange(w)[None, :] < we_c[:, None])  # (Wo, W)
    return rows, cols, 1.0 / divisor


def avg_pool2d_forward(
    x: np.ndarray,
    kernel_size: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    out_size: tuple[int, int],
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> np.ndarray:
    """x: (N, C, H, W) -> (N, C, Ho, Wo): the sum over each window divided as PyTorch divides it."""
    check_avg_pool2d_forward_args(x, kernel_size, stride, padding, out_size, divisor_override)
    rows, cols, scale = _avg_weights(
        x.shape[2:], kernel_size, stride, padding, out_size, count_include_pad, divisor_override
    )
    sums = np.einsum("nchw,ph,qw->ncpq", x, rows.astype(x.dtype), cols.astype(x.dtype))
    return (sums * scale).astype(x.dtype)


def avg_pool2d_backward(
    grad_out: np.ndarray,
    x_shape: tuple[int, int, int, int],
    kernel_size: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> np.ndarray:
    """grad_out: (N, C, Ho, Wo) -> dx: (N, C, H, W), the adjoint of ``avg_pool2d_forward``."""
    check_avg_pool2d_backward_args(grad_out, x_shape, kernel_size, stride, padding, divisor_override)
    out_size = grad_out.shape[2:]
    rows, cols, scale = _avg_weights(
        x_shape[2:], kernel_size, stride, padding, out_size, count_include_pad, divisor_override
    )
    scaled = grad_out * scale
    return np.einsum("ncpq,ph,qw->nchw", scaled, rows.astype(grad_out.dtype), cols.astype(grad_out.dtype)).astype(
        grad_out.dtype
    )
