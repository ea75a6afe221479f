"""Every layer against the same layer of torch.nn 2.13 (CPU, float32): the torch layer's state_dict is copied into
the minidl layer (as NumPy arrays, through load_state_dict), both run on the same input, and the outputs, the
input gradients and every parameter's gradient must agree to 1e-5 (relative to the largest value). BatchNorm is
also followed through several training steps (running statistics, num_batches_tracked) and in eval mode."""

import numpy as np
import pytest
import torch

import minidl
import minidl.nn as nn
from tests.support import assert_close

RTOL = 1e-5


def arr(rng, *shape, low=-2.0, high=2.0):
    return rng.uniform(low, high, size=shape).astype(np.float32)


def log_probs(rng, n, classes):
    logits = rng.uniform(-3, 3, size=(n, classes))
    return (logits - np.log(np.exp(logits).sum(1, keepdims=True))).astype(np.float32)


class Fixed:
    """An input that is not differentiated (a float target whose gradient minidl does not compute)."""

    def __init__(self, array):
        self.array = array


def copy_weights(ours, theirs):
    result = ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    assert result == ([], [])


def run_both(ours, theirs, *inputs, rtol=RTOL):
    """Forward both on ``inputs`` (NumPy arrays; float ones require grad), compare the outputs, then backward one
    random output gradient and compare the gradients of the float inputs and of every parameter."""
    is_float = [not isinstance(a, Fixed) and a.dtype.kind == "f" for a in inputs]
    inputs = [a.array if isinstance(a, Fixed) else a for a in inputs]
    xs = [minidl.tensor(a).requires_grad_(f) for a, f in zip(inputs, is_float)]
    ts = [torch.from_numpy(a.copy()).requires_grad_(f) for a, f in zip(inputs, is_float)]
    out, expected = ours(*xs), theirs(*ts)
    assert out.shape == tuple(expected.shape)
    assert out.dtype == np.dtype(str(expected.dtype).removeprefix("torch."))
    assert_close(out, expected, rtol)
    if not expected.requires_grad:
        return
    seed = np.random.default_rng(1).standard_normal(out.shape).astype(np.float32)
    out.backward(minidl.tensor(seed))
    expected.backward(torch.from_numpy(seed))
    for i, (x, t) in enumerate(zip(xs, ts)):
        if t.requires_grad:
            assert x.grad is not None, f"input {i} got no gradient"
            assert_close(x.grad, t.grad, rtol)
    theirs_params = dict(theirs.named_parameters())
    assert [n for n, _ in ours.named_parameters()] == list(theirs_params)
    for name, p in ours.named_parameters():
        assert (p.grad is None) == (theirs_params[name].grad is None), name
        if p.grad is not None:
            assert_close(p.grad, theirs_params[name].grad, rtol)


def check(build, *inputs, rtol=RTOL):
    ours, theirs = build(minidl), build(torch)
    copy_weights(ours, theirs)
    run_both(ours, theirs, *inputs, rtol=rtol)


RNG = np.random.default_rng(0)

LINEAR = {
    "2d": (lambda lib: lib.nn.Linear(5, 3), arr(RNG, 4, 5)),
    "3d": (lambda lib: lib.nn.Linear(5, 3), arr(RNG, 2, 3, 5)),
    "no-bias": (lambda lib: lib.nn.Linear(5, 3, bias=False), arr(RNG, 4, 5)),
    "one-feature": (lambda lib: lib.nn.Linear(1, 1), arr(RNG, 7, 1)),
}

CONV = {
    "plain": (lambda lib: lib.nn.Conv2d(3, 4, 3), arr(RNG, 2, 3, 7, 7)),
    "strided-grouped": (
        lambda lib: lib.nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2),
        arr(RNG, 2, 4, 9, 8),
    ),
    "depthwise": (lambda lib: lib.nn.Conv2d(4, 4, 3, padding=1, groups=4, bias=False), arr(RNG, 2, 4, 6, 5)),
    "depthwise-multiplier": (lambda lib: lib.nn.Conv2d(3, 6, 3, stride=2, groups=3), arr(RNG, 1, 3, 8, 8)),
    "pointwise": (lambda lib: lib.nn.Conv2d(4, 8, 1), arr(RNG, 3, 4, 5, 5)),
    "same-even": (lambda lib: lib.nn.Conv2d(3, 5, 4, padding="same", dilation=2), arr(RNG, 2, 3, 9, 7)),
    "valid": (lambda lib: lib.nn.Conv2d(3, 2, (2, 3), padding="valid"), arr(RNG, 2, 3, 5, 6)),
    "big-padding": (lambda lib: lib.nn.Conv2d(2, 3, 3, stride=3, padding=2), arr(RNG, 2, 2, 4, 4)),
    "reflect": (lambda lib: lib.nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect"), arr(RNG, 2, 3, 5, 6)),
    "replicate-same": (
        lambda lib: lib.nn.Conv2d(3, 4, (3, 4), padding="same", padding_mode="replicate"),
        arr(RNG, 2, 3, 5, 6),
    ),
    "circular": (
        lambda lib: lib.nn.Conv2d(2, 4, 3, stride=2, padding=(1, 2), padding_mode="circular"),
        arr(RNG, 2, 2, 6, 5),
    ),
}

