"""Turning the operands of an op into tensors of one dtype, following PyTorch's type promotion."""

from __future__ import annotations

from typing import Any

import numpy as np

from minidl import dtypes
from minidl.ops.checks import expect_tensor
from minidl.ops.conversion import cast
from minidl.tensor import Tensor

_SCALARS = (bool, int, float)
_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}


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


def result_dtype(a: Tensor, b: Tensor) -> np.dtype:
    """The dtype of ``a op b``, by PyTorch's rules: the higher category wins (bool < integer < float); within
    the winning category a tensor with dims outranks a 0-d tensor (so float32 (n,) + float64 0-d is float32),
    and among equals the wider dtype wins (int64 + float32 is float32, not NumPy's float64)."""
    da, db = a.data.dtype, b.data.dtype
    if da == db:
        return da
    a_scalar, b_scalar = a.data.ndim == 0, b.data.ndim == 0
    if a_scalar != b_scalar:
        dims, zero = (b, a) if a_scalar else (a, b)
        if _CATEGORY[zero.data.dtype.kind] <= _CATEGORY[dims.data.dtype.kind]:
            return dims.data.dtype
        return zero.data.dtype
    return dtypes.promote(da, db)


def binary_operands(a: Any, b: Any, op: str) -> tuple[Tensor, Tensor]:
    """Both operands of ``a op b`` as tensors of one dtype, the one PyTorch would compute in (at least one of
    ``a`` and ``b`` must be a Tensor; the other may be a number or a NumPy array)."""
    if isinstance(a, Tensor):
        if isinstance(b, Tensor) and a.data.dtype is b.data.dtype:
            return a, b
        b = to_operand(b, a)
    else:
        a = to_operand(a, expect_tensor(b, op, "one operand"))
    if a.data.dtype == b.data.dtype:
        return a, b
    dt = result_dtype(a, b)
    return cast(a, dt), cast(b, dt)  # differentiable: autograd casts each gradient back


def floating(t: Tensor) -> Tensor:
    """``t`` itself when floating point, else ``t`` converted to float32 (as PyTorch does for exp, log, /...)."""
    if t.data.dtype.kind == "f":
        return t
    return _constant(t.data.astype(dtypes.DEFAULT_FLOAT), t._backend)


def shapes_error(op: str, *tensors: Tensor) -> ValueError:
    """The error for operands whose shapes cannot broadcast together."""
    shapes = " and ".join(str(tuple(t.shape)) for t in tensors)
    return ValueError(f"{op}: shapes {shapes} cannot be broadcast together")
