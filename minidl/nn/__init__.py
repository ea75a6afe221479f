"""Neural-network building blocks: ``Module`` and ``Parameter``, the containers, the layers, the losses,
``init`` (weight initialisation) and ``functional`` (the ops under ``torch.nn.functional``'s names).

Names, argument order, defaults, default initialisation and state-dict keys follow PyTorch's, so a model
written for ``torch.nn`` reads the same here and weights can move between the two.

``nn.SyncBatchNorm`` is ``minidl.distributed.SyncBatchNorm``: it lives there, in the only layer that knows there are
several processes, and is looked up on first use (an import here would be circular: minidl.distributed builds on
minidl.nn).
"""

from typing import Any

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
    "Softmax", "SyncBatchNorm", "Tanh",
    "functional", "init", "summary",
]  # fmt: skip


def __getattr__(name: str) -> Any:
    if name == "SyncBatchNorm":
        from minidl.distributed.sync_batchnorm import SyncBatchNorm

        return SyncBatchNorm
    raise AttributeError(f"module 'minidl.nn' has no attribute {name!r}")
