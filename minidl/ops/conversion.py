"""Conversions that keep the graph: dtype casts, copies and device transfers."""

from __future__ import annotations

from typing import Any

from minidl import dtypes
from minidl.autograd import Function
from minidl.ops.checks import expect_tensor
from minidl.tensor import Tensor


class CastOp(Function):
    save_inputs = False

    def forward(self, a, dtype):
        return a.astype(dtype)

    def backward(self, g):
        return (g,)  # autograd casts it back to the input's dtype


def cast(a: Tensor, dtype: Any) -> Tensor:
    """``a`` converted to ``dtype`` (a new tensor, or ``a`` itself when the dtype already matches)."""
    dtype = dtypes.as_dtype(dtype)
    if expect_tensor(a, "cast").data.dtype == dtype:
        return a
    if a._requires_grad and not dtypes.is_floating(dtype):
        # The result cannot carry a gradient: detach it, as PyTorch does.
        return Tensor._make(a.data.astype(dtype), a._backend)
    return CastOp.apply(a, dtype=dtype)


class CloneOp(Function):
    save_inputs = False

    def forward(self, a):
        return self.xp.array(a, copy=True, order="C")

    def backward(self, g):
        return (g,)


def clone(a: Tensor) -> Tensor:
    """A C-contiguous copy of ``a`` with its own memory; differentiable."""
    return CloneOp.apply(expect_tensor(a, "clone"))


class ToDeviceOp(Function):
    save_inputs = False

    def forward(self, a, target):
        self.source = self.backend
        self.backend = target
        return target.from_numpy(self.source.to_numpy(a))

    def backward(self, g):
        return (self.source.from_numpy(self.backend.to_numpy(g)),)


def to_device(a: Tensor, target: Any) -> Tensor:
    """``a`` copied to the device of backend ``target``; differentiable (the gradient travels back)."""
    return ToDeviceOp.apply(expect_tensor(a, "to_device"), target=target)
