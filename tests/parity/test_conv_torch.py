"""conv2d against PyTorch 2.13 (CPU, float32): drawn batch, channels, non-square kernels, strides, paddings (int,
pair, 'same', 'valid'), dilations, groups (1, a divisor, depthwise with a channel multiplier), bias or not, 3-D
unbatched input, every memory layout; each of the three algorithms (depthwise, pointwise 1×1, im2col) is hit by a
test of its own, checked on the graph node. Then the errors for bad arguments."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

import minidl
import minidl.nn.functional as F
from tests.support import arrays
from tests.support import compare_with_torch as compare

F32 = np.float32
MAX_SIDE = 9

# PyTorch's own performance note for 'same' with an even kernel (it pads a copy); not about correctness.
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")


def _pairs(low: int, high: int):
    """An int or a (height, width) pair, each in [low, high]."""
    return st.one_of(st.integers(low, high), st.tuples(st.integers(low, high), st.integers(low, high)))


def _as_pair(v):
    return tuple(v) if isinstance(v, tuple) else (v, v)


@st.composite
def conv_configs(draw, algorithm: str | None = None) -> dict:
    """A conv2d configuration that fits: shapes of x, w and bias, and the keyword arguments. ``algorithm`` draws
    only configurations that minidl runs with that algorithm ('depthwise', 'pointwise' or 'im2col')."""
    if algorithm == "depthwise":
        groups = draw(st.integers(2, 4))
        cin, cout = groups, groups * draw(st.integers(1, 3))  # channel multiplier 1..3
    elif algorithm == "pointwise":
        groups, cin, cout = 1, draw(st.integers(1, 4)), draw(st.integers(1, 4))
    else:
        # groups: 1, a proper divisor of the channels, or depthwise (in_channels per group 1)
        kind = draw(st.sampled_from(["one", "divisor", "depthwise"] if algorithm is None else ["one", "divisor"]))
        if kind == "one":
            groups, cg = 1, draw(st.integers(1, 4))
        elif kind == "divisor":
            groups, cg = draw(st.integers(2, 3)), draw(st.integers(2, 3))
        else:
            groups, cg = draw(st.integers(2, 4)), 1
        cin, cout = groups * cg, groups * draw(st.integers(1, 3))
    if algorithm == "pointwise":
        kernel = (1, 1)
        dilation = draw(_pairs(1, 2))
        stride = draw(_pairs(1, 3))
        padding = draw(st.sampled_from([0, (0, 0), "valid"] + (["same"] if _as_pair(stride) == (1, 1) else [])))
    else:
        kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
        if algorithm == "im2col" and groups == 1 and kernel == (1, 1):
            kernel = (1, 2)  # a 1×1 kernel without padding would run as pointwise
        dilation = draw(_pairs(1, 2))
        stride = draw(_pairs(1, 3))
        kinds = ["int", "pair", "valid"] + (["same"] if _as_pair(stride) == (1, 1) else [])
        kind = draw(st.sampled_from(kinds))
        if kind == "int":
            padding = draw(st.integers(0, 2))
        elif kind == "pair":
            padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
        else:
            padding = kind
    dh, dw = _as_pair(dilation)
    if isinstance(padding, str):
        ph = pw = 0  # 'same' keeps the size, so any input fits; 'valid' needs the kernel to fit unpadded
    else:
        ph, pw = _as_pair(padding)
    min_h = max(1, dh * (kernel[0] - 1) + 1 - 2 * ph)
    min_w = max(1, dw * (kernel[1] - 1) + 1 - 2 * pw)
    h = draw(st.integers(min_h, max(min_h, MAX_SIDE)))
    w = draw(st.integers(min_w, max(min_w, MAX_SIDE)))
    unbatched = algorithm is None and draw(st.booleans())
    n = draw(st.integers(1, 3))
    return {
        "x": (cin, h, w) if unbatched else (n, cin, h, w),
        "w": (cout, cin // groups, *kernel),
        "bias": (cout,) if draw(st.booleans()) else None,
        "kwargs": {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups},
    }


def _algorithm(out) -> str | None:
    """The algorithm of the Conv2d node that made ``out`` (None for an unbatched input: its node is a squeeze)."""
    plan = getattr(out.grad_fn, "plan", None)
    return None if plan is None else plan.algorithm


def _check(data, config: dict, algorithm: str | None = None) -> None:
    """Compare conv2d with PyTorch's on drawn arrays for ``config``; assert the algorithm minidl picked."""
    x = data.draw(arrays(config["x"], dtype=F32, low=-1, high=1))
    w = data.draw(arrays(config["w"], dtype=F32, low=-1, high=1))
    kwargs = config["kwargs"]
    seen = []  # the algorithm of each call (the graph node is cleared by backward)

    def ours(*ts):
        out = F.conv2d(*ts, **kwargs)
        seen.append(_algorithm(out))
        return out

    if config["bias"] is None:
        compare(ours, lambda a, b: TF.conv2d(a, b, **kwargs), x, w)
    else:
        b = data.draw(arrays(config["bias"], dtype=F32, low=-1, high=1))
        compare(ours, lambda a, b_, c: TF.conv2d(a, b_, c, **kwargs), x, w, b)
    if algorithm is not None:
        assert seen == [algorithm]


