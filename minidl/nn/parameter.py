"""``Parameter``: a tensor that a ``Module`` registers as one of its learnable weights."""

from __future__ import annotations

from typing import Any

from minidl.tensor import Tensor, empty, tensor


class Parameter(Tensor):
    """A Tensor that requires grad by default and that a ``Module`` registers when assigned as an attribute
    (``self.weight = Parameter(minidl.randn(3, 4))``), so that it appears in ``parameters()`` and ``state_dict()``.

    data: a Tensor (shared, not copied, as in PyTorch), or anything ``minidl.tensor`` accepts (copied); None gives
    an empty tensor. Results of ops on a parameter are plain tensors.
    """

    __slots__ = ()

    def __init__(self, data: Any = None, requires_grad: bool = True):
        if data is None:
            source = empty(0)
        elif isinstance(data, Tensor):
            source = data
        else:
            source = tensor(data)
        self.data = source.data
        self._backend = source._backend
        self._version = source._version  # same memory, same version counter
        self._node = None
        self._requires_grad = False
        self.grad = None
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _make(cls, data: Any, backend: Any, requires_grad: bool = False) -> Tensor:
        # Ops (and detach, and gradient accumulation) build their results through ``first_input._make``: the
        # result of an op on a parameter is a plain Tensor, not another parameter.
        return Tensor._make(data, backend, requires_grad)

    def __deepcopy__(self, memo: dict) -> Parameter:
        if id(self) in memo:
            return memo[id(self)]
        copied = Tensor._make(self._backend.xp.array(self.data, copy=True), self._backend)
        result = Parameter(copied, self._requires_grad)
        memo[id(self)] = result
        return result

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
