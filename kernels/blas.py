"""The platform BLAS through NumPy: the GEMM ceiling the compiled kernels are measured against."""

import numpy as np


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.matmul(a, b)``: a (..., M, K), b (..., K, N), batch dims broadcast -> (..., M, N); BLAS per matrix."""
    return np.matmul(a, b)
