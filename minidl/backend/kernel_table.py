"""The table kernel-name -> implementation that a backend holds, and the switch that picks one.

Every kernel (``scatter_add``, ``erf``, ``im2col``, ``max_pool2d_forward``...) may have several implementations
(``reference``, ``numba``, ``cython``, ``blas``...) listed in ``minidl_kernels.IMPLEMENTATIONS``. A table resolves
the chosen one on first use (so compiled kernels are imported, and Numba compiles, only when needed) and then
serves it as a plain attribute: ``backend.kernels.scatter_add(out, index, src)``.

The switch, for teaching and benchmarking::

    minidl.backend.use_kernels("reference")             # every kernel that has a NumPy reference uses it
    with minidl.backend.use_kernels("numba", "scatter_add"):
        ...                                              # only inside the block

or the environment variable ``MINIDL_KERNELS=reference`` before minidl is imported.
"""

from __future__ import annotations

import importlib
from typing import Callable


class KernelTable:
    """Kernel name -> the callable of the chosen implementation, resolved lazily."""

    def __init__(self, implementations: dict[str, dict[str, str]], preferred: dict[str, str]):
        self._implementations = implementations
        self._choice = {}
        for name, impls in implementations.items():
            pick = preferred.get(name, "reference")
            self._choice[name] = pick if pick in impls else next(iter(impls))

    def __getattr__(self, name: str) -> Callable:
        # Only called when the attribute is not cached yet. The table may not be initialised (copy and pickle
        # build the object without __init__ and then look up __setstate__ and friends): read the instance dict
        # directly, or looking up self._implementations would call this method again, forever.
        implementations = self.__dict__.get("_implementations")
        if implementations is None:
            raise AttributeError(f"{type(self).__name__} has no attribute {name!r} (it is not initialised)")
        if name.startswith("_") or name not in implementations:
            raise AttributeError(f"no kernel named {name!r} (kernels: {', '.join(sorted(implementations))})")
        fn = self.resolve(name, self._choice[name])
        setattr(self, name, fn)
        return fn

    def __reduce__(self) -> tuple:
        """A table pickles (and copies) as its data: the implementations and the current choices, not the cached
        callables (compiled kernels, which need not pickle); it is imported again on first use."""
        return type(self), (self._implementations, dict(self._choice))

    def names(self) -> list[str]:
        """All kernel names in the table."""
        return sorted(self._implementations)

    def available(self, name: str) -> list[str]:
        """The implementations that exist for kernel ``name``."""
        return list(self._implementations[name])

    def choice(self, name: str) -> str:
        """The implementation kernel ``name`` uses now."""
        return self._choice[name]

    def resolve(self, name: str, impl: str) -> Callable:
        """Import and return implementation ``impl`` of kernel ``name`` (without selecting it)."""
        impls = self._implementations[name]
        if impl not in impls:
            raise ValueError(f"kernel {name!r} has no {impl!r} implementation (available: {', '.join(impls)})")
        module_name, attr = impls[impl].split(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as err:
            hint = (
                " (the Cython kernels are built by `pip install .` or `pip install -e .`)" if impl == "cython" else ""
            )
            raise ImportError(
                f"cannot load the {impl} implementation of kernel {name!r} from {module_name}{hint}: {err}"
            ) from err
        return getattr(module, attr)

    def select(self, impl: str, names: tuple[str, ...] = ()) -> dict[str, str]:
        """Make ``impl`` the implementation of ``names`` (of every kernel that has one when empty); return the
        previous choices."""
        if names:
            for name in names:
                if name not in self._implementations:
                    raise ValueError(f"no kernel named {name!r} (kernels: {', '.join(self.names())})")
                if impl not in self._implementations[name]:
                    raise ValueError(
                        f"kernel {name!r} has no {impl!r} implementation "
                        f"(available: {', '.join(self._implementations[name])})"
                    )
        else:
            names = tuple(n for n, impls in self._implementations.items() if impl in impls)
            if not names:
                raise ValueError(f"no kernel has a {impl!r} implementation")
        previous = {n: self._choice[n] for n in names}
        self.restore({n: impl for n in names})
        return previous

    def restore(self, choices: dict[str, str]) -> None:
        """Set the given name -> implementation choices and drop the cached callables."""
        for name, impl in choices.items():
            self._choice[name] = impl
            self.__dict__.pop(name, None)
