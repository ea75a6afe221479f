"""linear and dropout against PyTorch 2.13 (CPU, float32).

linear: 1-D to 4-D inputs in every memory layout, with and without bias. dropout: outside training it is the
identity; in training its mask cannot equal PyTorch's (another generator), so the semantics are compared: the share
of zeros is p (within a few standard deviations, as PyTorch's), every kept element is scaled by exactly 1 / (1 - p),
the gradient is the mask times that scale, p = 0 and p = 1 are exact, and manual_seed makes the mask reproducible.
Then the errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

import minidl
import minidl.nn.functional as F
from tests.support import arrays, away_from_zero, shapes
from tests.support import compare_with_torch as compare

F32 = np.float32


# ---------------------------------------------------------------------------------------------------------- linear


@given(data=st.data())
def test_linear_matches_torch(data):
    lead = data.draw(shapes(min_dims=0, max_dims=3))
    in_features, out_features = data.draw(st.integers(1, 5)), data.draw(st.integers(1, 5))
    x = data.draw(arrays((*lead, in_features), dtype=F32))
    w = data.draw(arrays((out_features, in_features), dtype=F32))
    if data.draw(st.booleans()):
        b = data.draw(arrays((out_features,), dtype=F32))
        compare(F.linear, TF.linear, x, w, b)
        compare(lambda *ts: F.linear(*ts), lambda *ts: TF.linear(*ts), x, w, b)
    else:
        compare(F.linear, TF.linear, x, w)
        compare(lambda a, c: F.linear(a, c, None), lambda a, c: TF.linear(a, c, None), x, w)


@given(data=st.data())
def test_linear_with_a_constant_weight_matches_torch(data):
    """A frozen layer: only the input requires grad (and then only the weight, for data that needs none)."""
    x = data.draw(arrays(data.draw(shapes(min_dims=1, max_dims=4)), dtype=F32))
    w = data.draw(arrays((3, x.shape[-1]), dtype=F32))
    b = data.draw(arrays((3,), dtype=F32))
    compare(
        lambda a: F.linear(a, minidl.from_numpy(w), minidl.from_numpy(b)),
        lambda a: TF.linear(a, _torch_constant(w, a), _torch_constant(b, a)),
        x,
    )
    compare(lambda c: F.linear(minidl.from_numpy(x), c), lambda c: TF.linear(_torch_constant(x, c), c), w)


def _torch_constant(array: np.ndarray, like):
    """A PyTorch constant holding ``array`` in the dtype of ``like`` (compare_with_torch runs float32 and float64)."""
    return torch.from_numpy(np.array(array)).to(like.dtype)


def test_linear_bad_arguments():
    with pytest.raises(
        ValueError, match=r"linear: the input's last dim must be in_features = 3 .* got input shape \(2, 4\)"
    ):
        F.linear(minidl.zeros(2, 4), minidl.zeros(5, 3))
    with pytest.raises(ValueError, match=r"linear: weight must be 2-D \(out_features, in_features\), got \(3,\)"):
        F.linear(minidl.zeros(2, 3), minidl.zeros(3))
    with pytest.raises(ValueError, match=r"linear: bias must have shape \(5,\), got \(3,\)"):
        F.linear(minidl.zeros(2, 3), minidl.zeros(5, 3), minidl.zeros(3))


# --------------------------------------------------------------------------------------------------------- dropout

PROBABILITIES = st.one_of(st.sampled_from([0.1, 0.2, 0.5, 0.8, 0.9]), st.floats(0.01, 0.99))


@given(x=arrays(shapes(max_dims=4), dtype=F32), p=st.one_of(st.just(0.5), st.floats(0.0, 1.0)))
def test_dropout_outside_training_is_the_identity_like_torch(x, p):
    compare(lambda t: F.dropout(t, p, training=False), lambda t: TF.dropout(t, p, training=False), x)
    compare(lambda t: F.dropout(t, p, False), lambda t: TF.dropout(t, p, False), x)


@given(x=arrays(shapes(max_dims=4), dtype=F32))
def test_dropout_with_p_0_is_the_identity_like_torch(x):
    compare(lambda t: F.dropout(t, 0.0), lambda t: TF.dropout(t, 0.0), x)
    compare(lambda t: F.dropout(t, p=0.0, training=True), lambda t: TF.dropout(t, p=0.0, training=True), x)


@given(x=arrays(shapes(max_dims=4), dtype=F32))
def test_dropout_with_p_1_zeroes_everything_like_torch(x):
    """Output and gradient all zeros (no 1 / (1 - p) = inf, no NaN)."""
    compare(lambda t: F.dropout(t, 1.0), lambda t: TF.dropout(t, 1.0), x)
    ours = minidl.from_numpy(x).requires_grad_()
    out = F.dropout(ours, 1.0)
    out.backward(minidl.ones_like(out))
    assert np.all(out.detach().numpy() == 0)  # no NaN either
    np.testing.assert_array_equal(ours.grad.numpy(), np.zeros_like(x))


def _run_dropout(x: np.ndarray, p: float, seed: np.ndarray):
    """minidl's and PyTorch's dropout of x in training, each with the gradient for output gradient ``seed``:
    (our output, our gradient, their output, their gradient) as NumPy arrays."""
    ours = minidl.from_numpy(x).requires_grad_()
    out = F.dropout(ours, p)
    out.backward(minidl.tensor(seed))
    theirs = torch.from_numpy(np.array(x)).requires_grad_()
    expected = TF.dropout(theirs, p)
    expected.backward(torch.from_numpy(seed))
    return out.detach().numpy(), ours.grad.numpy(), expected.detach().numpy(), theirs.grad.numpy()


@given(
    x=arrays(shapes(min_dims=1, max_dims=4, max_side=6), dtype=F32, layouts=("contiguous", "transposed", "reversed")),
    p=PROBABILITIES,
)
def test_dropout_keeps_and_scales_like_torch(x, p):
    """Each element is 0 or exactly x times the scale 1 / (1 - p) in float32, and its gradient is the output
    gradient times the same scale: in minidl and in PyTorch alike. minidl rounds 1 / (1 - p) to float32 once;
    PyTorch divides 1 by 1 - p rounded to float32 first, which may be one float32 step away."""
    away_from_zero(x)  # a zero input would hide whether it was kept
    seed = np.random.default_rng(3).standard_normal(x.shape).astype(F32)
    our_scale, their_scale = F32(1.0 / (1.0 - p)), F32(1) / F32(1.0 - p)
    assert abs(int(our_scale.view(np.int32)) - int(their_scale.view(np.int32))) <= 1
    results = _run_dropout(x, p, seed)
    for (out, grad), scale in ((results[:2], our_scale), (results[2:], their_scale)):
        kept = out != 0
        assert out.dtype == np.float32 and grad.dtype == np.float32
        np.testing.assert_array_equal(out, np.where(kept, x * scale, F32(0)))
        np.testing.assert_array_equal(grad, np.where(kept, seed * scale, F32(0)))


@pytest.mark.parametrize("p", [0.05, 0.2, 0.5, 0.7, 0.95])
def test_dropout_drops_a_share_p_like_torch(p):
    """Over 60 000 elements the share of zeros is p within 5 standard deviations, in rows and columns alike (no
    stripes), and minidl's and PyTorch's shares agree as two such samples do."""
    x = np.ones((300, 200), dtype=F32)
    ours = F.dropout(minidl.from_numpy(x), p).numpy() == 0
    theirs = TF.dropout(torch.from_numpy(x), p).numpy() == 0
    sd = np.sqrt(p * (1 - p) / x.size)
    assert abs(ours.mean() - p) < 5 * sd
    assert abs(theirs.mean() - p) < 5 * sd
    assert abs(ours.mean() - theirs.mean()) < 5 * np.sqrt(2) * sd
    # each row (200 elements) and each column (300) near p too: 6 standard deviations over 500 of them
    for axis, count in ((1, 200), (0, 300)):
        assert np.abs(ours.mean(axis=axis) - p).max() < 6 * np.sqrt(p * (1 - p) / count)
    # independent of the neighbour: P(both dropped) = p^2
    both = (ours[:, 1:] & ours[:, :-1]).mean()
    assert abs(both - p * p) < 5 * np.sqrt(p * p * (1 - p * p) / ours[:, 1:].size) + 1e-3


def test_dropout_mask_is_reproducible_under_manual_seed():
    x = np.random.default_rng(0).uniform(1, 2, (50, 40)).astype(F32)
    minidl.manual_seed(123)
    first = F.dropout(minidl.from_numpy(x), 0.5).numpy()
    second = F.dropout(minidl.from_numpy(x), 0.5).numpy()
    minidl.manual_seed(123)
    again = F.dropout(minidl.from_numpy(x), 0.5).numpy()
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, second)  # the generator moves on


def test_dropout_of_float64_keeps_the_dtype_and_exact_scale_like_torch():
    x = np.random.default_rng(1).uniform(1, 2, (20, 30))
    for p in (0.1, 1 / 3, 0.5):
        out = F.dropout(minidl.from_numpy(x), p).numpy()
        expected = TF.dropout(torch.from_numpy(x), p).numpy()
        assert out.dtype == expected.dtype == np.float64
        for result in (out, expected):
            kept = result != 0
            np.testing.assert_array_equal(result[kept], x[kept] * (1 / (1 - p)))


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan")])
def test_dropout_p_outside_0_1_is_refused(p):
    x = minidl.zeros(3)
    with pytest.raises(ValueError, match=r"dropout: p must be a probability in \[0, 1\], got "):
        F.dropout(x, p)
    with pytest.raises(ValueError, match=r"dropout: p must be a probability in \[0, 1\], got "):
        F.dropout(x, p, training=False)
    with pytest.raises((ValueError, RuntimeError), match="dropout probability has to be between 0 and 1"):
        TF.dropout(torch.zeros(3), p)  # PyTorch refuses them too
