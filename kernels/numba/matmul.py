"""The batched matrix product on top of our own Numba GEMM: one ``gemm`` call per matrix of the batch."""

import numpy as np
from minidl_kernels.numba.gemm import gemm


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.matmul`` semantics with our GEMM: a (..., M, K), b (..., K, N), batch dims broadcast -> (..., M, N)."""
    if a.ndim < 2 or b.ndim < 2:
        raise ValueError(f"matmul kernel: operands need at least 2 dims, got shapes {a.shape} and {b.shape}")
    if a.ndim == 2 and b.ndim == 2:
        return gemm(a, b)
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a = np.broadcast_to(a, batch + a.shape[-2:])
    b = np.broadcast_to(b, batch + b.shape[-2:])
    out = np.empty(batch + (a.shape[-2], b.shape[-1]), dtype=np.result_type(a, b))
    for index in np.ndindex(*batch):
        out[index] = gemm(a[index], b[index])
    return out
