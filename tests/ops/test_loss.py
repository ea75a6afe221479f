"""Losses: gradients against finite differences (class-index and probability targets, weights, ignore_index,
label smoothing, reductions), and errors for bad targets."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minidl
import minidl.nn.functional as F

REDUCTIONS = st.sampled_from(["mean", "sum", "none"])


@st.composite
def class_problem(draw):
    """(scores, targets, class weights or None): scores (N, C) or (N, C, d), some targets ignored (-100)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n, c = draw(st.integers(1, 4)), draw(st.integers(2, 4))
    spatial = draw(st.sampled_from([(), (2,), (2, 1)]))
    scores = rng.standard_normal((n, c, *spatial)) * 2
    targets = rng.integers(0, c, (n, *spatial))
    targets[rng.random(targets.shape) < 0.2] = -100
    if (targets == -100).all():
        targets.flat[0] = 0
    weights = rng.uniform(0.5, 2, c) if draw(st.booleans()) else None
    return scores, targets, weights


@given(problem=class_problem(), reduction=REDUCTIONS, smoothing=st.sampled_from([0.0, 0.1, 0.5]))
def test_cross_entropy_gradients(problem, reduction, smoothing):
    scores, targets, weights = problem
    t = minidl.tensor(targets)
    w = None if weights is None else minidl.tensor(weights, dtype=minidl.float64)
    check = lambda s: F.cross_entropy(s, t, w, reduction=reduction, label_smoothing=smoothing)  # noqa: E731
    assert minidl.gradcheck(check, (minidl.tensor(scores, dtype=minidl.float64, requires_grad=True),))


@given(problem=class_problem(), reduction=REDUCTIONS)
def test_nll_loss_gradients(problem, reduction):
    scores, targets, weights = problem
    t = minidl.tensor(targets)
    w = None if weights is None else minidl.tensor(weights, dtype=minidl.float64)
    assert minidl.gradcheck(
        lambda s: F.nll_loss(F.log_softmax(s, 1), t, w, reduction=reduction),
        (minidl.tensor(scores, dtype=minidl.float64, requires_grad=True),),
    )


@given(problem=class_problem(), reduction=REDUCTIONS, smoothing=st.sampled_from([0.0, 0.2]))
def test_cross_entropy_with_probability_targets_gradients(problem, reduction, smoothing):
    scores, _, weights = problem
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(scores.shape[1]), size=(scores.shape[0], *scores.shape[2:]))
    probs = minidl.tensor(np.moveaxis(probs, -1, 1), dtype=minidl.float64)
    w = None if weights is None else minidl.tensor(weights, dtype=minidl.float64)
    assert minidl.gradcheck(
        lambda s: F.cross_entropy(s, probs, w, reduction=reduction, label_smoothing=smoothing),
        (minidl.tensor(scores, dtype=minidl.float64, requires_grad=True),),
    )


@given(reduction=REDUCTIONS, seed=st.integers(0, 2**32 - 1), weighted=st.booleans())
def test_mse_and_bce_with_logits_gradients(reduction, seed, weighted):
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    assert minidl.gradcheck(
        lambda x, y: F.mse_loss(x, y, reduction=reduction),
        (
            minidl.tensor(a, dtype=minidl.float64, requires_grad=True),
            minidl.tensor(b, dtype=minidl.float64, requires_grad=True),
        ),
    )
    target = minidl.tensor(rng.uniform(0, 1, (3, 4)), dtype=minidl.float64)
    weight = minidl.tensor(rng.uniform(0, 2, (3, 4)), dtype=minidl.float64) if weighted else None
    pos_weight = minidl.tensor(rng.uniform(0.5, 3, 4), dtype=minidl.float64) if weighted else None
    assert minidl.gradcheck(
        lambda x: F.binary_cross_entropy_with_logits(x, target, weight, reduction, pos_weight),
        (minidl.tensor(a * 5, dtype=minidl.float64, requires_grad=True),),
    )


def test_losses_are_stable_and_exact_at_extremes():
    logits = minidl.tensor([[1000.0, -1000.0], [-1000.0, 1000.0]])
    assert F.cross_entropy(logits, minidl.tensor([0, 1])).item() == 0.0
    assert np.isclose(F.cross_entropy(logits, minidl.tensor([1, 1])).item(), 1000.0)
    big = minidl.tensor([50.0, -50.0])
    bce = F.binary_cross_entropy_with_logits(big, minidl.tensor([1.0, 0.0]), reduction="none")
    assert np.allclose(bce.numpy(), np.exp(-50.0), rtol=1e-6)  # log1p keeps the tiny losses exact


def test_class_loss_errors():
    scores = minidl.randn(3, 5)
    with pytest.raises(IndexError, match=r"target 7 is out of range for 5 classes \(expected 0..4 or ignore_index"):
        F.cross_entropy(scores, minidl.tensor([0, 7, 1]))
    with pytest.raises(IndexError, match="target -3 is out of range"):
        F.nll_loss(scores, minidl.tensor([0, -3, 1]))
    with pytest.raises(ValueError, match=r"target shape \(2,\) does not match the input shape \(3, 5\)"):
        F.cross_entropy(scores, minidl.tensor([0, 1]))
    with pytest.raises(TypeError, match="must be integers"):
        F.nll_loss(scores, minidl.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.cross_entropy(scores, minidl.tensor([0, 1, 2]), reduction="avg")
    with pytest.raises(ValueError, match=r"weight must have shape \(5,\)"):
        F.cross_entropy(scores, minidl.tensor([0, 1, 2]), weight=minidl.ones(4))
    with pytest.warns(UserWarning, match="broadcast"):
        F.mse_loss(minidl.randn(3, 1), minidl.randn(3))
    assert np.isnan(F.cross_entropy(scores, minidl.tensor([-100, -100, -100])).item())  # nothing counted: 0/0
