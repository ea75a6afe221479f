"""Argument checks the ops share: a Tensor where one is needed, one dtype for an input and a layer's parameters.
Each names the op, what it expected, what it got, and the fix."""

from __future__ import annotations

from typing import Any

import numpy as np

from minidl import dtypes
from minidl.tensor import Tensor


def not_a_tensor(value: Any, op: str, name: str = "input") -> TypeError:
    """The error for a non-Tensor passed where ``op`` needs a Tensor: what was given, and the fix."""
    kind = type(value)
    got = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    if isinstance(value, np.ndarray):
        got += f" of shape {value.shape} and dtype {value.dtype}"
        fix = "wrap it with minidl.tensor(x) (a copy) or minidl.from_numpy(x) (shares its memory)"
    else:
        fix = "make one with minidl.tensor(x)"
    return TypeError(f"{op}: {name} must be a minidl.Tensor, got {got}; {fix}")


def expect_tensor(value: Any, op: str, name: str = "input") -> Tensor:
    """``value`` itself when it is a Tensor, else the TypeError of ``not_a_tensor``."""
    if isinstance(value, Tensor):
        return value
    raise not_a_tensor(value, op, name)


def dtype_mismatch(op: str, input_dtype: np.dtype, weight_dtype: np.dtype, weight: str = "weight") -> TypeError:
    """The error for an input whose dtype differs from a layer's parameters (float64 images into a float32 model,
    say), in one wording for every layer, naming both ways to fix it."""
    message = f"{op}: the input is {input_dtype.name} but the {weight} is {weight_dtype.name}: they need one dtype"
    if weight_dtype.kind != "f":
        return TypeError(f"{message}, and parameters must be floating point")
    cast = "x.float()" if weight_dtype == dtypes.float32 else "x.double()"
    if input_dtype.kind != "f":
        return TypeError(f"{message}; convert the input with {cast} (images: {cast} / 255)")
    model = "model.double()" if input_dtype == dtypes.float64 else "model.float()"
    return TypeError(
        f"{message}; convert the input with {cast}, or the model with {model} (model.to(minidl.{input_dtype.name}))"
    )
