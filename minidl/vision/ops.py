"""Box operations with torchvision's names and conventions: boxes are (x1, y1, x2, y2) with x1 <= x2, y1 <= y2
(``xyxy``), in any unit (pixels, or fractions of the image).

- ``box_area(boxes)``, ``box_iou(boxes1, boxes2)`` and ``box_convert(boxes, in_fmt, out_fmt)`` are built from
  minidl's ops, so they are differentiable (an IoU loss can back-propagate through them);
- ``nms(boxes, scores, iou_threshold)`` and ``batched_nms(boxes, scores, idxs, iou_threshold)`` return the indices
  of the boxes they keep (int64), highest score first; they run the device's ``nms`` kernel and are not
  differentiable (indices have no gradient).

Ties and edge cases of NMS, the same in every implementation: boxes of equal score are visited in increasing
index, so the lower index is kept first; NaN scores come last; a box suppresses a later one when their IoU is
strictly greater than ``iou_threshold`` (rounded to the boxes' dtype); two empty boxes never suppress each other.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minidl.ops import clamp, maximum, minimum, stack
from minidl.ops.checks import expect_tensor
from minidl.tensor import Tensor

BOX_FORMATS = ("xyxy", "xywh", "cxcywh")


def _check_boxes(boxes: Any, op: str, name: str = "boxes", batched: bool = False) -> Tensor:
    """``boxes`` as a floating-point Tensor of shape (N, 4) (or (..., 4) when ``batched``)."""
    expect_tensor(boxes, op, name)
    shape = tuple(boxes.shape)
    if (batched and (not shape or shape[-1] != 4)) or (not batched and (len(shape) != 2 or shape[1] != 4)):
        wanted = "(..., 4)" if batched else "(N, 4)"
        raise ValueError(f"{op}: {name} must have shape {wanted}, one (x1, y1, x2, y2) row per box, got {shape}")
    if boxes.dtype.kind != "f":
        raise TypeError(f"{op}: {name} must be floating point, got {boxes.dtype.name}; convert them with .float()")
    return boxes


def box_area(boxes: Tensor) -> Tensor:
    """The area of each box: (x2 - x1) * (y2 - y1). boxes: (N, 4) xyxy -> (N,); differentiable."""
    _check_boxes(boxes, "box_area")
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def box_iou(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """Intersection over union of every pair: boxes1 (N, 4), boxes2 (M, 4), both xyxy -> (N, M); differentiable.

    A pair whose union is empty gives NaN (0 / 0), as in torchvision.
    """
    _check_boxes(boxes1, "box_iou", "boxes1")
    _check_boxes(boxes2, "box_iou", "boxes2")
    if boxes1.dtype != boxes2.dtype:
        raise TypeError(f"box_iou: boxes1 and boxes2 need one dtype, got {boxes1.dtype.name} and {boxes2.dtype.name}")
    top_left = maximum(boxes1[:, None, :2], boxes2[None, :, :2])
    bottom_right = minimum(boxes1[:, None, 2:], boxes2[None, :, 2:])
    size = clamp(bottom_right - top_left, min=0)  # (N, M, 2); no overlap -> 0
    inter = size[:, :, 0] * size[:, :, 1]
    union = box_area(boxes1)[:, None] + box_area(boxes2)[None, :] - inter
    return inter / union


def box_convert(boxes: Tensor, in_fmt: str, out_fmt: str) -> Tensor:
    """Boxes from one format to another: ``xyxy`` (corners), ``xywh`` (top-left corner, width, height) or
    ``cxcywh`` (centre, width, height). boxes: (..., 4) -> (..., 4); differentiable."""
    for name, fmt in (("in_fmt", in_fmt), ("out_fmt", out_fmt)):
        if fmt not in BOX_FORMATS:
            raise ValueError(f"box_convert: {name} must be one of {', '.join(BOX_FORMATS)}, got {fmt!r}")
    _check_boxes(boxes, "box_convert", batched=True)
    if in_fmt == out_fmt:
        return boxes.clone()
    a, b, c, d = (boxes[..., k] for k in range(4))
    if in_fmt == "xywh":
        a, b, c, d = a, b, a + c, b + d
    elif in_fmt == "cxcywh":
        a, b, c, d = a - 0.5 * c, b - 0.5 * d, a + 0.5 * c, b + 0.5 * d
    # Now (a, b, c, d) = (x1, y1, x2, y2).
    if out_fmt == "xywh":
        a, b, c, d = a, b, c - a, d - b
    elif out_fmt == "cxcywh":
        a, b, c, d = (a + c) * 0.5, (b + d) * 0.5, c - a, d - b
    return stack([a, b, c, d], dim=-1)


def _check_nms_inputs(boxes: Any, scores: Any, op: str) -> None:
    """Tensors on one device: boxes (N, 4) of finite values, scores (N,) of the boxes' dtype."""
    _check_boxes(boxes, op)
    expect_tensor(scores, op, "scores")
    if scores.device != boxes.device:
        raise ValueError(f"{op}: boxes and scores must be on one device, got {boxes.device} and {scores.device}")
    if tuple(scores.shape) != (boxes.shape[0],):
        raise ValueError(f"{op}: scores must have shape ({boxes.shape[0]},), one per box, got {tuple(scores.shape)}")
    if scores.dtype != boxes.dtype:
        raise TypeError(
            f"{op}: scores must have the boxes' dtype {boxes.dtype.name}, got {scores.dtype.name}; convert them "
            f"with scores.to(boxes.dtype)"
        )
    xp = boxes.backend.xp
    finite = xp.isfinite(boxes.data).all(axis=1)
    if not bool(finite.all()):
        first = int(xp.argmin(finite))
        raise ValueError(f"{op}: boxes must be finite, got {boxes.data[first].tolist()} at row {first}")


