"""Non-maximum suppression in numba.cuda: the overlap test of every pair on the device, the greedy scan on the host.

The boxes are sorted on the device (a stable sort of ``-scores``, as the reference's order). ``_overlap_bits_kernel``
then runs one thread per (row a, word w) of an (N, ceil(N / 64)) uint64 matrix: bit k of word w of row a says
whether the box at position 64 w + k (after a in the order) overlaps the box at position a more than the threshold.
The greedy scan is sequential by nature and cheap next to the N² overlap tests: the matrix (N² / 8 bytes) is copied
to the host, where each kept row ORs its bits into the set of suppressed positions.

The overlap arithmetic is the reference's, in the boxes' dtype, so the kept indices agree exactly
(``minidl_kernels.reference.nms`` states the contract).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from minidl_kernels.cuda import runtime
from minidl_kernels.reference.nms import check_nms_args, threshold_in
from numba import cuda, uint64

WORD = 64  # positions per uint64 word of the overlap matrix
BLOCK = (8, 8) if runtime.SIMULATED else (32, 4)  # threads per block: (words, rows)


@cuda.jit
def _overlap_bits_kernel(boxes, order, threshold, zero, mask):  # pragma: no cover - compiled
    """boxes: (N, 4); order: (N,) int64; mask: (N, words) uint64, written whole: bit k of mask[a, w] is set when
    position b = 64 w + k > a overlaps position a (union > 0 and IoU > threshold)."""
    w, a = cuda.grid(2)
    n = order.shape[0]
    if a >= n or w >= mask.shape[1]:
        return
    i = order[a]
    area_i = (boxes[i, 2] - boxes[i, 0]) * (boxes[i, 3] - boxes[i, 1])
    bits = uint64(0)
    for k in range(WORD):
        b = w * WORD + k
        if b >= n:
            break
        if b <= a:
            continue
        j = order[b]
        width = max(min(boxes[i, 2], boxes[j, 2]) - max(boxes[i, 0], boxes[j, 0]), zero)
        height = max(min(boxes[i, 3], boxes[j, 3]) - max(boxes[i, 1], boxes[j, 1]), zero)
        inter = width * height
        union = area_i + (boxes[j, 2] - boxes[j, 0]) * (boxes[j, 3] - boxes[j, 1]) - inter
        if union > zero and inter / union > threshold:
            bits |= uint64(1) << uint64(k)
    mask[a, w] = bits


PTX_CHECKS: list[tuple[Callable, str]] = [
    (_overlap_bits_kernel.py_func, f"void({dtype}[:, ::1], int64[::1], {dtype}, {dtype}, uint64[:, ::1])")
    for dtype in ("float32", "float64")
]


def _stable_order(scores: Any) -> Any:
    """Indices by decreasing score, ties by increasing index, NaN last (CuPy >= 12 takes ``kind="stable"``, the only
    sort it has)."""
    return runtime.array_module().argsort(-scores, kind="stable").astype(np.int64, copy=False)


def _greedy_scan(mask: np.ndarray, order: np.ndarray) -> np.ndarray:
    """The kept indices: walk the positions in order, keep each one not yet suppressed and suppress its row's bits."""
    suppressed = np.zeros(mask.shape[1], dtype=np.uint64)
    kept = []
    for a in range(mask.shape[0]):
        if (int(suppressed[a // WORD]) >> (a % WORD)) & 1:
            continue
        kept.append(order[a])
        suppressed |= mask[a]
    return np.array(kept, dtype=np.int64)


def _host(a: Any) -> np.ndarray:
    return a if isinstance(a, np.ndarray) else a.get()


def nms(boxes: Any, scores: Any, iou_threshold: float) -> Any:
    """Indices of the boxes that survive non-maximum suppression, by decreasing score (ties: lower index first).

    boxes: (N, 4) float32/float64 device array (x1, y1, x2, y2), any strides; scores: (N,) same dtype; returns a
    device array int64 (K,).
    """
    dtype = check_nms_args(boxes, scores, iou_threshold)
    n = boxes.shape[0]
    if n == 0:
        return runtime.empty((0,), np.int64)
    order = _stable_order(scores)
    words = -(-n // WORD)
    mask = runtime.empty((n, words), np.uint64)
    grid = (runtime.blocks_for(words, BLOCK[0]), runtime.blocks_for(n, BLOCK[1]))
    runtime.launch(
        _overlap_bits_kernel, grid, BLOCK, runtime.contiguous(boxes), runtime.contiguous(order),
        threshold_in(dtype, iou_threshold), dtype.type(0), mask,
    )  # fmt: skip
    kept = _greedy_scan(_host(mask), _host(order))
    return runtime.array_module().asarray(kept)
