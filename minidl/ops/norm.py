"""Normalisation: batch norm (batch statistics in training, running statistics in evaluation) and AlexNet's
local response normalisation across channels."""

from __future__ import annotations

from typing import Any

from minidl import autograd
from minidl.autograd import Function
from minidl.ops.checks import dtype_mismatch, expect_tensor
from minidl.tensor import Tensor
from minidl.text import plural


class BatchNormTrainOp(Function):
    """Normalise with the batch's own mean and (biased) variance per channel; x viewed as (N, C, L)."""

    def forward(self, x, weight, bias, eps):
        self.shape = x.shape
        x3 = self.xp.reshape(x, (x.shape[0], x.shape[1], -1))
        out, self.mean, self.invstd, self.var = self.backend.kernels.batch_norm_forward(x3, weight, bias, eps)
        self.x3, self.weight = x3, weight
        return self.xp.reshape(out, x.shape)

    def backward(self, g):
        g3 = self.xp.reshape(g, self.x3.shape)
        dx, dweight, dbias = self.backend.kernels.batch_norm_backward(g3, self.x3, self.weight, self.mean, self.invstd)
        return self.xp.reshape(dx, self.shape), dweight, dbias


class BatchNormEvalOp(Function):
    """Normalise with fixed statistics: an affine map per channel, y = (x - mean) * invstd * weight + bias,
    computed as x * scale + shift (two passes over x instead of four; PyTorch's CPU kernel does the same)."""

    def forward(self, x, weight, bias, mean, invstd):
        xp = self.xp
        view = (1, -1) + (1,) * (x.ndim - 2)
        scale = invstd * weight
        self.x, self.mean, self.invstd, self.scale = x, mean, invstd, xp.reshape(scale, view)
        out = x * self.scale
        out += xp.reshape(bias - mean * scale, view)
        return out

    def backward(self, g):
        xp = self.xp
        axes = (0,) + tuple(range(2, g.ndim))
        view = self.scale.shape
        need_x, need_w, need_b = self.needs_input_grad[:3]
        xhat = (self.x - xp.reshape(self.mean, view)) * xp.reshape(self.invstd, view) if need_w else None
        return (
            g * self.scale if need_x else None,
            xp.sum(g * xhat, axis=axes) if need_w else None,
            xp.sum(g, axis=axes) if need_b else None,
            None,
            None,
        )


