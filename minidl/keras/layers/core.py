"""The core layers: ``Input``/``InputLayer``, ``Dense``, ``Activation``, ``Dropout`` and ``Flatten``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from minidl import nn
from minidl.keras import activations, config, initializers
from minidl.keras.layers.base import Layer, WeightSpec
from minidl.keras.layers.layout import Shape, shape_text
from minidl.tensor import Tensor


def _transposed(a: np.ndarray) -> np.ndarray:
    return a.T


class InputLayer(Layer):
    """The declared input of a model: ``shape`` is one sample's shape (no batch dimension). ``keras.Input(shape)``
    makes one; put it first in a ``Sequential`` so the model is built at once. ``layer.shape`` is the full shape,
    the batch size first (None unless ``batch_size`` is given)."""

    def __init__(
        self, shape: tuple[Any, ...], batch_size: int | None = None, dtype: str | None = None, name: str | None = None
    ):
        super().__init__(name=name, dtype=dtype)
        if isinstance(shape, int) and not isinstance(shape, bool):
            shape = (shape,)
        if not isinstance(shape, (tuple, list)) or any(
            d is not None and (isinstance(d, bool) or not isinstance(d, int) or d < 1) for d in shape
        ):
            raise ValueError(
                f"Input: shape must be a tuple of positive ints (or None), one sample's shape, got {shape!r}"
            )
        self.shape: Shape = (batch_size, *tuple(shape))
        self.batch_input_shape = self.shape
        self.built = True

    def call(self, inputs: Tensor) -> Tensor:
        return inputs

    def get_config(self) -> dict[str, Any]:
        return {"shape": list(self.shape[1:]), "batch_size": self.shape[0], "dtype": self.dtype_name, "name": self.name}


def Input(
    shape: tuple[Any, ...], batch_size: int | None = None, dtype: str | None = None, name: str | None = None
) -> InputLayer:
    """The input of a model, one sample's ``shape`` without the batch dimension: ``keras.Input(shape=(28, 28, 1))``
    (channels-last images). Only ``Sequential`` models are built from it here (no functional API)."""
    return InputLayer(shape, batch_size=batch_size, dtype=dtype, name=name)


class Dense(Layer):
    """A fully connected layer on the last axis: x (N, ..., in) -> activation(x @ kernel + bias) (N, ..., units).

    Holds an ``nn.Linear(in, units)``; its Keras kernel is (in, units), the transpose of the Linear's weight.
    kernel_initializer defaults to Glorot uniform, bias_initializer to zeros, as in Keras.
    """

    def __init__(
        self,
        units: int,
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, int) or units < 1:
            raise ValueError(f"Dense: units must be a positive int, got {units!r}")
        self.units = units
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(
                f"{self.name} (Dense): needs inputs (batch, ..., features) with a known last axis, got "
                f"{shape_text(input_shape)}"
            )
        features = int(input_shape[-1])
        self.linear = nn.Linear(features, self.units, bias=self.use_bias, dtype=self.dtype)
        self.kernel_initializer(self.linear.weight, (features, self.units))
        if self.use_bias:
            self.bias_initializer(self.linear.bias, (self.units,))
        super().build(input_shape)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (*tuple(input_shape)[:-1], self.units)

    def pre_activation(self, inputs: Tensor) -> Tensor:
        return self.linear(inputs)

    def _weight_specs(self) -> list[WeightSpec]:
        if not self.built:
            return []
        specs = [WeightSpec("kernel", self.linear.weight, _transposed, _transposed)]
        if self.use_bias:
            specs.append(WeightSpec("bias", self.linear.bias))
        return specs

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "units": self.units,
            "activation": self.activation_name(),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
        }


class Activation(Layer):
    """Applies an activation by name ("relu", "softmax"...) or a function of a tensor; the shape is unchanged."""

    def __init__(self, activation: Any, **kwargs: Any):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def pre_activation(self, inputs: Tensor) -> Tensor:
        return inputs

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "activation": self.activation_name()}


class Dropout(Layer):
    """In training, zeroes each value with probability ``rate`` and scales the others by 1 / (1 - rate); in
    inference passes the input through. Holds an ``nn.Dropout(rate)`` (masks from minidl's generator)."""

    def __init__(self, rate: float, **kwargs: Any):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ValueError(f"Dropout: rate must be a number in [0, 1), got {rate!r}")
        self.rate = float(rate)
        self.dropout = nn.Dropout(self.rate)

    def call(self, inputs: Tensor) -> Tensor:
        return self.dropout(inputs)

    def _size_matters(self, axis: int) -> bool:
        return False

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.rate}


class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1·d2·...), in the order of the channels-last layout: a channels-first input (its
    ``data_format``) is first permuted to channels-last, so a Dense layer after it sees the values in the order
    Keras gives them, whichever layout the layers before it used (this is what keeps Keras weights loadable)."""

    def __init__(self, data_format: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.data_format = config.standardize_data_format(data_format)
        self.flatten = nn.Flatten()

    def build(self, input_shape: Shape) -> None:
        if len(input_shape) < 2:
            raise ValueError(
                f"{self.name} (Flatten): needs inputs with a batch dimension, got {shape_text(input_shape)}"
            )
        super().build(input_shape)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        rest = tuple(input_shape)[1:]
        return (input_shape[0], None if any(d is None for d in rest) else math.prod(rest))

    def call(self, inputs: Tensor) -> Tensor:
        if self.data_format == "channels_first" and inputs.ndim > 2:
            inputs = inputs.permute(0, *range(2, inputs.ndim), 1)
        return self.flatten(inputs)

    def _size_matters(self, axis: int) -> bool:
        return False

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "data_format": self.data_format}
