"""linear (gradients over drawn batch shapes) and dropout (inverted scaling, reproducibility, gradient = mask)."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minidl
import minidl.nn.functional as F
from tests.support import arrays, check_gradients


@given(
    lead=st.lists(st.integers(1, 3), max_size=2), n_in=st.integers(1, 4), n_out=st.integers(1, 4),
    bias=st.booleans(), data=st.data(),
)  # fmt: skip
def test_linear_gradients(lead, n_in, n_out, bias, data):
    x = data.draw(arrays((*lead, n_in)))
    w = data.draw(arrays((n_out, n_in)))
    if bias:
        check_gradients(F.linear, x, w, data.draw(arrays((n_out,))))
    else:
        check_gradients(lambda a, b: F.linear(a, b), x, w)


def test_linear_errors():
    with pytest.raises(
        ValueError, match=r"last dim must be in_features = 3 \(weight \(2, 3\)\), got input shape \(4, 5\)"
    ):
        F.linear(minidl.randn(4, 5), minidl.randn(2, 3))
    with pytest.raises(ValueError, match=r"bias must have shape \(2,\)"):
        F.linear(minidl.randn(4, 3), minidl.randn(2, 3), minidl.randn(3))


def test_dropout_scales_the_kept_elements_and_is_reproducible():
    x = minidl.ones(200, 500, requires_grad=True)
    minidl.manual_seed(7)
    out = F.dropout(x, p=0.25)
    values = np.unique(out.detach().numpy())
    np.testing.assert_allclose(values, [0.0, 1 / 0.75], rtol=1e-6)
    assert abs((out.detach().numpy() == 0).mean() - 0.25) < 0.01
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), out.detach().numpy())  # the gradient is the scaled mask
    minidl.manual_seed(7)
    np.testing.assert_array_equal(F.dropout(x, p=0.25).detach().numpy(), out.detach().numpy())
    assert F.dropout(x, p=0.5, training=False) is x
    assert F.dropout(x, p=0.0) is x
    assert (F.dropout(x, p=1.0).detach().numpy() == 0).all()
    with pytest.raises(ValueError, match=r"p must be a probability in \[0, 1\], got 1.5"):
        F.dropout(x, 1.5)