@given(data=st.data())
def test_conv2d_matches_torch(data):
    _check(data, data.draw(conv_configs()))


@given(data=st.data())
def test_depthwise_conv2d_matches_torch(data):
    _check(data, data.draw(conv_configs("depthwise")), "depthwise")


@given(data=st.data())
def test_pointwise_conv2d_matches_torch(data):
    _check(data, data.draw(conv_configs("pointwise")), "pointwise")


@pytest.mark.parametrize("stride", [1, 2, (1, 3), (3, 2)])
def test_pointwise_conv2d_with_and_without_stride_matches_torch(stride):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (2, 3, 7, 8)).astype(F32)
    w = rng.uniform(-1, 1, (5, 3, 1, 1)).astype(F32)
    b = rng.uniform(-1, 1, 5).astype(F32)
    seen = []

    def ours(*ts):
        out = F.conv2d(*ts, stride=stride)
        seen.append(_algorithm(out))
        return out

    compare(ours, lambda *ts: TF.conv2d(*ts, stride=stride), x, w, b)
    compare(ours, lambda *ts: TF.conv2d(*ts, stride=stride), x[:, :, ::-1].transpose(0, 1, 3, 2), w)
    assert seen == ["pointwise", "pointwise"]


@given(data=st.data())
def test_im2col_conv2d_matches_torch(data):
    _check(data, data.draw(conv_configs("im2col")), "im2col")


def test_one_by_one_kernel_with_padding_or_groups_runs_im2col_and_matches_torch():
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (2, 4, 5, 6)).astype(F32)
    for w_shape, kwargs in [((3, 4, 1, 1), {"padding": 1}), ((6, 2, 1, 1), {"groups": 2, "stride": 2})]:
        w = rng.uniform(-1, 1, w_shape).astype(F32)
        seen = []

        def ours(*ts, kwargs=kwargs, seen=seen):
            out = F.conv2d(*ts, **kwargs)
            seen.append(_algorithm(out))
            return out

        compare(ours, lambda *ts, kwargs=kwargs: TF.conv2d(*ts, **kwargs), x, w)
        assert seen == ["im2col"]


@pytest.mark.parametrize("kernel", [(2, 2), (2, 3), (4, 1), (3, 3)])
@pytest.mark.parametrize("dilation", [1, (2, 1)])
def test_conv2d_same_padding_with_even_and_odd_kernels_matches_torch(kernel, dilation):
    """'same' pads an odd total one more at the bottom/right, as PyTorch does."""
    rng = np.random.default_rng(2)
    x = rng.uniform(-1, 1, (2, 2, 6, 5)).astype(F32)
    w = rng.uniform(-1, 1, (3, 2, *kernel)).astype(F32)
    compare(
        lambda a, b: F.conv2d(a, b, padding="same", dilation=dilation),
        lambda a, b: TF.conv2d(a, b, padding="same", dilation=dilation),
        x,
        w,
    )


