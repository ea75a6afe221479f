"""``keras.datasets.fashion_mnist.load_data()``: Zalando's Fashion-MNIST as NumPy arrays, from files on disk."""

from __future__ import annotations

import os

import numpy as np

from minidl.keras.datasets._idx_files import load_splits


def load_data(path: str | os.PathLike | None = None) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """``((x_train, y_train), (x_test, y_test))``: uint8 images (60000, 28, 28) and (10000, 28, 28), uint8 labels
    (60000,) and (10000,), looked for as ``mnist.load_data`` does (folder ``fashion-mnist/``)."""
    from minidl.data.datasets import FashionMNIST

    return load_splits(FashionMNIST, path)
