"""The metrics ``compile(metrics=[...])`` accepts, summed over an epoch's batches on NumPy arrays.

"accuracy" (or "acc") means what Keras makes of it from the shapes: binary accuracy when the model has one output
per sample (a threshold of 0.5), sparse categorical accuracy for integer labels, categorical accuracy for one-hot
targets (the argmax of the targets). "mae" and "mse" are the mean absolute and squared errors.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_ACCURACY_NAMES = ("accuracy", "acc")
_KINDS = (
    "binary_accuracy",
    "categorical_accuracy",
    "sparse_categorical_accuracy",
    "mean_absolute_error",
    "mean_squared_error",
)
_ALIASES = {"mae": "mean_absolute_error", "mse": "mean_squared_error"}
KNOWN = (*_ACCURACY_NAMES, *_KINDS, *_ALIASES)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


class Metric:
    """One metric: ``name`` is its key in the logs (the name given to ``compile``), ``kind`` what it computes."""

    def __init__(self, name: str, kind: str):
        self.name, self.kind = name, kind

    def counts(self, pred: np.ndarray, y: np.ndarray, activation: str | None) -> tuple[float, int]:
        """(sum, count) of the batch: ``pred`` are the model's outputs, or the values before its last
        ``activation`` ("softmax" or "sigmoid") when the loss took those."""
        if self.kind == "binary_accuracy":
            probs = _sigmoid(pred) if activation == "sigmoid" else pred
            y = y.reshape(probs.shape) if y.size == probs.size else y
            return float(np.count_nonzero((probs > 0.5) == (y > 0.5))), int(probs.size)
        if self.kind in ("categorical_accuracy", "sparse_categorical_accuracy"):
            labels = y if y.ndim == pred.ndim - 1 else (y[..., 0] if y.shape[-1] == 1 else y.argmax(axis=-1))
            return float(np.count_nonzero(pred.argmax(axis=-1) == labels)), int(labels.size)
        values = pred
        if activation == "softmax":
            values = _softmax(pred)
        elif activation == "sigmoid":
            values = _sigmoid(pred)
        diff = values - y.reshape(values.shape)
        errors = np.abs(diff) if self.kind == "mean_absolute_error" else diff * diff
        return float(errors.sum()), int(errors.size)


def resolve(identifier: Any, y_shape: tuple, output_shape: tuple) -> Metric:
    """The metric a name stands for, given the targets' and the model's output shapes (batch first)."""
    if not isinstance(identifier, str) or (identifier not in KNOWN):
        raise ValueError(f"unknown metric {identifier!r}; known: {', '.join(KNOWN)}")
    if identifier in _ACCURACY_NAMES:
        if output_shape[-1] == 1:
            kind = "binary_accuracy"
        elif len(y_shape) == len(output_shape) - 1 or y_shape[-1] == 1:
            kind = "sparse_categorical_accuracy"
        else:
            kind = "categorical_accuracy"
        return Metric(identifier, kind)
    return Metric(identifier, _ALIASES.get(identifier, identifier))


class MetricTracker:
    """Sums of each metric over the batches seen since ``reset``, kept apart for training and evaluation."""

    def __init__(self, metrics: list[Metric], activation: str | None):
        self.metrics = metrics
        self.activation = activation
        self.reset()

    def reset(self, phase: str | None = None) -> None:
        """Forget the sums of ``phase`` ("train" or "eval"), or of both."""
        for p in ("train", "eval") if phase is None else (phase,):
            setattr(self, f"_{p}", {m.name: [0.0, 0] for m in self.metrics})

    def update(self, pred: np.ndarray, y: np.ndarray, phase: str) -> None:
        """Add one batch's counts."""
        sums = getattr(self, f"_{phase}")
        for metric in self.metrics:
            total, count = metric.counts(pred, y, self.activation)
            sums[metric.name][0] += total
            sums[metric.name][1] += count

    def results(self, phase: str) -> dict[str, float]:
        """Each metric's mean over the batches of ``phase`` (NaN before any)."""
        return {name: (s / n if n else float("nan")) for name, (s, n) in getattr(self, f"_{phase}").items()}
