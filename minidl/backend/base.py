"""What every backend does the same way on top of its own kernel table and array namespace: the convolution
(through its ``Convolution``) and dropout masks (from its device's counter-based generator)."""

from __future__ import annotations

import math
from typing import Any

from minidl import random
from minidl.backend.convolution import Convolution, ConvolutionPlan
from minidl.backend.kernel_table import KernelTable


class KernelBackend:
    """A backend's shared methods; a subclass sets ``name``, ``xp``, ``kernels`` and ``convolution``."""

    name: str
    xp: Any
    kernels: KernelTable
    convolution: Convolution

    def conv2d_forward(self, x, weight, stride, padding, dilation, groups) -> tuple[Any, ConvolutionPlan]:
        """x: (N, C, H, W), weight: (C_out, C / groups, kh, kw) -> ((N, C_out, Ho, Wo), the plan for backward);
        padding is (top, bottom, left, right)."""
        return self.convolution.forward(x, weight, stride, padding, dilation, groups)

    def conv2d_backward(self, grad, x, weight, plan: ConvolutionPlan, need_x: bool, need_weight: bool):
        """(dx or None, dweight or None) for the output gradient ``grad`` of ``conv2d_forward``."""
        return self.convolution.backward(grad, x, weight, plan, need_x, need_weight)

    def dropout_mask(self, shape: tuple, p: float, dtype: Any) -> Any:
        """A mask of ``shape``: 1 / (1 - p) with probability 1 - p, else 0, drawn on this device (0 <= p < 1)."""
        seed, offset = random.device_numbers(self.name, math.prod(shape))
        return self.kernels.dropout_mask(tuple(shape), p, seed, offset, dtype)
