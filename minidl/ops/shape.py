"""Shape ops: reshape/view, transpose/permute, squeeze/unsqueeze, expand/broadcast_to, indexing, cat/stack/split,
and pad. Views share memory (and the version counter) with their input, as NumPy views do."""

from __future__ import annotations

import builtins
import functools
import math
from typing import Any, Sequence

import numpy as np

from minidl import dtypes
from minidl.autograd import Function
from minidl.ops.checks import expect_tensor
from minidl.ops.conversion import cast
from minidl.ops.dims import normalize_dim
from minidl.tensor import Tensor
from minidl.text import plural


def _shape_args(shape: tuple, op: str) -> tuple[int, ...]:
    """``f(2, 3)`` and ``f((2, 3))`` both give (2, 3)."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    for s in shape:
        if isinstance(s, bool) or not hasattr(s, "__index__"):
            raise TypeError(f"{op}: sizes must be integers, got {shape}")
    return tuple(s.__index__() for s in shape)


# --------------------------------------------------------------------------------------------- reshape, view


class ReshapeOp(Function):
    save_inputs = False
    is_view = True

    def forward(self, x, shape, view_only):
        self.shape = x.shape
        out = self.xp.reshape(x, shape)
        if view_only and out.size and not self.xp.may_share_memory(out, x):
            raise ValueError("the reshape needed a copy")
        return out

    def backward(self, g):
        return (self.xp.reshape(g, self.shape),)


def _reshape(x: Tensor, shape: tuple, op: str, view_only: bool) -> Tensor:
    expect_tensor(x, op)
    shape = _shape_args(shape, op)
    if shape == x.data.shape:
        return x
    known = math.prod(s for s in shape if s != -1)
    unknown = shape.count(-1)
    size = x.data.size
    if (
        unknown > 1
        or any(s < -1 for s in shape)
        or (unknown == 0 and known != size)
        or (unknown == 1 and (known == 0 or size % known))
    ):
        raise ValueError(
            f"{op}: cannot reshape a tensor of shape {tuple(x.shape)} ({plural(size, 'element')}) into {shape}"
        )
    try:
        return ReshapeOp.apply(x, shape=shape, view_only=view_only)
    except ValueError:
        raise RuntimeError(
            f"view: the shape {shape} is not compatible with the memory layout of this tensor of shape "
            f"{tuple(x.shape)} (strides {x.data.strides}); use reshape(), which copies when it must"
        ) from None


def reshape(x: Tensor, *shape: Any) -> Tensor:
    """``x`` with a new shape of the same number of elements (one size may be -1); a view when possible."""
    return _reshape(x, shape, "reshape", False)


def view(x: Tensor, *shape: Any) -> Tensor:
    """Like ``reshape`` but always a view: refused when the memory layout would force a copy."""
    return _reshape(x, shape, "view", True)


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """``x`` with dims ``start_dim`` .. ``end_dim`` (inclusive) merged into one."""
    if expect_tensor(x, "flatten").data.ndim == 0:
        return reshape(x, 1)
    start, end = normalize_dim(start_dim, x.data.ndim), normalize_dim(end_dim, x.data.ndim)
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    shape = x.data.shape
    return reshape(x, shape[:start] + (math.prod(shape[start : end + 1]),) + shape[end + 1 :])


def squeeze(x: Tensor, dim: Any = None) -> Tensor:
    """``x`` without its size-1 dims (only those in ``dim``, an int or tuple, when given; others are kept)."""
    shape = expect_tensor(x, "squeeze").data.shape
    if dim is None:
        dims = {i for i, n in enumerate(shape) if n == 1}
    else:
        dims = {normalize_dim(d, x.data.ndim) for d in (dim if isinstance(dim, (tuple, list)) else (dim,))}
        dims = {d for d in dims if x.data.ndim and shape[d] == 1}
    return reshape(x, tuple(n for i, n in enumerate(shape) if i not in dims))


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    """``x`` with a new size-1 dim inserted at ``dim`` (in [-ndim-1, ndim])."""
    d = normalize_dim(dim, expect_tensor(x, "unsqueeze").data.ndim + 1)
    shape = x.data.shape
    return reshape(x, shape[:d] + (1,) + shape[d:])


# ---------------------------------------------------------------------------------------- transpose, permute


class PermuteOp(Function):
    save_inputs = False
    is_view = True

    def forward(self, x, dims):
        self.inverse = tuple(np.argsort(dims))
        return self.xp.transpose(x, dims)

    def backward(self, g):
        return (self.xp.transpose(g, self.inverse),)


def permute(x: Tensor, *dims: Any) -> Tensor:
    """``x`` with its dims reordered: output dim i is input dim ``dims[i]``."""
    dims = _shape_args(dims, "permute")
    ndim = expect_tensor(x, "permute").data.ndim
    if len(dims) != ndim:
        raise ValueError(f"permute: got {plural(len(dims), 'dim')} {dims} for a tensor with {plural(ndim, 'dim')}")
    dims = tuple(normalize_dim(d, ndim) for d in dims)
    if sorted(dims) != list(range(ndim)):
        raise ValueError(f"permute: {dims} is not a permutation of the dims 0..{ndim - 1}")
    if dims == tuple(range(ndim)):
        return x
    return PermuteOp.apply(x, dims=dims)


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    """``x`` with dims ``dim0`` and ``dim1`` swapped."""
    ndim = expect_tensor(x, "transpose").data.ndim
    if ndim == 0:
        normalize_dim(dim0, 0), normalize_dim(dim1, 0)
        return x
    dims = list(range(ndim))
    d0, d1 = normalize_dim(dim0, ndim), normalize_dim(dim1, ndim)
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return permute(x, dims)


# -------------------------------------------------------------------------------------- expand, broadcast_to


class ExpandOp(Function):
    save_inputs = False
    is_view = True

    def forward(self, x, shape):
        return self.xp.broadcast_to(x, shape)

    def backward(self, g):
        return (g,)  # autograd sums it back over the broadcast dims


def broadcast_to(x: Tensor, shape: Sequence[int]) -> Tensor:
    """``x`` broadcast to ``shape`` (NumPy's rules), as a read-only view."""
    shape = _shape_args((shape,), "broadcast_to")
    if shape == expect_tensor(x, "broadcast_to").data.shape:
        return x
    try:
        return ExpandOp.apply(x, shape=shape)
    except ValueError:
        raise ValueError(f"broadcast_to: a tensor of shape {tuple(x.shape)} cannot be broadcast to {shape}") from None


def expand(x: Tensor, *sizes: Any) -> Tensor:
    """``x`` broadcast to ``sizes``, where -1 keeps a dim's size (PyTorch's expand)."""
    sizes = _shape_args(sizes, "expand")
    lead = len(sizes) - expect_tensor(x, "expand").data.ndim
    if lead < 0:
        raise ValueError(
            f"expand: {plural(len(sizes), 'size')} {sizes} given for a tensor with {plural(x.data.ndim, 'dim')}"
        )
    target = []
    for i, size in enumerate(sizes):
        if size == -1:
            if i < lead:
                raise ValueError(f"expand: -1 is not allowed for the new leading dim {i} in {sizes}")
            size = x.data.shape[i - lead]
        target.append(size)
    return broadcast_to(x, tuple(target))


# --------------------------------------------------------------------------------------------------- indexing


def index_key(key: Any, like: Tensor) -> Any:
    """An indexing key for ``like``'s raw array: tensors inside it become their arrays, lists and NumPy arrays
    arrays of ``like``'s device (integer or bool only)."""
    parts = key if isinstance(key, tuple) else (key,)
    backend = like._backend
    out = []
    for k in parts:
        if isinstance(k, Tensor):
            if k._backend is not backend:
                raise RuntimeError(
                    f"indexing: the index is on {k._backend.name} but the tensor is on {backend.name}; move the "
                    f"index with .to({backend.name!r})"
                )
            k = k.data
        elif isinstance(k, (list, np.ndarray)):
            host = np.asarray([i.item() if isinstance(i, Tensor) else i for i in k]) if isinstance(k, list) else k
            if host.size == 0:
                host = host.astype(np.int64)  # [] selects nothing, as in NumPy
            if host.dtype.kind not in "iub":
                raise IndexError(f"tensors used as indices must be integer or bool, got {host.dtype.name}")
            k = backend.from_numpy(host)
        if isinstance(k, backend.array_type) and k.dtype.kind not in "iub":
            raise IndexError(f"tensors used as indices must be integer or bool, got {k.dtype.name}")
        out.append(k)
    return tuple(out)


class GetItemOp(Function):
    save_inputs = False
    is_view = True

    def forward(self, x, key):
        self.shape, self.key = x.shape, key
        return x[key]

    def backward(self, g):
        xp, shape, key = self.xp, self.shape, self.key
        array = self.backend.array_type
        repeats_possible = builtins.any(isinstance(k, array) and k.dtype.kind in "iu" and k.size > 1 for k in key)
        if not repeats_possible:
            gx = xp.zeros(shape, dtype=g.dtype)
            gx[key] = g
            return (gx,)
        # Integer-array indices may repeat: map every output element to the flat position it was read from
        # and scatter-add the gradient there, so repeated reads accumulate.
        size = math.prod(shape)
        positions = xp.reshape(xp.arange(size, dtype=np.int64), shape)[key]
        gx = xp.zeros(size, dtype=g.dtype)
        self.backend.kernels.scatter_add(gx, xp.reshape(positions, -1), xp.reshape(g, -1))
        return (xp.reshape(gx, shape),)


def getitem(x: Tensor, key: Any) -> Tensor:
    """``x[key]`` with NumPy's rules: ints, slices (negative steps too), None, Ellipsis, bool masks and integer
    arrays or tensors (repeated indices accumulate their gradients)."""
    key = index_key(key, expect_tensor(x, "getitem"))
    try:
        return GetItemOp.apply(x, key=key)
    except IndexError as err:
        raise IndexError(f"indexing a tensor of shape {tuple(x.shape)}: {err}") from None


# ---------------------------------------------------------------------------------------- cat, stack, split


def _same_dtype(tensors: Sequence[Tensor], op: str) -> list[Tensor]:
    if isinstance(tensors, Tensor):
        raise TypeError(f"{op}: expected a sequence of tensors, got one Tensor; pass a list: {op}([a, b])")
    if not tensors:
        raise ValueError(f"{op}: expected a non-empty sequence of tensors")
    for i, t in enumerate(tensors):
        expect_tensor(t, op, f"tensors[{i}]")
    dtype = functools.reduce(dtypes.promote, [t.data.dtype for t in tensors])
    return [cast(t, dtype) for t in tensors]


class CatOp(Function):
    save_inputs = False

    def forward(self, *arrays, axis):
        self.axis = axis
        self.bounds = np.cumsum([a.shape[axis] for a in arrays])[:-1]
        return self.xp.concatenate(arrays, axis=axis)

    def backward(self, g):
        return tuple(self.xp.split(g, self.bounds, axis=self.axis))


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing dim ``dim``; their other sizes must match."""
    tensors = _same_dtype(tensors, "cat")
    ndim = tensors[0].data.ndim
    if ndim == 0:
        raise ValueError("cat: zero-dimensional tensors cannot be concatenated; use stack")
    axis = normalize_dim(dim, ndim)
    shapes = [tuple(t.shape) for t in tensors]
    for s in shapes:
        if len(s) != ndim or s[:axis] + s[axis + 1 :] != shapes[0][:axis] + shapes[0][axis + 1 :]:
            raise ValueError(f"cat: along dim {axis} the other sizes must match, got shapes {shapes}")
    return CatOp.apply(*tensors, axis=axis)


class StackOp(Function):
    save_inputs = False

    def forward(self, *arrays, axis):
        self.axis = axis
        return self.xp.stack(arrays, axis=axis)

    def backward(self, g):
        index = (slice(None),) * self.axis
        return tuple(g[index + (i,)] for i in range(g.shape[self.axis]))


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors of one shape along a new dim ``dim``."""
    tensors = _same_dtype(tensors, "stack")
    shapes = [tuple(t.shape) for t in tensors]
    if builtins.any(s != shapes[0] for s in shapes):
        raise ValueError(f"stack: all tensors must have the same shape, got {shapes}")
    axis = normalize_dim(dim, tensors[0].data.ndim + 1)
    return StackOp.apply(*tensors, axis=axis)


def split(x: Tensor, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """Cut ``x`` along ``dim`` into pieces of ``split_size_or_sections`` (the last may be smaller), or into pieces
    of the sizes listed."""
    axis = normalize_dim(dim, expect_tensor(x, "split").data.ndim)
    length = x.data.shape[axis]
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = list(split_size_or_sections)
        if builtins.sum(sizes) != length or builtins.any(s < 0 for s in sizes):
            raise ValueError(f"split: sizes {sizes} do not add up to the size {length} of dim {axis}")
    else:
        step = split_size_or_sections
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step <= 0:
            raise ValueError(f"split: split_size must be a positive integer, got {step!r}")
        sizes = [builtins.min(step, length - start) for start in range(0, length, step)] or [0]
    pieces, start = [], 0
    for size in sizes:
        pieces.append(getitem(x, (slice(None),) * axis + (slice(start, start + size),)))
        start += size
    return tuple(pieces)


def chunk(x: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """Cut ``x`` along ``dim`` into ``chunks`` pieces of equal size (the last may be smaller, or fewer pieces)."""
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    expect_tensor(x, "chunk")
    length = x.data.shape[normalize_dim(dim, x.data.ndim)]
    return split(x, builtins.max(1, -(-length // chunks)), dim)


# ------------------------------------------------------------------------------------------------------- pad

_PAD_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


class PadOp(Function):
    save_inputs = False

    def forward(self, x, widths, mode, value):
        xp = self.xp
        self.shape, self.widths, self.mode = x.shape, widths, mode
        grow = [(builtins.max(lo, 0), builtins.max(hi, 0)) for lo, hi in widths]
        if mode == "constant":
            out = xp.pad(x, grow, mode="constant", constant_values=value)
        else:
            out = xp.pad(x, grow, mode=_PAD_MODES[mode])
        # Negative widths crop.
        crop = tuple(
            slice(builtins.max(-lo, 0), n + builtins.max(lo, 0) + builtins.max(hi, 0) - builtins.max(-hi, 0))
            for (lo, hi), n in zip(widths, x.shape)
        )
        return out[crop]

    def backward(self, g):
        xp, shape, widths = self.xp, self.shape, self.widths
        if self.mode == "constant":
            # Input index i sits at output index i + lo, when that is inside the output.
            inside_in = tuple(
                slice(builtins.max(0, -lo), builtins.min(n, n + hi)) for (lo, hi), n in zip(widths, shape)
            )
            inside_out = tuple(slice(s.start + lo, s.stop + lo) for s, (lo, _) in zip(inside_in, widths))
            if builtins.all(s.start == 0 and s.stop == n for s, n in zip(inside_in, shape)):
                return (g[inside_out],)
            gx = xp.zeros(shape, dtype=g.dtype)
            gx[inside_in] = g[inside_out]
            return (gx,)
        # Reflect/replicate/circular read some inputs several times: pad a map of flat input positions the
        # same way, then scatter-add the gradient to the positions each output element was read from.
        size = math.prod(shape)
        positions = xp.pad(xp.reshape(xp.arange(size, dtype=np.int64), shape), widths, mode=_PAD_MODES[self.mode])
        gx = xp.zeros(size, dtype=g.dtype)
        self.backend.kernels.scatter_add(gx, xp.reshape(positions, -1), xp.reshape(g, -1))
        return (xp.reshape(gx, shape),)


def pad(x: Tensor, pad: Sequence[int], mode: str = "constant", value: float = 0.0) -> Tensor:
    """Pad ``x`` as ``torch.nn.functional.pad``: ``pad`` = (left, right) for the last dim, then (left, right) for
    the one before, and so on. Modes: 'constant' (fill with ``value``; negative widths crop), 'reflect'
    (mirror without repeating the edge), 'replicate' (repeat the edge), 'circular' (wrap around)."""
    pad = tuple(pad)
    if len(pad) % 2 or len(pad) // 2 > expect_tensor(x, "pad").data.ndim:
        raise ValueError(
            f"pad: expected an even number of widths, at most 2 per dim ({2 * x.data.ndim} for this "
            f"{x.data.ndim}-D tensor), got {len(pad)}: {pad}"
        )
    if mode not in _PAD_MODES:
        raise ValueError(f"pad: mode must be one of {', '.join(_PAD_MODES)}, got {mode!r}")
    ndim, k = x.data.ndim, len(pad) // 2
    widths = [(0, 0)] * (ndim - k) + [(pad[2 * i], pad[2 * i + 1]) for i in reversed(range(k))]
    for d, ((lo, hi), n) in enumerate(zip(widths, x.data.shape)):
        if mode != "constant" and (lo < 0 or hi < 0):
            raise ValueError(f"pad: negative widths are only allowed in constant mode, got {pad}")
        if mode == "reflect" and (lo >= n or hi >= n) and (lo or hi):
            raise ValueError(f"pad: reflect widths must be smaller than the size {n} of dim {d}, got {(lo, hi)}")
        if mode == "circular" and (lo > n or hi > n):
            raise ValueError(f"pad: circular widths must be at most the size {n} of dim {d}, got {(lo, hi)}")
        if mode == "replicate" and n == 0 and (lo or hi):
            raise ValueError(f"pad: cannot replicate the edge of the empty dim {d}")
        if n + lo + hi < 0:
            raise ValueError(f"pad: widths {(lo, hi)} crop more than the size {n} of dim {d}")
    return PadOp.apply(x, widths=tuple(widths), mode=mode, value=value)
