"""Batch normalisation (training mode) in numba.cuda: per-channel reductions, then element-wise kernels.

The contract is ``minidl_kernels.reference.norm``, with the semantics of the Numba version
(``minidl_kernels.numba.norm``): x (N, C, L), weight and bias (C,) or None (1 and 0), the biased variance returned
as computed, every sum and the element-wise arithmetic in float64 (also for float32 data), rounded once on the
store.

- forward statistics: one block of ``REDUCE_THREADS`` threads per channel. Each thread sums a strided share of the
  channel's N * L values (consecutive threads read consecutive positions of a row: coalesced), the block adds the
  shares in a shared-memory tree, and every thread reads the mean back; a second pass sums the squared deviations
  from that mean the same way (two passes: no E[x^2] - E[x]^2 cancellation).
- forward output: one thread per element, ``(x - mean) * (invstd * weight) + bias``.
- backward sums: one block per channel again, the sums of g and of g * (x - mean) in one pass, two trees.
- backward dx: one thread per element, ``invstd * weight * (g - mean(g) - (x - mean) * invstd * dweight / count)``.

The shared arrays hold float64 partial sums whatever the data's dtype, so one kernel serves both dtypes.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
from minidl_kernels.cuda import runtime
from minidl_kernels.reference.norm import check_batch_norm_backward_args, check_batch_norm_forward_args
from numba import cuda, float64

# Threads of a reduction block: a power of two for the tree, and a compile-time constant for its shared arrays.
REDUCE_THREADS = runtime.THREADS


@cuda.jit(device=True, inline=True)
def _block_sum(partial, value):  # pragma: no cover - compiled
    """The sum of ``value`` over the block's REDUCE_THREADS threads, returned to every thread; ``partial`` is a
    float64 shared array of REDUCE_THREADS entries, free again when this returns."""
    tid = cuda.threadIdx.x
    partial[tid] = value
    cuda.syncthreads()
    step = REDUCE_THREADS // 2
    while step > 0:
        if tid < step:
            partial[tid] += partial[tid + step]
        cuda.syncthreads()
        step //= 2
    total = partial[0]
    cuda.syncthreads()  # every thread has read the total before anyone writes partial again
    return total


@cuda.jit
def _forward_stats_kernel(x, eps, mean, invstd, var):  # pragma: no cover - compiled
    """x: (N, C, L) -> mean, invstd, var: (C,) float64; block c reduces channel c (N * L >= 1 values)."""
    partial = cuda.shared.array(REDUCE_THREADS, float64)
    tid = cuda.threadIdx.x
    channel = cuda.blockIdx.x
    n, _, length = x.shape
    count = n * length
    s = 0.0
    for p in range(tid, count, REDUCE_THREADS):
        s += float64(x[p // length, channel, p % length])  # a float64 sum (also under the simulator's NumPy)
    mu = _block_sum(partial, s) / count
    q = 0.0
    for p in range(tid, count, REDUCE_THREADS):
        d = x[p // length, channel, p % length] - mu
        q += d * d
    v = _block_sum(partial, q) / count
    if tid == 0:
        mean[channel] = mu
        var[channel] = v
        std = math.sqrt(v + eps)
        # 1 / 0 is inf, as in the reference (var == eps == 0); spelled out because the simulator's floats raise.
        invstd[channel] = math.inf if std == 0 else 1.0 / std


@cuda.jit
def _forward_out_kernel(x, channels, length, mean, invstd, weight, bias, out):  # pragma: no cover - compiled
    """x, out: flat (N, C, L); mean, invstd, weight, bias: (C,) float64; one thread per element."""
    e = cuda.grid(1)
    if e >= out.size:
        return
    c = (e // length) % channels
    out[e] = (x[e] - mean[c]) * (invstd[c] * weight[c]) + bias[c]


@cuda.jit
def _backward_sums_kernel(g, x, mean, invstd, dweight, dbias):  # pragma: no cover - compiled
    """g, x: (N, C, L); mean, invstd: (C,) float64 -> dbias = sum(g), dweight = sum(g * (x - mean)) * invstd: (C,)
    float64; block c reduces channel c."""
    partial = cuda.shared.array(REDUCE_THREADS, float64)
    tid = cuda.threadIdx.x
    channel = cuda.blockIdx.x
    n, _, length = x.shape
    mu = mean[channel]
    sg = 0.0
    sgx = 0.0
    for p in range(tid, n * length, REDUCE_THREADS):
        b = p // length
        t = p % length
        gv = float64(g[b, channel, t])
        sg += gv
        sgx += gv * (x[b, channel, t] - mu)
    sg = _block_sum(partial, sg)
    sgx = _block_sum(partial, sgx)
    if tid == 0:
        dbias[channel] = sg
        dweight[channel] = sgx * invstd[channel]


@cuda.jit
def _backward_dx_kernel(g, x, channels, length, mean, invstd, weight, dweight, dbias, dx):  # pragma: no cover
    """g, x, dx: flat (N, C, L); the rest (C,) float64; one thread per element:
    dx = invstd * weight * (g - mean(g) - xhat * mean(g * xhat)), xhat = (x - mean) * invstd."""
    e = cuda.grid(1)
    if e >= dx.size:
        return
    c = (e // length) % channels
    count = dx.size // channels
    inv = invstd[c]
    dx[e] = inv * weight[c] * (g[e] - dbias[c] / count - (x[e] - mean[c]) * (inv * dweight[c] / count))


def _signatures(dtype: str) -> list[tuple[Callable, str]]:
    a3, flat, c64 = f"{dtype}[:, :, ::1]", f"{dtype}[::1]", "float64[::1]"
    return [
        (_forward_stats_kernel.py_func, f"void({a3}, float64, {c64}, {c64}, {c64})"),
        (_forward_out_kernel.py_func, f"void({flat}, int64, int64, {c64}, {c64}, {c64}, {c64}, {flat})"),
        (_backward_sums_kernel.py_func, f"void({a3}, {a3}, {c64}, {c64}, {c64}, {c64})"),
        (
            _backward_dx_kernel.py_func,
            f"void({flat}, {flat}, int64, int64, {c64}, {c64}, {c64}, {c64}, {c64}, {flat})",
        ),
    ]


PTX_CHECKS: list[tuple[Callable, str]] = [check for dtype in ("float32", "float64") for check in _signatures(dtype)]


def _per_channel(a: Any, c: int, default: float) -> Any:
    """A (C,) float64 device array: ``a`` (already checked), or ``default`` everywhere when it is None."""
    if a is None:
        return _full(c, default)
    return runtime.contiguous(a, np.float64)


def _full(c: int, value: float) -> Any:
    """A (C,) float64 device array of ``value``."""
    return runtime.array_module().full((c,), value, dtype=np.float64)


def batch_norm_forward(x: Any, weight: Any | None, bias: Any | None, eps: float) -> tuple[Any, Any, Any, Any]:
    """x: (N, C, L) -> (out (N, C, L), mean (C,), invstd (C,), var (C,)): var is the biased batch variance (as
    computed) and invstd = 1 / sqrt(var + eps); new C-contiguous device arrays of x's dtype. With N * L == 0 the
    statistics are NaN, as the reference's empty means."""
    check_batch_norm_forward_args(x, weight, bias, eps)
    dtype, (n, c, length) = x.dtype, x.shape
    out = runtime.empty(x.shape, dtype)
    if n * length == 0:
        nan = _full(c, math.nan)
        return out, nan.astype(dtype), nan.astype(dtype), nan.astype(dtype)
    x = runtime.contiguous(x)
    mean, invstd, var = (runtime.empty((c,), np.float64) for _ in range(3))
    if c:
        runtime.launch(_forward_stats_kernel, c, REDUCE_THREADS, x, float(eps), mean, invstd, var)
        w, b = _per_channel(weight, c, 1.0), _per_channel(bias, c, 0.0)
        runtime.launch_1d(_forward_out_kernel, out.size, x.reshape(-1), c, length, mean, invstd, w, b, out.reshape(-1))
    return out, mean.astype(dtype), invstd.astype(dtype), var.astype(dtype)


