"""Matching ground-truth boxes to default boxes: the training targets of an SSD-style detector.

For one image with G ground-truth boxes and A default boxes (SSD, Liu et al. 2016):

1. every ground-truth box takes the default box it overlaps most (so each object has at least one positive, even
   a thin "1" that no default box covers by half);
2. every other default box takes the ground-truth box it overlaps most, if that IoU is at least ``iou_threshold``;
3. the rest are background.

A matched default box gets the class ``label + 1`` (0 is the background) and the offsets of its ground-truth box
from it (``SSDBoxCoder.encode``); a background one gets zero offsets (they are never used).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from minidl.autograd import no_grad
from minidl.tensor import Tensor, from_numpy
from minidl.vision.box_coder import SSDBoxCoder
from minidl.vision.ops import box_iou


def match_defaults(
    defaults: Tensor,
    boxes: Sequence[Any],
    labels: Sequence[Any],
    coder: SSDBoxCoder,
    iou_threshold: float = 0.5,
) -> tuple[Tensor, Tensor]:
    """Targets of a batch: defaults (A, 4) xyxy; boxes: per image (G_i, 4) xyxy in the defaults' units;
    labels: per image (G_i,) classes from 0 -> (classes int64 (N, A) with 0 for background and label + 1 for a
    match, offsets (N, A, 4) of the defaults' dtype), both on the CPU (move them to the model's device)."""
    if len(boxes) != len(labels):
        raise ValueError(f"match_defaults: one boxes and one labels array per image expected, got {len(boxes)} and "
                         f"{len(labels)}")  # fmt: skip
    prior = defaults.numpy()  # the matching runs on the host, whatever the defaults' device
    host_defaults = from_numpy(prior)
    classes = np.zeros((len(boxes), len(prior)), dtype=np.int64)
    matched = np.broadcast_to(prior, (len(boxes), *prior.shape)).copy()  # background rows encode to zero offsets
    with no_grad():
        for i, (image_boxes, image_labels) in enumerate(zip(boxes, labels)):
            truth = np.asarray(image_boxes.numpy() if hasattr(image_boxes, "numpy") else image_boxes, prior.dtype)
            names = np.asarray(image_labels.numpy() if hasattr(image_labels, "numpy") else image_labels, np.int64)
            if len(truth) != len(names) or truth.ndim != 2 or (len(truth) and truth.shape[1] != 4):
                raise ValueError(f"match_defaults: image {i} has boxes of shape {truth.shape} and {len(names)} labels; "
                                 "(G, 4) boxes and G labels expected")  # fmt: skip
            if len(truth) == 0:
                continue
            overlaps = box_iou(from_numpy(truth), host_defaults).numpy()  # (G, A)
            best_truth = overlaps.argmax(axis=0)  # per default box
            best_iou = overlaps.max(axis=0)
            best_default = overlaps.argmax(axis=1)  # per ground-truth box
            best_truth[best_default] = np.arange(len(truth))  # step 1 wins over step 2
            best_iou[best_default] = 2.0
            positive = best_iou >= iou_threshold
            classes[i, positive] = names[best_truth[positive]] + 1
            matched[i, positive] = truth[best_truth[positive]]
        offsets = coder.encode(from_numpy(matched), host_defaults)
    return from_numpy(classes), offsets
