"""Convolution layers: ``Conv2D``, ``DepthwiseConv2D`` and ``SeparableConv2D``, on images channels-last by default.

Each holds ``nn.Conv2d`` modules working on (N, C, H, W); a channels-last layer permutes around them (views: see
``layout``). Kernels are shown to Keras in its layout: Conv2D (kh, kw, in / groups, filters) for the module's
(filters, in / groups, kh, kw); depthwise (kh, kw, channels, multiplier) for the grouped module's
(channels·multiplier, 1, kh, kw), output channel c·multiplier + m in both.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minidl import nn
from minidl.keras import activations, config, initializers
from minidl.keras.layers import layout
from minidl.keras.layers.base import Layer, WeightSpec
from minidl.keras.layers.layout import Shape
from minidl.nn import functional as F
from minidl.tensor import Tensor


def _kernel_to_keras(w: np.ndarray) -> np.ndarray:
    return w.transpose(2, 3, 1, 0)  # (out, in, kh, kw) -> (kh, kw, in, out)


def _kernel_from_keras(k: np.ndarray) -> np.ndarray:
    return k.transpose(3, 2, 0, 1)


def _depthwise_specs(name: str, weight: Any, channels: int, multiplier: int) -> WeightSpec:
    """The Keras view (kh, kw, channels, multiplier) of a grouped weight (channels·multiplier, 1, kh, kw)."""

    def to_keras(w: np.ndarray) -> np.ndarray:
        kh, kw = w.shape[2:]
        return w.reshape(channels, multiplier, kh, kw).transpose(2, 3, 0, 1)

    def from_keras(k: np.ndarray) -> np.ndarray:
        kh, kw = k.shape[:2]
        return k.transpose(2, 3, 0, 1).reshape(channels * multiplier, 1, kh, kw)

    return WeightSpec(name, weight, to_keras, from_keras)


class _Conv(Layer):
    """What the three convolutions share: arguments, output shapes, 'same' padding, the layout around the kernels."""

    def __init__(
        self,
        kernel_size: Any,
        strides: Any = (1, 1),
        padding: str = "valid",
        data_format: str | None = None,
        dilation_rate: Any = (1, 1),
        activation: Any = None,
        use_bias: bool = True,
        bias_initializer: Any = "zeros",
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        kind = type(self).__name__
        self.kernel_size = layout.pair(kernel_size, "kernel_size", kind)
        self.strides = layout.pair(strides, "strides", kind)
        self.padding = layout.check_padding(padding, kind)
        self.data_format = config.standardize_data_format(data_format)
        self.dilation_rate = layout.pair(dilation_rate, "dilation_rate", kind)
        if self.strides != (1, 1) and self.dilation_rate != (1, 1):
            raise ValueError(f"{kind}: strides > 1 together with dilation_rate > 1 is not supported (as in Keras)")
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.bias_initializer = initializers.get(bias_initializer)

    def _module_padding(self) -> Any:
        """The padding given to the modules: 'same' at stride 1 (PyTorch's rule is Keras's there), else none
        (strided 'same' pads the input explicitly, per call, as its amount depends on the input size)."""
        return "same" if self.padding == "same" and self.strides == (1, 1) else 0

    def _channels(self, input_shape: Shape) -> int:
        layout.check_image_input(self, input_shape, self.data_format)
        channels = layout.image_parts(input_shape, self.data_format)[2]
        if channels is None:
            raise ValueError(f"{self.name} ({type(self).__name__}): the number of input channels must be known")
        return int(channels)

    def _out_channels(self) -> int:
        raise NotImplementedError

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        layout.check_image_input(self, input_shape, self.data_format)
        h, w, _ = layout.image_parts(input_shape, self.data_format)
        ho = layout.output_size(h, self.kernel_size[0], self.strides[0], self.padding, self.dilation_rate[0])
        wo = layout.output_size(w, self.kernel_size[1], self.strides[1], self.padding, self.dilation_rate[1])
        return layout.image_shape(input_shape[0], ho, wo, self._out_channels(), self.data_format)

    def _size_matters(self, axis: int) -> bool:
        return axis == (3 if self.data_format == "channels_last" else 1)

    def _padded(self, x: Tensor) -> Tensor:
        """x (N, C, H, W) with Keras's 'same' padding when the modules do not pad it themselves."""
        if self.padding != "same" or self.strides == (1, 1):
            return x
        pads = layout.same_pads(tuple(x.shape[2:]), self.kernel_size, self.strides, self.dilation_rate)
        return F.pad(x, pads) if any(pads) else x

    def pre_activation(self, inputs: Tensor) -> Tensor:
        x = self._padded(layout.to_channels_first(inputs, self.data_format))
        return layout.from_channels_first(self._convolve(x), self.data_format)

    def _convolve(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "kernel_size": list(self.kernel_size),
            "strides": list(self.strides),
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": list(self.dilation_rate),
            "activation": self.activation_name(),
            "use_bias": self.use_bias,
            "bias_initializer": initializers.serialize(self.bias_initializer),
        }


