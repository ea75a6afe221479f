"""Keras's losses, by name or as objects: ``compile(loss="sparse_categorical_crossentropy")``.

A loss is called as in Keras, ``loss(y_true, y_pred)``, and returns the batch mean. Classes are on the last axis
of ``y_pred`` (Keras's convention; minidl's functional losses take them on axis 1).

Cross-entropies on probabilities (``from_logits=False``, the default) clip the probabilities to
[1e-7, 1 - 1e-7] as Keras does. When the model's last activation is the softmax (sigmoid for binary
cross-entropy), ``fit`` computes the loss from the values before it instead (``logits_loss``), as Keras's
TensorFlow backend does: the same loss without the clipping, and stable gradients.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from minidl.keras import config
from minidl.nn import functional as F
from minidl.tensor import Tensor


def classes_on_axis_1(x: Tensor) -> Tensor:
    """(N, ..., C) -> (N, C, ...) (a view), the layout of minidl's classification losses."""
    return x if x.ndim <= 2 else x.permute(0, x.ndim - 1, *range(1, x.ndim - 1))


def _shape(shape: tuple) -> str:
    return "(" + ", ".join("N" if i == 0 else str(d) for i, d in enumerate(shape)) + (",)" if len(shape) == 1 else ")")


def _same_shape_targets(y: np.ndarray, output_shape: tuple, name: str) -> np.ndarray:
    """Targets shaped as the output: (N,) against (N, 1) is reshaped, other differences are an error."""
    if y.shape[1:] == tuple(output_shape[1:]):
        return y
    if y.ndim == len(output_shape) - 1 and output_shape[-1] == 1 and y.shape[1:] == tuple(output_shape[1:-1]):
        return y.reshape(*y.shape, 1)
    hint = ""
    if len(output_shape) > 2:
        hint = "; the output still has spatial axes: is a Flatten or GlobalAveragePooling2D layer missing before Dense?"
    raise ValueError(
        f"{name}: the targets have shape {_shape(y.shape)} but the model's outputs have shape "
        f"{_shape((None, *output_shape[1:]))}{hint}"
    )


