"""Model surgery helpers.

``fuse_conv_bn``, ``fuse_activation``, ``optimize_for_inference`` and ``FusedConv2d``: fused inference (see
``minidl.nn.fusion``).

``fc_to_conv``: the course's "1×1 convolution view" of fully connected layers (NiN, FCN). A Linear layer that
reads a flattened C×h×w feature map is the same function as a C -> out convolution with an h×w kernel, and a
Linear layer on a vector is a 1×1 convolution; with the weights reshaped, the network computes the same scores
on its training size and, being fully convolutional, slides over larger images to give a map of scores.
"""

from __future__ import annotations

import copy

from minidl.autograd import no_grad
from minidl.nn.containers import Sequential
from minidl.nn.fusion import FusedConv2d, fuse_activation, fuse_conv_bn, optimize_for_inference
from minidl.nn.layers.conv import Conv2d
from minidl.nn.layers.linear import Linear
from minidl.nn.layers.pooling import AdaptiveAvgPool2d
from minidl.nn.module import Module
from minidl.tensor import Tensor
from minidl.text import plural


def linear_to_conv(linear: Linear, in_channels: int, kernel_size: tuple[int, int]) -> Conv2d:
    """A Conv2d computing ``linear`` on (N, in_channels, kh, kw) maps flattened in C-H-W order:
    weight (out, C*kh*kw) -> (out, C, kh, kw); the bias is kept."""
    kh, kw = kernel_size
    if linear.in_features != in_channels * kh * kw:
        raise ValueError(
            f"linear_to_conv: the Linear layer takes {plural(linear.in_features, 'feature')}, but "
            f"{plural(in_channels, 'channel')} of {kh}×{kw} make {in_channels * kh * kw}"
        )
    conv = Conv2d(in_channels, linear.out_features, (kh, kw), bias=linear.bias is not None)
    with no_grad():
        conv.weight.copy_(linear.weight.reshape(linear.out_features, in_channels, kh, kw))
        if linear.bias is not None:
            conv.bias.copy_(linear.bias)
    return conv


class FullyConvolutional(Module):
    """``features`` followed by ``classifier`` made of convolutions: (N, C, H, W) -> class-score maps
    (N, num_classes, H', W'); H' = W' = 1 at the size the original network was built for."""

    def __init__(self, features: Module, classifier: Sequential):
        super().__init__()
        self.features = features
        self.classifier = classifier

    def forward(self, x: Tensor) -> Tensor:
        """x: (N, C, H, W) -> (N, num_classes, H', W')."""
        return self.classifier(self.features(x))


def fc_to_conv(model: Module) -> FullyConvolutional:
    """A fully convolutional copy of a VGG- or AlexNet-style ``model`` (``features``, ``avgpool`` =
    AdaptiveAvgPool2d((h, w)), ``classifier`` = Sequential of Linear, ReLU and Dropout layers).

    The first Linear layer becomes an h×w convolution over the feature map, every later one a 1×1 convolution,
    with the same weights (copies: the original model is unchanged). At the input size where the features are
    already h×w (224×224 for VGG), ``fc_to_conv(m)(x).flatten(1)`` equals ``m(x)``; on larger inputs it returns
    a spatial map of class scores (the classifier slid over the image with the feature map's stride).
    """
    for name in ("features", "avgpool", "classifier"):
        if not isinstance(getattr(model, name, None), Module):
            raise TypeError(f"fc_to_conv: expected a model with `features`, `avgpool` and `classifier` "
                            f"(VGG, AlexNet); {type(model).__name__} has no `{name}` module")  # fmt: skip
    pool = model.avgpool
    if not isinstance(pool, AdaptiveAvgPool2d) or not isinstance(model.classifier, Sequential):
        raise TypeError(
            "fc_to_conv: `avgpool` must be an AdaptiveAvgPool2d of fixed size and `classifier` a Sequential"
        )
    size = pool.output_size if isinstance(pool.output_size, tuple) else (pool.output_size, pool.output_size)
    if None in size:
        raise ValueError(f"fc_to_conv: the adaptive pool's output size must be fixed, got {pool.output_size}")
    layers: list[Module] = []
    channels: int | None = None
    for layer in model.classifier:
        if isinstance(layer, Linear):
            if channels is None:  # the first Linear reads the flattened C×h×w map
                in_channels, rem = divmod(layer.in_features, size[0] * size[1])
                if rem:
                    raise ValueError(f"fc_to_conv: {layer.in_features} input features are not a whole number of "
                                     f"{size[0]}×{size[1]} channels")  # fmt: skip
                layers.append(linear_to_conv(layer, in_channels, size))
            else:
                layers.append(linear_to_conv(layer, channels, (1, 1)))
            channels = layer.out_features
        else:
            layers.append(copy.deepcopy(layer))
    return FullyConvolutional(copy.deepcopy(model.features), Sequential(*layers))


__all__ = [
    "FullyConvolutional", "FusedConv2d", "fc_to_conv", "fuse_activation", "fuse_conv_bn", "linear_to_conv",
    "optimize_for_inference",
]  # fmt: skip
