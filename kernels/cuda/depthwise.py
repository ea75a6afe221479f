"""Depthwise convolution (groups == in_channels) in numba.cuda, directly, on device arrays.

The contract is ``minidl_kernels.reference.depthwise``: x (N, C, H, W), weight (C * m, 1, kh, kw), output channel
o reads input channel o // m; stride and dilation are (height, width) pairs, padding is (top, bottom, left, right)
(the bottom and right paddings only shape (Ho, Wo)).

- forward: one thread per output element, summing its kh * kw taps that fall inside the input.
- input gradient: a gather, one thread per input pixel summing, over the m output channels of its input channel,
  the taps that read it (output row oh reads row r through kernel row i when oh * sh + i * dh - top == r); every
  element is written once, no atomics.
- weight gradient: one block per (output channel, tap) reducing over the N * Ho * Wo output positions: each thread
  sums a strided share of them, then the block adds the shares in a shared-memory tree; no atomics.

Sums are kept in float64 whatever the dtype (the kernels are memory-bound). Consecutive threads handle
consecutive output (or input) columns of one row, so the reads of the gradient and the writes are coalesced, and
at stride 1 so are the reads of x.
"""

from __future__ import annotations

from typing import Any, Callable

from minidl_kernels.cuda import runtime
from minidl_kernels.reference.conv import conv_output_size
from minidl_kernels.reference.depthwise import (
    check_depthwise_backward_input_args,
    check_depthwise_backward_weight_args,
    check_depthwise_forward_args,
)
from numba import cuda, float64

# Threads of a weight-gradient block: a power of two for the tree reduction, and a compile-time constant for the
# size of its shared-memory array.
REDUCE_THREADS = runtime.THREADS


@cuda.jit
def _forward_kernel(x, weight, sh, sw, pt, pl, dh, dw, ho, wo, out):  # pragma: no cover - compiled
    """x: (N, C, H, W), weight: (C * m, kh, kw) -> out: flat (N, C * m, Ho, Wo), one thread per output element."""
    e = cuda.grid(1)
    if e >= out.size:
        return
    c, h, w = x.shape[1], x.shape[2], x.shape[3]
    oc, kh, kw = weight.shape
    m = oc // c
    ow = e % wo
    t = e // wo
    oh = t % ho
    t //= ho
    o = t % oc
    image = t // oc
    channel = o // m
    r0 = oh * sh - pt
    q0 = ow * sw - pl
    total = 0.0
    for i in range(kh):
        row = r0 + i * dh
        if 0 <= row < h:
            for j in range(kw):
                col = q0 + j * dw
                if 0 <= col < w:
                    total += weight[o, i, j] * x[image, channel, row, col]
    out[e] = total


@cuda.jit
def _backward_input_kernel(g, weight, c, h, w, sh, sw, pt, pl, dh, dw, dx):  # pragma: no cover - compiled
    """g: (N, C * m, Ho, Wo), weight: (C * m, kh, kw) -> dx: flat (N, C, H, W), one thread per input pixel."""
    e = cuda.grid(1)
    if e >= dx.size:
        return
    ho, wo = g.shape[2], g.shape[3]
    oc, kh, kw = weight.shape
    m = oc // c
    col = e % w
    t = e // w
    row = t % h
    t //= h
    channel = t % c
    image = t // c
    total = 0.0
    for i in range(kh):
        dy = row + pt - i * dh  # oh * sh when output row oh reads this row through kernel row i
        if dy < 0 or dy % sh != 0 or dy // sh >= ho:
            continue
        oh = dy // sh
        for j in range(kw):
            dxw = col + pl - j * dw
            if dxw < 0 or dxw % sw != 0 or dxw // sw >= wo:
                continue
            ow = dxw // sw
            for k in range(m):
                o = channel * m + k
                total += weight[o, i, j] * g[image, o, oh, ow]
    dx[e] = total


