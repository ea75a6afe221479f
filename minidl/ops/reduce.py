"""Reductions over ``dim`` (an int, a tuple, or None for all) with ``keepdim``; NumPy's ``axis``/``keepdims``
are accepted too. ``max``/``min`` return values (``argmax``/``argmin`` give indices)."""

from __future__ import annotations

import math
from typing import Any

from minidl import dtypes
from minidl.autograd import Function
from minidl.ops.checks import expect_tensor
from minidl.ops.dims import normalize_dim, normalize_dims, resolve_aliases
from minidl.ops.operands import floating
from minidl.tensor import Tensor


def _kept_shape(shape: tuple, axes: tuple | None) -> tuple:
    """``shape`` with the reduced axes set to 1 (the keepdim shape)."""
    if axes is None:
        return (1,) * len(shape)
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _count(shape: tuple, axes: tuple | None) -> int:
    return math.prod(shape) if axes is None else math.prod(shape[i] for i in axes)


class SumOp(Function):
    save_inputs = False

    def forward(self, x, axes, keepdim):
        self.shape, self.axes = x.shape, axes
        dtype = None if x.dtype.kind == "f" else dtypes.int64
        return self.xp.sum(x, axis=axes, keepdims=keepdim, dtype=dtype)

    def backward(self, g):
        xp = self.xp
        return (xp.broadcast_to(xp.reshape(g, _kept_shape(self.shape, self.axes)), self.shape),)


class MeanOp(Function):
    save_inputs = False

    def forward(self, x, axes, keepdim):
        self.shape, self.axes = x.shape, axes
        return self.xp.mean(x, axis=axes, keepdims=keepdim)

    def backward(self, g):
        xp = self.xp
        g = xp.true_divide(xp.reshape(g, _kept_shape(self.shape, self.axes)), _count(self.shape, self.axes))
        return (xp.broadcast_to(g, self.shape),)


class ExtremeOp(Function):
    """max or min over axes (values only). The gradient is shared equally among tied extremes (PyTorch's amax)."""

    save_output = True

    def forward(self, x, axes, keepdim, largest):
        if x.size == 0:
            raise ValueError(f"{'max' if largest else 'min'}() of an empty tensor (shape {x.shape}) has no value")
        self.x, self.axes = x, axes
        self.kept = (self.xp.amax if largest else self.xp.amin)(x, axis=axes, keepdims=True)
        return self.kept if keepdim else self.xp.reshape(self.kept, _reduced_shape(x.shape, axes))

    def backward(self, g):
        xp = self.xp
        mask = self.x == self.kept
        share = xp.true_divide(xp.reshape(g, self.kept.shape), xp.sum(mask, axis=self.axes, keepdims=True))
        return (xp.where(mask, share, 0),)


def _reduced_shape(shape: tuple, axes: tuple | None) -> tuple:
    if axes is None:
        return ()
    return tuple(n for i, n in enumerate(shape) if i not in axes)


class VarOp(Function):
    def forward(self, x, axes, correction, keepdim):
        xp = self.xp
        self.x, self.axes = x, axes
        self.mean = xp.mean(x, axis=axes, keepdims=True)
        self.denominator = _count(x.shape, axes) - correction
        centered = xp.subtract(x, self.mean)
        with self.backend.errstate(divide="ignore", invalid="ignore"):
            return xp.true_divide(xp.sum(centered * centered, axis=axes, keepdims=keepdim), self.denominator)

    def backward(self, g):
        xp = self.xp
        g = xp.reshape(g, _kept_shape(self.x.shape, self.axes))
        with self.backend.errstate(divide="ignore", invalid="ignore"):
            scale = xp.true_divide(xp.multiply(g, 2.0), self.denominator)
        return (xp.multiply(xp.subtract(self.x, self.mean), scale),)


class StdOp(VarOp):
    """sqrt(var). Where the deviation is 0 its gradient is taken as 0 (PyTorch's choice), not 1/0."""

    save_output = True

    def forward(self, x, axes, correction, keepdim):
        self.out = self.xp.sqrt(super().forward(x, axes, correction, keepdim))
        return self.out

    def backward(self, g):
        xp = self.xp
        kept = _kept_shape(self.x.shape, self.axes)
        g, out = xp.reshape(g, kept), xp.reshape(self.out, kept)
        with self.backend.errstate(divide="ignore", invalid="ignore"):
            g_var = xp.where(out == 0, 0, xp.true_divide(g, xp.multiply(out, 2)))
        return super().backward(g_var)


class LogSumExpOp(Function):
    save_output = True

    def forward(self, x, axes, keepdim):
        xp = self.xp
        self.x, self.axes = x, axes
        shift = xp.amax(x, axis=axes, keepdims=True) if x.size else xp.zeros(_kept_shape(x.shape, axes), x.dtype)
        shift = xp.where(xp.isfinite(shift), shift, 0)  # all -inf (or inf) along a row: no shift
        with self.backend.errstate(divide="ignore", invalid="ignore"):
            self.kept = xp.add(xp.log(xp.sum(xp.exp(xp.subtract(x, shift)), axis=axes, keepdims=True)), shift)
        return self.kept if keepdim else xp.reshape(self.kept, _reduced_shape(x.shape, axes))

    def backward(self, g):
        xp = self.xp
        softmax = xp.exp(xp.subtract(self.x, self.kept))
        return (xp.multiply(xp.reshape(g, self.kept.shape), softmax),)


def _axes(x: Tensor, dim: Any, keepdim: bool, aliases: dict, op: str) -> tuple[tuple | None, bool]:
    expect_tensor(x, op)
    dim, keepdim = resolve_aliases(dim, keepdim, aliases, op)
    return normalize_dims(dim, x.data.ndim), keepdim


