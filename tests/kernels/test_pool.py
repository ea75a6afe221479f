"""Max and average pooling: the Numba kernels against the NumPy reference, with output sizes computed as PyTorch
computes them (floor and ceil_mode), odd and prime sizes, non-contiguous views, ties, NaNs and infinities."""

import importlib

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from minidl_kernels import IMPLEMENTATIONS
from minidl_kernels import reference as ref

from tests.support import LAYOUTS, as_layout

NAMES = ["max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward"]


def _load(name, impl):
    module, attr = IMPLEMENTATIONS[name][impl].split(":")
    return getattr(importlib.import_module(module), attr)


max_forward, max_backward, avg_forward, avg_backward = (_load(name, "numba") for name in NAMES)
VIEWS = LAYOUTS


def pool_out(size: int, kernel: int, stride: int, pad: int, dilation: int, ceil_mode: bool) -> int:
    """PyTorch's pooling output size: floor or ceil, and with ceil_mode the last window must start inside the
    input or its left padding."""
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


@st.composite
def pool_configs(draw, dilated=True):
    """(shape, kernel, stride, padding, dilation, out_size) as PyTorch accepts them (padding <= kernel / 2)."""
    kh, kw = (draw(st.sampled_from([1, 2, 2, 3, 3, 4, 5])) for _ in range(2))
    sh, sw = (draw(st.sampled_from([1, 2, 2, 3])) for _ in range(2))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    dh, dw = (draw(st.sampled_from([1, 1, 1, 2, 3])) for _ in range(2)) if dilated else (1, 1)
    h = draw(st.integers(max(1, dh * (kh - 1) + 1 - 2 * ph), 19))
    w = draw(st.integers(max(1, dw * (kw - 1) + 1 - 2 * pw), 19))
    ceil_mode = draw(st.booleans())
    out = (pool_out(h, kh, sh, ph, dh, ceil_mode), pool_out(w, kw, sw, pw, dw, ceil_mode))
    shape = (draw(st.sampled_from([1, 2, 3])), draw(st.sampled_from([1, 2, 5])), h, w)
    # PyTorch also accepts dilated windows that fall between the input's rows (all -inf, an index out of range);
    # the contract excludes them: every window holds an input element.
    assume(all(_window_positions(shape, (kh, kw), (sh, sw), (ph, pw), (dh, dw), out).values()))
    return shape, (kh, kw), (sh, sw), (ph, pw), (dh, dw), out


def _values(rng, shape, kind, dtype):
    """Random normals; small integers (many ties); or normals with NaNs, or with +-inf, sprinkled in."""
    if kind == "ties":
        return rng.integers(-2, 3, size=shape).astype(dtype)
    x = rng.standard_normal(shape).astype(dtype)
    if kind == "nan":
        x[rng.random(shape) < 0.1] = np.nan
    if kind == "inf":
        x[rng.random(shape) < 0.1] = np.inf
        x[rng.random(shape) < 0.2] = -np.inf
    return x


def _window_positions(shape, kernel, stride, padding, dilation, out_size):
    """For every output (oh, ow): the set of flat input indices its window covers."""
    (_, _, h, w), (kh, kw), (sh, sw), (ph, pw), (dh, dw) = shape, kernel, stride, padding, dilation
    windows = {}
    for oh in range(out_size[0]):
        rows = [r for r in range(oh * sh - ph, oh * sh - ph + kh * dh, dh) if 0 <= r < h]
        for ow in range(out_size[1]):
            cols = [q for q in range(ow * sw - pw, ow * sw - pw + kw * dw, dw) if 0 <= q < w]
            windows[oh, ow] = {r * w + q for r in rows for q in cols}
    return windows


def test_every_kernel_is_registered():
    for name in NAMES:
        assert IMPLEMENTATIONS[name]["numba"].startswith("minidl_kernels.numba.pool:")
        assert callable(_load(name, "numba"))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["normal", "ties", "nan", "inf"])
