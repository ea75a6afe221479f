"""Depthwise convolution (groups == in_channels), directly, without im2col.

x: (N, C, H, W); weight: (C * m, 1, kh, kw) for a channel multiplier m >= 1 (output channel o reads input
channel o // m); ``stride``, ``dilation``: (height, width); ``padding``: (top, bottom, left, right) of zeros;
output (N, C * m, Ho, Wo) with the sizes of ``conv.conv_output_size``.
"""

from __future__ import annotations

import numpy as np
from minidl_kernels.reference.conv import conv_output_size


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
    _, c, h, w = x.shape
    oc, _, kh, kw = weight_shape
    src = np.repeat(_pad(x, padding), oc // c, axis=1)
    dweight = np.zeros(weight_shape, dtype=grad_out.dtype)
    for i, j, (rows, cols) in _taps((h, w), (kh, kw), stride, padding, dilation):
        dweight[:, 0, i, j] = np.einsum("nohw,nohw->o", grad_out, src[:, :, rows, cols])
    return dweight
