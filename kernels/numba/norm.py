"""Batch normalisation (training mode) in Numba: fused per-channel passes, parallel over the channels.

The contract is ``minidl_kernels.reference.norm``: x (N, C, L), weight and bias (C,) or None, the biased
variance, and (out, mean, invstd) from the forward pass, (dx, dweight, dbias) from the backward pass, all of x's
dtype.

Each channel's N * L values are visited a few times in a row while they sit in the cache:

- forward: the sum (mean), the sum of squared deviations from that mean (two passes, so no cancellation), then
  the output ``(x - mean) * (invstd * weight) + bias``;
- backward: the sums of g and of g * (x - mean) in one pass, then dx in a second.

Every sum is accumulated in float64 (also for float32 input) and may be reordered across SIMD lanes (fastmath
``reassoc``); the element-wise arithmetic is done in float64 too and rounded once on the store.

Inputs of any strides are accepted: the wrappers take a C-contiguous copy of an argument that is not already
C-contiguous (``np.ascontiguousarray``).
"""

from __future__ import annotations

import math

import numpy as np
from minidl_kernels.reference.norm import check_batch_norm_backward_args, check_batch_norm_forward_args
from numba import njit, prange

_FASTMATH = {"reassoc", "contract"}  # reorder the sums across SIMD lanes; no assumption about NaN or inf


@njit(parallel=True, cache=True, fastmath=_FASTMATH)
def _forward(x, weight, bias, eps, out, mean, invstd, var):  # pragma: no cover - compiled
    n, c, length = x.shape
    count = n * length
    for ci in prange(c):
        s = 0.0
        for b in range(n):
            row = x[b, ci]
            for t in range(length):
                s += row[t]
        mu = s / count
        q = 0.0
        for b in range(n):
            row = x[b, ci]
            for t in range(length):
                d = row[t] - mu
                q += d * d
        var[ci] = q / count
        inv = 1.0 / math.sqrt(q / count + eps)
        scale, shift = inv * weight[ci], bias[ci]
        for b in range(n):
            row, orow = x[b, ci], out[b, ci]
            for t in range(length):
                orow[t] = (row[t] - mu) * scale + shift
        mean[ci] = mu
        invstd[ci] = inv


@njit(parallel=True, cache=True, fastmath=_FASTMATH)
def _backward(g, x, weight, mean, invstd, dx, dweight, dbias):  # pragma: no cover - compiled
    n, c, length = x.shape
    count = n * length
    for ci in prange(c):
        mu, inv = mean[ci], invstd[ci]
        sg = 0.0
        sgx = 0.0
        for b in range(n):
            grow, row = g[b, ci], x[b, ci]
            for t in range(length):
                gv = grow[t]
                sg += gv
                sgx += gv * (row[t] - mu)
        # dx = invstd * weight * (g - mean(g) - xhat * mean(g * xhat)), xhat = (x - mean) * invstd
        scale = inv * weight[ci]
        gmean = sg / count
        k = inv * inv * sgx / count
        for b in range(n):
            grow, row, drow = g[b, ci], x[b, ci], dx[b, ci]
            for t in range(length):
                drow[t] = scale * (grow[t] - gmean - (row[t] - mu) * k)
        dbias[ci] = sg
        dweight[ci] = sgx * inv


def _per_channel(a: np.ndarray | None, c: int, default: float) -> np.ndarray:
    """A (C,) float64 array: ``a`` (already checked), or ``default`` everywhere when it is None."""
    if a is None:
        return np.full(c, default)
    return np.ascontiguousarray(a, dtype=np.float64)


def batch_norm_forward(
    x: np.ndarray, weight: np.ndarray | None, bias: np.ndarray | None, eps: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """x: (N, C, L) -> (out (N, C, L), mean (C,), invstd (C,), var (C,)): var is the biased batch variance and
    invstd = 1 / sqrt(var + eps), all x's dtype."""
    check_batch_norm_forward_args(x, weight, bias, eps)
    dtype, c = x.dtype, x.shape[1]
    w = _per_channel(weight, c, 1.0)
    b = _per_channel(bias, c, 0.0)
    out = np.empty(x.shape, dtype=dtype)
    mean, invstd, var = np.zeros(c), np.zeros(c), np.zeros(c)
    if x.shape[0] * x.shape[2] == 0:
        mean[:], invstd[:], var[:] = np.nan, 1.0 / np.sqrt(np.nan + eps), np.nan  # the reference's empty means
    elif c:
        _forward(np.ascontiguousarray(x), w, b, float(eps), out, mean, invstd, var)
    return out, mean.astype(dtype), invstd.astype(dtype), var.astype(dtype)


def batch_norm_backward(
    grad_out: np.ndarray, x: np.ndarray, weight: np.ndarray | None, mean: np.ndarray, invstd: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The gradients of ``batch_norm_forward``: grad_out, x: (N, C, L) -> (dx (N, C, L), dweight (C,), dbias (C,)),
    all of x's dtype."""
    check_batch_norm_backward_args(grad_out, x, weight, mean, invstd)
    dtype, c = x.dtype, x.shape[1]
    w = _per_channel(weight, c, 1.0)
    mu = _per_channel(mean, c, 0.0)
    inv = _per_channel(invstd, c, 1.0)
    dx = np.empty(x.shape, dtype=dtype)
    dweight, dbias = np.zeros(c), np.zeros(c)
    if c and x.size:
        g = np.ascontiguousarray(grad_out, dtype=dtype)
        _backward(g, np.ascontiguousarray(x), w, mu, inv, dx, dweight, dbias)
    return dx, dweight.astype(dtype), dbias.astype(dtype)
