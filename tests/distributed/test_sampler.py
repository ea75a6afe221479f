"""DistributedSampler without MPI: the shares of every rank, given num_replicas and rank explicitly."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minidl.data import DataLoader
from minidl.distributed import DistributedSampler


def shares(n: int, ranks: int, epoch: int = 0, **kwargs) -> list[list[int]]:
    """Every rank's indices for ``epoch``."""
    out = []
    for rank in range(ranks):
        sampler = DistributedSampler(range(n), num_replicas=ranks, rank=rank, **kwargs)
        sampler.set_epoch(epoch)
        out.append(list(sampler))
    return out


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 60), ranks=st.integers(1, 7), epoch=st.integers(0, 5), shuffle=st.booleans())
def test_ranks_cover_every_sample_once_and_pad_with_the_first_ones(n, ranks, epoch, shuffle):
    parts = shares(n, ranks, epoch, shuffle=shuffle, seed=3)
    per_rank = -(-n // ranks)
    assert all(len(p) == per_rank for p in parts)  # equal shares: ranks take equal numbers of steps
    merged = [parts[i % ranks][i // ranks] for i in range(per_rank * ranks)]  # rank r holds order[r::ranks]
    order = np.random.default_rng([3, epoch]).permutation(n) if shuffle else np.arange(n)
    assert merged[:n] == order.tolist()  # each sample once, in the epoch's order ...
    assert merged[n:] == np.resize(order, per_rank * ranks)[n:].tolist()  # ... then the order repeated as padding


@settings(max_examples=30, deadline=None)
@given(n=st.integers(0, 60), ranks=st.integers(1, 7))
def test_drop_last_cuts_the_order_to_a_multiple_of_the_ranks(n, ranks):
    parts = shares(n, ranks, drop_last=True, seed=1)
    merged = [i for p in parts for i in p]
    assert all(len(p) == n // ranks for p in parts)
    assert len(set(merged)) == len(merged) == n - n % ranks


def test_one_rank_gives_the_order_of_a_shuffling_loader():
    """So one rank of --distributed trains exactly as one process with DataLoader(shuffle=True, seed=seed)."""
    data = np.arange(50)
    plain = DataLoader(data, 8, shuffle=True, seed=5)
    sampled = DataLoader(data, 8, sampler=DistributedSampler(data, num_replicas=1, rank=0, seed=5))
    for epoch in range(3):
        plain.set_epoch(epoch)
        sampled.set_epoch(epoch)
        assert [b.numpy().tolist() for b in plain] == [b.numpy().tolist() for b in sampled]


def test_epochs_differ_and_repeat_under_the_seed():
    first, again = shares(20, 2, epoch=1, seed=0), shares(20, 2, epoch=1, seed=0)
    assert first == again
    assert shares(20, 2, epoch=2, seed=0) != first and shares(20, 2, epoch=1, seed=1) != first


def test_without_set_epoch_every_epoch_repeats_epoch_0():
    sampler = DistributedSampler(range(10), num_replicas=2, rank=1)
    assert list(sampler) == list(sampler) == shares(10, 2, epoch=0)[1]


def test_no_shuffle_takes_every_size_th_sample():
    assert shares(7, 3, shuffle=False) == [[0, 3, 6], [1, 4, 0], [2, 5, 1]]


def test_defaults_come_from_the_world_of_one_process():
    sampler = DistributedSampler(range(5))
    assert (sampler.num_replicas, sampler.rank, len(sampler)) == (1, 0, 5)
    assert "rank 0 of 1" in repr(sampler)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_replicas": 0}, "num_replicas must be an integer >= 1"),
        ({"num_replicas": 2, "rank": 2}, "rank must be below num_replicas"),
        ({"rank": -1}, "rank must be an integer >= 0"),
        ({"seed": -3}, "seed must be an integer >= 0"),
    ],
)
def test_bad_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DistributedSampler(range(4), **kwargs)


def test_a_dataset_without_length_is_refused():
    with pytest.raises(TypeError, match="must have a length"):
        DistributedSampler(iter(range(4)))
    with pytest.raises(ValueError, match="epoch must be an integer"):
        DistributedSampler(range(4)).set_epoch(-1)
