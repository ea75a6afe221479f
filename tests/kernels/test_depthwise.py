"""Depthwise convolution: the Numba kernels against the NumPy reference, on drawn configurations (odd and prime
sizes, channel multipliers, strides, dilations, asymmetric padding) and on non-contiguous views of the inputs."""

import contextlib
import importlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from minidl_kernels import IMPLEMENTATIONS
from minidl_kernels import reference as ref

from tests.support import LAYOUTS, as_layout

NAMES = ["depthwise_conv2d_forward", "depthwise_conv2d_backward_input", "depthwise_conv2d_backward_weight"]


def _load(name, impl):
    module, attr = IMPLEMENTATIONS[name][impl].split(":")
    return getattr(importlib.import_module(module), attr)


forward, backward_input, backward_weight = (_load(name, "numba") for name in NAMES)
depthwise_module = importlib.import_module(IMPLEMENTATIONS[NAMES[0]]["numba"].split(":")[0])
VIEWS = LAYOUTS


def _assert_close(actual: np.ndarray, expected: np.ndarray, dtype) -> None:
    """Compare with a float64 truth: float64 to ~1e-10, float32 to ~1e-5 of the result's scale."""
    assert actual.dtype == dtype and actual.shape == expected.shape
    tol = 1e-10 if dtype == np.float64 else 2e-5
    scale = 1.0 + np.abs(expected).max(initial=0.0)
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol * scale)


@st.composite
def configs(draw):
    """(x, weight, stride, padding (t, b, l, r), dilation) with at least one output position, float64."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n, c, m = draw(st.sampled_from([1, 2, 3])), draw(st.sampled_from([1, 2, 3, 5])), draw(st.sampled_from([1, 2, 3]))
    kh, kw = (draw(st.sampled_from([1, 2, 3, 3, 3, 4, 5])) for _ in range(2))
    sh, sw = (draw(st.sampled_from([1, 1, 2, 3])) for _ in range(2))
    dh, dw = (draw(st.sampled_from([1, 1, 2, 3])) for _ in range(2))
    pad = tuple(draw(st.integers(0, 3)) for _ in range(4))
    h_min, w_min = max(1, dh * (kh - 1) + 1 - pad[0] - pad[1]), max(1, dw * (kw - 1) + 1 - pad[2] - pad[3])
    h, w = draw(st.integers(h_min, h_min + 12)), draw(st.integers(w_min, w_min + 12))
    x = rng.standard_normal((n, c, h, w))
    weight = rng.standard_normal((c * m, 1, kh, kw))
    return x, weight, (sh, sw), pad, (dh, dw)


def _check_all(x, weight, stride, pad, dilation, dtype, views=("contiguous",) * 3, seed=0):
    """Every kernel on dtype-rounded inputs, against the reference run in float64 on the same values."""
    x, weight = x.astype(dtype), weight.astype(dtype)
    expected = ref.depthwise_conv2d_forward(x.astype(np.float64), weight.astype(np.float64), stride, pad, dilation)
    out = forward(as_layout(x, views[0]), as_layout(weight, views[1]), stride, pad, dilation)
    _assert_close(out, expected, dtype)
    assert out.flags.c_contiguous
    g = np.random.default_rng(seed).standard_normal(expected.shape).astype(dtype)
    g64 = g.astype(np.float64)
    dx = backward_input(as_layout(g, views[2]), as_layout(weight, views[1]), x.shape, stride, pad, dilation)
    _assert_close(
        dx, ref.depthwise_conv2d_backward_input(g64, weight.astype(np.float64), x.shape, stride, pad, dilation), dtype
    )
    dw = backward_weight(as_layout(g, views[2]), as_layout(x, views[0]), weight.shape, stride, pad, dilation)
    _assert_close(
        dw, ref.depthwise_conv2d_backward_weight(g64, x.astype(np.float64), weight.shape, stride, pad, dilation), dtype
    )


def test_every_kernel_is_registered():
    for name in NAMES:
        assert IMPLEMENTATIONS[name]["numba"].startswith("minidl_kernels.numba.depthwise:")
        assert callable(_load(name, "numba"))


@contextlib.contextmanager
def _path(path: str):
    """Force the planar kernels (``_same_3x3`` included), or the channels-last ones wherever m = 1, whatever the
    output map's size."""
    names = ("CHANNELS_LAST_MAX_PIXELS", "SAME_3X3_CHANNELS_LAST_MAX_PIXELS")
    saved = [getattr(depthwise_module, name) for name in names]
    for name in names:
        setattr(depthwise_module, name, 0 if path == "planar" else 10**9)
    try:
        yield
    finally:
        for name, value in zip(names, saved):
            setattr(depthwise_module, name, value)


