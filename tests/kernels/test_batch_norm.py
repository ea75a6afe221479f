"""Batch norm: the Numba kernels against the NumPy reference on drawn shapes (odd and prime sizes), with and without
weight and bias, on non-contiguous views, and on data whose mean dwarfs its spread (float64 sums, two passes)."""

import importlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from minidl_kernels import IMPLEMENTATIONS
from minidl_kernels import reference as ref

from tests.support import LAYOUTS, as_layout

NAMES = ["batch_norm_forward", "batch_norm_backward"]


def _load(name, impl):
    module, attr = IMPLEMENTATIONS[name][impl].split(":")
    return getattr(importlib.import_module(module), attr)


forward, backward = (_load(name, "numba") for name in NAMES)
VIEWS = LAYOUTS


def _assert_close(actual: np.ndarray, expected: np.ndarray, dtype, scale: float | None = None) -> None:
    """Compare with a float64 truth: ~1e-10 in float64, ~1e-5 in float32, relative to ``scale`` (by default the
    result's largest magnitude; the size of the terms that cancel when the result is a small difference)."""
    assert actual.dtype == dtype and actual.shape == expected.shape
    tol = 1e-10 if dtype == np.float64 else 1e-5
    scale = np.abs(expected).max(initial=0.0) if scale is None else scale
    np.testing.assert_allclose(actual, expected, rtol=tol, atol=tol * scale + 1e-300)


def test_every_kernel_is_registered():
    for name in NAMES:
        assert IMPLEMENTATIONS[name]["numba"].startswith("minidl_kernels.numba.norm:")
        assert callable(_load(name, "numba"))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(
    shape=st.tuples(
        st.sampled_from([1, 2, 3, 4, 7]), st.sampled_from([1, 2, 3, 5]), st.sampled_from([1, 2, 3, 7, 13, 31])
    ),
    affine=st.sampled_from(["both", "weight", "bias", "none"]),
    spread=st.sampled_from([1e-2, 1.0, 30.0]),
    offset=st.sampled_from([0.0, -1.0, 50.0]),
    eps=st.sampled_from([1e-5, 1e-3]),
    views=st.tuples(st.sampled_from(VIEWS), st.sampled_from(VIEWS)),
    seed=st.integers(0, 2**32 - 1),
)
def test_matches_the_reference(dtype, shape, affine, spread, offset, eps, views, seed):
    rng = np.random.default_rng(seed)
    c = shape[1]
    x = (rng.standard_normal(shape) * spread + offset).astype(dtype)
    weight = rng.standard_normal(c).astype(dtype) if affine in ("both", "weight") else None
    bias = rng.standard_normal(c).astype(dtype) if affine in ("both", "bias") else None
    w64, b64 = (None if a is None else a.astype(np.float64) for a in (weight, bias))
    out, mean, invstd, var = forward(as_layout(x, views[0]), weight, bias, eps)
    expected, expected_mean, expected_invstd, expected_var = ref.batch_norm_forward(x.astype(np.float64), w64, b64, eps)
    _assert_close(out, expected, dtype)
    _assert_close(mean, expected_mean, dtype)
    _assert_close(invstd, expected_invstd, dtype)
    _assert_close(var, expected_var, dtype)
    assert out.flags.c_contiguous
    # The backward pass takes the statistics as the forward pass gave them (rounded to x's dtype).
    g = rng.standard_normal(shape).astype(dtype)
    dx, dweight, dbias = backward(as_layout(g, views[1]), as_layout(x, views[0]), weight, mean, invstd)
    f64 = [a.astype(np.float64) for a in (g, x, mean, invstd)]
    expected_dx, expected_dweight, expected_dbias = ref.batch_norm_backward(f64[0], f64[1], w64, f64[2], f64[3])
    # dx = invstd * weight * (g - mean(g) - xhat * mean(g * xhat)): its terms may cancel (to zero when N * L <= 2).
    terms = np.abs(f64[0]).max() * np.abs(f64[3] * (1.0 if w64 is None else w64)).max()
    _assert_close(dx, expected_dx, dtype, scale=3 * terms)
    _assert_close(dweight, expected_dweight, dtype)
    _assert_close(dbias, expected_dbias, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_large_mean_does_not_spoil_the_variance(dtype):
    """Two passes, summed in float64: a one-pass E[x^2] - E[x]^2 in float32 would lose every digit here."""
    rng = np.random.default_rng(0)
    x = (1000.0 + rng.standard_normal((8, 3, 129)) * 0.01).astype(dtype)
    out, mean, invstd, var = forward(x, None, None, 0.0)
    x64 = x.astype(np.float64)
    true_var = x64.var(axis=(0, 2))
    np.testing.assert_allclose(var, true_var, rtol=1e-12 if dtype == np.float64 else 1e-6)
    np.testing.assert_allclose(invstd, 1 / np.sqrt(true_var), rtol=1e-12 if dtype == np.float64 else 1e-6)
    np.testing.assert_allclose(mean, x64.mean(axis=(0, 2)), rtol=1e-15 if dtype == np.float64 else 1e-7)
    np.testing.assert_allclose(out.std(axis=(0, 2), dtype=np.float64), 1.0, rtol=1e-6)


def test_one_value_per_channel():
    out, mean, invstd, _ = forward(np.array([[[3.0], [-2.0]]]), np.array([2.0, 1.0]), np.array([0.5, 0.0]), 0.25)
    assert out.tolist() == [[[0.5], [0.0]]] and mean.tolist() == [3.0, -2.0] and invstd.tolist() == [2.0, 2.0]


def test_results_are_new_arrays_of_x_dtype():
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    out, mean, invstd, _ = forward(x, np.ones(3), np.zeros(3), 1e-5)  # float64 weight and bias: still float32 results
    assert out.dtype == mean.dtype == invstd.dtype == np.float32
    assert not np.shares_memory(out, x)
    dx, dweight, dbias = backward(np.ones_like(x, dtype=np.float64), x, None, mean, invstd)
    assert dx.dtype == dweight.dtype == dbias.dtype == np.float32


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="3-D"):
        forward(np.ones((2, 3)), None, None, 1e-5)
    with pytest.raises(TypeError, match="float32 or float64"):
        forward(np.ones((2, 3, 4), dtype=np.int64), None, None, 1e-5)
    with pytest.raises(ValueError, match=r"weight of shape \(3,\) expected"):
        forward(np.ones((2, 3, 4)), np.ones(2), None, 1e-5)
    with pytest.raises(ValueError, match="same shape"):
        backward(np.ones((2, 3, 5)), np.ones((2, 3, 4)), None, np.zeros(3), np.ones(3))
    with pytest.raises(ValueError, match=r"mean of shape \(3,\) expected"):
        backward(np.ones((2, 3, 4)), np.ones((2, 3, 4)), None, np.zeros(4), np.ones(3))
