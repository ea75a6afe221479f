"""Softmax and log-softmax over any dim (the element-wise activations are in test_elementwise), and the
numerical stability of every activation at extreme inputs."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minidl
import minidl.nn.functional as F
from tests.support import arrays, check_gradients, shapes


@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax], ids=["softmax", "log_softmax"])
@given(x=arrays(shapes(min_dims=1), low=-5, high=5), data=st.data())
def test_softmax_family_gradients(fn, x, data):
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1))
    check_gradients(lambda t: fn(t, dim), x)


def test_log_softmax_of_huge_logits_is_finite_and_exact():
    logits = minidl.tensor([[1000.0, 999.0, -1000.0], [1e3, 1e3, 1e3]], requires_grad=True)
    out = F.log_softmax(logits, dim=1)
    assert np.isfinite(out.detach().numpy()).all()
    expected_row0 = np.array([1000.0, 999.0, -1000.0]) - (1000.0 + np.log1p(np.exp(-1.0)))
    np.testing.assert_allclose(out.detach().numpy()[0], expected_row0, rtol=1e-6)
    np.testing.assert_allclose(out.detach().numpy()[1], -np.log(3.0), rtol=1e-6)
    out.sum().backward()
    assert np.isfinite(logits.grad.numpy()).all()
    soft = F.softmax(logits, dim=1).detach().numpy()
    np.testing.assert_allclose(soft.sum(1), 1.0, rtol=1e-6)


def test_sigmoid_and_friends_do_not_overflow():
    x = minidl.tensor([-1e4, -50.0, 0.0, 50.0, 1e4])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # no overflow, nan or 1/0 on the way
        s = F.sigmoid(x).numpy()
    assert s[0] == 0.0 and s[-1] == 1.0 and s[2] == 0.5
    assert s[1] == pytest.approx(1.9287498e-22, rel=1e-5)
    assert np.isfinite(F.elu(x).numpy()).all()
    assert np.isfinite(F.tanh(x).numpy()).all()
    assert np.isfinite(F.gelu(x).numpy()).all()


def test_softmax_needs_a_valid_dim():
    with pytest.raises(IndexError, match="out of range"):
        F.softmax(minidl.ones(2, 3), dim=2)
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(minidl.ones(2), approximate="fast")


@pytest.mark.parametrize("dtype", [minidl.float32, minidl.float64])
def test_relu_family_backward_gives_exact_zeros_where_masked_even_for_non_finite_gradients(dtype):
    """The fast bit-mask path must keep np.where's (and PyTorch's) semantics: 0 where the input is cut off."""
    x = minidl.tensor([[-1.0, 2.0, 0.0], [3.0, -4.0, 7.0]], dtype=dtype, requires_grad=True)
    g = minidl.tensor([[float("nan"), 1.0, float("inf")], [2.0, float("-inf"), -3.0]], dtype=dtype)
    F.relu(x).backward(g)
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0, 1.0, 0.0], [2.0, 0.0, -3.0]])
    x.grad = None
    F.relu6(x).backward(g)
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0, 1.0, 0.0], [2.0, 0.0, 0.0]])
