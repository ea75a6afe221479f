"""Row-wise log-softmax in numba.cuda, on device arrays.

The contract is ``minidl_kernels.reference.softmax``: x (M, C) -> x - max - log(sum(exp(x - max))) row by row.

One block per row. Its threads walk the row in strides of the block size (consecutive threads read consecutive
columns: coalesced) three times: the maximum, the sum of exp(x - max), then the output; the block combines the
threads' maxima and sums in shared-memory trees. The block has as many threads as the smallest power of two that
covers the row, at most ``MAX_THREADS``, so a narrow row (ten classes) does not leave most of a block idle.

The shift, the exponentials, the sum and the output are computed in float64 for either dtype (the maximum is one
of the row's values, so x - max is exact, and logits in the thousands lose nothing), rounded once on the store. A
NaN anywhere in a row makes the maximum, and so the whole row, NaN, as in the reference; an infinite value gives
NaN where the reference's arithmetic does.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from minidl_kernels.cuda import runtime
from minidl_kernels.reference.softmax import check_log_softmax_args
from numba import cuda, float64

# Threads of a row's block at most: a power of two for the trees, and a compile-time constant for the shared array.
MAX_THREADS = runtime.THREADS


@cuda.jit(device=True, inline=True)
def _larger(a, b):  # pragma: no cover - compiled
    """The larger of a and b, NaN when either is (a plain max would drop a NaN in one of the two places)."""
    if b > a or b != b:
        return b
    return a


@cuda.jit(device=True, inline=True)
def _block_reduce(partial, value, take_max):  # pragma: no cover - compiled
    """The maximum (``take_max``) or the sum of ``value`` over the block's threads (a power of two of them),
    returned to every thread; ``partial`` is a shared float64 array of MAX_THREADS entries, free when this returns."""
    tid = cuda.threadIdx.x
    partial[tid] = value
    cuda.syncthreads()
    step = cuda.blockDim.x // 2
    while step > 0:
        if tid < step:
            if take_max:
                partial[tid] = _larger(partial[tid], partial[tid + step])
            else:
                partial[tid] += partial[tid + step]
        cuda.syncthreads()
        step //= 2
    result = partial[0]
    cuda.syncthreads()  # every thread has read the result before anyone writes partial again
    return result


@cuda.jit
def _log_softmax_kernel(x, out):  # pragma: no cover - compiled
    """x, out: (M, C); block r computes row r with a power of two of threads."""
    partial = cuda.shared.array(MAX_THREADS, float64)
    tid = cuda.threadIdx.x
    threads = cuda.blockDim.x
    row = cuda.blockIdx.x
    classes = x.shape[1]
    top = -math.inf
    for j in range(tid, classes, threads):
        top = _larger(top, float64(x[row, j]))
    top = _block_reduce(partial, top, True)
    total = 0.0
    for j in range(tid, classes, threads):
        total += math.exp(x[row, j] - top)
    log_total = math.log(_block_reduce(partial, total, False))
    for j in range(tid, classes, threads):
        out[row, j] = (x[row, j] - top) - log_total


PTX_CHECKS: list[tuple[Callable, str]] = [
    (_log_softmax_kernel.py_func, f"void({dtype}[:, ::1], {dtype}[:, ::1])") for dtype in ("float32", "float64")
]


def _threads_for(classes: int) -> int:
    """The smallest power of two >= ``classes``, at most MAX_THREADS."""
    return min(MAX_THREADS, 1 << max(0, classes - 1).bit_length())


def log_softmax(x: Any) -> Any:
    """x: (M, C) float32/float64, any strides -> (M, C) log-softmax of each row, a new C-contiguous device array
    of x's dtype."""
    check_log_softmax_args(x)
    x = runtime.contiguous(x)
    out = runtime.empty(x.shape, x.dtype)
    rows, classes = x.shape
    if rows:
        runtime.launch(_log_softmax_kernel, rows, _threads_for(classes), x, out)
    return out
