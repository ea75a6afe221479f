"""How an array reaches MPI: in place on the host, directly from the GPU when the MPI is CUDA-aware, or through
a host copy (staging) otherwise."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from minidl.distributed.communicator import Communicator


@contextmanager
def mpi_buffer(array: Any, backend: Any, comm: Communicator, where: str) -> Iterator[Any]:
    """A buffer holding ``array``'s values that ``comm``'s collectives can read and write; what they write is in
    ``array`` when the block ends.

    - a C-contiguous, writeable host (NumPy) array: the array itself;
    - any other host array: a contiguous copy, copied back;
    - a device array (``backend`` is its device): the array itself when the MPI is CUDA-aware and the array
      contiguous (after the device has finished its queued work, which MPI cannot see), else a host copy
      (``backend.to_numpy``) that is copied back to the device.

    where: the caller's name, for the error about a read-only array.
    """
    if isinstance(array, np.ndarray):
        if not array.flags.writeable:
            raise ValueError(f"{where}: the tensor's memory is read-only; clone() it first")
        if array.flags.c_contiguous:
            yield array
            return
        host = np.ascontiguousarray(array)
        yield host
        array[...] = host
        return
    if comm.cuda_aware and array.flags.c_contiguous:
        backend.synchronize()
        yield array
        return
    host = np.ascontiguousarray(backend.to_numpy(array))
    yield host
    array[...] = backend.from_numpy(host)
