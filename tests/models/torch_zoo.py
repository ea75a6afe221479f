"""The zoo written again in plain ``torch.nn`` (no torchvision), with torchvision's module names, as the
reference the minidl models are compared with. Written from the papers and torchvision's published layouts;
any difference in structure or key names shows up as a failed ``load_state_dict`` or a wrong output."""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as TF
from torch import nn


class LeNet5(nn.Module):
    def __init__(self, num_classes=10, in_channels=1, variant="modern"):
        super().__init__()
        act, pool = (nn.Sigmoid, nn.AvgPool2d) if variant == "classic" else (nn.ReLU, nn.MaxPool2d)
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=2), act(), pool(2), nn.Conv2d(6, 16, 5), act(), pool(2)
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(400, 120), act(), nn.Linear(120, 84), act(), nn.Linear(84, num_classes)
        )

    def forward(self, x):
        return self.classifier(self.features(x))


class AlexNet(nn.Module):
    def __init__(self, num_classes=1000, in_channels=3, lrn=False, small=False):
        super().__init__()
        norm = [nn.LocalResponseNorm(5, 1e-4, 0.75, 2.0)] if lrn else []
        stem = nn.Conv2d(in_channels, 64, 3, 1, 1) if small else nn.Conv2d(in_channels, 64, 11, 4, 2)
        self.features = nn.Sequential(
            stem, nn.ReLU(), *norm, nn.MaxPool2d(3, 2),
            nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), *norm, nn.MaxPool2d(3, 2),
            nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(), nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
            nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2),
        )  # fmt: skip
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(), nn.Linear(9216, 4096), nn.ReLU(), nn.Dropout(), nn.Linear(4096, 4096), nn.ReLU(),
            nn.Linear(4096, num_classes),
        )  # fmt: skip

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


VGG_CONFIGS = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
}


class VGG(nn.Module):
    def __init__(self, config, batch_norm=False, num_classes=1000, in_channels=3):
        super().__init__()
        layers = []
        for v in VGG_CONFIGS[config]:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(in_channels, v, 3, padding=1)] + ([nn.BatchNorm2d(v)] if batch_norm else [])
                layers.append(nn.ReLU())
                in_channels = v
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(25088, 4096), nn.ReLU(), nn.Dropout(), nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(),
            nn.Linear(4096, num_classes),
        )  # fmt: skip

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def _nin_block(cin, cout, k, s, p):
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, s, p), nn.ReLU(), nn.Conv2d(cout, cout, 1), nn.ReLU(), nn.Conv2d(cout, cout, 1),
        nn.ReLU(),
    )  # fmt: skip


class NiN(nn.Module):
    def __init__(self, num_classes=1000, in_channels=3, small=False):
        super().__init__()
        stem = _nin_block(in_channels, 96, 3, 1, 1) if small else _nin_block(in_channels, 96, 11, 4, 0)
        self.features = nn.Sequential(
            stem, nn.MaxPool2d(3, 2), _nin_block(96, 256, 5, 1, 2), nn.MaxPool2d(3, 2),
            _nin_block(256, 384, 3, 1, 1), nn.MaxPool2d(3, 2), nn.Dropout(),
        )  # fmt: skip
        self.classifier = _nin_block(384, num_classes, 3, 1, 1)

    def forward(self, x):
        return torch.flatten(TF.adaptive_avg_pool2d(self.classifier(self.features(x)), 1), 1)


