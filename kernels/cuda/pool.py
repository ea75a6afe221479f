"""Max and average pooling in numba.cuda, forward and backward, on device arrays.

The contract is ``minidl_kernels.reference.pool``: NCHW input, (height, width) pairs for the kernel, stride,
padding (the same on both sides) and dilation, and an output size (Ho, Wo) chosen by the caller, who knows
``ceil_mode``. Window positions outside the input are not part of the window: each thread clips its window's tap
ranges once, so the loops test no border per element.

- ``max_pool2d_forward``: one thread per output element, scanning its clipped window in row-major order.
- ``max_pool2d_backward``: one thread per output element adding its gradient at its index with an atomic add. The
  call does not say the window geometry (only the indices), so a gather cannot know which outputs may point at a
  pixel; an index may point anywhere in its plane. Only pixels that are the maximum of several windows receive
  several additions, and there the float sum's order (and so its last bits) may vary from run to run.
- ``avg_pool2d_forward``: one thread per output element, summing its clipped window in float64.
- ``avg_pool2d_backward``: a gather, one thread per input pixel summing (in float64) the scaled gradients of the
  outputs whose windows hold it: every element is written once, no atomics.

Consecutive threads handle consecutive output (or input) columns of one row, so the writes are coalesced, and at
stride 1 so are the reads.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from minidl_kernels.cuda import runtime
from minidl_kernels.reference.pool import (
    check_avg_pool2d_backward_args,
    check_avg_pool2d_forward_args,
    check_max_pool2d_backward_args,
    check_max_pool2d_forward_args,
)
from numba import cuda


@cuda.jit(device=True, inline=True)
def _tap_range(start, size, kernel, dilation):  # pragma: no cover - compiled
    """The taps t in [lo, hi) of a window whose first tap is at ``start`` with start + t * dilation in [0, size)."""
    lo = (-start + dilation - 1) // dilation if start < 0 else 0
    hi = min(kernel, (size - 1 - start) // dilation + 1) if start < size else 0
    return lo, max(lo, hi)


@cuda.jit
def _max_forward_kernel(x, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo, out, indices):  # pragma: no cover - compiled
    """x: (N, C, H, W) -> out, indices: flat (N, C, Ho, Wo), one thread per output element. PyTorch's rule in
    row-major window order: a value replaces the maximum when it is larger or NaN."""
    e = cuda.grid(1)
    if e >= out.size:
        return
    c, h, w = x.shape[1], x.shape[2], x.shape[3]
    ow = e % wo
    t = e // wo
    oh = t % ho
    t //= ho
    channel = t % c
    image = t // c
    r0 = oh * sh - ph
    q0 = ow * sw - pw
    i0, i1 = _tap_range(r0, h, kh, dh)
    j0, j1 = _tap_range(q0, w, kw, dw)
    best_row = r0 + i0 * dh
    best_col = q0 + j0 * dw
    best = x[image, channel, best_row, best_col]  # every window holds an input element (checked)
    for i in range(i0, i1):
        row = r0 + i * dh
        for j in range(j0, j1):
            col = q0 + j * dw
            v = x[image, channel, row, col]
            if v > best or v != v:
                best = v
                best_row = row
                best_col = col
    out[e] = best
    indices[e] = best_row * w + best_col


@cuda.jit
def _max_backward_kernel(g, indices, outputs, plane, dx, bad):  # pragma: no cover - compiled
    """g, indices: flat (N, C, Ho, Wo), ``outputs`` = Ho * Wo -> dx: flat (N, C, H * W) (zeros on entry),
    ``plane`` = H * W; one thread per output element. bad[0] = 1 when an index lies outside [0, plane)."""
    e = cuda.grid(1)
    if e >= g.size:
        return
    k = indices[e]
    if k < 0 or k >= plane:
        bad[0] = 1
        return
    cuda.atomic.add(dx, (e // outputs) * plane + k, g[e])


@cuda.jit(device=True, inline=True)
def _avg_scale(hs, ws, h, w, kh, kw, ph, pw, count_include_pad, divisor_override):  # pragma: no cover - compiled
    """1 / divisor of the window starting at (hs, ws), as PyTorch divides: the window clipped to the padded input,
    counted whole or (count_include_pad false) only its input elements, unless divisor_override (> 0) is given."""
    if divisor_override > 0:
        return 1.0 / divisor_override
    he = min(hs + kh, h + ph)
    we = min(ws + kw, w + pw)
    if count_include_pad:
        return 1.0 / ((he - hs) * (we - ws))
    return 1.0 / ((min(he, h) - max(hs, 0)) * (min(we, w) - max(ws, 0)))


@cuda.jit
def _avg_forward_kernel(
    x, kh, kw, sh, sw, ph, pw, ho, wo, count_include_pad, divisor_override, out
):  # pragma: no cover - compiled
    """x: (N, C, H, W) -> out: flat (N, C, Ho, Wo), one thread per output element, its window summed in float64."""
    e = cuda.grid(1)
    if e >= out.size:
        return
    c, h, w = x.shape[1], x.shape[2], x.shape[3]
    ow = e % wo
    t = e // wo
    oh = t % ho
    t //= ho
    channel = t % c
    image = t // c
    hs = oh * sh - ph
    ws = ow * sw - pw
    total = 0.0
    for row in range(max(hs, 0), min(hs + kh, h)):
        for col in range(max(ws, 0), min(ws + kw, w)):
            total += x[image, channel, row, col]
    out[e] = total * _avg_scale(hs, ws, h, w, kh, kw, ph, pw, count_include_pad, divisor_override)


@cuda.jit
def _avg_backward_kernel(
    g, h, w, kh, kw, sh, sw, ph, pw, count_include_pad, divisor_override, dx
):  # pragma: no cover - compiled
    """g: (N, C, Ho, Wo) -> dx: flat (N, C, H, W), one thread per input pixel summing (in float64) the scaled
    gradients of the outputs whose window holds it: oh with oh * sh - ph <= row < oh * sh - ph + kh, likewise ow
    (a window clipped to the padded input still holds every input pixel it covered)."""
    e = cuda.grid(1)
    if e >= dx.size:
        return
    c, ho, wo = g.shape[1], g.shape[2], g.shape[3]
    col = e % w
    t = e // w
    row = t % h
    t //= h
    channel = t % c
    image = t // c
    oh0 = max(0, (row + ph - kh + sh) // sh)  # ceil((row + ph - kh + 1) / sh)
    oh1 = min(ho, (row + ph) // sh + 1)
    ow0 = max(0, (col + pw - kw + sw) // sw)
    ow1 = min(wo, (col + pw) // sw + 1)
    total = 0.0
    for oh in range(oh0, oh1):
        for ow in range(ow0, ow1):
            scale = _avg_scale(oh * sh - ph, ow * sw - pw, h, w, kh, kw, ph, pw, count_include_pad, divisor_override)
            total += g[image, channel, oh, ow] * scale
    dx[e] = total


def _signatures(dtype: str) -> list[str]:
    ints = ", ".join(["int64"] * 10)
    return [
        f"void({dtype}[:, :, :, ::1], {ints}, {dtype}[::1], int64[::1])",
        f"void({dtype}[::1], int64[::1], int64, int64, {dtype}[::1], int32[::1])",
        f"void({dtype}[:, :, :, ::1], {ints}, {dtype}[::1])",
        f"void({dtype}[:, :, :, ::1], {ints}, {dtype}[::1])",
    ]


_KERNELS = (_max_forward_kernel, _max_backward_kernel, _avg_forward_kernel, _avg_backward_kernel)
PTX_CHECKS: list[tuple[Callable, str]] = [
    (kernel.py_func, signature)
    for dtype in ("float32", "float64")
    for kernel, signature in zip(_KERNELS, _signatures(dtype))
]


def max_pool2d_forward(
    x: Any,
    kernel_size: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    out_size: tuple[int, int],
) -> tuple[Any, Any]:
    """x: (N, C, H, W) -> (out (N, C, Ho, Wo), indices (N, C, Ho, Wo) int64 = h * W + w of each maximum), new
    C-contiguous device arrays.

    The first maximum in row-major window order wins; a NaN wins over numbers, the last NaN over earlier ones
    (PyTorch's rule: a value replaces the maximum when it is larger or NaN); a window of -inf gives its first
    element inside the input, never a padding position.
    """
    check_max_pool2d_forward_args(x, kernel_size, stride, padding, dilation, out_size)
    x = runtime.contiguous(x)
    n, c = x.shape[:2]
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (ho, wo) = kernel_size, stride, padding, dilation, out_size
    out = runtime.empty((n, c, ho, wo), x.dtype)
    indices = runtime.empty((n, c, ho, wo), np.int64)
    runtime.launch_1d(
        _max_forward_kernel, out.size, x, kh, kw, sh, sw, ph, pw, dh, dw, ho, wo, out.reshape(-1), indices.reshape(-1)
    )
    return out, indices


def max_pool2d_backward(grad_out: Any, indices: Any, x_shape: tuple[int, int, int, int]) -> Any:
    """grad_out, indices: (N, C, Ho, Wo) -> dx: (N, C, H, W), each gradient added at its maximum's position
    (atomically: gradients of overlapping windows that share a maximum accumulate), a new C-contiguous device array
    of grad_out's dtype. An index outside [0, H * W) raises IndexError (after the kernel, which skips it)."""
    check_max_pool2d_backward_args(grad_out, indices, x_shape)
    n, c, h, w = x_shape
    dx = runtime.zeros((n, c, h, w), grad_out.dtype)
    bad = runtime.zeros((1,), np.int32)
    g = runtime.contiguous(grad_out).reshape(-1)
    flat_indices = runtime.contiguous(indices).reshape(-1)
    outputs = grad_out.shape[2] * grad_out.shape[3]
    runtime.launch_1d(_max_backward_kernel, g.size, g, flat_indices, outputs, h * w, dx.reshape(-1), bad)
    if g.size and int(bad[0]):
        raise IndexError(f"max_pool2d_backward: indices in [0, {h * w}) expected, got some out of range")
    return dx


def _divisor_args(count_include_pad: bool, divisor_override: int | None) -> tuple[int, int]:
    """The divisor rule as the kernels take it: (count_include_pad as 0/1, divisor_override or 0 for none)."""
    return int(bool(count_include_pad)), int(divisor_override or 0)


def avg_pool2d_forward(
    x: Any,
    kernel_size: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    out_size: tuple[int, int],
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Any:
    """x: (N, C, H, W) -> (N, C, Ho, Wo): each window's sum (in float64) divided as PyTorch divides it, a new
    C-contiguous device array of x's dtype."""
    check_avg_pool2d_forward_args(x, kernel_size, stride, padding, out_size, divisor_override)
    x = runtime.contiguous(x)
    n, c = x.shape[:2]
    (kh, kw), (sh, sw), (ph, pw), (ho, wo) = kernel_size, stride, padding, out_size
    out = runtime.empty((n, c, ho, wo), x.dtype)
    divisor = _divisor_args(count_include_pad, divisor_override)
    runtime.launch_1d(_avg_forward_kernel, out.size, x, kh, kw, sh, sw, ph, pw, ho, wo, *divisor, out.reshape(-1))
    return out


def avg_pool2d_backward(
    grad_out: Any,
    x_shape: tuple[int, int, int, int],
    kernel_size: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Any:
    """grad_out: (N, C, Ho, Wo) -> dx: (N, C, H, W), the adjoint of ``avg_pool2d_forward``, a new C-contiguous
    device array of grad_out's dtype."""
    check_avg_pool2d_backward_args(grad_out, x_shape, kernel_size, stride, padding, divisor_override)
    g = runtime.contiguous(grad_out)
    n, c, h, w = x_shape
    (kh, kw), (sh, sw), (ph, pw) = kernel_size, stride, padding
    dx = runtime.empty((n, c, h, w), g.dtype)
    divisor = _divisor_args(count_include_pad, divisor_override)
    runtime.launch_1d(_avg_backward_kernel, dx.size, g, h, w, kh, kw, sh, sw, ph, pw, *divisor, dx.reshape(-1))
    return dx
