"""nms: the reference against a hand-worked case and a plain Python loop; the Numba kernel against the reference on
random boxes of odd counts (with many tied scores, strided views, both dtypes, thresholds 0 and 1); the cuda kernel
against the reference on Numba's CUDA simulator at small counts (words of 64 positions, and one past)."""

import importlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from minidl_kernels import BY_DEVICE, IMPLEMENTATIONS
from minidl_kernels.cuda import nms as cuda_nms
from minidl_kernels.cuda import runtime


def _load(impl):
    module, attr = IMPLEMENTATIONS["nms"][impl].split(":")
    return getattr(importlib.import_module(module), attr)


REFERENCE = _load("reference")
ALL = [pytest.param(_load(impl), id=impl) for impl in IMPLEMENTATIONS["nms"]]


def test_every_implementation_is_there():
    assert set(IMPLEMENTATIONS["nms"]) == {"reference", "numba"}
    assert set(BY_DEVICE["cuda"]["nms"]) == {"cuda"}


def random_boxes(rng, n, dtype=np.float64, ties=True):
    """n boxes of sides 1 to 15 in a 40 x 40 square (many overlaps) and scores; with ``ties``, scores from 4 values."""
    corner = rng.uniform(0, 30, (n, 2))
    boxes = np.concatenate([corner, corner + rng.uniform(1, 15, (n, 2))], axis=1).astype(dtype)
    scores = (rng.integers(0, 4, n) / 4 if ties else rng.uniform(0, 1, n)).astype(dtype)
    return boxes, scores


def plain_nms(boxes, scores, threshold):
    """The definition, one pair at a time in Python floats: visit by decreasing score (ties: lower index), keep a
    box unless a kept one overlaps it by IoU > threshold."""
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    kept = []
    for i in order:
        overlaps = False
        for k in kept:
            a, b = boxes[i], boxes[k]
            w = max(min(a[2], b[2]) - max(a[0], b[0]), 0.0)
            h = max(min(a[3], b[3]) - max(a[1], b[1]), 0.0)
            union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
            overlaps = overlaps or (union > 0 and w * h / union > threshold)
        if not overlaps:
            kept.append(i)
    return kept


# A (0.9) and B (0.8): IoU 81/119 = 0.68; A and C (0.7): 25/175 = 0.14; B and C: 36/164 = 0.22; D (0.95) apart.
HAND = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [5, 5, 15, 15], [20, 20, 30, 30]], dtype=np.float64)
HAND_SCORES = np.array([0.9, 0.8, 0.7, 0.95])


@pytest.mark.parametrize("kernel", ALL)
@pytest.mark.parametrize(
    ("threshold", "kept"),
    [
        (0.5, [3, 0, 2]),  # B goes (0.68 > 0.5); C stays
        (0.2, [3, 0, 2]),  # C overlaps B by 0.22 > 0.2, but B was suppressed before it could suppress C
        (0.1, [3, 0]),  # A suppresses both B and C
        (0.7, [3, 0, 1, 2]),
    ],
)
def test_a_hand_worked_case(kernel, threshold, kept):
    assert kernel(HAND, HAND_SCORES, threshold).tolist() == kept


@pytest.mark.parametrize("kernel", ALL)
def test_ties_threshold_and_empty_boxes(kernel):
    same = np.array([[0, 0, 2, 2]] * 3, dtype=np.float64)
    assert kernel(same, np.array([0.5, 0.7, 0.7]), 0.5).tolist() == [1]  # equal scores: the lower index wins
    apart = np.array([[0, 0, 1, 1], [5, 5, 6, 6], [9, 9, 10, 10]], dtype=np.float64)
    assert kernel(apart, np.zeros(3), 0.5).tolist() == [0, 1, 2]
    # IoU exactly 0.5 (intersection 2, union 4): suppressed only when strictly above the threshold.
    half = np.array([[0, 0, 2, 2], [0, 0, 2, 1]], dtype=np.float64)
    assert kernel(half, np.array([1.0, 0.5]), 0.5).tolist() == [0, 1]
    assert kernel(half, np.array([1.0, 0.5]), 0.49).tolist() == [0]
    # Two empty boxes at one point: union 0, so no suppression even at threshold 0.
    empty = np.array([[1, 1, 1, 1], [1, 1, 1, 1]], dtype=np.float64)
    assert kernel(empty, np.array([0.2, 0.3]), 0.0).tolist() == [1, 0]
    # NaN scores come last; a negative threshold keeps only the best box among overlapping and disjoint ones.
    assert kernel(apart, np.array([np.nan, 0.1, 0.2]), 0.5).tolist() == [2, 1, 0]
    assert kernel(apart, np.array([0.3, 0.1, 0.2]), -0.5).tolist() == [0]


@pytest.mark.parametrize("kernel", ALL)
def test_returns_int64_indices(kernel):
    for n in (0, 1):
        boxes, scores = random_boxes(np.random.default_rng(n), n, np.float32)
        out = kernel(boxes, scores, 0.5)
        assert out.dtype == np.int64 and out.shape == (n,)


@settings(max_examples=20)
@given(
    n=st.sampled_from([0, 1, 2, 3, 17, 40]),
    threshold=st.sampled_from([0.0, 0.3, 0.5, 1.0]),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_reference_is_the_definition(n, threshold, seed):
    boxes, scores = random_boxes(np.random.default_rng(seed), n)
    assert REFERENCE(boxes, scores, threshold).tolist() == plain_nms(boxes.tolist(), scores.tolist(), threshold)


@settings(max_examples=40)
@given(
    n=st.sampled_from([0, 1, 2, 7, 63, 64, 65, 129, 300]),
    dtype=st.sampled_from([np.float32, np.float64]),
    threshold=st.sampled_from([0.0, 0.2, 0.45, 0.7, 1.0]),
    ties=st.booleans(),
    strided=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_numba_matches_the_reference(n, dtype, threshold, ties, strided, seed):
    boxes, scores = random_boxes(np.random.default_rng(seed), n, dtype, ties)
    if strided:  # columns of a wider array, scores reversed in memory
        wide = np.zeros((n, 8), dtype=dtype)
        wide[:, ::2] = boxes
        boxes, scores = wide[:, ::2], np.ascontiguousarray(scores[::-1])[::-1]
    expected = REFERENCE(boxes, scores, threshold)
    np.testing.assert_array_equal(_load("numba")(boxes, scores, threshold), expected)


def _host(array):
    return array if isinstance(array, np.ndarray) else array.get()


@pytest.mark.parametrize(
    ("n", "dtype"), [(0, np.float32), (1, np.float64), (5, np.float32), (64, np.float64), (65, np.float32)]
)
def test_cuda_matches_the_reference(n, dtype):
    rng = np.random.default_rng(n)
    boxes, scores = random_boxes(rng, n, dtype)
    xp = runtime.array_module()
    for threshold in (0.0, 0.4, 1.0):
        got = cuda_nms.nms(xp.asarray(boxes), xp.asarray(scores), threshold)
        np.testing.assert_array_equal(_host(got), REFERENCE(boxes, scores, threshold))
