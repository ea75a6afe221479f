"""Every architecture of the zoo computes the same function as the same network written in plain torch.nn
(tests/models/torch_zoo.py): PyTorch's state dict loads unchanged (strict keys), and eval-mode outputs and the
gradients of a loss with respect to the input and every parameter agree within 1e-4 (float32). BN nets are
also compared in training mode (batch statistics, running-statistic updates).

These equivalence tests run the direct convolution algorithm (im2col), whose rounding is PyTorch's: they check the
definitions. What "auto" adds, Winograd F(4×4) with about 10x the rounding of the direct algorithm per layer, is
bounded on whole nets by ``test_auto_convolution_stays_within_winograds_rounding``."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

import minidl
from minidl import models
from minidl.backend import use_kernels
from tests.models import torch_zoo as tz
from tests.support import relative_error

pytestmark = pytest.mark.usefixtures("one_torch_thread")

RTOL = 1e-4
FLIP_BOUND = 0.5  # see _compare
# F(4×4) Winograd's float32 error per layer against the direct algorithm's: 4.9e-6 vs 4.5e-7 of the largest value on
# a 64-channel 3×3 layer (tests/kernels/test_winograd.py measures and bounds it).
WINOGRAD_FACTOR = 10

# id: (minidl constructor, torch constructor, input shape)
CASES = {
    "lenet5": (lambda: models.lenet5(), lambda: tz.LeNet5(), (2, 1, 28, 28)),
    "lenet5-classic": (lambda: models.lenet5(variant="classic"), lambda: tz.LeNet5(variant="classic"), (2, 1, 28, 28)),
    "alexnet": (lambda: models.alexnet(10), lambda: tz.AlexNet(10), (1, 3, 64, 64)),
    "alexnet-lrn-small": (
        lambda: models.alexnet(10, 1, local_response_norm=True, small_input=True),
        lambda: tz.AlexNet(10, 1, lrn=True, small=True),
        (2, 1, 28, 28),
    ),
    "vgg11": (lambda: models.vgg11(10), lambda: tz.VGG("A", num_classes=10), (1, 3, 32, 32)),
    "vgg16_bn": (lambda: models.vgg16_bn(10), lambda: tz.VGG("D", True, num_classes=10), (1, 3, 32, 32)),
    "nin": (lambda: models.nin(10), lambda: tz.NiN(10), (1, 3, 67, 67)),
    "nin-small": (lambda: models.nin(10, 1, small_input=True), lambda: tz.NiN(10, 1, small=True), (2, 1, 28, 28)),
    "googlenet": (lambda: models.googlenet(10), lambda: tz.GoogLeNet(10), (2, 3, 32, 32)),
    "googlenet-small-aux": (
        lambda: models.googlenet(10, 1, aux_logits=True, small_input=True),
        lambda: tz.GoogLeNet(10, 1, aux_logits=True, small=True),
        (2, 1, 28, 28),
    ),
    "resnet18": (lambda: models.resnet18(10), lambda: tz.ResNet(tz.BasicBlock, [2, 2, 2, 2], 10), (2, 3, 32, 32)),
    "resnet18-small": (
        lambda: models.resnet18(10, 1, small_input=True),
        lambda: tz.ResNet(tz.BasicBlock, [2, 2, 2, 2], 10, 1, small=True),
        (2, 1, 28, 28),
    ),
    "resnet34": (lambda: models.resnet34(10), lambda: tz.ResNet(tz.BasicBlock, [3, 4, 6, 3], 10), (2, 3, 32, 32)),
    "resnet50": (lambda: models.resnet50(10), lambda: tz.ResNet(tz.Bottleneck, [3, 4, 6, 3], 10), (2, 3, 64, 64)),
    "resnet101": (lambda: models.resnet101(10), lambda: tz.ResNet(tz.Bottleneck, [3, 4, 23, 3], 10), (1, 3, 32, 32)),
    "resnet152": (lambda: models.resnet152(10), lambda: tz.ResNet(tz.Bottleneck, [3, 8, 36, 3], 10), (1, 3, 32, 32)),
    "densenet121": (lambda: models.densenet121(10), lambda: tz.DenseNet(32, (6, 12, 24, 16), 64, 10), (2, 3, 32, 32)),
    "densenet121-small": (
        lambda: models.densenet121(10, 1, small_input=True),
        lambda: tz.DenseNet(32, (6, 12, 24, 16), 64, 10, 1, small=True),
        (1, 1, 28, 28),
    ),
    "densenet161": (lambda: models.densenet161(10), lambda: tz.DenseNet(48, (6, 12, 36, 24), 96, 10), (1, 3, 32, 32)),
    "densenet169": (lambda: models.densenet169(10), lambda: tz.DenseNet(32, (6, 12, 32, 32), 64, 10), (1, 3, 32, 32)),
    "densenet201": (lambda: models.densenet201(10), lambda: tz.DenseNet(32, (6, 12, 48, 32), 64, 10), (1, 3, 32, 32)),
    "mobilenet_v1": (lambda: models.mobilenet_v1(10), lambda: tz.MobileNetV1(10), (2, 3, 32, 32)),
    "mobilenet_v1-half-small": (
        lambda: models.mobilenet_v1(10, 1, alpha=0.5, small_input=True),
        lambda: tz.MobileNetV1(10, 1, alpha=0.5, small=True),
        (2, 1, 28, 28),
    ),
    "mobilenet_v2": (lambda: models.mobilenet_v2(10), lambda: tz.MobileNetV2(10), (2, 3, 32, 32)),
    "mobilenet_v2-small": (
        lambda: models.mobilenet_v2(10, 1, small_input=True),
        lambda: tz.MobileNetV2(10, 1, small=True),
        (2, 1, 28, 28),
    ),
}
TRAIN_MODE_CASES = ["resnet18-small", "densenet121-small", "mobilenet_v2-small", "googlenet-small-aux", "vgg16_bn"]


def _calibrate_running_stats(model: torch.nn.Module, shape: tuple, rng: np.random.Generator) -> None:
    """Set every BN layer's running statistics to the mean and variance its input really has on random images
    (the state of a trained net). Arbitrary running statistics would make eval mode ill-conditioned (outputs
    that are differences of nearly equal numbers), which no float32 comparison can survive."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for m in bns:
        m.momentum = None  # a cumulative average over the calibration batches
    model.train()
    with torch.no_grad():
        for _ in range(2):
            model(torch.from_numpy(rng.normal(size=(4, *shape[1:])).astype(np.float32)))
    for m in bns:
        m.momentum = 0.1
        m.num_batches_tracked.zero_()