def batch_norm_backward(grad_out: Any, x: Any, weight: Any | None, mean: Any, invstd: Any) -> tuple[Any, Any, Any]:
    """The gradients of ``batch_norm_forward``: grad_out, x: (N, C, L) -> (dx (N, C, L), dweight (C,), dbias (C,)),
    new C-contiguous device arrays of x's dtype."""
    check_batch_norm_backward_args(grad_out, x, weight, mean, invstd)
    dtype, c = x.dtype, x.shape[1]
    dx = runtime.empty(x.shape, dtype)
    dweight, dbias = runtime.zeros((c,), np.float64), runtime.zeros((c,), np.float64)
    if c and x.size:
        g = runtime.contiguous(grad_out, dtype)
        x = runtime.contiguous(x)
        mu, inv = _per_channel(mean, c, 0.0), _per_channel(invstd, c, 1.0)
        runtime.launch(_backward_sums_kernel, c, REDUCE_THREADS, g, x, mu, inv, dweight, dbias)
        w = _per_channel(weight, c, 1.0)
        length = x.shape[2]
        args = (g.reshape(-1), x.reshape(-1), c, length, mu, inv, w, dweight, dbias, dx.reshape(-1))
        runtime.launch_1d(_backward_dx_kernel, dx.size, *args)
    return dx, dweight.astype(dtype), dbias.astype(dtype)