def test_conv2d_with_a_constant_weight_matches_torch():
    """Only the input requires grad (a frozen layer), then only the weight (the input is data)."""
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, (2, 3, 6, 6)).astype(F32)
    w = rng.uniform(-1, 1, (4, 3, 3, 2)).astype(F32)
    for groups, w_ in [(1, w), (3, rng.uniform(-1, 1, (6, 1, 3, 3)).astype(F32))]:
        compare(
            lambda a, w_=w_, g=groups: F.conv2d(a, minidl.from_numpy(w_), padding=1, groups=g),
            lambda a, w_=w_, g=groups: TF.conv2d(a, _torch_constant(w_, a), padding=1, groups=g),
            x,
        )
        compare(
            lambda b, g=groups: F.conv2d(minidl.from_numpy(x), b, stride=2, groups=g),
            lambda b, g=groups: TF.conv2d(_torch_constant(x, b), b, stride=2, groups=g),
            w_,
        )


def _torch_constant(array: np.ndarray, like):
    """A PyTorch constant holding ``array`` in the dtype of ``like`` (compare_with_torch runs float32 and float64)."""
    return torch.from_numpy(np.array(array)).to(like.dtype)


# ---------------------------------------------------------------------------------------------------------- errors


def _t(*shape):
    return minidl.zeros(*shape)


def test_conv2d_wrong_channel_count_names_expected_and_given():
    with pytest.raises(ValueError, match=r"expects 3 input channels, but the input \(1, 2, 5, 5\) has 2 channels"):
        F.conv2d(_t(1, 2, 5, 5), _t(4, 3, 3, 3))
    with pytest.raises(ValueError, match=r"expects 4 input channels, but the input \(1, 6, 5, 5\) has 6 channels"):
        F.conv2d(_t(1, 6, 5, 5), _t(4, 2, 3, 3), groups=2)


def test_conv2d_groups_must_divide_the_channels():
    with pytest.raises(ValueError, match=r"groups=2 must divide both the input channels \(3\)"):
        F.conv2d(_t(1, 3, 5, 5), _t(4, 1, 3, 3), groups=2)
    with pytest.raises(ValueError, match=r"groups=2 must divide .* the output channels \(3\)"):
        F.conv2d(_t(1, 4, 5, 5), _t(3, 2, 3, 3), groups=2)
    with pytest.raises(ValueError, match=r"groups must be a positive integer, got 0"):
        F.conv2d(_t(1, 4, 5, 5), _t(3, 2, 3, 3), groups=0)


def test_conv2d_kernel_larger_than_padded_input():
    with pytest.raises(ValueError, match=r"kernel \(5×3 .*\) is larger than the padded input \(4×6"):
        F.conv2d(_t(1, 1, 4, 6), _t(1, 1, 5, 3))
    with pytest.raises(ValueError, match=r"kernel \(5×5 with dilation \(2, 2\)\) is larger than the padded input"):
        F.conv2d(_t(1, 1, 4, 4), _t(1, 1, 3, 3), dilation=2)
    F.conv2d(_t(1, 1, 4, 6), _t(1, 1, 5, 3), padding=(1, 0))  # fits once padded


@pytest.mark.parametrize("shape", [(5, 5), (1, 1, 1, 5, 5), (5,)])
def test_conv2d_needs_3d_or_4d_input(shape):
    with pytest.raises(ValueError, match=r"conv2d: expected a 3-D \(C, H, W\) or 4-D \(N, C, H, W\) input, got shape"):
        F.conv2d(_t(*shape), _t(1, 1, 1, 1))


def test_conv2d_same_padding_needs_stride_1():
    with pytest.raises(ValueError, match=r"padding='same' needs stride 1, got stride \(2, 2\)"):
        F.conv2d(_t(1, 1, 5, 5), _t(1, 1, 3, 3), stride=2, padding="same")
    with pytest.raises(ValueError, match=r"padding must be an int, a pair, 'valid' or 'same', got 'full'"):
        F.conv2d(_t(1, 1, 5, 5), _t(1, 1, 3, 3), padding="full")


def test_conv2d_bad_weight_and_bias_shapes():
    with pytest.raises(ValueError, match=r"weight must be a 4-D .* got \(3, 3\)"):
        F.conv2d(_t(1, 1, 5, 5), _t(3, 3))
    with pytest.raises(ValueError, match=r"bias must have shape \(4,\), got \(3,\)"):
        F.conv2d(_t(1, 3, 5, 5), _t(4, 3, 3, 3), _t(3))
