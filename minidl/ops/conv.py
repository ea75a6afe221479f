"""2-D convolution (cross-correlation, as in PyTorch): the op checks its arguments and records the graph; the
algorithm (depthwise kernels, one GEMM for 1×1, chunked im2col + GEMM) and its chunking belong to the device, in
``x.backend.conv2d_forward`` / ``conv2d_backward`` (see ``minidl.backend.convolution``)."""

from __future__ import annotations

from typing import Any

from minidl.autograd import Function
from minidl.ops.checks import dtype_mismatch, expect_tensor
from minidl.ops.window import check_window_fits, conv_padding, image_batch, pair
from minidl.tensor import Tensor
from minidl.text import plural


class Conv2dOp(Function):
    def forward(self, x, w, *bias, stride, padding, dilation, groups):
        self.x, self.w, self.has_bias = x, w, bool(bias)
        out, self.plan = self.backend.conv2d_forward(x, w, stride, padding, dilation, groups)
        if bias:
            out += self.xp.reshape(bias[0], (1, -1, 1, 1))
        return out

    def backward(self, g):
        need_x, need_w = self.needs_input_grad[:2]
        gb = self.xp.sum(g, axis=(0, 2, 3)) if self.has_bias and self.needs_input_grad[2] else None
        gx, gw = self.backend.conv2d_backward(g, self.x, self.w, self.plan, need_x, need_w)
        return (gx, gw, gb) if self.has_bias else (gx, gw)


def _channel_mismatch(op: str, weight_shape: tuple, groups: int, input_shape: tuple) -> ValueError:
    """The error for an input whose channels are not the weight's: how the input was read, and the likely fix
    (a channels-last image or batch, a batch of grey images without its channel dim)."""
    expected = weight_shape[1] * groups
    message = f"{op}: the weight {weight_shape} with groups={groups} expects {plural(expected, 'input channel')}"
    if len(input_shape) == 3:
        message += (
            f", but the 3-D input {input_shape} is read as one unbatched (C, H, W) image with "
            f"{plural(input_shape[0], 'channel')}; a batch is (N, C, H, W)"
        )
        if input_shape[-1] == expected:
            message += ". It looks channels-last (H, W, C): use x.permute(2, 0, 1)"
        elif expected == 1:
            message += ". For a batch of N grey (N, H, W) images add the channel dim: x.unsqueeze(1)"
        return ValueError(message)
    message += f", but the input {input_shape} has {plural(input_shape[1], 'channel')} (dim 1 of (N, C, H, W))"
    if input_shape[-1] == expected:
        message += ". It looks channels-last (N, H, W, C): use x.permute(0, 3, 1, 2)"
    return ValueError(message)


def conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
) -> Tensor:
    """2-D convolution, as ``torch.nn.functional.conv2d``.

    input: (N, C_in, H, W) or (C_in, H, W); weight: (C_out, C_in / groups, kh, kw); bias: (C_out,) or None;
    stride, dilation: int or (sh, sw); padding: int, (ph, pw), 'valid' or 'same' (stride 1 only).
    Returns (N, C_out, Ho, Wo) with Ho = (H + 2 ph - dh (kh - 1) - 1) // sh + 1, likewise Wo.
    """
    op = "conv2d"
    x, unbatched = image_batch(input, op)
    if expect_tensor(weight, op, "weight").data.ndim != 4:
        raise ValueError(f"{op}: weight must be a 4-D (C_out, C_in / groups, kh, kw) tensor, got {tuple(weight.shape)}")
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive integer, got {groups!r}")
    c, h, w = x.shape[1:]
    cout, cg, kh, kw = weight.shape
    if c % groups or cout % groups:
        raise ValueError(
            f"{op}: groups={groups} must divide both the input channels ({c}) and the output channels ({cout})"
        )
    if cg * groups != c:
        raise _channel_mismatch(op, tuple(weight.shape), groups, tuple(input.shape))
    if x.data.dtype != weight.data.dtype:
        raise dtype_mismatch(op, x.data.dtype, weight.data.dtype)
    if x.data.dtype.kind != "f":
        raise TypeError(f"{op}: needs floating-point input and weight, got {x.data.dtype.name}")
    tensors = [x, weight]
    if bias is not None:
        if tuple(expect_tensor(bias, op, "bias").shape) != (cout,):
            raise ValueError(f"{op}: bias must have shape ({cout},), got {tuple(bias.shape)}")
        if bias.data.dtype != x.data.dtype:
            raise dtype_mismatch(op, x.data.dtype, bias.data.dtype, "bias")
        tensors.append(bias)
    stride, dilation = pair(stride, "stride", op), pair(dilation, "dilation", op)
    pads = conv_padding(padding, (kh, kw), stride, dilation, op)
    check_window_fits((h, w), (kh, kw), dilation, pads, op)
    out = Conv2dOp.apply(*tensors, stride=stride, padding=pads, dilation=dilation, groups=groups)
    return out.squeeze(0) if unbatched else out


ACTIVATIONS = {None: None, "relu": (0.0, None), "relu6": (0.0, 6.0)}


def conv2d_activation(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
    activation: str | None = "relu",
) -> Tensor:
    """``activation(conv2d(input, weight, bias, ...))`` with activation None, "relu" or "relu6"; shapes as
    ``conv2d``. When no gradient is recorded (inference) the bias and the activation are applied in place on the
    convolution's output, with no intermediate tensors; otherwise it is the plain composition."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"conv2d_activation: activation of {tuple(ACTIVATIONS)} expected, got {activation!r}")
    from minidl.autograd import is_grad_enabled
    from minidl.ops.activation import hardtanh, relu

    recording = is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (input, weight, bias) if isinstance(t, Tensor)
    )
    if recording:
        out = conv2d(input, weight, bias, stride, padding, dilation, groups)
        if activation == "relu":
            return relu(out)
        return hardtanh(out, 0.0, 6.0) if activation == "relu6" else out
    out = conv2d(input, weight, bias, stride, padding, dilation, groups)
    bounds = ACTIVATIONS[activation]
    if bounds is not None:
        low, high = bounds
        data = out.data
        if high is None:
            out.backend.xp.maximum(data, low, out=data)
        else:
            out.backend.xp.clip(data, low, high, out=data)
    return out
