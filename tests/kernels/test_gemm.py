"""gemm: the Numba kernel against np.matmul, at sizes 1, primes and past one block, with any input strides."""

import importlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from minidl_kernels import IMPLEMENTATIONS
from minidl_kernels.numba import gemm as numba_gemm_module


def _load(impl):
    module, attr = IMPLEMENTATIONS["gemm"][impl].split(":")
    return getattr(importlib.import_module(module), attr)


IMPLS = [pytest.param(_load(impl), id=impl) for impl in IMPLEMENTATIONS["gemm"]]
COMPILED = [pytest.param(_load(impl), id=impl) for impl in IMPLEMENTATIONS["gemm"] if impl != "reference"]
RTOL = {np.float32: 1e-5, np.float64: 1e-12}


def _layout(matrix, layout):
    """The same values in another memory layout: C, Fortran (a transposed array), strided, or reversed."""
    if layout == "fortran":
        view = np.asfortranarray(matrix)
    elif layout == "strided":
        view = np.zeros((2 * matrix.shape[0], 3 * matrix.shape[1]), matrix.dtype)[::2, ::3]
        view[...] = matrix
    elif layout == "reversed":
        view = matrix[::-1, ::-1].copy()[::-1, ::-1]
    else:
        view = matrix
    assert np.array_equal(view, matrix)
    return view


def _check(c, a, b):
    """c == a @ b within a bound that grows with K: |c - a @ b| <= rtol * (|a| @ |b|), elementwise."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    scale = np.abs(a64) @ np.abs(b64)
    assert c.shape == (a.shape[0], b.shape[1]) and c.dtype == a.dtype and c.flags.c_contiguous
    err = np.abs(c.astype(np.float64) - a64 @ b64)
    worst = np.unravel_index(np.argmax(err - RTOL[a.dtype.type] * scale), err.shape) if err.size else None
    assert np.all(err <= RTOL[a.dtype.type] * scale + 1e-30), f"worst element {worst}: error {err[worst]}"


def test_every_implementation_is_there():
    assert set(IMPLEMENTATIONS["gemm"]) == {"reference", "numba"}


SIZES = st.sampled_from([1, 2, 3, 4, 5, 7, 13, 31, 64, 67, 131])
LAYOUTS = st.sampled_from(["c", "c", "fortran", "strided", "reversed"])


@pytest.mark.parametrize("gemm", COMPILED)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@settings(max_examples=60, deadline=None)
@given(m=SIZES, k=SIZES, n=SIZES, a_layout=LAYOUTS, b_layout=LAYOUTS, seed=st.integers(0, 2**32 - 1))
def test_matches_matmul(gemm, dtype, m, k, n, a_layout, b_layout, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    _check(gemm(_layout(a, a_layout), _layout(b, b_layout)), a, b)


@pytest.mark.parametrize("gemm", COMPILED)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("m", "k", "n"),
    [
        (1, 1, 1),
        (1, 1031, 1),  # K past one K-block, dot products of a row and a column
        (5, 2100, 3),  # K over two K-blocks plus a remainder
        (67, 300, 601),  # N over several L2 blocks of B, M and N not whole tiles
        (64, 576, 1024),  # a ResNet 3x3 convolution of one image: weights @ cols
        (256, 256, 256),
    ],
)
def test_sizes_past_a_block(gemm, dtype, m, k, n):
    rng = np.random.default_rng(m * k * n)
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    _check(gemm(a, b), a, b)
    _check(gemm(np.ascontiguousarray(a.T).T, np.ascontiguousarray(b.T).T), a, b)  # both transposed in memory


def test_block_sizes_are_exercised():
    # The sizes above cross the blocking of the Numba kernel: keep them in step if the blocks change.
    g = numba_gemm_module
    assert 2100 > 2 * g.KC and 601 > g.NCP * g.NR and 67 % g.MR and 601 % g.NR


@pytest.mark.parametrize("gemm", IMPLS)
def test_nan_and_inf_propagate_like_matmul(gemm):
    a = np.ones((5, 6), np.float32)
    b = np.ones((6, 7), np.float32)
    a[1, 2] = np.nan
    b[3, 4] = np.inf
    c, expected = gemm(a, b), a @ b
    np.testing.assert_array_equal(np.isnan(c), np.isnan(expected))
    np.testing.assert_array_equal(c[np.isfinite(expected)], expected[np.isfinite(expected)])


@pytest.mark.parametrize("gemm", IMPLS)
def test_empty_dimensions(gemm):
    assert gemm(np.zeros((0, 3)), np.zeros((3, 4))).shape == (0, 4)
    c = gemm(np.zeros((2, 0), np.float32), np.zeros((0, 3), np.float32))
    assert c.shape == (2, 3) and c.dtype == np.float32 and not c.any()


@pytest.mark.parametrize("gemm", IMPLS)
def test_bad_arguments_are_refused(gemm):
    with pytest.raises(ValueError, match=r"a \(M, K\) and b \(K, N\) expected"):
        gemm(np.zeros((2, 3)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"a \(M, K\) and b \(K, N\) expected"):
        gemm(np.zeros(3), np.zeros((3, 2)))
    with pytest.raises(TypeError, match="of one dtype expected, got float64 and float32"):
        gemm(np.zeros((2, 3)), np.zeros((3, 2), np.float32))


def test_numba_gemm_refuses_integer_matrices():
    with pytest.raises(TypeError, match="float32 or float64 array, got int64"):
        _load("numba")(np.zeros((2, 3), np.int64), np.zeros((3, 2), np.int64))
