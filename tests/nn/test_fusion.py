"""Fused inference: batch norm folded into the convolution, ReLU/ReLU6 applied in place, and the one-call
``optimize_for_inference`` on zoo models (outputs equal the unfused model within 1e-5)."""

from __future__ import annotations

import numpy as np
import pytest

import minidl
from minidl import models, nn
from minidl.nn.utils import FusedConv2d, fuse_activation, fuse_conv_bn, optimize_for_inference


def _bn(features: int, seed: int, dtype=minidl.float32) -> nn.BatchNorm2d:
    """An eval-mode BatchNorm2d with random statistics and affine parameters."""
    rng = np.random.default_rng(seed)
    bn = nn.BatchNorm2d(features, eps=1e-3)
    with minidl.no_grad():
        bn.running_mean.copy_(minidl.tensor(rng.standard_normal(features)))
        bn.running_var.copy_(minidl.tensor(rng.uniform(0.5, 2.0, features)))
        bn.weight.copy_(minidl.tensor(rng.standard_normal(features)))
        bn.bias.copy_(minidl.tensor(rng.standard_normal(features)))
    return bn.to(dtype=dtype).eval()


def _max_rel(a: minidl.Tensor, b: minidl.Tensor) -> float:
    a, b = a.detach().numpy(), b.detach().numpy()
    return float(np.abs(a - b).max() / np.abs(b).max())


@pytest.mark.parametrize(
    ("bias", "stride", "groups", "dtype", "tol"),
    [
        (True, 1, 1, minidl.float32, 1e-5),
        (False, 2, 1, minidl.float32, 1e-5),
        (True, 1, 2, minidl.float32, 1e-5),
        (False, 1, 4, minidl.float64, 1e-12),
    ],
)
def test_fuse_conv_bn_equals_bn_of_conv(bias, stride, groups, dtype, tol):
    minidl.manual_seed(0)
    conv = nn.Conv2d(4, 8, 3, stride=stride, padding=1, groups=groups, bias=bias).to(dtype=dtype)
    bn = _bn(8, 1, dtype)
    x = minidl.randn(3, 4, 9, 7, dtype=dtype)
    fused = fuse_conv_bn(conv, bn)
    assert isinstance(fused, FusedConv2d) and fused.bias is not None and fused.weight.dtype == dtype
    with minidl.no_grad():
        assert _max_rel(fused(x), bn(conv(x))) < tol
    assert conv.bias is None or conv.bias is not fused.bias  # new parameters; the inputs are untouched


@pytest.mark.parametrize(("activation", "module"), [("relu", nn.ReLU), ("relu6", nn.ReLU6)])
def test_fused_activation_in_place_and_with_gradients(activation, module):
    minidl.manual_seed(1)
    conv = nn.Conv2d(3, 5, 3, padding=1)
    fused = fuse_activation(fuse_conv_bn(conv, _bn(5, 2)), module())
    assert fused.activation == activation
    reference = nn.Sequential(conv, _bn(5, 2), module())
    x = minidl.randn(2, 3, 6, 6) * 4
    with minidl.no_grad():
        out = fused(x)
        assert _max_rel(out, reference(x)) < 1e-5
    assert out.grad_fn is None
    # with gradients recorded it is the composition: gradients reach the fused weights
    y = fused(x)
    y.sum().backward()
    assert fused.weight.grad is not None and fused.weight.grad.shape == fused.weight.shape


def _calibrated(name: str, **kwargs) -> nn.Module:
    minidl.manual_seed(2)
    model = models.get_model(name, num_classes=10, in_channels=3, **kwargs)
    with minidl.no_grad():  # running statistics from a few batches
        for _ in range(2):
            model(minidl.randn(4, 3, 16, 16))
    return model.eval()


@pytest.mark.parametrize(
    ("name", "kwargs", "fused_count"),
    [("resnet18", {"small_input": True}, 20), ("mobilenet_v2", {"small_input": True}, 87)],
)
def test_optimize_for_inference_on_the_zoo(name, kwargs, fused_count):
    model = _calibrated(name, **kwargs)
    x = minidl.randn(2, 3, 16, 16)
    fast = optimize_for_inference(model, x)
    assert fast.fused_modules == fused_count
    assert not any(isinstance(m, nn.BatchNorm2d) for m in fast.modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())  # the original keeps its batch norms
    with minidl.no_grad():
        assert _max_rel(fast(x), model(x)) < 1e-5
        other = minidl.randn(3, 3, 16, 16)
        assert _max_rel(fast(other), model(other)) < 1e-5


class _NormThenConv(nn.Module):
    """conv1 and bn1 named like a torchvision pair, but forward applies the batch norm first."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(4, 4, 3, padding=1)
        self.bn1 = _bn(4, 3)

    def forward(self, x):
        return self.conv1(self.bn1(x))


def test_a_pair_that_is_not_conv_then_bn_is_left_alone():
    minidl.manual_seed(3)
    model = _NormThenConv().eval()
    x = minidl.randn(2, 4, 5, 5)
    fast = optimize_for_inference(model, x)
    assert fast.fused_modules == 0 and isinstance(fast.bn1, nn.BatchNorm2d)
    with minidl.no_grad():
        assert _max_rel(fast(x), model(x)) < 1e-6
    assert optimize_for_inference(model).fused_modules == 0  # without an example, attribute pairs are not tried


def test_fusion_errors():
    conv = nn.Conv2d(3, 4, 3)
    with pytest.raises(ValueError, match="no running statistics"):
        fuse_conv_bn(conv, nn.BatchNorm2d(4, track_running_stats=False))
    with pytest.raises(ValueError, match="has 5 features, the convolution 4 output channels"):
        fuse_conv_bn(conv, nn.BatchNorm2d(5))
    with pytest.raises(TypeError, match="a Conv2d and a BatchNorm2d expected, got Linear"):
        fuse_conv_bn(nn.Linear(3, 4), nn.BatchNorm2d(4))
    with pytest.raises(TypeError, match="a ReLU or ReLU6 expected, got Sigmoid"):
        fuse_activation(conv, nn.Sigmoid())
    with pytest.raises(ValueError, match="already applies relu"):
        fuse_activation(fuse_activation(conv, nn.ReLU()), nn.ReLU())