class BasicConv2d(nn.Module):
    def __init__(self, cin, cout, k, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        return TF.relu(self.bn(self.conv(x)))


class Inception(nn.Module):
    def __init__(self, cin, c1, c3r, c3, c5r, c5, pp):
        super().__init__()
        self.branch1 = BasicConv2d(cin, c1, 1)
        self.branch2 = nn.Sequential(BasicConv2d(cin, c3r, 1), BasicConv2d(c3r, c3, 3, padding=1))
        self.branch3 = nn.Sequential(BasicConv2d(cin, c5r, 1), BasicConv2d(c5r, c5, 3, padding=1))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, 1, 1, ceil_mode=True), BasicConv2d(cin, pp, 1))

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(nn.Module):
    def __init__(self, cin, num_classes):
        super().__init__()
        self.conv = BasicConv2d(cin, 128, 1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(0.7)

    def forward(self, x):
        x = torch.flatten(self.conv(TF.adaptive_avg_pool2d(x, (4, 4))), 1)
        return self.fc2(self.dropout(TF.relu(self.fc1(x))))


class GoogLeNet(nn.Module):
    def __init__(self, num_classes=1000, in_channels=3, aux_logits=False, small=False):
        super().__init__()
        if small:
            self.conv1, self.maxpool1 = BasicConv2d(in_channels, 64, 3, padding=1), nn.Identity()
        else:
            self.conv1 = BasicConv2d(in_channels, 64, 7, stride=2, padding=3)
            self.maxpool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, 1)
        self.conv3 = BasicConv2d(64, 192, 3, padding=1)
        self.maxpool2 = nn.Identity() if small else nn.MaxPool2d(3, 2, ceil_mode=True)
        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128)
        self.aux_logits = aux_logits
        self.aux1 = InceptionAux(512, num_classes) if aux_logits else None
        self.aux2 = InceptionAux(528, num_classes) if aux_logits else None
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(1024, num_classes)

    def forward(self, x):
        x = self.maxpool2(self.conv3(self.conv2(self.maxpool1(self.conv1(x)))))
        x = self.inception4a(self.maxpool3(self.inception3b(self.inception3a(x))))
        aux1 = self.aux1(x) if self.training and self.aux_logits else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if self.training and self.aux_logits else None
        x = self.inception5b(self.inception5a(self.maxpool4(self.inception4e(x))))
        logits = self.fc(self.dropout(torch.flatten(TF.adaptive_avg_pool2d(x, 1), 1)))
        return (logits, aux2, aux1) if self.training and self.aux_logits else logits


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, cin, c, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, c, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        self.downsample = downsample

    def forward(self, x):
        out = self.bn2(self.conv2(TF.relu(self.bn1(self.conv1(x)))))
        return TF.relu(out + (x if self.downsample is None else self.downsample(x)))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin, c, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, c, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        self.conv3 = nn.Conv2d(c, 4 * c, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(4 * c)
        self.downsample = downsample

    def forward(self, x):
        out = TF.relu(self.bn2(self.conv2(TF.relu(self.bn1(self.conv1(x))))))
        out = self.bn3(self.conv3(out))
        return TF.relu(out + (x if self.downsample is None else self.downsample(x)))


class ResNet(nn.Module):
    def __init__(self, block, layers, num_classes=1000, in_channels=3, small=False):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 64, 3, 1, 1, bias=False) if small else nn.Conv2d(in_channels, 64, 7, 2, 3,
                                                                                             bias=False)  # fmt: skip
        self.bn1 = nn.BatchNorm2d(64)
        self.maxpool = nn.Identity() if small else nn.MaxPool2d(3, 2, 1)
        self.cin = 64
        for i, (c, n) in enumerate(zip((64, 128, 256, 512), layers)):
            stride = 1 if i == 0 else 2
            down = None
            if stride != 1 or self.cin != c * block.expansion:
                down = nn.Sequential(
                    nn.Conv2d(self.cin, c * block.expansion, 1, stride, bias=False), nn.BatchNorm2d(c * block.expansion)
                )
            blocks = [block(self.cin, c, stride, down)]
            self.cin = c * block.expansion
            blocks += [block(self.cin, c) for _ in range(1, n)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

    def forward(self, x):
        x = self.maxpool(TF.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(TF.adaptive_avg_pool2d(x, 1), 1))


class DenseLayer(nn.Module):
    def __init__(self, cin, growth, bn_size):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(cin)
        self.relu1 = nn.ReLU()
        self.conv1 = nn.Conv2d(cin, bn_size * growth, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth)
        self.relu2 = nn.ReLU()
        self.conv2 = nn.Conv2d(bn_size * growth, growth, 3, padding=1, bias=False)

    def forward(self, features):
        x = self.conv1(self.relu1(self.norm1(torch.cat(features, 1))))
        return self.conv2(self.relu2(self.norm2(x)))


class DenseBlock(nn.ModuleDict):
    def __init__(self, n, cin, growth, bn_size):
        super().__init__()
        for i in range(n):
            self.add_module(f"denselayer{i + 1}", DenseLayer(cin + i * growth, growth, bn_size))

    def forward(self, x):
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)


