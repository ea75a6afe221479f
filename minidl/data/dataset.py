"""Datasets: the ``Dataset`` protocol, ``TensorDataset``, ``Subset``, ``random_split``, and how samples become a batch.

A dataset's samples are NumPy arrays and Python numbers; the ``DataLoader`` turns batches into Tensors. A dataset
that can build a whole batch at once defines ``__getitems__(indices) -> batch`` (``indices``: an int64 array), and
the loader then never loops over samples in Python; otherwise the loader stacks ``__getitem__`` results
(``collate``).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from minidl import dtypes
from minidl import random as _random
from minidl.tensor import Tensor, from_numpy


class Dataset:
    """A map-style dataset: ``dataset[i]`` is sample ``i`` and ``len(dataset)`` the number of samples.

    Subclasses define ``__getitem__`` and ``__len__``, and may define ``__getitems__(indices)`` returning the
    batch of those samples directly (e.g. by NumPy fancy indexing); ``fetch`` uses it when present.
    """

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")


def _as_array(x: Any) -> np.ndarray:
    """A NumPy array from a Tensor (dtype kept) or array-like data: floats become float32, the dtype of the models
    the samples are fed to (unlike ``minidl.tensor``, which keeps NumPy's float64); other dtypes as
    ``minidl.tensor`` infers them."""
    if isinstance(x, Tensor):
        return x.detach().numpy()
    array = np.asarray(x)
    target = dtypes.infer_dtype(array, python_data=True)
    return array if target == array.dtype else array.astype(target)


class TensorDataset(Dataset):
    """Samples are the rows of several arrays of equal length: ``TensorDataset(images, labels)[i]`` is
    ``(images[i], labels[i])``.

    Tensors keep their dtype (they share memory with the dataset); NumPy data gets ``minidl.tensor``'s dtype
    (float64 becomes float32). ``__getitems__`` fancy-indexes every array at once.
    """

    def __init__(self, *tensors: Any):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor or array")
        arrays = tuple(_as_array(t) for t in tensors)
        for i, a in enumerate(arrays):
            if a.ndim == 0:
                raise ValueError(f"TensorDataset: argument {i} is 0-d; every argument needs a first (sample) dim")
        sizes = [a.shape[0] for a in arrays]
        if len(set(sizes)) != 1:
            shapes = ", ".join(str(tuple(a.shape)) for a in arrays)
            raise ValueError(
                f"TensorDataset: the first dimensions must agree (one row per sample), got shapes {shapes}"
            )
        self.arrays = arrays

    @property
    def tensors(self) -> tuple[Tensor, ...]:
        """The arrays as Tensors (sharing memory), as PyTorch's ``TensorDataset.tensors``."""
        return tuple(from_numpy(a) for a in self.arrays)

    def __len__(self) -> int:
        return self.arrays[0].shape[0]

    def __getitem__(self, index: int) -> tuple[Any, ...]:
        return tuple(a[index] for a in self.arrays)

    def __getitems__(self, indices: np.ndarray) -> tuple[np.ndarray, ...]:
        """The rows ``indices`` (int64 (B,)) of every array: a tuple of (B, ...) arrays."""
        return tuple(a[indices] for a in self.arrays)


class Subset(Dataset):
    """The samples ``indices`` of ``dataset``, in that order: ``Subset(ds, [3, 1])[0] is ds[3]``.

    ``__getitems__`` maps the indices and forwards to the parent's, so a subset of an array-backed dataset
    still batches with one fancy index.
    """

    def __init__(self, dataset: Any, indices: Sequence[int] | np.ndarray):
        idx = np.asarray(indices)
        if idx.size == 0:
            idx = idx.astype(np.int64)
        if idx.ndim != 1 or idx.dtype.kind not in "iu":
            raise ValueError(f"Subset: indices must be a 1-d sequence of integers, got {idx.dtype} shape {idx.shape}")
        n = len(dataset)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"Subset: indices must lie in [-{n}, {n}) for a dataset of {n} samples")
        self.dataset = dataset
        self.indices = np.where(idx < 0, idx + n, idx).astype(np.int64)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[int(self.indices[index])]

    def __getitems__(self, indices: np.ndarray) -> Any:
        """The batch of samples ``indices`` (int64 (B,)) of this subset, as the parent builds it."""
        return fetch(self.dataset, self.indices[indices])


def random_split(dataset: Any, lengths: Sequence[int | float], seed: int | None = None) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random ``Subset``s of the given ``lengths``.

    ``lengths`` are sample counts summing to ``len(dataset)``, or fractions summing to 1 (as in PyTorch: each
    split gets ``floor(fraction * n)`` and the remainder goes one by one to the first splits). The permutation
    comes from ``seed`` when given, else from minidl's global generator (``minidl.manual_seed``).
    """
    n = len(dataset)
    lengths = list(lengths)
    if any(isinstance(k, bool) or not isinstance(k, (int, float, np.integer, np.floating)) for k in lengths):
        raise TypeError(f"random_split: lengths must be numbers, got {lengths}")
    if any(k < 0 for k in lengths):
        raise ValueError(f"random_split: lengths must be non-negative, got {lengths}")
    if all(isinstance(k, (int, np.integer)) for k in lengths):
        counts = [int(k) for k in lengths]
    elif math.isclose(sum(lengths), 1.0) and sum(lengths) <= 1.0 + 1e-9:
        counts = [math.floor(n * float(f)) for f in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
    else:
        raise ValueError(f"random_split: fractions must sum to 1, got {lengths} (sum {sum(lengths)})")
    if sum(counts) != n:
        raise ValueError(f"random_split: lengths {counts} sum to {sum(counts)}, but the dataset has {n} samples")
    rng = np.random.default_rng(seed) if seed is not None else _random.generator()
    order = rng.permutation(n)
    bounds = np.cumsum([0, *counts])
    return [Subset(dataset, order[bounds[i] : bounds[i + 1]]) for i in range(len(counts))]


def _stack(field: Sequence[Any]) -> np.ndarray:
    first = field[0]
    if isinstance(first, Tensor):
        return np.stack([t.detach().numpy() for t in field])
    if isinstance(first, bool):
        return np.asarray(field, dtype=np.bool_)
    if isinstance(first, (int, np.integer)) and not isinstance(first, np.ndarray):
        return np.asarray(field, dtype=np.int64)
    if isinstance(first, float):
        return np.asarray(field, dtype=dtypes.DEFAULT_FLOAT)
    return np.stack([np.asarray(x) for x in field])


def collate(samples: Sequence[Any]) -> Any:
    """Stack a list of samples into a batch: samples that are tuples give a tuple of stacked fields.

    Arrays and Tensors of shape S stack to (B, *S) keeping their dtype; Python ints become int64, floats
    float32, bools bool.
    """
    if not samples:
        raise ValueError("collate: no samples")
    first = samples[0]
    if isinstance(first, (tuple, list)):
        if any(len(s) != len(first) for s in samples):
            raise ValueError("collate: samples have different numbers of fields")
        return tuple(_stack([s[k] for s in samples]) for k in range(len(first)))
    return _stack(samples)


def fetch(dataset: Any, indices: np.ndarray) -> Any:
    """The batch of samples ``indices`` (int64 (B,)): ``dataset.__getitems__(indices)`` when the dataset has it,
    else ``collate`` of ``dataset[i]`` for each index."""
    getitems = getattr(dataset, "__getitems__", None)
    if getitems is not None:
        return getitems(indices)
    return collate([dataset[int(i)] for i in indices])
