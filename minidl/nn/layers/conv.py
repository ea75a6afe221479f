"""``Conv2d``: 2-D convolution over NCHW images, with stride, padding, dilation and groups."""

from __future__ import annotations

import math
from typing import Any

from minidl.nn import functional as F
from minidl.nn import init
from minidl.nn.module import Module
from minidl.nn.parameter import Parameter
from minidl.ops.window import conv_padding, pair
from minidl.tensor import Tensor, empty

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"Conv2d: {name} must be a positive integer, got {value!r}")
    return value


class Conv2d(Module):
    """x: (N, in_channels, H, W) -> (N, out_channels, Ho, Wo), Ho = floor((H + 2 pad - dil (k - 1) - 1) / stride) + 1.

    kernel_size, stride, padding, dilation: an int or a pair (height, width); padding may also be 'valid' (none)
    or 'same' (output as large as the input; stride 1 only). groups splits the channels into independent groups
    (groups == in_channels is a depthwise convolution). padding_mode: 'zeros', 'reflect', 'replicate' or
    'circular'.

    weight: (out_channels, in_channels / groups, kh, kw); bias: (out_channels,). Initialised as PyTorch does:
    kaiming_uniform_(a=sqrt(5)) and U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = in_channels / groups * kh * kw.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] | str = 0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ):
        super().__init__()
        _positive_int(in_channels, "in_channels")
        _positive_int(out_channels, "out_channels")
        _positive_int(groups, "groups")
        if in_channels % groups:
            raise ValueError(f"Conv2d: in_channels ({in_channels}) must be divisible by groups ({groups})")
        if out_channels % groups:
            raise ValueError(f"Conv2d: out_channels ({out_channels}) must be divisible by groups ({groups})")
        kernel_size = pair(kernel_size, "kernel_size", "Conv2d")
        stride, dilation = pair(stride, "stride", "Conv2d"), pair(dilation, "dilation", "Conv2d")
        if not isinstance(padding, str):
            padding = pair(padding, "padding", "Conv2d", minimum=0)
        top, bottom, left, right = conv_padding(padding, kernel_size, stride, dilation, "Conv2d")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"Conv2d: padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        self.padding_mode = padding_mode
        self.output_padding = (0, 0)
        # F.pad's order: (left, right) of the last dim (width), then of the one before (height).
        self._reversed_padding_repeated_twice = [left, right, top, bottom]
        self.weight = Parameter(empty(out_channels, in_channels // groups, *kernel_size, dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(empty(out_channels, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw the weights again (PyTorch's default initialisation)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_channels // self.groups * math.prod(self.kernel_size)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        if self.padding_mode != "zeros":
            padded = F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            return F.conv2d(padded, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)
        return F.conv2d(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def macs(self, output: Tensor) -> int:
        """C_out * H_out * W_out * (C_in / groups) * kh * kw per sample (bias additions not counted)."""
        kh, kw = self.kernel_size
        return math.prod(output.shape[1:]) * (self.in_channels // self.groups) * kh * kw

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s
