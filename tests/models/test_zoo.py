"""The zoo's sizes (parameter counts and multiply-adds against the published figures), small-input forms,
the fine-tuning conveniences and the fully convolutional view of VGG."""

from __future__ import annotations

import numpy as np
import pytest

import minidl
from minidl import models, nn, optim
from minidl.nn.utils import fc_to_conv, linear_to_conv

# Parameters at the ImageNet configuration (1000 classes, 3 channels; LeNet-5: 10 classes, 1 channel).
PARAMETERS = {
    "lenet5": 61_706, "alexnet": 61_100_840, "vgg11": 132_863_336, "vgg16": 138_357_544, "vgg19": 143_667_240,
    "googlenet": 6_624_904, "resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032,
    "resnet152": 60_192_808, "densenet121": 7_978_856, "densenet201": 20_013_928, "mobilenet_v1": 4_231_976,
    "mobilenet_v2": 3_504_872,
    # Not in the list; torchvision's published counts.
    "vgg13": 133_047_848, "vgg11_bn": 132_868_840, "vgg16_bn": 138_365_992, "resnet101": 44_549_160,
    "densenet161": 28_681_000, "densenet169": 14_149_480,
}  # fmt: skip
# Multiply-adds at 3×224×224 (per image): MobileNet v1 as in its paper's table, the others as published.
MACS = {"mobilenet_v1": 569e6, "vgg16": 15.47e9, "googlenet": 1.50e9, "resnet18": 1.81e9, "resnet50": 4.09e9}


def _count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", list(PARAMETERS))
def test_parameter_counts_match_the_published_ones(name):
    assert _count(models.get_model(name)) == PARAMETERS[name]


@pytest.mark.parametrize("name", list(MACS))
def test_summary_reports_the_published_multiply_adds(name):
    model = models.get_model(name)
    table = model.summary((3, 224, 224), print_fn=None)
    assert table.total_macs == pytest.approx(MACS[name], rel=0.02)
    assert table.total_params == _count(model)


def _small_kwargs(name: str) -> dict:
    if name == "lenet5" or name.startswith("vgg"):
        return {}
    return {"small_input": True}


@pytest.mark.parametrize("name", models.list_models())
@pytest.mark.parametrize("size", [28, 32])
def test_every_model_takes_small_grey_images(name, size):
    """MNIST (28×28) and CIFAR (32×32) sizes with 1 channel and 10 classes; VGG needs 32×32 (five 2×2 pools)."""
    if name.startswith("vgg") and size == 28:
        with pytest.raises(ValueError, match="kernel"):
            models.get_model(name, num_classes=10, in_channels=1).eval()(minidl.zeros(1, 1, 28, 28))
        return
    kwargs = _small_kwargs(name)
    if name == "lenet5":
        kwargs["input_size"] = size
    model = models.get_model(name, num_classes=10, in_channels=1, **kwargs).eval()
    x = minidl.randn(2, 1, size, size)
    with minidl.no_grad():
        features = model.forward_features(x)
        logits = model(x)
        from_features = model.forward_head(features)
    assert logits.shape == (2, 10)
    assert features.ndim == 4 and features.shape[0] == 2
    np.testing.assert_array_equal(from_features.numpy(), logits.numpy())


def test_lenet5_forms():
    classic, modern = models.lenet5(variant="classic"), models.lenet5()
    assert type(classic.features[1]).__name__ == "Sigmoid" and type(classic.features[2]).__name__ == "AvgPool2d"
    assert type(modern.features[1]).__name__ == "ReLU" and type(modern.features[2]).__name__ == "MaxPool2d"
    assert modern.features[0].padding == (2, 2) and models.lenet5(input_size=32).features[0].padding == (0, 0)
    with pytest.raises(ValueError, match="variant"):
        models.lenet5(variant="lenet1")
    with pytest.raises(ValueError, match="input_size"):
        models.lenet5(input_size=20)


def test_alexnet_local_response_norm_and_googlenet_auxiliary_heads():
    lrn = models.alexnet(local_response_norm=True)
    assert [type(m).__name__ for m in lrn.features][:4] == ["Conv2d", "ReLU", "LocalResponseNorm", "MaxPool2d"]
    assert _count(lrn) == PARAMETERS["alexnet"]
    net = models.googlenet(10, 1, aux_logits=True, small_input=True)
    out = net(minidl.randn(2, 1, 28, 28))
    assert isinstance(out, models.GoogLeNetOutputs) and all(t.shape == (2, 10) for t in out)
    assert net.eval()(minidl.randn(2, 1, 28, 28)).shape == (2, 10)
    net.reset_classifier(3)
    assert net.fc.out_features == net.aux1.fc2.out_features == net.aux2.fc2.out_features == 3


@pytest.mark.parametrize("name", ["lenet5", "alexnet", "vgg11", "nin", "googlenet", "resnet18", "densenet121",
                                  "mobilenet_v1", "mobilenet_v2"])  # fmt: skip
