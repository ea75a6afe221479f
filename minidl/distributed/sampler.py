"""``DistributedSampler``: each rank's share of a dataset's order, for ``DataLoader(dataset, batch_size,
sampler=...)``."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from minidl.distributed.world import world


def _check_int(value: Any, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"DistributedSampler: {name} must be an integer >= {low}, got {value!r}")
    return int(value)


class DistributedSampler:
    """The indices of ``dataset`` that rank ``rank`` of ``num_replicas`` trains on each epoch (PyTorch's names).

    Each epoch every rank draws the same order: ``numpy.random.default_rng([seed, epoch]).permutation(N)`` with
    ``shuffle`` (the order ``DataLoader(shuffle=True, seed=seed)`` draws, so one rank trains exactly as one
    process does), else 0..N-1. The order is padded by repeating its start to a multiple of ``num_replicas``
    (``drop_last=True``: cut to one instead), and rank r takes ``order[r::num_replicas]``: every sample once per
    epoch over all ranks (a few twice with padding), and batch k of the ranks together is batch k of one process
    with ``num_replicas`` times the batch size.

    ``set_epoch(e)`` picks the epoch (``DataLoader.set_epoch`` and ``fit`` forward theirs); without it every epoch
    repeats epoch 0's order. ``len(sampler)`` is the number of indices per rank, equal on every rank.

    num_replicas, rank: default ``minidl.distributed.size()`` and ``rank()``.
    """

    def __init__(
        self,
        dataset: Any,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        try:
            self.dataset_size = len(dataset)
        except TypeError:
            raise TypeError(
                f"DistributedSampler: the dataset must have a length, got {type(dataset).__name__} without __len__"
            ) from None
        self.num_replicas = world().size if num_replicas is None else _check_int(num_replicas, "num_replicas", 1)
        self.rank = world().rank if rank is None else _check_int(rank, "rank", 0)
        if self.rank >= self.num_replicas:
            raise ValueError(
                f"DistributedSampler: rank must be below num_replicas ({self.num_replicas}), got {self.rank}"
            )
        self.dataset = dataset
        self.shuffle = bool(shuffle)
        self.seed = _check_int(seed, "seed", 0)
        self.drop_last = bool(drop_last)
        n, r = self.dataset_size, self.num_replicas
        self.num_samples = n // r if self.drop_last else math.ceil(n / r)
        self.total_size = self.num_samples * r
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Use epoch ``epoch``'s order from now on."""
        self.epoch = _check_int(epoch, "epoch", 0)

    def order(self) -> np.ndarray:
        """The whole epoch's order before it is split, padded or cut to ``total_size``: int64 (total_size,)."""
        n = self.dataset_size
        order = np.random.default_rng([self.seed, self.epoch]).permutation(n) if self.shuffle else np.arange(n)
        order = order.astype(np.int64, copy=False)
        if self.total_size <= n:
            return order[: self.total_size]
        return np.resize(order, self.total_size)  # repeats the order from its start

    def indices(self) -> np.ndarray:
        """This rank's indices for the current epoch: int64 (num_samples,)."""
        return self.order()[self.rank :: self.num_replicas]

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return self.num_samples

    def __repr__(self) -> str:
        return (
            f"DistributedSampler(rank {self.rank} of {self.num_replicas}, {self.num_samples} of {self.dataset_size} "
            f"samples, shuffle={self.shuffle}, seed={self.seed}, drop_last={self.drop_last}, epoch={self.epoch})"
        )
