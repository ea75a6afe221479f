"""A tiny separable problem, a tiny MLP and a loader for the training-loop tests."""

from __future__ import annotations

import math

import numpy as np

import minidl
from minidl import nn

D, H, C = 4, 16, 3  # inputs, hidden units, classes


def blobs(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` samples of three well separated Gaussian blobs: x float32 (n, D), y int64 (n,)."""
    rng = np.random.default_rng(seed)
    centers = np.array([[3, 0, 0, 0], [0, 3, 0, 0], [0, 0, 3, 0]], dtype=np.float32)
    y = rng.integers(0, C, n)
    x = centers[y] + rng.normal(0, 0.5, (n, D)).astype(np.float32)
    return x.astype(np.float32), y.astype(np.int64)


def mlp(dropout: float = 0.0) -> nn.Module:
    """D -> H -> C, with optional dropout after the hidden layer."""
    return nn.Sequential(nn.Linear(D, H), nn.ReLU(), nn.Dropout(dropout), nn.Linear(H, C))


class ArrayLoader:
    """(x, y) batches of two arrays; with ``shuffle`` the order of epoch e depends only on (seed, e). Like
    ``minidl.data.DataLoader``, each ``iter()`` moves to the next epoch unless ``set_epoch`` says otherwise, so a
    resumed run that forgot ``set_epoch`` would replay epoch 0's order."""

    def __init__(
        self, x: np.ndarray, y: np.ndarray, batch_size: int, shuffle: bool = False, seed: int = 0, numpy: bool = False
    ) -> None:
        self.x, self.y, self.batch_size = x, y, batch_size
        self.shuffle, self.seed, self.numpy = shuffle, seed, numpy
        self.epoch = 0
        self.epochs_set: list[int] = []

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.epochs_set.append(epoch)

    def __len__(self) -> int:
        return math.ceil(len(self.x) / self.batch_size)

    def __iter__(self):
        n = len(self.x)
        order = np.random.default_rng([self.seed, self.epoch]).permutation(n) if self.shuffle else np.arange(n)
        self.epoch += 1
        for start in range(0, n, self.batch_size):
            idx = order[start : start + self.batch_size]
            if self.numpy:
                yield self.x[idx], self.y[idx]
            else:
                yield minidl.from_numpy(self.x[idx]), minidl.from_numpy(self.y[idx])


def loaders(n_train: int = 60, n_val: int = 30, batch_size: int = 8) -> tuple[ArrayLoader, ArrayLoader]:
    """A shuffled training loader and a validation loader on fresh blobs."""
    x, y = blobs(n_train, seed=1)
    xv, yv = blobs(n_val, seed=2)
    return ArrayLoader(x, y, batch_size, shuffle=True, seed=3), ArrayLoader(xv, yv, batch_size)


def weights(model: nn.Module) -> dict[str, np.ndarray]:
    """A copy of the model's state as arrays."""
    return {k: np.array(v.numpy(), copy=True) for k, v in model.state_dict().items()}
