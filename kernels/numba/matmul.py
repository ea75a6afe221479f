"""The batched matrix product on top of our own Numba GEMM: one ``gemm`` call per matrix of the batch."""

import numpy as np
from minidl_kernels.numba.gemm import gemm
from minidl_kernels.reference.conv import check_matmul_args


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.matmul`` semantics with our GEMM: a (..., M, K), b (..., K, N), batch dims broadcast, both float32 or
    both float64 -> (..., M, N)."""
    batch = check_matmul_args(a, b)
    if a.ndim == 2 and b.ndim == 2:
        return gemm(a, b)
    a = np.broadcast_to(a, batch + a.shape[-2:])
    b = np.broadcast_to(b, batch + b.shape[-2:])
    out = np.empty(batch + (a.shape[-2], b.shape[-1]), dtype=a.dtype)
    for index in np.ndindex(*batch):
        out[index] = gemm(a[index], b[index])
    return out
