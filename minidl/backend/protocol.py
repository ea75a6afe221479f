"""The contract every backend satisfies: what an op may ask of ``x.backend``."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol

import numpy as np

from minidl.backend.convolution import ConvolutionPlan
from minidl.backend.kernel_table import KernelTable


class Backend(Protocol):
    """One device: its arrays, its array namespace, its kernels and its convolution.

    - ``name``: the device type ("cpu", "cuda"); ``device``: it as a ``minidl.Device`` (set by ``register_backend``);
    - ``xp``: the array namespace for element-wise and shape work (NumPy on the CPU, CuPy on a GPU);
    - ``array_type``: the type of its arrays; ``kernels``: its own kernel table (a kernel missing there is
      missing on the device: no fall-back to another device's);
    - ``from_numpy`` / ``to_numpy``: host <-> device (the CPU shares memory; other devices copy);
    - ``errstate(**kw)``: a context that silences floating-point warnings as ``numpy.errstate`` does (a no-op where
      the device raises none);
    - ``conv2d_forward`` / ``conv2d_backward``: the convolution, with the algorithm and the chunking the device
      chooses;
    - ``dropout_mask``: a dropout mask drawn on the device from its counter-based generator;
    - ``synchronize()``: wait until the device has finished the work queued so far.
    """

    name: str
    device: Any
    xp: Any
    array_type: type
    kernels: KernelTable

    def from_numpy(self, array: np.ndarray) -> Any: ...

    def to_numpy(self, array: Any) -> np.ndarray: ...

    def errstate(self, **kwargs: str) -> AbstractContextManager: ...

    def conv2d_forward(
        self, x: Any, weight: Any, stride: tuple, padding: tuple, dilation: tuple, groups: int
    ) -> tuple[Any, ConvolutionPlan]: ...

    def conv2d_backward(
        self, grad: Any, x: Any, weight: Any, plan: ConvolutionPlan, need_x: bool, need_weight: bool
    ) -> tuple[Any, Any]: ...

    def dropout_mask(self, shape: tuple, p: float, dtype: Any) -> Any: ...

    def synchronize(self) -> None: ...