@given(config=pool_configs(), view=st.sampled_from(VIEWS), seed=st.integers(0, 2**32 - 1))
def test_max_pool_matches_the_reference(dtype, kind, config, view, seed):
    shape, kernel, stride, padding, dilation, out_size = config
    rng = np.random.default_rng(seed)
    x = _values(rng, shape, kind, dtype)
    out, indices = max_forward(as_layout(x, view), kernel, stride, padding, dilation, out_size)
    expected, expected_indices = ref.max_pool2d_forward(x, kernel, stride, padding, dilation, out_size)
    assert out.dtype == dtype and indices.dtype == np.int64 and out.shape == indices.shape == (*shape[:2], *out_size)
    np.testing.assert_array_equal(out, expected)  # NaN == NaN here
    # (A window whose only values are -inf points at its first element inside the input, as in PyTorch.)
    np.testing.assert_array_equal(indices, expected_indices)
    g = rng.standard_normal(out.shape).astype(dtype)
    dx = max_backward(as_layout(g, view), as_layout(indices, view), shape)
    assert dx.dtype == dtype and dx.shape == shape
    np.testing.assert_allclose(
        dx, ref.max_pool2d_backward(g, indices, shape), rtol=1e-6 if dtype == np.float32 else 1e-14
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "ceil_mode"),
    [((2, 2), (2, 2), (0, 0), False), ((2, 2), (2, 2), (1, 1), True), ((2, 2), (1, 1), (0, 1), False),
     ((3, 3), (2, 2), (1, 1), False), ((3, 3), (2, 2), (1, 1), True), ((3, 3), (1, 1), (1, 1), False),
     ((3, 3), (2, 1), (0, 1), True), ((2, 3), (2, 2), (1, 1), True)],
)  # fmt: skip
def test_max_pool_unrolled_windows_and_borders(dtype, kernel, stride, padding, ceil_mode):
    """The 2x2 and 3x3 windows of finite planes take an unrolled path, border windows and planes holding a NaN
    or an infinity the general one: planes of both kinds, with ties, in one batch."""
    rng = np.random.default_rng(sum(kernel) + 10 * sum(stride))
    x = rng.integers(-3, 4, size=(2, 3, 17, 23)).astype(dtype)
    x[0, 1, 5, 7], x[1, 2, 16, 22], x[1, 0, 8, 9] = np.nan, np.inf, -np.inf
    for dilation in [(1, 1), (2, 1)]:
        out_size = tuple(
            pool_out(s, k, st_, p, d, ceil_mode)
            for s, k, st_, p, d in zip(x.shape[2:], kernel, stride, padding, dilation)
        )
        out, indices = max_forward(x, kernel, stride, padding, dilation, out_size)
        expected, expected_indices = ref.max_pool2d_forward(x, kernel, stride, padding, dilation, out_size)
        np.testing.assert_array_equal(out, expected)
        np.testing.assert_array_equal(indices, expected_indices)


def test_max_pool_last_nan_and_first_maximum_win():
    x = np.array([[[[1.0, 3.0, 3.0], [np.nan, 2.0, np.nan]]]])
    out, indices = max_forward(x, (2, 3), (1, 1), (0, 0), (1, 1), (1, 1))
    assert np.isnan(out[0, 0, 0, 0]) and indices[0, 0, 0, 0] == 5  # PyTorch's rule: larger or NaN replaces
    out, indices = max_forward(x[:, :, :1], (1, 3), (1, 1), (0, 0), (1, 1), (1, 1))
    assert out[0, 0, 0, 0] == 3.0 and indices[0, 0, 0, 0] == 1


def test_max_pool_windows_of_minus_infinity_point_inside_the_input():
    # As PyTorch: each window's first element inside the input, never a padding position.
    for dtype in (np.float32, np.float64):
        out, indices = max_forward(np.full((1, 1, 3, 3), -np.inf, dtype=dtype), (2, 2), (2, 2), (1, 1), (1, 1), (2, 2))
        assert (out == -np.inf).all() and indices.tolist() == [[[[0, 1], [3, 4]]]]


def test_max_pool_backward_accumulates_where_windows_overlap():
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 5.0  # the maximum of all nine 3x3 windows (padding 1)
    _, indices = max_forward(x, (3, 3), (1, 1), (1, 1), (1, 1), (3, 3))
    assert (indices == 4).all()
    dx = max_backward(np.arange(9.0).reshape(1, 1, 3, 3), indices, x.shape)
    assert dx[0, 0, 1, 1] == 36.0 and dx.sum() == 36.0