class Conv2D(_Conv):
    """2-D convolution: (N, H, W, C) -> (N, Ho, Wo, filters) channels-last (or (N, C, H, W) -> (N, filters, Ho, Wo)
    with ``data_format="channels_first"``), then ``activation``.

    padding: 'valid' (none: Ho = ceil((H - kh + 1) / stride)) or 'same' (Ho = ceil(H / stride)). groups splits the
    channels into independent groups. Holds an ``nn.Conv2d``; parameters kh·kw·C/groups·filters + filters.
    """

    def __init__(
        self,
        filters: int,
        kernel_size: Any,
        strides: Any = (1, 1),
        padding: str = "valid",
        data_format: str | None = None,
        dilation_rate: Any = (1, 1),
        groups: int = 1,
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        **kwargs: Any,
    ):
        super().__init__(
            kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias, bias_initializer, **kwargs
        )
        if isinstance(filters, bool) or not isinstance(filters, int) or filters < 1:
            raise ValueError(f"Conv2D: filters must be a positive int, got {filters!r}")
        if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1 or filters % groups:
            raise ValueError(f"Conv2D: groups must be a positive int dividing filters ({filters}), got {groups!r}")
        self.filters = filters
        self.groups = groups
        self.kernel_initializer = initializers.get(kernel_initializer)

    def _out_channels(self) -> int:
        return self.filters

    def build(self, input_shape: Shape) -> None:
        channels = self._channels(input_shape)
        if channels % self.groups:
            raise ValueError(f"{self.name} (Conv2D): groups={self.groups} must divide the {channels} input channels")
        self.conv = nn.Conv2d(
            channels,
            self.filters,
            self.kernel_size,
            self.strides,
            self._module_padding(),
            self.dilation_rate,
            self.groups,
            self.use_bias,
            dtype=self.dtype,
        )
        self.kernel_initializer(self.conv.weight, (*self.kernel_size, channels // self.groups, self.filters))
        if self.use_bias:
            self.bias_initializer(self.conv.bias, (self.filters,))
        super().build(input_shape)

    def _convolve(self, x: Tensor) -> Tensor:
        return self.conv(x)

    def _weight_specs(self) -> list[WeightSpec]:
        if not self.built:
            return []
        specs = [WeightSpec("kernel", self.conv.weight, _kernel_to_keras, _kernel_from_keras)]
        if self.use_bias:
            specs.append(WeightSpec("bias", self.conv.bias))
        return specs

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "filters": self.filters,
            "groups": self.groups,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
        }


class DepthwiseConv2D(_Conv):
    """Depthwise convolution: each input channel convolved with ``depth_multiplier`` filters of its own,
    (N, H, W, C) -> (N, Ho, Wo, C·depth_multiplier). Holds an ``nn.Conv2d(C, C·m, groups=C)``; parameters
    kh·kw·C·m + C·m."""

    def __init__(
        self,
        kernel_size: Any,
        strides: Any = (1, 1),
        padding: str = "valid",
        depth_multiplier: int = 1,
        data_format: str | None = None,
        dilation_rate: Any = (1, 1),
        activation: Any = None,
        use_bias: bool = True,
        depthwise_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        **kwargs: Any,
    ):
        super().__init__(
            kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias, bias_initializer, **kwargs
        )
        if isinstance(depth_multiplier, bool) or not isinstance(depth_multiplier, int) or depth_multiplier < 1:
            raise ValueError(f"DepthwiseConv2D: depth_multiplier must be a positive int, got {depth_multiplier!r}")
        self.depth_multiplier = depth_multiplier
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.channels = 0

    def _out_channels(self) -> int:
        if not self.channels:
            raise ValueError(
                f"{self.name} (DepthwiseConv2D): the output shape needs the input channels: build it first"
            )
        return self.channels * self.depth_multiplier

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        self.channels = self.channels or self._channels(input_shape)
        return super().compute_output_shape(input_shape)

    def build(self, input_shape: Shape) -> None:
        self.channels = self._channels(input_shape)
        c, m = self.channels, self.depth_multiplier
        self.conv = nn.Conv2d(
            c,
            c * m,
            self.kernel_size,
            self.strides,
            self._module_padding(),
            self.dilation_rate,
            groups=c,
            bias=self.use_bias,
            dtype=self.dtype,
        )
        self.depthwise_initializer(self.conv.weight, (*self.kernel_size, c, m))
        if self.use_bias:
            self.bias_initializer(self.conv.bias, (c * m,))
        super().build(input_shape)

    def _convolve(self, x: Tensor) -> Tensor:
        return self.conv(x)

    def _weight_specs(self) -> list[WeightSpec]:
        if not self.built:
            return []
        specs = [_depthwise_specs("kernel", self.conv.weight, self.channels, self.depth_multiplier)]
        if self.use_bias:
            specs.append(WeightSpec("bias", self.conv.bias))
        return specs

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "depth_multiplier": self.depth_multiplier,
            "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
        }


