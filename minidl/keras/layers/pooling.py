"""Pooling layers: ``MaxPooling2D``, ``AveragePooling2D`` and ``GlobalAveragePooling2D``, channels-last by default.

They hold minidl's pooling modules (on (N, C, H, W)) and permute around them as the convolutions do. Keras's
'same' padding pads with the odd row/column at the bottom/right: max pooling pads with -inf (padding never wins),
average pooling averages over the input values a window covers (the padding is not counted).
"""

from __future__ import annotations

import math
from typing import Any

from minidl import nn
from minidl.keras import config
from minidl.keras.layers import layout
from minidl.keras.layers.base import Layer
from minidl.keras.layers.layout import Shape
from minidl.nn import functional as F
from minidl.tensor import Tensor, ones


class _Pooling2D(Layer):
    """Arguments and output shapes of the windowed poolings; ``pool`` is the subclass's ``_module`` over them."""

    _module: type[nn.Module]

    def __init__(
        self,
        pool_size: Any = (2, 2),
        strides: Any = None,
        padding: str = "valid",
        data_format: str | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        kind = type(self).__name__
        self.pool_size = layout.pair(pool_size, "pool_size", kind)
        self.strides = self.pool_size if strides is None else layout.pair(strides, "strides", kind)
        self.padding = layout.check_padding(padding, kind)
        self.data_format = config.standardize_data_format(data_format)
        self.pool = self._module(self.pool_size, self.strides)

    def build(self, input_shape: Shape) -> None:
        layout.check_image_input(self, input_shape, self.data_format)
        super().build(input_shape)

    def _size_matters(self, axis: int) -> bool:
        return False

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        layout.check_image_input(self, input_shape, self.data_format)
        h, w, c = layout.image_parts(input_shape, self.data_format)
        ho = layout.output_size(h, self.pool_size[0], self.strides[0], self.padding)
        wo = layout.output_size(w, self.pool_size[1], self.strides[1], self.padding)
        return layout.image_shape(input_shape[0], ho, wo, c, self.data_format)

    def _pads(self, x: Tensor) -> tuple[int, ...]:
        """F.pad's (left, right, top, bottom) for 'same' on x (N, C, H, W); zeros for 'valid'."""
        if self.padding == "valid":
            return (0, 0, 0, 0)
        return layout.same_pads(tuple(x.shape[2:]), self.pool_size, self.strides)

    def call(self, inputs: Tensor) -> Tensor:
        x = layout.to_channels_first(inputs, self.data_format)
        return layout.from_channels_first(self._pool(x), self.data_format)

    def _pool(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "pool_size": list(self.pool_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "data_format": self.data_format,
        }


class MaxPooling2D(_Pooling2D):
    """The maximum of each ``pool_size`` window, every ``strides`` (default: ``pool_size``):
    (N, H, W, C) -> (N, Ho, Wo, C). Holds an ``nn.MaxPool2d``."""

    _module = nn.MaxPool2d

    def _pool(self, x: Tensor) -> Tensor:
        pads = self._pads(x)
        return self.pool(F.pad(x, pads, value=-math.inf) if any(pads) else x)


class AveragePooling2D(_Pooling2D):
    """The mean of each ``pool_size`` window, every ``strides`` (default: ``pool_size``):
    (N, H, W, C) -> (N, Ho, Wo, C). Holds an ``nn.AvgPool2d``."""

    _module = nn.AvgPool2d

    def _pool(self, x: Tensor) -> Tensor:
        pads = self._pads(x)
        if not any(pads):
            return self.pool(x)
        # The mean over the covered input values: the pooled zero-padded sums over the pooled count of values.
        covered = self.pool(F.pad(ones(1, 1, *x.shape[2:], dtype=x.dtype, device=x.device), pads))
        return self.pool(F.pad(x, pads)) / covered


class GlobalAveragePooling2D(Layer):
    """The mean over height and width: (N, H, W, C) -> (N, C), or (N, 1, 1, C) with ``keepdims``. Holds an
    ``nn.AdaptiveAvgPool2d(1)``."""

    def __init__(self, data_format: str | None = None, keepdims: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        self.data_format = config.standardize_data_format(data_format)
        self.keepdims = bool(keepdims)
        self.pool = nn.AdaptiveAvgPool2d(1)

    def build(self, input_shape: Shape) -> None:
        layout.check_image_input(self, input_shape, self.data_format)
        super().build(input_shape)

    def _size_matters(self, axis: int) -> bool:
        return False

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        layout.check_image_input(self, input_shape, self.data_format)
        c = layout.image_parts(input_shape, self.data_format)[2]
        if self.keepdims:
            return layout.image_shape(input_shape[0], 1, 1, c, self.data_format)
        return (input_shape[0], c)

    def call(self, inputs: Tensor) -> Tensor:
        pooled = self.pool(layout.to_channels_first(inputs, self.data_format))
        if self.keepdims:
            return layout.from_channels_first(pooled, self.data_format)
        return pooled.reshape(pooled.shape[0], pooled.shape[1])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D
GlobalAvgPool2D = GlobalAveragePooling2D
