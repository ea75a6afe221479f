"""The building blocks of every kernel family's argument checks: integer tuples (kernel sizes, strides, paddings,
shapes), array ranks and float dtypes. Each family's module (``conv``, ``pool``, ``depthwise`` ...) composes its
own checks from these, once, and every implementation of its kernels calls them before touching memory.

Errors are TypeError (not an integer, not an array, wrong dtype) or ValueError (wrong length, rank, size or
value), with a message ``"<kernel>: <what was expected>, got <what was given>"``. The checks read shapes and
dtypes only (O(1)), never the data; they use nothing but ``.shape`` and ``.dtype``, so they serve any array type.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def show(values: Any) -> str:
    """``values`` as a message shows it: a sequence as a tuple of plain numbers (no ``np.int64(...)``)."""
    if isinstance(values, (tuple, list, np.ndarray)):
        return "(" + ", ".join(str(v) for v in values) + ("," if len(values) == 1 else "") + ")"
    return repr(values)


def _is_integer(value: Any) -> bool:
    return not isinstance(value, (bool, np.bool_)) and hasattr(type(value), "__index__")


def int_tuple(values: Any, length: int, minimum: int, name: str, what: str) -> tuple[int, ...]:
    """``values`` (a sequence of ``length`` integers, each >= ``minimum``) as a tuple of Python ints."""
    if type(values) is tuple and len(values) == length and _plain_ints_from(values, minimum):
        return values
    try:
        items = tuple(values)
    except TypeError:
        raise TypeError(_int_tuple_message(values, length, minimum, name, what)) from None
    if not all(_is_integer(v) for v in items):
        raise TypeError(_int_tuple_message(values, length, minimum, name, what))
    ints = tuple(operator.index(v) for v in items)
    if len(ints) != length or any(v < minimum for v in ints):
        raise ValueError(_int_tuple_message(values, length, minimum, name, what))
    return ints


def _plain_ints_from(values: tuple, minimum: int) -> bool:
    """Whether every value is a Python int (not a bool) >= ``minimum``: the common case, checked in well under a
    microsecond (the general path, for NumPy integers and lists, costs several)."""
    for v in values:
        if type(v) is not int or v < minimum:
            return False
    return True


def _int_tuple_message(values: Any, length: int, minimum: int, name: str, what: str) -> str:
    return f"{what}: {name} must be {length} integers >= {minimum}, got {show(values)}"


def nchw_shape(shape: Any, name: str, what: str) -> tuple[int, int, int, int]:
    """An (N, C, H, W) shape given as a tuple (``x_shape``): four integers >= 0."""
    n, c, h, w = int_tuple(shape, 4, 0, f"{name} (N, C, H, W)", what)
    return n, c, h, w


def positive_int(value: Any, name: str, what: str) -> int:
    """``value``, an integer >= 1, as a Python int."""
    if not _is_integer(value):
        raise TypeError(f"{what}: {name} must be an integer >= 1, got {value!r}")
    if operator.index(value) < 1:
        raise ValueError(f"{what}: {name} must be an integer >= 1, got {value!r}")
    return operator.index(value)


def float_dtype(array: Any, name: str, what: str) -> np.dtype:
    """The dtype of ``array``, which must be a float32 or float64 array."""
    dtype = getattr(array, "dtype", None)
    if not isinstance(dtype, np.dtype) or dtype not in FLOATS:
        given = dtype if isinstance(dtype, np.dtype) else type(array).__name__
        raise TypeError(f"{what}: {name} must be a float32 or float64 array, got {given}")
    return dtype


def shape_of(array: Any, name: str, what: str) -> tuple[int, ...]:
    """The shape of ``array``, which must be an array (anything with ``.shape`` and ``.dtype``)."""
    shape = getattr(array, "shape", None)
    if shape is None or not hasattr(array, "dtype"):
        raise TypeError(f"{what}: {name} must be an array, got {type(array).__name__}")
    return tuple(shape)


def float_array_shape(array: Any, name: str, layout: str, what: str) -> tuple[int, ...]:
    """The shape of ``array``, which must be a float32 or float64 array with the dims ``layout`` names, e.g.
    "(N, C, H, W)"."""
    shape = shape_of(array, name, what)
    if len(shape) != layout.count(",") + 1:
        raise ValueError(f"{what}: {name} must be {layout.count(',') + 1}-D {layout}, got shape {show(shape)}")
    float_dtype(array, name, what)
    return shape
