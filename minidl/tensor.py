"""The Tensor: a raw array on a device, plus what autograd needs (``requires_grad``, ``grad``, ``grad_fn``).

The operators and methods below are thin: each forwards to the op of the same name in ``minidl.ops``, where the
forward and backward of every op live. Creation functions (``tensor``, ``zeros``, ``randn``...) are at the end.
"""

from __future__ import annotations

import builtins
import copy
import weakref
from typing import Any, Iterator, Sequence

import numpy as np

from minidl import autograd, dtypes
from minidl import random as _random
from minidl.backend import Device, DeviceLike, get_backend

_cpu = get_backend("cpu")


def _draw_dtype(dtype: Any) -> Any:
    """float32 tensors draw float32 samples (2-4x faster for large weights); everything else draws float64."""
    return np.float32 if dtype == np.float32 else np.float64


class Tensor:
    """An n-dimensional array that can record the ops applied to it and backpropagate through them.

    ``data`` is the raw array (a ``numpy.ndarray`` on the CPU). Build tensors with ``minidl.tensor(...)``,
    ``minidl.zeros(...)`` and friends; ``Tensor(data, ...)`` takes the same arguments as ``minidl.tensor``.
    """

    __slots__ = ("__weakref__", "_backend", "_node", "_requires_grad", "_version", "data", "grad")
    # NumPy defers to Tensor's operators (ndarray + Tensor -> Tensor) and refuses ufuncs on tensors
    # (np.exp(t) raises instead of silently dropping the graph).
    __array_ufunc__ = None

    def __init__(self, data: Any, dtype: Any = None, requires_grad: bool = False, device: DeviceLike | None = None):
        made = tensor(data, dtype=dtype, requires_grad=requires_grad, device=device)
        self.data = made.data
        self._backend = made._backend
        self._requires_grad = made._requires_grad
        self._node = None
        self._version = [0]
        self.grad = None

    @classmethod
    def _make(cls, data: Any, backend: Any, requires_grad: bool = False) -> Tensor:
        """Wrap a raw array of ``backend`` without copying or checking (the fast path every op takes)."""
        t = object.__new__(cls)
        t.data = data
        t._backend = backend
        t._requires_grad = requires_grad
        t._node = None
        t._version = [0]
        t.grad = None
        return t

    # ------------------------------------------------------------------------------------------- properties
    @property
    def shape(self) -> tuple[int, ...]:
        """The size of each dimension, as a tuple."""
        return self.data.shape

    @property
    def ndim(self) -> int:
        """The number of dimensions."""
        return self.data.ndim

    def dim(self) -> int:
        """The number of dimensions (PyTorch's spelling)."""
        return self.data.ndim

    def size(self, dim: int | None = None) -> tuple[int, ...] | int:
        """The shape, or the size of dimension ``dim``."""
        if dim is None:
            return self.data.shape
        from minidl.ops.dims import normalize_dim

        return self.data.shape[normalize_dim(dim, self.data.ndim)]

    def numel(self) -> int:
        """The number of elements."""
        return self.data.size

    @property
    def dtype(self) -> np.dtype:
        """The element type (a ``numpy.dtype``: ``minidl.float32``, ``minidl.int64``...)."""
        return self.data.dtype

    @property
    def device(self) -> Device:
        """The device the data lives on."""
        return self._backend.device

    @property
    def backend(self) -> Any:
        """The backend of this tensor's device: its array namespace ``xp`` and its ``kernels``."""
        return self._backend

    @property
    def requires_grad(self) -> bool:
        """Whether gradients flow into this tensor."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        self.requires_grad_(flag)

    @property
    def is_leaf(self) -> bool:
        """True for tensors not made by a recorded op (those that accumulate ``.grad``)."""
        return self._node is None

    @property
    def grad_fn(self) -> autograd.Function | None:
        """The op that made this tensor, when it was recorded."""
        return self._node

    @property
    def T(self) -> Tensor:
        """The tensor with its dimensions reversed."""
        return ops.permute(self, tuple(range(self.data.ndim - 1, -1, -1)))

    # ---------------------------------------------------------------------------------------- conversions
    def numpy(self) -> np.ndarray:
        """The data as a NumPy array: sharing memory on the CPU, a host copy from any other device (as
        ``.cpu().numpy()`` in PyTorch). Refused while the tensor requires grad, since writing into the array would
        silently corrupt the graph: call ``detach().numpy()``."""
        if self._requires_grad:
            raise RuntimeError("numpy() on a tensor that requires grad: call tensor.detach().numpy() instead")
        return self._backend.to_numpy(self.data)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        array = self.numpy()
        if dtype is not None and array.dtype != dtype:
            return array.astype(dtype)
        return array.copy() if copy else array

    def item(self) -> builtins.float | builtins.int | builtins.bool:
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(
                f"item(): only a one-element tensor can be converted to a Python number, this one has "
                f"{self.data.size} elements (shape {tuple(self.data.shape)})"
            )
        return self._backend.to_numpy(self.data).reshape(()).item()

    def tolist(self) -> Any:
        """The data as nested Python lists (a number for a 0-d tensor)."""
        return self._backend.to_numpy(self.data).tolist()

    def __float__(self) -> builtins.float:
        return builtins.float(self.item())

    def __int__(self) -> builtins.int:
        return builtins.int(self.item())

    def __bool__(self) -> builtins.bool:
        if self.data.size != 1:
            raise RuntimeError(
                f"the truth value of a tensor with {self.data.size} elements is ambiguous; use .any() or .all()"
            )
        return builtins.bool(self.item())

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        for i in range(len(self)):
            yield self[i]

    def to(self, *args: Any, dtype: Any = None, device: DeviceLike | None = None) -> Tensor:
        """A copy on another device and/or with another dtype (``self`` when nothing changes): ``t.to("cpu")``,
        ``t.to(minidl.float64)``, ``t.to(device="cpu", dtype="float64")``. Differentiable."""
        for arg in args:
            if isinstance(arg, Device) or (isinstance(arg, str) and not _is_dtype_name(arg)):
                device = arg
            else:
                dtype = arg
        out = self
        if device is not None:
            target = get_backend(device)
            if target is not self._backend:
                out = ops.to_device(out, target)
        if dtype is not None:
            out = ops.cast(out, dtypes.as_dtype(dtype))
        return out

    def cpu(self) -> Tensor:
        """This tensor on the CPU (a copy when it is elsewhere); differentiable."""
        return self.to("cpu")

    def cuda(self) -> Tensor:
        """This tensor on the GPU, device "cuda" (a copy when it is elsewhere); differentiable."""
        return self.to("cuda")

    def float(self) -> Tensor:
        """Cast to float32."""
        return ops.cast(self, dtypes.float32)

    def double(self) -> Tensor:
        """Cast to float64."""
        return ops.cast(self, dtypes.float64)

    def long(self) -> Tensor:
        """Cast to int64."""
        return ops.cast(self, dtypes.int64)

    def int(self) -> Tensor:
        """Cast to int32."""
        return ops.cast(self, dtypes.int32)

    def bool(self) -> Tensor:
        """Cast to bool."""
        return ops.cast(self, dtypes.bool_)

    def type(self, dtype: Any) -> Tensor:
        """Cast to ``dtype``."""
        return ops.cast(self, dtypes.as_dtype(dtype))

    # ------------------------------------------------------------------------------------------- autograd
    def backward(self, gradient: Any = None, retain_graph: bool = False) -> None:
        """Backpropagate from this tensor; leaves get the gradient added into ``.grad``.

        gradient: same shape as this tensor; may be omitted for a one-element tensor (then 1).
        """
        autograd.backward(self, gradient, retain_graph)

    def detach(self) -> Tensor:
        """A tensor sharing this one's data, cut from the graph (never requires grad)."""
        t = self._make(self.data, self._backend)
        t._version = self._version
        return t

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place (floating-point leaves only) and return self."""
        requires_grad = builtins.bool(requires_grad)
        if requires_grad and not dtypes.is_floating(self.data.dtype):
            raise TypeError(
                f"only floating-point tensors can require gradients, this one is {self.data.dtype.name}; "
                "cast it first with .float()"
            )
        if self._node is not None and not requires_grad:
            raise RuntimeError(
                "requires_grad cannot be turned off on a tensor made by a recorded op; use .detach() instead"
            )
        self._requires_grad = requires_grad
        return self

    def retain_grad(self) -> Tensor:
        """Keep ``.grad`` for this non-leaf tensor at the next backward (leaves always keep theirs)."""
        if not self._requires_grad:
            raise RuntimeError("retain_grad() on a tensor that does not require grad")
        if self._node is not None:
            self._node.retained = weakref.ref(self)
        return self

    def __deepcopy__(self, memo: dict) -> Tensor:
        """A copy with its own data (and grad); leaves only, as in PyTorch (call detach() on others first)."""
        if self._node is not None:
            raise RuntimeError("only leaf tensors support deepcopy; call .detach() on a tensor made by an op first")
        new = self._make(self._backend.xp.array(self.data, copy=True), self._backend, self._requires_grad)
        memo[id(self)] = new
        if self.grad is not None:
            new.grad = copy.deepcopy(self.grad, memo)
        return new

    def __getstate__(self) -> dict[str, Any]:
        """What pickle saves of a leaf tensor: its values (as a host NumPy array, whatever the device), the name
        of its device, ``requires_grad`` and ``.grad``. A tensor made by a recorded op is refused, as in PyTorch:
        its graph cannot be sent to another process."""
        if self._node is not None:
            raise RuntimeError(
                f"cannot pickle a tensor made by a recorded op (grad_fn={self._node!r}): autograd graphs do not "
                "cross processes; call .detach() first (and send the leaves if the receiver needs their gradients)"
            )
        state = {
            "data": self._backend.to_numpy(self.data),
            "device": self._backend.name,
            "requires_grad": self._requires_grad,
            "grad": self.grad,
        }
        attributes = getattr(self, "__dict__", None)  # a subclass without __slots__
        if attributes:
            state["attributes"] = attributes
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Rebuild a pickled tensor on the backend of the saved device name, with a fresh version counter."""
        backend = get_backend(state["device"])
        self.data = backend.from_numpy(state["data"])
        self._backend = backend
        self._requires_grad = state["requires_grad"]
        self._node = None
        self._version = [0]
        self.grad = state["grad"]
        if "attributes" in state:
            self.__dict__.update(state["attributes"])

    def clone(self) -> Tensor:
        """A copy with its own memory; differentiable."""
        return ops.clone(self)

    def contiguous(self) -> Tensor:
        """Self when the data is C-contiguous, else a contiguous copy; differentiable."""
        if self.data.flags.c_contiguous:
            return self
        return ops.clone(self)

    def is_contiguous(self) -> bool:
        """Whether the data is C-contiguous."""
        return builtins.bool(self.data.flags.c_contiguous)

    # ----------------------------------------------------------------------------------------- in-place ops
    def _check_inplace(self, op: str, value: Any = None) -> None:
        if not autograd._grad_state.enabled:
            return
        if self._requires_grad:
            if self._node is None:
                raise RuntimeError(
                    f"{op}: a leaf tensor that requires grad cannot be changed in place while the graph is "
                    "recorded; do it inside `with minidl.no_grad():` (as an optimizer step does)"
                )
            raise RuntimeError(
                f"{op}: this tensor was made by a recorded op and minidl does not record in-place ops; "
                "use the out-of-place form (x = x + y instead of x += y)"
            )
        if isinstance(value, Tensor) and value._requires_grad:
            raise RuntimeError(
                f"{op}: the value requires grad but in-place ops are not recorded; use the out-of-place form"
            )

    def _value_array(self, value: Any, op: str) -> Any:
        """``value`` ready to be written into this tensor: a tensor's raw array (same device only) or as given."""
        if isinstance(value, np.ndarray) and not isinstance(value, self._backend.array_type):
            return self._backend.from_numpy(value)
        if not isinstance(value, Tensor):
            return value
        if value._backend is not self._backend:
            raise RuntimeError(
                f"{op}: the tensor is on {self.device} but the value is on {value.device}; move the value with "
                f".to({str(self.device)!r})"
            )
        return value.data

    def _inplace(self, op: str, ufunc: Any, value: Any) -> Tensor:
        self._check_inplace(op, value)
        value = self._value_array(value, op)
        try:
            ufunc(self.data, value, out=self.data)
        except ValueError as err:
            raise ValueError(
                f"{op}: a value of shape {tuple(np.shape(value))} cannot be written into a tensor of shape "
                f"{tuple(self.data.shape)} ({err})"
            ) from None
        self._version[0] += 1
        return self

    def add_(self, other: Any, alpha: Any = 1) -> Tensor:
        """self += alpha * other, in place (outside recorded graphs only)."""
        return self._inplace("add_", self._backend.xp.add, other if alpha == 1 else other * alpha)

    def sub_(self, other: Any, alpha: Any = 1) -> Tensor:
        """self -= alpha * other, in place."""
        return self._inplace("sub_", self._backend.xp.subtract, other if alpha == 1 else other * alpha)

    def mul_(self, other: Any) -> Tensor:
        """self *= other, in place."""
        return self._inplace("mul_", self._backend.xp.multiply, other)

    def div_(self, other: Any) -> Tensor:
        """self /= other, in place."""
        return self._inplace("div_", self._backend.xp.true_divide, other)

    def copy_(self, src: Any) -> Tensor:
        """Write ``src`` (broadcast to this shape) into self, in place."""
        return self._inplace("copy_", lambda a, b, out: self._backend.xp.copyto(out, b), src)

    def fill_(self, value: Any) -> Tensor:
        """Set every element to ``value``, in place."""
        return self._inplace("fill_", _fill, value)

    def zero_(self) -> Tensor:
        """Set every element to 0, in place."""
        return self.fill_(0)

    def clamp_(self, min: Any = None, max: Any = None) -> Tensor:
        """Clip every element into [min, max], in place."""
        return self._inplace("clamp_", lambda a, b, out: self._backend.xp.clip(a, min, max, out=out), None)

    def uniform_(self, low: builtins.float = 0.0, high: builtins.float = 1.0) -> Tensor:
        """Fill with samples of U(low, high) from the global generator, in place."""
        sample = _random.generator().random(size=self.data.shape, dtype=_draw_dtype(self.data.dtype))
        sample *= high - low
        sample += low
        return self.copy_(self._backend.from_numpy(sample.astype(self.data.dtype, copy=False)))

    def normal_(self, mean: builtins.float = 0.0, std: builtins.float = 1.0) -> Tensor:
        """Fill with samples of N(mean, std²) from the global generator, in place."""
        sample = _random.generator().standard_normal(size=self.data.shape, dtype=_draw_dtype(self.data.dtype))
        sample *= std
        sample += mean
        return self.copy_(self._backend.from_numpy(sample.astype(self.data.dtype, copy=False)))

    def __setitem__(self, key: Any, value: Any) -> None:
        self._check_inplace("item assignment", value)
        self.data[ops.index_key(key, self)] = self._value_array(value, "item assignment")
        self._version[0] += 1

    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_
    __itruediv__ = div_

    # ---------------------------------------------------------------------------------------- arithmetic
    def __add__(self, other: Any) -> Tensor:
        return ops.add(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return ops.add(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return ops.sub(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return ops.sub(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return ops.mul(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return ops.mul(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return ops.div(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return ops.div(other, self)

    def __pow__(self, other: Any) -> Tensor:
        return ops.pow(self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return ops.pow(other, self)

    def __matmul__(self, other: Any) -> Tensor:
        return ops.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return ops.matmul(other, self)

    def __neg__(self) -> Tensor:
        return ops.neg(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return ops.abs(self)

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return ops.eq(self, other)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return ops.ne(self, other)

    def __lt__(self, other: Any) -> Tensor:
        return ops.lt(self, other)

    def __le__(self, other: Any) -> Tensor:
        return ops.le(self, other)

    def __gt__(self, other: Any) -> Tensor:
        return ops.gt(self, other)

    def __ge__(self, other: Any) -> Tensor:
        return ops.ge(self, other)

    def __invert__(self) -> Tensor:
        return ops.logical_not(self)

    __hash__ = object.__hash__

    def __getitem__(self, key: Any) -> Tensor:
        return ops.getitem(self, key)

    # ------------------------------------------------------------------------------------ methods -> ops
    def add(self, other: Any) -> Tensor:
        return ops.add(self, other)

    def sub(self, other: Any) -> Tensor:
        return ops.sub(self, other)

    def mul(self, other: Any) -> Tensor:
        return ops.mul(self, other)

    def div(self, other: Any) -> Tensor:
        return ops.div(self, other)

    def pow(self, exponent: Any) -> Tensor:
        return ops.pow(self, exponent)

    def neg(self) -> Tensor:
        return ops.neg(self)

    def exp(self) -> Tensor:
        return ops.exp(self)

    def log(self) -> Tensor:
        return ops.log(self)

    def sqrt(self) -> Tensor:
        return ops.sqrt(self)

    def abs(self) -> Tensor:
        return ops.abs(self)

    def sin(self) -> Tensor:
        return ops.sin(self)

    def cos(self) -> Tensor:
        return ops.cos(self)

    def maximum(self, other: Any) -> Tensor:
        return ops.maximum(self, other)

    def minimum(self, other: Any) -> Tensor:
        return ops.minimum(self, other)

    def clip(self, min: Any = None, max: Any = None) -> Tensor:
        return ops.clip(self, min, max)

    clamp = clip

    def eq(self, other: Any) -> Tensor:
        return ops.eq(self, other)

    def ne(self, other: Any) -> Tensor:
        return ops.ne(self, other)

    def lt(self, other: Any) -> Tensor:
        return ops.lt(self, other)

    def le(self, other: Any) -> Tensor:
        return ops.le(self, other)

    def gt(self, other: Any) -> Tensor:
        return ops.gt(self, other)

    def ge(self, other: Any) -> Tensor:
        return ops.ge(self, other)

    def sum(self, dim: Any = None, keepdim: builtins.bool = False, **aliases: Any) -> Tensor:
        return ops.sum(self, dim, keepdim, **aliases)

    def mean(self, dim: Any = None, keepdim: builtins.bool = False, **aliases: Any) -> Tensor:
        return ops.mean(self, dim, keepdim, **aliases)

    def max(self, dim: Any = None, keepdim: builtins.bool = False, **aliases: Any) -> Tensor:
        return ops.max(self, dim, keepdim, **aliases)

    def min(self, dim: Any = None, keepdim: builtins.bool = False, **aliases: Any) -> Tensor:
        return ops.min(self, dim, keepdim, **aliases)

    def var(self, dim: Any = None, unbiased: builtins.bool = True, keepdim: builtins.bool = False, **kw: Any) -> Tensor:
        return ops.var(self, dim, unbiased, keepdim, **kw)

    def std(self, dim: Any = None, unbiased: builtins.bool = True, keepdim: builtins.bool = False, **kw: Any) -> Tensor:
        return ops.std(self, dim, unbiased, keepdim, **kw)

    def logsumexp(self, dim: Any = None, keepdim: builtins.bool = False, **aliases: Any) -> Tensor:
        return ops.logsumexp(self, dim, keepdim, **aliases)

    def argmax(self, dim: int | None = None, keepdim: builtins.bool = False, **aliases: Any) -> Tensor:
        return ops.argmax(self, dim, keepdim, **aliases)

    def argmin(self, dim: int | None = None, keepdim: builtins.bool = False, **aliases: Any) -> Tensor:
        return ops.argmin(self, dim, keepdim, **aliases)

    def any(self, dim: Any = None, keepdim: builtins.bool = False) -> Tensor:
        return ops.any(self, dim, keepdim)

    def all(self, dim: Any = None, keepdim: builtins.bool = False) -> Tensor:
        return ops.all(self, dim, keepdim)

    def reshape(self, *shape: Any) -> Tensor:
        return ops.reshape(self, *shape)

    def view(self, *shape: Any) -> Tensor:
        return ops.view(self, *shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        return ops.flatten(self, start_dim, end_dim)

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        return ops.transpose(self, dim0, dim1)

    def permute(self, *dims: Any) -> Tensor:
        return ops.permute(self, *dims)

    def squeeze(self, dim: Any = None) -> Tensor:
        return ops.squeeze(self, dim)

    def unsqueeze(self, dim: int) -> Tensor:
        return ops.unsqueeze(self, dim)

    def expand(self, *sizes: Any) -> Tensor:
        return ops.expand(self, *sizes)

    def expand_as(self, other: Tensor) -> Tensor:
        return ops.expand(self, other.shape)

    def broadcast_to(self, shape: Sequence[int]) -> Tensor:
        return ops.broadcast_to(self, shape)

    def split(self, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
        return ops.split(self, split_size_or_sections, dim)

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        return ops.chunk(self, chunks, dim)

    def matmul(self, other: Any) -> Tensor:
        return ops.matmul(self, other)

    def relu(self) -> Tensor:
        return ops.relu(self)

    def sigmoid(self) -> Tensor:
        return ops.sigmoid(self)

    def tanh(self) -> Tensor:
        return ops.tanh(self)

    def softmax(self, dim: int) -> Tensor:
        return ops.softmax(self, dim)

    def log_softmax(self, dim: int) -> Tensor:
        return ops.log_softmax(self, dim)

    # ---------------------------------------------------------------------------------------------- repr
    def __repr__(self) -> str:
        data = self._backend.to_numpy(self.data)
        prefix = "tensor("
        fixed = data.dtype.kind == "f" and data.size and not np.all(np.isfinite(data) & (data == np.round(data)))
        body = np.array2string(
            data, separator=", ", prefix=prefix, precision=4, floatmode="fixed" if fixed else "maxprec"
        )
        extras = []
        if self._backend.name != "cpu":
            extras.append(f"device='{self.device}'")
        if data.dtype not in (dtypes.float32, dtypes.int64, dtypes.bool_):
            extras.append(f"dtype={data.dtype.name}")
        if self._node is not None:
            extras.append(f"grad_fn={self._node!r}")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        return prefix + body + "".join(", " + e for e in extras) + ")"


def _fill(a: Any, value: Any, out: Any) -> None:
    """out[...] = value, whatever the dtypes (fill_(0) on a bool tensor is False everywhere)."""
    out[...] = value


def _is_dtype_name(name: str) -> bool:
    try:
        dtypes.as_dtype(name)
    except TypeError:
        return False
    return True


# ------------------------------------------------------------------------------------------------- creation


def _finish(array: np.ndarray, requires_grad: bool, device: DeviceLike | None) -> Tensor:
    backend = _cpu if device is None else get_backend(device)
    t = Tensor._make(backend.from_numpy(array), backend)
    if requires_grad:
        t.requires_grad_(True)
    return t


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False, device: DeviceLike | None = None) -> Tensor:
    """A new tensor holding a copy of ``data`` (nested lists, numbers, a NumPy array or a Tensor).

    Without ``dtype``, as in PyTorch: NumPy arrays and scalars and Tensors keep their dtype (float64 stays
    float64); Python floats become float32, Python ints int64, bools bool.
    """
    if isinstance(data, Tensor):
        data = data._backend.to_numpy(data.data)
    python_data = not isinstance(data, (np.ndarray, np.generic))
    if dtype is not None:
        dtype = dtypes.as_dtype(dtype)
    try:
        array = np.array(data, dtype=dtype, copy=True)
    except (ValueError, TypeError) as err:
        raise ValueError(f"tensor(): cannot make a regular n-dimensional array from the data ({err})") from None
    if dtype is None:
        target = dtypes.infer_dtype(array, python_data)
        if target != array.dtype:
            array = array.astype(target)
    return _finish(array, requires_grad, device)


def as_tensor(data: Any, dtype: Any = None, device: DeviceLike | None = None) -> Tensor:
    """``data`` itself when it already is a Tensor of that dtype and device, else ``tensor(data, dtype)``."""
    if isinstance(data, Tensor):
        out = data
        if device is not None:
            out = out.to(device)
        return out if dtype is None else out.to(dtypes.as_dtype(dtype))
    return tensor(data, dtype=dtype, device=device)


def from_numpy(array: np.ndarray) -> Tensor:
    """A CPU tensor sharing memory with ``array``, keeping its dtype (float64 stays float64)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy expects a numpy.ndarray, got {type(array).__name__}")
    dtypes.as_dtype(array.dtype)
    return Tensor._make(array, _cpu)


def _size(size: tuple) -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0:
            raise ValueError(f"sizes must be non-negative integers, got {size}")
    return tuple(int(s) for s in size)


def _float_dtype(dtype: Any) -> np.dtype:
    return dtypes.DEFAULT_FLOAT if dtype is None else dtypes.as_dtype(dtype)


def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False, device: DeviceLike | None = None) -> Tensor:
    """A tensor of zeros: ``zeros(2, 3)`` or ``zeros((2, 3))``; float32 unless ``dtype`` is given."""
    return _finish(np.zeros(_size(size), dtype=_float_dtype(dtype)), requires_grad, device)


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False, device: DeviceLike | None = None) -> Tensor:
    """A tensor of ones; float32 unless ``dtype`` is given."""
    return _finish(np.ones(_size(size), dtype=_float_dtype(dtype)), requires_grad, device)


def empty(*size: Any, dtype: Any = None, requires_grad: bool = False, device: DeviceLike | None = None) -> Tensor:
    """An uninitialised tensor (its values are whatever memory held); float32 unless ``dtype`` is given."""
    return _finish(np.empty(_size(size), dtype=_float_dtype(dtype)), requires_grad, device)


def full(
    size: Sequence[int],
    fill_value: Any,
    dtype: Any = None,
    requires_grad: bool = False,
    device: DeviceLike | None = None,
) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value``; the dtype follows the value (bool, int64 or float32)."""
    if dtype is None:
        dtype = dtypes.infer_dtype(np.asarray(fill_value))
    return _finish(np.full(_size((size,)), fill_value, dtype=dtypes.as_dtype(dtype)), requires_grad, device)


def arange(
    start: Any,
    end: Any = None,
    step: Any = 1,
    dtype: Any = None,
    requires_grad: bool = False,
    device: DeviceLike | None = None,
) -> Tensor:
    """Values from ``start`` (inclusive) to ``end`` (exclusive) by ``step``; ``arange(n)`` is 0..n-1. int64 when
    every argument is an integer, else float32."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must not be zero")
    if dtype is None:
        all_int = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (start, end, step))
        dtype = dtypes.int64 if all_int else dtypes.DEFAULT_FLOAT
    return _finish(np.arange(start, end, step, dtype=dtypes.as_dtype(dtype)), requires_grad, device)


def eye(
    n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False, device: DeviceLike | None = None
) -> Tensor:
    """The (n, m) identity matrix (m defaults to n); float32 unless ``dtype`` is given."""
    return _finish(np.eye(n, m, dtype=_float_dtype(dtype)), requires_grad, device)


def rand(*size: Any, dtype: Any = None, requires_grad: bool = False, device: DeviceLike | None = None) -> Tensor:
    """Samples of U[0, 1) from the global generator (seeded by ``manual_seed``)."""
    array = _random.generator().random(_size(size), dtype=_float_dtype(dtype))
    return _finish(array, requires_grad, device)


def randn(*size: Any, dtype: Any = None, requires_grad: bool = False, device: DeviceLike | None = None) -> Tensor:
    """Samples of N(0, 1) from the global generator (seeded by ``manual_seed``)."""
    array = _random.generator().standard_normal(_size(size), dtype=_float_dtype(dtype))
    return _finish(array, requires_grad, device)


def randint(
    low: int, high: int | None = None, size: Sequence[int] = (), dtype: Any = None, device: DeviceLike | None = None
) -> Tensor:
    """Integers drawn uniformly from [low, high) (``randint(high, size=...)`` draws from [0, high)); int64."""
    if high is None:
        low, high = 0, low
    array = _random.generator().integers(low, high, size=_size((size,)))
    return _finish(array.astype(dtypes.int64 if dtype is None else dtypes.as_dtype(dtype)), False, device)


def _like(t: Tensor, dtype: Any) -> tuple[tuple[int, ...], np.dtype]:
    return t.shape, t.dtype if dtype is None else dtypes.as_dtype(dtype)


def zeros_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros with the shape (and dtype, device) of ``t``."""
    shape, dt = _like(t, dtype)
    return _finish(np.zeros(shape, dtype=dt), requires_grad, t.device)


def ones_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones with the shape (and dtype, device) of ``t``."""
    shape, dt = _like(t, dtype)
    return _finish(np.ones(shape, dtype=dt), requires_grad, t.device)


def full_like(t: Tensor, fill_value: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """``fill_value`` everywhere, with the shape (and dtype, device) of ``t``."""
    shape, dt = _like(t, dtype)
    return _finish(np.full(shape, fill_value, dtype=dt), requires_grad, t.device)


def rand_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """U[0, 1) samples with the shape (and dtype, device) of ``t``."""
    shape, dt = _like(t, dtype)
    return rand(shape, dtype=dt, requires_grad=requires_grad, device=t.device)


def randn_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """N(0, 1) samples with the shape (and dtype, device) of ``t``."""
    shape, dt = _like(t, dtype)
    return randn(shape, dtype=dt, requires_grad=requires_grad, device=t.device)


from minidl import ops  # noqa: E402  (ops import Tensor from this module)
