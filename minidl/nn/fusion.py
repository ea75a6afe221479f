"""Fused inference: batch norm folded into the convolution before it, and the activation after it applied in place.

In eval mode a BatchNorm2d is a fixed per-channel affine map, y = (x - mean) / sqrt(var + eps) · γ + β, so after a
convolution it can be folded into the convolution's weights and bias:

    w' = w · s[:, None, None, None],   b' = (b - mean) · s + β,   s = γ / sqrt(var + eps)

which saves the batch norm's pass over the activations. A ReLU or ReLU6 after the (fused) convolution is applied
in place on its output (``FusedConv2d``), which saves one more pass and one tensor.

``optimize_for_inference(model, example_input)`` does both on a copy of the model: inside every ``Sequential``
(Conv2d, BatchNorm2d[, ReLU/ReLU6] and Conv2d, ReLU/ReLU6 runs, as MobileNet and VGG are built), and for
torchvision-style pairs of attributes (``conv1``/``bn1``, ``conv``/``bn``...) that ``forward`` applies one after
the other, as in ResNet's blocks. Only a ``Sequential`` states its order; a pair of attributes is folded only when
``example_input`` shows the model's output unchanged (a pair that is not conv-then-bn changes it, and is left as it
was).
"""

from __future__ import annotations

import copy
import re
from typing import Any

from minidl.autograd import no_grad
from minidl.nn.containers import Sequential
from minidl.nn.layers.activation import ReLU, ReLU6
from minidl.nn.layers.conv import Conv2d
from minidl.nn.layers.linear import Identity
from minidl.nn.layers.normalization import BatchNorm2d
from minidl.nn.module import Module
from minidl.nn.parameter import Parameter
from minidl.ops.conv import conv2d_activation
from minidl.tensor import Tensor

# The agreement asked of a folded pair on the example input, relative to the model's largest output: float32
# rounding of the folded weights is about 1e-6; a pair folded that forward does not apply in that order is off by
# the size of the output.
FOLD_TOLERANCE = 1e-4


class FusedConv2d(Conv2d):
    """A Conv2d followed by ``activation`` (None, "relu" or "relu6"): x (N, C_in, H, W) -> (N, C_out, Ho, Wo).
    Without gradient recording the activation is applied in place on the convolution's output; with it, the two
    are the usual ops. Built by ``fuse_conv_bn`` and ``optimize_for_inference``; its state dict is a Conv2d's."""

    activation: str | None = None

    def forward(self, input: Tensor) -> Tensor:
        if self.padding_mode != "zeros":
            return _ACTIVATION_MODULES[self.activation]()(super().forward(input))
        return conv2d_activation(
            input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups, self.activation
        )

    def extra_repr(self) -> str:
        return super().extra_repr() + (f", activation={self.activation}" if self.activation else "")


_ACTIVATION_MODULES = {None: Identity, "relu": ReLU, "relu6": ReLU6}


def _as_fused(conv: Conv2d) -> FusedConv2d:
    """A FusedConv2d (no activation) with ``conv``'s configuration and parameters (copied)."""
    fused = copy.deepcopy(conv)
    fused.__class__ = FusedConv2d
    fused.activation = getattr(conv, "activation", None)
    return fused


def fuse_conv_bn(conv: Conv2d, bn: BatchNorm2d) -> FusedConv2d:
    """The convolution ``bn(conv(x))`` computes in eval mode, as one FusedConv2d with a bias (new parameters; the
    inputs are unchanged). ``bn`` must have running statistics and as many features as ``conv`` has outputs."""
    if not isinstance(conv, Conv2d) or not isinstance(bn, BatchNorm2d):
        raise TypeError(f"fuse_conv_bn: a Conv2d and a BatchNorm2d expected, got {type(conv).__name__} and "
                        f"{type(bn).__name__}")  # fmt: skip
    if getattr(conv, "activation", None) is not None:
        raise ValueError("fuse_conv_bn: the convolution already applies an activation; fold the batch norm first")
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError("fuse_conv_bn: the batch norm has no running statistics (track_running_stats=False), so "
                         "eval mode still normalizes with each batch's statistics and cannot be folded")  # fmt: skip
    if bn.num_features != conv.out_channels:
        raise ValueError(f"fuse_conv_bn: the batch norm has {bn.num_features} features, the convolution "
                         f"{conv.out_channels} output channels")  # fmt: skip
    fused = _as_fused(conv)
    xp = conv.weight.backend.xp
    with no_grad():
        dtype = conv.weight.data.dtype
        scale = 1.0 / xp.sqrt(bn.running_var.data.astype(xp.float64) + bn.eps)
        if bn.weight is not None:
            scale = scale * bn.weight.data
        shift = -bn.running_mean.data.astype(xp.float64) * scale
        if conv.bias is not None:
            shift = shift + conv.bias.data * scale
        if bn.bias is not None:
            shift = shift + bn.bias.data
        backend = conv.weight.backend
        weight = (conv.weight.data * scale.reshape(-1, 1, 1, 1)).astype(dtype)
        fused.weight = Parameter(Tensor._make(weight, backend), requires_grad=conv.weight.requires_grad)
        fused.bias = Parameter(Tensor._make(shift.astype(dtype), backend), requires_grad=conv.weight.requires_grad)
    return fused


