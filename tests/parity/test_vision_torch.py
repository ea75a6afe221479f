"""minidl.vision.ops' differentiable box ops against the same formulas in PyTorch 2.13 (CPU, float32; torchvision is
not installed, so its box_iou / box_area / box_convert definitions are written out here): values and gradients,
overlapping, disjoint and identical boxes included (ties of the max/min share the gradient, as in PyTorch)."""

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from minidl.vision import ops
from tests.support import compare_with_torch
from tests.vision.test_ops import drawn_boxes


def torch_area(b):
    return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])


def torch_iou(a, b):
    top_left = torch.max(a[:, None, :2], b[None, :, :2])
    bottom_right = torch.min(a[:, None, 2:], b[None, :, 2:])
    size = (bottom_right - top_left).clamp(min=0)
    inter = size[..., 0] * size[..., 1]
    return inter / (torch_area(a)[:, None] + torch_area(b)[None, :] - inter)


def torch_xyxy_to_cxcywh(b):
    x1, y1, x2, y2 = b.unbind(-1)
    return torch.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], dim=-1)


@settings(max_examples=15)
@given(n=st.integers(1, 5), m=st.integers(1, 5), seed=st.integers(0, 2**32 - 1))
def test_box_iou_matches_torch(n, m, seed):
    boxes = drawn_boxes(seed, n + m).astype(np.float32)
    compare_with_torch(ops.box_iou, torch_iou, boxes[:n], boxes[n:])


def test_box_iou_of_identical_boxes_matches_torch():
    boxes = drawn_boxes(1, 4).astype(np.float32)
    compare_with_torch(lambda b: ops.box_iou(b, b), lambda b: torch_iou(b, b), boxes)


@settings(max_examples=10)
@given(n=st.integers(1, 6), seed=st.integers(0, 2**32 - 1))
def test_box_area_and_convert_match_torch(n, seed):
    boxes = drawn_boxes(seed, n).astype(np.float32)
    compare_with_torch(ops.box_area, torch_area, boxes)
    compare_with_torch(lambda b: ops.box_convert(b, "xyxy", "cxcywh"), torch_xyxy_to_cxcywh, boxes)
