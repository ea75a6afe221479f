"""Non-maximum suppression in Numba: the greedy loop over boxes by decreasing score, one compiled pass.

The contract (order, ties, the overlap test) is the reference's, ``minidl_kernels.reference.nms``; the visiting
order is the same stable NumPy sort, and the overlap arithmetic runs in the boxes' dtype, so the kept indices agree
with the reference exactly.
"""

from __future__ import annotations

import numpy as np
from minidl_kernels.reference.nms import check_nms_args, score_order, threshold_in
from numba import njit


@njit(cache=True)
def _greedy(boxes, order, threshold, zero):  # pragma: no cover - compiled
    """Kept indices of ``boxes`` (N, 4) visited in ``order`` (N,); ``zero`` is 0 in the boxes' dtype (so that the
    arithmetic stays in it)."""
    n = order.shape[0]
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    suppressed = np.zeros(n, np.bool_)  # by position in order
    kept = np.empty(n, np.int64)
    count = 0
    for a in range(n):
        if suppressed[a]:
            continue
        i = order[a]
        kept[count] = i
        count += 1
        for b in range(a + 1, n):
            if suppressed[b]:
                continue
            j = order[b]
            width = max(min(boxes[i, 2], boxes[j, 2]) - max(boxes[i, 0], boxes[j, 0]), zero)
            height = max(min(boxes[i, 3], boxes[j, 3]) - max(boxes[i, 1], boxes[j, 1]), zero)
            inter = width * height
            union = areas[i] + areas[j] - inter
            if union > zero and inter / union > threshold:
                suppressed[b] = True
    return kept[:count].copy()


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices of the boxes that survive non-maximum suppression, by decreasing score (ties: lower index first).

    boxes: (N, 4) float32/float64 (x1, y1, x2, y2), any strides; scores: (N,) same dtype; returns int64 (K,).
    """
    dtype = check_nms_args(boxes, scores, iou_threshold)
    return _greedy(boxes, score_order(scores), threshold_in(dtype, iou_threshold), dtype.type(0))
