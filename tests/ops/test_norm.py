"""batch_norm (training and evaluation, running statistics) and local_response_norm: gradients against finite
differences over drawn shapes; the running-statistics update; errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minidl
import minidl.nn.functional as F
from tests.support import check_gradients

SHAPES = st.sampled_from([(3, 2), (2, 3, 4), (2, 2, 3, 3), (4, 1, 2)])


@given(shape=SHAPES, training=st.booleans(), affine=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_batch_norm_gradients(shape, training, affine, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 2 + 0.5
    c = shape[1]
    mean, var = (
        minidl.tensor(rng.standard_normal(c), dtype=minidl.float64),
        minidl.tensor(rng.uniform(0.5, 2, c), dtype=minidl.float64),
    )
    if affine:
        check_gradients(
            lambda a, w, b: F.batch_norm(a, mean, var, w, b, training=training),
            x,
            rng.standard_normal(c),
            rng.standard_normal(c),
        )
    else:
        check_gradients(
            lambda a: F.batch_norm(a, None, None, training=True) if training else F.batch_norm(a, mean, var), x
        )


def test_batch_norm_updates_running_statistics():
    x = minidl.tensor([[1.0, 2.0], [3.0, 6.0]], dtype=minidl.float64)
    mean, var = minidl.zeros(2, dtype=minidl.float64), minidl.ones(2, dtype=minidl.float64)
    F.batch_norm(x, mean, var, training=True, momentum=0.5)
    assert mean.tolist() == [1.0, 2.0]  # 0.5 * 0 + 0.5 * batch mean (2, 4)
    np.testing.assert_allclose(var.numpy(), [0.5 + 0.5 * 2.0, 0.5 + 0.5 * 8.0])  # unbiased batch variance 2, 8
    with minidl.no_grad():
        F.batch_norm(x, mean, var, training=True, momentum=0.5)  # also without a recorded graph
    assert mean.tolist() == [1.5, 3.0]


def test_batch_norm_errors():
    with pytest.raises(ValueError, match="more than one value per channel"):
        F.batch_norm(minidl.randn(1, 3), None, None, training=True)
    with pytest.raises(ValueError, match="needs running_mean and running_var"):
        F.batch_norm(minidl.randn(2, 3), None, None, training=False)
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\) for 3 channels, got \(2,\)"):
        F.batch_norm(minidl.randn(2, 3), None, None, minidl.ones(2), training=True)
    with pytest.raises(ValueError, match="momentum=None"):
        F.batch_norm(minidl.randn(2, 3), minidl.zeros(3), minidl.ones(3), training=True, momentum=None)


@given(
    shape=st.sampled_from([(2, 5, 3), (1, 4, 2, 3), (2, 3, 2, 2, 2)]),
    size=st.integers(1, 5),
    seed=st.integers(0, 2**32 - 1),
)
def test_local_response_norm_gradients(shape, size, seed):
    x = np.random.default_rng(seed).standard_normal(shape)
    check_gradients(lambda t: F.local_response_norm(t, size, alpha=0.3, beta=0.75, k=1.5), x)


def test_local_response_norm_errors():
    with pytest.raises(ValueError, match="3 or more dims"):
        F.local_response_norm(minidl.randn(2, 3), 2)
