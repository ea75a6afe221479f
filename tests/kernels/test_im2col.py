"""im2col / col2im: the Numba and Cython kernels against the NumPy reference, at odd sizes, asymmetric padding,
stride and dilation > 1, and non-contiguous views."""

import importlib

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from minidl_kernels import IMPLEMENTATIONS
from minidl_kernels.reference import conv_output_size


def _load(name, impl):
    module, attr = IMPLEMENTATIONS[name][impl].split(":")
    return getattr(importlib.import_module(module), attr)


REF_IM2COL, REF_COL2IM = _load("im2col", "reference"), _load("col2im", "reference")
COMPILED = [pytest.param(_load("im2col", impl), _load("col2im", impl), id=impl) for impl in ("numba", "cython")]
ALL = [pytest.param(REF_IM2COL, REF_COL2IM, id="reference"), *COMPILED]
DTYPES = [np.float32, np.float64]


def _layout(array, layout):
    """The same values as ``array`` in another memory layout: a strided view, a transposed copy seen through a
    transpose, or a reversed view."""
    if layout == "strided":
        big = np.zeros(tuple(2 * s for s in array.shape), dtype=array.dtype)
        big[tuple(slice(None, None, 2) for _ in array.shape)] = array
        view = big[tuple(slice(None, None, 2) for _ in array.shape)]
    elif layout == "transposed":
        axes = tuple(reversed(range(array.ndim)))
        view = np.ascontiguousarray(array.transpose(axes)).transpose(axes)
    elif layout == "reversed":
        view = array[::-1].copy()[::-1]
    else:
        return array
    assert np.array_equal(view, array)
    return view


@st.composite
def conv_configs(draw):
    """(x_shape, kernel_size, stride, padding, dilation) whose output has at least one pixel."""
    n, c = draw(st.sampled_from([1, 2, 3])), draw(st.sampled_from([1, 2, 5]))
    h, w = draw(st.sampled_from([1, 2, 3, 7, 13])), draw(st.sampled_from([1, 2, 5, 11, 17, 37]))
    kernel = (draw(st.sampled_from([1, 2, 3, 5])), draw(st.sampled_from([1, 2, 3, 4])))
    stride = (draw(st.sampled_from([1, 1, 2, 3])), draw(st.sampled_from([1, 1, 2, 3])))
    dilation = (draw(st.sampled_from([1, 1, 2])), draw(st.sampled_from([1, 1, 3])))
    padding = tuple(draw(st.integers(0, 3)) for _ in range(4))
    ho, wo = conv_output_size((h, w), kernel, stride, padding, dilation)
    assume(ho >= 1 and wo >= 1)
    return (n, c, h, w), kernel, stride, padding, dilation


LAYOUTS = st.sampled_from(["contiguous", "contiguous", "strided", "transposed", "reversed"])


def test_every_implementation_is_there():
    assert set(IMPLEMENTATIONS["im2col"]) == {"reference", "numba", "cython"}
    assert set(IMPLEMENTATIONS["col2im"]) == {"reference", "numba", "cython"}


@pytest.mark.parametrize(("im2col", "col2im"), COMPILED)
@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=60, deadline=None)
@given(config=conv_configs(), layout=LAYOUTS, seed=st.integers(0, 2**32 - 1))
def test_im2col_matches_the_reference(im2col, col2im, dtype, config, layout, seed):
    x_shape, *args = config
    x = np.random.default_rng(seed).standard_normal(x_shape).astype(dtype)
    expected = REF_IM2COL(x, *args)
    cols = im2col(_layout(x, layout), *args)
    assert cols.dtype == dtype and cols.flags.c_contiguous
    np.testing.assert_array_equal(cols, expected)  # a copy: exact


@pytest.mark.parametrize(("im2col", "col2im"), COMPILED)
@pytest.mark.parametrize("dtype", DTYPES)
@settings(max_examples=60, deadline=None)
@given(config=conv_configs(), layout=LAYOUTS, seed=st.integers(0, 2**32 - 1))
def test_col2im_matches_the_reference(im2col, col2im, dtype, config, layout, seed):
    x_shape, kernel, *rest = config
    ho, wo = conv_output_size(x_shape[2:], kernel, *rest[:2], rest[2])
    cols_shape = (x_shape[0], x_shape[1] * kernel[0] * kernel[1], ho * wo)
    cols = np.random.default_rng(seed).standard_normal(cols_shape).astype(dtype)
    expected = REF_COL2IM(cols, x_shape, kernel, *rest)
    dx = col2im(_layout(cols, layout), x_shape, kernel, *rest)
    assert dx.shape == x_shape and dx.dtype == dtype and dx.flags.c_contiguous
    tol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(dx, expected, rtol=tol, atol=tol)


