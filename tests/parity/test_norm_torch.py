"""batch_norm and local_response_norm against PyTorch 2.13 (CPU, float32).

batch_norm: training (batch statistics) and evaluation (running statistics), (N, C), (N, C, L), (N, C, H, W) and
(N, C, D, H, W) inputs in every memory layout, weight and bias given or None, drawn momentum and eps; the running
statistics must be updated in place as PyTorch updates them. local_response_norm: size 1..5, drawn alpha, beta, k,
3-D to 5-D inputs. Then the errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

import minidl
import minidl.nn.functional as F
from tests.support import arrays, assert_close
from tests.support import compare_with_torch as compare

F32 = np.float32


@st.composite
def norm_shapes(draw, min_values_per_channel: int = 1) -> tuple[int, ...]:
    """(N, C), (N, C, L), (N, C, H, W) or (N, C, D, H, W), small, with at least ``min_values_per_channel``
    values per channel."""
    spatial = tuple(draw(st.lists(st.integers(1, 4), min_size=0, max_size=3)))
    n, c = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    while n * int(np.prod(spatial)) < min_values_per_channel:
        n += 1
    return (n, c, *spatial)


def _affine_call(fn, has_weight: bool, has_bias: bool, **kwargs):
    """``fn(x, [weight], [bias])`` -> batch_norm(x, ..., weight=..., bias=..., **kwargs), the optional tensors
    passed positionally so that compare_with_torch differentiates them."""

    def call(x, *rest, **more):
        rest = list(rest)
        weight = rest.pop(0) if has_weight else None
        bias = rest.pop(0) if has_bias else None
        return fn(x, weight=weight, bias=bias, **kwargs, **more)

    return call


def _torch_constant(array: np.ndarray, like):
    """A PyTorch constant holding ``array`` in the dtype of ``like`` (compare_with_torch runs float32 and float64)."""
    return torch.from_numpy(np.array(array)).to(like.dtype)


MOMENTA = st.one_of(st.sampled_from([0.0, 0.1, 0.5, 1.0]), st.floats(0.01, 0.99))
EPSILONS = st.sampled_from([1e-5, 1e-3, 0.1])


@given(data=st.data())
def test_batch_norm_training_matches_torch(data):
    shape = data.draw(norm_shapes(min_values_per_channel=2))
    c = shape[1]
    x = data.draw(arrays(shape, dtype=F32))
    has_weight, has_bias = data.draw(st.booleans()), data.draw(st.booleans())
    params = [data.draw(arrays((c,), dtype=F32, low=0.5, high=1.5)) for _ in range(has_weight)]
    params += [data.draw(arrays((c,), dtype=F32, low=-1, high=1)) for _ in range(has_bias)]
    momentum, eps = data.draw(MOMENTA), data.draw(EPSILONS)
    running = data.draw(st.booleans())

    # Output and gradients: fresh running statistics each call (compare_with_torch may run PyTorch several
    # times, in float32 and float64), so that each run sees the same ones.
    def ours(x, *rest):
        stats = [minidl.zeros(c), minidl.ones(c)] if running else [None, None]
        return _affine_call(F.batch_norm, has_weight, has_bias, training=True, momentum=momentum, eps=eps)(
            x, *rest, running_mean=stats[0], running_var=stats[1]
        )

    def theirs(x, *rest):
        stats = [torch.zeros(c, dtype=x.dtype), torch.ones(c, dtype=x.dtype)] if running else [None, None]
        return _affine_call(TF.batch_norm, has_weight, has_bias, training=True, momentum=momentum, eps=eps)(
            x, *rest, running_mean=stats[0], running_var=stats[1]
        )

    compare(ours, theirs, x, *params)


@given(data=st.data())
def test_batch_norm_updates_running_stats_like_torch(data):
    shape = data.draw(norm_shapes(min_values_per_channel=2))
    c = shape[1]
    x = data.draw(arrays(shape, dtype=F32))
    mean0 = data.draw(arrays((c,), dtype=F32, low=-1, high=1))
    var0 = data.draw(arrays((c,), dtype=F32, low=0.5, high=2))
    momentum, eps = data.draw(MOMENTA), data.draw(EPSILONS)

    our_mean, our_var = minidl.tensor(mean0.copy()), minidl.tensor(var0.copy())
    their_mean, their_var = torch.tensor(mean0.copy()), torch.tensor(var0.copy())
    buffers = (our_mean.numpy(), our_var.numpy())
    requires_grad = data.draw(st.booleans())  # the update also happens when no graph is recorded
    F.batch_norm(
        minidl.from_numpy(x).requires_grad_(requires_grad), our_mean, our_var, training=True, momentum=momentum, eps=eps
    )
    TF.batch_norm(torch.from_numpy(np.array(x)), their_mean, their_var, training=True, momentum=momentum, eps=eps)
    # The update is a sum of two terms that may nearly cancel (a tiny result from terms of ~0.03): measure the
    # error against the size of the terms, in which float32 rounding happens, not against the result.
    batch_mean = x.astype(np.float64).mean(axis=tuple(d for d in range(x.ndim) if d != 1))
    terms = np.abs((1 - momentum) * mean0) + np.abs(momentum * batch_mean)
    assert np.max(np.abs(our_mean.numpy() - their_mean.numpy()) / np.maximum(terms, 1e-30)) <= 1e-5
    assert_close(our_var, their_var)
    assert np.shares_memory(our_mean.numpy(), buffers[0]) and np.shares_memory(our_var.numpy(), buffers[1])  # in place
    assert not our_mean.requires_grad and not our_var.requires_grad


def test_batch_norm_running_var_of_a_low_variance_batch_matches_torch():
    """The running variance is the unbiased batch variance, to float32 precision even when that variance is far
    below eps (a channel of nearly equal values: PyTorch's is exact to the data's rounding)."""
    rng = np.random.default_rng(0)
    x = (0.5 + 1e-4 * rng.uniform(-1, 1, (8, 3, 4))).astype(F32)
    our_var, their_var = minidl.ones(3), torch.ones(3)
    F.batch_norm(minidl.from_numpy(x), minidl.zeros(3), our_var, training=True, momentum=1.0)
    TF.batch_norm(torch.from_numpy(x), torch.zeros(3), their_var, training=True, momentum=1.0)
    exact = x.astype(np.float64).reshape(8, 3, 4).transpose(1, 0, 2).reshape(3, -1).var(axis=1, ddof=1)
    assert_close(their_var, exact)
    assert_close(our_var, their_var)


def test_batch_norm_running_var_of_a_constant_channel_is_zero_like_torch():
    x = np.zeros((4, 3), dtype=F32)
    x[:, 1] = 0.5
    our_var, their_var = minidl.ones(3), torch.ones(3)
    F.batch_norm(minidl.from_numpy(x), minidl.zeros(3), our_var, training=True, momentum=1.0)
    TF.batch_norm(torch.from_numpy(x), torch.zeros(3), their_var, training=True, momentum=1.0)
    np.testing.assert_array_equal(their_var.numpy(), 0.0)
    np.testing.assert_array_equal(our_var.numpy(), their_var.numpy())


@given(data=st.data())
def test_batch_norm_eval_matches_torch(data):
    shape = data.draw(norm_shapes())
    c = shape[1]
    x = data.draw(arrays(shape, dtype=F32))
    mean = data.draw(arrays((c,), dtype=F32, low=-1, high=1))
    var = data.draw(arrays((c,), dtype=F32, low=0.2, high=2))
    has_weight, has_bias = data.draw(st.booleans()), data.draw(st.booleans())
    params = [data.draw(arrays((c,), dtype=F32, low=-1.5, high=1.5)) for _ in range(has_weight)]
    params += [data.draw(arrays((c,), dtype=F32, low=-1, high=1)) for _ in range(has_bias)]
    momentum, eps = data.draw(MOMENTA), data.draw(EPSILONS)

    def ours(x, *rest):
        stats = {"running_mean": minidl.tensor(mean), "running_var": minidl.tensor(var)}
        return _affine_call(F.batch_norm, has_weight, has_bias, training=False, momentum=momentum, eps=eps)(
            x, *rest, **stats
        )

    def theirs(x, *rest):
        stats = {"running_mean": _torch_constant(mean, x), "running_var": _torch_constant(var, x)}
        return _affine_call(TF.batch_norm, has_weight, has_bias, training=False, momentum=momentum, eps=eps)(
            x, *rest, **stats
        )

    compare(ours, theirs, x, *params)
    # evaluation leaves the running statistics alone
    our_mean, our_var = minidl.tensor(mean), minidl.tensor(var)
    F.batch_norm(minidl.from_numpy(x), our_mean, our_var, training=False, momentum=momentum)
    np.testing.assert_array_equal(our_mean.numpy(), mean)
    np.testing.assert_array_equal(our_var.numpy(), var)


@given(data=st.data())
def test_local_response_norm_matches_torch(data):
    shape = data.draw(norm_shapes().filter(lambda s: len(s) >= 3))
    x = data.draw(arrays(shape, dtype=F32))
    size = data.draw(st.integers(1, 5))
    alpha = data.draw(st.one_of(st.just(1e-4), st.floats(1e-4, 2.0)))
    beta = data.draw(st.one_of(st.just(0.75), st.floats(0.1, 1.5)))
    k = data.draw(st.one_of(st.just(1.0), st.just(2.0), st.floats(0.5, 3.0)))
    compare(
        lambda t: F.local_response_norm(t, size, alpha, beta, k),
        lambda t: TF.local_response_norm(t, size, alpha, beta, k),
        x,
    )
    compare(lambda t: F.local_response_norm(t, size), lambda t: TF.local_response_norm(t, size), x)


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7])
def test_local_response_norm_alexnet_setting_matches_torch(size):
    """AlexNet's k=2, alpha=1e-4, beta=0.75, on activations large enough for the normalisation to matter."""
    x = np.random.default_rng(size).uniform(-30, 30, (2, 6, 3, 4)).astype(F32)
    compare(
        lambda t: F.local_response_norm(t, size, alpha=1e-4, beta=0.75, k=2.0),
        lambda t: TF.local_response_norm(t, size, alpha=1e-4, beta=0.75, k=2.0),
        x,
    )


