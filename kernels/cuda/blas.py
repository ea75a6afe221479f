"""The vendor GEMM: ``gemm`` and ``matmul`` through the array module's own matmul (cuBLAS via CuPy on a GPU, NumPy
under the simulator), with the reference's argument checks and C-contiguous outputs. The ``blas`` variant the
backend can switch to, and the ceiling our tiled GEMM (``minidl_kernels.cuda.gemm``) is measured against."""

from __future__ import annotations

from typing import Any, Callable

from minidl_kernels.cuda import runtime
from minidl_kernels.reference.conv import check_gemm_args, check_matmul_args

# No numba.cuda kernels here: nothing to compile to PTX.
PTX_CHECKS: list[tuple[Callable, str]] = []


def gemm(a: Any, b: Any) -> Any:
    """The matrix product a @ b. a: (M, K), b: (K, N), any strides, both float32 or both float64 -> (M, N),
    C-contiguous."""
    check_gemm_args(a, b)
    return runtime.contiguous(runtime.array_module().matmul(a, b))


def matmul(a: Any, b: Any) -> Any:
    """``np.matmul`` semantics: a (..., M, K), b (..., K, N), batch dims broadcast, both float32 or both float64
    -> (..., M, N), C-contiguous."""
    check_matmul_args(a, b)
    return runtime.contiguous(runtime.array_module().matmul(a, b))
