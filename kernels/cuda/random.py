"""Dropout masks in numba.cuda from the reference's counter-based generator, bit for bit.

The contract is ``minidl_kernels.reference.random``: element i of a mask drawn with (seed, offset) keeps its
1 / (1 - p) where ``(splitmix64(splitmix64(seed) + offset + i) >> 11) * 2**-53 >= p``, all integer arithmetic
modulo 2**64. One thread per element of the flattened mask computes that from its own counter (no state, no order):
every operand is a uint64 (the constants too, so Numba never mixes in a signed integer and falls back to floats),
and the 53 random bits convert to float64 exactly, so the device draws the reference's masks bit for bit. The key
``splitmix64(seed)`` is computed once, on the host, with the reference's own function.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Any, Callable, Iterator

import numpy as np
from minidl_kernels.cuda import runtime
from minidl_kernels.reference.random import check_dropout_mask_args, splitmix64
from numba import cuda, float64, uint64


@cuda.jit(device=True, inline=True)
def _splitmix64(z):  # pragma: no cover - compiled
    """The splitmix64 finaliser of the uint64 ``z``, modulo 2**64."""
    z = z + uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> uint64(30))) * uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> uint64(27))) * uint64(0x94D049BB133111EB)
    return z ^ (z >> uint64(31))


@cuda.jit
def _dropout_mask_kernel(key, offset, p, scale, out):  # pragma: no cover - compiled
    """key, offset: uint64; p, scale: float64 -> out: flat (n,), out[i] = scale where element i's uniform number
    is >= p, else 0."""
    i = cuda.grid(1)
    if i >= out.size:
        return
    bits = _splitmix64(key + offset + uint64(i)) >> uint64(11)
    uniform = float64(bits) * 2.0**-53
    out[i] = scale if uniform >= p else 0.0


PTX_CHECKS: list[tuple[Callable, str]] = [
    (_dropout_mask_kernel.py_func, f"void(uint64, uint64, float64, float64, {dtype}[::1])")
    for dtype in ("float32", "float64")
]


@contextlib.contextmanager
def _wrapping_quietly() -> Iterator[None]:
    """Under the simulator the kernel's uint64 arithmetic runs on NumPy scalars, which wrap modulo 2**64 as
    intended but warn on every overflow (from the simulator's threads, which NumPy's errstate does not reach):
    those warnings are silenced for the launch. Nothing on a GPU."""
    if not runtime.SIMULATED:
        yield
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*overflow encountered in scalar", category=RuntimeWarning)
        yield


def dropout_mask(shape: tuple[int, ...], p: float, seed: int, offset: int, dtype: Any) -> Any:
    """A mask of ``shape`` and ``dtype`` (float32/float64): 1 / (1 - p) where element i's uniform number (see the
    module docstring) is >= p, 0 elsewhere; a new C-contiguous device array, equal bit for bit to the reference's
    for the same (seed, offset)."""
    shape = check_dropout_mask_args(shape, p, seed, offset, dtype)
    out = runtime.empty(shape, np.dtype(dtype))
    key = splitmix64(np.uint64(int(seed)))
    scale = float(1.0 / (1.0 - p))  # as the reference computes it (in float32 for a float32 p)
    with _wrapping_quietly():
        runtime.launch_1d(_dropout_mask_kernel, out.size, key, np.uint64(int(offset)), float(p), scale, out.reshape(-1))
    return out