# ---------------------------------------------------------------------------------------------------------- errors


def test_batch_norm_training_needs_more_than_one_value_per_channel():
    with pytest.raises(ValueError, match=r"more than one value per channel .* got input shape \(1, 3\)"):
        F.batch_norm(minidl.zeros(1, 3), None, None, training=True)
    with pytest.raises(ValueError, match=r"more than one value per channel .* got input shape \(1, 3, 1, 1\)"):
        F.batch_norm(minidl.zeros(1, 3, 1, 1), minidl.zeros(3), minidl.ones(3), training=True)
    F.batch_norm(minidl.zeros(1, 3, 1, 1), minidl.zeros(3), minidl.ones(3), training=False)  # fine in eval


def test_batch_norm_bad_arguments():
    x = minidl.zeros(4, 3, 2)
    with pytest.raises(ValueError, match=r"weight must have shape \(3,\) for 3 channels, got \(2,\)"):
        F.batch_norm(x, None, None, weight=minidl.ones(2), training=True)
    with pytest.raises(ValueError, match=r"bias must have shape \(3,\) for 3 channels, got \(3, 1\)"):
        F.batch_norm(x, None, None, bias=minidl.zeros(3, 1), training=True)
    with pytest.raises(ValueError, match=r"running_mean must have shape \(3,\) for 3 channels, got \(4,\)"):
        F.batch_norm(x, minidl.zeros(4), minidl.ones(3), training=False)
    with pytest.raises(ValueError, match=r"evaluation mode needs running_mean and running_var"):
        F.batch_norm(x, None, None, training=False)
    with pytest.raises(ValueError, match=r"expected an \(N, C\) or \(N, C, ...\) input, got shape \(4,\)"):
        F.batch_norm(minidl.zeros(4), None, None, training=True)


def test_local_response_norm_bad_arguments():
    with pytest.raises(ValueError, match=r"expected an input with 3 or more dims, got shape \(2, 3\)"):
        F.local_response_norm(minidl.zeros(2, 3), 2)
    with pytest.raises(ValueError, match=r"size must be a positive integer, got 0"):
        F.local_response_norm(minidl.zeros(2, 3, 4), 0)
