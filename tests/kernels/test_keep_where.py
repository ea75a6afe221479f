"""keep_where: the bit-mask implementation against the reference (np.where) on random inputs, odd sizes,
non-contiguous views and non-finite gradients."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from minidl_kernels.bitmask import keep_where as keep_where_bits
from minidl_kernels.reference import keep_where as keep_where_reference

from tests.support import as_layout


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(
    shape=st.sampled_from([(), (1,), (2,), (7,), (13, 3), (5, 1, 31), (2, 3, 5, 7)]),
    layout=st.sampled_from(["contiguous", "transposed", "strided", "reversed"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_matches_the_reference(dtype, shape, layout, seed):
    rng = np.random.default_rng(seed)
    g = rng.standard_normal(shape).astype(dtype)
    if g.size:
        g.flat[rng.integers(0, g.size, size=3)] = rng.choice([np.nan, np.inf, -np.inf], size=3)
    g = as_layout(g, layout) if g.ndim else g
    keep = rng.random(g.shape) > 0.5
    got, expected = keep_where_bits(g, keep), keep_where_reference(g, keep)
    assert got.shape == g.shape and got.dtype == g.dtype
    np.testing.assert_array_equal(got, expected)
    assert np.all(got[~keep] == 0) and not np.signbit(got[~keep]).any()  # +0, whatever g held there
