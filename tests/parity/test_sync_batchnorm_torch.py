"""minidl.distributed's synchronised batch norm against PyTorch 2.13's training-mode batch norm (CPU, float32).

In one process (the world of one rank) the synchronised statistics are the batch's own, so the op must compute
what torch.nn.functional.batch_norm computes: outputs, gradients of input, weight and bias, and the running
statistics. Its 2-rank equality with one process is checked in tests/distributed/test_mpi.py."""

import numpy as np
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

import minidl
from minidl.distributed.communicator import SingleProcess
from minidl.distributed.sync_batchnorm import sync_batch_norm
from tests.support import arrays, assert_close
from tests.support import compare_with_torch as compare

F32 = np.float32


@st.composite
def norm_shapes(draw) -> tuple[int, ...]:
    spatial = tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=3)))
    n = draw(st.integers(1, 4))
    while n * int(np.prod(spatial)) < 2:
        n += 1
    return (n, draw(st.integers(1, 4)), *spatial)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_sync_batch_norm_matches_torch_batch_norm(data):
    shape = data.draw(norm_shapes())
    c = shape[1]
    x = data.draw(arrays(shape, dtype=F32))
    weight = data.draw(arrays((c,), dtype=F32, low=0.5, high=1.5))
    bias = data.draw(arrays((c,), dtype=F32, low=-1, high=1))
    eps = data.draw(st.sampled_from([1e-5, 1e-3, 0.1]))

    def ours(x, weight, bias):
        return sync_batch_norm(x, None, None, weight, bias, 0.1, eps, SingleProcess())

    def theirs(x, weight, bias):
        return TF.batch_norm(x, None, None, weight, bias, training=True, eps=eps)

    compare(ours, theirs, x, weight, bias)


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_sync_batch_norm_updates_running_stats_like_torch(data):
    shape = data.draw(norm_shapes())
    c = shape[1]
    x = data.draw(arrays(shape, dtype=F32))
    momentum = data.draw(st.floats(0.01, 1.0))
    mean0 = data.draw(arrays((c,), dtype=F32, low=-1, high=1))
    var0 = data.draw(arrays((c,), dtype=F32, low=0.5, high=2))
    our_mean, our_var = minidl.tensor(mean0.copy()), minidl.tensor(var0.copy())
    their_mean, their_var = torch.tensor(mean0.copy()), torch.tensor(var0.copy())
    sync_batch_norm(minidl.from_numpy(x), our_mean, our_var, None, None, momentum, 1e-5, SingleProcess())
    TF.batch_norm(torch.from_numpy(np.array(x)), their_mean, their_var, training=True, momentum=momentum)
    # As in test_norm_torch: the update's two terms may nearly cancel, so the error is measured against their size.
    batch_mean = x.astype(np.float64).mean(axis=tuple(d for d in range(x.ndim) if d != 1))
    terms = np.abs((1 - momentum) * mean0) + np.abs(momentum * batch_mean)
    assert np.max(np.abs(our_mean.numpy() - their_mean.numpy()) / np.maximum(terms, 1e-30)) <= 1e-5
    assert_close(our_var, their_var)
