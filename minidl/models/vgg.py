"""VGG (Simonyan and Zisserman, 2014): configurations A (11 layers), B (13), D (16) and E (19), with or
without batch norm, as torchvision defines them (state-dict keys included): VGG-11 132,863,336 parameters,
VGG-16 138,357,544, VGG-19 143,667,240 for 1000 classes.

Small inputs: five 2×2 max-pools need at least 32×32 pixels; CIFAR's 32×32 images go straight in (the feature
map is 1×1 and the adaptive pool repeats it to 7×7, so the classifier and its weights are unchanged); pad or
resize MNIST's 28×28 to 32×32 (``minidl.data.transforms.resize``). ``minidl.nn.utils.fc_to_conv`` turns the
classifier into convolutions (the 1×1-convolution view of FC layers).
"""

from __future__ import annotations

from minidl.models.base import ImageClassifier, check_classifier_args, init_fan_out
from minidl.nn.containers import Sequential
from minidl.nn.layers.activation import ReLU
from minidl.nn.layers.conv import Conv2d
from minidl.nn.layers.dropout import Dropout
from minidl.nn.layers.linear import Linear
from minidl.nn.layers.normalization import BatchNorm2d
from minidl.nn.layers.pooling import AdaptiveAvgPool2d, MaxPool2d
from minidl.nn.module import Module
from minidl.tensor import Tensor

# Output channels of each 3×3 convolution; "M" is a 2×2 max-pool.
CONFIGS: dict[str, list] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


def make_features(config: list, in_channels: int, batch_norm: bool) -> Sequential:
    """The convolutional part of a VGG configuration: conv 3×3 (pad 1) [+ BN] + ReLU per number, max-pool per "M"."""
    layers: list[Module] = []
    for item in config:
        if item == "M":
            layers.append(MaxPool2d(2, 2))
            continue
        layers.append(Conv2d(in_channels, item, 3, padding=1))
        if batch_norm:
            layers.append(BatchNorm2d(item))
        layers.append(ReLU(inplace=True))
        in_channels = item
    return Sequential(*layers)


class VGG(ImageClassifier):
    """VGG: ``features`` (from ``make_features``), ``avgpool`` (adaptive, 7×7), ``classifier`` (FC 4096, ReLU,
    dropout, FC 4096, ReLU, dropout, FC num_classes = ``classifier.6``). Initialised as torchvision does
    (``init_fan_out``)."""

    classifier_path = "classifier.6"

    def __init__(self, features: Sequential, num_classes: int = 1000, dropout: float = 0.5):
        super().__init__()
        self.num_classes = num_classes
        self.features = features
        self.avgpool = AdaptiveAvgPool2d((7, 7))
        self.classifier = Sequential(
            Linear(512 * 7 * 7, 4096), ReLU(inplace=True), Dropout(dropout),
            Linear(4096, 4096), ReLU(inplace=True), Dropout(dropout),
            Linear(4096, num_classes),
        )  # fmt: skip
        init_fan_out(self)

    def forward_features(self, x: Tensor) -> Tensor:
        """x: (N, in_channels, H, W) -> (N, 512, H/32, W/32)."""
        return self.features(x)

    def forward_head(self, features: Tensor) -> Tensor:
        """(N, 512, h, w) -> logits (N, num_classes)."""
        return self.classifier(self.avgpool(features).flatten(1))


def _vgg(name: str, config: str, batch_norm: bool, num_classes: int, in_channels: int, dropout: float) -> VGG:
    check_classifier_args(name, num_classes, in_channels)
    return VGG(make_features(CONFIGS[config], in_channels, batch_norm), num_classes, dropout)


def vgg11(num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> VGG:
    """VGG-11 (configuration A)."""
    return _vgg("vgg11", "A", False, num_classes, in_channels, dropout)


def vgg11_bn(num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> VGG:
    """VGG-11 with batch norm after every convolution."""
    return _vgg("vgg11_bn", "A", True, num_classes, in_channels, dropout)


def vgg13(num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> VGG:
    """VGG-13 (configuration B)."""
    return _vgg("vgg13", "B", False, num_classes, in_channels, dropout)


def vgg13_bn(num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> VGG:
    """VGG-13 with batch norm after every convolution."""
    return _vgg("vgg13_bn", "B", True, num_classes, in_channels, dropout)


def vgg16(num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> VGG:
    """VGG-16 (configuration D)."""
    return _vgg("vgg16", "D", False, num_classes, in_channels, dropout)


def vgg16_bn(num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> VGG:
    """VGG-16 with batch norm after every convolution."""
    return _vgg("vgg16_bn", "D", True, num_classes, in_channels, dropout)


def vgg19(num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> VGG:
    """VGG-19 (configuration E)."""
    return _vgg("vgg19", "E", False, num_classes, in_channels, dropout)


def vgg19_bn(num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5) -> VGG:
    """VGG-19 with batch norm after every convolution."""
    return _vgg("vgg19_bn", "E", True, num_classes, in_channels, dropout)
