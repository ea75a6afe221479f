"""Keras's automatic names: a layer of class ``MaxPooling2D`` is "max_pooling2d", the next one "max_pooling2d_1"."""

from __future__ import annotations

import re
from collections import Counter

_used: Counter[str] = Counter()


def to_snake_case(name: str) -> str:
    """``"MaxPooling2D"`` -> ``"max_pooling2d"``, ``"BatchNormalization"`` -> ``"batch_normalization"`` (the rule
    Keras names layers and their groups in weight files by)."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def unique_name(prefix: str) -> str:
    """``prefix`` the first time in this process, then ``prefix_1``, ``prefix_2``..."""
    count = _used[prefix]
    _used[prefix] += 1
    return prefix if count == 0 else f"{prefix}_{count}"


def reset() -> None:
    """Start the counters afresh (``keras.backend.clear_session()``)."""
    _used.clear()
