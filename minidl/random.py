"""The random generators behind every random op, seeded together by ``minidl.manual_seed(n)`` so a whole run is
reproducible from one number:

- one host generator (NumPy's) for ``rand``, ``randn``, ``randint``, the initialisers and the data pipeline; tensors
  created on a device with ``device=`` are drawn on the host and copied, so they equal the CPU's;
- one counter-based generator per device for dropout masks, drawn on the device itself (``dropout_mask`` kernels):
  a mask depends on (seed, offset) only, and every device computes the same mask for the same pair.
"""

from __future__ import annotations

import secrets

import numpy as np

_generator = np.random.default_rng()
_seed = secrets.randbits(63)  # of the device generators, until manual_seed
_offsets: dict[str, int] = {}  # device -> how many numbers its generator has handed out since the seed


def manual_seed(seed: int) -> np.random.Generator:
    """Seed the host generator and every device generator with ``seed`` (a non-negative int); return the former."""
    global _generator, _seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"manual_seed expects a non-negative integer, got {seed!r}")
    _generator = np.random.default_rng(int(seed))
    _seed = int(seed) % 2**64
    _offsets.clear()
    return _generator


def generator() -> np.random.Generator:
    """The host generator (its identity changes at every ``manual_seed``: do not keep it)."""
    return _generator


def device_numbers(device: str, count: int) -> tuple[int, int]:
    """(seed, offset) of the next ``count`` numbers of ``device``'s counter-based generator; advances it."""
    offset = _offsets.get(device, 0)
    _offsets[device] = (offset + count) % 2**64
    return _seed, offset


def get_state() -> dict:
    """Every generator's state, JSON-ready: the host generator's, and the device generators' seed and offsets."""
    return {"host": _generator.bit_generator.state, "seed": _seed, "offsets": dict(_offsets)}


def set_state(state: dict) -> None:
    """Restore what ``get_state`` returned (so a resumed run draws what the uninterrupted one would have)."""
    global _seed
    _generator.bit_generator.state = state["host"]
    _seed = int(state["seed"])
    _offsets.clear()
    _offsets.update({str(device): int(offset) for device, offset in state["offsets"].items()})
