"""GoogLeNet / Inception v1 (Szegedy et al., 2014), as torchvision defines it: every convolution is followed
by batch norm (eps 0.001) and ReLU, and, like torchvision (so its checkpoints load unchanged), the "5×5" branch of
each Inception block uses a 3×3 kernel. 6,624,904 parameters for 1000 classes without the auxiliary heads.

``aux_logits=True`` adds the two auxiliary classifiers (after inception4a and inception4d); in training mode
``forward`` then returns ``GoogLeNetOutputs(logits, aux_logits2, aux_logits1)``, in evaluation mode the logits.

Small inputs: the stride-2 stem and four stride-2 pools need at least 32×32 pixels; ``small_input=True``
makes the stem a 3×3 stride-1 convolution and drops the first two max-pools, so 28×28 and 32×32 keep a useful
feature map (7×7 or 8×8 before the last Inception blocks).
"""

from __future__ import annotations

from typing import NamedTuple

from minidl.models.base import ImageClassifier, check_classifier_args
from minidl.nn import init
from minidl.nn.containers import Sequential
from minidl.nn.layers.conv import Conv2d
from minidl.nn.layers.dropout import Dropout
from minidl.nn.layers.linear import Identity, Linear
from minidl.nn.layers.normalization import BatchNorm2d
from minidl.nn.layers.pooling import AdaptiveAvgPool2d, MaxPool2d
from minidl.nn.module import Module
from minidl.ops import activation, shape
from minidl.tensor import Tensor


class GoogLeNetOutputs(NamedTuple):
    """What GoogLeNet returns in training mode with auxiliary heads."""

    logits: Tensor
    aux_logits2: Tensor | None
    aux_logits1: Tensor | None


