"""Activations and (log-)softmax, numerically stable; exported as ``minidl.nn.functional``."""

from __future__ import annotations

import math

from minidl.autograd import Function
from minidl.ops.checks import expect_tensor
from minidl.ops.dims import normalize_dim
from minidl.ops.operands import floating
from minidl.tensor import Tensor


class ReLUOp(Function):
    save_inputs = False
    save_output = True

    def forward(self, x):
        self.out = self.xp.maximum(x, 0)
        return self.out

    def backward(self, g):
        return (self.backend.kernels.keep_where(g, self.out > 0),)


class LeakyReLUOp(Function):
    def forward(self, x, slope):
        self.x, self.slope = x, slope
        return self.xp.where(x > 0, x, x * slope)

    def backward(self, g):
        return (self.xp.where(self.x > 0, g, g * self.slope),)


class HardtanhOp(Function):
    def forward(self, x, low, high):
        self.x, self.low, self.high = x, low, high
        return self.xp.clip(x, low, high)

    def backward(self, g):
        # PyTorch's rule: the gradient passes only strictly inside (low, high), so 0 at both kinks.
        return (self.backend.kernels.keep_where(g, (self.x > self.low) & (self.x < self.high)),)


class ELUOp(Function):
    save_output = True

    def forward(self, x, alpha):
        self.x, self.alpha = x, alpha
        self.out = self.xp.where(x > 0, x, alpha * self.xp.expm1(self.xp.minimum(x, 0)))
        return self.out

    def backward(self, g):
        # For x <= 0: d/dx alpha (e^x - 1) = alpha e^x = out + alpha.
        return (self.xp.where(self.x > 0, g, g * (self.out + self.alpha)),)


def _sigmoid(xp, z):
    """1 / (1 + e^-z) without overflow, and without cancellation in either tail."""
    e = xp.exp(-xp.abs(z))  # in (0, 1]: never overflows
    return xp.where(z >= 0, 1 / (1 + e), e / (1 + e))


class GELUOp(Function):
    """x Φ(x) with Φ the standard normal CDF (exact, through erf), or its tanh approximation."""

    def forward(self, x, approximate):
        xp = self.xp
        self.x, self.approximate = x, approximate
        if approximate == "tanh":
            # 0.5 (1 + tanh(u)) = sigmoid(2u): the same value, without 1 + tanh(u) cancelling for negative x.
            self.s = _sigmoid(xp, (2 * math.sqrt(2 / math.pi)) * (x + 0.044715 * x**3))
            return x * self.s
        self.cdf = 0.5 * (1 + self.backend.kernels.erf(x * (1 / math.sqrt(2))))
        return x * self.cdf

    def backward(self, g):
        xp, x = self.xp, self.x
        if self.approximate == "tanh":
            s = self.s
            d2u = (2 * math.sqrt(2 / math.pi)) * (1 + 3 * 0.044715 * x * x)  # d(2u)/dx
            return (g * (s + x * s * (1 - s) * d2u),)
        pdf = xp.exp(-0.5 * x * x) * (1 / math.sqrt(2 * math.pi))
        return (g * (self.cdf + x * pdf),)


class SigmoidOp(Function):
    save_inputs = False
    save_output = True

    def forward(self, x):
        self.out = _sigmoid(self.xp, x)
        return self.out

    def backward(self, g):
        return (g * self.out * (1 - self.out),)


class TanhOp(Function):
    save_inputs = False
    save_output = True

    def forward(self, x):
        self.out = self.xp.tanh(x)
        return self.out

    def backward(self, g):
        return (g * (1 - self.out * self.out),)


def _log_softmax(fn: Function, x, axis: int):
    """log-softmax of ``x`` along ``axis`` through the device's fused row kernel (the axis moved last)."""
    xp = fn.xp
    if x.ndim == 0:  # one class: log-softmax 0 (or nan for a nan/inf logit)
        return xp.reshape(fn.backend.kernels.log_softmax(xp.reshape(x, (1, 1))), ())
    moved = xp.moveaxis(x, axis, -1)
    rows = xp.reshape(xp.ascontiguousarray(moved), (-1, moved.shape[-1]))
    out = xp.reshape(fn.backend.kernels.log_softmax(rows), moved.shape)
    return xp.moveaxis(out, -1, axis)


class SoftmaxOp(Function):
    save_inputs = False
    save_output = True

    def forward(self, x, axis):
        xp = self.xp
        self.axis = axis
        # e / sum(e) rather than exp(log_softmax): exp would turn the rounding of a large |log p| into a relative
        # error of p several times float32's.
        e = xp.exp(x - xp.amax(x, axis=axis, keepdims=True))
        self.out = e / xp.sum(e, axis=axis, keepdims=True)
        return self.out

    def backward(self, g):
        y = self.out
        return (y * (g - self.xp.sum(g * y, axis=self.axis, keepdims=True)),)


class LogSoftmaxOp(Function):
    save_inputs = False
    save_output = True

    def forward(self, x, axis):
        self.axis = axis
        self.out = _log_softmax(self, x, axis)
        return self.out

    def backward(self, g):
        xp = self.xp
        return (g - xp.exp(self.out) * xp.sum(g, axis=self.axis, keepdims=True),)


def relu(x: Tensor) -> Tensor:
    """max(x, 0); gradient 0 at 0."""
    return ReLUOp.apply(expect_tensor(x, "relu"))


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x for x > 0, negative_slope * x otherwise."""
    return LeakyReLUOp.apply(floating(expect_tensor(x, "leaky_relu")), slope=negative_slope)


def hardtanh(x: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """x clipped to [min_val, max_val]; gradient 1 strictly inside, 0 outside and at both ends."""
    if not min_val < max_val:
        raise ValueError(f"hardtanh: min_val must be below max_val, got min_val={min_val}, max_val={max_val}")
    return HardtanhOp.apply(floating(expect_tensor(x, "hardtanh")), low=min_val, high=max_val)


def relu6(x: Tensor) -> Tensor:
    """min(max(x, 0), 6) (MobileNet v2's activation); gradient 0 at 0 and at 6."""
    return hardtanh(x, 0.0, 6.0)


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    """x for x > 0, alpha (e^x - 1) otherwise."""
    return ELUOp.apply(floating(expect_tensor(x, "elu")), alpha=alpha)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """x Φ(x), Φ the standard normal CDF; ``approximate='tanh'`` uses the tanh approximation."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELUOp.apply(floating(expect_tensor(x, "gelu")), approximate=approximate)


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + e^-x), without overflow for large |x|."""
    return SigmoidOp.apply(floating(expect_tensor(x, "sigmoid")))


def tanh(x: Tensor) -> Tensor:
    """The hyperbolic tangent."""
    return TanhOp.apply(floating(expect_tensor(x, "tanh")))


def softmax(x: Tensor, dim: int) -> Tensor:
    """e^x / sum(e^x) along ``dim``, shifted by the maximum so large logits do not overflow."""
    x = floating(expect_tensor(x, "softmax"))
    return SoftmaxOp.apply(x, axis=normalize_dim(dim, x.data.ndim))


def log_softmax(x: Tensor, dim: int) -> Tensor:
    """x - logsumexp(x) along ``dim``, exact for logits in the thousands."""
    x = floating(expect_tensor(x, "log_softmax"))
    return LogSoftmaxOp.apply(x, axis=normalize_dim(dim, x.data.ndim))
