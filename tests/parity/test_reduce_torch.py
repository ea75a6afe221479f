"""Reductions against PyTorch 2.13 (CPU, float32): sum, mean, max/min (torch.amax/amin), var/std with both
corrections, logsumexp, argmax/argmin over drawn dims (None, an int maybe negative, a tuple) and keepdim."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from tests.support import arrays, shapes
from tests.support import compare_with_torch as compare


@st.composite
def reduction_args(draw, max_dims=4):
    """(float32 array, dim, keepdim): dim None, one int (maybe negative) or a tuple of distinct dims (each maybe
    negative). A 0-d array takes dim None, 0 or -1, as in PyTorch."""
    x = draw(arrays(shapes(max_dims=max_dims), dtype=np.float32))
    ndim = x.ndim
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        dim = None
    elif kind == "int":
        span = max(ndim, 1)
        dim = draw(st.integers(-span, span - 1))
    elif ndim == 0:
        dim = None
    else:
        dims = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
        dim = tuple(d - ndim if draw(st.booleans()) else d for d in dims)
    return x, dim, draw(st.booleans())


def _all(dim, ndim):
    """PyTorch's spelling of "every dim" for ops whose dim cannot be None."""
    return tuple(range(ndim)) if dim is None else dim


REDUCTIONS = {
    "sum": (lambda x, d, k: x.sum(d, keepdim=k), lambda x, d, k: torch.sum(x, dim=d, keepdim=k)),
    "mean": (lambda x, d, k: x.mean(d, keepdim=k), lambda x, d, k: torch.mean(x, dim=d, keepdim=k)),
    "max": (lambda x, d, k: x.max(d, keepdim=k), lambda x, d, k: torch.amax(x, dim=_all(d, x.ndim), keepdim=k)),
    "min": (lambda x, d, k: x.min(d, keepdim=k), lambda x, d, k: torch.amin(x, dim=_all(d, x.ndim), keepdim=k)),
    "logsumexp": (
        lambda x, d, k: x.logsumexp(d, keepdim=k),
        lambda x, d, k: torch.logsumexp(x, dim=_all(d, x.ndim), keepdim=k),
    ),
}


@pytest.mark.parametrize("name", list(REDUCTIONS))
@given(args=reduction_args())
def test_reduction_matches_torch(name, args):
    x, dim, keepdim = args
    ours, theirs = REDUCTIONS[name]
    compare(lambda t: ours(t, dim, keepdim), lambda t: theirs(t, dim, keepdim), x)


def test_max_min_over_all_dims_match_torch_max_min():
    """With no dim, minidl's max/min are torch.max/min of the whole tensor (a 0-d value)."""
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)[:, ::-2]
    compare(lambda t: t.max(), torch.max, x)
    compare(lambda t: t.min(), torch.min, x)


@pytest.mark.parametrize("name", ["var", "std"])
@pytest.mark.parametrize("correction", [0, 1])
@given(args=reduction_args())
def test_var_std_match_torch(name, correction, args):
    x, dim, keepdim = args
    dims = range(x.ndim) if dim is None else np.atleast_1d(dim)
    count = math.prod(x.shape[d] for d in dims) if x.ndim else 1
    if count - correction <= 0:
        return  # N - correction <= 0: nan or inf on both sides (PyTorch warns); nothing to compare
    torch_fn = getattr(torch, name)
    compare(
        lambda t: getattr(t, name)(dim, correction=correction, keepdim=keepdim),
        lambda t: torch_fn(t, dim, correction=correction, keepdim=keepdim),
        x,
    )


@pytest.mark.parametrize(
    ("shape", "dim", "correction"),
    [((3, 1), 1, 0), ((1,), None, 0), ((2, 3), None, 1)],
    ids=["size-1-dim", "one", "constant"],
)
def test_std_gradient_at_zero_variance_matches_torch(shape, dim, correction):
    """std = 0 (one element per output, or equal values): PyTorch takes its gradient as 0, not 0/0."""
    x = np.full(shape, 0.5, dtype=np.float32)
    compare(lambda t: t.std(dim, correction=correction), lambda t: torch.std(t, dim, correction=correction), x)


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@given(args=reduction_args())
def test_argmax_argmin_match_torch(name, args):
    x, dim, keepdim = args  # random floats: no ties, so the index is the same whatever the tie rule
    if isinstance(dim, tuple):
        dim = dim[0]  # one dim (or None) only
    compare(
        lambda t: getattr(t, name)(dim, keepdim=keepdim), lambda t: getattr(torch, name)(t, dim, keepdim=keepdim), x
    )
