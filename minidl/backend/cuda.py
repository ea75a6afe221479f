"""The CUDA backend: device "cuda" (one GPU, ``cuda:0``).

On a GPU its arrays are CuPy arrays: CuPy does the element-wise work and the reductions (``xp``), and every hot
path is one of our numba.cuda kernels (``minidl_kernels.cuda``), launched on CuPy's current stream with memory
from CuPy's pool. cuBLAS, through CuPy, is the ``blas`` variant of ``matmul``/``gemm`` beside our own GEMM, chosen
with ``use_kernels("blas", "matmul", device="cuda")``.

Under Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1`` before Python starts) the same backend runs on NumPy
arrays and simulated kernels, so machines without a GPU (CI) exercise the whole device path. Host and device never
share memory, simulated or not: moving data copies it.
"""

from __future__ import annotations

import contextlib
from contextlib import AbstractContextManager
from typing import Any

import numpy as np
from minidl_kernels import CUDA_IMPLEMENTATIONS

from minidl.backend.base import KernelBackend
from minidl.backend.convolution import Convolution
from minidl.backend.kernel_table import KernelTable

# Our kernels by default; cuBLAS is the "blas" variant (python -m benchmarks gpu compares them).
CUDA_PREFERRED = {name: "cuda" for name in CUDA_IMPLEMENTATIONS}
# im2col columns per convolution chunk: a GPU wants large GEMMs to fill its SMs.
COLUMN_BUDGET = 256 * 2**20


def runtime() -> Any:
    """``minidl_kernels.cuda.runtime`` (imported on demand: it imports numba.cuda)."""
    from minidl_kernels.cuda import runtime as cuda_runtime

    return cuda_runtime


def unavailable_reason() -> str | None:
    """Why the cuda device cannot be used here, or None when it can."""
    try:
        cuda_runtime = runtime()
    except ImportError as err:
        return f"numba.cuda cannot be imported ({err}); pip install '.[cuda]'"
    if cuda_runtime.SIMULATED:
        return None
    try:
        cuda_runtime.array_module()
    except ImportError as err:
        return str(err)
    from numba import cuda

    if not cuda.is_available():
        return (
            "no CUDA GPU with a working driver was found (numba.cuda.is_available() is False); set "
            "NUMBA_ENABLE_CUDASIM=1 before Python starts to run the cuda device on Numba's simulator"
        )
    return None


class CUDABackend(KernelBackend):
    """Device "cuda": CuPy arrays (NumPy under the simulator), ``xp`` the array module, our cuda kernels."""

    name = "cuda"

    def __init__(self) -> None:
        cuda_runtime = runtime()
        self.simulated = cuda_runtime.SIMULATED
        self.xp = cuda_runtime.array_module()
        self.array_type = self.xp.ndarray
        self.kernels = KernelTable(CUDA_IMPLEMENTATIONS, CUDA_PREFERRED)
        self.convolution = Convolution(self.kernels, self.xp, COLUMN_BUDGET)

    def from_numpy(self, array: np.ndarray) -> Any:
        """A host array -> a new device array (always a copy)."""
        return self.xp.array(array, copy=True)

    def to_numpy(self, array: Any) -> np.ndarray:
        """A device array -> a new host array (always a copy; on a GPU it waits for the array's pending work)."""
        if self.simulated:
            return np.array(array, copy=True)
        return self.xp.asnumpy(array)

    def errstate(self, **kwargs: str) -> AbstractContextManager:
        """CuPy raises no floating-point warnings: nothing to silence (NumPy's errstate under the simulator)."""
        return np.errstate(**kwargs) if self.simulated else contextlib.nullcontext()

    def synchronize(self) -> None:
        """Wait for the work queued on the current stream."""
        if not self.simulated:
            self.xp.cuda.get_current_stream().synchronize()

    def device_count(self) -> int:
        """How many GPUs there are (1 under the simulator)."""
        return 1 if self.simulated else int(self.xp.cuda.runtime.getDeviceCount())
