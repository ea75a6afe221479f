"""Non-maximum suppression (NMS): keep the highest-scoring box, drop every box that overlaps it too much, repeat.

boxes: (N, 4) float32/float64 as (x1, y1, x2, y2); scores: (N,) of the boxes' dtype; iou_threshold: a number.
The result is an int64 (K,) array of the kept indices, highest score first (torchvision's ``nms``).

The contract every implementation follows, so that they agree to the last index:

- order: boxes are visited by decreasing score; equal scores in increasing index (a stable sort of ``-scores``), so
  ties keep the lower index first; NaN scores come last;
- overlap: box j is suppressed by a kept box i when their union area is positive and
  ``intersection / union > iou_threshold``, computed in the boxes' dtype (the threshold is rounded to it first);
  a pair whose union is zero (two empty boxes) never suppresses.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from minidl_kernels.reference.arguments import float_dtype, shape_of, show

_WHAT = "nms"


def check_nms_args(boxes: Any, scores: Any, iou_threshold: Any) -> np.dtype:
    """The argument checks every nms implementation shares (shapes and dtypes only, never the values): boxes a
    float32/float64 (N, 4) array, scores (N,) of its dtype, iou_threshold a real number that is not NaN. Returns
    the dtype."""
    shape = shape_of(boxes, "boxes", _WHAT)
    if len(shape) != 2 or shape[1] != 4:
        raise ValueError(f"{_WHAT}: boxes of shape (N, 4) expected, got shape {show(shape)}")
    dtype = float_dtype(boxes, "boxes", _WHAT)
    score_shape = shape_of(scores, "scores", _WHAT)
    if score_shape != (shape[0],):
        raise ValueError(f"{_WHAT}: scores of shape ({shape[0]},), one per box, expected, got {show(score_shape)}")
    if scores.dtype != dtype:
        raise TypeError(f"{_WHAT}: scores of the boxes' dtype {dtype} expected, got {scores.dtype}")
    if isinstance(iou_threshold, (bool, np.bool_)) or not isinstance(iou_threshold, (int, float, np.number)):
        raise TypeError(f"{_WHAT}: iou_threshold must be a real number, got {iou_threshold!r}")
    if isinstance(iou_threshold, complex) or math.isnan(float(iou_threshold)):
        raise ValueError(f"{_WHAT}: iou_threshold must be a real number that is not NaN, got {iou_threshold!r}")
    return dtype


def threshold_in(dtype: np.dtype, iou_threshold: Any) -> np.floating:
    """The threshold rounded to the boxes' dtype, as every implementation compares it."""
    return dtype.type(iou_threshold)


def score_order(scores: np.ndarray) -> np.ndarray:
    """The visiting order: indices by decreasing score, ties by increasing index, NaN last (int64 (N,))."""
    return np.argsort(-scores, kind="stable").astype(np.int64, copy=False)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices of the boxes that survive non-maximum suppression, by decreasing score.

    boxes: (N, 4) float32/float64 (x1, y1, x2, y2); scores: (N,) same dtype; returns int64 (K,), K <= N.
    """
    dtype = check_nms_args(boxes, scores, iou_threshold)
    threshold = threshold_in(dtype, iou_threshold)
    x1, y1, x2, y2 = (boxes[:, k] for k in range(4))
    areas = (x2 - x1) * (y2 - y1)
    suppressed = np.zeros(boxes.shape[0], dtype=bool)
    kept = []
    for i in score_order(scores):
        if suppressed[i]:
            continue
        kept.append(i)
        width = np.maximum(np.minimum(x2[i], x2) - np.maximum(x1[i], x1), 0)
        height = np.maximum(np.minimum(y2[i], y2) - np.maximum(y1[i], y1), 0)
        inter = width * height
        union = areas[i] + areas - inter
        iou = np.divide(inter, union, out=np.full_like(inter, np.nan), where=union > 0)
        suppressed |= iou > threshold
    return np.array(kept, dtype=np.int64)
