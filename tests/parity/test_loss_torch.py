"""Losses against PyTorch 2.13 (CPU, float32): cross_entropy (class indices with ignore_index present, class
weights, label_smoothing, every reduction, (N, C) and (N, C, d1, ...) scores; probability targets with and without
smoothing and weights), nll_loss (the same without smoothing), mse_loss (every reduction, broadcasting with a
warning) and binary_cross_entropy_with_logits (weight, pos_weight, every reduction, logits up to ~50). Targets and
weights are constants, closed over by the compared functions. Then the errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

import minidl
import minidl.nn.functional as F
from tests.support import arrays, shapes
from tests.support import compare_with_torch as compare

F32 = np.float32
REDUCTIONS = st.sampled_from(["none", "mean", "sum"])


def _ours(array: np.ndarray | None):
    """A minidl constant (None stays None)."""
    return None if array is None else minidl.tensor(np.array(array))


def _theirs(array: np.ndarray | None, like=None):
    """A PyTorch constant (None stays None); a float one in the dtype of ``like`` (compare_with_torch runs
    PyTorch in float32 and float64)."""
    if array is None:
        return None
    t = torch.from_numpy(np.array(array))
    if not t.dtype.is_floating_point:
        return t.long()  # PyTorch's class losses take int64 (or uint8) targets only; minidl any integer dtype
    return t.to(like.dtype) if like is not None else t


@st.composite
def class_problems(draw, scales=(2.0, 5.0, 30.0)) -> dict:
    """Scores (N, C) or (N, C, d1, ...) in a drawn layout, up to a magnitude drawn from ``scales``; int64 class
    targets with some ``ignore_index`` entries; maybe class weights; a reduction. With 'mean' at least one target
    counts (every target ignored has a test of its own)."""
    n, c = draw(st.integers(1, 4)), draw(st.integers(1, 5))
    extra = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    scale = draw(st.sampled_from(scales))
    x = draw(arrays((n, c, *extra), dtype=F32, low=-scale, high=scale))
    ignore_index = draw(st.sampled_from([-100, -1, *range(c)]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    target = rng.integers(0, c, size=(n, *extra))
    ignored = rng.random(target.shape) < draw(st.sampled_from([0.0, 0.3, 0.8]))
    target[ignored] = ignore_index
    reduction = draw(REDUCTIONS)
    if reduction == "mean" and (target == ignore_index).all():
        if ignore_index < 0:
            target.flat[0] = 0
        elif c > 1:
            target.flat[0] = (ignore_index + 1) % c
        else:  # the only class is ignored: ignore nothing instead
            ignore_index = -100
    weight = draw(st.one_of(st.none(), arrays((c,), dtype=F32, low=0.1, high=2.0, layouts=("contiguous",))))
    return {"x": x, "target": target, "ignore_index": ignore_index, "weight": weight, "reduction": reduction}


@given(problem=class_problems(), smoothing=st.one_of(st.just(0.0), st.just(0.1), st.floats(0.0, 1.0)))
def test_cross_entropy_with_class_indices_matches_torch(problem, smoothing):
    x, target, weight = problem["x"], problem["target"], problem["weight"]
    kwargs = {"ignore_index": problem["ignore_index"], "reduction": problem["reduction"], "label_smoothing": smoothing}
    compare(
        lambda t: F.cross_entropy(t, _ours(target), _ours(weight), **kwargs),
        lambda t: TF.cross_entropy(t, _theirs(target), _theirs(weight, t), **kwargs),
        x,
    )


@given(problem=class_problems())
def test_nll_loss_matches_torch(problem):
    x, target, weight = problem["x"], problem["target"], problem["weight"]
    kwargs = {"ignore_index": problem["ignore_index"], "reduction": problem["reduction"]}
    compare(
        lambda t: F.nll_loss(t, _ours(target), _ours(weight), **kwargs),
        lambda t: TF.nll_loss(t, _theirs(target), _theirs(weight, t), **kwargs),
        x,
    )


def test_class_losses_default_arguments_match_torch():
    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, (5, 4)).astype(F32)
    target = np.array([0, 3, 1, -100, 3])
    compare(lambda t: F.cross_entropy(t, _ours(target)), lambda t: TF.cross_entropy(t, _theirs(target)), x)
    compare(lambda t: F.nll_loss(t, _ours(target)), lambda t: TF.nll_loss(t, _theirs(target)), x)
    x4 = rng.uniform(-3, 3, (2, 4, 3, 5)).astype(F32)
    target4 = rng.integers(0, 4, (2, 3, 5)).astype(np.int32)  # any integer dtype
    compare(lambda t: F.cross_entropy(t, _ours(target4)), lambda t: TF.cross_entropy(t, _theirs(target4)), x4)


@pytest.mark.parametrize(
    "scores, target",
    [
        ([[100.0, 95.0, 90.0]], [0]),
        ([[1000.0, 990.0]], [0]),
        ([[8.217701, -27.541588], [-13.812798, -29.008343]], [0, 0]),
        ([[30.0, 22.0, 25.0], [-40.0, -31.0, -45.0]], [0, 1]),
    ],
)
def test_cross_entropy_of_large_confident_scores_matches_torch(scores, target):
    x, target = np.array(scores, dtype=F32), np.array(target)
    for reduction in ("none", "sum"):
        compare(
            lambda t, r=reduction: F.cross_entropy(t, _ours(target), reduction=r),
            lambda t, r=reduction: TF.cross_entropy(t, _theirs(target), reduction=r),
            x,
        )


@pytest.mark.parametrize(
    "loss, kwargs",
    [("cross_entropy", {}), ("cross_entropy", {"label_smoothing": 0.2}), ("nll_loss", {})],
)
def test_class_losses_with_every_target_ignored_match_torch(loss, kwargs):
    x = np.random.default_rng(0).uniform(-1, 1, (3, 4)).astype(F32)
    target = np.full(3, -100)
    compare(
        lambda t: getattr(F, loss)(t, _ours(target), **kwargs),
        lambda t: getattr(TF, loss)(t, _theirs(target), **kwargs),
        x,
    )


@given(data=st.data())
def test_cross_entropy_with_probability_targets_matches_torch(data):
    n, c = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 5))
    extra = tuple(data.draw(st.lists(st.integers(1, 3), max_size=2)))
    x = data.draw(arrays((n, c, *extra), dtype=F32, low=-5, high=5))
    probs = data.draw(arrays((n, c, *extra), dtype=F32, low=0, high=1, layouts=("contiguous",)))
    if data.draw(st.booleans()):  # rows that sum to 1 (PyTorch asks for no more than non-negative values)
        probs /= probs.sum(axis=1, keepdims=True) + F32(1e-6)
    weight = data.draw(st.one_of(st.none(), arrays((c,), dtype=F32, low=0.1, high=2.0, layouts=("contiguous",))))
    smoothing = data.draw(st.one_of(st.just(0.0), st.floats(0.0, 1.0)))
    kwargs = {"reduction": data.draw(REDUCTIONS), "label_smoothing": smoothing}
    compare(
        lambda t: F.cross_entropy(t, _ours(probs), _ours(weight), **kwargs),
        lambda t: TF.cross_entropy(t, _theirs(probs, t), _theirs(weight, t), **kwargs),
        x,
    )


@given(data=st.data())
def test_mse_loss_matches_torch(data):
    shape = data.draw(shapes(max_dims=4))
    x, y = data.draw(arrays(shape, dtype=F32)), data.draw(arrays(shape, dtype=F32))
    reduction = data.draw(REDUCTIONS)
    # both sides differentiated: the target may be a model's output too
    compare(
        lambda a, b: F.mse_loss(a, b, reduction=reduction), lambda a, b: TF.mse_loss(a, b, reduction=reduction), x, y
    )
    compare(lambda a, b: F.mse_loss(a, b), lambda a, b: TF.mse_loss(a, b), x, y)
    compare(
        lambda a: F.mse_loss(a, _ours(y), reduction), lambda a: TF.mse_loss(a, _theirs(y, a), reduction=reduction), x
    )


@pytest.mark.filterwarnings("ignore:Using a target size:UserWarning")  # PyTorch's own warning
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_mse_loss_broadcasts_with_a_warning_like_torch(reduction):
    rng = np.random.default_rng(1)
    x, y = rng.uniform(-1, 1, (4, 1)).astype(F32), rng.uniform(-1, 1, 4).astype(F32)
    with pytest.warns(UserWarning, match=r"mse_loss: the target shape \(4,\) differs from the input shape \(4, 1\)"):
        compare(
            lambda a, b: F.mse_loss(a, b, reduction=reduction),
            lambda a, b: TF.mse_loss(a, b, reduction=reduction),
            x,
            y,
        )


@given(data=st.data())
def test_binary_cross_entropy_with_logits_matches_torch(data):
    shape = data.draw(shapes(min_dims=1, max_dims=3))
    x = data.draw(arrays(shape, dtype=F32, low=-50, high=50))
    if data.draw(st.booleans()):  # hard labels, or probabilities
        target = (data.draw(arrays(shape, dtype=F32, low=0, high=1)) > 0.5).astype(F32)
    else:
        target = data.draw(arrays(shape, dtype=F32, low=0, high=1))
    weight_shape = data.draw(st.sampled_from([None, shape, shape[-1:], (1,) * len(shape)]))
    weight = None if weight_shape is None else data.draw(arrays(weight_shape, dtype=F32, low=0.1, high=2))
    pos_weight = data.draw(st.one_of(st.none(), arrays(shape[-1:], dtype=F32, low=0.1, high=3)))
    reduction = data.draw(REDUCTIONS)
    compare(
        lambda t: F.binary_cross_entropy_with_logits(t, _ours(target), _ours(weight), reduction, _ours(pos_weight)),
        lambda t: TF.binary_cross_entropy_with_logits(
            t, _theirs(target, t), _theirs(weight, t), reduction=reduction, pos_weight=_theirs(pos_weight, t)
        ),
        x,
    )


def test_binary_cross_entropy_with_logits_of_extreme_logits_matches_torch():
    """Logits far beyond exp's float32 range stay finite, with the exact limits of the loss and its gradient."""
    x = np.array([-200.0, -88.0, -50.0, -1e-3, 0.0, 1e-3, 50.0, 88.0, 200.0], dtype=F32)
    for target in (np.zeros_like(x), np.ones_like(x), np.full_like(x, 0.3)):
        for reduction in ("none", "sum"):
            compare(
                lambda t, y=target, r=reduction: F.binary_cross_entropy_with_logits(t, _ours(y), reduction=r),
                lambda t, y=target, r=reduction: TF.binary_cross_entropy_with_logits(t, _theirs(y, t), reduction=r),
                x,
            )


