"""Max and average pooling in Numba, forward and backward, parallel over the N * C planes.

The contract is ``minidl_kernels.reference.pool``: NCHW input, (height, width) pairs for the kernel, stride,
padding (the same on both sides) and dilation, and an output size (Ho, Wo) chosen by the caller, who knows
``ceil_mode``. Window positions outside the input are simply not part of the window: the loops run over each
window's clipped row and column ranges (computed once per call, outside the plane loop), never test a border
per element, and never build a padded copy.

Inputs of any strides are accepted: the wrappers take a C-contiguous copy of an argument that is not already
C-contiguous (``np.ascontiguousarray``).
"""

from __future__ import annotations

import numpy as np
from minidl_kernels.reference.pool import (
    check_avg_pool2d_backward_args,
    check_avg_pool2d_forward_args,
    check_max_pool2d_backward_args,
    check_max_pool2d_forward_args,
)
from numba import njit, prange


def _tap_ranges(out: int, size: int, kernel: int, stride: int, pad: int, dilation: int) -> tuple[np.ndarray, ...]:
    """Per output position: the first input index of its window, and the range [lo, hi) of the taps t whose input
    index start + t * dilation lies inside [0, size)."""
    start = np.arange(out, dtype=np.int64) * stride - pad
    lo = np.where(start < 0, (-start + dilation - 1) // dilation, 0)
    hi = np.minimum(kernel, np.where(start < size, (size - 1 - start) // dilation + 1, 0))
    return start, lo, np.maximum(hi, lo)


@njit(cache=True, fastmath={"reassoc"})
def _all_finite(flat):  # pragma: no cover - compiled
    """True when no value is NaN or infinite (v - v is exactly 0 for finite v): one vectorised sum."""
    s = flat[0] - flat[0]
    for t in range(flat.shape[0]):
        s += flat[t] - flat[t]
    return s == 0


@njit(cache=True, inline="always")
def _window_max(flat, w, r0, i0, i1, dh, q0, j0, j1, dw):  # pragma: no cover - compiled
    """The maximum of one window and its flat index: taps i in [i0, i1), j in [j0, j1) of the window whose first
    tap is at row r0, column q0. PyTorch's rule, in row-major order: a value replaces the maximum when it is larger
    or NaN (so the first maximum wins, and the last NaN wins over numbers and earlier NaNs)."""
    where = (r0 + i0 * dh) * w + q0 + j0 * dw
    best = flat[where]
    for i in range(i0, i1):
        base = (r0 + i * dh) * w + q0
        for j in range(j0, j1):
            k = base + j * dw
            v = flat[k]
            up = (v > best) | (v != v)
            best = v if up else best
            where += (k - where) * up  # arithmetic, not a branch the predictor would miss
    return best, where


@njit(cache=True, inline="always")
def _rows_2x2(r0, r1, step, best, where, first, w):  # pragma: no cover - compiled
    """Whole 2x2 windows (dilation 1 along the row) of finite values along an output row: window t covers
    r0[t * step + j] and r1[t * step + j], j = 0, 1, and its flat index is first + t * step + i * w + j for the
    winning tap (i, j). Free of branches: the value moves by a select (maxss), the index by arithmetic, so random
    data costs no mispredictions (about 4x faster than the scalar ``_window_max``)."""
    for t in range(best.shape[0]):
        k = t * step
        m = r0[k]
        at = first + k
        v = r0[k + 1]
        up = v > m
        m = v if up else m
        at += (first + k + 1 - at) * up
        v = r1[k]
        up = v > m
        m = v if up else m
        at += (first + k + w - at) * up
        v = r1[k + 1]
        up = v > m
        m = v if up else m
        at += (first + k + w + 1 - at) * up
        best[t] = m
        where[t] = at


@njit(cache=True, inline="always")
def _rows_3x3(r0, r1, r2, step, best, where, first, w):  # pragma: no cover - compiled
    """``_rows_2x2`` for whole 3x3 windows."""
    for t in range(best.shape[0]):
        k = t * step
        m = r0[k]
        at = first + k
        v = r0[k + 1]
        up = v > m
        m = v if up else m
        at += (first + k + 1 - at) * up
        v = r0[k + 2]
        up = v > m
        m = v if up else m
        at += (first + k + 2 - at) * up
        v = r1[k]
        up = v > m
        m = v if up else m
        at += (first + k + w - at) * up
        v = r1[k + 1]
        up = v > m
        m = v if up else m
        at += (first + k + w + 1 - at) * up
        v = r1[k + 2]
        up = v > m
        m = v if up else m
        at += (first + k + w + 2 - at) * up
        v = r2[k]
        up = v > m
        m = v if up else m
        at += (first + k + 2 * w - at) * up
        v = r2[k + 1]
        up = v > m
        m = v if up else m
        at += (first + k + 2 * w + 1 - at) * up
        v = r2[k + 2]
        up = v > m
        m = v if up else m
        at += (first + k + 2 * w + 2 - at) * up
        best[t] = m
        where[t] = at


@njit(parallel=True, cache=True)
def _max_forward(
    x, out, indices, kh, kw, rs, rlo, rhi, dh, cs, clo, chi, dw, sw, inner_lo, inner_hi
):  # pragma: no cover
    """Per output row: windows cut by the border (and every window of a plane holding a NaN or an infinity, and
    every other window shape) go through ``_window_max``; whole 2x2 and 3x3 windows (width stride 1 or 2, width
    dilation 1) of finite planes through the unrolled ``_rows_2x2`` / ``_rows_3x3``, where a plain ``>`` is
    exact. Outputs [inner_lo, inner_hi) of a row have every column tap inside the input."""
    n, c, _, w = x.shape
    ho, wo = out.shape[2], out.shape[3]
    fast_shape = ((kh == 2 and kw == 2) or (kh == 3 and kw == 3)) and dw == 1 and (sw == 1 or sw == 2)
    for p in prange(n * c):
        b, ci = p // c, p % c
        plane, oplane, iplane = x[b, ci], out[b, ci], indices[b, ci]
        flat = plane.reshape(-1)
        fast = fast_shape and _all_finite(flat)
        for oh in range(ho):
            r0, i0, i1 = rs[oh], rlo[oh], rhi[oh]
            brow, irow = oplane[oh], iplane[oh]
            lo, hi = (inner_lo, inner_hi) if fast and i0 == 0 and i1 == kh else (wo, wo)
            for t in range(wo - (hi - lo)):  # every output but the whole windows [lo, hi), done below
                ow = t if t < lo else t + hi - lo
                brow[ow], irow[ow] = _window_max(flat, w, r0, i0, i1, dh, cs[ow], clo[ow], chi[ow], dw)
            if lo < hi:
                q, best, where = cs[lo], brow[lo:hi], irow[lo:hi]
                first = r0 * w + q
                u, v = plane[r0, q:], plane[r0 + dh, q:]
                if kh == 2:
                    if sw == 2:
                        _rows_2x2(u, v, 2, best, where, first, dh * w)
                    else:
                        _rows_2x2(u, v, 1, best, where, first, dh * w)
                else:
                    z = plane[r0 + 2 * dh, q:]
                    if sw == 2:
                        _rows_3x3(u, v, z, 2, best, where, first, dh * w)
                    else:
                        _rows_3x3(u, v, z, 1, best, where, first, dh * w)


@njit(parallel=True, cache=True)
def _max_backward(g, indices, dx, bad):  # pragma: no cover - compiled
    n, c = dx.shape[0], dx.shape[1]
    size = dx.shape[2]
    ho, wo = g.shape[2], g.shape[3]
    for p in prange(n * c):
        b, ci = p // c, p % c
        gplane, iplane, dplane = g[b, ci], indices[b, ci], dx[b, ci]
        for oh in range(ho):
            for ow in range(wo):
                k = iplane[oh, ow]
                if k < 0 or k >= size:
                    bad[p] = True
                else:
                    dplane[k] += gplane[oh, ow]


@njit(parallel=True, cache=True)
def _avg_forward(x, out, scale, rlo, rhi, clo, chi):  # pragma: no cover - compiled
    """Per output row: the window rows added column by column into a float64 row (a vectorised loop), then each
    output's columns of that row summed and scaled."""
    n, c, _, w = x.shape
    ho, wo = out.shape[2], out.shape[3]
    for p in prange(n * c):
        b, ci = p // c, p % c
        plane, oplane = x[b, ci], out[b, ci]
        acc = np.empty(w, dtype=np.float64)
        for oh in range(ho):
            acc[:] = 0.0
            for r in range(rlo[oh], rhi[oh]):
                row = plane[r]
                for q in range(w):
                    acc[q] += row[q]
            orow, srow = oplane[oh], scale[oh]
            for ow in range(wo):
                s = 0.0
                for q in range(clo[ow], chi[ow]):
                    s += acc[q]
                orow[ow] = s * srow[ow]


@njit(parallel=True, cache=True)
def _avg_backward(g, dx, scale, rlo, rhi, clo, chi):  # pragma: no cover - compiled
    """The adjoint of ``_avg_forward``: per output row, each scaled gradient spread over its window's columns in a
    float64 row, then that row added to every window row (a vectorised loop)."""
    n, c, _, w = dx.shape
    ho, wo = g.shape[2], g.shape[3]
    for p in prange(n * c):
        b, ci = p // c, p % c
        gplane, dplane = g[b, ci], dx[b, ci]
        acc = np.empty(w, dtype=np.float64)
        for oh in range(ho):
            acc[:] = 0.0
            grow, srow = gplane[oh], scale[oh]
            for ow in range(wo):
                v = grow[ow] * srow[ow]
                for q in range(clo[ow], chi[ow]):
                    acc[q] += v
            for r in range(rlo[oh], rhi[oh]):
                row = dplane[r]
                for q in range(w):
                    row[q] += acc[q]


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
    (PyTorch's rule: a value replaces the maximum when it is larger or NaN); a window of -inf only gives its first
    element inside the input, as PyTorch does (the reference may give a padding position there). Every window
    must hold at least one input element (ValueError otherwise).
    """
    check_max_pool2d_forward_args(x, kernel_size, stride, padding, dilation, out_size)
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (ho, wo) = kernel_size, stride, padding, dilation, out_size
    rs, rlo, rhi = _tap_ranges(ho, h, kh, sh, ph, dh)
    cs, clo, chi = _tap_ranges(wo, w, kw, sw, pw, dw)
    whole = np.flatnonzero((clo == 0) & (chi == kw))  # the outputs whose window has every column inside
    inner_lo, inner_hi = (int(whole[0]), int(whole[-1]) + 1) if whole.size else (wo, wo)
    out = np.empty((n, c, ho, wo), dtype=x.dtype)
    indices = np.empty((n, c, ho, wo), dtype=np.int64)
    if out.size:
        x = np.ascontiguousarray(x)
        _max_forward(x, out, indices, kh, kw, rs, rlo, rhi, dh, cs, clo, chi, dw, sw, inner_lo, inner_hi)
    return out, indices


def max_pool2d_backward(grad_out: np.ndarray, indices: np.ndarray, x_shape: tuple[int, int, int, int]) -> np.ndarray:
    """grad_out, indices: (N, C, Ho, Wo) -> dx: (N, C, H, W), each gradient added at its maximum's position
    (gradients of overlapping windows that share a maximum accumulate)."""
    check_max_pool2d_backward_args(grad_out, indices, x_shape)
    n, c, h, w = x_shape
    dx = np.zeros((n, c, h * w), dtype=grad_out.dtype)
    bad = np.zeros(n * c, dtype=np.bool_)
    if grad_out.size:
        _max_backward(np.ascontiguousarray(grad_out), np.ascontiguousarray(indices), dx, bad)
    if bad.any():
        raise IndexError(f"max_pool2d_backward: indices in [0, {h * w}) expected, got some out of range")
    return dx.reshape(n, c, h, w)


def _avg_setup(x_hw, kernel_size, stride, padding, out_size, count_include_pad, divisor_override):
    """Each output's clipped row and column ranges, and 1 / divisor as PyTorch defines it (see the reference)."""
    (h, w), (kh, kw), (sh, sw), (ph, pw), (ho, wo) = x_hw, kernel_size, stride, padding, out_size
    hs, ws = np.arange(ho, dtype=np.int64) * sh - ph, np.arange(wo, dtype=np.int64) * sw - pw
    he, we = np.minimum(hs + kh, h + ph), np.minimum(ws + kw, w + pw)
    hs_c, ws_c = np.maximum(hs, 0), np.maximum(ws, 0)
    he_c, we_c = np.maximum(np.minimum(he, h), hs_c), np.maximum(np.minimum(we, w), ws_c)
    if divisor_override:
        divisor = np.full((ho, wo), float(divisor_override))
    elif count_include_pad:
        divisor = ((he - hs)[:, None] * (we - ws)[None, :]).astype(np.float64)
    else:
        divisor = ((he_c - hs_c)[:, None] * (we_c - ws_c)[None, :]).astype(np.float64)
    with np.errstate(divide="ignore"):
        scale = 1.0 / divisor
    return scale, hs_c, he_c, ws_c, we_c


def avg_pool2d_forward(
    x: np.ndarray,
    kernel_size: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    out_size: tuple[int, int],
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> np.ndarray:
    """x: (N, C, H, W) -> (N, C, Ho, Wo): each window's sum (in float64) divided as PyTorch divides it."""
    check_avg_pool2d_forward_args(x, kernel_size, stride, padding, out_size, divisor_override)
    scale, rlo, rhi, clo, chi = _avg_setup(
        x.shape[2:], kernel_size, stride, padding, out_size, count_include_pad, divisor_override
    )
    out = np.empty((x.shape[0], x.shape[1], *out_size), dtype=x.dtype)
    if out.size:
        _avg_forward(np.ascontiguousarray(x), out, scale, rlo, rhi, clo, chi)
    return out


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
    scale, rlo, rhi, clo, chi = _avg_setup(
        x_shape[2:], kernel_size, stride, padding, grad_out.shape[2:], count_include_pad, divisor_override
    )
    dx = np.zeros(tuple(x_shape), dtype=grad_out.dtype)
    if grad_out.size:
        _avg_backward(np.ascontiguousarray(grad_out), dx, scale, rlo, rhi, clo, chi)
    return dx
