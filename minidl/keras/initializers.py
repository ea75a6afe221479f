"""Keras's weight initializers, by name or as objects: ``Dense(10, kernel_initializer="he_normal")``.

Each fills a minidl tensor in place from minidl's global generator (``minidl.manual_seed`` /
``keras.utils.set_random_seed`` make it reproducible). Fans are Keras's, computed from the weight's Keras shape:
a Conv2D kernel (kh, kw, in, out) has fan_in = kh·kw·in and fan_out = kh·kw·out; a depthwise kernel
(kh, kw, channels, multiplier) fan_in = kh·kw·channels, fan_out = kh·kw·multiplier. The "normal" variance-scaling
schemes draw from a normal truncated at two standard deviations, rescaled to keep the intended variance.
"""

from __future__ import annotations

import math
from typing import Any

from minidl.nn import init
from minidl.tensor import Tensor

_TRUNCATED_STD = 0.87962566103423978  # the standard deviation of a unit normal truncated to [-2, 2]


def fans(keras_shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of Keras shape: (in, out), or (*kernel, in, out)."""
    if len(keras_shape) < 1:
        return 1, 1
    if len(keras_shape) == 1:
        return keras_shape[0], keras_shape[0]
    receptive = math.prod(keras_shape[:-2])
    return keras_shape[-2] * receptive, keras_shape[-1] * receptive


class Initializer:
    """Base class: ``initializer(tensor, keras_shape)`` fills ``tensor`` in place."""

    def __call__(self, tensor: Tensor, keras_shape: tuple[int, ...]) -> Tensor:
        raise NotImplementedError(f"{type(self).__name__} must define __call__(tensor, keras_shape)")

    def get_config(self) -> dict[str, Any]:
        """The arguments that rebuild this initializer."""
        return {}


class Zeros(Initializer):
    """All zeros."""

    def __call__(self, tensor: Tensor, keras_shape: tuple[int, ...]) -> Tensor:
        return init.zeros_(tensor)


class Ones(Initializer):
    """All ones."""

    def __call__(self, tensor: Tensor, keras_shape: tuple[int, ...]) -> Tensor:
        return init.ones_(tensor)


class Constant(Initializer):
    """Every value ``value``."""

    def __init__(self, value: float = 0.0):
        self.value = float(value)

    def __call__(self, tensor: Tensor, keras_shape: tuple[int, ...]) -> Tensor:
        return init.constant_(tensor, self.value)

    def get_config(self) -> dict[str, Any]:
        return {"value": self.value}


class RandomNormal(Initializer):
    """N(mean, stddev²), Keras's defaults mean 0, stddev 0.05."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05):
        self.mean, self.stddev = float(mean), float(stddev)

    def __call__(self, tensor: Tensor, keras_shape: tuple[int, ...]) -> Tensor:
        return init.normal_(tensor, self.mean, self.stddev)

    def get_config(self) -> dict[str, Any]:
        return {"mean": self.mean, "stddev": self.stddev}


class RandomUniform(Initializer):
    """U(minval, maxval), Keras's defaults -0.05 and 0.05."""

    def __init__(self, minval: float = -0.05, maxval: float = 0.05):
        self.minval, self.maxval = float(minval), float(maxval)

    def __call__(self, tensor: Tensor, keras_shape: tuple[int, ...]) -> Tensor:
        return init.uniform_(tensor, self.minval, self.maxval)

    def get_config(self) -> dict[str, Any]:
        return {"minval": self.minval, "maxval": self.maxval}


class VarianceScaling(Initializer):
    """Values of variance scale / n, n = fan_in, fan_out or their mean (``mode``): uniform on [-limit, limit] with
    limit = sqrt(3 scale / n), or a truncated normal (``distribution="truncated_normal"``)."""

    def __init__(self, scale: float = 1.0, mode: str = "fan_in", distribution: str = "truncated_normal"):
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"VarianceScaling: mode must be 'fan_in', 'fan_out' or 'fan_avg', got {mode!r}")
        if distribution not in ("truncated_normal", "uniform"):
            raise ValueError(
                f"VarianceScaling: distribution must be 'truncated_normal' or 'uniform', got {distribution!r}"
            )
        self.scale, self.mode, self.distribution = float(scale), mode, distribution

    def __call__(self, tensor: Tensor, keras_shape: tuple[int, ...]) -> Tensor:
        fan_in, fan_out = fans(keras_shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, n)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return init.uniform_(tensor, -limit, limit)
        std = math.sqrt(variance) / _TRUNCATED_STD
        return init.trunc_normal_(tensor, 0.0, std, -2 * std, 2 * std)

    def get_config(self) -> dict[str, Any]:
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution}


class GlorotUniform(VarianceScaling):
    """U(-limit, limit), limit = sqrt(6 / (fan_in + fan_out)): Keras's default for kernels."""

    def __init__(self) -> None:
        super().__init__(1.0, "fan_avg", "uniform")

    def get_config(self) -> dict[str, Any]:
        return {}


class GlorotNormal(VarianceScaling):
    """Truncated normal of variance 2 / (fan_in + fan_out)."""

    def __init__(self) -> None:
        super().__init__(1.0, "fan_avg", "truncated_normal")

    def get_config(self) -> dict[str, Any]:
        return {}


class HeUniform(VarianceScaling):
    """U(-limit, limit), limit = sqrt(6 / fan_in)."""

    def __init__(self) -> None:
        super().__init__(2.0, "fan_in", "uniform")

    def get_config(self) -> dict[str, Any]:
        return {}


class HeNormal(VarianceScaling):
    """Truncated normal of variance 2 / fan_in."""

    def __init__(self) -> None:
        super().__init__(2.0, "fan_in", "truncated_normal")

    def get_config(self) -> dict[str, Any]:
        return {}


class LecunUniform(VarianceScaling):
    """U(-limit, limit), limit = sqrt(3 / fan_in)."""

    def __init__(self) -> None:
        super().__init__(1.0, "fan_in", "uniform")

    def get_config(self) -> dict[str, Any]:
        return {}


class LecunNormal(VarianceScaling):
    """Truncated normal of variance 1 / fan_in."""

    def __init__(self) -> None:
        super().__init__(1.0, "fan_in", "truncated_normal")

    def get_config(self) -> dict[str, Any]:
        return {}


INITIALIZERS: dict[str, type[Initializer]] = {
    "zeros": Zeros,
    "ones": Ones,
    "constant": Constant,
    "random_normal": RandomNormal,
    "random_uniform": RandomUniform,
    "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal,
    "he_uniform": HeUniform,
    "he_normal": HeNormal,
    "lecun_uniform": LecunUniform,
    "lecun_normal": LecunNormal,
}


def get(identifier: Any) -> Initializer:
    """The initializer for a name ("he_normal") or an ``Initializer`` (returned as it is)."""
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str) and identifier in INITIALIZERS:
        return INITIALIZERS[identifier]()
    raise ValueError(f"unknown initializer {identifier!r}; known: {', '.join(INITIALIZERS)}, or an Initializer object")


def serialize(initializer: Initializer) -> dict[str, Any]:
    """``{"name": ..., "config": {...}}``, which ``deserialize`` turns back into the initializer."""
    for name, kind in INITIALIZERS.items():
        if type(initializer) is kind:
            return {"name": name, "config": initializer.get_config()}
    raise ValueError(f"the initializer {initializer!r} is not one of Keras's, so it cannot be saved by name")


def deserialize(config: Any) -> Initializer:
    """The initializer ``serialize`` described (a name is accepted too)."""
    if isinstance(config, str):
        return get(config)
    return INITIALIZERS[config["name"]](**config["config"])
