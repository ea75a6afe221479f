"""Start every rank from one state: ``broadcast_parameters`` (a model's parameters and buffers) and
``broadcast_optimizer_state`` (an optimizer's moments, step counts and options), both from rank ``src``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from minidl.distributed.buckets import plan_buckets
from minidl.distributed.communicator import Communicator, check_src
from minidl.distributed.staging import mpi_buffer
from minidl.distributed.world import world
from minidl.nn.module import Module
from minidl.optim.optimizer import Optimizer
from minidl.tensor import Tensor


def _named_tensors(params: Any, where: str) -> list[tuple[str, Tensor]]:
    """(name, tensor) pairs of a Module (parameters, then buffers), a mapping (a state dict) or an iterable of
    pairs (``named_parameters()``)."""
    if isinstance(params, Module):
        return [*params.named_parameters(), *params.named_buffers()]
    if isinstance(params, Tensor):
        raise TypeError(f"{where}: expected a Module, a state dict or (name, tensor) pairs, got a single Tensor")
    items = list(params.items()) if isinstance(params, Mapping) else list(params)
    for item in items:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], Tensor)):
            raise TypeError(
                f"{where}: expected a Module, a state dict or (name, tensor) pairs such as named_parameters(), got "
                f"an item {type(item).__name__}"
            )
    return items


def _check_same_structure(comm: Communicator, named: list[tuple[str, Tensor]], src: int, where: str) -> None:
    """Raise unless this rank's tensors have the names, shapes and dtypes of rank ``src``'s (a mismatch would
    otherwise mix up tensors silently, or leave MPI waiting)."""
    mine = [(name, tuple(t.shape), t.data.dtype.name) for name, t in named]
    theirs = comm.broadcast_object(mine, src)
    if mine == theirs:
        return
    for i, (a, b) in enumerate(zip(mine, theirs)):
        if a != b:
            raise ValueError(
                f"{where}: rank {comm.rank} and rank {src} hold different models: entry {i} is {a} here and {b} on "
                f"rank {src}; build the same model on every rank"
            )
    raise ValueError(
        f"{where}: rank {comm.rank} holds {len(mine)} tensors, rank {src} holds {len(theirs)}; build the same model "
        "on every rank"
    )


def broadcast_parameters(params: Module | Mapping[str, Tensor] | Iterable[tuple[str, Tensor]], src: int = 0) -> None:
    """Copy rank ``src``'s parameters and buffers into every other rank's, in place (call it once after building
    the model, so that every rank starts from the same weights whatever its seed).

    params: a Module (its parameters and buffers), a state dict, or (name, tensor) pairs. Every rank must hold the
    same names, shapes and dtypes (checked first). Tensors of one dtype and device travel in one message.
    """
    named = _named_tensors(params, "broadcast_parameters")
    comm = world()
    src = check_src(src, comm.size, "broadcast_parameters")
    if comm.size == 1:
        return
    _check_same_structure(comm, named, src, "broadcast_parameters")
    for bucket in plan_buckets(t for _, t in named):
        flat = bucket.pack([t.data for t in bucket.tensors], bucket.empty())
        with mpi_buffer(flat, bucket.backend, comm, "broadcast_parameters") as buffer:
            comm.broadcast_(buffer, src)
        if comm.rank != src:
            for t, part in bucket.views(flat):
                t.data[...] = part
                t._version[0] += 1


@dataclass(frozen=True)
class _ArraySlot:
    """Where an array of an optimizer's state dict was: its place in the list of arrays, its shape and dtype."""

    index: int
    shape: tuple[int, ...]
    dtype: str


def _split_arrays(value: Any, arrays: list[np.ndarray]) -> Any:
    """``value`` (nested dicts, lists, tuples) with every Tensor or array moved to ``arrays`` (as host arrays) and
    replaced by its ``_ArraySlot``."""
    if isinstance(value, (Tensor, np.ndarray)):
        host = value.backend.to_numpy(value.data) if isinstance(value, Tensor) else value
        host = np.ascontiguousarray(host)
        arrays.append(host)
        return _ArraySlot(len(arrays) - 1, host.shape, host.dtype.str)
    if isinstance(value, dict):
        return type(value)((k, _split_arrays(v, arrays)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return type(value)(_split_arrays(v, arrays) for v in value)
    return value


def _slots(value: Any) -> list[_ArraySlot]:
    if isinstance(value, _ArraySlot):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _slots(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _slots(v)]
    return []


def _fill_arrays(value: Any, arrays: list[np.ndarray]) -> Any:
    """The inverse of ``_split_arrays``: every ``_ArraySlot`` replaced by its array."""
    if isinstance(value, _ArraySlot):
        return arrays[value.index]
    if isinstance(value, dict):
        return type(value)((k, _fill_arrays(v, arrays)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return type(value)(_fill_arrays(v, arrays) for v in value)
    return value


def broadcast_optimizer_state(optimizer: Optimizer, src: int = 0) -> None:
    """Give every rank's ``optimizer`` the state of rank ``src``'s: its per-parameter state (moments, step counts)
    and its groups' options (learning rates...), e.g. after rank ``src`` alone loaded a checkpoint.

    The state dict's structure and numbers travel pickled (they are small); its arrays travel as buffers, those of
    one dtype in one message. Every rank's optimizer must hold the same parameters (``load_state_dict`` checks).
    """
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"broadcast_optimizer_state: expected a minidl.optim optimizer, got {type(optimizer).__name__}")
    comm = world()
    src = check_src(src, comm.size, "broadcast_optimizer_state")
    if comm.size == 1:
        return
    arrays: list[np.ndarray] = []
    skeleton = _split_arrays(optimizer.state_dict(), arrays) if comm.rank == src else None
    skeleton = comm.broadcast_object(skeleton, src)
    slots = _slots(skeleton)
    if comm.rank != src:
        arrays = [np.empty(slot.shape, dtype=np.dtype(slot.dtype)) for slot in slots]
    by_dtype: dict[str, list[_ArraySlot]] = {}
    for slot in slots:
        by_dtype.setdefault(slot.dtype, []).append(slot)
    for dtype, group in by_dtype.items():
        sizes = [arrays[s.index].size for s in group]
        flat = np.empty(sum(sizes), dtype=np.dtype(dtype))
        if comm.rank == src:
            np.concatenate([arrays[s.index].reshape(-1) for s in group], out=flat)
        comm.broadcast_(flat, src)
        for slot, part in zip(group, np.split(flat, np.cumsum(sizes)[:-1])):
            arrays[slot.index] = part.reshape(slot.shape)
    if comm.rank != src:
        optimizer.load_state_dict(_fill_arrays(skeleton, arrays))
