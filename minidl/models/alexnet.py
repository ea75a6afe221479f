"""AlexNet (Krizhevsky, Sutskever and Hinton, 2012), as torchvision defines it (the single-GPU form of the
paper, with 64-192-384-256-256 channels): 61,100,840 parameters for 1000 classes, and torchvision's state-dict
keys, so its checkpoints load unchanged.

``local_response_norm=True`` adds the paper's LRN (size 5, alpha 1e-4, beta 0.75, k 2) after the first two
ReLUs; that shifts the indices in ``features``, so torchvision checkpoints no longer load into that form.

Small inputs: the 11×11 stride-4 stem needs at least 63×63 pixels; resize MNIST/CIFAR images to 64×64 or more
(``minidl.data.transforms.resize``), or pass ``small_input=True`` for a 3×3 stride-1 stem that takes 28×28 and
32×32 as they are (same parameter count but for the stem's kernel). The adaptive 6×6 average pool lets any
larger input through, so the classifier keeps its 9216 inputs.
"""

from __future__ import annotations

from minidl.models.base import ImageClassifier, check_classifier_args
from minidl.nn.containers import Sequential
from minidl.nn.layers.activation import ReLU
from minidl.nn.layers.conv import Conv2d
from minidl.nn.layers.dropout import Dropout
from minidl.nn.layers.linear import Linear
from minidl.nn.layers.normalization import LocalResponseNorm
from minidl.nn.layers.pooling import AdaptiveAvgPool2d, MaxPool2d
from minidl.tensor import Tensor


class AlexNet(ImageClassifier):
    """AlexNet; ``features`` (convolutions), ``avgpool`` (adaptive, 6×6), ``classifier`` (dropout-FC-ReLU twice,
    then the final FC, ``classifier.6``)."""

    classifier_path = "classifier.6"

    def __init__(
        self,
        num_classes: int = 1000,
        in_channels: int = 3,
        dropout: float = 0.5,
        local_response_norm: bool = False,
        small_input: bool = False,
    ):
        super().__init__()
        check_classifier_args("AlexNet", num_classes, in_channels)
        self.num_classes = num_classes
        stem = Conv2d(in_channels, 64, 3, 1, 1) if small_input else Conv2d(in_channels, 64, 11, 4, 2)

        def lrn() -> list:
            return [LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0)] if local_response_norm else []

        self.features = Sequential(
            stem, ReLU(inplace=True), *lrn(), MaxPool2d(3, 2),
            Conv2d(64, 192, 5, padding=2), ReLU(inplace=True), *lrn(), MaxPool2d(3, 2),
            Conv2d(192, 384, 3, padding=1), ReLU(inplace=True),
            Conv2d(384, 256, 3, padding=1), ReLU(inplace=True),
            Conv2d(256, 256, 3, padding=1), ReLU(inplace=True), MaxPool2d(3, 2),
        )  # fmt: skip
        self.avgpool = AdaptiveAvgPool2d((6, 6))
        self.classifier = Sequential(
            Dropout(dropout), Linear(256 * 6 * 6, 4096), ReLU(inplace=True),
            Dropout(dropout), Linear(4096, 4096), ReLU(inplace=True),
            Linear(4096, num_classes),
        )  # fmt: skip

    def forward_features(self, x: Tensor) -> Tensor:
        """x: (N, in_channels, H, W) -> (N, 256, h, w) (6×6 for 224×224 input)."""
        return self.features(x)

    def forward_head(self, features: Tensor) -> Tensor:
        """(N, 256, h, w) -> logits (N, num_classes)."""
        return self.classifier(self.avgpool(features).flatten(1))


def alexnet(num_classes: int = 1000, in_channels: int = 3, **kwargs) -> AlexNet:
    """AlexNet (see ``AlexNet`` for ``dropout``, ``local_response_norm`` and ``small_input``)."""
    return AlexNet(num_classes, in_channels, **kwargs)