def _need_float(x: Tensor, op: str) -> None:
    if not dtypes.is_floating(x.data.dtype):
        raise TypeError(f"{op}() needs a floating-point tensor, got {x.data.dtype.name}; cast it with .float() first")


def sum(x: Tensor, dim: Any = None, keepdim: bool = False, **aliases: Any) -> Tensor:
    """The sum over ``dim`` (all dims when None). Integer and bool tensors sum to int64."""
    axes, keepdim = _axes(x, dim, keepdim, aliases, "sum")
    return SumOp.apply(x, axes=axes, keepdim=keepdim)


def mean(x: Tensor, dim: Any = None, keepdim: bool = False, **aliases: Any) -> Tensor:
    """The mean over ``dim`` (all dims when None); floating-point tensors only."""
    axes, keepdim = _axes(x, dim, keepdim, aliases, "mean")
    _need_float(x, "mean")
    return MeanOp.apply(x, axes=axes, keepdim=keepdim)


def max(x: Tensor, dim: Any = None, keepdim: bool = False, **aliases: Any) -> Tensor:
    """The largest value over ``dim`` (all dims when None); ties share the gradient."""
    axes, keepdim = _axes(x, dim, keepdim, aliases, "max")
    return ExtremeOp.apply(x, axes=axes, keepdim=keepdim, largest=True)


def min(x: Tensor, dim: Any = None, keepdim: bool = False, **aliases: Any) -> Tensor:
    """The smallest value over ``dim`` (all dims when None); ties share the gradient."""
    axes, keepdim = _axes(x, dim, keepdim, aliases, "min")
    return ExtremeOp.apply(x, axes=axes, keepdim=keepdim, largest=False)


def _correction(unbiased: bool, kw: dict, op: str) -> tuple[int, dict]:
    kw = dict(kw)
    correction = kw.pop("correction", None)
    ddof = kw.pop("ddof", None)
    if correction is not None and ddof is not None:
        raise TypeError(f"{op}(): give correction or ddof, not both")
    if correction is None:
        correction = ddof
    if correction is None:
        correction = 1 if unbiased else 0
    return correction, kw


def var(x: Tensor, dim: Any = None, unbiased: bool = True, keepdim: bool = False, **kw: Any) -> Tensor:
    """The variance over ``dim``: sum((x - mean)²) / (N - correction). ``correction`` (or NumPy's ``ddof``)
    defaults to 1 (unbiased) or 0 when ``unbiased=False``."""
    correction, aliases = _correction(unbiased, kw, "var")
    axes, keepdim = _axes(x, dim, keepdim, aliases, "var")
    _need_float(x, "var")
    return VarOp.apply(x, axes=axes, correction=correction, keepdim=keepdim)


def std(x: Tensor, dim: Any = None, unbiased: bool = True, keepdim: bool = False, **kw: Any) -> Tensor:
    """The standard deviation over ``dim``: sqrt(var(x, dim, ...)); its gradient is 0 where it is 0."""
    correction, aliases = _correction(unbiased, kw, "std")
    axes, keepdim = _axes(x, dim, keepdim, aliases, "std")
    _need_float(x, "std")
    return StdOp.apply(x, axes=axes, correction=correction, keepdim=keepdim)


def logsumexp(x: Tensor, dim: Any = None, keepdim: bool = False, **aliases: Any) -> Tensor:
    """log(sum(exp(x))) over ``dim``, computed without overflow (shifted by the maximum)."""
    axes, keepdim = _axes(x, dim, keepdim, aliases, "logsumexp")
    return LogSumExpOp.apply(floating(x), axes=axes, keepdim=keepdim)


def _arg_extreme(x: Tensor, dim: Any, keepdim: bool, aliases: dict, op: str) -> Tensor:
    expect_tensor(x, op)
    dim, keepdim = resolve_aliases(dim, keepdim, aliases, op)
    xp = x._backend.xp
    if x.data.size == 0:
        raise ValueError(f"{op}() of an empty tensor (shape {x.shape})")
    fn = xp.argmax if op == "argmax" else xp.argmin
    if dim is None:
        out = fn(x.data)
        if keepdim:
            out = xp.reshape(out, (1,) * x.data.ndim)
    else:
        out = fn(x.data, axis=normalize_dim(dim, x.data.ndim), keepdims=keepdim)
    return Tensor._make(xp.asarray(out, dtype=dtypes.int64), x._backend)


def argmax(x: Tensor, dim: int | None = None, keepdim: bool = False, **aliases: Any) -> Tensor:
    """The index of the largest value along ``dim`` (of the flattened tensor when None); int64, no gradient."""
    return _arg_extreme(x, dim, keepdim, aliases, "argmax")


def argmin(x: Tensor, dim: int | None = None, keepdim: bool = False, **aliases: Any) -> Tensor:
    """The index of the smallest value along ``dim`` (of the flattened tensor when None); int64, no gradient."""
    return _arg_extreme(x, dim, keepdim, aliases, "argmin")


def any(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Whether any element is non-zero, over ``dim``; bool, no gradient."""
    axes = normalize_dims(dim, expect_tensor(x, "any").data.ndim)
    return Tensor._make(x._backend.xp.asarray(x._backend.xp.any(x.data, axis=axes, keepdims=keepdim)), x._backend)


def all(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Whether every element is non-zero, over ``dim``; bool, no gradient."""
    axes = normalize_dims(dim, expect_tensor(x, "all").data.ndim)
    return Tensor._make(x._backend.xp.asarray(x._backend.xp.all(x.data, axis=axes, keepdims=keepdim)), x._backend)
