"""How the numba.cuda kernels run: the array module, the stream they are launched on, and launch sizes.

On a real GPU the arrays are CuPy arrays: memory comes from CuPy's pool, every kernel is launched on CuPy's current
stream (wrapped as a Numba external stream), and Numba does not synchronise each array it is handed
(``CUDA_ARRAY_INTERFACE_SYNC`` off: CuPy and the kernels share one stream, so the order is already right). Under
Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``, set before Numba is imported) the same kernels run on NumPy
arrays, one Python thread per CUDA thread: correct and slow, for tests at tiny sizes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import config, cuda

SIMULATED = bool(config.ENABLE_CUDASIM)
# Threads per block of the one-dimensional kernels. The simulator runs a Python thread per CUDA thread: 64 keeps
# a block affordable there.
THREADS = 64 if SIMULATED else 256

if not SIMULATED:
    config.CUDA_ARRAY_INTERFACE_SYNC = False

_external_streams: dict[int, Any] = {}


def array_module() -> Any:
    """The module of the device arrays: CuPy on a GPU, NumPy under the simulator."""
    if SIMULATED:
        return np
    try:
        import cupy
    except ImportError as err:
        raise ImportError(
            "the cuda kernels need CuPy on a real GPU: pip install '.[cuda]' (CuPy for CUDA 12 or 13), or set "
            "NUMBA_ENABLE_CUDASIM=1 before Python starts to run them on Numba's simulator"
        ) from err
    return cupy


def available() -> bool:
    """Whether the kernels can run here: a CUDA GPU with a driver (and CuPy), or the simulator."""
    if SIMULATED:
        return True
    try:
        array_module()
    except ImportError:
        return False
    return bool(cuda.is_available())


def stream() -> Any:
    """The stream to launch on: CuPy's current stream (0, no stream, under the simulator)."""
    if SIMULATED:
        return 0
    pointer = array_module().cuda.get_current_stream().ptr
    if pointer == 0:
        return cuda.default_stream()
    found = _external_streams.get(pointer)
    if found is None:
        found = _external_streams[pointer] = cuda.external_stream(pointer)
    return found


def launch(kernel: Any, blocks: int | tuple, threads: int | tuple, *args: Any) -> None:
    """Run ``kernel[blocks, threads]`` on the current stream."""
    kernel[blocks, threads, stream()](*args)


def blocks_for(count: int, threads: int = THREADS) -> int:
    """Blocks of ``threads`` threads that cover ``count`` work items (at least 1)."""
    return max(1, -(-count // threads))


def launch_1d(kernel: Any, count: int, *args: Any) -> None:
    """Run ``kernel`` with one thread per work item, ``count`` of them (each thread checks ``i < count``)."""
    if count > 0:
        launch(kernel, blocks_for(count), THREADS, *args)


def empty(shape: tuple, dtype: Any) -> Any:
    """A new device array."""
    return array_module().empty(shape, dtype=dtype)


def zeros(shape: tuple, dtype: Any) -> Any:
    """A new device array of zeros."""
    return array_module().zeros(shape, dtype=dtype)


def contiguous(a: Any, dtype: Any = None) -> Any:
    """``a`` as a C-contiguous device array (of ``dtype`` when given); a copy only when needed."""
    return array_module().ascontiguousarray(a, dtype=dtype)
