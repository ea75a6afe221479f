"""The one global random generator behind every random op (``rand``, ``randn``, initialisers, dropout...).

``minidl.manual_seed(n)`` re-seeds it, so a whole run is reproducible from one number.
"""

from __future__ import annotations

import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Seed the global generator with ``seed`` (a non-negative int) and return it."""
    global _generator
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"manual_seed expects a non-negative integer, got {seed!r}")
    _generator = np.random.default_rng(int(seed))
    return _generator


def generator() -> np.random.Generator:
    """The global generator (its identity changes at every ``manual_seed``: do not keep it)."""
    return _generator