def _twin_models(case: str, train: bool):
    """The torch model with random weights, and the minidl model holding them (strict state-dict load)."""
    ours_fn, theirs_fn, shape = CASES[case]
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    theirs = theirs_fn()
    _calibrate_running_stats(theirs, shape, rng)
    ours = ours_fn()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    if train:  # dropout draws cannot match between libraries: switch it off on both sides
        for m in list(theirs.modules()) + list(ours.modules()):
            if type(m).__name__ == "Dropout":
                m.p = 0.0
    theirs.train(train)
    ours.train(train)
    x = rng.normal(size=shape).astype(np.float32)
    return ours, theirs, x, rng


def _outputs(result) -> list:
    return list(result) if isinstance(result, tuple) else [result]


def _results(lib, model, x: np.ndarray, weights: list) -> dict:
    """Outputs, input gradient and parameter gradients of sum(output_i * weight_i), in ``model``'s dtype;
    ``lib`` is ``torch`` or ``minidl`` (the two share every name used here)."""
    dtype = next(model.parameters()).dtype
    xt = lib.from_numpy(x).to(dtype).requires_grad_(True)
    outs = _outputs(model(xt))
    sum(lib.sum(o * lib.from_numpy(w).to(dtype)) for o, w in zip(outs, weights)).backward()
    found = {f"output {i}": o.detach().numpy() for i, o in enumerate(outs)} | {"input gradient": xt.grad.numpy()}
    return found | {f"gradient of {n}": None if p.grad is None else p.grad.numpy() for n, p in model.named_parameters()}


def _error(actual: np.ndarray, expected: dict, key: str) -> float:
    """``relative_error``, except that a gradient which is exactly 0 in theory (a bias before a training-mode
    batch norm) is measured against the largest gradient of its module instead of its own rounding noise."""
    module = key.rpartition(".")[0]
    scale = max(np.abs(v).max() for k, v in expected.items() if v is not None and k.rpartition(".")[0] == module)
    diff = np.abs(np.asarray(actual, np.float64) - expected[key]).max()
    return relative_error(actual, expected[key]) if np.abs(expected[key]).max() > 1e-3 * scale else diff / scale


@pytest.fixture
def direct_convolution():
    """The direct algorithm (im2col + GEMM) for every convolution: see the module's docstring."""
    with use_kernels("im2col", "conv2d"):
        yield


