"""Collectives on tensors (``all_reduce``, ``broadcast``, in place through MPI's buffer calls) and on small Python
objects (``broadcast_object``, ``allgather_object``, pickled). Every rank makes the same calls in the same order,
with tensors of the same shape and dtype; a plain single process gets its own data back."""

from __future__ import annotations

from typing import Any

from minidl import autograd
from minidl.distributed.staging import mpi_buffer
from minidl.distributed.world import world
from minidl.ops.checks import expect_tensor
from minidl.tensor import Tensor


def _writable(t: Any, op: str) -> Tensor:
    """``t`` checked to be a Tensor that may be overwritten in place (a leaf, or outside a recorded graph)."""
    t = expect_tensor(t, op, "tensor")
    if t.requires_grad and not t.is_leaf and autograd.is_grad_enabled():
        raise RuntimeError(
            f"{op}: the tensor was made by a recorded op and minidl does not record in-place ops; detach() it, or "
            "call under minidl.no_grad()"
        )
    return t


def all_reduce(tensor: Tensor, op: str = "sum") -> Tensor:
    """Replace ``tensor`` (any shape) on every rank, in place, by the element-wise ``op`` over the ranks' tensors:
    "sum", "mean" (floating point only), "max" or "min". Returns the tensor.

    A tensor on a GPU goes to MPI directly when the MPI is CUDA-aware, else through a host copy.
    """
    t = _writable(tensor, "all_reduce")
    with mpi_buffer(t.data, t.backend, world(), "all_reduce") as buffer:
        world().allreduce_(buffer, op)
    t._version[0] += 1
    return t


def broadcast(tensor: Tensor, src: int = 0) -> Tensor:
    """Copy rank ``src``'s ``tensor`` into ``tensor`` on every other rank, in place. Returns the tensor."""
    t = _writable(tensor, "broadcast")
    with mpi_buffer(t.data, t.backend, world(), "broadcast") as buffer:
        world().broadcast_(buffer, src)
    t._version[0] += 1
    return t


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """Rank ``src``'s ``obj`` on every rank (pickled: for small things such as settings or a structure, not for
    arrays, which ``broadcast`` sends as they are)."""
    return world().broadcast_object(obj, src)


def allgather_object(obj: Any) -> list[Any]:
    """The list of every rank's ``obj``, in rank order (pickled: for small things)."""
    return world().allgather_object(obj)
