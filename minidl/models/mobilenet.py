"""MobileNet v1 (Howard et al., 2017) and v2 (Sandler et al., 2018).

- v1: a 3×3 stride-2 convolution then 13 depthwise-separable blocks (3×3 depthwise conv + BN + ReLU, 1×1
  pointwise conv + BN + ReLU), global average pooling and one linear layer: 4,231,976 parameters and 569 M
  multiply-adds at 224×224 for α = 1. The width multiplier ``alpha`` scales every layer's channels.
  torchvision has no v1, so the keys are ours: ``features.<i>.<j>``, ``classifier``.
- v2: inverted residual blocks (1×1 expand, 3×3 depthwise, 1×1 linear projection; a shortcut where shapes
  allow) with ReLU6, as torchvision defines it (state-dict keys included): 3,504,872 parameters.

Small inputs: both nets downsample by 32; ``small_input=True`` makes the first convolution stride 1 (28×28 ends
as 1×1, 32×32 as 1×1 with v1's five stride-2 blocks, and a little larger map with v2's), which keeps enough
resolution for MNIST and CIFAR; without it inputs from 32×32 work with a 1×1 final map.
"""

from __future__ import annotations

from minidl.models.base import ImageClassifier, check_classifier_args, init_fan_out
from minidl.nn.containers import Sequential
from minidl.nn.layers.activation import ReLU, ReLU6
from minidl.nn.layers.conv import Conv2d
from minidl.nn.layers.dropout import Dropout
from minidl.nn.layers.linear import Linear
from minidl.nn.layers.normalization import BatchNorm2d
from minidl.nn.layers.pooling import AdaptiveAvgPool2d
from minidl.nn.module import Module
from minidl.tensor import Tensor

# MobileNet v1 after its first convolution: (output channels, stride) of each depthwise-separable block.
V1_BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)] + [(512, 1)] * 5 + [(1024, 2), (1024, 1)]

# MobileNet v2: (expansion t, output channels c, repeats n, first stride s) per stage.
V2_STAGES = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]