@pytest.mark.parametrize("path", ["planar", "channels-last"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(config=configs(), views=st.tuples(*(st.sampled_from(VIEWS) for _ in range(3))), seed=st.integers(0, 99))
def test_matches_the_reference(path, dtype, config, views, seed):
    with _path(path):
        _check_all(*config, dtype, views, seed)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("hw", [(1, 1), (1, 6), (2, 3), (9, 13), (17, 31), (32, 32)])
def test_the_same_3x3_kernel(dtype, hw):
    """3×3 taps per channel, stride 1, padding 1: the forward pass and input gradient run ``_same_3x3`` (forced onto
    small maps too, which otherwise go channels-last), on odd sizes and on non-contiguous views."""
    rng = np.random.default_rng(hw[0] * 100 + hw[1])
    x, weight = rng.standard_normal((3, 5, *hw)), rng.standard_normal((5, 1, 3, 3))
    assert depthwise_module._use_same_3x3(5, weight.shape, (1, 1), (1, 1, 1, 1), (1, 1))
    assert not depthwise_module._use_same_3x3(5, (10, 1, 3, 3), (1, 1), (1, 1, 1, 1), (1, 1))  # m = 2
    assert not depthwise_module._use_same_3x3(5, weight.shape, (1, 1), (1, 0, 1, 1), (1, 1))
    with _path("planar"):
        _check_all(x, weight, (1, 1), (1, 1, 1, 1), (1, 1), dtype)
        _check_all(x, weight, (1, 1), (1, 1, 1, 1), (1, 1), dtype, views=("strided", "reversed", "transposed"))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("shape", "stride"), [((3, 40, 4, 4), (1, 1)), ((2, 24, 8, 8), (2, 2)), ((5, 17, 2, 3), (1, 1))]
)
def test_small_maps_run_channels_last(dtype, shape, stride):
    """MobileNet-like small maps with one filter per channel take the channels-last kernels by default."""
    rng = np.random.default_rng(3)
    x, weight = rng.standard_normal(shape), rng.standard_normal((shape[1], 1, 3, 3))
    ho, wo = ((size + 2 - 3) // s + 1 for size, s in zip(shape[2:], stride))
    assert depthwise_module._use_channels_last(shape[1], shape[1], (ho, wo))
    _check_all(x, weight, stride, (1, 1, 1, 1), (1, 1), dtype, views=("transposed", "strided", "reversed"))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m", [1, 2])
@pytest.mark.parametrize("dilation", [(1, 1), (2, 1), (1, 3)])
def test_the_3x3_stride_1_fast_path_on_larger_planes(dtype, m, dilation):
    rng = np.random.default_rng(m)
    x = rng.standard_normal((2, 3, 17, 31))
    weight = rng.standard_normal((3 * m, 1, 3, 3))
    _check_all(x, weight, (1, 1), (1, 1, 1, 1), dilation, dtype)
    _check_all(x, weight, (1, 1), (0, 2, 3, 0), dilation, dtype, views=("reversed", "transposed", "strided"))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("stride", [(1, 1), (2, 2), (2, 1), (1, 3)])
def test_small_planes_stacked_in_groups(dtype, stride):
    """Small planes of a channel are stacked several images at a time: 7 images of 16x16 make groups of 5 and 2;
    4x4 planes make one group of all 37 images."""
    rng = np.random.default_rng(sum(stride))
    _check_all(
        rng.standard_normal((7, 3, 16, 16)), rng.standard_normal((6, 1, 3, 3)), stride, (1, 1, 1, 1), (1, 1), dtype
    )
    _check_all(
        rng.standard_normal((37, 2, 4, 4)), rng.standard_normal((2, 1, 3, 3)), stride, (1, 1, 1, 1), (1, 1), dtype
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("kernel", "stride", "pad"),
    [
        ((2, 2), (1, 1), (3, 0, 0, 3)),
        ((1, 1), (1, 1), (2, 2, 2, 2)),
        ((3, 1), (2, 1), (4, 1, 0, 2)),
        ((5, 5), (3, 2), (3, 3, 3, 3)),
    ],
)
def test_padding_wider_than_the_kernel(dtype, kernel, stride, pad):
    rng = np.random.default_rng(7)
    _check_all(rng.standard_normal((2, 2, 5, 7)), rng.standard_normal((4, 1, *kernel)), stride, pad, (1, 1), dtype)


def test_one_pixel_and_one_channel():
    x, weight = np.full((1, 1, 1, 1), 2.0), np.full((1, 1, 1, 1), 3.0)
    assert forward(x, weight, (1, 1), (0, 0, 0, 0), (1, 1)).tolist() == [[[[6.0]]]]
    assert backward_input(np.ones((1, 1, 1, 1)), weight, x.shape, (1, 1), (0, 0, 0, 0), (1, 1)).tolist() == [[[[3.0]]]]
    assert backward_weight(np.ones((1, 1, 1, 1)), x, weight.shape, (1, 1), (0, 0, 0, 0), (1, 1)).tolist() == [[[[2.0]]]]


def test_dtypes_follow_the_reference():
    rng = np.random.default_rng(0)
    x32, w64 = rng.standard_normal((1, 2, 5, 5)).astype(np.float32), rng.standard_normal((4, 1, 3, 3))
    args = ((1, 1), (1, 1, 1, 1), (1, 1))
    assert forward(x32, w64, *args).dtype == ref.depthwise_conv2d_forward(x32, w64, *args).dtype == np.float32
    g32 = np.ones((1, 4, 5, 5), dtype=np.float32)
    assert backward_input(g32, w64, x32.shape, *args).dtype == np.float32
    assert backward_weight(g32, x32.astype(np.float64), w64.shape, *args).dtype == np.float32


def test_an_empty_batch_gives_empty_results():
    x, weight, args = np.zeros((0, 2, 5, 5)), np.ones((2, 1, 3, 3)), ((1, 1), (1, 1, 1, 1), (1, 1))
    assert forward(x, weight, *args).shape == (0, 2, 5, 5)
    assert backward_input(np.zeros((0, 2, 5, 5)), weight, x.shape, *args).shape == (0, 2, 5, 5)
    assert backward_weight(np.zeros((0, 2, 5, 5)), x, weight.shape, *args).tolist() == np.zeros((2, 1, 3, 3)).tolist()


def test_bad_arguments_are_refused():
    args = ((1, 1), (0, 0, 0, 0), (1, 1))
    with pytest.raises(TypeError, match="float32 or float64"):
        forward(np.ones((1, 1, 3, 3), dtype=np.int64), np.ones((1, 1, 1, 1)), *args)
    with pytest.raises(ValueError, match=r"with C = 2 >= 1 and m >= 1 expected, got \(3, 1, 1, 1\)"):
        forward(np.ones((1, 2, 3, 3)), np.ones((3, 1, 1, 1)), *args)
    with pytest.raises(ValueError, match=r"\(C \* m, 1, kh, kw\)"):
        forward(np.ones((1, 2, 3, 3)), np.ones((2, 2, 1, 1)), *args)
    with pytest.raises(ValueError, match=r"\(C \* m, 1, kh, kw\) with C = 2"):
        backward_input(np.ones((1, 3, 3, 3)), np.ones((3, 1, 1, 1)), (1, 2, 3, 3), *args)
    with pytest.raises(TypeError, match="float32 or float64"):
        backward_weight(np.ones((1, 1, 3, 3), dtype=np.int32), np.ones((1, 1, 3, 3)), (1, 1, 1, 1), *args)
