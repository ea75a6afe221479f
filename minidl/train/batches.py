"""What the loop needs from a batch: (x, y) as Tensors on the model's device, and its number of samples."""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from minidl import dtypes
from minidl.nn.module import Module
from minidl.tensor import Tensor, from_numpy, tensor


def reference_parameter(model: Module) -> Tensor | None:
    """The model's first floating-point parameter or buffer: inputs follow its device and dtype."""
    for t in (*model.parameters(), *model.buffers()):
        if dtypes.is_floating(t.dtype):
            return t
    return None


def to_tensor(value: Any, like: Tensor | None) -> Tensor:
    """``value`` (a Tensor, a NumPy array, a number or nested lists) as a Tensor on ``like``'s device; floating
    arrays take ``like``'s dtype (float32 without ``like``), integer ones (labels) keep theirs."""
    if isinstance(value, Tensor):
        out = value
        if like is not None and dtypes.is_floating(out.dtype) and out.dtype != like.dtype:
            out = out.to(dtype=like.dtype)  # float32 batches into a float64 model, as arrays are cast
    else:
        array = np.asarray(value)
        if array.dtype == object:
            raise TypeError(f"a batch should hold Tensors or NumPy arrays, got {type(value).__name__}")
        if like is not None and np.issubdtype(array.dtype, np.floating):
            out = from_numpy(np.ascontiguousarray(array, dtype=like.dtype))
        else:
            out = tensor(array)
    if like is not None and out.device != like.device:
        out = out.to(like.device)
    return out


def split_batch(batch: Any, where: str) -> tuple[Any, Any]:
    """The (x, y) of a loader's item; ``where`` names the loader in the error."""
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return batch[0], batch[1]
    kind = f"a {type(batch).__name__} of {len(batch)}" if isinstance(batch, (tuple, list)) else type(batch).__name__
    raise TypeError(f"{where} should yield (x, y) pairs, got {kind}")


def batch_tensors(batch: Any, like: Tensor | None, where: str) -> tuple[Tensor, Tensor]:
    """(x, y) of a loader's item as Tensors ready for the model."""
    x, y = split_batch(batch, where)
    return to_tensor(x, like), to_tensor(y, like)


def batch_size(x: Tensor) -> int:
    """The number of samples in a batch: the size of the first dimension of x (N, ...)."""
    if x.ndim == 0:
        raise ValueError("a batch's x must have a batch dimension first (N, ...), got a 0-d tensor")
    return int(x.shape[0])


def input_batches(data: Any, batch_size: int, like: Tensor | None) -> Iterable[Tensor]:
    """The inputs of ``data`` batch by batch: slices of ``batch_size`` rows of an array or Tensor (N, ...), or
    the x of each (x, y) item (or each bare x) of a loader."""
    if isinstance(data, (Tensor, np.ndarray)):
        for start in range(0, len(data), batch_size):
            yield to_tensor(data[start : start + batch_size], like)
        return
    for item in data:
        x = item[0] if isinstance(item, (tuple, list)) else item
        yield to_tensor(x, like)
