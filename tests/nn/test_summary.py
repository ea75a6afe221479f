"""Module.summary: rows, output shapes, parameter counts (trainable, frozen, buffers excluded, shared once) and
multiply-accumulates, checked by hand on LeNet-5 and against the published figures of MobileNet v1 and
ResNet-18; the model's modes and state come back untouched."""

import numpy as np
import pytest

import minidl
import minidl.nn as nn


def lenet():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2),
        nn.Sigmoid(),
        nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5),
        nn.Sigmoid(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120),
        nn.Sigmoid(),
        nn.Linear(120, 84),
        nn.Sigmoid(),
        nn.Linear(84, 10),
    )


# By hand: conv1 6*28*28 outputs of 1*5*5 MACs; conv2 16*10*10 outputs of 6*5*5; linears in * out.
LENET_ROWS = [
    ("0", "Conv2d", (1, 6, 28, 28), 6 * 25 + 6, 6 * 28 * 28 * 25),
    ("1", "Sigmoid", (1, 6, 28, 28), 0, 0),
    ("2", "AvgPool2d", (1, 6, 14, 14), 0, 0),
    ("3", "Conv2d", (1, 16, 10, 10), 16 * 6 * 25 + 16, 16 * 10 * 10 * 6 * 25),
    ("4", "Sigmoid", (1, 16, 10, 10), 0, 0),
    ("5", "AvgPool2d", (1, 16, 5, 5), 0, 0),
    ("6", "Flatten", (1, 400), 0, 0),
    ("7", "Linear", (1, 120), 400 * 120 + 120, 400 * 120),
    ("8", "Sigmoid", (1, 120), 0, 0),
    ("9", "Linear", (1, 84), 120 * 84 + 84, 120 * 84),
    ("10", "Sigmoid", (1, 84), 0, 0),
    ("11", "Linear", (1, 10), 84 * 10 + 10, 84 * 10),
]


def test_lenet_by_hand(capsys):
    s = lenet().summary((1, 28, 28))
    rows = [(r.name, r.type, r.output_shape, r.params, r.macs) for r in s.layers]
    assert rows == LENET_ROWS
    assert s.total_params == s.trainable_params == 61_706 and s.non_trainable_params == 0
    assert s.total_macs == 117_600 + 240_000 + 48_000 + 10_080 + 840 == 416_520
    printed = capsys.readouterr().out
    assert printed.strip() == str(s).strip()
    for text in ("0 (Conv2d)", "(1, 6, 28, 28)", "48,120", "Total params: 61,706", "Trainable params: 61,706",
                 "Non-trainable params: 0", "Total MACs: 416,520"):  # fmt: skip
        assert text in printed
    assert "61,706 params" in repr(s)


def test_macs_are_per_sample_and_shapes_carry_the_batch():
    s = lenet().summary((1, 28, 28), batch_size=4, print_fn=None)
    assert s.total_macs == 416_520
    assert s.layers[0].output_shape == (4, 6, 28, 28)


def test_batchnorm_buffers_are_not_parameters_and_frozen_ones_are_non_trainable():
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 36, 5)
    )
    model[0].requires_grad_(False)
    s = model.summary((3, 8, 8), print_fn=None)
    conv, bn = s.layers[0], s.layers[1]
    assert (conv.params, conv.trainable_params, conv.non_trainable_params) == (216, 0, 216)
    assert (bn.params, bn.trainable_params, bn.non_trainable_params) == (16, 16, 0)  # running stats not counted
    assert s.total_params == 216 + 16 + 8 * 36 * 5 + 5
    assert s.non_trainable_params == 216 and s.trainable_params == s.total_params - 216
    assert "Non-trainable" in str(s)  # the column appears when something is frozen


def test_grouped_conv_macs():
    model = nn.Sequential(
        nn.Conv2d(16, 16, 3, padding=1, groups=16, bias=False),  # depthwise: 16 * 8 * 8 * 1 * 9
        nn.Conv2d(16, 32, 1),  # pointwise: 32 * 8 * 8 * 16
        nn.Conv2d(32, 8, (3, 1), stride=2, groups=4),  # 8 * 3 * 4 * (32 / 4) * 3
    )
    s = model.summary((16, 8, 8), print_fn=None)
    assert [r.macs for r in s.layers] == [16 * 64 * 9, 32 * 64 * 16, 8 * 3 * 4 * 8 * 3]
    assert s.layers[2].output_shape == (1, 8, 3, 4)


def test_linear_macs_count_every_position():
    s = nn.Linear(5, 3).summary((7, 5), print_fn=None)  # 7 rows of 5 -> 3 per sample
    assert s.layers[0].name == "" and s.layers[0].label == "Linear"
    assert s.total_macs == 7 * 5 * 3


