"""DenseNet-BC (Huang, Liu, van der Maaten and Weinberger, 2016), as torchvision defines it (state-dict keys
included): DenseNet-121 7,978,856 parameters, DenseNet-161 28,681,000, DenseNet-169 14,149,480, DenseNet-201
20,013,928 for 1000 classes.

Each dense layer sees the concatenation of every earlier feature map of its block and adds ``growth_rate``
channels (BN-ReLU-conv 1×1 to ``bn_size * growth_rate``, then BN-ReLU-conv 3×3); transitions halve the channels
(1×1 conv) and the resolution (2×2 average pool).

Small inputs: ``small_input=True`` makes the stem a 3×3 stride-1 convolution without max-pool, so 28×28 and
32×32 images end as a 3×3 or 4×4 map; without it any input from 32×32 works, with a 1×1 final map.
"""

from __future__ import annotations

from collections import OrderedDict

from minidl.models.base import ImageClassifier, check_classifier_args
from minidl.nn import init
from minidl.nn.containers import ModuleDict, Sequential
from minidl.nn.layers.activation import ReLU
from minidl.nn.layers.conv import Conv2d
from minidl.nn.layers.dropout import Dropout
from minidl.nn.layers.linear import Identity, Linear
from minidl.nn.layers.normalization import BatchNorm2d
from minidl.nn.layers.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d
from minidl.nn.module import Module
from minidl.ops import activation, shape
from minidl.tensor import Tensor


class DenseLayer(Module):
    """BN-ReLU-conv 1×1 (bottleneck) -> BN-ReLU-conv 3×3: ``growth_rate`` new channels from all earlier ones."""

    def __init__(self, in_channels: int, growth_rate: int, bn_size: int, drop_rate: float):
        super().__init__()
        self.norm1 = BatchNorm2d(in_channels)
        self.relu1 = ReLU(inplace=True)
        self.conv1 = Conv2d(in_channels, bn_size * growth_rate, 1, bias=False)
        self.norm2 = BatchNorm2d(bn_size * growth_rate)
        self.relu2 = ReLU(inplace=True)
        self.conv2 = Conv2d(bn_size * growth_rate, growth_rate, 3, padding=1, bias=False)
        self.dropout = Dropout(drop_rate)

    def forward(self, features: list[Tensor]) -> Tensor:
        """features: the block's maps so far, each (N, c_i, H, W) -> (N, growth_rate, H, W)."""
        x = shape.cat(features, 1)
        x = self.conv1(self.relu1(self.norm1(x)))
        return self.dropout(self.conv2(self.relu2(self.norm2(x))))


class DenseBlock(ModuleDict):
    """``num_layers`` dense layers (``denselayer1``...); output: the input and every layer's output, concatenated."""

    def __init__(self, num_layers: int, in_channels: int, growth_rate: int, bn_size: int, drop_rate: float):
        super().__init__()
        for i in range(num_layers):
            layer = DenseLayer(in_channels + i * growth_rate, growth_rate, bn_size, drop_rate)
            self.add_module(f"denselayer{i + 1}", layer)

    def forward(self, x: Tensor) -> Tensor:
        """x: (N, C, H, W) -> (N, C + num_layers * growth_rate, H, W)."""
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return shape.cat(features, 1)


def transition(in_channels: int, out_channels: int) -> Sequential:
    """BN -> ReLU -> conv 1×1 -> 2×2 average pool (keys norm, relu, conv, pool)."""
    return Sequential(
        OrderedDict(
            norm=BatchNorm2d(in_channels),
            relu=ReLU(inplace=True),
            conv=Conv2d(in_channels, out_channels, 1, bias=False),
            pool=AvgPool2d(2, 2),
        )
    )


