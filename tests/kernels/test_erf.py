"""erf: the Numba kernel against the reference (math.erf element by element)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from minidl_kernels.numba.special import erf as erf_numba
from minidl_kernels.reference.special import erf as erf_reference


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(
    shape=st.sampled_from([(), (1,), (2,), (7,), (13, 3), (5, 1, 31)]),
    layout=st.sampled_from(["contiguous", "transposed", "reversed"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_matches_the_reference(dtype, shape, layout, seed):
    x = (np.random.default_rng(seed).standard_normal(shape) * 3).astype(dtype)
    if layout == "transposed":
        x = x.T
    elif layout == "reversed" and x.ndim:
        x = x[..., ::-1]
    got, expected = erf_numba(x), erf_reference(x)
    assert got.shape == x.shape and got.dtype == x.dtype
    np.testing.assert_allclose(got, expected, rtol=2e-7 if dtype == np.float32 else 1e-15, atol=1e-30)


def test_special_values():
    x = np.array([0.0, np.inf, -np.inf, np.nan, 1e-30, 6.0])
    got = erf_numba(x)
    assert got[0] == 0.0 and got[1] == 1.0 and got[2] == -1.0 and np.isnan(got[3])
    assert got[4] == pytest.approx(2 / np.sqrt(np.pi) * 1e-30) and got[5] == 1.0