def test_summary_restores_modes_and_leaves_the_state_alone():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Dropout(), nn.Flatten(), nn.Linear(4 * 4 * 4, 2))
    model.train()
    model[2].eval()  # a sub-module in its own mode stays so
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    model.summary((3, 6, 6), batch_size=2, print_fn=None)
    assert model.training and model[1].training and not model[2].training
    for key, value in model.state_dict().items():
        assert np.array_equal(value.numpy(), before[key]), key
    assert all(p.grad is None for p in model.parameters())
    assert not model._forward_hooks and not model[0]._forward_hooks


def test_summary_restores_modes_when_forward_fails():
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(5, 2))
    with pytest.raises(ValueError):
        model.summary((3,), print_fn=None)
    assert model.training and model[0].training and not model[0]._forward_hooks


def test_custom_module_rows_shared_layers_and_uncalled_ones():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(minidl.ones(1))
            self.fc = nn.Linear(4, 4)
            self.act = nn.ReLU()
            self.unused = nn.Linear(4, 2)

        def forward(self, x):
            return self.act(self.fc(self.act(self.fc(x)))) * self.scale

    s = Net().summary((4,), print_fn=None)
    assert [(r.label, r.output_shape) for r in s.layers] == [
        ("Net", (1, 4)),  # owns a parameter directly
        ("fc (Linear)", (1, 4)),
        ("act (ReLU)", (1, 4)),
        ("unused (Linear)", None),
    ]
    assert [r.params for r in s.layers] == [1, 20, 0, 10]
    assert s.layers[1].macs == 2 * 16  # called twice
    assert s.total_params == 31 and s.total_macs == 32
    assert "(not called)" in str(s)


def test_several_inputs_and_output_tuples():
    class Pair(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(3, 2), nn.Linear(5, 2)

        def forward(self, x, y):
            return self.a(x), self.b(y)

    s = Pair().summary([(3,), (5,)], print_fn=None)
    assert s.total_macs == 6 + 10 and s.input_shapes == [(3,), (5,)]


def test_bad_input_shape_and_batch_size():
    with pytest.raises(TypeError, match="without the batch dimension"):
        lenet().summary("1x28x28")
    with pytest.raises(ValueError, match="batch_size"):
        lenet().summary((1, 28, 28), batch_size=0)


def test_float64_models_run_in_float64():
    s = lenet().double().summary((1, 28, 28), print_fn=None)
    assert s.total_params == 61_706


# --------------------------------------------------------------------------------- published figures


def conv_bn(i, o, stride):
    return nn.Sequential(nn.Conv2d(i, o, 3, stride, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True))


def depthwise_separable(i, o, stride):
    return nn.Sequential(
        nn.Conv2d(i, i, 3, stride, 1, groups=i, bias=False),
        nn.BatchNorm2d(i),
        nn.ReLU(inplace=True),
        nn.Conv2d(i, o, 1, bias=False),
        nn.BatchNorm2d(o),
        nn.ReLU(inplace=True),
    )


def mobilenet_v1():
    widths = [(32, 64, 1), (64, 128, 2), (128, 128, 1), (128, 256, 2), (256, 256, 1), (256, 512, 2)]
    widths += [(512, 512, 1)] * 5 + [(512, 1024, 2), (1024, 1024, 1)]
    blocks = [depthwise_separable(*w) for w in widths]
    return nn.Sequential(conv_bn(3, 32, 2), *blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1024, 1000))


class BasicBlock(nn.Module):
    def __init__(self, i, o, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(i, o, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(o)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(o, o, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(o)
        self.downsample = None
        if stride != 1 or i != o:
            self.downsample = nn.Sequential(nn.Conv2d(i, o, 1, stride, bias=False), nn.BatchNorm2d(o))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))) + identity)


class ResNet18(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = nn.Sequential(BasicBlock(64, 64, 1), BasicBlock(64, 64, 1))
        self.layer2 = nn.Sequential(BasicBlock(64, 128, 2), BasicBlock(128, 128, 1))
        self.layer3 = nn.Sequential(BasicBlock(128, 256, 2), BasicBlock(256, 256, 1))
        self.layer4 = nn.Sequential(BasicBlock(256, 512, 2), BasicBlock(512, 512, 1))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, 1000)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


def test_mobilenet_v1_matches_the_published_figures():
    s = mobilenet_v1().summary((3, 224, 224), print_fn=None)
    assert round(s.total_macs / 1e6) == 569  # Howard et al. 2017, Table 1: 569 million mult-adds
    assert round(s.total_params / 1e5) == 42  # 4.2 million parameters
    assert s.layers[-1].output_shape == (1, 1000)


def test_resnet18_matches_the_published_figures():
    model = ResNet18()
    s = model.summary((3, 224, 224), print_fn=None)
    assert round(s.total_macs / 1e7) == 181  # 1.81 GMACs (He et al. 2016 Table 1: 1.8 GFLOPs, as mult-adds)
    assert s.total_params == 11_689_512  # torchvision's resnet18
    assert s.layers[0].label == "conv1 (Conv2d)" and s.layers[0].output_shape == (1, 64, 112, 112)
    assert [r.label for r in s.layers].count("layer2.0.downsample.0 (Conv2d)") == 1
