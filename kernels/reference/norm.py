"""Batch normalisation in training mode: statistics over the batch and the spatial positions, per channel.

x: (N, C, L) (the caller folds H, W, ... into L); weight, bias: (C,) or None (then 1 and 0); the variance is
the biased one (divided by N * L), as batch norm normalises with it.
"""

from __future__ import annotations

import numpy as np


def batch_norm_forward(
    x: np.ndarray, weight: np.ndarray | None, bias: np.ndarray | None, eps: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """x: (N, C, L) -> (out (N, C, L), mean (C,), invstd (C,), var (C,)) with var the biased batch variance and
    invstd = 1 / sqrt(var + eps). (var is returned as computed, not rebuilt from invstd: the running statistics
    need it exact even where it is far below eps.)"""
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
    count = x.shape[0] * x.shape[2]
    xhat = (x - mean[None, :, None]) * invstd[None, :, None]
    dbias = grad_out.sum(axis=(0, 2))
    dweight = (grad_out * xhat).sum(axis=(0, 2))
    scale = invstd if weight is None else invstd * weight
    dx = (scale / count)[None, :, None] * (count * grad_out - dbias[None, :, None] - xhat * dweight[None, :, None])
    return dx.astype(x.dtype), dweight.astype(x.dtype), dbias.astype(x.dtype)
