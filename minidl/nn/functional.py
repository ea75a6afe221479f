"""The functional API, under ``torch.nn.functional``'s names and argument order."""

from minidl.ops.activation import elu, gelu, leaky_relu, log_softmax, relu, sigmoid, softmax, tanh
from minidl.ops.shape import pad

__all__ = ["elu", "gelu", "leaky_relu", "log_softmax", "pad", "relu", "sigmoid", "softmax", "tanh"]