def _channel_vector(t: Tensor | None, c: int, name: str, x: Tensor, fill: float) -> Tensor:
    if t is None:
        xp = x._backend.xp
        return Tensor._make(xp.full(c, fill, dtype=x.data.dtype), x._backend)
    if tuple(expect_tensor(t, "batch_norm", name).shape) != (c,):
        raise ValueError(f"batch_norm: {name} must have shape ({c},) for {plural(c, 'channel')}, got {tuple(t.shape)}")
    if name in ("weight", "bias") and t.data.dtype != x.data.dtype:
        raise dtype_mismatch("batch_norm", x.data.dtype, t.data.dtype, name)
    return t


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Batch normalisation, as ``torch.nn.functional.batch_norm``. input: (N, C) or (N, C, *).

    Training: normalise with the batch mean and biased variance per channel, and (when given) update the running
    statistics in place: running = (1 - momentum) * running + momentum * batch, with the unbiased batch variance.
    Evaluation: normalise with the running statistics. weight/bias: (C,) or None (1 and 0).
    """
    op = "batch_norm"
    if expect_tensor(input, op).data.ndim < 2:
        raise ValueError(f"{op}: expected an (N, C) or (N, C, ...) input, got shape {tuple(input.shape)}")
    if input.data.dtype.kind != "f":
        raise TypeError(f"{op}: needs a floating-point input, got {input.data.dtype.name}")
    c = input.shape[1]
    weight = _channel_vector(weight, c, "weight", input, 1.0)
    bias = _channel_vector(bias, c, "bias", input, 0.0)
    if training:
        count = input.data.size // c
        if count < 2:
            raise ValueError(
                f"{op}: training needs more than one value per channel to compute a variance, got input shape "
                f"{tuple(input.shape)}"
            )
        out = BatchNormTrainOp.apply(input, weight, bias, eps=eps)
        if running_mean is not None or running_var is not None:
            if momentum is None:
                raise ValueError(
                    f"{op}: momentum=None (a cumulative average) is handled by the BatchNorm modules; pass a float"
                )
            node = out.grad_fn
            mean, var = (node.mean, node.var) if node is not None else _batch_stats(input, eps)
            _update_running(running_mean, running_var, mean, var, momentum, count, c)
        return out
    if running_mean is None or running_var is None:
        raise ValueError(f"{op}: evaluation mode needs running_mean and running_var")
    for name, t in (("running_mean", running_mean), ("running_var", running_var)):
        _channel_vector(t, c, name, input, 0.0)
    xp = input._backend.xp
    invstd = Tensor._make((1.0 / xp.sqrt(running_var.data + eps)).astype(input.data.dtype), input._backend)
    mean = Tensor._make(running_mean.data.astype(input.data.dtype, copy=False), input._backend)
    return BatchNormEvalOp.apply(input, weight, bias, mean, invstd)


def _batch_stats(x: Tensor, eps: float) -> tuple[Any, Any]:
    """The batch mean and biased variance per channel when no graph kept them (the forward ran under no_grad)."""
    x3 = x._backend.xp.reshape(x.data, (x.shape[0], x.shape[1], -1))
    _, mean, _, var = x._backend.kernels.batch_norm_forward(x3, None, None, eps)
    return mean, var


def _update_running(running_mean, running_var, mean, var, momentum, count, c) -> None:
    """running = (1 - momentum) running + momentum batch, with the unbiased batch variance (as PyTorch does)."""
    with autograd.no_grad():
        if running_mean is not None:
            _channel_vector(running_mean, c, "running_mean", running_mean, 0.0)
            running_mean.mul_(1 - momentum).add_(mean.astype(running_mean.data.dtype) * momentum)
        if running_var is not None:
            _channel_vector(running_var, c, "running_var", running_var, 0.0)
            unbiased = var.astype(running_var.data.dtype) * (count / (count - 1))
            running_var.mul_(1 - momentum).add_(unbiased * momentum)


class LocalResponseNormOp(Function):
    """y_c = x_c / (k + alpha / size * sum of x_j^2 over the ``size`` channels around c) ** beta."""

    def forward(self, x, size, alpha, beta, k):
        xp = self.xp
        self.x, self.size, self.alpha, self.beta = x, size, alpha, beta
        self.base = k + (alpha / size) * _channel_window_sum(xp, x * x, size // 2, (size - 1) // 2)
        self.out = x * self.base ** (-beta)
        return self.out

    def backward(self, g):
        xp, x, size = self.xp, self.x, self.size
        # d y_c / d x_c directly, and through the sums: x_j sits in the window of every c within reach of j.
        spread = _channel_window_sum(xp, g * self.out / self.base, (size - 1) // 2, size // 2)
        return (g * self.base ** (-self.beta) - (2 * self.alpha * self.beta / size) * x * spread,)


def _channel_window_sum(xp: Any, a: Any, before: int, after: int) -> Any:
    """Sum of ``a`` over channels c - before .. c + after (zero outside), along dim 1."""
    pad = [(0, 0)] * a.ndim
    pad[1] = (before + 1, after)
    cumulative = xp.cumsum(xp.pad(a, pad), axis=1)
    c = a.shape[1]
    upper = [slice(None)] * a.ndim
    lower = [slice(None)] * a.ndim
    upper[1] = slice(before + after + 1, before + after + 1 + c)
    lower[1] = slice(0, c)
    return cumulative[tuple(upper)] - cumulative[tuple(lower)]


def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> Tensor:
    """Local response normalisation across channels (AlexNet), as ``torch.nn.functional.local_response_norm``.
    input: (N, C, ...) with at least 3 dims."""
    if expect_tensor(input, "local_response_norm").data.ndim < 3:
        raise ValueError(f"local_response_norm: expected an input with 3 or more dims, got shape {tuple(input.shape)}")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"local_response_norm: size must be a positive integer, got {size!r}")
    return LocalResponseNormOp.apply(input, size=size, alpha=alpha, beta=beta, k=k)
