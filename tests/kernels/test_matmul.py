"""The batched matmul kernel: BLAS and the loop over our Numba GEMM against the einsum reference."""

import importlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from minidl_kernels import IMPLEMENTATIONS


def _load(impl):
    module, attr = IMPLEMENTATIONS["matmul"][impl].split(":")
    return getattr(importlib.import_module(module), attr)


@pytest.mark.parametrize("impl", ["blas", "numba"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(
    m=st.sampled_from([1, 3, 17]), k=st.sampled_from([1, 5, 33]), n=st.sampled_from([1, 2, 19]),
    batch_a=st.sampled_from([(), (2,), (1, 3), (2, 3)]), batch_b=st.sampled_from([(), (3,), (2, 1)]),
    seed=st.integers(0, 2**32 - 1),
)  # fmt: skip
def test_matches_the_reference(impl, dtype, m, k, n, batch_a, batch_b, seed):
    try:
        np.broadcast_shapes(batch_a, batch_b)
    except ValueError:
        return  # batches that do not broadcast are not a matmul
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((*batch_a, m, k)).astype(dtype)
    b = rng.standard_normal((*batch_b, k, n)).astype(dtype)[..., ::-1, :]  # a strided view too
    expected = _load("reference")(a, b)
    got = _load(impl)(a, b)
    assert got.shape == expected.shape
    tol = 1e-5 * np.sqrt(k) if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)


def _transposed_in_memory(x):
    """The same values with each matrix F-contiguous (as a swapaxes view leaves it)."""
    return np.ascontiguousarray(x.swapaxes(-1, -2)).swapaxes(-1, -2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("a_shape", "b_shape"),
    [((3, 7, 5), (5, 9)), ((7, 5), (3, 5, 9)), ((2, 3, 7, 5), (1, 3, 5, 9)), ((1, 7, 5), (2, 1, 5, 9))],
    ids=["batch-of-a", "shared-a", "both-batched", "broadcast-b"],
)
@pytest.mark.parametrize("transposed", ["a", "b", "both"])
def test_numba_reads_transposed_batches(dtype, a_shape, b_shape, transposed):
    rng = np.random.default_rng(len(a_shape) + len(b_shape))
    a = rng.standard_normal(a_shape).astype(dtype)
    b = rng.standard_normal(b_shape).astype(dtype)
    a_in = _transposed_in_memory(a) if transposed in ("a", "both") else a
    b_in = _transposed_in_memory(b) if transposed in ("b", "both") else b
    got = _load("numba")(a_in, b_in)
    assert got.flags.c_contiguous
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, _load("reference")(a, b), rtol=tol, atol=tol)


@pytest.mark.parametrize(
    ("a_shape", "b_shape", "expected"),
    [((0, 3, 4), (4, 5), (0, 3, 5)), ((2, 0, 4), (4, 5), (2, 0, 5)), ((2, 3, 0), (2, 0, 5), (2, 3, 5))],
)
def test_numba_empty_dimensions(a_shape, b_shape, expected):
    got = _load("numba")(np.ones(a_shape, np.float32), np.ones(b_shape, np.float32))
    assert got.shape == expected and got.dtype == np.float32 and not got.any()
