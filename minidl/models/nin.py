"""Network in Network (Lin, Chen and Yan, 2013), in the AlexNet-sized form the course uses: four NiN blocks
(a k×k convolution followed by two 1×1 convolutions, each with ReLU) separated by 3×3 stride-2 max-pools; the last
block outputs one channel per class and global average pooling turns them into logits, so there is no fully
connected layer at all.

Small inputs: the 11×11 stride-4 stem needs at least 67×67 pixels (resize to 224×224 as the course does);
``small_input=True`` uses a 3×3 stride-1 stem instead, which takes 28×28 and 32×32 as they are.
"""

from __future__ import annotations

from minidl.models.base import ImageClassifier, check_classifier_args
from minidl.nn.containers import Sequential
from minidl.nn.layers.activation import ReLU
from minidl.nn.layers.conv import Conv2d
from minidl.nn.layers.dropout import Dropout
from minidl.nn.layers.pooling import AdaptiveAvgPool2d, MaxPool2d
from minidl.nn.module import Module
from minidl.tensor import Tensor


def nin_block(in_channels: int, out_channels: int, kernel_size: int, stride: int, padding: int) -> Sequential:
    """conv k×k -> ReLU -> conv 1×1 -> ReLU -> conv 1×1 -> ReLU (the 1×1 convolutions are a per-pixel MLP)."""
    return Sequential(
        Conv2d(in_channels, out_channels, kernel_size, stride, padding), ReLU(inplace=True),
        Conv2d(out_channels, out_channels, 1), ReLU(inplace=True),
        Conv2d(out_channels, out_channels, 1), ReLU(inplace=True),
    )  # fmt: skip


class NiN(ImageClassifier):
    """NiN: ``features`` (three NiN blocks with max-pools, then dropout), ``classifier`` (the last NiN block,
    num_classes channels), global average pooling."""

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5, small_input: bool = False):
        super().__init__()
        check_classifier_args("NiN", num_classes, in_channels)
        self.num_classes = num_classes
        stem = nin_block(in_channels, 96, 3, 1, 1) if small_input else nin_block(in_channels, 96, 11, 4, 0)
        self.features = Sequential(
            stem, MaxPool2d(3, 2),
            nin_block(96, 256, 5, 1, 2), MaxPool2d(3, 2),
            nin_block(256, 384, 3, 1, 1), MaxPool2d(3, 2),
            Dropout(dropout),
        )  # fmt: skip
        self.classifier = nin_block(384, num_classes, 3, 1, 1)
        self.avgpool = AdaptiveAvgPool2d(1)

    def forward_features(self, x: Tensor) -> Tensor:
        """x: (N, in_channels, H, W) -> (N, 384, h, w) (5×5 for 224×224 input)."""
        return self.features(x)

    def forward_head(self, features: Tensor) -> Tensor:
        """(N, 384, h, w) -> logits (N, num_classes): the class maps, averaged over space."""
        return self.avgpool(self.classifier(features)).flatten(1)

    def _new_classifier(self, old: Module, num_classes: int) -> Module:
        return nin_block(384, num_classes, 3, 1, 1)


def nin(num_classes: int = 1000, in_channels: int = 3, dropout: float = 0.5, small_input: bool = False) -> NiN:
    """Network in Network (see ``NiN``)."""
    return NiN(num_classes, in_channels, dropout, small_input)
