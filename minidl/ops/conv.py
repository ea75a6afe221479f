"""2-D convolution (cross-correlation, as in PyTorch), with three algorithms picked from the arguments:

- **depthwise** (groups == in_channels, one input channel per filter): direct loops, no im2col;
- **pointwise** (1×1 kernel, no padding, groups == 1): one matrix product per image, no im2col at all;
- **im2col + GEMM** for everything else: the patches of a chunk of images become columns and every group's
  filters multiply them in one batched matrix product. Chunks keep the column buffer near ``COLUMN_BUDGET``
  bytes (small enough to stay in cache between im2col and the GEMM, which measured fastest), and backward
  rebuilds the columns instead of keeping them, so memory stays near PyTorch's.
"""

from __future__ import annotations

from typing import Any

from minidl.autograd import Function
from minidl.ops.checks import dtype_mismatch, expect_tensor
from minidl.ops.window import check_window_fits, conv_padding, image_batch, pair
from minidl.tensor import Tensor
from minidl.text import plural

COLUMN_BUDGET = 2 * 2**20  # bytes of im2col columns per chunk: about one ResNet image, so the columns stay in cache


def _chunk(n: int, per_image_bytes: int) -> int:
    return max(1, min(n, COLUMN_BUDGET // max(per_image_bytes, 1)))


class Conv2dOp(Function):
    def forward(self, x, w, *bias, stride, padding, dilation, groups, algorithm):
        self.x, self.w, self.has_bias = x, w, bool(bias)
        self.stride, self.padding, self.dilation, self.groups, self.algorithm = (
            stride, padding, dilation, groups, algorithm,
        )  # fmt: skip
        kernels = self.backend.kernels
        n, _, h, width = x.shape
        cout, cg, kh, kw = w.shape
        if algorithm == "depthwise":
            out = kernels.depthwise_conv2d_forward(x, w, stride, padding, dilation)
        elif algorithm == "pointwise":
            x3 = self._pointwise_input(x)
            out = kernels.matmul(w.reshape(cout, cg), x3)
            out = out.reshape(n, cout, *self._out_hw)
        else:
            ho, wo = self._out_hw = _out_size((h, width), (kh, kw), stride, padding, dilation)
            k, length = cg * kh * kw, ho * wo
            w3 = w.reshape(groups, cout // groups, k)
            out = self.xp.empty((n, groups, cout // groups, length), dtype=x.dtype)
            step = _chunk(n, groups * k * length * x.itemsize)
            for start in range(0, n, step):
                stop = min(n, start + step)
                cols = kernels.im2col(x[start:stop], (kh, kw), stride, padding, dilation)
                out[start:stop] = kernels.matmul(w3, cols.reshape(stop - start, groups, k, length))
            out = out.reshape(n, cout, ho, wo)
        if bias:
            out += bias[0].reshape(1, cout, 1, 1)
        return out

    def _pointwise_input(self, x):
        sh, sw = self.stride
        if (sh, sw) != (1, 1):
            x = x[:, :, ::sh, ::sw]
        self._out_hw = x.shape[2:]
        return self.xp.reshape(x, (x.shape[0], x.shape[1], -1))

    def backward(self, g):
        xp, kernels = self.xp, self.backend.kernels
        x, w = self.x, self.w
        need_x, need_w = self.needs_input_grad[:2]
        gb = xp.sum(g, axis=(0, 2, 3)) if self.has_bias and self.needs_input_grad[2] else None
        n, c = x.shape[:2]
        cout, cg = w.shape[:2]
        gx = gw = None
        if self.algorithm == "depthwise":
            if need_x:
                gx = kernels.depthwise_conv2d_backward_input(g, w, x.shape, self.stride, self.padding, self.dilation)
            if need_w:
                gw = kernels.depthwise_conv2d_backward_weight(g, x, w.shape, self.stride, self.padding, self.dilation)
        elif self.algorithm == "pointwise":
            g3 = xp.reshape(g, (n, cout, -1))
            if need_x:
                gx3 = kernels.matmul(w.reshape(cout, cg).T, g3)
                sh, sw = self.stride
                if (sh, sw) == (1, 1):
                    gx = gx3.reshape(x.shape)
                else:
                    gx = xp.zeros(x.shape, dtype=g.dtype)
                    gx[:, :, ::sh, ::sw] = gx3.reshape(n, c, *self._out_hw)
            if need_w:
                x3 = self._pointwise_input(x)
                gw = xp.sum(kernels.matmul(g3, xp.swapaxes(x3, 1, 2)), axis=0).reshape(w.shape)
        else:
            gx, gw = self._im2col_backward(g, need_x, need_w)
        return (gx, gw, gb) if self.has_bias else (gx, gw)

    def _im2col_backward(self, g, need_x, need_w):
        xp, kernels, x, w, groups = self.xp, self.backend.kernels, self.x, self.w, self.groups
        n = x.shape[0]
        cout, cg, kh, kw = w.shape
        ho, wo = self._out_hw
        k, length = cg * kh * kw, ho * wo
        args = ((kh, kw), self.stride, self.padding, self.dilation)
        g4 = xp.reshape(g, (n, groups, cout // groups, length))
        w_t = xp.swapaxes(w.reshape(groups, cout // groups, k), 1, 2)  # (G, K, Cout/G)
        gx = xp.empty(x.shape, dtype=g.dtype) if need_x else None
        gw = xp.zeros((groups, cout // groups, k), dtype=g.dtype) if need_w else None
        step = _chunk(n, groups * k * length * x.itemsize)
        for start in range(0, n, step):
            stop = min(n, start + step)
            g_chunk = g4[start:stop]
            if need_w:
                cols = kernels.im2col(x[start:stop], *args).reshape(stop - start, groups, k, length)
                gw += xp.sum(kernels.matmul(g_chunk, xp.swapaxes(cols, -1, -2)), axis=0)
            if need_x:
                gcols = kernels.matmul(w_t, g_chunk).reshape(stop - start, groups * k, length)
                gx[start:stop] = kernels.col2im(gcols, (stop - start, *x.shape[1:]), *args)
        return gx, (gw.reshape(w.shape) if need_w else None)


def _out_size(hw, kernel, stride, padding, dilation) -> tuple[int, int]:
    (h, w), (kh, kw), (sh, sw), (pt, pb, pl, pr), (dh, dw) = hw, kernel, stride, padding, dilation
    return (h + pt + pb - dh * (kh - 1) - 1) // sh + 1, (w + pl + pr - dw * (kw - 1) - 1) // sw + 1


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
    if groups == c and cg == 1 and groups > 1:
        algorithm = "depthwise"
    elif (kh, kw) == (1, 1) and pads == (0, 0, 0, 0) and groups == 1:
        algorithm = "pointwise"
    else:
        algorithm = "im2col"
    out = Conv2dOp.apply(*tensors, stride=stride, padding=pads, dilation=dilation, groups=groups, algorithm=algorithm)
    return out.squeeze(0) if unbatched else out
