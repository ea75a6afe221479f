"""The functional API, under ``torch.nn.functional``'s names and argument order."""

from minidl.ops.activation import (
    elu,
    gelu,
    hardtanh,
    leaky_relu,
    log_softmax,
    relu,
    relu6,
    sigmoid,
    softmax,
    tanh,
)
from minidl.ops.conv import conv2d
from minidl.ops.dropout import dropout
from minidl.ops.loss import binary_cross_entropy_with_logits, cross_entropy, mse_loss, nll_loss
from minidl.ops.matmul import linear
from minidl.ops.norm import batch_norm, local_response_norm
from minidl.ops.pool import adaptive_avg_pool2d, avg_pool2d, max_pool2d
from minidl.ops.shape import flatten, pad

__all__ = [
    "adaptive_avg_pool2d", "avg_pool2d", "batch_norm", "binary_cross_entropy_with_logits", "conv2d",
    "cross_entropy", "dropout", "elu", "flatten", "gelu", "hardtanh", "leaky_relu", "linear", "local_response_norm",
    "log_softmax", "max_pool2d", "mse_loss", "nll_loss", "pad", "relu", "relu6", "sigmoid", "softmax", "tanh",
]  # fmt: skip