POOL = {
    "max-2": (lambda lib: lib.nn.MaxPool2d(2), arr(RNG, 2, 3, 8, 7)),
    "max-3-2-pad": (lambda lib: lib.nn.MaxPool2d(3, stride=2, padding=1), arr(RNG, 2, 3, 9, 9)),
    "max-ceil": (lambda lib: lib.nn.MaxPool2d(3, 2, ceil_mode=True), arr(RNG, 1, 2, 8, 8)),
    "max-dilated": (lambda lib: lib.nn.MaxPool2d((2, 3), stride=(1, 2), dilation=(2, 1)), arr(RNG, 2, 2, 7, 9)),
    "avg-2": (lambda lib: lib.nn.AvgPool2d(2), arr(RNG, 2, 3, 8, 7)),
    "avg-pad": (lambda lib: lib.nn.AvgPool2d(3, 2, padding=1), arr(RNG, 2, 3, 9, 8)),
    "avg-exclude-pad": (lambda lib: lib.nn.AvgPool2d(3, 2, padding=1, count_include_pad=False), arr(RNG, 2, 3, 9, 8)),
    "avg-ceil": (lambda lib: lib.nn.AvgPool2d((3, 2), ceil_mode=True), arr(RNG, 1, 2, 8, 7)),
    "avg-divisor": (lambda lib: lib.nn.AvgPool2d(2, divisor_override=3), arr(RNG, 1, 2, 6, 6)),
    "adaptive-1": (lambda lib: lib.nn.AdaptiveAvgPool2d(1), arr(RNG, 2, 3, 7, 5)),
    "adaptive-3x2": (lambda lib: lib.nn.AdaptiveAvgPool2d((3, 2)), arr(RNG, 2, 3, 7, 5)),
    "adaptive-grow": (lambda lib: lib.nn.AdaptiveAvgPool2d(5), arr(RNG, 1, 2, 3, 4)),
    "adaptive-none": (lambda lib: lib.nn.AdaptiveAvgPool2d((None, 2)), arr(RNG, 1, 2, 4, 6)),
}

ELEMENTWISE = {
    "relu": (lambda lib: lib.nn.ReLU(), arr(RNG, 3, 4, 5)),
    "relu-inplace": (lambda lib: lib.nn.Sequential(lib.nn.Linear(4, 4), lib.nn.ReLU(inplace=True)), arr(RNG, 3, 4)),
    "leaky": (lambda lib: lib.nn.LeakyReLU(0.2), arr(RNG, 3, 4, 5)),
    "relu6": (lambda lib: lib.nn.ReLU6(), 4 * arr(RNG, 3, 4, 5)),
    "hardtanh": (lambda lib: lib.nn.Hardtanh(-0.5, 0.7), arr(RNG, 3, 4, 5)),
    "elu": (lambda lib: lib.nn.ELU(0.5), arr(RNG, 3, 4, 5)),
    "sigmoid": (lambda lib: lib.nn.Sigmoid(), arr(RNG, 3, 4, 5, low=-8, high=8)),
    "tanh": (lambda lib: lib.nn.Tanh(), arr(RNG, 3, 4, 5)),
    "gelu": (lambda lib: lib.nn.GELU(), arr(RNG, 3, 4, 5, low=-4, high=4)),
    "gelu-tanh": (lambda lib: lib.nn.GELU(approximate="tanh"), arr(RNG, 3, 4, 5, low=-4, high=4)),
    "softmax": (lambda lib: lib.nn.Softmax(dim=1), arr(RNG, 3, 4, 5)),
    "softmax-last": (lambda lib: lib.nn.Softmax(dim=-1), arr(RNG, 3, 4, 5)),
    "log-softmax": (lambda lib: lib.nn.LogSoftmax(dim=1), arr(RNG, 3, 4)),
    "flatten": (lambda lib: lib.nn.Flatten(), arr(RNG, 2, 3, 4, 5)),
    "flatten-0-2": (lambda lib: lib.nn.Flatten(0, 2), arr(RNG, 2, 3, 4, 5)),
    "identity": (lambda lib: lib.nn.Sequential(lib.nn.Identity(7, scale=2)), arr(RNG, 2, 3)),
    "lrn-5": (lambda lib: lib.nn.LocalResponseNorm(5), arr(RNG, 2, 7, 4, 4)),
    "lrn-2-k2": (lambda lib: lib.nn.LocalResponseNorm(2, alpha=1e-2, beta=0.5, k=2.0), arr(RNG, 2, 3, 3, 2)),
    "lrn-3d": (lambda lib: lib.nn.LocalResponseNorm(3, alpha=0.1), arr(RNG, 2, 6, 5)),
    "dropout-eval": (lambda lib: lib.nn.Dropout(0.3).eval(), arr(RNG, 4, 5)),
    "batchnorm-eval": (lambda lib: lib.nn.BatchNorm2d(3).eval(), arr(RNG, 2, 3, 4, 4)),
}


