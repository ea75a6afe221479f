"""The dtypes minidl supports, and PyTorch's rules for combining them.

A dtype is a ``numpy.dtype``; ``minidl.float32`` and friends are exported for convenience. Floating tensors are
float32 by default (float64 works everywhere, for checking); integer and bool tensors hold labels, indices and
masks and never require gradients. float16, complex, object and string arrays are refused.
"""

from __future__ import annotations

from typing import Any

import numpy as np

float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int8 = np.dtype(np.int8)
int16 = np.dtype(np.int16)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
uint8 = np.dtype(np.uint8)
bool_ = np.dtype(np.bool_)

DEFAULT_FLOAT = float32
FLOATING = (float32, float64)
SUPPORTED = (float32, float64, int8, int16, int32, int64, uint8, bool_)
_SUPPORTED_NAMES = ", ".join(d.name for d in SUPPORTED)


def as_dtype(dtype: Any) -> np.dtype:
    """Turn ``dtype`` (a numpy dtype, a type such as ``np.float64`` or ``float``, or a name) into a supported
    ``numpy.dtype``, or raise TypeError naming what was given and what is supported."""
    try:
        dt = np.dtype(dtype)
    except TypeError as err:
        raise TypeError(f"not a dtype: {dtype!r} (supported: {_SUPPORTED_NAMES})") from err
    if dt not in SUPPORTED:
        raise TypeError(f"unsupported dtype {dt.name} (supported: {_SUPPORTED_NAMES})")
    return dt


def is_floating(dtype: np.dtype) -> bool:
    """True for float32 and float64."""
    return dtype.kind == "f"


def promote(a: np.dtype, b: np.dtype) -> np.dtype:
    """The dtype of ``a op b`` for two tensors, as PyTorch decides it: floats win over integers (int64 with
    float32 gives float32, not float64 as NumPy would), the wider float wins, and integers promote as NumPy."""
    if a == b:
        return a
    if a.kind == "f" and b.kind == "f":
        return a if a.itemsize >= b.itemsize else b
    if a.kind == "f":
        return a
    if b.kind == "f":
        return b
    return np.promote_types(a, b)


def scalar_result(tensor_dtype: np.dtype, scalar: Any) -> np.dtype:
    """The dtype of ``tensor op scalar`` for a Python scalar: the scalar never widens the tensor's dtype, but a
    float scalar makes an integer tensor's result float32, and an int scalar makes a bool tensor's result int64."""
    if isinstance(scalar, bool):
        return tensor_dtype
    if isinstance(scalar, float):
        return tensor_dtype if tensor_dtype.kind == "f" else DEFAULT_FLOAT
    if tensor_dtype.kind == "b":
        return int64
    return tensor_dtype


def infer_dtype(array: np.ndarray, python_data: bool = False) -> np.dtype:
    """The dtype ``minidl.tensor`` gives to data that arrived without one, as PyTorch does: NumPy data keeps its
    dtype (float64 stays float64); Python data (numbers, nested lists), which NumPy reads as float64 or int64,
    gives float32 (the default float) or int64. uint16/uint32 become int64; unsupported dtypes are refused."""
    dt = array.dtype
    if python_data and dt == float64:
        return DEFAULT_FLOAT
    if dt in (np.dtype(np.uint16), np.dtype(np.uint32)):
        # No minidl dtype of their own; every value fits in int64.
        return int64
    return as_dtype(dt)
