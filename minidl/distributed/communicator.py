"""The two worlds minidl.distributed runs in, behind one interface: ``MPICommunicator`` (mpi4py, one process per
rank) and ``SingleProcess`` (plain ``python``: one rank, no MPI).

They move raw arrays that are ready for MPI (C-contiguous, writeable; on the host unless the MPI is CUDA-aware):
``minidl.distributed.staging`` turns a tensor's array into such a buffer. Arrays always go through the
buffer-based calls (``Allreduce``, ``Bcast``, ``Allgather``), never through pickle; only small Python objects
(structures, generator states) use the pickle-based ``bcast``/``allgather``.
"""

from __future__ import annotations

import ctypes
import os
import sys
from abc import ABC, abstractmethod
from typing import Any

import numpy as np

REDUCE_OPS = ("sum", "mean", "max", "min")


def check_op(op: Any, dtype: np.dtype, where: str) -> str:
    """``op`` itself when it is one of ``REDUCE_OPS`` and fits ``dtype`` (a mean needs floating point), else the
    error naming what would work."""
    if op not in REDUCE_OPS:
        raise ValueError(f"{where}: op must be one of {', '.join(map(repr, REDUCE_OPS))}, got {op!r}")
    if op == "mean" and np.dtype(dtype).kind != "f":
        raise TypeError(f"{where}: op='mean' needs a floating-point tensor, got {np.dtype(dtype).name}; use op='sum'")
    return op


def check_src(src: Any, size: int, where: str) -> int:
    """``src`` as an int when it is a rank of a world of ``size`` ranks, else a ValueError."""
    if isinstance(src, bool) or not isinstance(src, (int, np.integer)) or not 0 <= src < size:
        raise ValueError(f"{where}: src must be a rank from 0 to {size - 1} (the world has {size}), got {src!r}")
    return int(src)


class Communicator(ABC):
    """The world of processes: this process's ``rank`` among ``size``, its ``local_rank`` among the ``local_size``
    ranks on its machine, and the collectives on buffers (every rank calls each one, in the same order, with
    buffers of the same shape and dtype).

    cuda_aware: whether the MPI reads and writes GPU memory itself (else device arrays are staged on the host).
    """

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1
    cuda_aware: bool = False

    @abstractmethod
    def allreduce_(self, buffer: Any, op: str) -> None:
        """Replace ``buffer`` on every rank by the element-wise ``op`` ("sum", "mean", "max", "min") over ranks."""

    @abstractmethod
    def broadcast_(self, buffer: Any, src: int) -> None:
        """Copy rank ``src``'s ``buffer`` into every rank's ``buffer``."""

    @abstractmethod
    def allgather(self, buffer: np.ndarray) -> np.ndarray:
        """Every rank's host ``buffer`` (shape S), stacked in rank order: (size, *S)."""

    @abstractmethod
    def broadcast_object(self, obj: Any, src: int) -> Any:
        """Rank ``src``'s ``obj`` (a small picklable object), returned on every rank."""

    @abstractmethod
    def allgather_object(self, obj: Any) -> list[Any]:
        """Every rank's ``obj`` (small, picklable), in rank order."""

    @abstractmethod
    def barrier(self) -> None:
        """Wait until every rank has called ``barrier``."""


class SingleProcess(Communicator):
    """A world of one rank (plain ``python``): every collective leaves its data as it is."""

    def allreduce_(self, buffer: Any, op: str) -> None:
        check_op(op, buffer.dtype, "all_reduce")  # the reduction over one rank is the rank's own value

    def broadcast_(self, buffer: Any, src: int) -> None:
        check_src(src, 1, "broadcast")

    def allgather(self, buffer: np.ndarray) -> np.ndarray:
        return np.array(buffer, copy=True)[None]

    def broadcast_object(self, obj: Any, src: int) -> Any:
        check_src(src, 1, "broadcast_object")
        return obj

    def allgather_object(self, obj: Any) -> list[Any]:
        return [obj]

    def barrier(self) -> None:
        pass

    def __repr__(self) -> str:
        return "SingleProcess(rank 0 of 1)"


class MPICommunicator(Communicator):
    """A world of MPI ranks through mpi4py: a duplicate of ``MPI.COMM_WORLD`` (so that minidl's messages never
    mix with the script's own), and a communicator of the ranks sharing this machine for ``local_rank``."""

    def __init__(self) -> None:
        from mpi4py import MPI  # initialises MPI (mpi4py calls MPI_Init_thread on import)

        self.MPI = MPI
        self.comm = MPI.COMM_WORLD.Dup()
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        node = self.comm.Split_type(MPI.COMM_TYPE_SHARED)
        self.local_rank, self.local_size = node.Get_rank(), node.Get_size()
        node.Free()
        self.cuda_aware = cuda_aware_mpi()
        self._ops = {"sum": MPI.SUM, "mean": MPI.SUM, "max": MPI.MAX, "min": MPI.MIN}

    def allreduce_(self, buffer: Any, op: str) -> None:
        check_op(op, buffer.dtype, "all_reduce")
        self.comm.Allreduce(self.MPI.IN_PLACE, buffer, op=self._ops[op])
        if op == "mean":
            buffer /= self.size

    def broadcast_(self, buffer: Any, src: int) -> None:
        self.comm.Bcast(buffer, root=check_src(src, self.size, "broadcast"))

    def allgather(self, buffer: np.ndarray) -> np.ndarray:
        out = np.empty((self.size, *buffer.shape), dtype=buffer.dtype)
        self.comm.Allgather(np.ascontiguousarray(buffer), out)
        return out

    def broadcast_object(self, obj: Any, src: int) -> Any:
        return self.comm.bcast(obj, root=check_src(src, self.size, "broadcast_object"))

    def allgather_object(self, obj: Any) -> list[Any]:
        return self.comm.allgather(obj)

    def barrier(self) -> None:
        self.comm.Barrier()

    def abort(self, code: int = 1) -> None:
        """End every rank of the job (``MPI_Abort``)."""
        self.comm.Abort(code)

    def __repr__(self) -> str:
        return f"MPICommunicator(rank {self.rank} of {self.size}, local rank {self.local_rank} of {self.local_size})"


def cuda_aware_mpi() -> bool:
    """Whether the MPI library reads and writes CUDA device memory itself.

    ``MINIDL_MPI_CUDA_AWARE=1`` or ``0`` decides; otherwise the library is asked through ``MPIX_Query_cuda_support``
    (an extension of Open MPI and MPICH that mpi4py does not wrap), looked up in the loaded ``libmpi``. Where it
    cannot be asked, the answer is no: device arrays are then staged through host memory, which always works.
    """
    forced = os.environ.get("MINIDL_MPI_CUDA_AWARE")
    if forced in ("0", "1"):
        return forced == "1"
    for path in _loaded_mpi_libraries():
        try:
            query = getattr(ctypes.CDLL(path), "MPIX_Query_cuda_support", None)
        except OSError:
            continue
        if query is not None:
            query.restype = ctypes.c_int
            return bool(query())
    return False


def _loaded_mpi_libraries() -> list[str]:
    """The paths of the MPI libraries mapped into this process (Linux: /proc/self/maps; elsewhere none)."""
    if not sys.platform.startswith("linux"):
        return []
    found: list[str] = []
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1]
                name = os.path.basename(path)
                if name.startswith(("libmpi.", "libmpi_abi.", "libmpich.")) and path not in found:
                    found.append(path)
    except OSError:
        return []
    return found
