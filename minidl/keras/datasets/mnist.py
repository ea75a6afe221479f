"""``keras.datasets.mnist.load_data()``: the MNIST digits as NumPy arrays, from files already on disk."""

from __future__ import annotations

import os

import numpy as np

from minidl.keras.datasets._idx_files import load_splits


def load_data(path: str | os.PathLike | None = None) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """``((x_train, y_train), (x_test, y_test))``: uint8 images (60000, 28, 28) and (10000, 28, 28), uint8 labels
    (60000,) and (10000,), as Keras returns them.

    The files are the four original IDX files (``train-images-idx3-ubyte.gz``...), looked for in ``path`` when
    given, else in ``$MINIDL_DATA``, the user cache (``~/.cache/minidl``) and the repository's ``data/`` (where they
    ship). Nothing is downloaded: ``minidl.data.datasets.MNIST(root, download=True)`` fetches them.
    """
    from minidl.data.datasets import MNIST

    return load_splits(MNIST, path)
