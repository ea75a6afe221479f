"""minidl.vision.metrics: VOC average precision on hand-worked cases (duplicates, the taken-box rule, classes
without ground truth), and COCO mAP@[.5:.95] against pycocotools' COCOeval on random detections to 1e-6."""

import contextlib
import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minidl
from minidl.vision import metrics


def _image(boxes, labels, scores=None):
    item = {"boxes": np.array(boxes, dtype=np.float64).reshape(-1, 4), "labels": np.array(labels, dtype=np.int64)}
    if scores is not None:
        item["scores"] = np.array(scores, dtype=np.float64)
    return item


def test_all_point_interpolation_by_hand():
    # Precision 1 up to recall 0.5, then 0.5 at recall 1: area 0.5 * 1 + 0.5 * 0.5.
    assert metrics.average_precision(np.array([0.5, 1.0]), np.array([1.0, 0.5])) == pytest.approx(0.75)
    # A dip is lifted to the best precision further right: (0.25, 1), (0.25, 0.5), (0.5, 0.67), (0.5, 0.5).
    recall, precision = np.array([0.25, 0.25, 0.5, 0.5]), np.array([1.0, 0.5, 2 / 3, 0.5])
    assert metrics.average_precision(recall, precision) == pytest.approx(0.25 * 1 + 0.25 * 2 / 3)
    assert metrics.average_precision(np.zeros(0), np.zeros(0)) == 0.0


def test_voc_ap_by_hand():
    truth = [_image([[0, 0, 10, 10], [20, 0, 30, 10]], [1, 1])]
    # 0.9 hits the first box; 0.8 hits it again (a duplicate: false positive); 0.7 hits the second.
    found = [_image([[0, 0, 10, 10], [1, 0, 10, 10], [20, 0, 30, 10]], [1, 1, 1], [0.9, 0.8, 0.7])]
    # Precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1: AP = 1/2 * 1 + 1/2 * 2/3.
    assert metrics.voc_average_precision(found, truth) == {1: pytest.approx(0.5 + 1 / 3)}
    # The VOC rule: a detection goes to the box it overlaps most; when that one is taken it is a false positive,
    # even if it overlaps another free box enough. Here the second detection overlaps box 0 by 9/11, box 1 by 7/13.
    truth = [_image([[0, 0, 10, 10], [4, 0, 14, 10]], [3, 3])]
    found = [_image([[0, 0, 10, 10], [1, 0, 11, 10]], [3, 3], [0.9, 0.8])]
    np.testing.assert_allclose(metrics.pairwise_iou(found[0]["boxes"][1:], truth[0]["boxes"]), [[9 / 11, 7 / 13]])
    assert metrics.voc_average_precision(found, truth) == {3: pytest.approx(0.5)}
    assert metrics.voc_average_precision(found, truth, iou_threshold=0.7) == {3: pytest.approx(0.5)}


def test_mean_average_precision_over_classes_with_ground_truth():
    truth = [_image([[0, 0, 10, 10]], [0]), _image([[5, 5, 9, 9], [0, 0, 3, 3]], [2, 0])]
    found = [
        _image([[0, 0, 10, 10], [50, 50, 60, 60]], [0, 7], [0.5, 0.99]),  # class 7 has no ground truth: ignored
        _image([[5, 5, 9, 9]], [0], [0.6]),  # a wrong label: class 2 is missed, class 0 gets a false positive
    ]
    per_class = metrics.voc_average_precision(found, truth)
    # Class 0: 0.6 (false), 0.5 (true): precision 0, 1/2 at recall 0, 1/2 -> AP 1/4. Class 2: nothing found.
    assert per_class == {0: pytest.approx(0.25), 2: 0.0}
    assert metrics.mean_average_precision(found, truth) == pytest.approx(0.125)
    tensors = [{k: minidl.tensor(v) for k, v in image.items()} for image in found]  # Tensors are read too
    assert metrics.mean_average_precision(tensors, truth) == pytest.approx(0.125)
    assert np.isnan(metrics.mean_average_precision([_image([], [], [])], [_image([], [])]))


def test_metric_errors():
    with pytest.raises(ValueError, match="the same images, got 1 and 2 images"):
        metrics.coco_map([_image([], [], [])], [_image([], []), _image([], [])])
    with pytest.raises(KeyError, match="predictions\\[0\\] lacks 'scores'"):
        metrics.mean_average_precision([_image([], [])], [_image([], [])])
    with pytest.raises(ValueError, match="targets\\[0\\]: 1 boxes but 2 labels"):
        metrics.coco_map([_image([], [], [])], [_image([[0, 0, 1, 1]], [1, 2])])
    with pytest.raises(ValueError, match="max_detections must be a positive integer"):
        metrics.coco_map([], [], max_detections=0)


