"""state_dict and load_state_dict: PyTorch's keys and order, detached values, round trips (also from and to
PyTorch), and the reports of missing, unexpected and mis-shaped entries."""

import numpy as np
import pytest
import torch

import minidl
import minidl.nn as nn
from tests.nn.models import net, small_cnn
from tests.support import assert_close


def numpy_state(module):
    return {k: v.detach().numpy() for k, v in module.state_dict().items()}


def test_keys_are_torchs():
    m = small_cnn(minidl)
    assert list(m.state_dict()) == [
        "features.0.weight",
        "features.1.weight",
        "features.1.bias",
        "features.1.running_mean",
        "features.1.running_var",
        "features.1.num_batches_tracked",
        "features.4.weight",
        "features.4.bias",
        "classifier.1.weight",
        "classifier.1.bias",
    ]
    assert list(m.state_dict()) == list(small_cnn(torch).state_dict())


def test_values_are_detached_and_share_memory():
    m = nn.Linear(3, 2)
    state = m.state_dict()
    assert type(state["weight"]) is minidl.Tensor and not state["weight"].requires_grad
    with minidl.no_grad():
        m.weight.add_(1)
    assert np.array_equal(state["weight"].numpy(), m.weight.detach().numpy())
    assert m.state_dict(keep_vars=True)["weight"] is m.weight
    assert m.state_dict(prefix="fc.").keys() == {"fc.weight", "fc.bias"}
    assert state["bias"].shape == (2,)


def test_round_trip_gives_the_same_model():
    a, b = small_cnn(minidl), small_cnn(minidl)
    a.train()
    a(minidl.randn(4, 3, 8, 8))  # move the running statistics away from their start
    a.eval()
    b.eval()
    x = minidl.randn(2, 3, 8, 8)
    assert not np.allclose(a(x).detach().numpy(), b(x).detach().numpy())
    result = b.load_state_dict(a.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert repr(result) == "<All keys matched successfully>"
    assert np.array_equal(a(x).detach().numpy(), b(x).detach().numpy())
    assert b.features[1].num_batches_tracked.item() == 1


def test_load_copies_in_place():
    m = nn.Linear(3, 2)
    weight, data = m.weight, m.weight.data
    m.load_state_dict({"weight": np.ones((2, 3)), "bias": [0.5, 0.5]})
    assert m.weight is weight and m.weight.data is data
    assert m.weight.dtype == minidl.float32 and m.weight.tolist() == [[1.0] * 3] * 2
    assert m.bias.tolist() == [0.5, 0.5] and m.weight.requires_grad


def test_torch_state_dict_loads_directly_and_back():
    theirs = small_cnn(torch)
    theirs(torch.randn(4, 3, 8, 8))  # running stats and num_batches_tracked move
    ours = small_cnn(minidl)
    ours.load_state_dict(theirs.state_dict())  # PyTorch tensors as they are
    for key, value in theirs.state_dict().items():
        assert np.array_equal(ours.state_dict()[key].numpy(), value.numpy()), key
    back = small_cnn(torch)
    back.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()})
    ours.eval()
    back.eval()
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
    assert_close(ours(minidl.tensor(x)), back(torch.from_numpy(x)))


def test_missing_and_unexpected_keys_are_errors_when_strict():
    m = small_cnn(minidl)
    state = numpy_state(m)
    del state["classifier.1.bias"]
    state["classifier.1.extra"] = np.zeros(1)
    state["head.weight"] = np.zeros(1)
    with pytest.raises(RuntimeError) as info:
        m.load_state_dict(state)
    message = str(info.value)
    assert message.startswith("Error(s) in loading state_dict for Sequential:")
    assert 'Missing key(s) in state_dict: "classifier.1.bias".' in message
    assert 'Unexpected key(s) in state_dict: "head.weight", "classifier.1.extra".' in message  # as PyTorch orders them


def test_strict_false_reports_and_loads_the_rest():
    m = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    state = {"0.weight": np.eye(2), "1.running_mean": np.ones(2), "2.weight": np.ones(1)}
    missing, unexpected = m.load_state_dict(state, strict=False)
    assert missing == ["0.bias", "1.weight", "1.bias", "1.running_var"]
    assert unexpected == ["2.weight"]
    assert m[0].weight.tolist() == [[1.0, 0.0], [0.0, 1.0]] and m[1].running_mean.tolist() == [1.0, 1.0]


def test_shape_mismatch_names_the_key_and_both_shapes():
    m = nn.Sequential(nn.Linear(4, 3))
    state = numpy_state(m)
    state["0.weight"] = np.zeros((3, 5), np.float32)
    for strict in (True, False):
        with pytest.raises(RuntimeError, match=r"size mismatch for 0\.weight: copying a param with shape \(3, 5\) "
                                               r"from checkpoint, the shape in current model is \(3, 4\)"):  # fmt: skip
            m.load_state_dict(state, strict=strict)


def test_missing_num_batches_tracked_is_tolerated_as_in_torch():
    m = nn.BatchNorm2d(3)
    state = numpy_state(m)
    del state["num_batches_tracked"]
    assert m.load_state_dict(state) == ([], [])
    assert torch.nn.BatchNorm2d(3).load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}) == ([], [])


def test_non_mapping_is_refused():
    with pytest.raises(TypeError, match="mapping"):
        nn.Linear(1, 1).load_state_dict([("weight", np.zeros((1, 1)))])


def test_net_with_lists_dicts_and_buffers_round_trips_through_torch():
    ours, theirs = net(minidl), net(torch)
    ours.load_state_dict(theirs.state_dict())
    for (key, a), (key_t, b) in zip(ours.state_dict().items(), theirs.state_dict().items()):
        assert key == key_t and np.array_equal(a.numpy(), b.numpy())
