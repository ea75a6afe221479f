"""The layers of ``minidl.nn``, one module per family; import them from ``minidl.nn``."""

from minidl.nn.layers.activation import (
    ELU,
    GELU,
    Hardtanh,
    LeakyReLU,
    LogSoftmax,
    ReLU,
    ReLU6,
    Sigmoid,
    Softmax,
    Tanh,
)
from minidl.nn.layers.conv import Conv2d
from minidl.nn.layers.dropout import Dropout
from minidl.nn.layers.flatten import Flatten
from minidl.nn.layers.linear import Identity, Linear
from minidl.nn.layers.loss import BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from minidl.nn.layers.normalization import BatchNorm1d, BatchNorm2d, LocalResponseNorm
from minidl.nn.layers.pooling import AdaptiveAvgPool2d, AvgPool2d, MaxPool2d

__all__ = [
    "ELU", "GELU", "AdaptiveAvgPool2d", "AvgPool2d", "BCEWithLogitsLoss", "BatchNorm1d", "BatchNorm2d", "Conv2d",
    "CrossEntropyLoss", "Dropout", "Flatten", "Hardtanh", "Identity", "LeakyReLU", "Linear", "LocalResponseNorm",
    "LogSoftmax", "MSELoss", "MaxPool2d", "NLLLoss", "ReLU", "ReLU6", "Sigmoid", "Softmax", "Tanh",
]  # fmt: skip
