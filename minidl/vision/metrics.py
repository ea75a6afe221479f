"""Detection metrics: VOC-style average precision (all-point interpolation) and COCO-style mAP@[.5:.95].

Both take the detections and the ground truth image by image, as torchvision's detection models give and take them:

    predictions = [{"boxes": (K, 4) xyxy, "scores": (K,), "labels": (K,)}, ...]   # one dict per image
    targets     = [{"boxes": (G, 4) xyxy, "labels": (G,)}, ...]

(NumPy arrays or Tensors). A class is evaluated when the ground truth holds at least one of its boxes; the mean is
over those classes (detections of other classes change nothing).

- VOC (``voc_average_precision``, ``mean_average_precision``): per class, the detections of every image by
  decreasing score; each is matched to the ground-truth box it overlaps most in its image, and is a true positive
  when that IoU is at least the threshold and the box is not taken yet (the VOC devkit's rule); AP is the area
  under the precision-recall curve made monotone (all-point interpolation, VOC 2010 onwards).
- COCO (``coco_map``): pycocotools' COCOeval for boxes, area "all", at most ``max_detections`` detections per image
  and class: IoU thresholds 0.50, 0.55, ..., 0.95; each detection takes the unmatched ground-truth box of highest
  IoU at least the threshold; precision interpolated at 101 recall points; the mean over thresholds, recall points
  and classes. tests/vision/test_metrics.py checks it against pycocotools to 1e-6.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

COCO_IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
COCO_RECALL_POINTS = np.linspace(0.0, 1.0, 101)

Detections = Sequence[Mapping[str, Any]]


def _numpy(value: Any) -> np.ndarray:
    return value.numpy() if hasattr(value, "numpy") else np.asarray(value)


def _read(images: Detections, keys: tuple[str, ...], what: str) -> list[dict[str, np.ndarray]]:
    """Each image's arrays as NumPy: boxes float64 (K, 4), labels int64 (K,), scores float64 (K,)."""
    read = []
    for i, image in enumerate(images):
        missing = [k for k in keys if k not in image]
        if missing:
            raise KeyError(f"{what}[{i}] lacks {', '.join(repr(k) for k in missing)}; each needs {', '.join(keys)}")
        boxes = _numpy(image["boxes"]).astype(np.float64).reshape(-1, 4)
        item = {"boxes": boxes, "labels": _numpy(image["labels"]).astype(np.int64).reshape(-1)}
        if "scores" in keys:
            item["scores"] = _numpy(image["scores"]).astype(np.float64).reshape(-1)
        for key, array in item.items():
            if len(array) != len(boxes):
                raise ValueError(f"{what}[{i}]: {len(boxes)} boxes but {len(array)} {key}")
        read.append(item)
    return read


def _read_both(predictions: Detections, targets: Detections) -> tuple[list[dict], list[dict]]:
    if len(predictions) != len(targets):
        raise ValueError(f"predictions and targets must describe the same images, got {len(predictions)} and "
                         f"{len(targets)} images")  # fmt: skip
    preds = _read(predictions, ("boxes", "scores", "labels"), "predictions")
    return preds, _read(targets, ("boxes", "labels"), "targets")


