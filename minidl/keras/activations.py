"""Activations by Keras name (``activation="relu"``), as functions of a Tensor. Softmax and log-softmax work on the
last axis, as in Keras; ``leaky_relu``'s slope is Keras's 0.2."""

from __future__ import annotations

from typing import Any, Callable

from minidl.nn import functional as F
from minidl.tensor import Tensor


def linear(x: Tensor) -> Tensor:
    """The identity (Keras's name for "no activation")."""
    return x


def relu(x: Tensor) -> Tensor:
    """max(x, 0)."""
    return F.relu(x)


def relu6(x: Tensor) -> Tensor:
    """min(max(x, 0), 6)."""
    return F.relu6(x)


def leaky_relu(x: Tensor, negative_slope: float = 0.2) -> Tensor:
    """x for x > 0, else negative_slope * x (Keras's default slope 0.2; PyTorch's is 0.01)."""
    return F.leaky_relu(x, negative_slope)


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """x for x > 0, else alpha (e^x - 1)."""
    return F.elu(x, alpha)


def gelu(x: Tensor, approximate: bool = False) -> Tensor:
    """x Φ(x) (Φ: the standard normal CDF); ``approximate`` uses the tanh formula."""
    return F.gelu(x, "tanh" if approximate else "none")


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + e^-x)."""
    return F.sigmoid(x)


def silu(x: Tensor) -> Tensor:
    """x * sigmoid(x) (also called swish)."""
    return x * F.sigmoid(x)


def tanh(x: Tensor) -> Tensor:
    """The hyperbolic tangent."""
    return F.tanh(x)


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """e^x / sum(e^x) over ``axis`` (the last by default, the classes of (N, C) or channels-last outputs)."""
    return F.softmax(x, axis)


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    """log(softmax(x)) over ``axis``, computed stably."""
    return F.log_softmax(x, axis)


ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "linear": linear,
    "relu": relu,
    "relu6": relu6,
    "leaky_relu": leaky_relu,
    "elu": elu,
    "gelu": gelu,
    "sigmoid": sigmoid,
    "silu": silu,
    "swish": silu,
    "tanh": tanh,
    "softmax": softmax,
    "log_softmax": log_softmax,
}


def get(identifier: Any) -> Callable[[Tensor], Tensor]:
    """The activation function for a name ("relu"), None (linear) or a callable (returned as it is)."""
    if identifier is None:
        return linear
    if callable(identifier):
        return identifier
    if isinstance(identifier, str) and identifier in ACTIVATIONS:
        return ACTIVATIONS[identifier]
    raise ValueError(
        f"unknown activation {identifier!r}; known: {', '.join(ACTIVATIONS)}, or pass a function of a tensor"
    )


def serialize(activation: Callable[[Tensor], Tensor]) -> str:
    """The name ``get`` maps back to ``activation``; a ValueError for a function that has none (it cannot be saved
    in a model's configuration)."""
    for name, fn in ACTIVATIONS.items():
        if fn is activation:
            return name
    raise ValueError(
        f"the activation {activation!r} has no Keras name, so a model using it cannot be saved with its "
        "configuration; use a named one, or save the weights only (model.save_weights)"
    )
