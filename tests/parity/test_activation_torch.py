"""softmax and log_softmax against PyTorch 2.13 (CPU, float32) over a drawn dim, and with logits near 1e3 where a
naive exp would overflow. The element-wise activations are in test_elementwise_torch (tests/ops/cases.py)."""

import numpy as np
import pytest
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

import minidl.nn.functional as F
from tests.support import arrays, shapes
from tests.support import compare_with_torch as compare

F32 = np.float32
FUNCTIONS = {"softmax": (F.softmax, TF.softmax), "log_softmax": (F.log_softmax, TF.log_softmax)}


@pytest.mark.parametrize("name", list(FUNCTIONS))
@given(data=st.data())
def test_softmax_family_matches_torch(name, data):
    x = data.draw(arrays(shapes(max_dims=4), dtype=F32, low=-5, high=5))
    ours, theirs = FUNCTIONS[name]
    span = max(x.ndim, 1)
    dim = data.draw(st.integers(-span, span - 1))
    compare(lambda t: ours(t, dim), lambda t: theirs(t, dim), x)
    compare(lambda t: getattr(t, name)(dim), lambda t: getattr(t, name)(dim), x)


@pytest.mark.parametrize("name", list(FUNCTIONS))
@given(data=st.data())
def test_softmax_family_of_logits_near_1e3_matches_torch(name, data):
    # Logits of magnitude ~1e3 (exp would overflow float32) spread over a few units, so the result is not just
    # one-hot; the sign is drawn too. float32 holds them to ~6e-5, the same values on both sides.
    x = data.draw(arrays(shapes(min_dims=1), dtype=F32, low=-5, high=5))
    x += data.draw(st.sampled_from([1000.0, -1000.0]))
    ours, theirs = FUNCTIONS[name]
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1))
    compare(lambda t: ours(t, dim), lambda t: theirs(t, dim), x)


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_softmax_family_of_huge_spread_logits_matches_torch(name):
    x = np.array([[1000.0, 999.0, -1000.0], [1e3, 1e3, 1e3], [-1e3, 0.0, 1e3]], dtype=F32)
    ours, theirs = FUNCTIONS[name]
    for dim in (0, 1, -1):
        compare(lambda t, d=dim: ours(t, d), lambda t, d=dim: theirs(t, d), x)
        compare(lambda t, d=dim: ours(t, d), lambda t, d=dim: theirs(t, d), np.asfortranarray(x))
