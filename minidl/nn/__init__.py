"""Neural-network building blocks: ``Module`` and ``Parameter``, the containers, the layers, the losses,
``init`` (weight initialisation) and ``functional`` (the ops under ``torch.nn.functional``'s names).

Names, argument order, defaults, default initialisation and state-dict keys follow PyTorch's, so a model
written for ``torch.nn`` reads the same here and weights can move between the two.
"""

from minidl.nn import functional, init
from minidl.nn.containers import ModuleDict, ModuleList, Sequential
from minidl.nn.layers import (
    ELU,
    GELU,
    AdaptiveAvgPool2d,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    BCEWithLogitsLoss,
    Conv2d,
    CrossEntropyLoss,
    Dropout,
    Flatten,
    Hardtanh,
    Identity,
    LeakyReLU,
    Linear,
    LocalResponseNorm,
    LogSoftmax,
    MaxPool2d,
    MSELoss,
    NLLLoss,
    ReLU,
    ReLU6,
    Sigmoid,
    Softmax,
    Tanh,
)
from minidl.nn.module import IncompatibleKeys, Module, RemovableHandle
from minidl.nn.parameter import Parameter
from minidl.nn.summary import LayerSummary, ModelSummary, summary

__all__ = [
    "ELU", "GELU", "AdaptiveAvgPool2d", "AvgPool2d", "BCEWithLogitsLoss", "BatchNorm1d", "BatchNorm2d", "Conv2d",
    "CrossEntropyLoss", "Dropout", "Flatten", "Hardtanh", "Identity", "IncompatibleKeys", "LayerSummary",
    "LeakyReLU", "Linear", "LocalResponseNorm", "LogSoftmax", "MSELoss", "MaxPool2d", "ModelSummary", "Module",
    "ModuleDict", "ModuleList", "NLLLoss", "Parameter", "ReLU", "ReLU6", "RemovableHandle", "Sequential", "Sigmoid",
    "Softmax", "Tanh",
    "functional", "init", "summary",
]  # fmt: skip
