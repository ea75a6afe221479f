"""LeNet-5 (LeCun et al., 1998), the course's first CNN.

Two forms share one layout (conv 5×5 -> pool -> conv 5×5 -> pool -> 120 -> 84 -> classes):

- ``variant="classic"``: sigmoid activations and 2×2 average pooling, as in the paper (its C3 partial
  connection table and RBF output are replaced by a full convolution and a linear layer, as usual today);
- ``variant="modern"``: ReLU and 2×2 max pooling, which trains faster and better.

The paper feeds 32×32 images; MNIST's are 28×28, so conv1 pads by 2 there (``input_size=28``, the default) and
the 16×5×5 feature map, hence the 61,706 parameters, are the same for both sizes.
"""

from __future__ import annotations

from minidl.models.base import ImageClassifier, check_classifier_args
from minidl.nn.containers import Sequential
from minidl.nn.layers.activation import ReLU, Sigmoid
from minidl.nn.layers.conv import Conv2d
from minidl.nn.layers.flatten import Flatten
from minidl.nn.layers.linear import Linear
from minidl.nn.layers.pooling import AvgPool2d, MaxPool2d
from minidl.tensor import Tensor

VARIANTS = ("classic", "modern")


class LeNet5(ImageClassifier):
    """LeNet-5 for ``input_size``×``input_size`` images (any size from 28 up; conv1 pads 28 to 32).

    Layout (state-dict keys): ``features`` = conv(6, 5×5), act, pool, conv(16, 5×5), act, pool;
    ``classifier`` = flatten, linear(120), act, linear(84), act, linear(num_classes).
    """

    classifier_path = "classifier.5"

    def __init__(self, num_classes: int = 10, in_channels: int = 1, variant: str = "modern", input_size: int = 28):
        super().__init__()
        check_classifier_args("LeNet5", num_classes, in_channels)
        if variant not in VARIANTS:
            raise ValueError(f"LeNet5: variant must be one of {VARIANTS}, got {variant!r}")
        if isinstance(input_size, bool) or not isinstance(input_size, int) or input_size < 28:
            raise ValueError(f"LeNet5: input_size must be an integer >= 28, got {input_size!r}")
        self.num_classes, self.variant = num_classes, variant
        padding = 2 if input_size < 32 else 0
        side = ((input_size + 2 * padding - 4) // 2 - 4) // 2  # 5 for 28 (padded) and 32
        act = Sigmoid if variant == "classic" else ReLU
        pool = AvgPool2d if variant == "classic" else MaxPool2d
        self.features = Sequential(
            Conv2d(in_channels, 6, 5, padding=padding), act(), pool(2),
            Conv2d(6, 16, 5), act(), pool(2),
        )  # fmt: skip
        self.classifier = Sequential(
            Flatten(), Linear(16 * side * side, 120), act(), Linear(120, 84), act(), Linear(84, num_classes)
        )

    def forward_features(self, x: Tensor) -> Tensor:
        """x: (N, in_channels, H, W) -> (N, 16, 5, 5) for 28×28 or 32×32 input."""
        return self.features(x)

    def forward_head(self, features: Tensor) -> Tensor:
        """(N, 16, h, w) -> logits (N, num_classes)."""
        return self.classifier(features)


def lenet5(num_classes: int = 10, in_channels: int = 1, variant: str = "modern", input_size: int = 28) -> LeNet5:
    """LeNet-5 (see ``LeNet5``): ``variant`` "modern" (ReLU, max-pool) or "classic" (sigmoid, avg-pool)."""
    return LeNet5(num_classes, in_channels, variant, input_size)
