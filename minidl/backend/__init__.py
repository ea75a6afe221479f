"""Backends: one object per device holding the array namespace and the table of kernels.

Ops never branch on the device: they ask their input's backend (``x.backend``) for ``xp`` (the array namespace
for simple element-wise and shape work: NumPy on the CPU) and for named kernels (``x.backend.kernels.erf``).
Adding a device is adding a backend (``register_backend``); adding a kernel variant is registering it in
``minidl_kernels.IMPLEMENTATIONS``.
"""

from __future__ import annotations

import copyreg
from typing import Any

from minidl.backend.cpu import CPUBackend
from minidl.backend.kernel_table import KernelTable


class Device:
    """A device name as a value: ``minidl.device("cpu")``; compares equal to its name."""

    __slots__ = ("type",)

    def __init__(self, type: str):
        self.type = type

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Device):
            return self.type == other.type
        if isinstance(other, str):
            return self.type == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.type)

    def __repr__(self) -> str:
        return f"device(type='{self.type}')"

    def __str__(self) -> str:
        return self.type

    def __reduce__(self) -> tuple:
        """Pickle as the device name (the class has __slots__ and no __dict__)."""
        return Device, (self.type,)


DeviceLike = str | Device

_BACKENDS: dict[str, Any] = {}


def register_backend(backend: Any) -> None:
    """Make ``backend`` (an object with ``name``, ``xp``, ``array_type``, ``kernels``, ``from_numpy``,
    ``to_numpy``) the backend of device ``backend.name``."""
    backend.device = Device(backend.name)
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
    """The backend of ``device`` ("cpu", a ``Device``, "cuda:0"...), or a clear error when there is none."""
    name = device.type if isinstance(device, Device) else str(device)
    backend = _BACKENDS.get(name) or _BACKENDS.get(name.split(":")[0])
    if backend is None:
        have = ", ".join(sorted(_BACKENDS))
        hint = " (the CUDA backend is not part of minidl yet)" if name.startswith("cuda") else ""
        raise RuntimeError(f"device {name!r} is not available{hint}; available devices: {have}")
    return backend


def use_kernels(impl: str, *names: str, device: DeviceLike = "cpu") -> _KernelChoice:
    """Use implementation ``impl`` ("reference", "numba", "cython") for kernels ``names`` (for every kernel that
    has it when none is named) on ``device``. Works as a plain call or as a context manager that restores the
    previous choice on exit."""
    table = get_backend(device).kernels
    return _KernelChoice(table, table.select(impl, names))


class _KernelChoice:
    def __init__(self, table: KernelTable, previous: dict[str, str]):
        self._table = table
        self._previous = previous

    def __enter__(self) -> _KernelChoice:
        return self

    def __exit__(self, *exc: object) -> None:
        self._table.restore(self._previous)


# The CPU backend object is reached through get_backend("cpu"); it is not bound to a name here, where it would hide
# the submodule minidl.backend.cpu.
register_backend(CPUBackend())

__all__ = ["CPUBackend", "Device", "get_backend", "register_backend", "unregister_backend", "use_kernels"]
