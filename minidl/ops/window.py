"""Arguments of sliding-window ops (convolution, pooling): pairs, paddings, output sizes, and their checks."""

from __future__ import annotations

import math
from typing import Any

from minidl.ops.checks import expect_tensor
from minidl.tensor import Tensor


def pair(value: Any, name: str, op: str, minimum: int = 1) -> tuple[int, int]:
    """``value`` (an int or a pair of ints, each >= ``minimum``) as a (height, width) pair."""
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise ValueError(f"{op}: {name} must be an int or a pair of ints, got {tuple(value)}")
        result = tuple(value)
    else:
        result = (value, value)
    for v in result:
        if isinstance(v, bool) or not hasattr(v, "__index__") or v.__index__() < minimum:
            raise ValueError(f"{op}: {name} must be integers >= {minimum}, got {value!r}")
    return (result[0].__index__(), result[1].__index__())


def image_batch(x: Tensor, op: str) -> tuple[Tensor, bool]:
    """``x`` as an (N, C, H, W) batch: a (C, H, W) image gets a batch of one (and ``True``, to drop it again)."""
    if expect_tensor(x, op).data.ndim == 3:
        return x.unsqueeze(0), True
    if x.data.ndim != 4:
        raise ValueError(f"{op}: expected a 3-D (C, H, W) or 4-D (N, C, H, W) input, got shape {tuple(x.shape)}")
    return x, False


def conv_padding(
    padding: Any, kernel_size: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int], op: str
) -> tuple[int, int, int, int]:
    """Convolution ``padding`` (int, pair, 'valid' or 'same') as (top, bottom, left, right). 'same' keeps the
    size at stride 1; an odd total goes one more to the bottom/right, as in PyTorch."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding != "same":
            raise ValueError(f"{op}: padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
        if stride != (1, 1):
            raise ValueError(f"{op}: padding='same' needs stride 1, got stride {stride}")
        sides = []
        for k, d in zip(kernel_size, dilation):
            total = d * (k - 1)
            sides += [total // 2, total - total // 2]
        return (sides[0], sides[1], sides[2], sides[3])
    ph, pw = pair(padding, "padding", op, minimum=0)
    return (ph, ph, pw, pw)


def window_output_size(
    size: int, kernel: int, stride: int, pad_before: int, pad_after: int, dilation: int, ceil_mode: bool = False
) -> int:
    """How many window positions fit along one dim (pooling's ``ceil_mode`` keeps a last partial window when
    it starts inside the input or its left padding, as PyTorch does)."""
    span = size + pad_before + pad_after - dilation * (kernel - 1) - 1
    if not ceil_mode:
        return span // stride + 1
    out = math.ceil(span / stride) + 1 if span >= 0 else span // stride + 1
    if (out - 1) * stride >= size + pad_before:
        out -= 1
    return out


def check_window_fits(
    shape_hw: tuple[int, int],
    kernel: tuple[int, int],
    dilation: tuple[int, int],
    padding: tuple[int, int, int, int],
    op: str,
) -> None:
    """Refuse a (dilated) kernel larger than the padded input, naming both sizes."""
    (h, w), (kh, kw), (dh, dw), (pt, pb, pl, pr) = shape_hw, kernel, dilation, padding
    eh, ew = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    if eh > h + pt + pb or ew > w + pl + pr:
        raise ValueError(
            f"{op}: the kernel ({eh}×{ew} with dilation {dilation}) is larger than the padded input "
            f"({h + pt + pb}×{w + pl + pr}: input {h}×{w} with padding {padding})"
        )
