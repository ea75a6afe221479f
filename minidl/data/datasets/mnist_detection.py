"""MNISTDetection: a small object-detection task on real data, canvases holding a few MNIST digits with their boxes.

Canvas i of a split is drawn from its own generator, ``numpy.random.default_rng([seed, split, i])`` (split 0 for
training, 1 for testing), and built with element-wise float64 arithmetic only (no BLAS, no platform-dependent
resampling), so a seed gives the same canvases on every machine, and canvas i does not depend on how many are made.

Each canvas (``canvas_size`` square, black) receives between ``digits_per_canvas[0]`` and ``[1]`` digits:

- a digit image drawn from MNIST's training images for a training canvas and from its test images for a test
  canvas (so no test digit is ever seen in training);
- its 28×28 frame resized (bilinear, half-pixel centres) to a side drawn from ``digit_size``;
- placed at a uniform position inside the canvas, re-drawn (up to 100 times, else the digit is left out) until its
  box overlaps every box already there by IoU at most ``max_iou``; pixels combine by their maximum.

The box of a digit is the tightest (x1, y1, x2, y2) around its ink, the pixels of at least ``ink_threshold``
(of 255), in pixel-edge coordinates (a one-pixel digit at column 3 spans x 3 to 4); the label is the digit (0-9).
"""

from __future__ import annotations

import functools
import os
from typing import Any, Callable

import numpy as np

from minidl.data.dataset import Dataset
from minidl.data.datasets.mnist import MNIST

MAX_ATTEMPTS = 100  # placements tried per digit before it is left out


