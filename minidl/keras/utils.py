"""``keras.utils``: ``to_categorical`` (one-hot targets) and ``set_random_seed``."""

from __future__ import annotations

import random
from typing import Any

import numpy as np

import minidl


def to_categorical(x: Any, num_classes: int | None = None) -> np.ndarray:
    """Class labels (N,) (or (N, 1)) as one-hot rows (N, num_classes), float64 as Keras returns them;
    ``num_classes`` defaults to the largest label + 1."""
    labels = np.asarray(x)
    if labels.dtype.kind == "f" and not np.array_equal(labels, np.round(labels)):
        raise ValueError("to_categorical: labels must be whole numbers (class indices)")
    labels = labels.astype(np.int64)
    shape = labels.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    flat = labels.reshape(-1)
    classes = int(flat.max()) + 1 if num_classes is None and flat.size else int(num_classes or 0)
    if flat.size and (flat.min() < 0 or flat.max() >= classes):
        raise ValueError(f"to_categorical: labels must be in 0..{classes - 1}, got {flat.min()}..{flat.max()}")
    out = np.zeros((flat.size, classes))
    out[np.arange(flat.size), flat] = 1
    return out.reshape(*shape, classes)


def set_random_seed(seed: int) -> None:
    """Seed minidl's generators (weights, shuffling, dropout), NumPy's global one and Python's ``random``."""
    minidl.manual_seed(seed)
    np.random.seed(seed)  # noqa: NPY002 (the global generator user code draws from, as Keras seeds it)
    random.seed(seed)
