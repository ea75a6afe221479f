"""Image layouts and window arithmetic shared by the convolution and pooling layers.

minidl's kernels work on channels-first (N, C, H, W) arrays. A channels-last layer permutes its input to
(N, C, H, W) and its output back to (N, H, W, C); both are views (no copy), so between two channels-last layers
the permutations cancel and the data stays in the kernels' layout. A copy happens only where the memory order
matters: a kernel given a channels-last view of a tensor with more than one channel copies it (the first
convolution of RGB images), and ``Flatten`` copies to flatten in Keras's (H, W, C) order.

'same' padding follows Keras (TensorFlow): the output has ceil(size / stride) positions and the padding needed for
that is split with the odd one at the bottom/right, for any stride (PyTorch's 'same' exists for stride 1 only).
"""

from __future__ import annotations

import math
from typing import Any

from minidl.tensor import Tensor

Shape = tuple[Any, ...]  # a Keras shape: the batch size (None) first, None for any unknown size


def to_channels_first(x: Tensor, data_format: str) -> Tensor:
    """(N, H, W, C) -> (N, C, H, W) for channels-last data (a view); channels-first data as it is."""
    return x.permute(0, 3, 1, 2) if data_format == "channels_last" else x


def from_channels_first(x: Tensor, data_format: str) -> Tensor:
    """(N, C, H, W) -> (N, H, W, C) for a channels-last layer (a view); as it is for channels-first."""
    return x.permute(0, 2, 3, 1) if data_format == "channels_last" else x


def image_parts(shape: Shape, data_format: str) -> tuple[Any, Any, Any]:
    """(H, W, C) of a 4-D Keras shape."""
    if data_format == "channels_last":
        return shape[1], shape[2], shape[3]
    return shape[2], shape[3], shape[1]


def image_shape(batch: Any, h: Any, w: Any, c: Any, data_format: str) -> Shape:
    """A 4-D Keras shape from its parts, in ``data_format``'s order."""
    return (batch, h, w, c) if data_format == "channels_last" else (batch, c, h, w)


def check_image_input(layer: Any, shape: Shape, data_format: str) -> None:
    """Refuse an input that is not a batch of images (4-D), naming the layout the layer expects and the fix for
    the usual mistake: grey images without their channel axis."""
    if len(shape) == 4:
        return
    where = f"{layer.name} ({type(layer).__name__})"
    layout = (
        "(batch, height, width, channels)" if data_format == "channels_last" else "(batch, channels, height, width)"
    )
    message = f"{where}: expected a 4-D input {layout} (data_format='{data_format}'), got shape {_text(shape)}"
    if len(shape) == 3:
        fix = (
            "x[..., None] or np.expand_dims(x, -1)"
            if data_format == "channels_last"
            else "x[:, None] or np.expand_dims(x, 1)"
        )
        message += f". For grey images, add the channel axis: {fix}"
    raise ValueError(message)


def _text(shape: Shape) -> str:
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + (",)" if len(shape) == 1 else ")")


def shape_text(shape: Shape) -> str:
    """``(None, 26, 26, 32)``, as Keras prints shapes."""
    return _text(shape)


def pair(value: Any, name: str, layer: str) -> tuple[int, int]:
    """An int or a pair of positive ints as (height, width)."""
    values = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(values) != 2 or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in values):
        raise ValueError(f"{layer}: {name} must be a positive int or a pair of them, got {value!r}")
    return values  # type: ignore[return-value]


def check_padding(padding: str, layer: str) -> str:
    """'valid' or 'same' (any case)."""
    value = str(padding).lower()
    if value not in ("valid", "same"):
        raise ValueError(f"{layer}: padding must be 'valid' or 'same', got {padding!r}")
    return value


def output_size(size: Any, kernel: int, stride: int, padding: str, dilation: int = 1) -> Any:
    """Positions along one dim: ceil((size - span + 1) / stride) for 'valid', ceil(size / stride) for 'same'
    (None stays None)."""
    if size is None:
        return None
    if padding == "same":
        return math.ceil(size / stride)
    span = dilation * (kernel - 1) + 1
    return max(0, math.ceil((size - span + 1) / stride))


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """(before, after) padding of Keras's 'same' along one dim: enough for ceil(size / stride) windows, the odd
    one after."""
    span = dilation * (kernel - 1) + 1
    total = max((math.ceil(size / stride) - 1) * stride + span - size, 0)
    return total // 2, total - total // 2


def same_pads(
    hw: tuple[int, int], kernel: tuple[int, int], stride: tuple[int, int], dilation=(1, 1)
) -> tuple[int, ...]:
    """'same' padding of an (H, W) image as F.pad wants it: (left, right, top, bottom)."""
    top, bottom = same_padding(hw[0], kernel[0], stride[0], dilation[0])
    left, right = same_padding(hw[1], kernel[1], stride[1], dilation[1])
    return left, right, top, bottom
