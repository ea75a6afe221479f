"""The CUDA device, as PyTorch's ``torch.cuda`` presents it: ``is_available()``, ``device_count()``,
``synchronize()``. Tensors and modules move there with ``.to("cuda")`` / ``.cuda()``.

A machine without a GPU can run the cuda device on Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1`` set before
Python starts): correct and very slow, for tests; ``is_simulated()`` says which one is in use.
"""

from __future__ import annotations

from minidl.backend import cuda as _cuda_backend
from minidl.backend import get_backend


def is_available() -> bool:
    """Whether tensors can be placed on "cuda" here (a GPU with CuPy and numba-cuda, or the simulator)."""
    return _cuda_backend.unavailable_reason() is None


def is_simulated() -> bool:
    """Whether "cuda" is Numba's CUDA simulator rather than a GPU."""
    return is_available() and _cuda_backend.runtime().SIMULATED


def device_count() -> int:
    """The number of GPUs (0 when "cuda" is not available; minidl uses the first, cuda:0)."""
    return get_backend("cuda").device_count() if is_available() else 0


def synchronize() -> None:
    """Wait until the GPU has finished all the work queued so far (to time it, or before reading a clock)."""
    get_backend("cuda").synchronize()