class SeparableConv2D(_Conv):
    """A depthwise convolution (strides, padding and dilation apply to it) followed by a 1×1 convolution to
    ``filters`` channels and one bias: (N, H, W, C) -> (N, Ho, Wo, filters). Holds two ``nn.Conv2d``; parameters
    kh·kw·C·m + C·m·filters + filters."""

    def __init__(
        self,
        filters: int,
        kernel_size: Any,
        strides: Any = (1, 1),
        padding: str = "valid",
        data_format: str | None = None,
        dilation_rate: Any = (1, 1),
        depth_multiplier: int = 1,
        activation: Any = None,
        use_bias: bool = True,
        depthwise_initializer: Any = "glorot_uniform",
        pointwise_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        **kwargs: Any,
    ):
        super().__init__(
            kernel_size, strides, padding, data_format, dilation_rate, activation, use_bias, bias_initializer, **kwargs
        )
        if isinstance(filters, bool) or not isinstance(filters, int) or filters < 1:
            raise ValueError(f"SeparableConv2D: filters must be a positive int, got {filters!r}")
        if isinstance(depth_multiplier, bool) or not isinstance(depth_multiplier, int) or depth_multiplier < 1:
            raise ValueError(f"SeparableConv2D: depth_multiplier must be a positive int, got {depth_multiplier!r}")
        self.filters = filters
        self.depth_multiplier = depth_multiplier
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.channels = 0

    def _out_channels(self) -> int:
        return self.filters

    def build(self, input_shape: Shape) -> None:
        self.channels = self._channels(input_shape)
        c, m = self.channels, self.depth_multiplier
        self.depthwise = nn.Conv2d(
            c,
            c * m,
            self.kernel_size,
            self.strides,
            self._module_padding(),
            self.dilation_rate,
            groups=c,
            bias=False,
            dtype=self.dtype,
        )
        self.pointwise = nn.Conv2d(c * m, self.filters, 1, bias=self.use_bias, dtype=self.dtype)
        self.depthwise_initializer(self.depthwise.weight, (*self.kernel_size, c, m))
        self.pointwise_initializer(self.pointwise.weight, (1, 1, c * m, self.filters))
        if self.use_bias:
            self.bias_initializer(self.pointwise.bias, (self.filters,))
        super().build(input_shape)

    def _convolve(self, x: Tensor) -> Tensor:
        return self.pointwise(self.depthwise(x))

    def _weight_specs(self) -> list[WeightSpec]:
        if not self.built:
            return []
        specs = [
            _depthwise_specs("depthwise_kernel", self.depthwise.weight, self.channels, self.depth_multiplier),
            WeightSpec("pointwise_kernel", self.pointwise.weight, _kernel_to_keras, _kernel_from_keras),
        ]
        if self.use_bias:
            specs.append(WeightSpec("bias", self.pointwise.bias))
        return specs

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "filters": self.filters,
            "depth_multiplier": self.depth_multiplier,
            "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
            "pointwise_initializer": initializers.serialize(self.pointwise_initializer),
        }