def test_max_pool_bad_arguments_are_refused():
    x = np.zeros((1, 1, 4, 4))
    with pytest.raises(ValueError, match="out_size with Ho = 2 expected"):
        max_forward(x, (2, 2), (2, 2), (0, 0), (1, 1), (4, 4))
    with pytest.raises(ValueError, match="no input element"):  # window 1 reads rows -1 and 2 of 2
        max_forward(np.zeros((1, 1, 2, 2)), (2, 1), (1, 1), (2, 0), (3, 1), (3, 2))
    with pytest.raises(ValueError, match="4-D"):
        max_forward(np.zeros((4, 4)), (2, 2), (2, 2), (0, 0), (1, 1), (2, 2))
    with pytest.raises(TypeError, match="float32 or float64"):
        max_forward(x.astype(np.int64), (2, 2), (2, 2), (0, 0), (1, 1), (2, 2))
    with pytest.raises(IndexError, match="out of range"):
        max_backward(np.ones((1, 1, 1, 1)), np.full((1, 1, 1, 1), 16, dtype=np.int64), x.shape)
    with pytest.raises(IndexError, match="out of range"):
        max_backward(np.ones((1, 1, 1, 1)), np.full((1, 1, 1, 1), -1, dtype=np.int64), x.shape)
    with pytest.raises(ValueError, match="indices"):
        max_backward(np.ones((1, 1, 2, 2)), np.zeros((1, 1, 1, 2), dtype=np.int64), x.shape)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(
    config=pool_configs(dilated=False),
    count_include_pad=st.booleans(),
    divisor=st.sampled_from([None, 1, 2, 7]),
    view=st.sampled_from(VIEWS),
    seed=st.integers(0, 2**32 - 1),
)
def test_avg_pool_matches_the_reference(dtype, config, count_include_pad, divisor, view, seed):
    shape, kernel, stride, padding, _, out_size = config
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    tol = 1e-12 if dtype == np.float64 else 1e-6
    out = avg_forward(as_layout(x, view), kernel, stride, padding, out_size, count_include_pad, divisor)
    expected = ref.avg_pool2d_forward(
        x.astype(np.float64), kernel, stride, padding, out_size, count_include_pad, divisor
    )
    assert out.dtype == dtype and out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=tol, atol=tol)
    g = rng.standard_normal(out.shape).astype(dtype)
    dx = avg_backward(as_layout(g, view), shape, kernel, stride, padding, count_include_pad, divisor)
    expected = ref.avg_pool2d_backward(g.astype(np.float64), shape, kernel, stride, padding, count_include_pad, divisor)
    assert dx.dtype == dtype and dx.shape == shape
    np.testing.assert_allclose(dx, expected, rtol=tol, atol=tol)


def test_avg_pool_divisors():
    x = np.ones((1, 1, 3, 3))
    # 2x2 windows, stride 2, padding 1, ceil_mode -> 2x2 outputs, each window holding 1, 2, 2 or 4 real elements
    assert avg_forward(x, (2, 2), (2, 2), (1, 1), (2, 2), True).tolist() == [[[[0.25, 0.5], [0.5, 1.0]]]]
    assert avg_forward(x, (2, 2), (2, 2), (1, 1), (2, 2), False).tolist() == [[[[1.0, 1.0], [1.0, 1.0]]]]
    assert avg_forward(x, (2, 2), (2, 2), (1, 1), (2, 2), True, 2).tolist() == [[[[0.5, 1.0], [1.0, 2.0]]]]
    # ceil_mode: the last window runs past the padded input and is clipped to it before counting
    assert avg_forward(np.ones((1, 1, 1, 4)), (1, 3), (1, 2), (0, 0), (1, 2), True).tolist() == [[[[1.0, 1.0]]]]
    # (the windows [-1, 2), [1, 4), [3, 6) -> [3, 5): one real element and one of padding)
    assert avg_forward(np.ones((1, 1, 1, 4)), (1, 3), (1, 2), (0, 1), (1, 3), True).tolist() == [[[[2 / 3, 1.0, 0.5]]]]


def test_avg_pool_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="4-D"):
        avg_forward(np.zeros((3, 3)), (2, 2), (2, 2), (0, 0), (1, 1))
    with pytest.raises(TypeError, match="float32 or float64"):
        avg_backward(np.zeros((1, 1, 1, 1), dtype=np.int32), (1, 1, 2, 2), (2, 2), (2, 2), (0, 0))
    with pytest.raises(ValueError, match=">= 1"):
        avg_forward(np.zeros((1, 1, 3, 3)), (0, 2), (2, 2), (0, 0), (1, 1))