def _compare(ours, theirs, x: np.ndarray, rng: np.random.Generator, factor: float = 4) -> None:
    """Outputs and gradients of ``ours`` against PyTorch's, in float32 within RTOL.

    Deep nets in float32 can be ill-conditioned at that level, for PyTorch as much as for us: outputs of
    100-layer residual stacks carry ~1e-3 of rounding, and gradients of ReLU nets are discontinuous, so a ReLU
    input or a max-pool near-tie within rounding of its kink, decided differently by the two libraries, changes
    that gradient path by O(1) (PyTorch's own float32 gradients are off from the exact ones by up to ~10% in
    such cases). Where a float32 result differs from PyTorch's by more than RTOL, the case must pass instead:
    both libraries in float64 agree within 1e-7 on every output and gradient (the same function and the same
    derivative), and the float32 result is within ``factor`` times PyTorch's own float32 error of the exact one,
    or, for a gradient (a kink decided the other way round from PyTorch's), within FLIP_BOUND of it.
    """
    exact_theirs, exact_ours = copy.deepcopy(theirs).double(), copy.deepcopy(ours).double()
    with torch.no_grad():  # on a copy: a training-mode call would update the running statistics
        probe = _outputs(copy.deepcopy(theirs)(torch.from_numpy(x)))
    weights = [rng.normal(size=tuple(o.shape)).astype(np.float32) for o in probe]
    expected, actual = _results(torch, theirs, x, weights), _results(minidl, ours, x, weights)
    assert actual.keys() == expected.keys()
    for key, value in actual.items():
        assert (value is None) == (expected[key] is None), f"{key}: gradient present in one library only"
    failing = [k for k, v in actual.items() if v is not None and _error(v, expected, k) > RTOL]
    if not failing:
        return
    exact, ours64 = _results(torch, exact_theirs, x, weights), _results(minidl, exact_ours, x, weights)
    for key, value in ours64.items():
        if value is not None:
            assert _error(value, exact, key) <= 1e-7, (
                f"{key}: float64 results differ by {_error(value, exact, key):.3g}"
            )
    for key in failing:
        ours_err, theirs_err = _error(actual[key], exact, key), _error(expected[key], exact, key)
        bound = max(RTOL, factor * theirs_err, 0.0 if key.startswith("output") else FLIP_BOUND)
        assert ours_err <= bound, f"{key}: float32 error {ours_err:.3g} against float64, PyTorch's {theirs_err:.3g}"


@pytest.mark.usefixtures("direct_convolution")
@pytest.mark.parametrize("case", list(CASES))
def test_eval_outputs_and_gradients_match_torch(case):
    ours, theirs, x, rng = _twin_models(case, train=False)
    _compare(ours, theirs, x, rng)


@pytest.mark.usefixtures("direct_convolution")
@pytest.mark.parametrize("case", TRAIN_MODE_CASES)
def test_training_mode_matches_torch_and_updates_the_same_running_stats(case):
    ours, theirs, x, rng = _twin_models(case, train=True)
    _compare(ours, theirs, x, rng)
    theirs_state = theirs.state_dict()
    for key, value in ours.state_dict().items():
        if "running" in key:
            # A running mean is measured on the scale of its feature (the running std): a mean that is ~1e-8
            # because the feature is centred has no meaningful relative error of its own.
            spread = np.sqrt(theirs_state[key.replace("running_mean", "running_var")].numpy().max())
            diff = np.abs(value.numpy() - theirs_state[key].numpy()).max()
            err = diff / max(np.abs(theirs_state[key].numpy()).max(), spread if "mean" in key else 0.0)
            assert err <= RTOL, f"{key}: relative error {err:.3g}"
        elif key.endswith("num_batches_tracked"):
            assert value.item() == theirs_state[key].item() == 1


@pytest.mark.parametrize("case", ["resnet18", "resnet50"])
def test_auto_convolution_stays_within_winograds_rounding(case):
    """Under "auto" (what a user gets) the 3×3 stride-1 layers of these nets run Winograd F(4×4): outputs and
    gradients still agree with PyTorch within RTOL, or else lie within WINOGRAD_FACTOR times PyTorch's own float32
    error of the float64 result."""
    ours, theirs, x, rng = _twin_models(case, train=False)
    algorithms = []
    hooks = [m.register_forward_hook(lambda m, i, out: algorithms.append(out.grad_fn.plan.algorithm))
             for m in ours.modules() if isinstance(m, minidl.nn.Conv2d)]  # fmt: skip
    with minidl.enable_grad():
        ours(minidl.from_numpy(x).requires_grad_(True))
    for h in hooks:
        h.remove()
    assert "winograd4" in algorithms
    _compare(ours, theirs, x, rng, factor=WINOGRAD_FACTOR)
