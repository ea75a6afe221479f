"""The batched matrix product on our own Numba GEMM: the whole batch in one compiled call.

A matrix shared by every product (batch dims all 1, such as a convolution's weights against each image's
columns) is packed once for the batch; a batch of A against one shared B is one tall product (the batch folded
into M).
"""

import math

import numpy as np
from minidl_kernels.numba.gemm import gemm_stacked
from minidl_kernels.reference.conv import check_matmul_args


def _stack(x: np.ndarray, batch: tuple[int, ...]) -> np.ndarray:
    """x (..., R, C) as a stack (count, R, C): count 1 when x's batch dims are all 1 (one matrix for every product),
    else x broadcast to ``batch`` (a view where NumPy can make one)."""
    rows, cols = x.shape[-2:]
    if math.prod(x.shape[:-2]) == 1:
        return x.reshape(1, rows, cols)
    if x.shape[:-2] != batch:
        x = np.broadcast_to(x, batch + (rows, cols))
    return x.reshape(math.prod(batch), rows, cols)


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.matmul`` semantics with our GEMM: a (..., M, K), b (..., K, N), batch dims broadcast, both float32 or
    both float64 -> (..., M, N), C-contiguous."""
    batch = check_matmul_args(a, b)
    (m, k), n = a.shape[-2:], b.shape[-1]
    out = np.empty(batch + (m, n), dtype=a.dtype)
    count = math.prod(batch)
    a3, b3 = _stack(a, batch), _stack(b, batch)
    if count > 1 and a3.shape[0] == count and b3.shape[0] == 1 and a3.flags.c_contiguous:
        gemm_stacked(a3.reshape(1, count * m, k), b3, out.reshape(1, count * m, n))
    else:
        gemm_stacked(a3, b3, out.reshape(count, m, n))
    return out
