"""nn.init: the statistics of large samples, the gains against PyTorch's, in-place and graph-free filling,
reproducibility under manual_seed; and each layer's default initialisation."""

import math

import numpy as np
import pytest
import torch

import minidl
import minidl.nn as nn
from minidl.nn import init


def sample(*shape):
    return nn.Parameter(minidl.empty(*shape))


def values(t):
    return t.detach().numpy().astype(np.float64)


@pytest.mark.parametrize(
    "args",
    [("linear",), ("conv2d",), ("sigmoid",), ("tanh",), ("relu",), ("leaky_relu",), ("leaky_relu", 0.2),
     ("leaky_relu", math.sqrt(5)), ("selu",)],
)  # fmt: skip
def test_calculate_gain_matches_torch(args):
    assert init.calculate_gain(*args) == pytest.approx(torch.nn.init.calculate_gain(*args), rel=1e-12)


def test_calculate_gain_refuses_unknown_names():
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", "0.1")


def test_fills_in_place_without_recording_and_returns_the_tensor():
    p = sample(64, 32)
    data = p.data
    for fill in (
        lambda t: init.uniform_(t, -1, 1),
        lambda t: init.normal_(t, 0, 1),
        lambda t: init.constant_(t, 0.5),
        init.zeros_,
        init.ones_,
        init.xavier_uniform_,
        init.xavier_normal_,
        init.kaiming_uniform_,
        init.kaiming_normal_,
    ):
        assert fill(p) is p
        assert p.data is data and p.is_leaf and p.grad_fn is None and p.requires_grad
    assert np.all(values(p) != 0)


def test_uniform_and_normal_statistics():
    u = values(init.uniform_(sample(500, 400), -2.0, 3.0))
    assert u.min() >= -2.0 and u.max() <= 3.0 and u.min() < -1.99 and u.max() > 2.99
    assert u.mean() == pytest.approx(0.5, abs=0.01)
    n = values(init.normal_(sample(500, 400), 1.5, 0.5))
    assert n.mean() == pytest.approx(1.5, abs=0.005) and n.std() == pytest.approx(0.5, rel=0.01)


def test_constants():
    assert values(init.constant_(sample(3), 2.5)).tolist() == [2.5] * 3
    assert values(init.zeros_(sample(2, 2))).sum() == 0
    assert values(init.ones_(sample(2, 2))).sum() == 4


@pytest.mark.parametrize(
    ("shape", "fan_in", "fan_out"), [((300, 200), 200, 300), ((64, 16, 5, 5), 400, 1600), ((256, 4, 3, 3), 36, 2304)]
)
def test_xavier(shape, fan_in, fan_out):
    bound = math.sqrt(6 / (fan_in + fan_out))
    u = values(init.xavier_uniform_(sample(*shape), gain=2.0))
    assert np.abs(u).max() <= 2 * bound and np.abs(u).max() > 0.99 * 2 * bound
    assert u.std() == pytest.approx(2 * bound / math.sqrt(3), rel=0.03)
    n = values(init.xavier_normal_(sample(*shape)))
    assert n.std() == pytest.approx(math.sqrt(2 / (fan_in + fan_out)), rel=0.03)
    assert n.mean() == pytest.approx(0, abs=0.1 * n.std())


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize(
    ("a", "nonlinearity"), [(0, "relu"), (0, "leaky_relu"), (math.sqrt(5), "leaky_relu"), (0, "tanh")]
)
def test_kaiming(mode, a, nonlinearity):
    shape = (64, 16, 5, 5)  # fan_in 400, fan_out 1600
    fan = 400 if mode == "fan_in" else 1600
    std = torch.nn.init.calculate_gain(nonlinearity, a) / math.sqrt(fan)
    u = values(init.kaiming_uniform_(sample(*shape), a=a, mode=mode, nonlinearity=nonlinearity))
    assert np.abs(u).max() <= math.sqrt(3) * std * (1 + 1e-6) and np.abs(u).max() > 0.99 * math.sqrt(3) * std
    assert u.std() == pytest.approx(std, rel=0.03)
    n = values(init.kaiming_normal_(sample(*shape), a=a, mode=mode, nonlinearity=nonlinearity))
    assert n.std() == pytest.approx(std, rel=0.03)


def test_fan_needs_two_dims_and_mode_must_be_known():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(sample(5))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_uniform_(sample(2, 2), mode="fan_avg")


def test_reproducible_under_manual_seed():
    draws = []
    for _ in range(2):
        minidl.manual_seed(7)
        draws.append(
            [
                values(init.kaiming_uniform_(sample(8, 4))),
                values(init.normal_(sample(5))),
                values(nn.Linear(4, 3).weight),
            ]
        )
    for a, b in zip(*draws):
        assert np.array_equal(a, b)
    minidl.manual_seed(8)
    assert not np.array_equal(values(init.kaiming_uniform_(sample(8, 4))), draws[0][0])


# ------------------------------------------------------------------------------------- layer defaults


def test_linear_default_initialisation():
    m = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)  # kaiming_uniform_(a=sqrt(5)) gives the same bound as the bias
    w, b = values(m.weight), values(m.bias)
    assert m.weight.shape == (300, 400) and m.bias.shape == (300,)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)
    assert np.abs(b).max() <= bound and np.abs(b).max() > 0.9 * bound
    assert m.weight.dtype == minidl.float32
    assert nn.Linear(3, 2, bias=False).bias is None
    assert nn.Linear(3, 2, dtype=minidl.float64).weight.dtype == minidl.float64


@pytest.mark.parametrize(("groups", "kernel"), [(1, 3), (4, (3, 5)), (16, 3)])
def test_conv2d_default_initialisation(groups, kernel):
    m = nn.Conv2d(16, 64, kernel, groups=groups)
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    fan_in = 16 // groups * kh * kw
    bound = 1 / math.sqrt(fan_in)
    assert m.weight.shape == (64, 16 // groups, kh, kw)
    w, b = values(m.weight), values(m.bias)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert np.abs(b).max() <= bound
    assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.1)


def test_batchnorm_default_initialisation():
    for bn in (nn.BatchNorm1d(5), nn.BatchNorm2d(5)):
        assert values(bn.weight).tolist() == [1.0] * 5 and values(bn.bias).tolist() == [0.0] * 5
        assert values(bn.running_mean).tolist() == [0.0] * 5 and values(bn.running_var).tolist() == [1.0] * 5
        assert bn.num_batches_tracked.item() == 0 and bn.num_batches_tracked.dtype == minidl.int64
    bare = nn.BatchNorm2d(3, affine=False, track_running_stats=False)
    assert bare.weight is None and bare.running_mean is None and not list(bare.parameters())
    assert not list(bare.state_dict())
    no_bias = nn.BatchNorm2d(3, bias=False)
    assert no_bias.bias is None and list(no_bias.state_dict())[:2] == ["weight", "running_mean"]


def test_reset_parameters_draws_again():
    m = nn.Conv2d(3, 4, 3)
    before = values(m.weight)
    m.reset_parameters()
    assert not np.array_equal(before, values(m.weight))
    bn = nn.BatchNorm2d(2)
    bn(minidl.randn(4, 2, 3, 3))
    bn.reset_running_stats()
    assert values(bn.running_var).tolist() == [1.0, 1.0] and bn.num_batches_tracked.item() == 0
