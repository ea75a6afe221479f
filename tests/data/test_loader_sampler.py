"""DataLoader(dataset, batch_size, sampler=...): the sampler decides the order and the length, gets the epoch
from set_epoch, and excludes shuffle and seed (as in PyTorch)."""

from __future__ import annotations

import numpy as np
import pytest

from minidl.data import DataLoader, TensorDataset


class Reversed:
    """A sampler: the indices backwards, rotated by the epoch."""

    def __init__(self, n: int) -> None:
        self.n, self.epoch, self.epochs_set = n, 0, []

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.epochs_set.append(epoch)

    def __iter__(self):
        order = list(range(self.n - 1, -1, -1))
        k = self.epoch % self.n
        return iter(order[k:] + order[:k])

    def __len__(self) -> int:
        return self.n


def data(n: int) -> TensorDataset:
    return TensorDataset(np.arange(n, dtype=np.float32)[:, None], np.arange(n))


@pytest.mark.parametrize("prefetch", [0, 2])
def test_batches_follow_the_sampler_and_its_epoch(prefetch):
    sampler = Reversed(5)
    loader = DataLoader(data(5), 2, sampler=sampler, prefetch=prefetch)
    assert len(loader) == 3
    assert [y.numpy().tolist() for _, y in loader] == [[4, 3], [2, 1], [0]]
    assert [y.numpy().tolist() for _, y in loader] == [[4, 3], [2, 1], [0]]  # iterating leaves the epoch alone
    loader.set_epoch(1)
    assert sampler.epochs_set == [1] and loader.epoch == 1
    assert [y.numpy().tolist() for _, y in loader] == [[3, 2], [1, 0], [4]]
    assert loader.order().tolist() == [3, 2, 1, 0, 4]


def test_a_sampler_shorter_than_the_dataset_sets_the_length():
    class FirstThree:
        def __iter__(self):
            return iter([2, 0, 1])

        def __len__(self):
            return 3

    loader = DataLoader(data(10), 2, sampler=FirstThree(), drop_last=True)
    assert len(loader) == 1
    assert [y.numpy().tolist() for _, y in loader] == [[2, 0]]


def test_a_list_of_indices_is_a_sampler_without_epochs():
    loader = DataLoader(data(4), 3, sampler=[3, 1, 2, 0])
    loader.set_epoch(2)  # nothing to forward
    assert [y.numpy().tolist() for _, y in loader] == [[3, 1, 2], [0]]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"shuffle": True}, ValueError, "sampler and shuffle=True exclude each other"),
        ({"seed": 0}, ValueError, "with a sampler, seed the sampler"),
    ],
)
def test_shuffle_and_seed_are_refused_with_a_sampler(kwargs, error, message):
    with pytest.raises(error, match=message):
        DataLoader(data(4), 2, sampler=Reversed(4), **kwargs)


def test_a_sampler_must_iterate_and_have_a_length():
    with pytest.raises(TypeError, match="sampler must be iterable"):
        DataLoader(data(4), 2, sampler=iter([0, 1]))
    with pytest.raises(ValueError, match="the order is the sampler's"):
        DataLoader(data(4), 2, sampler=Reversed(4)).order(epoch=1)
