"""Turning the operands of an op into tensors of one dtype, following PyTorch's type promotion."""

from __future__ import annotations

from typing import Any

import numpy as np

from minidl import dtypes
from minidl.tensor import Tensor

_SCALARS = (bool, int, float)


def _constant(array: Any, backend: Any) -> Tensor:
    return Tensor._make(array, backend)


def to_operand(value: Any, like: Tensor) -> Tensor:
    """``value`` (a Tensor, a Python/NumPy number or a NumPy array) as a tensor on ``like``'s device."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, _SCALARS):
        dt = dtypes.scalar_result(like.data.dtype, value)
        return _constant(like._backend.xp.asarray(value, dtype=dt), like._backend)
    if isinstance(value, np.ndarray):
        dtypes.as_dtype(value.dtype)
        return _constant(like._backend.from_numpy(value), like._backend)
    raise TypeError(f"unsupported operand of type {type(value).__name__} (expected a Tensor, a number or an ndarray)")


def cast_constant(t: Tensor, dtype: np.dtype) -> Tensor:
    """``t`` converted to ``dtype`` when it is an integer/bool tensor (which never requires grad). Floats are left
    alone: mixing float32 and float64 computes in float64, and autograd casts each gradient back."""
    if t.data.dtype == dtype or (t.data.dtype.kind == "f" and dtype.kind == "f"):
        return t
    return _constant(t.data.astype(dtype), t._backend)


def binary_operands(a: Any, b: Any) -> tuple[Tensor, Tensor]:
    """Both operands of ``a op b`` as tensors whose dtypes combine as PyTorch's would (at least one is a Tensor)."""
    if isinstance(a, Tensor):
        if isinstance(b, Tensor) and a.data.dtype is b.data.dtype:
            return a, b
        b = to_operand(b, a)
    else:
        a = to_operand(a, b)
    da, db = a.data.dtype, b.data.dtype
    if da == db:
        return a, b
    dt = dtypes.promote(da, db)
    return cast_constant(a, dt), cast_constant(b, dt)


def floating(t: Tensor) -> Tensor:
    """``t`` itself when floating point, else ``t`` converted to float32 (as PyTorch does for exp, log, /...)."""
    if t.data.dtype.kind == "f":
        return t
    return _constant(t.data.astype(dtypes.DEFAULT_FLOAT), t._backend)


def shapes_error(op: str, *tensors: Tensor) -> ValueError:
    """The error for operands whose shapes cannot broadcast together."""
    shapes = " and ".join(str(tuple(t.shape)) for t in tensors)
    return ValueError(f"{op}: shapes {shapes} cannot be broadcast together")