@functools.lru_cache(maxsize=256)
def _taps(n_in: int, side: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each of ``side`` output pixels: the two input pixels (of ``n_in``) around its centre and the weight of
    the second."""
    position = np.clip((np.arange(side) + 0.5) * (n_in / side) - 0.5, 0, n_in - 1)
    low = np.floor(position).astype(np.int64)
    return low, np.minimum(low + 1, n_in - 1), position - low


def _resize_bilinear(image: np.ndarray, side: int) -> np.ndarray:
    """A (h, w) uint8 image resized to (side, side) by two-tap bilinear interpolation on pixel centres, edges
    clamped, rounded back to uint8; element-wise float64 only, so the result is the same on every machine."""
    pixels = image.astype(np.float64)
    r0, r1, rw = _taps(image.shape[0], side)
    rows = pixels[r0] * (1 - rw)[:, None] + pixels[r1] * rw[:, None]
    c0, c1, cw = _taps(image.shape[1], side)
    out = rows[:, c0] * (1 - cw) + rows[:, c1] * cw
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def ink_box(patch: np.ndarray, threshold: int) -> tuple[int, int, int, int] | None:
    """(x1, y1, x2, y2) around the pixels of ``patch`` (h, w) that are >= ``threshold``, pixel edges; None if none."""
    rows = np.flatnonzero((patch >= threshold).any(axis=1))
    cols = np.flatnonzero((patch >= threshold).any(axis=0))
    if rows.size == 0:
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def _iou(box: tuple, others: list[tuple]) -> float:
    """The largest IoU of ``box`` with any of ``others`` (0 when there are none)."""
    best = 0.0
    for o in others:
        w = min(box[2], o[2]) - max(box[0], o[0])
        h = min(box[3], o[3]) - max(box[1], o[1])
        if w > 0 and h > 0:
            union = (box[2] - box[0]) * (box[3] - box[1]) + (o[2] - o[0]) * (o[3] - o[1]) - w * h
            best = max(best, w * h / union)
    return best


class MNISTDetection(Dataset):
    """Canvases of real MNIST digits for object detection (see the module docstring for how they are drawn).

    - ``images``: uint8 (N, 1, S, S); ``boxes[i]``: float32 (K_i, 4) xyxy in pixels; ``labels[i]``: int64 (K_i,)
      digits 0-9; ``sources[i]``: int64 (K_i,) the MNIST indices (in the split's MNIST) the digits came from.
    - ``dataset[i]`` is ``(image, target)``: float32 (1, S, S) in [0, 1] and ``{"boxes": (K, 4), "labels": (K,)}``,
      torchvision's detection convention.
    - ``dataset.__getitems__(indices)`` (what the DataLoader uses) is the batch ``(images float32 (B, 1, S, S),
      boxes float32 (B, M, 4), labels int64 (B, M))`` with M = ``digits_per_canvas[1]``: rows past a canvas's
      digits hold label -1 and a zero box; ``targets_from_padded`` turns them back into target dicts.

    ``mnist``: an already loaded ``MNIST`` of the same split, to save reading the files again; otherwise it is read
    from ``root`` (``download=True`` fetches it). ``transform`` applies to the float images (one or a batch).
    """

    classes = MNIST.classes

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        train: bool = True,
        num_canvases: int = 10000,
        canvas_size: int = 96,
        digits_per_canvas: tuple[int, int] = (1, 5),
        digit_size: tuple[int, int] = (24, 48),
        max_iou: float = 0.1,
        ink_threshold: int = 64,
        seed: int = 0,
        download: bool = False,
        mnist: MNIST | None = None,
        transform: Callable[[np.ndarray], Any] | None = None,
    ):
        _check_args(num_canvases, canvas_size, digits_per_canvas, digit_size, max_iou, ink_threshold, seed)
        if mnist is None:
            mnist = MNIST(root, train=train, download=download)
        elif mnist.train != train:
            raise ValueError(f"MNISTDetection: mnist= holds the {'training' if mnist.train else 'test'} split but "
                             f"train={train}; pass the matching split (MNIST(train={train}))")  # fmt: skip
        self.train, self.seed, self.transform = train, seed, transform
        self.canvas_size, self.digits_per_canvas = canvas_size, tuple(digits_per_canvas)
        self.images = np.zeros((num_canvases, 1, canvas_size, canvas_size), dtype=np.uint8)
        self.boxes, self.labels, self.sources = [], [], []
        for i in range(num_canvases):
            rng = np.random.default_rng([seed, 0 if train else 1, i])
            boxes, labels, sources = self._draw(rng, self.images[i, 0], mnist, digit_size, max_iou, ink_threshold)
            self.boxes.append(np.array(boxes, dtype=np.float32).reshape(-1, 4))
            self.labels.append(np.array(labels, dtype=np.int64))
            self.sources.append(np.array(sources, dtype=np.int64))

    def _draw(self, rng: np.random.Generator, canvas: np.ndarray, mnist: MNIST, digit_size: tuple[int, int],
              max_iou: float, ink_threshold: int) -> tuple[list, list, list]:  # fmt: skip
        """Paint one canvas in place; return its boxes, labels and MNIST source indices."""
        boxes, labels, sources = [], [], []
        low, high = self.digits_per_canvas
        for _ in range(int(rng.integers(low, high + 1))):
            source = int(rng.integers(len(mnist.data)))
            side = int(rng.integers(digit_size[0], digit_size[1] + 1))
            patch = _resize_bilinear(mnist.data[source], side)
            ink = ink_box(patch, ink_threshold)
            for _ in range(MAX_ATTEMPTS):
                x, y = (int(v) for v in rng.integers(0, self.canvas_size - side + 1, size=2))
                if ink is None:
                    break
                box = (ink[0] + x, ink[1] + y, ink[2] + x, ink[3] + y)
                if _iou(box, boxes) <= max_iou:
                    np.maximum(canvas[y : y + side, x : x + side], patch, out=canvas[y : y + side, x : x + side])
                    boxes.append(box)
                    labels.append(int(mnist.targets[source]))
                    sources.append(source)
                    break
        return boxes, labels, sources

    def __len__(self) -> int:
        return len(self.images)

    def _float(self, images: np.ndarray) -> np.ndarray:
        out = images.astype(np.float32) / np.float32(255)
        return self.transform(out) if self.transform is not None else out

    def __getitem__(self, index: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(float32 (1, S, S) in [0, 1], {"boxes": float32 (K, 4), "labels": int64 (K,)})."""
        return self._float(self.images[index]), {"boxes": self.boxes[index], "labels": self.labels[index]}

    def __getitems__(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """images float32 (B, 1, S, S), boxes float32 (B, M, 4) and labels int64 (B, M), padded with label -1."""
        indices = np.asarray(indices, dtype=np.int64)
        most = self.digits_per_canvas[1]
        boxes = np.zeros((len(indices), most, 4), dtype=np.float32)
        labels = np.full((len(indices), most), -1, dtype=np.int64)
        for row, i in enumerate(indices):
            count = len(self.labels[i])
            boxes[row, :count] = self.boxes[i]
            labels[row, :count] = self.labels[i]
        return self._float(self.images[indices]), boxes, labels

    def __repr__(self) -> str:
        split = "train" if self.train else "test"
        digits = sum(len(lab) for lab in self.labels)
        return f"MNISTDetection({split}, {len(self)} canvases {self.canvas_size}x{self.canvas_size}, {digits} digits)"


def targets_from_padded(boxes: Any, labels: Any) -> list[dict[str, np.ndarray]]:
    """The target dicts of a padded batch: boxes (B, M, 4), labels (B, M) with -1 for padding (arrays or
    Tensors) -> B dicts {"boxes": float32 (K, 4), "labels": int64 (K,)}."""
    boxes = boxes.numpy() if hasattr(boxes, "numpy") else np.asarray(boxes)
    labels = labels.numpy() if hasattr(labels, "numpy") else np.asarray(labels)
    return [{"boxes": b[lab >= 0], "labels": lab[lab >= 0]} for b, lab in zip(boxes, labels)]


def _check_args(num_canvases: int, canvas_size: int, digits: tuple, sizes: tuple, max_iou: float, ink: int,
                seed: int) -> None:  # fmt: skip
    def integer(v: Any) -> bool:
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

    if not integer(num_canvases) or num_canvases < 0:
        raise ValueError(f"MNISTDetection: num_canvases must be an integer >= 0, got {num_canvases!r}")
    if not integer(seed) or seed < 0:
        raise ValueError(f"MNISTDetection: seed must be an integer >= 0, got {seed!r}")
    if len(tuple(digits)) != 2 or not all(integer(v) for v in digits) or not 0 <= digits[0] <= digits[1]:
        raise ValueError(f"MNISTDetection: digits_per_canvas must be (low, high) integers, 0 <= low <= high, got "
                         f"{digits!r}")  # fmt: skip
    if len(tuple(sizes)) != 2 or not all(integer(v) for v in sizes) or not 1 <= sizes[0] <= sizes[1]:
        raise ValueError(f"MNISTDetection: digit_size must be (low, high) integers, 1 <= low <= high, got {sizes!r}")
    if not integer(canvas_size) or canvas_size < sizes[1]:
        raise ValueError(f"MNISTDetection: canvas_size must be an integer at least the largest digit_size "
                         f"{sizes[1]}, got {canvas_size!r}")  # fmt: skip
    if not 0 <= max_iou <= 1:
        raise ValueError(f"MNISTDetection: max_iou must lie in [0, 1], got {max_iou!r}")
    if not integer(ink) or not 1 <= ink <= 255:
        raise ValueError(f"MNISTDetection: ink_threshold must be an integer in [1, 255], got {ink!r}")
