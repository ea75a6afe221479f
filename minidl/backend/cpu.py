"""The CPU backend: NumPy arrays, NumPy for simple element-wise work, compiled kernels for the hot paths."""

from __future__ import annotations

import os
from contextlib import AbstractContextManager

import numpy as np
from minidl_kernels import IMPLEMENTATIONS

from minidl.backend import memory
from minidl.backend.base import KernelBackend
from minidl.backend.convolution import Convolution, WinogradRule
from minidl.backend.kernel_table import KernelTable

memory.configure_from_environment()

# The fastest measured implementation of each kernel on the CPU (`python -m benchmarks kernels` measures them).
CPU_PREFERRED = {
    "scatter_add": "cython",
    "erf": "numba",
    "keep_where": "bitmask",  # 10x np.where on a ReLU's random mask
    # OpenBLAS through NumPy. Our Numba GEMM is on par (100% of it at 1024², 95-136% on ResNet-18's conv GEMMs:
    # python -m benchmarks gemm), but a whole ResNet-18 training step took the same time with either (1814 vs 1818 ms)
    "matmul": "blas",
    "gemm": "reference",  # the same BLAS call
    "im2col": "numba",  # on AVX-512 hosts; see host_preferences
    "col2im": "numba",
    "max_pool2d_forward": "numba",
    "max_pool2d_backward": "numba",
    "avg_pool2d_forward": "numba",
    "avg_pool2d_backward": "numba",
    "depthwise_conv2d_forward": "numba",
    "depthwise_conv2d_backward_input": "numba",
    "depthwise_conv2d_backward_weight": "numba",
    "batch_norm_forward": "numba",
    "batch_norm_backward": "numba",
    "winograd_filter_transform": "reference",  # small: one einsum over the filters
    "winograd_filter_transform_adjoint": "reference",
    "winograd_input_transform": "numba",
    "winograd_output_transform": "numba",
    "winograd_output_transform_adjoint": "numba",
    "log_softmax": "reference",  # NumPy's vectorised rows
    "dropout_mask": "reference",
}
# im2col columns per chunk of a convolution: about one ResNet image, so the columns stay in cache between im2col and
# the GEMM (measured fastest).
COLUMN_BUDGET = 2 * 2**20
# When "auto" picks Winograd for a 3×3 stride-1 convolution, as measured by `python -m benchmarks steps` and `ops`
# (batch 32, forward + backward, 1 thread, AVX2 host): F(4×4) beat both im2col implementations from 32 channels on
# 8×8 to 32×32 maps (0.65-0.87× PyTorch against 1.09-1.20× for im2col on 64-256 channels); on 4×4 maps F(4×4) lost
# (1.5×) and F(2×2) tied im2col; at 16 channels both lost.
WINOGRAD = WinogradRule(min_channels=32, min_size_4=8, against_im2col=("numba", "cython"))
# Output maps of at most this many pixels run im2col's GEMM as one wide product per chunk: at 4×4 (ResNet-18's last
# stage on CIFAR) 25% faster than one product per image; at 8×8 and larger, no faster.
WIDE_GEMM_LENGTH = 32


def host_preferences() -> dict[str, str]:
    """Choices that depend on the processor. Our Numba im2col/col2im copy row segments with 64-byte masked vector
    moves: one instruction each with AVX-512 (where they measured fastest), emulated without it. On an AVX2-only
    Zen 3, Cython's plain loops were faster for every conv shape measured: conv forward + backward 3.35 vs 5.14 ms
    (LeNet conv1), 114 vs 148 ms (ResNet 3×3, im2col path), 110 vs 125 ms (256 channels on 8×8)."""
    try:
        from llvmlite import binding

        has_avx512 = bool(binding.get_host_cpu_features().get("avx512f"))
    except Exception:  # an llvmlite that cannot tell: keep the defaults
        return {}
    if has_avx512:
        return {}
    try:
        import minidl_kernels.cython.im2col  # noqa: F401  (built by pip install; absent in a bare source tree)
    except ImportError:
        return {}
    return {"im2col": "cython", "col2im": "cython"}


class CPUBackend(KernelBackend):
    """Device "cpu": tensors hold ``numpy.ndarray``; ``xp`` is NumPy itself; ``kernels`` the compiled table."""

    name = "cpu"
    array_type = np.ndarray
    xp = np

    def __init__(self) -> None:
        self.kernels = KernelTable(IMPLEMENTATIONS, {**CPU_PREFERRED, **host_preferences()})
        forced = os.environ.get("MINIDL_KERNELS")
        if forced:
            self.kernels.select(forced)
        self.convolution = Convolution(self.kernels, np, COLUMN_BUDGET, WINOGRAD, WIDE_GEMM_LENGTH)

    def __reduce__(self) -> tuple:
        """Any CPU backend pickles (and copies) as the device name: unpickling gives the registered backend of that
        device (``get_backend(self.name)``), never a second one with its own kernel table."""
        from minidl.backend import get_backend  # minidl.backend imports this module first

        return get_backend, (self.name,)

    def from_numpy(self, array: np.ndarray) -> np.ndarray:
        """A host (NumPy) array -> this device's array; on the CPU the same array, no copy."""
        return array

    def to_numpy(self, array: np.ndarray) -> np.ndarray:
        """This device's array -> a host (NumPy) array; on the CPU the same array, no copy."""
        return array

    def errstate(self, **kwargs: str) -> AbstractContextManager:
        """``numpy.errstate``: silence (or raise) NumPy's floating-point warnings inside the block."""
        return np.errstate(**kwargs)

    def synchronize(self) -> None:
        """Nothing to wait for: the CPU's work is done when a call returns."""
