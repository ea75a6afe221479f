"""The losses of box regression and of SSD: ``smooth_l1_loss`` and the multibox loss with hard-negative mining."""

from __future__ import annotations

import numpy as np

from minidl.ops import abs as abs_
from minidl.ops import where
from minidl.ops.checks import expect_tensor
from minidl.ops.loss import check_reduction, cross_entropy
from minidl.tensor import Tensor, from_numpy


def smooth_l1_loss(input: Tensor, target: Tensor, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """Smooth L1 (Huber-like) loss, as ``torch.nn.functional.smooth_l1_loss``: per element 0.5 d² / beta where
    |d| < beta, else |d| - 0.5 beta, with d = input - target; reduced by 'mean', 'sum' or 'none'.
    input, target: one shape; differentiable in both."""
    op = "smooth_l1_loss"
    check_reduction(reduction, op)
    expect_tensor(input, op)
    expect_tensor(target, op, "target")
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(f"{op}: input and target need one shape, got {tuple(input.shape)} and {tuple(target.shape)}")
    if not beta > 0:
        raise ValueError(f"{op}: beta must be positive, got {beta!r}")
    diff = input - target
    size = abs_(diff)
    loss = where(size < beta, diff * diff * (0.5 / beta), size - 0.5 * beta)
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()


def hard_negatives(losses: np.ndarray, classes: np.ndarray, ratio: float) -> np.ndarray:
    """The background default boxes that count in the classification loss: per image, the ``ratio`` x (its number
    of positives) background boxes with the highest loss (ties: the lower index). losses: (N, A) classification
    losses; classes: (N, A) targets, 0 for background -> bool (N, A)."""
    negative = classes == 0
    wanted = np.minimum(np.floor(ratio * (~negative).sum(axis=1)).astype(np.int64), negative.sum(axis=1))
    ranked = np.where(negative, losses, -np.inf)
    rank = np.argsort(np.argsort(-ranked, axis=1, kind="stable"), axis=1)  # each box's place in its image
    return negative & (rank < wanted[:, None])


def multibox_loss(
    locations: Tensor, scores: Tensor, classes: Tensor, offsets: Tensor, negative_ratio: float = 3.0
) -> tuple[Tensor, Tensor]:
    """SSD's loss, split in its two terms, each divided by the number of positive (matched) default boxes:

    - localisation: smooth L1 (beta 1) between the predicted and the target offsets of the positives;
    - confidence: cross-entropy over the positives and the hardest ``negative_ratio`` x as many background boxes
      (hard-negative mining; 3:1 in SSD).

    locations: (N, A, 4) predicted offsets; scores: (N, A, C + 1) class logits, 0 the background; classes: int64
    (N, A) targets (0 background); offsets: (N, A, 4) target offsets -> (localisation, confidence), 0-d tensors.
    """
    n, a, c = scores.shape
    if tuple(locations.shape) != (n, a, 4) or tuple(offsets.shape) != (n, a, 4) or tuple(classes.shape) != (n, a):
        raise ValueError(f"multibox_loss: expected locations and offsets (N, A, 4) and classes (N, A) for scores "
                         f"{(n, a, c)}, got {tuple(locations.shape)}, {tuple(offsets.shape)} and "
                         f"{tuple(classes.shape)}")  # fmt: skip
    target = classes.numpy()
    positive = target > 0
    count = max(int(positive.sum()), 1)
    per_box = cross_entropy(scores.reshape(n * a, c), classes.reshape(n * a), reduction="none").reshape(n, a)
    chosen = positive | hard_negatives(per_box.detach().numpy(), target, negative_ratio)
    dtype, device = scores.dtype, scores.device
    confidence = (per_box * from_numpy(chosen.astype(dtype)).to(device)).sum() / count
    mask = from_numpy(np.repeat(positive[:, :, None], 4, axis=2).astype(dtype)).to(device)
    localisation = (smooth_l1_loss(locations, offsets, reduction="none") * mask).sum() / count
    return localisation, confidence
