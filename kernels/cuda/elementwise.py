"""Element-wise kernels in numba.cuda: ``keep_where`` and ``erf``, on device arrays.

Both run one thread per element of the flattened (C-contiguous) input: consecutive threads read and write
consecutive elements (coalesced). Contracts: ``minidl_kernels.reference.mask`` and
``minidl_kernels.reference.special``.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from minidl_kernels.cuda import runtime
from minidl_kernels.reference.mask import check_keep_where_args
from minidl_kernels.reference.special import check_erf_args
from numba import cuda


@cuda.jit
def _keep_where_kernel(g, keep, out):  # pragma: no cover - compiled
    """g, keep, out: flat (n,); out[i] = g[i] where keep[i], else an exact 0 (a select, never g * 0: inf and nan
    g are dropped too)."""
    i = cuda.grid(1)
    if i >= out.size:
        return
    if keep[i]:
        out[i] = g[i]
    else:
        out[i] = 0


@cuda.jit
def _erf_kernel(x, out):  # pragma: no cover - compiled
    """x, out: flat (n,); out[i] = erf(x[i]) (libdevice's erff for float32, erf for float64)."""
    i = cuda.grid(1)
    if i < out.size:
        out[i] = math.erf(x[i])


PTX_CHECKS: list[tuple[Callable, str]] = [
    check
    for dtype in ("float32", "float64")
    for check in (
        (_keep_where_kernel.py_func, f"void({dtype}[::1], boolean[::1], {dtype}[::1])"),
        (_erf_kernel.py_func, f"void({dtype}[::1], {dtype}[::1])"),
    )
]


def keep_where(g: Any, keep: Any) -> Any:
    """g where ``keep``, an exact 0 elsewhere (also where g is inf or nan). g: float32/float64 (...), keep: bool of
    g's shape, any strides -> a new C-contiguous device array of g's shape and dtype."""
    check_keep_where_args(g, keep)
    flat_g = runtime.contiguous(g).reshape(-1)
    flat_keep = runtime.contiguous(keep).reshape(-1)
    out = runtime.empty(g.shape, g.dtype)
    runtime.launch_1d(_keep_where_kernel, out.size, flat_g, flat_keep, out.reshape(-1))
    return out


def erf(x: Any) -> Any:
    """The error function, element-wise. x: float32/float64 (...), any strides -> a new C-contiguous device array
    of x's shape and dtype."""
    check_erf_args(x)
    flat_x = runtime.contiguous(x).reshape(-1)
    out = runtime.empty(x.shape, x.dtype)
    runtime.launch_1d(_erf_kernel, out.size, flat_x, out.reshape(-1))
    return out