@pytest.mark.parametrize("logit, target", [(-10.0, 0.0), (-23.838787, 0.0), (-30.0, 1e-3), (-8.0, 0.0)])
def test_binary_cross_entropy_with_logits_gradient_of_confident_negatives_matches_torch(logit, target):
    x, y = np.array([logit], dtype=F32), np.array([target], dtype=F32)
    compare(
        lambda t: F.binary_cross_entropy_with_logits(t, _ours(y), reduction="sum"),
        lambda t: TF.binary_cross_entropy_with_logits(t, _theirs(y, t), reduction="sum"),
        x,
    )


# ---------------------------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss"])
def test_class_labels_out_of_range_name_the_label_and_the_class_count(loss):
    x = minidl.zeros(4, 3)
    with pytest.raises(IndexError, match=rf"{loss}: target 5 is out of range for 3 classes \(expected 0..2"):
        getattr(F, loss)(x, minidl.tensor(np.array([0, 5, 1, 2])))
    with pytest.raises(IndexError, match=rf"{loss}: target -2 is out of range for 3 classes"):
        getattr(F, loss)(x, minidl.tensor(np.array([0, -2, 1, 2])))
    with pytest.raises(IndexError, match=rf"{loss}: target 3 is out of range for 3 classes"):
        getattr(F, loss)(minidl.zeros(2, 3, 2, 2), minidl.tensor(np.array([[[0, 1], [2, 3]], [[0, 0], [0, 0]]])))
    getattr(F, loss)(x, minidl.tensor(np.array([0, -100, 1, 2])))  # the default ignore_index is fine
    getattr(F, loss)(x, minidl.tensor(np.array([0, 7, 1, 2])), ignore_index=7)


