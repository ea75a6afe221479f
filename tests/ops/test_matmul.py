"""matmul: 1-D, 2-D and broadcast batched operands, gradients and errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minidl
from tests.support import arrays, check_gradients


@st.composite
def matmul_shapes(draw):
    """Shapes (a, b) valid for matmul: vectors, matrices, and batches whose dims broadcast."""
    m, k, n = (draw(st.integers(1, 4)) for _ in range(3))
    a_kind, b_kind = draw(st.sampled_from(["vec", "mat", "batch"])), draw(st.sampled_from(["vec", "mat", "batch"]))
    batch = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=2)))
    a_batch = tuple(1 if draw(st.booleans()) else b for b in batch)
    b_batch = tuple(1 if draw(st.booleans()) else b for b in batch)[draw(st.integers(0, len(batch))) :]
    a = {"vec": (k,), "mat": (m, k), "batch": (*a_batch, m, k)}[a_kind]
    b = {"vec": (k,), "mat": (k, n), "batch": (*b_batch, k, n)}[b_kind]
    return a, b


@given(shapes=matmul_shapes(), data=st.data())
def test_matmul_values_and_gradients(shapes, data):
    a, b = data.draw(arrays(shapes[0])), data.draw(arrays(shapes[1]))
    out = minidl.from_numpy(a) @ minidl.from_numpy(b)
    np.testing.assert_allclose(out.numpy(), np.matmul(a, b), rtol=1e-12)
    check_gradients(lambda x, y: x @ y, a, b)
    check_gradients(lambda x, y: minidl.matmul(x, y), a, b)


def test_matmul_errors():
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4, 5\).*\(3\).*\(4\)"):
        minidl.ones(2, 3) @ minidl.ones(4, 5)
    with pytest.raises(ValueError, match="at least 1 dim"):
        minidl.matmul(minidl.tensor(2.0), minidl.ones(2))
    with pytest.raises(TypeError, match="float32 and float64"):
        minidl.ones(2, 2) @ minidl.ones(2, 2, dtype=minidl.float64)
    with pytest.raises(ValueError, match="batch dims"):
        minidl.ones(2, 3, 4) @ minidl.ones(3, 4, 5)