def _targets(n, classes, ignore=None):
    t = RNG.integers(0, classes, size=n).astype(np.int64)
    if ignore is not None:
        t[::3] = ignore
    return t


W5 = RNG.uniform(0.5, 2.0, size=5).astype(np.float32)
LOSSES = {
    "ce": (lambda lib: lib.nn.CrossEntropyLoss(), arr(RNG, 6, 5), _targets(6, 5)),
    "ce-weight-sum": (
        lambda lib: lib.nn.CrossEntropyLoss(weight=lib.tensor(W5), reduction="sum"),
        arr(RNG, 6, 5),
        _targets(6, 5),
    ),
    "ce-weight-mean": (lambda lib: lib.nn.CrossEntropyLoss(weight=lib.tensor(W5)), arr(RNG, 6, 5), _targets(6, 5)),
    "ce-ignore": (lambda lib: lib.nn.CrossEntropyLoss(ignore_index=-100), arr(RNG, 7, 5), _targets(7, 5, -100)),
    "ce-ignore-class": (lambda lib: lib.nn.CrossEntropyLoss(ignore_index=2), arr(RNG, 7, 5), _targets(7, 5, 2)),
    "ce-smoothing": (
        lambda lib: lib.nn.CrossEntropyLoss(weight=lib.tensor(W5), label_smoothing=0.1),
        arr(RNG, 6, 5),
        _targets(6, 5),
    ),
    "ce-none": (lambda lib: lib.nn.CrossEntropyLoss(reduction="none"), arr(RNG, 6, 5), _targets(6, 5)),
    "ce-spatial": (
        lambda lib: lib.nn.CrossEntropyLoss(),
        arr(RNG, 2, 5, 3, 2),
        RNG.integers(0, 5, size=(2, 3, 2)).astype(np.int64),
    ),
    "nll": (lambda lib: lib.nn.NLLLoss(), log_probs(RNG, 6, 5), _targets(6, 5)),
    "nll-weight-ignore": (
        lambda lib: lib.nn.NLLLoss(weight=lib.tensor(W5), ignore_index=1),
        log_probs(RNG, 9, 5),
        _targets(9, 5, 1),
    ),
    "nll-sum": (lambda lib: lib.nn.NLLLoss(reduction="sum"), log_probs(RNG, 6, 5), _targets(6, 5)),
    "mse": (lambda lib: lib.nn.MSELoss(), arr(RNG, 4, 3), arr(RNG, 4, 3)),
    "mse-sum": (lambda lib: lib.nn.MSELoss(reduction="sum"), arr(RNG, 4, 3), arr(RNG, 4, 3)),
    "mse-none": (lambda lib: lib.nn.MSELoss(reduction="none"), arr(RNG, 4, 3), arr(RNG, 4, 3)),
    "bce": (
        lambda lib: lib.nn.BCEWithLogitsLoss(),
        arr(RNG, 4, 5, low=-6, high=6),
        Fixed(arr(RNG, 4, 5, low=0, high=1)),
    ),
    "bce-weights": (
        lambda lib: lib.nn.BCEWithLogitsLoss(weight=lib.tensor(W5), pos_weight=lib.tensor(W5[::-1].copy())),
        arr(RNG, 4, 5, low=-6, high=6),
        Fixed(arr(RNG, 4, 5, low=0, high=1)),
    ),
    "bce-none": (
        lambda lib: lib.nn.BCEWithLogitsLoss(reduction="none"),
        arr(RNG, 4, 5, low=-30, high=30),
        Fixed(arr(RNG, 4, 5, low=0, high=1)),
    ),
}