class DenseNet(nn.Module):
    def __init__(self, growth, blocks, init_features, num_classes=1000, in_channels=3, small=False):
        super().__init__()
        conv0 = nn.Conv2d(in_channels, init_features, 3, 1, 1, bias=False) if small else nn.Conv2d(
            in_channels, init_features, 7, 2, 3, bias=False)  # fmt: skip
        pool0 = nn.Identity() if small else nn.MaxPool2d(3, 2, 1)
        self.features = nn.Sequential(
            OrderedDict(conv0=conv0, norm0=nn.BatchNorm2d(init_features), relu0=nn.ReLU(), pool0=pool0)
        )
        c = init_features
        for i, n in enumerate(blocks):
            self.features.add_module(f"denseblock{i + 1}", DenseBlock(n, c, growth, 4))
            c += n * growth
            if i != len(blocks) - 1:
                transition = nn.Sequential(
                    OrderedDict(norm=nn.BatchNorm2d(c), relu=nn.ReLU(), conv=nn.Conv2d(c, c // 2, 1, bias=False),
                                pool=nn.AvgPool2d(2, 2))
                )  # fmt: skip
                self.features.add_module(f"transition{i + 1}", transition)
                c //= 2
        self.features.add_module("norm5", nn.BatchNorm2d(c))
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x):
        x = TF.adaptive_avg_pool2d(TF.relu(self.features(x)), 1)
        return self.classifier(torch.flatten(x, 1))


def _conv_bn(cin, cout, k, stride=1, groups=1, act=nn.ReLU):
    layers = [nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers, *([act()] if act else []))


class MobileNetV1(nn.Module):
    BLOCKS = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2)) + ((512, 1),) * 5 + ((1024, 2), (1024, 1))

    def __init__(self, num_classes=1000, in_channels=3, alpha=1.0, small=False):
        super().__init__()
        w = int(32 * alpha)
        layers = [_conv_bn(in_channels, w, 3, 1 if small else 2)]
        for c, s in self.BLOCKS:
            layers.append(nn.Sequential(_conv_bn(w, w, 3, s, groups=w), _conv_bn(w, int(c * alpha), 1)))
            w = int(c * alpha)
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(w, num_classes)

    def forward(self, x):
        return self.classifier(torch.flatten(TF.adaptive_avg_pool2d(self.features(x), 1), 1))


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, t):
        super().__init__()
        hidden = cin * t
        self.use_res = stride == 1 and cin == cout
        layers = [_conv_bn(cin, hidden, 1, act=nn.ReLU6)] if t != 1 else []
        layers += [_conv_bn(hidden, hidden, 3, stride, hidden, nn.ReLU6), nn.Conv2d(hidden, cout, 1, bias=False),
                   nn.BatchNorm2d(cout)]  # fmt: skip
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res else self.conv(x)


class MobileNetV2(nn.Module):
    STAGES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
              (6, 320, 1, 1))  # fmt: skip

    def __init__(self, num_classes=1000, in_channels=3, small=False):
        super().__init__()
        layers, w = [_conv_bn(in_channels, 32, 3, 1 if small else 2, act=nn.ReLU6)], 32
        for t, c, n, s in self.STAGES:
            for i in range(n):
                layers.append(InvertedResidual(w, c, s if i == 0 else 1, t))
                w = c
        layers.append(_conv_bn(w, 1280, 1, act=nn.ReLU6))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))

    def forward(self, x):
        return self.classifier(torch.flatten(TF.adaptive_avg_pool2d(self.features(x), 1), 1))
