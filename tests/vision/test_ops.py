"""minidl.vision.ops: box_area, box_iou and box_convert against hand-worked values, with float64 finite-difference
gradients over drawn boxes; nms and batched_nms against hand-worked cases (ties included), the plain per-class
definition and torchvision's coordinate-offset trick; the cuda device gives the CPU's indices; errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minidl
from minidl.vision import ops
from tests.kernels.test_nms import HAND, HAND_SCORES, plain_nms, random_boxes
from tests.support import check_gradients


def drawn_boxes(seed: int, n: int) -> np.ndarray:
    """n float64 xyxy boxes of sides 1 to 6 with corners in [0, 10): overlaps are common, ties are not."""
    rng = np.random.default_rng(seed)
    corner = rng.uniform(0, 10, (n, 2))
    return np.concatenate([corner, corner + rng.uniform(1, 6, (n, 2))], axis=1)


def test_box_area_and_iou_by_hand():
    a = minidl.tensor([[0.0, 0.0, 2.0, 2.0], [1.0, 1.0, 3.0, 4.0]])
    b = minidl.tensor([[1.0, 1.0, 2.0, 2.0], [5.0, 5.0, 6.0, 6.0], [0.0, 0.0, 2.0, 2.0]])
    assert ops.box_area(a).tolist() == [4.0, 6.0]
    # (0,0,2,2) vs (1,1,2,2): 1 / 4; vs far away: 0; vs itself: 1. (1,1,3,4) vs (1,1,2,2): 1 / 6; vs (0,0,2,2): 1 / 9.
    expected = [[0.25, 0.0, 1.0], [1 / 6, 0.0, 1 / 9]]
    np.testing.assert_allclose(ops.box_iou(a, b).numpy(), expected, rtol=1e-6)
    assert ops.box_iou(a, b).dtype == np.float32 and ops.box_iou(a, b).shape == (2, 3)
    touching = minidl.tensor([[2.0, 0.0, 4.0, 2.0]])  # shares an edge with (0,0,2,2): no overlap
    assert ops.box_iou(a[:1], touching).tolist() == [[0.0]]


def test_box_convert_by_hand_and_round_trips():
    xyxy = minidl.tensor([[1.0, 2.0, 5.0, 8.0]])
    assert ops.box_convert(xyxy, "xyxy", "xywh").tolist() == [[1.0, 2.0, 4.0, 6.0]]
    assert ops.box_convert(xyxy, "xyxy", "cxcywh").tolist() == [[3.0, 5.0, 4.0, 6.0]]
    assert ops.box_convert(minidl.tensor([[3.0, 5.0, 4.0, 6.0]]), "cxcywh", "xywh").tolist() == [[1.0, 2.0, 4.0, 6.0]]
    boxes = minidl.tensor(drawn_boxes(0, 5).reshape(5, 1, 4))  # any leading dims
    for fmt in ("xywh", "cxcywh"):
        there = ops.box_convert(boxes, "xyxy", fmt)
        assert there.shape == (5, 1, 4)
        np.testing.assert_allclose(ops.box_convert(there, fmt, "xyxy").numpy(), boxes.numpy(), rtol=1e-12)
    same = ops.box_convert(boxes, "xyxy", "xyxy")
    assert same is not boxes and np.array_equal(same.numpy(), boxes.numpy())


@settings(max_examples=15)
@given(n=st.integers(1, 4), m=st.integers(1, 3), seed=st.integers(0, 2**32 - 1))
def test_box_iou_gradients(n, m, seed):
    boxes = drawn_boxes(seed, n + m)
    check_gradients(ops.box_iou, boxes[:n], boxes[n:])


@settings(max_examples=10)
@given(n=st.integers(1, 4), fmt=st.sampled_from([("xyxy", "cxcywh"), ("cxcywh", "xyxy"), ("xywh", "cxcywh")]),
       seed=st.integers(0, 2**32 - 1))  # fmt: skip
def test_box_convert_and_area_gradients(n, fmt, seed):
    boxes = drawn_boxes(seed, n)
    check_gradients(lambda b: ops.box_convert(b, *fmt), boxes)
    check_gradients(ops.box_area, boxes)


def test_nms_hand_worked_and_ties():
    boxes, scores = minidl.tensor(HAND), minidl.tensor(HAND_SCORES)
    kept = ops.nms(boxes, scores, 0.5)
    assert kept.dtype == np.int64 and kept.tolist() == [3, 0, 2]
    assert ops.nms(boxes, scores, 0.1).tolist() == [3, 0]
    same = minidl.tensor([[0.0, 0.0, 1.0, 1.0]] * 4)
    assert ops.nms(same, minidl.tensor([0.1, 0.3, 0.3, 0.2]), 0.5).tolist() == [1]  # the tie goes to index 1


def test_batched_nms_by_hand():
    boxes = minidl.tensor(np.concatenate([HAND, HAND]))  # each box twice: once in category 0, once in 7
    scores = minidl.tensor(np.concatenate([HAND_SCORES, HAND_SCORES - 0.1]))
    idxs = minidl.tensor([0, 0, 0, 0, 7, 7, 7, 7])
    # Category 0 keeps 3, 0, 2 (0.95, 0.9, 0.7); category 7 keeps 7, 4, 6 (0.85, 0.8, 0.6), merged by score.
    assert ops.batched_nms(boxes, scores, idxs, 0.5).tolist() == [3, 0, 7, 4, 2, 6]
    # Equal scores across categories: the lower index first.
    tied = ops.batched_nms(boxes, minidl.ones(8, dtype=minidl.float64), idxs, 0.5).tolist()
    assert tied == [0, 2, 3, 4, 6, 7]
    empty = ops.batched_nms(minidl.zeros((0, 4)), minidl.zeros(0), minidl.zeros(0, dtype=minidl.int64), 0.5)
    assert empty.dtype == np.int64 and empty.shape == (0,)


def _per_category(boxes, scores, idxs, threshold):
    """The definition: plain NMS in each category, merged by decreasing score, ties by index."""
    kept = []
    for c in np.unique(idxs):
        members = np.flatnonzero(idxs == c)
        kept += [int(members[k]) for k in plain_nms(boxes[members].tolist(), scores[members].tolist(), threshold)]
    return sorted(kept, key=lambda i: (-scores[i], i))


@settings(max_examples=20)
@given(n=st.sampled_from([1, 2, 9, 30]), categories=st.integers(1, 4), seed=st.integers(0, 2**32 - 1))
def test_batched_nms_is_nms_per_category(n, categories, seed):
    rng = np.random.default_rng(seed)
    boxes, scores = random_boxes(rng, n)
    boxes = np.round(boxes)  # integers: the offset trick below is exact
    idxs = rng.integers(0, categories, n)
    got = ops.batched_nms(minidl.tensor(boxes), minidl.tensor(scores), minidl.tensor(idxs), 0.3).tolist()
    assert got == _per_category(boxes, scores, idxs, 0.3)
    # torchvision's trick: shift each category's boxes far from the others, then one plain nms.
    shifted = boxes + (idxs * (boxes.max() + 1))[:, None]
    assert got == ops.nms(minidl.tensor(shifted), minidl.tensor(scores), 0.3).tolist()


def test_nms_on_cuda_gives_the_cpu_indices():
    boxes, scores = random_boxes(np.random.default_rng(3), 20)
    idxs = np.arange(20) % 3
    cpu = [minidl.tensor(a) for a in (boxes, scores, idxs)]
    gpu = [t.to("cuda") for t in cpu]
    kept = ops.nms(gpu[0], gpu[1], 0.4)
    assert kept.device == "cuda" and kept.tolist() == ops.nms(cpu[0], cpu[1], 0.4).tolist()
    assert ops.batched_nms(*gpu, 0.4).tolist() == ops.batched_nms(*cpu, 0.4).tolist()


def test_errors_name_what_was_expected():
    boxes, scores = minidl.tensor(HAND), minidl.tensor(HAND_SCORES)
    with pytest.raises(ValueError, match=r"box_iou: boxes2 must have shape \(N, 4\)"):
        ops.box_iou(boxes, boxes[:, :3])
    with pytest.raises(TypeError, match="box_area: boxes must be a minidl.Tensor"):
        ops.box_area(HAND)
    with pytest.raises(TypeError, match="box_area: boxes must be floating point, got int64"):
        ops.box_area(minidl.tensor([[0, 0, 1, 1]]))
    with pytest.raises(ValueError, match="box_convert: out_fmt must be one of xyxy, xywh, cxcywh, got 'xyhw'"):
        ops.box_convert(boxes, "xyxy", "xyhw")
    with pytest.raises(ValueError, match=r"nms: scores must have shape \(4,\)"):
        ops.nms(boxes, scores[:3], 0.5)
    with pytest.raises(TypeError, match="nms: scores must have the boxes' dtype float64, got float32"):
        ops.nms(boxes, scores.float(), 0.5)
    bad = HAND.copy()
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"nms: boxes must be finite, got \[5.0, nan, 15.0, 15.0\] at row 2"):
        ops.nms(minidl.tensor(bad), scores, 0.5)
    with pytest.raises(ValueError, match="batched_nms: idxs must be integers of shape"):
        ops.batched_nms(boxes, scores, scores, 0.5)
    with pytest.raises(ValueError, match="batched_nms: boxes and scores must be on one device"):
        ops.batched_nms(boxes, scores.to("cuda"), minidl.zeros(4, dtype=minidl.int64), 0.5)