class BasicConv2d(Module):
    """conv (no bias) -> batch norm (eps 0.001) -> ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0):
        super().__init__()
        self.conv = Conv2d(in_channels, out_channels, kernel_size, stride, padding, bias=False)
        self.bn = BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: Tensor) -> Tensor:
        """x: (N, in_channels, H, W) -> (N, out_channels, H', W')."""
        return activation.relu(self.bn(self.conv(x)))


class Inception(Module):
    """Four parallel branches concatenated along channels: 1×1; 1×1 -> 3×3; 1×1 -> 3×3 (the paper's 5×5, as in
    torchvision); 3×3 max-pool -> 1×1. Output channels: ch1x1 + ch3x3 + ch5x5 + pool_proj."""

    def __init__(
        self, in_channels: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int, ch5x5: int, pool_proj: int
    ):
        super().__init__()
        self.branch1 = BasicConv2d(in_channels, ch1x1, 1)
        self.branch2 = Sequential(BasicConv2d(in_channels, ch3x3red, 1), BasicConv2d(ch3x3red, ch3x3, 3, padding=1))
        self.branch3 = Sequential(BasicConv2d(in_channels, ch5x5red, 1), BasicConv2d(ch5x5red, ch5x5, 3, padding=1))
        self.branch4 = Sequential(MaxPool2d(3, 1, 1, ceil_mode=True), BasicConv2d(in_channels, pool_proj, 1))

    def forward(self, x: Tensor) -> Tensor:
        """x: (N, in_channels, H, W) -> (N, sum of the branch widths, H, W)."""
        return shape.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(Module):
    """Auxiliary classifier: adaptive 4×4 average pool -> 1×1 conv (128) -> FC 1024 + ReLU -> dropout -> FC."""

    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.7):
        super().__init__()
        self.conv = BasicConv2d(in_channels, 128, 1)
        self.avgpool = AdaptiveAvgPool2d((4, 4))
        self.fc1 = Linear(2048, 1024)
        self.fc2 = Linear(1024, num_classes)
        self.dropout = Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        """x: (N, in_channels, H, W) -> logits (N, num_classes)."""
        x = self.conv(self.avgpool(x)).flatten(1)
        return self.fc2(self.dropout(activation.relu(self.fc1(x))))


class GoogLeNet(ImageClassifier):
    """GoogLeNet with torchvision's layout and names (conv1..3, maxpool1..4, inception3a..5b, aux1, aux2,
    avgpool, dropout, fc). Initialised as torchvision does: truncated N(0, 0.01) for convolutions and linear
    layers, BN weight 1 and bias 0."""

    classifier_path = "fc"

    def __init__(
        self,
        num_classes: int = 1000,
        in_channels: int = 3,
        aux_logits: bool = False,
        dropout: float = 0.2,
        dropout_aux: float = 0.7,
        small_input: bool = False,
    ):
        super().__init__()
        check_classifier_args("GoogLeNet", num_classes, in_channels)
        self.num_classes, self.aux_logits = num_classes, aux_logits
        if small_input:
            self.conv1 = BasicConv2d(in_channels, 64, 3, padding=1)
            self.maxpool1: Module = Identity()
        else:
            self.conv1 = BasicConv2d(in_channels, 64, 7, stride=2, padding=3)
            self.maxpool1 = MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, 1)
        self.conv3 = BasicConv2d(64, 192, 3, padding=1)
        self.maxpool2: Module = Identity() if small_input else MaxPool2d(3, 2, ceil_mode=True)
        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = MaxPool2d(3, 2, ceil_mode=True)
        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = MaxPool2d(2, 2, ceil_mode=True)
        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128)
        self.aux1 = InceptionAux(512, num_classes, dropout_aux) if aux_logits else None
        self.aux2 = InceptionAux(528, num_classes, dropout_aux) if aux_logits else None
        self.avgpool = AdaptiveAvgPool2d(1)
        self.dropout = Dropout(dropout)
        self.fc = Linear(1024, num_classes)
        for m in self.modules():
            if isinstance(m, (Conv2d, Linear)):
                init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
            elif isinstance(m, BatchNorm2d):
                init.ones_(m.weight)
                init.zeros_(m.bias)

    def _stem_to_4a(self, x: Tensor) -> Tensor:
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        return self.inception4a(x)

    def _4b_to_4d(self, x: Tensor) -> Tensor:
        return self.inception4d(self.inception4c(self.inception4b(x)))

    def _4e_to_5b(self, x: Tensor) -> Tensor:
        return self.inception5b(self.inception5a(self.maxpool4(self.inception4e(x))))

    def forward_features(self, x: Tensor) -> Tensor:
        """x: (N, in_channels, H, W) -> (N, 1024, H/32, W/32) (no auxiliary heads)."""
        return self._4e_to_5b(self._4b_to_4d(self._stem_to_4a(x)))

    def forward_head(self, features: Tensor) -> Tensor:
        """(N, 1024, h, w) -> logits (N, num_classes)."""
        return self.fc(self.dropout(self.avgpool(features).flatten(1)))

    def forward(self, x: Tensor) -> Tensor | GoogLeNetOutputs:
        """x: (N, in_channels, H, W) -> logits (N, num_classes); in training mode with ``aux_logits``, a
        ``GoogLeNetOutputs`` with the two auxiliary heads' logits as well."""
        if not (self.training and self.aux_logits):
            return self.forward_head(self.forward_features(x))
        x = self._stem_to_4a(x)
        aux1 = self.aux1(x)
        x = self._4b_to_4d(x)
        aux2 = self.aux2(x)
        return GoogLeNetOutputs(self.forward_head(self._4e_to_5b(x)), aux2, aux1)

    def reset_classifier(self, num_classes: int) -> Module:
        """Replace ``fc`` (and the auxiliary heads' last layers, if any) for ``num_classes`` classes."""
        new = super().reset_classifier(num_classes)
        for aux in (self.aux1, self.aux2):
            if aux is not None:
                aux.fc2 = Linear(aux.fc2.in_features, num_classes)
        return new


def googlenet(num_classes: int = 1000, in_channels: int = 3, aux_logits: bool = False, **kwargs) -> GoogLeNet:
    """GoogLeNet / Inception v1 (see ``GoogLeNet`` for ``dropout``, ``dropout_aux`` and ``small_input``)."""
    return GoogLeNet(num_classes, in_channels, aux_logits, **kwargs)
