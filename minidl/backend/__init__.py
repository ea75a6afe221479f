"""Backends: one object per device holding the array namespace and the table of kernels.

Ops never branch on the device: they ask their input's backend (``x.backend``) for ``xp`` (the array namespace
for simple element-wise and shape work: NumPy on the CPU, CuPy on a GPU), for named kernels
(``x.backend.kernels.erf``) and for what the device decides itself (``conv2d_forward``...): the ``Backend``
protocol of ``minidl.backend.protocol``. Adding a device is adding a backend (``register_backend``); adding a kernel
variant is registering it in its device's table of ``minidl_kernels`` (``IMPLEMENTATIONS``,
``CUDA_IMPLEMENTATIONS``). The cuda backend is made on first use, where a GPU (or Numba's simulator) is at hand.
"""

from __future__ import annotations

import copyreg
from typing import Any

from minidl.backend.cpu import CPUBackend
from minidl.backend.kernel_table import KernelTable


class Device:
    """A device as a value: ``minidl.device("cpu")``, ``minidl.device("cuda")``, ``minidl.device("cuda:0")`` or
    ``minidl.device("cuda", 0)``. Compares equal to its name; a device without an index equals any index of its
    type ("cuda" == "cuda:0")."""

    __slots__ = ("index", "type")

    def __init__(self, type: str, index: int | None = None):
        kind, colon, number = str(type).partition(":")
        if colon:
            if index is not None or not number.isdigit():
                raise ValueError(f"device: expected 'type' or 'type:index' (e.g. 'cuda:0'), got {type!r}")
            index = int(number)
        if index is not None and (isinstance(index, bool) or not isinstance(index, int) or index < 0):
            raise ValueError(f"device: the index must be a non-negative integer, got {index!r}")
        self.type = kind
        self.index = index

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            try:
                other = Device(other)
            except ValueError:
                return False
        if not isinstance(other, Device):
            return NotImplemented
        return self.type == other.type and (self.index is None or other.index is None or self.index == other.index)

    def __hash__(self) -> int:
        return hash(self.type)

    def __repr__(self) -> str:
        return (
            f"device(type='{self.type}')" if self.index is None else f"device(type='{self.type}', index={self.index})"
        )

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __reduce__(self) -> tuple:
        """Pickle as the device name (the class has __slots__ and no __dict__)."""
        return Device, (self.type, self.index)


DeviceLike = str | Device

_BACKENDS: dict[str, Any] = {}


def register_backend(backend: Any) -> None:
    """Make ``backend`` (an object with ``name``, ``xp``, ``array_type``, ``kernels``, ``from_numpy``,
    ``to_numpy``) the backend of device ``backend.name``."""
    backend.device = Device(backend.name, 0 if backend.name == "cuda" else None)
    _BACKENDS[backend.name] = backend
    copyreg.pickle(type(backend), _reduce_backend)


def _reduce_backend(backend: Any) -> tuple:
    """How pickle and copy see an object of a registered backend's type.

    The registered backend itself pickles as its device name: unpickling (in this process or another) looks it up
    with ``get_backend``, so every tensor gets back the very same backend object and identity checks keep working;
    deep copies are the object itself. Other objects of that type (it may be a general one) pickle as usual.
    """
    name = getattr(backend, "name", None)
    if isinstance(name, str) and _BACKENDS.get(name) is backend:
        return get_backend, (name,)
    return backend.__reduce_ex__(2)


def unregister_backend(name: str) -> None:
    """Remove the backend of device ``name`` (the CPU backend stays)."""
    if name == "cpu":
        raise ValueError("the cpu backend cannot be removed")
    _BACKENDS.pop(name, None)


def get_backend(device: DeviceLike) -> Any:
    """The backend of ``device`` ("cpu", "cuda", "cuda:0", a ``Device``), or a clear error when there is none."""
    wanted = device if isinstance(device, Device) else Device(str(device))
    backend = _BACKENDS.get(wanted.type)
    if backend is None and wanted.type == "cuda":
        backend = _make_cuda_backend()
    if backend is None:
        have = ", ".join(sorted(_BACKENDS))
        raise RuntimeError(f"device {str(wanted)!r} is not available; available devices: {have}")
    if wanted.index not in (None, backend.device.index or 0):
        raise RuntimeError(
            f"device {str(wanted)!r} is not available: minidl drives one device of each type, {backend.device}"
        )
    return backend


def _make_cuda_backend() -> Any:
    """Register the cuda backend on first use, or raise the reason it cannot run here."""
    from minidl.backend import cuda

    reason = cuda.unavailable_reason()
    if reason is not None:
        raise RuntimeError(f"device 'cuda' is not available: {reason}")
    backend = cuda.CUDABackend()
    register_backend(backend)
    return backend


def use_kernels(impl: str, *names: str, device: DeviceLike = "cpu") -> _KernelChoice:
    """Use implementation ``impl`` ("reference", "numba", "cython"; "cuda" or "blas" on cuda) for kernels
    ``names`` (for every kernel that has it when none is named) on ``device``. Works as a plain call or as a context
    manager that restores the previous choice on exit.

    The backend-level kernel "conv2d" takes an algorithm instead: ``use_kernels("winograd4", "conv2d")`` (one of
    "auto", "im2col", "winograd", "winograd2", "winograd4"; see ``minidl.backend.convolution``), alone in its call.
    """
    backend = get_backend(device)
    if "conv2d" in names:
        if names != ("conv2d",):
            raise ValueError(f"use_kernels: 'conv2d' takes an algorithm and is chosen alone, got names {names}")
        return _KernelChoice(backend.kernels, {}, backend.convolution, backend.convolution.select(impl))
    table = backend.kernels
    return _KernelChoice(table, table.select(impl, names))


class _KernelChoice:
    def __init__(self, table: KernelTable, previous: dict[str, str], convolution: Any = None, algorithm: str = ""):
        self._table = table
        self._previous = previous
        self._convolution = convolution
        self._algorithm = algorithm

    def __enter__(self) -> _KernelChoice:
        return self

    def __exit__(self, *exc: object) -> None:
        self._table.restore(self._previous)
        if self._convolution is not None:
            self._convolution.select(self._algorithm)


# The CPU backend object is reached through get_backend("cpu"); it is not bound to a name here, where it would hide
# the submodule minidl.backend.cpu.
register_backend(CPUBackend())

__all__ = ["CPUBackend", "Device", "get_backend", "register_backend", "unregister_backend", "use_kernels"]
