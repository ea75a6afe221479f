"""Default boxes (anchors) of an SSD-style detector: a set of box shapes centred on every cell of every feature map.

For feature map k of size (H_k, W_k), scale s_k and aspect ratios r (width / height), each cell (i, j) gets, centred
on ((j + 0.5) / W_k, (i + 0.5) / H_k):

- one box of width s_k sqrt(r) and height s_k / sqrt(r) per ratio r, in the order given;
- when ``scales`` holds one more value than there are maps, one more square box of side sqrt(s_k s_{k+1})
  (SSD's extra box between two scales).

Boxes are in fractions of the image (multiply by its size for pixels), xyxy, ordered map by map, then row by row,
column by column, shape by shape: the order of a head's output (N, boxes_per_cell * 4, H, W) permuted to
(N, H, W, boxes_per_cell * 4) and flattened.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from minidl.dtypes import float32
from minidl.tensor import Tensor, from_numpy


def boxes_per_cell(aspect_ratios: Sequence[float], extra_square: bool) -> int:
    """The number of default boxes on each cell of a map with these ratios (and the extra square box)."""
    return len(aspect_ratios) + int(extra_square)


def default_boxes(
    feature_sizes: Sequence[int | tuple[int, int]],
    scales: Sequence[float],
    aspect_ratios: Sequence[Sequence[float]],
    clip: bool = False,
    dtype: np.dtype = float32,
) -> Tensor:
    """The default boxes of every feature map, as fractions of the image.

    feature_sizes: K sizes, each H (square) or (H, W); scales: K values s_k in (0, 1], or K + 1 to add the
    extra square box of side sqrt(s_k s_{k+1}) on each cell; aspect_ratios: K lists of width / height ratios;
    clip: clip the boxes to the image [0, 1]. Returns (A, 4) xyxy with A = sum over maps of H_k W_k
    (len(ratios_k) + extra).
    """
    sizes = [_size(s) for s in feature_sizes]
    count = len(sizes)
    if count == 0:
        raise ValueError("default_boxes: feature_sizes must name at least one feature map, got none")
    if len(scales) not in (count, count + 1) or not all(isinstance(s, (int, float)) and s > 0 for s in scales):
        raise ValueError(f"default_boxes: scales must be {count} or {count + 1} positive numbers (one per feature map, "
                         f"plus one for the extra square boxes), got {list(scales)}")  # fmt: skip
    if len(aspect_ratios) != count or not all(len(r) > 0 and all(v > 0 for v in r) for r in aspect_ratios):
        raise ValueError(f"default_boxes: aspect_ratios must be {count} non-empty lists of positive ratios (one per "
                         f"feature map), got {[list(r) for r in aspect_ratios]}")  # fmt: skip
    extra = len(scales) == count + 1
    parts = []
    for k, (height, width) in enumerate(sizes):
        shapes = [(scales[k] * math.sqrt(r), scales[k] / math.sqrt(r)) for r in aspect_ratios[k]]
        if extra:
            side = math.sqrt(scales[k] * scales[k + 1])
            shapes.append((side, side))
        shape_wh = np.array(shapes, dtype=np.float64)  # (S, 2)
        cy, cx = np.meshgrid((np.arange(height) + 0.5) / height, (np.arange(width) + 0.5) / width, indexing="ij")
        centres = np.stack([cx, cy], axis=-1).reshape(-1, 1, 2)  # (H W, 1, 2)
        half = shape_wh[None] / 2
        parts.append(np.concatenate([centres - half, centres + half], axis=-1).reshape(-1, 4))
    boxes = np.concatenate(parts)
    if clip:
        np.clip(boxes, 0.0, 1.0, out=boxes)
    return from_numpy(boxes.astype(dtype))


def _size(size: int | tuple[int, int]) -> tuple[int, int]:
    """A feature map's (H, W) from H or (H, W)."""
    pair = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0 for v in pair):
        raise ValueError(f"default_boxes: each feature size must be a positive int H or a pair (H, W), got {size!r}")
    return int(pair[0]), int(pair[1])
