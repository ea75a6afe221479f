"""Pooling over NCHW windows: max (with the position of each maximum kept for backward), average (PyTorch's
divisor rules), and adaptive average (output size given; global average pooling is output 1)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from minidl.autograd import Function
from minidl.ops.window import check_window_fits, image_batch, pair, window_output_size
from minidl.tensor import Tensor


def _pool_args(x: Tensor, kernel_size, stride, padding, dilation, ceil_mode, op):
    kernel = pair(kernel_size, "kernel_size", op)
    stride = kernel if stride is None or stride == [] else pair(stride, "stride", op)
    pad = pair(padding, "padding", op, minimum=0)
    dilation = pair(dilation, "dilation", op)
    for p, k, d in zip(pad, kernel, dilation):
        if p > (d * (k - 1) + 1) // 2:
            raise ValueError(f"{op}: padding {pad} must be at most half of the (dilated) kernel size {kernel}")
    h, w = x.shape[2:]
    check_window_fits((h, w), kernel, dilation, (pad[0], pad[0], pad[1], pad[1]), op)
    out = tuple(
        window_output_size(size, k, s, p, p, d, ceil_mode)
        for size, k, s, p, d in zip((h, w), kernel, stride, pad, dilation)
    )
    for size, k, s, p, d, o in zip((h, w), kernel, stride, pad, dilation, out):
        taps = np.arange(o)[:, None] * s - p + np.arange(k)[None, :] * d
        if not ((taps >= 0) & (taps < size)).any(axis=1).all():
            raise ValueError(
                f"{op}: with kernel {kernel}, padding {pad} and dilation {dilation}, some windows over the "
                f"{h}×{w} input hold only padding"
            )
    return kernel, stride, pad, dilation, out


class MaxPool2dOp(Function):
    """Records max pooling; the kernel already ran (the caller may want the indices without a graph)."""

    save_inputs = False

    def forward(self, x, pooled, indices):
        self.shape, self.indices = x.shape, indices
        return pooled

    def backward(self, g):
        return (self.backend.kernels.max_pool2d_backward(g, self.indices, self.shape),)


class AvgPool2dOp(Function):
    save_inputs = False

    def forward(self, x, kernel, stride, padding, out_size, count_include_pad, divisor_override):
        self.shape, self.args = x.shape, (kernel, stride, padding, count_include_pad, divisor_override)
        return self.backend.kernels.avg_pool2d_forward(
            x, kernel, stride, padding, out_size, count_include_pad, divisor_override
        )

    def backward(self, g):
        return (self.backend.kernels.avg_pool2d_backward(g, self.shape, *self.args),)


def max_pool2d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    dilation: Any = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """The maximum over each window, as ``torch.nn.functional.max_pool2d``. input: (N, C, H, W) or (C, H, W);
    stride defaults to kernel_size; padding (at most half the kernel) counts as -inf. With ``return_indices``
    also returns the int64 position h * W + w of each maximum."""
    op = "max_pool2d"
    x, unbatched = image_batch(input, op)
    kernel, stride, pad, dilation, out_size = _pool_args(x, kernel_size, stride, padding, dilation, ceil_mode, op)
    pooled, indices = x._backend.kernels.max_pool2d_forward(x.data, kernel, stride, pad, dilation, out_size)
    out = MaxPool2dOp.apply(x, pooled=pooled, indices=indices)
    if not return_indices:
        return out.squeeze(0) if unbatched else out
    indices = Tensor._make(indices, x._backend)
    return (out.squeeze(0), indices.squeeze(0)) if unbatched else (out, indices)


def avg_pool2d(
    input: Tensor,
    kernel_size: Any,
    stride: Any = None,
    padding: Any = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """The mean over each window, as ``torch.nn.functional.avg_pool2d``: zero padding counts in the divisor
    unless ``count_include_pad`` is False; ``divisor_override`` replaces the divisor."""
    op = "avg_pool2d"
    x, unbatched = image_batch(input, op)
    if divisor_override is not None and (isinstance(divisor_override, bool) or divisor_override <= 0):
        raise ValueError(f"{op}: divisor_override must be a positive integer, got {divisor_override!r}")
    kernel, stride, pad, _, out_size = _pool_args(x, kernel_size, stride, padding, 1, ceil_mode, op)
    out = AvgPool2dOp.apply(
        x, kernel=kernel, stride=stride, padding=pad, out_size=out_size,
        count_include_pad=bool(count_include_pad), divisor_override=divisor_override,
    )  # fmt: skip
    return out.squeeze(0) if unbatched else out


def _bins(size: int, out: int) -> np.ndarray:
    """(out, size) averaging matrix of adaptive pooling: row i averages the inputs from floor(i size / out) up to
    (not including) ceil((i + 1) size / out)."""
    weights = np.zeros((out, size))
    for i in range(out):
        start, end = (i * size) // out, math.ceil((i + 1) * size / out)
        weights[i, start:end] = 1.0 / (end - start)
    return weights


class AdaptiveAvgPool2dOp(Function):
    """Adaptive average pooling is separable: out = P_h @ x @ P_w^T with the row-averaging matrices of ``_bins``."""

    save_inputs = False

    def forward(self, x, out_size):
        xp = self.xp
        self.p_h = xp.asarray(_bins(x.shape[2], out_size[0]), dtype=x.dtype)
        self.p_w = xp.asarray(_bins(x.shape[3], out_size[1]), dtype=x.dtype)
        return xp.matmul(xp.matmul(self.p_h, x), self.p_w.T)

    def backward(self, g):
        xp = self.xp
        return (xp.matmul(xp.matmul(self.p_h.T, g), self.p_w),)


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:
    """Average pooling to a given (Ho, Wo) whatever the input size (an int for square; None keeps that input
    size), as ``torch.nn.functional.adaptive_avg_pool2d``. Output 1 is global average pooling."""
    op = "adaptive_avg_pool2d"
    x, unbatched = image_batch(input, op)
    sizes = output_size if isinstance(output_size, (tuple, list)) else (output_size, output_size)
    if len(sizes) != 2:
        raise ValueError(f"{op}: output_size must be an int or a pair, got {output_size!r}")
    sizes = tuple(x.shape[2 + i] if s is None else s for i, s in enumerate(sizes))
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, int) or s < 1:
            raise ValueError(f"{op}: output sizes must be positive integers, got {output_size!r}")
    if sizes == (1, 1):
        out = x.mean(dim=(2, 3), keepdim=True)
    else:
        out = AdaptiveAvgPool2dOp.apply(x, out_size=sizes)
    return out.squeeze(0) if unbatched else out