@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss"])
def test_class_target_shape_must_match(loss):
    with pytest.raises(ValueError, match=rf"{loss}: the target shape \(4,\) does not match the input shape \(3, 5\)"):
        getattr(F, loss)(minidl.zeros(3, 5), minidl.tensor(np.zeros(4, dtype=np.int64)))
    with pytest.raises(ValueError, match=r"\(expected \(2, 4, 4\)\)"):
        getattr(F, loss)(minidl.zeros(2, 3, 4, 4), minidl.tensor(np.zeros((2, 4), dtype=np.int64)))
    with pytest.raises(ValueError, match=rf"{loss}: weight must have shape \(5,\), got \(4,\)"):
        getattr(F, loss)(minidl.zeros(3, 5), minidl.tensor(np.zeros(3, dtype=np.int64)), minidl.ones(4))


def test_other_target_shape_mismatches():
    with pytest.raises(ValueError, match=r"probability targets must have the input's shape \(3, 5\), got \(3, 4\)"):
        F.cross_entropy(minidl.zeros(3, 5), minidl.zeros(3, 4))
    with pytest.raises(ValueError, match=r"the target must have the input's shape \(3, 5\), got \(5,\)"):
        F.binary_cross_entropy_with_logits(minidl.zeros(3, 5), minidl.zeros(5))
    with pytest.raises(TypeError, match=r"nll_loss: class-index targets must be integers, got float32"):
        F.nll_loss(minidl.zeros(3, 5), minidl.zeros(3))


@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss", "mse_loss", "binary_cross_entropy_with_logits"])
def test_bad_reduction_is_refused(loss):
    x = minidl.zeros(3, 2)
    target = minidl.zeros(3, 2) if loss in ("mse_loss", "binary_cross_entropy_with_logits") else minidl.zeros(3).long()
    with pytest.raises(ValueError, match=rf"{loss}: reduction must be one of none, mean, sum, got 'avg'"):
        getattr(F, loss)(x, target, reduction="avg")


def test_label_smoothing_outside_0_1_is_refused():
    for smoothing in (-0.1, 1.5):
        with pytest.raises(ValueError, match=rf"label_smoothing must be in \[0, 1\], got {smoothing}"):
            F.cross_entropy(minidl.zeros(3, 2), minidl.zeros(3).long(), label_smoothing=smoothing)
