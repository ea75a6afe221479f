"""Depthwise convolution (groups == in_channels), directly, without im2col.

x: (N, C, H, W) with C >= 1; weight: (C * m, 1, kh, kw) for a channel multiplier m >= 1 (output channel o reads
input channel o // m); ``stride``, ``dilation``: (height, width); ``padding``: (top, bottom, left, right) of
zeros; output (N, C * m, Ho, Wo) with the sizes of ``conv.conv_output_size``, both >= 1 (the rules of
``conv.check_conv_args``). Arrays are float32 or float64 and may mix: the result has the dtype of x (forward) or
grad_out (backward).

The checks of these rules live here, once (``check_depthwise_*_args``); every implementation calls them before it
touches memory.
"""

from __future__ import annotations

import numpy as np
from minidl_kernels.reference.arguments import float_array_shape, int_tuple, show
from minidl_kernels.reference.conv import check_conv_args, conv_output_size


def _check_geometry(x_shape, weight_shape, stride, padding, dilation, what: str) -> tuple[int, int, int]:
    """(C * m, Ho, Wo) for an x of ``x_shape`` and a weight of ``weight_shape`` (both checked here)."""
    oc, one, kh, kw = int_tuple(weight_shape, 4, 0, "weight's shape (C * m, 1, kh, kw)", what)
    ho, wo = check_conv_args(x_shape, (kh, kw), stride, padding, dilation, what)
    c = x_shape[1]
    if one != 1 or c < 1 or oc < 1 or oc % c != 0:
        raise ValueError(
            f"{what}: a weight (C * m, 1, kh, kw) with C = {c} >= 1 and m >= 1 expected, got {show(weight_shape)}"
        )
    return oc, ho, wo


def _check_grad_out(grad_out, expected: tuple[int, ...], what: str) -> None:
    shape = float_array_shape(grad_out, "grad_out", "(N, C * m, Ho, Wo)", what)
    if shape != expected:
        raise ValueError(f"{what}: grad_out of shape {show(expected)} (N, C * m, Ho, Wo) expected, got {show(shape)}")


def check_depthwise_forward_args(x, weight, stride, padding, dilation) -> None:
    """x a float (N, C, H, W) array, weight a float (C * m, 1, kh, kw) one, the geometry of the module docstring."""
    what = "depthwise_conv2d_forward"
    x_shape = float_array_shape(x, "x", "(N, C, H, W)", what)
    weight_shape = float_array_shape(weight, "weight", "(C * m, 1, kh, kw)", what)
    _check_geometry(x_shape, weight_shape, stride, padding, dilation, what)


def check_depthwise_backward_input_args(grad_out, weight, x_shape, stride, padding, dilation) -> None:
    """grad_out the float (N, C * m, Ho, Wo) array of the forward pass over an x of ``x_shape`` with ``weight``."""
    what = "depthwise_conv2d_backward_input"
    weight_shape = float_array_shape(weight, "weight", "(C * m, 1, kh, kw)", what)
    oc, ho, wo = _check_geometry(x_shape, weight_shape, stride, padding, dilation, what)
    _check_grad_out(grad_out, (x_shape[0], oc, ho, wo), what)


def check_depthwise_backward_weight_args(grad_out, x, weight_shape, stride, padding, dilation) -> None:
    """grad_out the float (N, C * m, Ho, Wo) array of the forward pass over x with a weight of ``weight_shape``."""
    what = "depthwise_conv2d_backward_weight"
    x_shape = float_array_shape(x, "x", "(N, C, H, W)", what)
    oc, ho, wo = _check_geometry(x_shape, weight_shape, stride, padding, dilation, what)
    _check_grad_out(grad_out, (x_shape[0], oc, ho, wo), what)


def _taps(shape_hw, kernel_size, stride, padding, dilation):
    """For each kernel tap (i, j): the slices of the padded input that line up with the output grid."""
    (kh, kw), (sh, sw), (dh, dw) = kernel_size, stride, dilation
    ho, wo = conv_output_size(shape_hw, kernel_size, stride, padding, dilation)
    for i in range(kh):
        for j in range(kw):
            yield i, j, (slice(i * dh, i * dh + sh * (ho - 1) + 1, sh), slice(j * dw, j * dw + sw * (wo - 1) + 1, sw))


def _pad(x, padding):
    pt, pb, pl, pr = padding
    return np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))


def depthwise_conv2d_forward(
    x: np.ndarray,
    weight: np.ndarray,
    stride: tuple[int, int],
    padding: tuple[int, int, int, int],
    dilation: tuple[int, int],
) -> np.ndarray:
    """x: (N, C, H, W), weight: (C * m, 1, kh, kw) -> (N, C * m, Ho, Wo)."""
    check_depthwise_forward_args(x, weight, stride, padding, dilation)
    n, c, h, w = x.shape
    oc, _, kh, kw = weight.shape
    m = oc // c
    ho, wo = conv_output_size((h, w), (kh, kw), stride, padding, dilation)
    src = np.repeat(_pad(x, padding), m, axis=1)  # (N, C * m, Hp, Wp): channel o holds input channel o // m
    out = np.zeros((n, oc, ho, wo), dtype=x.dtype)
    for i, j, (rows, cols) in _taps((h, w), (kh, kw), stride, padding, dilation):
        out += weight[None, :, 0, i, j, None, None] * src[:, :, rows, cols]
    return out


def depthwise_conv2d_backward_input(
    grad_out: np.ndarray,
    weight: np.ndarray,
    x_shape: tuple[int, int, int, int],
    stride: tuple[int, int],
    padding: tuple[int, int, int, int],
    dilation: tuple[int, int],
) -> np.ndarray:
    """grad_out: (N, C * m, Ho, Wo), weight: (C * m, 1, kh, kw) -> dx: (N, C, H, W)."""
    check_depthwise_backward_input_args(grad_out, weight, x_shape, stride, padding, dilation)
    n, c, h, w = x_shape
    oc, _, kh, kw = weight.shape
    m = oc // c
    pt, pb, pl, pr = padding
    padded = np.zeros((n, oc, h + pt + pb, w + pl + pr), dtype=grad_out.dtype)
    for i, j, (rows, cols) in _taps((h, w), (kh, kw), stride, padding, dilation):
        padded[:, :, rows, cols] += weight[None, :, 0, i, j, None, None] * grad_out
    summed = padded.reshape(n, c, m, *padded.shape[2:]).sum(axis=2)  # the m output channels of each input
    return np.ascontiguousarray(summed[:, :, pt : pt + h, pl : pl + w])


def depthwise_conv2d_backward_weight(
    grad_out: np.ndarray,
    x: np.ndarray,
    weight_shape: tuple[int, int, int, int],
    stride: tuple[int, int],
    padding: tuple[int, int, int, int],
    dilation: tuple[int, int],
) -> np.ndarray:
    """grad_out: (N, C * m, Ho, Wo), x: (N, C, H, W) -> dweight: (C * m, 1, kh, kw)."""
    check_depthwise_backward_weight_args(grad_out, x, weight_shape, stride, padding, dilation)
    _, c, h, w = x.shape
    oc, _, kh, kw = weight_shape
    src = np.repeat(_pad(x, padding), oc // c, axis=1)
    dweight = np.zeros(weight_shape, dtype=grad_out.dtype)
    for i, j, (rows, cols) in _taps((h, w), (kh, kw), stride, padding, dilation):
        dweight[:, 0, i, j] = np.einsum("nohw,nohw->o", grad_out, src[:, :, rows, cols])
    return dweight
