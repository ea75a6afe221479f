"""Plain NumPy reference kernels: slow, obvious, and the truth every compiled kernel is tested against.
One module per family; every kernel is importable from here."""

from minidl_kernels.reference.conv import col2im, conv_output_size, gemm, im2col, matmul
from minidl_kernels.reference.depthwise import (
    depthwise_conv2d_backward_input,
    depthwise_conv2d_backward_weight,
    depthwise_conv2d_forward,
)
from minidl_kernels.reference.mask import keep_where
from minidl_kernels.reference.nms import nms
from minidl_kernels.reference.norm import batch_norm_backward, batch_norm_forward
from minidl_kernels.reference.pool import (
    avg_pool2d_backward,
    avg_pool2d_forward,
    max_pool2d_backward,
    max_pool2d_forward,
)
from minidl_kernels.reference.random import dropout_mask
from minidl_kernels.reference.scatter import check_scatter_args, scatter_add, scatter_index_error
from minidl_kernels.reference.softmax import log_softmax
from minidl_kernels.reference.special import erf
from minidl_kernels.reference.winograd import (
    winograd_filter_transform,
    winograd_filter_transform_adjoint,
    winograd_input_transform,
    winograd_output_transform,
    winograd_output_transform_adjoint,
)

__all__ = [
    "avg_pool2d_backward", "avg_pool2d_forward", "batch_norm_backward", "batch_norm_forward", "check_scatter_args",
    "col2im", "conv_output_size", "depthwise_conv2d_backward_input", "depthwise_conv2d_backward_weight",
    "depthwise_conv2d_forward", "dropout_mask", "erf", "gemm", "im2col", "keep_where", "log_softmax", "matmul",
    "max_pool2d_backward", "max_pool2d_forward", "nms", "scatter_add", "scatter_index_error",
    "winograd_filter_transform", "winograd_filter_transform_adjoint", "winograd_input_transform",
    "winograd_output_transform", "winograd_output_transform_adjoint",
]  # fmt: skip