def _nms_indices(boxes: Tensor, scores: Tensor, iou_threshold: float) -> Any:
    """The device's nms kernel on the raw arrays: int64 (K,) kept indices."""
    return boxes.backend.kernels.nms(boxes.data, scores.data, iou_threshold)


def nms(boxes: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    """Non-maximum suppression: repeatedly keep the highest-scoring box left and drop every box whose IoU with it
    exceeds ``iou_threshold``.

    boxes: (N, 4) xyxy; scores: (N,) of the boxes' dtype -> int64 (K,), the kept indices by decreasing score
    (ties: lower index first). Not differentiable.
    """
    _check_nms_inputs(boxes, scores, "nms")
    return Tensor._make(_nms_indices(boxes, scores, iou_threshold), boxes.backend)


def batched_nms(boxes: Tensor, scores: Tensor, idxs: Tensor, iou_threshold: float) -> Tensor:
    """Non-maximum suppression within each category: boxes of different ``idxs`` never suppress each other.

    boxes: (N, 4) xyxy; scores: (N,); idxs: (N,) integer category of each box -> int64 (K,), the kept indices
    by decreasing score (ties: lower index first). The result is ``nms`` run on each category alone, merged in
    that order (exact: no coordinate offsets that could round). Not differentiable.
    """
    _check_nms_inputs(boxes, scores, "batched_nms")
    expect_tensor(idxs, "batched_nms", "idxs")
    if tuple(idxs.shape) != (boxes.shape[0],) or idxs.dtype.kind not in "iu":
        raise ValueError(
            f"batched_nms: idxs must be integers of shape ({boxes.shape[0]},), one category per box, got "
            f"{idxs.dtype.name} of shape {tuple(idxs.shape)}"
        )
    if idxs.device != boxes.device:
        raise ValueError(f"batched_nms: idxs must be on the boxes' device {boxes.device}, got {idxs.device}")
    xp = boxes.backend.xp
    kept = [xp.zeros((0,), dtype=np.int64)]
    for category in xp.unique(idxs.data).tolist():
        members = xp.flatnonzero(idxs.data == category)
        local = Tensor._make(boxes.data[members], boxes.backend), Tensor._make(scores.data[members], boxes.backend)
        kept.append(members[_nms_indices(*local, iou_threshold)])
    kept = xp.sort(xp.concatenate(kept))  # by index, so that the stable sort below breaks ties by index
    order = xp.argsort(-scores.data[kept], kind="stable")
    return Tensor._make(kept[order].astype(np.int64, copy=False), boxes.backend)