@pytest.mark.parametrize(("im2col", "col2im"), ALL)
def test_col2im_accumulates_overlapping_windows(im2col, col2im):
    # A 2x2 window sliding with stride 1 over a 3x3 image covers the centre 4 times, the edges twice.
    args = ((2, 2), (1, 1), (0, 0, 0, 0), (1, 1))
    dx = col2im(np.ones((1, 4, 4)), (1, 1, 3, 3), *args)
    np.testing.assert_array_equal(dx[0, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]])
    # ... and im2col reads the same windows.
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    np.testing.assert_array_equal(im2col(x, *args)[0], [[0, 1, 3, 4], [1, 2, 4, 5], [3, 4, 6, 7], [4, 5, 7, 8]])


@pytest.mark.parametrize(("im2col", "col2im"), COMPILED)
@pytest.mark.parametrize(
    "case",
    [
        ((2, 3, 32, 32), (3, 3), (1, 1), (1, 1, 1, 1), (1, 1)),  # ResNet 3x3: segments of two 64-byte chunks
        ((3, 1, 28, 28), (5, 5), (1, 1), (2, 2, 2, 2), (1, 1)),  # LeNet conv1
        ((2, 6, 14, 14), (5, 5), (1, 1), (0, 0, 0, 0), (1, 1)),  # LeNet conv2
        ((1, 2, 9, 70), (2, 4), (1, 1), (0, 1, 3, 0), (2, 1)),  # segments of 5 chunks, 'same'-style padding
        ((2, 2, 5, 8), (1, 1), (1, 1), (0, 0, 0, 0), (1, 1)),  # 1x1: cols is x itself
    ],
)
def test_network_shapes_and_the_adjoint_identity(im2col, col2im, case):
    x_shape, *args = case
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape)
    cols = im2col(x, *args)
    np.testing.assert_array_equal(cols, REF_IM2COL(x, *args))
    g = rng.standard_normal(cols.shape)
    dx = col2im(g, x_shape, *args)
    np.testing.assert_allclose(dx, REF_COL2IM(g, x_shape, *args), rtol=1e-13, atol=1e-13)
    # col2im is the adjoint of im2col: <im2col(x), g> == <x, col2im(g)>.
    np.testing.assert_allclose(np.vdot(cols, g), np.vdot(x, dx), rtol=1e-12)


@pytest.mark.parametrize(("im2col", "col2im"), COMPILED)
def test_empty_batches(im2col, col2im):
    args = ((3, 3), (1, 1), (1, 1, 1, 1), (1, 1))
    assert im2col(np.zeros((0, 2, 4, 4), np.float32), *args).shape == (0, 18, 16)
    assert col2im(np.zeros((0, 18, 16)), (0, 2, 4, 4), *args).shape == (0, 2, 4, 4)


@pytest.mark.parametrize(("im2col", "col2im"), COMPILED)
def test_bad_arguments_are_refused(im2col, col2im):
    x = np.zeros((1, 1, 4, 4), np.float32)
    with pytest.raises(ValueError, match="does not fit"):
        im2col(x, (5, 5), (1, 1), (0, 0, 0, 0), (1, 1))
    with pytest.raises(ValueError, match="stride must be 2 integers >= 1"):
        im2col(x, (3, 3), (0, 1), (0, 0, 0, 0), (1, 1))
    with pytest.raises(ValueError, match=r"padding \(top, bottom, left, right\) must be 4 integers >= 0"):
        im2col(x, (3, 3), (1, 1), (0, -1, 0, 0), (1, 1))
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        im2col(np.zeros((4, 4), np.float32), (3, 3), (1, 1), (0, 0, 0, 0), (1, 1))
    with pytest.raises(TypeError, match="int64"):
        im2col(np.zeros((1, 1, 4, 4), np.int64), (3, 3), (1, 1), (0, 0, 0, 0), (1, 1))
    with pytest.raises(ValueError, match=r"cols of shape \(1, 9, 4\) .* expected, got \(1, 9, 5\)"):
        col2im(np.zeros((1, 9, 5)), (1, 1, 4, 4), (3, 3), (1, 1), (0, 0, 0, 0), (1, 1))


def test_cython_kernel_is_compiled():
    module = importlib.import_module("minidl_kernels.cython.im2col")
    assert module.__file__.endswith((".so", ".pyd")), module.__file__