def conv_bn_act(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, groups: int = 1,
                activation: type[Module] | None = ReLU) -> Sequential:  # fmt: skip
    """conv (no bias, "same" padding for odd kernels) -> BN -> activation (keys 0, 1, 2)."""
    layers: list[Module] = [
        Conv2d(in_channels, out_channels, kernel_size, stride, (kernel_size - 1) // 2, groups=groups, bias=False),
        BatchNorm2d(out_channels),
    ]
    if activation is not None:
        layers.append(activation(inplace=True))
    return Sequential(*layers)


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round ``value`` to a multiple of ``divisor``, never more than 10% below it (v2's channel rounding)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


class MobileNetV1(ImageClassifier):
    """MobileNet v1: ``features`` (stem conv_bn_act, then one Sequential(depthwise, pointwise) per block),
    global average pooling, ``classifier`` (Linear)."""

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, alpha: float = 1.0, dropout: float = 0.0,
                 small_input: bool = False):  # fmt: skip
        super().__init__()
        check_classifier_args("mobilenet_v1", num_classes, in_channels)
        if not alpha > 0:
            raise ValueError(f"mobilenet_v1: alpha (the width multiplier) must be positive, got {alpha!r}")
        self.num_classes, self.alpha = num_classes, alpha
        width = max(1, int(32 * alpha))
        layers: list[Module] = [conv_bn_act(in_channels, width, 3, 1 if small_input else 2)]
        for channels, stride in V1_BLOCKS:
            out = max(1, int(channels * alpha))
            layers.append(Sequential(conv_bn_act(width, width, 3, stride, groups=width), conv_bn_act(width, out, 1)))
            width = out
        self.features = Sequential(*layers)
        self.avgpool = AdaptiveAvgPool2d(1)
        self.dropout = Dropout(dropout)
        self.classifier = Linear(width, num_classes)
        init_fan_out(self)

    def forward_features(self, x: Tensor) -> Tensor:
        """x: (N, in_channels, H, W) -> (N, 1024 α, H/32, W/32)."""
        return self.features(x)

    def forward_head(self, features: Tensor) -> Tensor:
        """(N, C, h, w) -> logits (N, num_classes)."""
        return self.classifier(self.dropout(self.avgpool(features).flatten(1)))


class InvertedResidual(Module):
    """1×1 expansion (skipped when t = 1) -> 3×3 depthwise -> 1×1 linear projection (``conv``), plus the input
    when stride is 1 and the channels match."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, expand_ratio: int):
        super().__init__()
        hidden = round(in_channels * expand_ratio)
        self.use_res_connect = stride == 1 and in_channels == out_channels
        layers: list[Module] = []
        if expand_ratio != 1:
            layers.append(conv_bn_act(in_channels, hidden, 1, activation=ReLU6))
        layers += [
            conv_bn_act(hidden, hidden, 3, stride, groups=hidden, activation=ReLU6),
            Conv2d(hidden, out_channels, 1, bias=False),
            BatchNorm2d(out_channels),
        ]
        self.conv = Sequential(*layers)
        self.out_channels = out_channels

    def forward(self, x: Tensor) -> Tensor:
        """x: (N, in_channels, H, W) -> (N, out_channels, H/stride, W/stride)."""
        out = self.conv(x)
        return x + out if self.use_res_connect else out


class MobileNetV2(ImageClassifier):
    """MobileNet v2 with torchvision's layout: ``features`` (stem, 17 inverted residual blocks, 1×1 conv to
    1280), global average pooling, ``classifier`` = Sequential(Dropout, Linear) (``classifier.1``)."""

    classifier_path = "classifier.1"

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, width_mult: float = 1.0, dropout: float = 0.2,
                 small_input: bool = False):  # fmt: skip
        super().__init__()
        check_classifier_args("mobilenet_v2", num_classes, in_channels)
        if not width_mult > 0:
            raise ValueError(f"mobilenet_v2: width_mult must be positive, got {width_mult!r}")
        self.num_classes = num_classes
        width = make_divisible(32 * width_mult)
        self.last_channel = make_divisible(1280 * max(1.0, width_mult))
        layers: list[Module] = [conv_bn_act(in_channels, width, 3, 1 if small_input else 2, activation=ReLU6)]
        for t, c, n, s in V2_STAGES:
            out = make_divisible(c * width_mult)
            for i in range(n):
                layers.append(InvertedResidual(width, out, s if i == 0 else 1, t))
                width = out
        layers.append(conv_bn_act(width, self.last_channel, 1, activation=ReLU6))
        self.features = Sequential(*layers)
        self.avgpool = AdaptiveAvgPool2d(1)
        self.classifier = Sequential(Dropout(dropout), Linear(self.last_channel, num_classes))
        init_fan_out(self)

    def forward_features(self, x: Tensor) -> Tensor:
        """x: (N, in_channels, H, W) -> (N, 1280, H/32, W/32)."""
        return self.features(x)

    def forward_head(self, features: Tensor) -> Tensor:
        """(N, 1280, h, w) -> logits (N, num_classes)."""
        return self.classifier(self.avgpool(features).flatten(1))


def mobilenet_v1(num_classes: int = 1000, in_channels: int = 3, alpha: float = 1.0, **kwargs) -> MobileNetV1:
    """MobileNet v1 with width multiplier ``alpha`` (``dropout``, ``small_input``: see ``MobileNetV1``)."""
    return MobileNetV1(num_classes, in_channels, alpha, **kwargs)


def mobilenet_v2(num_classes: int = 1000, in_channels: int = 3, width_mult: float = 1.0, **kwargs) -> MobileNetV2:
    """MobileNet v2 with width multiplier ``width_mult`` (``dropout``, ``small_input``: see ``MobileNetV2``)."""
    return MobileNetV2(num_classes, in_channels, width_mult, **kwargs)
