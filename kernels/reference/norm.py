"""Batch normalisation in training mode: statistics over the batch and the spatial positions, per channel.

x: (N, C, L) (the caller folds H, W, ... into L); weight, bias: (C,) or None (then 1 and 0); mean, invstd: (C,);
grad_out: x's shape; all float32 or float64 (the results have x's dtype); eps a real number >= 0. The variance
is the biased one (divided by N * L), as batch norm normalises with it.

The checks of these rules live here, once (``check_batch_norm_*_args``); every implementation calls them before it
touches memory.
"""

from __future__ import annotations

import numbers

import numpy as np
from minidl_kernels.reference.arguments import float_array_shape, float_dtype, shape_of, show


def _check_x(x, what: str) -> int:
    """C, for x a float (N, C, L) array."""
    shape = float_array_shape(x, "x", "(N, C, L)", what)
    return shape[1]


def _check_per_channel(a, c: int, name: str, what: str, optional: bool) -> None:
    if a is None and optional:
        return
    shape = shape_of(a, name, what)
    if shape != (c,):
        raise ValueError(f"{what}: {name} of shape ({c},) expected, got {show(shape)}")
    float_dtype(a, name, what)


def check_batch_norm_forward_args(x, weight, bias, eps) -> None:
    """x a float (N, C, L) array; weight, bias None or float (C,) arrays; eps a real number >= 0."""
    what = "batch_norm_forward"
    c = _check_x(x, what)
    _check_per_channel(weight, c, "weight", what, optional=True)
    _check_per_channel(bias, c, "bias", what, optional=True)
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real):
        raise TypeError(f"{what}: a real eps >= 0 expected, got {eps!r}")
    if not eps >= 0:
        raise ValueError(f"{what}: a real eps >= 0 expected, got {eps!r}")


def check_batch_norm_backward_args(grad_out, x, weight, mean, invstd) -> None:
    """grad_out and x float arrays of one (N, C, L) shape; weight None or a float (C,) array; mean, invstd float
    (C,) arrays."""
    what = "batch_norm_backward"
    c = _check_x(x, what)
    shape = shape_of(grad_out, "grad_out", what)
    if shape != x.shape:
        raise ValueError(f"{what}: grad_out of the same shape as x, {show(x.shape)}, expected, got {show(shape)}")
    float_dtype(grad_out, "grad_out", what)
    _check_per_channel(weight, c, "weight", what, optional=True)
    _check_per_channel(mean, c, "mean", what, optional=False)
    _check_per_channel(invstd, c, "invstd", what, optional=False)


def batch_norm_forward(
    x: np.ndarray, weight: np.ndarray | None, bias: np.ndarray | None, eps: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """x: (N, C, L) -> (out (N, C, L), mean (C,), invstd (C,), var (C,)) with var the biased batch variance and
    invstd = 1 / sqrt(var + eps). (var is returned as computed, not rebuilt from invstd: the running statistics
    need it exact even where it is far below eps.)"""
    check_batch_norm_forward_args(x, weight, bias, eps)
    mean = x.mean(axis=(0, 2))
    var = ((x - mean[None, :, None]) ** 2).mean(axis=(0, 2))
    invstd = (1.0 / np.sqrt(var + eps)).astype(x.dtype)
    scale = invstd if weight is None else invstd * weight
    out = (x - mean[None, :, None]) * scale[None, :, None]
    if bias is not None:
        out = out + bias[None, :, None]
    return out.astype(x.dtype), mean.astype(x.dtype), invstd, var.astype(x.dtype)


def batch_norm_backward(
    grad_out: np.ndarray, x: np.ndarray, weight: np.ndarray | None, mean: np.ndarray, invstd: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The gradients of ``batch_norm_forward``: grad_out, x: (N, C, L) -> (dx (N, C, L), dweight (C,), dbias (C,))."""
    check_batch_norm_backward_args(grad_out, x, weight, mean, invstd)
    count = x.shape[0] * x.shape[2]
    xhat = (x - mean[None, :, None]) * invstd[None, :, None]
    dbias = grad_out.sum(axis=(0, 2))
    dweight = (grad_out * xhat).sum(axis=(0, 2))
    scale = invstd if weight is None else invstd * weight
    dx = (scale / count)[None, :, None] * (count * grad_out - dbias[None, :, None] - xhat * dweight[None, :, None])
    return dx.astype(x.dtype), dweight.astype(x.dtype), dbias.astype(x.dtype)
