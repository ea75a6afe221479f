"""scatter_add: the Numba and Cython kernels against the NumPy reference, at odd sizes and strided views."""

import importlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from minidl_kernels import IMPLEMENTATIONS


def _load(impl):
    module, attr = IMPLEMENTATIONS["scatter_add"][impl].split(":")
    return getattr(importlib.import_module(module), attr)


REFERENCE = _load("reference")
COMPILED = [pytest.param(_load(impl), id=impl) for impl in IMPLEMENTATIONS["scatter_add"] if impl != "reference"]


def test_every_implementation_is_there():
    assert set(IMPLEMENTATIONS["scatter_add"]) == {"reference", "numba", "cython"}


@pytest.mark.parametrize("kernel", COMPILED)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(
    m=st.sampled_from([1, 2, 3, 7, 13, 31, 64]),
    n=st.sampled_from([0, 1, 2, 5, 11, 97, 1000]),
    src_step=st.sampled_from([1, 2, -1, -3]),
    out_step=st.sampled_from([1, 2, -1]),
    index_step=st.sampled_from([1, 3, -1]),
    seed=st.integers(0, 2**32 - 1),
)
def test_matches_the_reference(kernel, dtype, m, n, src_step, out_step, index_step, seed):
    rng = np.random.default_rng(seed)
    # Strided (and reversed) views of larger arrays: the kernels must honour the strides.
    src = rng.standard_normal(n * abs(src_step)).astype(dtype)[::src_step]
    index = rng.integers(0, m, size=n * abs(index_step)).astype(np.int64)[::index_step]
    base = rng.standard_normal(m * abs(out_step)).astype(dtype)
    expected_base = base.copy()
    REFERENCE(expected_base[::out_step], index, src)
    kernel(base[::out_step], index, src)
    np.testing.assert_allclose(base, expected_base, rtol=1e-6 if dtype == np.float32 else 1e-12, atol=1e-6)


@pytest.mark.parametrize("kernel", [pytest.param(REFERENCE, id="reference"), *COMPILED])
def test_repeated_indices_accumulate(kernel):
    out = np.zeros(3)
    kernel(out, np.array([2, 0, 2, 2], dtype=np.int64), np.array([1.0, 10.0, 100.0, 1000.0]))
    assert out.tolist() == [10.0, 0.0, 1101.0]


@pytest.mark.parametrize("kernel", [pytest.param(REFERENCE, id="reference"), *COMPILED])
def test_bad_arguments_are_refused(kernel):
    out = np.zeros(3)
    with pytest.raises(IndexError, match="out of range"):
        kernel(out, np.array([0, 3], dtype=np.int64), np.ones(2))
    with pytest.raises(IndexError, match="out of range"):
        kernel(out, np.array([-1], dtype=np.int64), np.ones(1))
    with pytest.raises(ValueError, match="index and src of one length expected, got 2 and 3"):
        kernel(out, np.array([0, 1], dtype=np.int64), np.ones(3))
    with pytest.raises(TypeError, match="src of out's dtype float64 expected, got float32"):
        kernel(out, np.array([0], dtype=np.int64), np.ones(1, dtype=np.float32))
    with pytest.raises(TypeError, match="int64"):
        kernel(out, np.array([0], dtype=np.int32), np.ones(1))
    with pytest.raises(ValueError, match="1-D"):
        kernel(np.zeros((2, 2)), np.array([0], dtype=np.int64), np.ones(1))


def test_cython_kernel_is_compiled():
    module = importlib.import_module("minidl_kernels.cython.scatter")
    assert module.__file__.endswith((".so", ".pyd")), module.__file__