@pytest.mark.parametrize("case", list(LINEAR))
def test_linear_matches_torch(case):
    check(*LINEAR[case])


@pytest.mark.parametrize("case", list(CONV))
def test_conv2d_matches_torch(case):
    check(*CONV[case])


@pytest.mark.parametrize("case", list(POOL))
def test_pooling_matches_torch(case):
    check(*POOL[case])


@pytest.mark.parametrize("case", list(ELEMENTWISE))
def test_elementwise_layers_match_torch(case):
    check(*ELEMENTWISE[case])


@pytest.mark.parametrize("case", list(LOSSES))
def test_losses_match_torch(case):
    check(*LOSSES[case])


def test_max_pool_return_indices_matches_torch():
    x = arr(RNG, 2, 3, 7, 6)
    ours, theirs = nn.MaxPool2d(3, 2, padding=1, return_indices=True), torch.nn.MaxPool2d(3, 2, 1, return_indices=True)
    (out, idx), (expected, expected_idx) = ours(minidl.tensor(x)), theirs(torch.from_numpy(x))
    assert_close(out, expected, 0)
    assert idx.dtype == minidl.int64 and np.array_equal(idx.numpy(), expected_idx.numpy())


def test_loss_weights_are_buffers_like_torch():
    ours, theirs = nn.CrossEntropyLoss(weight=W5), torch.nn.CrossEntropyLoss(weight=torch.from_numpy(W5))
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    ours, theirs = nn.BCEWithLogitsLoss(pos_weight=W5), torch.nn.BCEWithLogitsLoss(pos_weight=torch.from_numpy(W5))
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["pos_weight"]
    assert not list(nn.MSELoss().state_dict())


def test_legacy_reduction_arguments_map_like_torch():
    for kwargs in ({"size_average": False}, {"reduce": False}, {"size_average": True, "reduce": True}):
        with pytest.warns(UserWarning, match="deprecated"):
            ours = nn.MSELoss(**kwargs).reduction
        with pytest.warns(UserWarning):
            theirs = torch.nn.MSELoss(**kwargs).reduction
        assert ours == theirs
    with pytest.raises(ValueError, match="reduction must be one of none, mean, sum"):
        nn.MSELoss(reduction="avg")


# ---------------------------------------------------------------------------------------------- BatchNorm

BATCHNORM = {
    "2d": (lambda lib: lib.nn.BatchNorm2d(3), (4, 3, 5, 4)),
    "2d-momentum": (lambda lib: lib.nn.BatchNorm2d(3, eps=1e-3, momentum=0.3), (2, 3, 3, 3)),
    "2d-cumulative": (lambda lib: lib.nn.BatchNorm2d(3, momentum=None), (4, 3, 2, 5)),
    "2d-no-affine": (lambda lib: lib.nn.BatchNorm2d(3, affine=False), (4, 3, 2, 2)),
    "2d-no-bias": (lambda lib: lib.nn.BatchNorm2d(3, bias=False), (4, 3, 2, 2)),
    "2d-untracked": (lambda lib: lib.nn.BatchNorm2d(3, track_running_stats=False), (4, 3, 3, 2)),
    "1d-NC": (lambda lib: lib.nn.BatchNorm1d(5), (8, 5)),
    "1d-NCL": (lambda lib: lib.nn.BatchNorm1d(5, momentum=None), (4, 5, 6)),
    "1d-untracked": (lambda lib: lib.nn.BatchNorm1d(5, track_running_stats=False), (6, 5, 2)),
}


