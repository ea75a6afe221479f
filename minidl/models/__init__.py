"""The classic CNNs of the course, exact to their papers and to the PyTorch (torchvision) definitions whose
pretrained weights people load: the same layers, parameter counts and state-dict keys.

Every constructor takes ``num_classes`` and ``in_channels``; most take ``small_input=True`` for a stem that suits
28×28 and 32×32 images (each module's docstring says how its family handles small inputs). Every model is an
``ImageClassifier``: ``forward_features`` (the feature map), ``forward_head``, ``get_classifier``,
``reset_classifier(n)``, ``head_parameters`` and ``backbone_parameters`` for fine-tuning.

``get_model("resnet18", num_classes=10)`` builds one by name; ``list_models()`` names them all.
"""

from __future__ import annotations

from typing import Any, Callable

from minidl.models.alexnet import AlexNet, alexnet
from minidl.models.base import ImageClassifier
from minidl.models.densenet import DenseNet, densenet121, densenet161, densenet169, densenet201
from minidl.models.googlenet import GoogLeNet, GoogLeNetOutputs, googlenet
from minidl.models.lenet import LeNet5, lenet5
from minidl.models.mobilenet import MobileNetV1, MobileNetV2, mobilenet_v1, mobilenet_v2
from minidl.models.nin import NiN, nin
from minidl.models.resnet import ResNet, resnet18, resnet34, resnet50, resnet101, resnet152
from minidl.models.vgg import VGG, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn

_CONSTRUCTORS: dict[str, Callable[..., ImageClassifier]] = {
    f.__name__: f
    for f in (
        lenet5, alexnet, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn, nin, googlenet,
        resnet18, resnet34, resnet50, resnet101, resnet152, densenet121, densenet161, densenet169, densenet201,
        mobilenet_v1, mobilenet_v2,
    )
}  # fmt: skip


def list_models() -> list[str]:
    """The names ``get_model`` accepts, in the course's order."""
    return list(_CONSTRUCTORS)


def get_model(name: str, **kwargs: Any) -> ImageClassifier:
    """The model called ``name`` (see ``list_models()``), built with ``kwargs`` (num_classes, in_channels...)."""
    if name not in _CONSTRUCTORS:
        raise ValueError(f"get_model: unknown model {name!r}; choose one of {', '.join(_CONSTRUCTORS)}")
    return _CONSTRUCTORS[name](**kwargs)


__all__ = [
    "VGG", "AlexNet", "DenseNet", "GoogLeNet", "GoogLeNetOutputs", "ImageClassifier", "LeNet5", "MobileNetV1",
    "MobileNetV2", "NiN", "ResNet", "alexnet", "densenet121", "densenet161", "densenet169", "densenet201",
    "get_model", "googlenet", "lenet5", "list_models", "mobilenet_v1", "mobilenet_v2", "nin", "resnet18",
    "resnet34", "resnet50", "resnet101", "resnet152", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16",
    "vgg16_bn", "vgg19", "vgg19_bn",
]  # fmt: skip
