"""ResNet (He, Zhang, Ren and Sun, 2015), as torchvision defines it (v1.5: a bottleneck block strides in its
3×3 convolution), with torchvision's state-dict keys: ResNet-18 11,689,512 parameters, ResNet-34 21,797,672,
ResNet-50 25,557,032, ResNet-101 44,549,160, ResNet-152 60,192,808 for 1000 classes.

Small inputs: ``small_input=True`` is the CIFAR-style stem — a 3×3 stride-1 convolution and no max-pool — so a
32×32 image keeps a 32×32 map into layer1 (4×4 at the end) instead of 8×8 (1×1 at the end); 28×28 works too.
Without it any input from 32×32 works, with a small final map.
"""

from __future__ import annotations

from minidl.models.base import ImageClassifier, check_classifier_args
from minidl.nn import init
from minidl.nn.containers import Sequential
from minidl.nn.layers.activation import ReLU
from minidl.nn.layers.conv import Conv2d
from minidl.nn.layers.linear import Identity, Linear
from minidl.nn.layers.normalization import BatchNorm2d
from minidl.nn.layers.pooling import AdaptiveAvgPool2d, MaxPool2d
from minidl.nn.module import Module
from minidl.tensor import Tensor


def conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> Conv2d:
    """3×3 convolution, padding 1, no bias (batch norm follows)."""
    return Conv2d(in_channels, out_channels, 3, stride, padding=1, bias=False)


def conv1x1(in_channels: int, out_channels: int, stride: int = 1) -> Conv2d:
    """1×1 convolution, no bias (batch norm follows)."""
    return Conv2d(in_channels, out_channels, 1, stride, bias=False)


class BasicBlock(Module):
    """Two 3×3 conv-BN layers and a shortcut: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))."""

    expansion = 1

    def __init__(self, in_channels: int, channels: int, stride: int = 1, downsample: Module | None = None):
        super().__init__()
        self.conv1 = conv3x3(in_channels, channels, stride)
        self.bn1 = BatchNorm2d(channels)
        self.relu = ReLU(inplace=True)
        self.conv2 = conv3x3(channels, channels)
        self.bn2 = BatchNorm2d(channels)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        """x: (N, in_channels, H, W) -> (N, channels, H/stride, W/stride)."""
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)


class Bottleneck(Module):
    """1×1 (reduce) -> 3×3 (stride) -> 1×1 (expand ×4), each with BN, plus a shortcut."""

    expansion = 4

    def __init__(self, in_channels: int, channels: int, stride: int = 1, downsample: Module | None = None):
        super().__init__()
        self.conv1 = conv1x1(in_channels, channels)
        self.bn1 = BatchNorm2d(channels)
        self.conv2 = conv3x3(channels, channels, stride)
        self.bn2 = BatchNorm2d(channels)
        self.conv3 = conv1x1(channels, channels * self.expansion)
        self.bn3 = BatchNorm2d(channels * self.expansion)
        self.relu = ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        """x: (N, in_channels, H, W) -> (N, 4 * channels, H/stride, W/stride)."""
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)


class ResNet(ImageClassifier):
    """ResNet: stem (conv1, bn1, relu, maxpool), layer1..layer4, avgpool, fc. Initialised as torchvision does:
    Kaiming-normal (fan_out) convolutions, BN weight 1 and bias 0; ``zero_init_residual`` zeroes the last BN
    weight of each block so every block starts as the identity."""

    classifier_path = "fc"

    def __init__(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        layers: list[int],
        num_classes: int = 1000,
        in_channels: int = 3,
        zero_init_residual: bool = False,
        small_input: bool = False,
    ):
        super().__init__()
        self.num_classes = num_classes
        self.in_planes = 64
        if small_input:
            self.conv1 = Conv2d(in_channels, 64, 3, 1, padding=1, bias=False)
            self.maxpool: Module = Identity()
        else:
            self.conv1 = Conv2d(in_channels, 64, 7, 2, padding=3, bias=False)
            self.maxpool = MaxPool2d(3, 2, padding=1)
        self.bn1 = BatchNorm2d(64)
        self.relu = ReLU(inplace=True)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2)
        self.avgpool = AdaptiveAvgPool2d(1)
        self.fc = Linear(512 * block.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, Conv2d):
                init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, BatchNorm2d):
                init.ones_(m.weight)
                init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, (BasicBlock, Bottleneck)):
                    init.zeros_(m.bn3.weight if isinstance(m, Bottleneck) else m.bn2.weight)

    def _make_layer(self, block: type, channels: int, blocks: int, stride: int = 1) -> Sequential:
        downsample = None
        if stride != 1 or self.in_planes != channels * block.expansion:
            downsample = Sequential(
                conv1x1(self.in_planes, channels * block.expansion, stride), BatchNorm2d(channels * block.expansion)
            )
        layers = [block(self.in_planes, channels, stride, downsample)]
        self.in_planes = channels * block.expansion
        layers += [block(self.in_planes, channels) for _ in range(1, blocks)]
        return Sequential(*layers)

    def forward_features(self, x: Tensor) -> Tensor:
        """x: (N, in_channels, H, W) -> (N, 512 * expansion, H/32, W/32) (H/8 with ``small_input``)."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward_head(self, features: Tensor) -> Tensor:
        """(N, C, h, w) -> logits (N, num_classes)."""
        return self.fc(self.avgpool(features).flatten(1))


def _resnet(name: str, block: type, layers: list[int], num_classes: int, in_channels: int, **kwargs) -> ResNet:
    check_classifier_args(name, num_classes, in_channels)
    return ResNet(block, layers, num_classes, in_channels, **kwargs)


def resnet18(num_classes: int = 1000, in_channels: int = 3, **kwargs) -> ResNet:
    """ResNet-18: basic blocks [2, 2, 2, 2] (``zero_init_residual``, ``small_input``: see ``ResNet``)."""
    return _resnet("resnet18", BasicBlock, [2, 2, 2, 2], num_classes, in_channels, **kwargs)


def resnet34(num_classes: int = 1000, in_channels: int = 3, **kwargs) -> ResNet:
    """ResNet-34: basic blocks [3, 4, 6, 3]."""
    return _resnet("resnet34", BasicBlock, [3, 4, 6, 3], num_classes, in_channels, **kwargs)


def resnet50(num_classes: int = 1000, in_channels: int = 3, **kwargs) -> ResNet:
    """ResNet-50: bottleneck blocks [3, 4, 6, 3]."""
    return _resnet("resnet50", Bottleneck, [3, 4, 6, 3], num_classes, in_channels, **kwargs)


def resnet101(num_classes: int = 1000, in_channels: int = 3, **kwargs) -> ResNet:
    """ResNet-101: bottleneck blocks [3, 4, 23, 3]."""
    return _resnet("resnet101", Bottleneck, [3, 4, 23, 3], num_classes, in_channels, **kwargs)


def resnet152(num_classes: int = 1000, in_channels: int = 3, **kwargs) -> ResNet:
    """ResNet-152: bottleneck blocks [3, 8, 36, 3]."""
    return _resnet("resnet152", Bottleneck, [3, 8, 36, 3], num_classes, in_channels, **kwargs)
