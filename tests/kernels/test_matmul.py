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
