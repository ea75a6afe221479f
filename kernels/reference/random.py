"""Dropout masks from a counter-based generator: element i of a mask drawn with (seed, offset) depends on
seed and offset + i only, so every device that implements the same arithmetic draws the same mask, in any order.

The uniform number of element i is ``splitmix64(splitmix64(seed) + offset + i) >> 11`` times 2⁻⁵³ (53 random bits,
in [0, 1)); splitmix64 is Steele, Lea and Flood's finaliser (the seeding function of xoshiro generators), all
arithmetic modulo 2⁶⁴. The element is kept, and scaled by 1 / (1 - p), when its number is >= p.
"""

from __future__ import annotations

import numpy as np
from minidl_kernels.reference.arguments import FLOATS

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
MIX1 = np.uint64(0xBF58476D1CE4E5B9)
MIX2 = np.uint64(0x94D049BB133111EB)
MASK64 = (1 << 64) - 1


def splitmix64(z: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser of uint64 ``z`` (element-wise, modulo 2⁶⁴)."""
    with np.errstate(over="ignore"):
        z = z + GOLDEN
        z = (z ^ (z >> np.uint64(30))) * MIX1
        z = (z ^ (z >> np.uint64(27))) * MIX2
        return z ^ (z >> np.uint64(31))


def check_dropout_mask_args(shape, p, seed, offset, dtype) -> tuple[int, ...]:
    """shape: non-negative ints; p in [0, 1); seed, offset: non-negative ints below 2⁶⁴; dtype float32/float64."""
    try:
        shape = tuple(int(s) for s in shape)
    except TypeError:
        raise TypeError(f"dropout_mask: shape must be a sequence of integers, got {shape!r}") from None
    if any(s < 0 for s in shape):
        raise ValueError(f"dropout_mask: shape must be non-negative, got {shape}")
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout_mask: p must be in [0, 1), got {p!r}")
    for name, value in (("seed", seed), ("offset", offset)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= int(value) <= MASK64:
            raise ValueError(f"dropout_mask: {name} must be an integer in [0, 2**64), got {value!r}")
    if np.dtype(dtype) not in FLOATS:
        raise TypeError(f"dropout_mask: dtype must be float32 or float64, got {np.dtype(dtype)}")
    return shape


def dropout_mask(shape: tuple[int, ...], p: float, seed: int, offset: int, dtype) -> np.ndarray:
    """A mask of ``shape`` and ``dtype``: 1 / (1 - p) where element i's uniform number (see the module docstring)
    is >= p, 0 elsewhere."""
    shape = check_dropout_mask_args(shape, p, seed, offset, dtype)
    count = int(np.prod(shape, dtype=np.int64))
    key = splitmix64(np.uint64(int(seed)))
    with np.errstate(over="ignore"):
        counters = key + np.uint64(int(offset)) + np.arange(count, dtype=np.uint64)
    uniform = (splitmix64(counters) >> np.uint64(11)).astype(np.float64) * 2.0**-53
    scale = 1.0 / (1.0 - p)
    return np.where(uniform >= p, scale, 0.0).astype(dtype).reshape(shape)