def fuse_activation(conv: Conv2d, activation: Module) -> FusedConv2d:
    """``activation(conv(x))`` (activation a ReLU or ReLU6 module) as one FusedConv2d."""
    kind = {ReLU: "relu", ReLU6: "relu6"}.get(type(activation))
    if kind is None:
        raise TypeError(f"fuse_activation: a ReLU or ReLU6 expected, got {type(activation).__name__}")
    if getattr(conv, "activation", None) is not None:
        raise ValueError(f"fuse_activation: the convolution already applies {conv.activation}")
    fused = conv if isinstance(conv, FusedConv2d) else _as_fused(conv)
    fused.activation = kind
    return fused


def _fuse_sequential(seq: Sequential) -> int:
    """Fuse the Conv2d, BatchNorm2d, ReLU runs of one Sequential in place; returns how many modules were fused."""
    names = list(seq._modules)
    fused_count, i = 0, 0
    while i < len(names):
        module = seq._modules[names[i]]
        if isinstance(module, Conv2d) and getattr(module, "activation", None) is None:
            j = i + 1
            if j < len(names) and type(seq._modules[names[j]]) is BatchNorm2d:
                bn = seq._modules[names[j]]
                if bn.running_mean is not None:
                    module = fuse_conv_bn(module, bn)
                    seq._modules[names[j]] = Identity()
                    fused_count += 1
                    j += 1
            if j < len(names) and type(seq._modules[names[j]]) in (ReLU, ReLU6):
                module = fuse_activation(module, seq._modules[names[j]])
                seq._modules[names[j]] = Identity()
                fused_count += 1
                j += 1
            seq._modules[names[i]] = module
            i = j
        else:
            i += 1
    return fused_count


_PAIR = re.compile(r"^conv(\d*)$")


def _outputs(model: Module, example_input: Any) -> Any:
    with no_grad():
        out = model(example_input)
    return out


def _close(got: Any, expected: Any) -> bool:
    if isinstance(expected, (tuple, list)):
        return len(got) == len(expected) and all(_close(g, e) for g, e in zip(got, expected))
    a, b = got.numpy(), expected.numpy()
    scale = float(abs(b).max()) or 1.0
    return a.shape == b.shape and float(abs(a - b).max()) <= FOLD_TOLERANCE * scale


def optimize_for_inference(model: Module, example_input: Tensor | None = None) -> Module:
    """A copy of ``model`` in eval mode with batch norms folded into the convolutions before them and ReLU/ReLU6
    applied in place after them (see the module docstring). ``example_input`` (a batch the model takes) lets it
    also fold torchvision-style ``convK``/``bnK`` attribute pairs, each kept only if the output is unchanged.
    The copy's ``fused_modules`` counts what was fused. Train it no further: its batch norms are gone."""
    fused = copy.deepcopy(model).eval()
    count = sum(_fuse_sequential(m) for m in list(fused.modules()) if isinstance(m, Sequential))
    if example_input is not None:
        expected = _outputs(model.eval() if not model.training else copy.deepcopy(model).eval(), example_input)
        for parent in list(fused.modules()):
            for name, conv in list(parent._modules.items()):
                match = _PAIR.match(name)
                bn = parent._modules.get(f"bn{match.group(1)}") if match else None
                if type(conv) not in (Conv2d, FusedConv2d) or type(bn) is not BatchNorm2d or bn.running_mean is None:
                    continue
                if getattr(conv, "activation", None) is not None:
                    continue
                bn_name = f"bn{match.group(1)}"
                parent._modules[name], parent._modules[bn_name] = fuse_conv_bn(conv, bn), Identity()
                if _close(_outputs(fused, example_input), expected):
                    count += 1
                else:  # forward does not apply them as conv then bn: undo
                    parent._modules[name], parent._modules[bn_name] = conv, bn
    fused.fused_modules = count
    return fused