def pairwise_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every pair of xyxy boxes: a (N, 4), b (M, 4) -> float64 (N, M); an empty union gives 0."""
    width = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    height = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.clip(width, 0, None) * np.clip(height, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def average_precision(recall: np.ndarray, precision: np.ndarray) -> float:
    """VOC's all-point interpolated AP: the area under the precision-recall curve after each precision is raised to
    the best precision at any higher recall. recall, precision: (D,), the running values over detections sorted by
    decreasing score (recall non-decreasing)."""
    recall = np.concatenate([[0.0], np.asarray(recall, dtype=np.float64), [1.0]])
    precision = np.concatenate([[0.0], np.asarray(precision, dtype=np.float64), [0.0]])
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.flatnonzero(recall[1:] != recall[:-1])
    return float(np.sum((recall[steps + 1] - recall[steps]) * envelope[steps + 1]))


def _classes(targets: list[dict]) -> list[int]:
    labels = [t["labels"] for t in targets]
    return sorted(np.unique(np.concatenate(labels)).tolist()) if labels else []


def voc_average_precision(predictions: Detections, targets: Detections, iou_threshold: float = 0.5) -> dict[int, float]:
    """VOC-style AP of each class that has ground truth, at ``iou_threshold``: {label: AP in [0, 1]}."""
    preds, gts = _read_both(predictions, targets)
    result = {}
    for label in _classes(gts):
        truth = [t["boxes"][t["labels"] == label] for t in gts]
        total = sum(len(b) for b in truth)
        image, score, box = [], [], []
        for i, p in enumerate(preds):
            mine = p["labels"] == label
            image.append(np.full(int(mine.sum()), i))
            score.append(p["scores"][mine])
            box.append(p["boxes"][mine])
        image, score, box = np.concatenate(image), np.concatenate(score), np.concatenate(box)
        order = np.argsort(-score, kind="stable")
        taken = [np.zeros(len(b), dtype=bool) for b in truth]
        hit = np.zeros(len(order), dtype=bool)
        for rank, d in enumerate(order):
            candidates = truth[image[d]]
            if len(candidates) == 0:
                continue
            overlaps = pairwise_iou(box[d : d + 1], candidates)[0]
            best = int(np.argmax(overlaps))
            if overlaps[best] >= iou_threshold and not taken[image[d]][best]:
                taken[image[d]][best] = True
                hit[rank] = True
        true_positives = np.cumsum(hit)
        recall = true_positives / total
        precision = true_positives / np.arange(1, len(order) + 1)
        result[label] = average_precision(recall, precision)
    return result


def mean_average_precision(predictions: Detections, targets: Detections, iou_threshold: float = 0.5) -> float:
    """VOC-style mAP at ``iou_threshold`` (0.5: "mAP@0.5"): the mean of ``voc_average_precision`` over the classes
    that have ground truth; NaN when no image has any."""
    per_class = voc_average_precision(predictions, targets, iou_threshold)
    return float(np.mean(list(per_class.values()))) if per_class else float("nan")


def _coco_matches(boxes: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """For detections ``boxes`` (D, 4) in decreasing score and ground truth ``truth`` (G, 4) of one image and class:
    whether each detection is matched, at each COCO IoU threshold -> bool (T, D)."""
    matched = np.zeros((len(COCO_IOU_THRESHOLDS), len(boxes)), dtype=bool)
    if len(boxes) == 0 or len(truth) == 0:
        return matched
    overlaps = pairwise_iou(boxes, truth)
    for t, threshold in enumerate(COCO_IOU_THRESHOLDS):
        taken = np.zeros(len(truth), dtype=bool)
        for d in range(len(boxes)):
            best, best_iou = -1, min(threshold, 1 - 1e-10)
            for g in range(len(truth)):
                # pycocotools' rule: the last unmatched box whose IoU is >= the best so far (starting at the
                # threshold) wins.
                if taken[g] or overlaps[d, g] < best_iou:
                    continue
                best, best_iou = g, overlaps[d, g]
            if best >= 0:
                taken[best] = True
                matched[t, d] = True
    return matched


def _coco_precision(scores: np.ndarray, matched: np.ndarray, total: int) -> np.ndarray:
    """Interpolated precision at the 101 recall points for each threshold: scores (D,), matched (T, D), ``total``
    ground-truth boxes -> (T, 101)."""
    order = np.argsort(-scores, kind="mergesort")
    true_positives = np.cumsum(matched[:, order], axis=1).astype(np.float64)
    false_positives = np.cumsum(~matched[:, order], axis=1).astype(np.float64)
    out = np.zeros((matched.shape[0], len(COCO_RECALL_POINTS)))
    for t in range(matched.shape[0]):
        recall = true_positives[t] / total
        precision = true_positives[t] / (true_positives[t] + false_positives[t] + np.spacing(1))
        precision = np.maximum.accumulate(precision[::-1])[::-1]
        at = np.searchsorted(recall, COCO_RECALL_POINTS, side="left")
        inside = at < len(recall)
        out[t, inside] = precision[at[inside]]
    return out


def coco_map(predictions: Detections, targets: Detections, max_detections: int = 100) -> dict[str, float]:
    """COCO-style box mAP, as pycocotools' COCOeval computes it (area "all", ``max_detections`` per image and class).

    Returns {"map": mAP@[.5:.95], "map_50": mAP@0.5, "map_75": mAP@0.75}, each the mean over the classes that
    have ground truth of the interpolated precision at 101 recall points; -1 when no class has ground truth (as
    COCOeval reports it).
    """
    if isinstance(max_detections, bool) or not isinstance(max_detections, int) or max_detections < 1:
        raise ValueError(f"coco_map: max_detections must be a positive integer, got {max_detections!r}")
    preds, gts = _read_both(predictions, targets)
    per_class = []
    for label in _classes(gts):
        scores, matched, total = [], [], 0
        for p, t in zip(preds, gts):
            truth = t["boxes"][t["labels"] == label]
            mine = p["labels"] == label
            order = np.argsort(-p["scores"][mine], kind="mergesort")[:max_detections]
            total += len(truth)
            scores.append(p["scores"][mine][order])
            matched.append(_coco_matches(p["boxes"][mine][order], truth))
        per_class.append(_coco_precision(np.concatenate(scores), np.concatenate(matched, axis=1), total))
    if not per_class:
        return {"map": -1.0, "map_50": -1.0, "map_75": -1.0}
    precision = np.stack(per_class)  # (K, T, R)
    return {
        "map": float(precision.mean()),
        "map_50": float(precision[:, 0].mean()),
        "map_75": float(precision[:, 5].mean()),
    }
