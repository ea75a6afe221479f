"""From an SSD-style detector's raw outputs to detections: decode the offsets, keep the confident class scores,
suppress duplicates per class (NMS), keep the best ``top_k``."""

from __future__ import annotations

import numpy as np

from minidl.autograd import no_grad
from minidl.ops.activation import softmax
from minidl.tensor import Tensor, from_numpy
from minidl.vision.box_coder import SSDBoxCoder
from minidl.vision.ops import batched_nms


def postprocess(
    locations: Tensor,
    scores: Tensor,
    defaults: Tensor,
    coder: SSDBoxCoder,
    image_size: tuple[int, int],
    score_threshold: float = 0.01,
    iou_threshold: float = 0.45,
    top_k: int = 100,
    candidates_per_class: int = 200,
) -> list[dict[str, np.ndarray]]:
    """Detections of each image.

    locations: (N, A, 4) offsets from ``defaults`` (A, 4) xyxy in fractions of the image; scores: (N, A, C + 1)
    logits, class 0 the background; image_size: (height, width) in pixels. Per image: softmax over the classes;
    the boxes decoded, scaled to pixels and clipped to the image; for each class, the default boxes whose
    probability exceeds ``score_threshold`` (its best ``candidates_per_class``), suppressed by NMS at
    ``iou_threshold`` within the class; the ``top_k`` best of all classes.

    Returns one dict per image: {"boxes": float32 (K, 4) xyxy pixels, "scores": float32 (K,), "labels": int64 (K,)
    classes from 0 (the logit index minus one)}, by decreasing score.
    """
    height, width = image_size
    with no_grad():
        probabilities = softmax(scores, dim=2).numpy()
        boxes = coder.decode(locations, defaults).numpy() * np.array([width, height, width, height], dtype=np.float32)
    np.clip(boxes, 0, [width, height, width, height], out=boxes)
    results = []
    for image_boxes, image_probs in zip(boxes, probabilities):
        anchor, label = np.nonzero(image_probs[:, 1:] > score_threshold)
        score = image_probs[anchor, label + 1]
        keep = _best_per_class(score, label, candidates_per_class)
        anchor, label, score = anchor[keep], label[keep], score[keep]
        chosen = batched_nms(from_numpy(image_boxes[anchor]), from_numpy(score), from_numpy(label), iou_threshold)
        chosen = chosen.numpy()[:top_k]
        results.append({"boxes": image_boxes[anchor[chosen]], "scores": score[chosen], "labels": label[chosen]})
    return results


def _best_per_class(score: np.ndarray, label: np.ndarray, limit: int) -> np.ndarray:
    """Indices of the ``limit`` highest scores of each label (all of them when fewer), in index order."""
    order = np.lexsort((-score, label))  # by label, then by decreasing score
    sorted_labels = label[order]
    starts = np.searchsorted(sorted_labels, sorted_labels, side="left")
    return np.sort(order[np.arange(len(order)) - starts < limit])
