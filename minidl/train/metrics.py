"""Classification accuracy, counted on raw arrays so the training loop can sum it over batches."""

from __future__ import annotations

from typing import Any

import numpy as np

from minidl.tensor import Tensor


def _as_array(value: Any) -> np.ndarray:
    if isinstance(value, Tensor):
        return value.detach().numpy()
    return np.asarray(value)


def accuracy_counts(output: Any, target: Any) -> tuple[int, int] | None:
    """(correct, counted) predictions of ``output`` against ``target``, or None when the pair is not a
    classification (then no accuracy is reported).

    output: logits or probabilities (N, C) or (N, C, d1, ...), a Tensor or an array.
    target: integer class indices (N,) or (N, d1, ...), compared with the argmax of ``output`` over dim 1.
    counted is N·d1·... (one prediction per sample, or per pixel for dense outputs). Floating-point targets
    (regression, soft labels) are not counted: they say nothing certain about a class.
    """
    if isinstance(output, tuple) and output:  # (logits, auxiliary outputs...), as GoogLeNet's in training
        output = output[0]
    out, tgt = _as_array(output), _as_array(target)
    if out.ndim < 2 or not np.issubdtype(tgt.dtype, np.integer) or out.shape[:1] + out.shape[2:] != tgt.shape:
        return None
    correct = int(np.count_nonzero(out.argmax(axis=1) == tgt))
    return correct, int(tgt.size)


def accuracy(output: Any, target: Any) -> float:
    """The fraction of correct predictions (see ``accuracy_counts`` for the shapes); NaN when the pair is not a
    classification."""
    counts = accuracy_counts(output, target)
    if counts is None or counts[1] == 0:
        return float("nan")
    return counts[0] / counts[1]