class DenseNet(ImageClassifier):
    """DenseNet: ``features`` (conv0, norm0, relu0, pool0, denseblock1, transition1, ..., denseblock4, norm5),
    then ReLU, global average pooling and ``classifier`` (Linear)."""

    def __init__(
        self,
        growth_rate: int = 32,
        block_config: tuple[int, ...] = (6, 12, 24, 16),
        num_init_features: int = 64,
        bn_size: int = 4,
        drop_rate: float = 0.0,
        num_classes: int = 1000,
        in_channels: int = 3,
        small_input: bool = False,
    ):
        super().__init__()
        self.num_classes = num_classes
        if small_input:
            stem = [("conv0", Conv2d(in_channels, num_init_features, 3, 1, padding=1, bias=False))]
            pool0: Module = Identity()
        else:
            stem = [("conv0", Conv2d(in_channels, num_init_features, 7, 2, padding=3, bias=False))]
            pool0 = MaxPool2d(3, 2, padding=1)
        stem += [("norm0", BatchNorm2d(num_init_features)), ("relu0", ReLU(inplace=True)), ("pool0", pool0)]
        self.features = Sequential(OrderedDict(stem))
        channels = num_init_features
        for i, num_layers in enumerate(block_config):
            block = DenseBlock(num_layers, channels, growth_rate, bn_size, drop_rate)
            self.features.add_module(f"denseblock{i + 1}", block)
            channels += num_layers * growth_rate
            if i != len(block_config) - 1:
                self.features.add_module(f"transition{i + 1}", transition(channels, channels // 2))
                channels //= 2
        self.features.add_module("norm5", BatchNorm2d(channels))
        self.avgpool = AdaptiveAvgPool2d(1)
        self.classifier = Linear(channels, num_classes)
        for m in self.modules():
            if isinstance(m, Conv2d):
                init.kaiming_normal_(m.weight)
            elif isinstance(m, BatchNorm2d):
                init.ones_(m.weight)
                init.zeros_(m.bias)
            elif isinstance(m, Linear):
                init.zeros_(m.bias)

    def forward_features(self, x: Tensor) -> Tensor:
        """x: (N, in_channels, H, W) -> (N, C, H/32, W/32), after the final BN and ReLU."""
        return activation.relu(self.features(x))

    def forward_head(self, features: Tensor) -> Tensor:
        """(N, C, h, w) -> logits (N, num_classes)."""
        return self.classifier(self.avgpool(features).flatten(1))


def _densenet(name: str, growth: int, blocks: tuple, init_features: int, num_classes: int, in_channels: int,
              **kwargs) -> DenseNet:  # fmt: skip
    check_classifier_args(name, num_classes, in_channels)
    return DenseNet(growth, blocks, init_features, num_classes=num_classes, in_channels=in_channels, **kwargs)


def densenet121(num_classes: int = 1000, in_channels: int = 3, **kwargs) -> DenseNet:
    """DenseNet-121: growth 32, blocks (6, 12, 24, 16) (``bn_size``, ``drop_rate``, ``small_input``: see
    ``DenseNet``)."""
    return _densenet("densenet121", 32, (6, 12, 24, 16), 64, num_classes, in_channels, **kwargs)


def densenet161(num_classes: int = 1000, in_channels: int = 3, **kwargs) -> DenseNet:
    """DenseNet-161: growth 48, blocks (6, 12, 36, 24), 96 initial features."""
    return _densenet("densenet161", 48, (6, 12, 36, 24), 96, num_classes, in_channels, **kwargs)


def densenet169(num_classes: int = 1000, in_channels: int = 3, **kwargs) -> DenseNet:
    """DenseNet-169: growth 32, blocks (6, 12, 32, 32)."""
    return _densenet("densenet169", 32, (6, 12, 32, 32), 64, num_classes, in_channels, **kwargs)


def densenet201(num_classes: int = 1000, in_channels: int = 3, **kwargs) -> DenseNet:
    """DenseNet-201: growth 32, blocks (6, 12, 48, 32)."""
    return _densenet("densenet201", 32, (6, 12, 48, 32), 64, num_classes, in_channels, **kwargs)
