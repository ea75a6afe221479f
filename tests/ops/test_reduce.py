"""Reductions: gradients over drawn shapes, dims (int, tuple, None, negative) and keepdim; aliases; dtypes."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minidl
from tests.support import arrays, check_gradients, shapes


@st.composite
def reduction_args(draw, min_dims=0):
    """(array, dim, keepdim): dim None, one int (maybe negative) or a tuple of distinct dims."""
    x = draw(arrays(shapes(min_dims=min_dims)))
    ndim = x.ndim
    kind = draw(st.sampled_from(["none", "int", "tuple"])) if ndim else "none"
    if kind == "none":
        dim = None
    elif kind == "int":
        dim = draw(st.integers(-ndim, ndim - 1))
    else:
        dim = tuple(draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True)))
    return x, dim, draw(st.booleans())


REDUCTIONS = {
    "sum": lambda x, d, k: x.sum(d, keepdim=k),
    "mean": lambda x, d, k: x.mean(d, keepdim=k),
    "max": lambda x, d, k: x.max(d, keepdim=k),
    "min": lambda x, d, k: x.min(d, keepdim=k),
    "var": lambda x, d, k: x.var(d, keepdim=k),
    "var_biased": lambda x, d, k: x.var(d, unbiased=False, keepdim=k),
    "std": lambda x, d, k: x.std(d, keepdim=k),
    "logsumexp": lambda x, d, k: x.logsumexp(d, keepdim=k),
}


def _numpy_reference(name, x, dim, keepdim):
    axis = dim
    return {
        "sum": lambda: np.sum(x, axis=axis, keepdims=keepdim),
        "mean": lambda: np.mean(x, axis=axis, keepdims=keepdim),
        "max": lambda: np.max(x, axis=axis, keepdims=keepdim),
        "min": lambda: np.min(x, axis=axis, keepdims=keepdim),
        "var": lambda: np.var(x, axis=axis, keepdims=keepdim, ddof=1),
        "var_biased": lambda: np.var(x, axis=axis, keepdims=keepdim),
        "std": lambda: np.std(x, axis=axis, keepdims=keepdim, ddof=1),
        "logsumexp": lambda: np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdim)),
    }[name]()


def _enough_for_unbiased(x, dim):
    count = x.size if dim is None else np.prod([x.shape[d] for d in np.atleast_1d(dim)])
    return count >= 2


@pytest.mark.parametrize("name", list(REDUCTIONS))
@given(args=reduction_args())
def test_reduction_values_and_gradients(name, args):
    x, dim, keepdim = args
    if name in ("var", "std") and not _enough_for_unbiased(x, dim):
        return  # N - 1 = 0: the unbiased estimate is undefined (nan); covered by test_var_of_one_element
    fn = REDUCTIONS[name]
    out = fn(minidl.from_numpy(x), dim, keepdim)
    np.testing.assert_allclose(out.numpy(), _numpy_reference(name, x, dim, keepdim), rtol=1e-12, atol=1e-12)
    check_gradients(lambda t: fn(t, dim, keepdim), x)


def test_var_of_one_element_is_nan_like_pytorch():
    assert np.isnan(minidl.tensor([3.0]).var().item())
    assert minidl.tensor([3.0]).var(unbiased=False).item() == 0.0


def test_max_and_min_share_the_gradient_among_ties():
    x = minidl.tensor([[1.0, 3.0, 3.0], [2.0, 0.0, 0.0]], requires_grad=True)
    x.max(1).sum().backward()
    assert x.grad.tolist() == [[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]]
    x.grad = None
    x.min().backward()
    assert x.grad.tolist() == [[0.0, 0.0, 0.0], [0.0, 0.5, 0.5]]


def test_numpy_spellings_axis_and_keepdims():
    x = minidl.arange(24, dtype=minidl.float32).reshape(2, 3, 4)
    assert x.sum(axis=1).shape == (2, 4)
    assert x.mean(axis=(0, 2), keepdims=True).shape == (1, 3, 1)
    assert x.max(axis=-1).tolist() == x.numpy().max(axis=-1).tolist()
    assert minidl.sum(x, axis=0, keepdims=True).shape == (1, 3, 4)
    assert x.var(axis=2, ddof=0).shape == (2, 3)
    with pytest.raises(TypeError, match="dim or axis"):
        x.sum(1, axis=1)
    with pytest.raises(TypeError, match="unexpected keyword"):
        x.sum(dims=1)


def test_argmax_argmin():
    x = minidl.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    assert x.argmax().item() == 3
    assert x.argmax(dim=1).tolist() == [1, 0]
    assert x.argmin(1, keepdim=True).tolist() == [[0], [1]]
    assert x.argmax(axis=0).dtype == minidl.int64


def test_integer_and_bool_sums_are_int64():
    assert minidl.tensor([1, 2, 3], dtype=minidl.uint8).sum().dtype == minidl.int64
    assert minidl.tensor([True, True, False]).sum().item() == 2
    with pytest.raises(TypeError, match="floating-point tensor, got int64"):
        minidl.tensor([1, 2]).mean()


def test_dim_out_of_range():
    x = minidl.ones(2, 3)
    with pytest.raises(IndexError, match=r"range of \[-2, 1\], but got 2"):
        x.sum(2)
    with pytest.raises(ValueError, match="repeated"):
        x.sum((0, -2))


def test_logsumexp_is_stable_for_large_values():
    x = minidl.tensor([1000.0, 1000.0, -1000.0], dtype=minidl.float64)
    assert x.logsumexp().item() == pytest.approx(1000 + np.log(2))
    assert minidl.tensor([-np.inf, -np.inf]).logsumexp().item() == -np.inf


def test_any_all():
    x = minidl.tensor([[0, 1], [0, 0]])
    assert x.any().item() and not x.all().item()
    assert x.any(1).tolist() == [True, False]
