"""What every model of the zoo shares: the split into a feature extractor and a classifier head, and the
fine-tuning conveniences built on it."""

from __future__ import annotations

from collections.abc import Iterator

from minidl.nn import init
from minidl.nn.layers.conv import Conv2d
from minidl.nn.layers.linear import Linear
from minidl.nn.layers.normalization import BatchNorm2d
from minidl.nn.module import Module
from minidl.nn.parameter import Parameter
from minidl.tensor import Tensor


class ImageClassifier(Module):
    """An image classifier: ``forward(x) = forward_head(forward_features(x))``.

    - ``forward_features(x)``: x (N, C, H, W) -> the last feature map (N, C', H', W'), before global pooling and
      the classifier; use it to plug the network into another task as a backbone.
    - ``forward_head(features)``: the feature map -> logits (N, num_classes).
    - ``classifier_path``: the dotted name of the final layer that maps features to classes ("fc" for ResNet,
      "classifier.6" for VGG...); ``get_classifier()`` returns it, ``reset_classifier(n)`` replaces it by a
      freshly initialised layer for ``n`` classes (fine-tuning on a new label set).
    - ``head_parameters()`` / ``backbone_parameters()``: the parameters of the classifier and of everything
      else, for optimizer parameter groups with a lower learning rate on the backbone.
    """

    classifier_path: str = "classifier"

    def forward_features(self, x: Tensor) -> Tensor:
        """x: (N, C, H, W) -> the feature map before the classifier."""
        raise NotImplementedError(f"{type(self).__name__} must define forward_features")

    def forward_head(self, features: Tensor) -> Tensor:
        """The feature map -> logits (N, num_classes)."""
        raise NotImplementedError(f"{type(self).__name__} must define forward_head")

    def forward(self, x: Tensor) -> Tensor:
        """x: (N, C, H, W) -> logits (N, num_classes)."""
        return self.forward_head(self.forward_features(x))

    def get_classifier(self) -> Module:
        """The layer that maps features to class scores."""
        return self.get_submodule(self.classifier_path)

    def reset_classifier(self, num_classes: int) -> Module:
        """Replace the classifier by a new, freshly initialised one for ``num_classes`` classes; returns it."""
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"reset_classifier: num_classes must be a positive integer, got {num_classes!r}")
        new = self._new_classifier(self.get_classifier(), num_classes)
        self.set_submodule(self.classifier_path, new)
        self.num_classes = num_classes
        return new

    def _new_classifier(self, old: Module, num_classes: int) -> Module:
        if not isinstance(old, Linear):
            raise TypeError(f"{type(self).__name__}.reset_classifier: expected a Linear classifier at "
                            f"{self.classifier_path!r}, found {type(old).__name__}")  # fmt: skip
        return Linear(old.in_features, num_classes, bias=old.bias is not None)

    def head_parameters(self) -> Iterator[Parameter]:
        """The parameters of the classifier (``get_classifier()``)."""
        return self.get_classifier().parameters()

    def backbone_parameters(self) -> Iterator[Parameter]:
        """Every parameter outside the classifier."""
        head = {id(p) for p in self.head_parameters()}
        return (p for p in self.parameters() if id(p) not in head)


def check_classifier_args(name: str, num_classes: int, in_channels: int) -> None:
    """Clear errors for the two arguments every constructor takes."""
    for arg, value in (("num_classes", num_classes), ("in_channels", in_channels)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}: {arg} must be a positive integer, got {value!r}")


def init_fan_out(model: Module) -> None:
    """torchvision's initialisation of VGG and MobileNet: Kaiming-normal convolutions (fan_out, ReLU gain), batch
    norm weight 1 and bias 0, N(0, 0.01) linear weights, zero biases."""
    for m in model.modules():
        if isinstance(m, Conv2d):
            init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                init.zeros_(m.bias)
        elif isinstance(m, BatchNorm2d):
            init.ones_(m.weight)
            init.zeros_(m.bias)
        elif isinstance(m, Linear):
            init.normal_(m.weight, 0.0, 0.01)
            init.zeros_(m.bias)