class Loss:
    """Base class: ``loss(y_true, y_pred)`` is the batch mean of ``self.call(y_true, y_pred)`` per sample."""

    name = "loss"
    fusable_activation: str | None = None  # the last activation whose input ``logits_loss`` can take instead

    def __call__(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        return self.call(y_true, y_pred)

    def call(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        raise NotImplementedError

    def logits_loss(self, y_true: Tensor, logits: Tensor) -> Tensor:
        """The loss of the predictions ``activation(logits)``, computed from ``logits``."""
        raise NotImplementedError

    def check_targets(self, y: np.ndarray, output_shape: tuple) -> np.ndarray:
        """``y`` checked against the model's output shape (batch first), and shaped as ``call`` wants it."""
        return y

    def get_config(self) -> dict[str, Any]:
        return {}


class SparseCategoricalCrossentropy(Loss):
    """Cross-entropy of class probabilities (or logits, ``from_logits=True``) (N, ..., C) against integer class
    labels (N, ...) (a trailing axis of 1 is allowed)."""

    name = "sparse_categorical_crossentropy"

    def __init__(self, from_logits: bool = False):
        self.from_logits = bool(from_logits)
        self.fusable_activation = None if self.from_logits else "softmax"

    def check_targets(self, y: np.ndarray, output_shape: tuple) -> np.ndarray:
        classes = output_shape[-1]
        if y.ndim == len(output_shape) and y.shape[-1] == 1 and classes != 1:
            y = y[..., 0]
        if y.shape[1:] == tuple(output_shape[1:]) and classes > 1:
            raise ValueError(
                f"{self.name}: expects integer class labels {_shape(y.shape[:-1])}, got targets of shape "
                f"{_shape(y.shape)} (one-hot?); use loss='categorical_crossentropy', or labels y.argmax(axis=-1)"
            )
        if y.shape[1:] != tuple(output_shape[1:-1]):
            raise ValueError(
                f"{self.name}: the labels have shape {_shape(y.shape)} but the model's outputs "
                f"{_shape((None, *output_shape[1:]))} need labels {_shape((None, *output_shape[1:-1]))}"
            )
        if y.dtype.kind == "f" and not np.array_equal(y, np.round(y)):
            raise ValueError(f"{self.name}: the labels must be whole numbers (class indices), got fractional values")
        labels = y.astype(np.int64)
        if labels.size and (labels.min() < 0 or labels.max() >= classes):
            raise ValueError(
                f"{self.name}: labels must be in 0..{classes - 1} for {classes} outputs, got values from "
                f"{labels.min()} to {labels.max()}"
            )
        return labels

    def call(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        if self.from_logits:
            return self.logits_loss(y_true, y_pred)
        eps = config.epsilon()
        p = (y_pred / y_pred.sum(dim=-1, keepdim=True)).clip(eps, 1 - eps)
        return F.nll_loss(classes_on_axis_1(p.log()), y_true)

    def logits_loss(self, y_true: Tensor, logits: Tensor) -> Tensor:
        return F.cross_entropy(classes_on_axis_1(logits), y_true)

    def get_config(self) -> dict[str, Any]:
        return {"from_logits": self.from_logits}


class CategoricalCrossentropy(Loss):
    """Cross-entropy of class probabilities (or logits) (N, ..., C) against target distributions of the same shape,
    usually one-hot (``keras.utils.to_categorical``). label_smoothing ε uses (1 - ε) y + ε / C."""

    name = "categorical_crossentropy"

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0):
        if not 0 <= label_smoothing <= 1:
            raise ValueError(f"CategoricalCrossentropy: label_smoothing must be in [0, 1], got {label_smoothing!r}")
        self.from_logits = bool(from_logits)
        self.label_smoothing = float(label_smoothing)
        self.fusable_activation = None if self.from_logits else "softmax"

    def check_targets(self, y: np.ndarray, output_shape: tuple) -> np.ndarray:
        if y.ndim == len(output_shape) - 1 or (y.ndim == len(output_shape) and y.shape[-1] == 1 != output_shape[-1]):
            raise ValueError(
                f"{self.name}: expects one-hot targets {_shape((None, *output_shape[1:]))}, got class labels of shape "
                f"{_shape(y.shape)}; use loss='sparse_categorical_crossentropy', or "
                f"keras.utils.to_categorical(y, {output_shape[-1]})"
            )
        return _same_shape_targets(y, output_shape, self.name).astype(config.floatx(), copy=False)

    def sparse_equivalent(self, y: np.ndarray) -> tuple[np.ndarray, SparseCategoricalCrossentropy] | None:
        """(labels, the sparse loss) giving the same loss, when every row of ``y`` is exactly one-hot (the fast
        fused path); None otherwise."""
        if self.label_smoothing or y.ndim < 2:
            return None
        if not (np.all((y == 0) | (y == 1)) and np.all(y.sum(axis=-1) == 1)):
            return None
        return y.argmax(axis=-1).astype(np.int64), SparseCategoricalCrossentropy(from_logits=self.from_logits)

    def _smoothed(self, y_true: Tensor) -> Tensor:
        if not self.label_smoothing:
            return y_true
        return y_true * (1 - self.label_smoothing) + self.label_smoothing / y_true.shape[-1]

    def call(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        if self.from_logits:
            return self.logits_loss(y_true, y_pred)
        eps = config.epsilon()
        p = (y_pred / y_pred.sum(dim=-1, keepdim=True)).clip(eps, 1 - eps)
        return -(self._smoothed(y_true) * p.log()).sum(dim=-1).mean()

    def logits_loss(self, y_true: Tensor, logits: Tensor) -> Tensor:
        return F.cross_entropy(classes_on_axis_1(logits), classes_on_axis_1(self._smoothed(y_true)))

    def get_config(self) -> dict[str, Any]:
        return {"from_logits": self.from_logits, "label_smoothing": self.label_smoothing}


class BinaryCrossentropy(Loss):
    """Binary cross-entropy of probabilities (or logits) against targets in [0, 1] of the output's shape ((N,)
    against (N, 1) is allowed). label_smoothing ε uses (1 - ε) y + ε / 2."""

    name = "binary_crossentropy"

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0):
        if not 0 <= label_smoothing <= 1:
            raise ValueError(f"BinaryCrossentropy: label_smoothing must be in [0, 1], got {label_smoothing!r}")
        self.from_logits = bool(from_logits)
        self.label_smoothing = float(label_smoothing)
        self.fusable_activation = None if self.from_logits else "sigmoid"

    def check_targets(self, y: np.ndarray, output_shape: tuple) -> np.ndarray:
        return _same_shape_targets(y, output_shape, self.name).astype(config.floatx(), copy=False)

    def _smoothed(self, y_true: Tensor) -> Tensor:
        return y_true * (1 - self.label_smoothing) + 0.5 * self.label_smoothing if self.label_smoothing else y_true

    def call(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        if self.from_logits:
            return self.logits_loss(y_true, y_pred)
        eps = config.epsilon()
        p = y_pred.clip(eps, 1 - eps)
        y = self._smoothed(y_true)
        return -(y * p.log() + (1 - y) * (1 - p).log()).mean()

    def logits_loss(self, y_true: Tensor, logits: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(logits, self._smoothed(y_true))

    def get_config(self) -> dict[str, Any]:
        return {"from_logits": self.from_logits, "label_smoothing": self.label_smoothing}


class MeanSquaredError(Loss):
    """mean((y_true - y_pred)²), targets of the output's shape."""

    name = "mean_squared_error"

    def check_targets(self, y: np.ndarray, output_shape: tuple) -> np.ndarray:
        return _same_shape_targets(y, output_shape, self.name).astype(config.floatx(), copy=False)

    def call(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        return F.mse_loss(y_pred, y_true)


class MeanAbsoluteError(Loss):
    """mean(|y_true - y_pred|), targets of the output's shape."""

    name = "mean_absolute_error"

    def check_targets(self, y: np.ndarray, output_shape: tuple) -> np.ndarray:
        return _same_shape_targets(y, output_shape, self.name).astype(config.floatx(), copy=False)

    def call(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        return (y_pred - y_true).abs().mean()


class FunctionLoss(Loss):
    """A user's ``fn(y_true, y_pred)`` returning per-sample losses or their mean (Tensors); averaged if need be."""

    def __init__(self, fn: Callable[[Tensor, Tensor], Tensor]):
        self.fn = fn
        self.name = getattr(fn, "__name__", "loss")

    def call(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        value = self.fn(y_true, y_pred)
        if not isinstance(value, Tensor):
            raise TypeError(f"the loss function {self.name} must return a minidl Tensor, got {type(value).__name__}")
        return value if value.numel() == 1 else value.mean()


LOSSES: dict[str, Callable[[], Loss]] = {
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError,
    "mae": MeanAbsoluteError,
}
_CLASSES = (
    SparseCategoricalCrossentropy,
    CategoricalCrossentropy,
    BinaryCrossentropy,
    MeanSquaredError,
    MeanAbsoluteError,
)


def get(identifier: Any) -> Loss:
    """The loss for a name, a ``Loss`` object, or a function ``fn(y_true, y_pred)``."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        if identifier in LOSSES:
            return LOSSES[identifier]()
        raise ValueError(f"unknown loss {identifier!r}; known: {', '.join(LOSSES)}, a Loss object or a function")
    if callable(identifier):
        return FunctionLoss(identifier)
    raise TypeError(f"loss must be a name, a keras.losses.Loss or a function, got {type(identifier).__name__}")


def serialize(loss: Loss) -> dict[str, Any]:
    """``{"name": ..., "config": {...}}`` for the losses that have a Keras name; a ValueError for functions."""
    if type(loss) in _CLASSES:
        return {"name": loss.name, "config": loss.get_config()}
    raise ValueError(
        f"the loss {loss.name!r} is a function: it cannot be saved with the model; compile again after loading"
    )


def deserialize(config: dict[str, Any]) -> Loss:
    """The loss ``serialize`` described."""
    return LOSSES[config["name"]](**config["config"])