@pytest.mark.parametrize("case", list(BATCHNORM))
def test_batchnorm_training_and_eval_match_torch(case):
    build, shape = BATCHNORM[case]
    ours, theirs = build(minidl), build(torch)
    rng = np.random.default_rng(3)
    with torch.no_grad():  # start from a non-trivial affine transform
        for p in theirs.parameters():
            p.uniform_(0.5, 1.5)
    copy_weights(ours, theirs)
    for _ in range(3):
        x = (rng.standard_normal(shape) * rng.uniform(0.5, 3) + rng.uniform(-2, 2)).astype(np.float32)
        ours.zero_grad()
        theirs.zero_grad()
        run_both(ours, theirs, x)
    theirs_state = theirs.state_dict()
    assert list(ours.state_dict()) == list(theirs_state)
    for key, value in ours.state_dict().items():
        if key == "num_batches_tracked":
            assert value.item() == theirs_state[key].item() == 3 and value.dtype == minidl.int64
        else:
            assert_close(value, theirs_state[key])
    ours.eval()
    theirs.eval()
    before = {k: v.numpy().copy() for k, v in ours.state_dict().items()}
    ours.zero_grad()
    theirs.zero_grad()
    run_both(ours, theirs, (rng.standard_normal(shape) + 1).astype(np.float32))
    for key, value in ours.state_dict().items():  # eval mode leaves the running statistics alone
        assert np.array_equal(value.numpy(), before[key]), key


def test_batchnorm_input_checks():
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected 4D input, got 3D input of shape \(2, 3, 4\)"):
        nn.BatchNorm2d(3)(minidl.ones(2, 3, 4))
    with pytest.raises(ValueError, match=r"BatchNorm1d: expected 2D or 3D input, got 4D"):
        nn.BatchNorm1d(3)(minidl.ones(2, 3, 4, 4))
    with pytest.raises(ValueError, match=r"expected 3 channels \(dim 1\), got input of shape \(2, 4, 5, 5\)"):
        nn.BatchNorm2d(3)(minidl.ones(2, 4, 5, 5))


# ------------------------------------------------------------------------------------------------ Dropout


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_mask_statistics_and_scaling(p):
    layer = nn.Dropout(p)
    x = minidl.ones(400, 500, requires_grad=True)
    y = layer(x)
    values = y.detach().numpy()
    kept = values != 0
    assert kept.mean() == pytest.approx(1 - p, abs=0.005)  # 200,000 draws: the std of the mean is < 0.0012
    assert np.allclose(values[kept], 1 / (1 - p), rtol=1e-6)
    y.sum().backward()
    assert np.array_equal(x.grad.numpy(), values)  # the gradient is the same mask times the same scale


def test_dropout_is_reproducible_under_manual_seed():
    x = minidl.randn(50, 40)
    minidl.manual_seed(11)
    first = nn.Dropout(0.3)(x).numpy()
    minidl.manual_seed(11)
    second = nn.Dropout(0.3)(x).numpy()
    assert np.array_equal(first, second)
    assert not np.array_equal(first, nn.Dropout(0.3)(x).numpy())


def test_dropout_eval_and_extreme_probabilities():
    x = minidl.randn(20, 30)
    assert np.array_equal(nn.Dropout(0.5).eval()(x).numpy(), x.numpy())
    assert np.array_equal(nn.Dropout(0.0)(x).numpy(), x.numpy())
    assert not nn.Dropout(1.0)(x).numpy().any()
    with pytest.raises(ValueError, match="between 0 and 1, but got 1.5"):
        nn.Dropout(1.5)


# ------------------------------------------------------------------------------------------ bad arguments


def test_conv2d_argument_errors_are_clear():
    with pytest.raises(ValueError, match=r"in_channels \(6\) must be divisible by groups \(4\)"):
        nn.Conv2d(6, 8, 3, groups=4)
    with pytest.raises(ValueError, match=r"out_channels \(6\) must be divisible by groups \(4\)"):
        nn.Conv2d(8, 6, 3, groups=4)
    with pytest.raises(ValueError, match="groups must be a positive integer, got 0"):
        nn.Conv2d(8, 6, 3, groups=0)
    with pytest.raises(ValueError, match="padding='same' needs stride 1"):
        nn.Conv2d(3, 3, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="padding must be an int, a pair, 'valid' or 'same'"):
        nn.Conv2d(3, 3, 3, padding="full")
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv2d(3, 3, 3, padding_mode="mirror")
    with pytest.raises(ValueError, match="kernel_size must be integers >= 1"):
        nn.Conv2d(3, 3, 0)


def test_conv2d_wrong_input_channels_is_a_clear_error():
    with pytest.raises((ValueError, RuntimeError), match="3"):
        nn.Conv2d(3, 4, 3)(minidl.ones(1, 2, 5, 5))


def test_softmax_without_dim_warns_and_picks_torchs_dim():
    x = arr(RNG, 2, 3, 4)
    with pytest.warns(UserWarning, match="Implicit dimension"):
        ours = nn.Softmax()(minidl.tensor(x))
    with pytest.warns(UserWarning):
        theirs = torch.nn.Softmax()(torch.from_numpy(x))
    assert_close(ours, theirs)