def random_detections(rng, images=5, classes=3):
    """Ground truth (0-4 boxes per image) and detections: jittered copies of the true boxes (some relabelled,
    IoUs spread over COCO's thresholds) plus boxes anywhere; scores from 20 values, so there are ties."""
    predictions, targets = [], []
    for _ in range(images):
        g = int(rng.integers(0, 5))
        corner = rng.uniform(0, 80, (g, 2))
        truth = np.concatenate([corner, corner + rng.uniform(5, 30, (g, 2))], axis=1)
        labels = rng.integers(0, classes, g)
        copies = np.repeat(np.arange(g), rng.integers(0, 3, g))
        size = (truth[copies, 2:] - truth[copies, :2]) if g else np.zeros((0, 2))
        jitter = rng.normal(0, 0.12, (len(copies), 4)) * np.concatenate([size, size], axis=1)
        found = truth[copies] + jitter
        found[:, 2:] = np.maximum(found[:, 2:], found[:, :2] + 1)
        found_labels = np.where(rng.uniform(size=len(copies)) < 0.15, rng.integers(0, classes, len(copies)),
                                labels[copies])  # fmt: skip
        extra = int(rng.integers(0, 4))
        corner = rng.uniform(0, 80, (extra, 2))
        found = np.concatenate([found, np.concatenate([corner, corner + rng.uniform(5, 30, (extra, 2))], axis=1)])
        found_labels = np.concatenate([found_labels, rng.integers(0, classes, extra)])
        scores = rng.integers(1, 21, len(found)) / 20
        predictions.append({"boxes": found, "scores": scores, "labels": found_labels})
        targets.append({"boxes": truth, "labels": labels})
    return predictions, targets


def pycocotools_map(predictions, targets, max_detections):
    """COCOeval's bbox mAP@[.5:.95], @0.5 and @0.75 for the same images (ids 1..n, boxes as xywh)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    def xywh(b):
        return [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]

    labels = sorted({int(c) for t in targets for c in t["labels"]} | {int(c) for p in predictions for c in p["labels"]})
    annotations, results = [], []
    for i, (p, t) in enumerate(zip(predictions, targets), start=1):
        for box, label in zip(t["boxes"], t["labels"]):
            w, h = box[2] - box[0], box[3] - box[1]
            annotations.append({"id": len(annotations) + 1, "image_id": i, "category_id": int(label),
                                "bbox": xywh(box), "area": float(w * h), "iscrowd": 0})  # fmt: skip
        for box, label, score in zip(p["boxes"], p["labels"], p["scores"]):
            results.append({"image_id": i, "category_id": int(label), "bbox": xywh(box), "score": float(score)})
    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO()
        truth.dataset = {
            "images": [{"id": i} for i in range(1, len(targets) + 1)],
            "annotations": annotations,
            "categories": [{"id": c} for c in labels],
        }
        truth.createIndex()
        evaluation = COCOeval(truth, truth.loadRes(results), "bbox")
        evaluation.params.maxDets = [max_detections] * 3  # evaluate() sorts the list; the last one counts
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    # COCOeval.summarize reads its headline at 100 detections only, so the figures come from its precision array
    # (T, R, K, areas, maxDets) the way summarize averages it: area "all", the last maxDets, the entries > -1.
    precision = evaluation.eval["precision"][..., 0, 2]
    figures = [precision, precision[0], precision[5]]
    figures = [float(p[p > -1].mean()) if (p > -1).any() else -1.0 for p in figures]
    if max_detections == 100:
        np.testing.assert_allclose(figures, evaluation.stats[:3], rtol=0, atol=1e-12)
    return figures


@settings(max_examples=15)
@given(seed=st.integers(0, 2**32 - 1), max_detections=st.sampled_from([100, 2]))
def test_coco_map_equals_pycocotools(seed, max_detections):
    predictions, targets = random_detections(np.random.default_rng(seed), images=8)
    if not any(len(p["boxes"]) for p in predictions):  # pycocotools cannot load an empty result list
        predictions[0] = {"boxes": np.array([[1.0, 1.0, 9.0, 9.0]]), "scores": np.array([0.5]), "labels": [0]}
    ours = metrics.coco_map(predictions, targets, max_detections=max_detections)
    expected = pycocotools_map(predictions, targets, max_detections)
    np.testing.assert_allclose([ours["map"], ours["map_50"], ours["map_75"]], expected, rtol=0, atol=1e-6)


def test_coco_map_of_perfect_detections_is_one():
    _, targets = random_detections(np.random.default_rng(0), images=4)
    perfect = [{"boxes": t["boxes"], "labels": t["labels"], "scores": np.ones(len(t["labels"]))} for t in targets]
    assert metrics.coco_map(perfect, targets) == {"map": 1.0, "map_50": 1.0, "map_75": 1.0}
    assert metrics.mean_average_precision(perfect, targets) == 1.0