@cuda.jit
def _backward_weight_kernel(g, x, sh, sw, pt, pl, dh, dw, kh, kw, dweight):  # pragma: no cover - compiled
    """g: (N, C * m, Ho, Wo), x: (N, C, H, W) -> dweight: flat (C * m, kh, kw); block b computes dweight[b], the sum
    over every (image, oh, ow) of g times the input under its tap. Launched with REDUCE_THREADS threads a block."""
    partial = cuda.shared.array(REDUCE_THREADS, float64)
    tid = cuda.threadIdx.x
    b = cuda.blockIdx.x
    n, oc, ho, wo = g.shape
    c, h, w = x.shape[1], x.shape[2], x.shape[3]
    j = b % kw
    i = (b // kw) % kh
    o = b // (kw * kh)
    channel = o // (oc // c)
    row0 = i * dh - pt
    col0 = j * dw - pl
    total = 0.0
    for p in range(tid, n * ho * wo, REDUCE_THREADS):
        ow = p % wo
        t = p // wo
        oh = t % ho
        image = t // ho
        row = oh * sh + row0
        col = ow * sw + col0
        if 0 <= row < h and 0 <= col < w:
            total += g[image, o, oh, ow] * x[image, channel, row, col]
    partial[tid] = total
    cuda.syncthreads()
    step = REDUCE_THREADS // 2
    while step > 0:
        if tid < step:
            partial[tid] += partial[tid + step]
        cuda.syncthreads()
        step //= 2
    if tid == 0:
        dweight[b] = partial[0]


def _signatures(dtype: str) -> list[str]:
    a4, a3, flat = f"{dtype}[:, :, :, ::1]", f"{dtype}[:, :, ::1]", f"{dtype}[::1]"

    def ints(count: int) -> str:
        return ", ".join(["int64"] * count)

    return [
        f"void({a4}, {a3}, {ints(8)}, {flat})",
        f"void({a4}, {a3}, {ints(9)}, {flat})",
        f"void({a4}, {a4}, {ints(8)}, {flat})",
    ]


_KERNELS = (_forward_kernel, _backward_input_kernel, _backward_weight_kernel)
PTX_CHECKS: list[tuple[Callable, str]] = [
    (kernel.py_func, signature)
    for dtype in ("float32", "float64")
    for kernel, signature in zip(_KERNELS, _signatures(dtype))
]


def _weight_3d(weight: Any, dtype: Any) -> Any:
    """weight (C * m, 1, kh, kw) as a C-contiguous (C * m, kh, kw) device array of ``dtype``."""
    oc, _, kh, kw = weight.shape
    return runtime.contiguous(weight, dtype).reshape(oc, kh, kw)


def depthwise_conv2d_forward(
    x: Any,
    weight: Any,
    stride: tuple[int, int],
    padding: tuple[int, int, int, int],
    dilation: tuple[int, int],
) -> Any:
    """x: (N, C, H, W), weight: (C * m, 1, kh, kw) -> (N, C * m, Ho, Wo), a new C-contiguous device array of x's
    dtype."""
    check_depthwise_forward_args(x, weight, stride, padding, dilation)
    x = runtime.contiguous(x)
    w3 = _weight_3d(weight, x.dtype)
    oc, kh, kw = w3.shape
    (sh, sw), (pt, _, pl, _), (dh, dw) = stride, padding, dilation
    ho, wo = conv_output_size(x.shape[2:], (kh, kw), stride, padding, dilation)
    out = runtime.empty((x.shape[0], oc, ho, wo), x.dtype)
    runtime.launch_1d(_forward_kernel, out.size, x, w3, sh, sw, pt, pl, dh, dw, ho, wo, out.reshape(-1))
    return out


def depthwise_conv2d_backward_input(
    grad_out: Any,
    weight: Any,
    x_shape: tuple[int, int, int, int],
    stride: tuple[int, int],
    padding: tuple[int, int, int, int],
    dilation: tuple[int, int],
) -> Any:
    """grad_out: (N, C * m, Ho, Wo), weight: (C * m, 1, kh, kw) -> dx: (N, C, H, W), a new C-contiguous device
    array of grad_out's dtype."""
    check_depthwise_backward_input_args(grad_out, weight, x_shape, stride, padding, dilation)
    g = runtime.contiguous(grad_out)
    w3 = _weight_3d(weight, g.dtype)
    n, c, h, w = x_shape
    (sh, sw), (pt, _, pl, _), (dh, dw) = stride, padding, dilation
    dx = runtime.empty((n, c, h, w), g.dtype)
    runtime.launch_1d(_backward_input_kernel, dx.size, g, w3, c, h, w, sh, sw, pt, pl, dh, dw, dx.reshape(-1))
    return dx


def depthwise_conv2d_backward_weight(
    grad_out: Any,
    x: Any,
    weight_shape: tuple[int, int, int, int],
    stride: tuple[int, int],
    padding: tuple[int, int, int, int],
    dilation: tuple[int, int],
) -> Any:
    """grad_out: (N, C * m, Ho, Wo), x: (N, C, H, W) -> dweight: (C * m, 1, kh, kw), a new C-contiguous device
    array of grad_out's dtype."""
    check_depthwise_backward_weight_args(grad_out, x, weight_shape, stride, padding, dilation)
    g = runtime.contiguous(grad_out)
    x = runtime.contiguous(x, g.dtype)
    oc, _, kh, kw = weight_shape
    (sh, sw), (pt, _, pl, _), (dh, dw) = stride, padding, dilation
    dweight = runtime.empty((oc, 1, kh, kw), g.dtype)
    args = (g, x, sh, sw, pt, pl, dh, dw, kh, kw, dweight.reshape(-1))
    runtime.launch(_backward_weight_kernel, oc * kh * kw, REDUCE_THREADS, *args)
    return dweight