def test_reset_classifier_freeze_and_parameter_groups(name):
    model = models.get_model(name, **({} if name == "lenet5" else {"num_classes": 10, "in_channels": 1}),
                             **_small_kwargs(name))  # fmt: skip
    head = model.reset_classifier(4)
    assert model.get_classifier() is head and model.num_classes == 4
    size = 32 if name.startswith("vgg") else 28
    assert model.eval()(minidl.randn(1, 1, size, size)).shape == (1, 4)
    head_ids = {id(p) for p in model.head_parameters()}
    backbone = list(model.backbone_parameters())
    assert head_ids and backbone and not head_ids & {id(p) for p in backbone}
    assert len(head_ids) + len(backbone) == len(list(model.parameters()))
    # Freeze the backbone: only the head learns, with its own learning rate.
    for p in backbone:
        p.requires_grad_(False)
    opt = optim.SGD([{"params": list(model.head_parameters()), "lr": 0.1}], lr=0.01)
    before = [p.numpy().copy() for p in backbone]
    model.train()
    loss = nn.functional.cross_entropy(model(minidl.randn(2, 1, size, size)), minidl.tensor([0, 3]))
    loss.backward()
    opt.step()
    assert all(p.grad is None for p in backbone)
    assert all(np.array_equal(b, p.numpy()) for b, p in zip(before, backbone))
    with pytest.raises(ValueError, match="num_classes"):
        model.reset_classifier(0)


def test_backbone_gets_a_lower_learning_rate_in_its_own_group():
    model = models.resnet18(10, 1, small_input=True)
    opt = optim.SGD(
        [{"params": list(model.backbone_parameters()), "lr": 1e-3}, {"params": list(model.head_parameters())}],
        lr=1e-2,
        momentum=0.9,
    )
    assert [g["lr"] for g in opt.param_groups] == [1e-3, 1e-2]
    assert len(opt.param_groups[1]["params"]) == 2  # fc.weight, fc.bias


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="unknown model 'resnet19'"):
        models.get_model("resnet19")
    with pytest.raises(ValueError, match="num_classes must be a positive integer, got 0"):
        models.resnet18(num_classes=0)
    with pytest.raises(ValueError, match="in_channels"):
        models.vgg11(in_channels=-1)
    with pytest.raises(ValueError, match="alpha"):
        models.mobilenet_v1(alpha=0)
    # a grey image into an RGB net
    with pytest.raises(ValueError, match=r"expects 3 input channels, but the input \(1, 1, 32, 32\) has 1 channel "):
        models.resnet18()(minidl.zeros(1, 1, 32, 32))


def test_mobilenet_width_multiplier_scales_channels():
    half = models.mobilenet_v1(alpha=0.5)
    assert half.classifier.in_features == 512
    assert _count(half) < PARAMETERS["mobilenet_v1"] / 3
    assert models.mobilenet_v2(width_mult=0.5).features[1].out_channels == 8


def test_torchvision_key_names():
    """Spot checks of torchvision's names, so its checkpoints load unchanged (all keys: tests/models/test_zoo_torch)."""
    keys = {
        "resnet50": ["layer1.0.downsample.0.weight", "layer4.2.bn3.running_var", "fc.bias"],
        "densenet121": ["features.denseblock1.denselayer1.norm1.weight", "features.transition3.conv.weight",
                        "features.norm5.num_batches_tracked", "classifier.weight"],
        "googlenet": ["conv1.conv.weight", "inception4e.branch3.1.bn.running_mean", "fc.weight"],
        "mobilenet_v2": ["features.0.0.weight", "features.1.conv.0.0.weight", "features.18.1.bias",
                         "classifier.1.weight"],
        "vgg16_bn": ["features.0.weight", "features.1.running_mean", "classifier.6.bias"],
        "alexnet": ["features.10.weight", "classifier.1.weight"],
    }  # fmt: skip
    for name, expected in keys.items():
        state = models.get_model(name).state_dict()
        assert set(expected) <= set(state), name


def test_fc_to_conv_on_vgg():
    minidl.manual_seed(0)
    model = models.vgg11().eval()
    classifier_weights = [m.weight.numel() for m in model.classifier if isinstance(m, nn.Linear)]
    assert classifier_weights == [102_760_448, 16_777_216, 4_096_000]
    assert sum(classifier_weights) == 123_633_664
    conv_net = fc_to_conv(model).eval()
    convs = [m for m in conv_net.classifier if isinstance(m, nn.Conv2d)]
    assert [c.kernel_size for c in convs] == [(7, 7), (1, 1), (1, 1)]
    assert [c.weight.numel() for c in convs] == classifier_weights
    x = minidl.randn(1, 3, 224, 224)
    with minidl.no_grad():
        expected = model(x).numpy()
        scores = conv_net(x)
        assert scores.shape == (1, 1000, 1, 1)
        np.testing.assert_allclose(scores.flatten(1).numpy(), expected, rtol=1e-5, atol=1e-6 * np.abs(expected).max())
        larger = conv_net(minidl.randn(1, 3, 288, 320))
    assert larger.shape == (1, 1000, 3, 4)  # a 3×4 map of class scores (the classifier slid with stride 32)
    # The original model is untouched and still needs the adaptive pool.
    assert isinstance(model.classifier[0], nn.Linear)


def test_linear_to_conv_checks_the_shape():
    with pytest.raises(ValueError, match="takes 10 features, but 3 channels of 2×2 make 12"):
        linear_to_conv(nn.Linear(10, 4), 3, (2, 2))
    with pytest.raises(TypeError, match="features"):
        fc_to_conv(models.resnet18())
