"""The platform BLAS through NumPy: the GEMM ceiling the compiled kernels are measured against."""

import numpy as np
from minidl_kernels.reference.conv import check_matmul_args


def matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.matmul(a, b)``: a (..., M, K), b (..., K, N), batch dims broadcast, both float32 or both float64 ->
    (..., M, N); BLAS per matrix."""
    check_matmul_args(a, b)
    return np.matmul(a, b)
