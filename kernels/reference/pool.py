"""Max and average pooling over NCHW windows, forward and backward.

Conventions shared by every implementation: ``kernel_size``, ``stride``, ``dilation`` are (height, width) pairs;
``padding`` is (ph, pw), the same on both sides (PyTorch's pooling); ``out_size`` is (Ho, Wo), decided by the
caller (it knows ``ceil_mode``); windows may then run past the padded input on the bottom/right, and those
positions are simply not part of the window.
"""

from __future__ import annotations

import numpy as np


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
    n, c, h, w = x_shape
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
    out_size = grad_out.shape[2:]
    rows, cols, scale = _avg_weights(
        x_shape[2:], kernel_size, stride, padding, out_size, count_include_pad, divisor_override
    )
    scaled = grad_out * scale
    return np.einsum("ncpq,ph,qw->nchw", scaled, rows.astype(grad_out.dtype), cols.astype(grad_out.dtype)).astype(
        grad_out.dtype
    )
