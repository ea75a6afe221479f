"""gemm: the Numba kernel against np.matmul, at sizes 1, primes and past one block, with any input strides; its
stacked driver with tiny blocks, so that small matrices cross every block edge."""

import importlib
import threading

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
STACK_LAYOUTS = st.sampled_from(["c", "fortran", "strided"])


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
        (67, 300, 601),  # M and N not whole tiles
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
    # The sizes above cross the K-blocking and the tile edges: keep them in step if the blocks change.
    g = numba_gemm_module
    assert 1031 > 2 * g.KC and 2100 > 4 * g.KC and 67 % g.MR and 601 % g.panel_width(4) and 601 % g.panel_width(8)


@pytest.mark.parametrize(("m", "n", "k"), [(1, 1, 1), (1024, 1024, 1024), (64, 32768, 576), (577, 17, 1025)])
@pytest.mark.parametrize("itemsize", [4, 8])
@pytest.mark.parametrize("threads", [1, 2])
def test_blocking(m, n, k, itemsize, threads):
    g = numba_gemm_module
    kc, mc, nc = g.blocking(m, n, k, itemsize, threads)
    k_blocks, m_blocks = -(-k // kc), -(-m // mc)
    assert kc <= g.KC and k_blocks == -(-k // g.KC) and k_blocks * kc - k < k_blocks  # equal K-blocks
    assert mc % g.MR == 0 and m_blocks >= min(threads, -(-m // g.MR)) and m_blocks * mc - m < m_blocks * g.MR
    assert nc % g.panel_width(itemsize) == 0


def _stack(x, layout, rng):
    """x (count, R, C) with each matrix C-contiguous, F-contiguous (transposed in memory) or strided."""
    if layout == "fortran":
        return np.ascontiguousarray(x.swapaxes(1, 2)).swapaxes(1, 2)
    if layout == "strided":
        view = rng.standard_normal((x.shape[0], 2 * x.shape[1], 3 * x.shape[2])).astype(x.dtype)[:, ::2, ::3]
        view[...] = x
        return view
    return x


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@settings(max_examples=25, deadline=None)
@given(
    m=st.integers(1, 29), k=st.integers(1, 23), n=st.integers(1, 41), count=st.sampled_from([1, 3]),
    shared=st.sampled_from(["none", "a", "b"]), a_layout=STACK_LAYOUTS, b_layout=STACK_LAYOUTS,
    kc=st.sampled_from([1, 3, 8]), mc_panels=st.sampled_from([1, 2]), nc_panels=st.sampled_from([1, 2]),
    seed=st.integers(0, 2**32 - 1),
)  # fmt: skip
def test_stacked_with_tiny_blocks(dtype, m, k, n, count, shared, a_layout, b_layout, kc, mc_panels, nc_panels, seed):
    g, rng = numba_gemm_module, np.random.default_rng(seed)
    a = rng.standard_normal((1 if shared == "a" else count, m, k)).astype(dtype)
    b = rng.standard_normal((1 if shared == "b" else count, k, n)).astype(dtype)
    out = np.full((count, m, n), np.nan, dtype)
    blocks = (kc, mc_panels * g.MR, nc_panels * g.panel_width(out.itemsize))
    g.gemm_stacked(_stack(a, a_layout, rng), _stack(b, b_layout, rng), out, blocks)
    for i in range(count):
        _check(out[i], a[min(i, len(a) - 1)], b[min(i, len(b) - 1)])


def test_packing_scratch_is_aligned_and_kept_up_to_its_limit(monkeypatch):
    g = numba_gemm_module
    monkeypatch.setattr(g, "_kept", threading.local())  # this test's own thread-local scratch
    first = g._scratch(np.dtype(np.float32), 1000)
    again = g._scratch(np.dtype(np.float64), 300)
    assert first.ctypes.data % 64 == 0 and first.size == 1000 and again.dtype == np.float64
    assert again.ctypes.data == first.ctypes.data  # the same memory, not a fresh allocation
    monkeypatch.setattr(g, "_SCRATCH_KEPT_BYTES", 8000)
    big = g._scratch(np.dtype(np.float32), 4000)  # 16000 bytes: served, not kept
    assert big.size == 4000 and g._scratch(np.dtype(np.float32), 10).ctypes.data == first.ctypes.data


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
