"""SyncBatchNorm in one process: the synchronised op's gradients (float64 finite differences, with the world of one
rank, whose gather and sum leave the statistics as they are), the layer as BatchNorm where there is no other rank,
convert_sync_batchnorm, and the errors. Its 2-rank behaviour is checked in test_mpi.py, its PyTorch comparison in
tests/parity/test_sync_batchnorm_torch.py."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minidl
from minidl import nn
from minidl.distributed import SyncBatchNorm, convert_sync_batchnorm
from minidl.distributed.communicator import SingleProcess
from minidl.distributed.sync_batchnorm import sync_batch_norm
from tests.support import arrays, check_gradients


@st.composite
def norm_shapes(draw) -> tuple[int, ...]:
    """(N, C) to (N, C, D, H, W), small, with at least two values per channel."""
    spatial = tuple(draw(st.lists(st.integers(1, 3), min_size=0, max_size=3)))
    n = draw(st.integers(1, 4))
    while n * int(np.prod(spatial)) < 2:
        n += 1
    return (n, draw(st.integers(1, 3)), *spatial)


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_sync_batch_norm_gradients_match_finite_differences(data):
    shape = data.draw(norm_shapes())
    c = shape[1]
    x = data.draw(arrays(shape))
    weight = data.draw(arrays((c,), low=0.5, high=1.5))
    bias = data.draw(arrays((c,)))
    eps = data.draw(st.sampled_from([1e-5, 0.1]))

    def fn(x, weight, bias):
        return sync_batch_norm(x, None, None, weight, bias, 0.1, eps, SingleProcess())

    check_gradients(fn, x, weight, bias)


def test_sync_batch_norm_updates_the_running_statistics_with_all_values():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 2, 3))
    mean, var = minidl.zeros(2, dtype=minidl.float64), minidl.ones(2, dtype=minidl.float64)
    sync_batch_norm(minidl.tensor(x), mean, var, None, None, 0.25, 1e-5, SingleProcess())
    values = x.transpose(1, 0, 2).reshape(2, -1)
    np.testing.assert_allclose(mean.numpy(), 0.25 * values.mean(axis=1), rtol=1e-14)
    np.testing.assert_allclose(var.numpy(), 0.75 + 0.25 * values.var(axis=1, ddof=1), rtol=1e-14)


@pytest.mark.parametrize("momentum", [0.1, None])
def test_without_other_ranks_the_layer_is_batch_norm(momentum):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 3, 4, 4)).astype(np.float32)
    plain, synced = nn.BatchNorm2d(3, momentum=momentum), SyncBatchNorm(3, momentum=momentum)
    outputs = []
    for layer in (plain, synced):
        xt = minidl.tensor(x, requires_grad=True)
        for _ in range(2):
            out = layer(xt)
        out.sum().backward()
        layer.eval()
        outputs.append([out.detach().numpy(), xt.grad.numpy(), layer.weight.grad.numpy(), layer(xt).detach().numpy()])
    for ours, theirs in zip(*outputs):
        np.testing.assert_array_equal(ours, theirs)
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        np.testing.assert_array_equal(getattr(synced, name).numpy(), getattr(plain, name).numpy())


def test_convert_sync_batchnorm_swaps_every_batch_norm_and_keeps_its_tensors():
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3),
        nn.BatchNorm2d(2),
        nn.Sequential(nn.ReLU(), nn.BatchNorm2d(2, momentum=None, eps=1e-3)),
        nn.Flatten(),
        nn.Linear(8, 4),
        nn.BatchNorm1d(4),
    )
    model[2].eval()
    kinds = (nn.BatchNorm1d, nn.BatchNorm2d)
    batch_norms = [(name, m) for name, m in model.named_modules() if isinstance(m, kinds)]
    assert len(batch_norms) == 3
    state = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    optimizer = minidl.optim.SGD(model.parameters(), lr=0.1)
    converted = convert_sync_batchnorm(model)
    assert converted is model
    for name, old in batch_norms:
        new = model.get_submodule(name)
        assert type(new) is SyncBatchNorm and new.weight is old.weight and new.running_var is old.running_var
        assert new.training == old.training and new.eps == old.eps and new.momentum == old.momentum
    assert not any(isinstance(m, kinds) for m in model.modules())
    assert {k: v.numpy().tolist() for k, v in model.state_dict().items()} == {k: v.tolist() for k, v in state.items()}
    assert [id(p) for p in model.parameters()] == [id(p) for g in optimizer.param_groups for p in g["params"]]


def test_convert_sync_batchnorm_on_a_batch_norm_and_a_shared_one():
    bn = nn.BatchNorm1d(3, affine=False, track_running_stats=False)
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(bn)
    assert type(converted) is SyncBatchNorm and converted.weight is None and converted.running_mean is None
    shared = nn.BatchNorm1d(2)
    twice = nn.Sequential(shared, nn.ReLU(), shared)
    convert_sync_batchnorm(twice)
    assert twice[0] is twice[2] and type(twice[0]) is SyncBatchNorm


def test_errors_name_the_fix():
    with pytest.raises(ValueError, match="one group, every rank"):
        SyncBatchNorm(3, process_group="group")
    with pytest.raises(TypeError, match="expected a minidl.nn.Module"):
        convert_sync_batchnorm("model")
    with pytest.raises(ValueError, match="more than one value per channel"):
        sync_batch_norm(minidl.ones(1, 2), None, None, None, None, 0.1, 1e-5, SingleProcess())
    with pytest.raises(TypeError, match="the input is float64 but the weight is float32"):
        sync_batch_norm(minidl.ones(4, 2).double(), None, None, minidl.ones(2), None, 0.1, 1e-5, SingleProcess())
    with pytest.raises(ValueError, match=r"weight must have shape \(2,\)"):
        sync_batch_norm(minidl.ones(4, 2), None, None, minidl.ones(3), None, 0.1, 1e-5, SingleProcess())
    with pytest.raises(ValueError, match=r"expected 2D or 3D or 4D or 5D input"):
        SyncBatchNorm(2)(minidl.ones(2))
