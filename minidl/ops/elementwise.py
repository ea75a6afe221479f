"""Element-wise ops with NumPy broadcasting: arithmetic, exp/log/..., maximum/minimum, clip, where, comparisons.

Each ``backward`` returns gradients in the broadcast (output) shape; autograd sums them back to each input's
shape. Where the derivative has a kink (abs at 0, clip at its bounds, maximum on ties) the choice is PyTorch's.
"""

from __future__ import annotations

from typing import Any

from minidl import dtypes
from minidl.autograd import Function
from minidl.ops.checks import expect_tensor
from minidl.ops.conversion import cast
from minidl.ops.operands import binary_operands, floating, shapes_error, to_operand
from minidl.tensor import Tensor


def _apply_broadcasting(cls: type[Function], op: str, *tensors: Tensor) -> Tensor:
    try:
        return cls.apply(*tensors)
    except ValueError as err:
        if "broadcast" in str(err):
            raise shapes_error(op, *tensors) from None
        raise


# ---------------------------------------------------------------------------------------------- arithmetic


class AddOp(Function):
    save_inputs = False

    def forward(self, a, b):
        return self.xp.add(a, b)

    def backward(self, g):
        return g, g


class SubOp(Function):
    save_inputs = False

    def forward(self, a, b):
        return self.xp.subtract(a, b)

    def backward(self, g):
        return g, (self.xp.negative(g) if self.needs_input_grad[1] else None)


class MulOp(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return self.xp.multiply(a, b)

    def backward(self, g):
        need_a, need_b = self.needs_input_grad
        return (self.xp.multiply(g, self.b) if need_a else None, self.xp.multiply(g, self.a) if need_b else None)


class DivOp(Function):
    save_output = True

    def forward(self, a, b):
        self.b = b
        self.out = self.xp.true_divide(a, b)
        return self.out

    def backward(self, g):
        xp = self.xp
        ga = xp.true_divide(g, self.b)
        gb = xp.negative(xp.multiply(ga, self.out)) if self.needs_input_grad[1] else None
        return ga, gb


class PowOp(Function):
    save_output = True

    def forward(self, a, b):
        self.a, self.b = a, b
        self.out = self.xp.power(a, b)
        return self.out

    def backward(self, g):
        xp, a, b = self.xp, self.a, self.b
        ga = gb = None
        # The masked entries may hold inf or nan (0^-1, log 0, log of a negative): silence NumPy about them.
        with self.backend.errstate(divide="ignore", invalid="ignore"):
            if self.needs_input_grad[0]:
                # d/da a^b = b a^(b-1), taken as 0 where b == 0 (so 0^0 has gradient 0, as in PyTorch).
                ga = xp.where(b == 0, 0.0, g * b * xp.power(a, b - 1)).astype(g.dtype, copy=False)
            if self.needs_input_grad[1]:
                # d/db a^b = a^b log(a), taken as 0 where a == 0 and b >= 0.
                gb = xp.where((a == 0) & (b >= 0), 0.0, g * self.out * xp.log(a)).astype(g.dtype, copy=False)
        return ga, gb


class NegOp(Function):
    save_inputs = False

    def forward(self, a):
        return self.xp.negative(a)

    def backward(self, g):
        return (self.xp.negative(g),)


def add(a: Any, b: Any) -> Tensor:
    """a + b, broadcast."""
    return _apply_broadcasting(AddOp, "add", *binary_operands(a, b, "add"))


def sub(a: Any, b: Any) -> Tensor:
    """a - b, broadcast."""
    return _apply_broadcasting(SubOp, "sub", *binary_operands(a, b, "sub"))


def mul(a: Any, b: Any) -> Tensor:
    """a * b, broadcast."""
    return _apply_broadcasting(MulOp, "mul", *binary_operands(a, b, "mul"))


def div(a: Any, b: Any) -> Tensor:
    """a / b (true division: integer inputs give float32), broadcast."""
    a, b = binary_operands(a, b, "div")
    return _apply_broadcasting(DivOp, "div", floating(a), floating(b))


def pow(a: Any, b: Any) -> Tensor:
    """a ** b, broadcast; differentiable in both the base and the exponent."""
    return _apply_broadcasting(PowOp, "pow", *binary_operands(a, b, "pow"))


def neg(a: Tensor) -> Tensor:
    """-a."""
    return NegOp.apply(expect_tensor(a, "neg"))


# -------------------------------------------------------------------------------------------------- unary


class ExpOp(Function):
    save_inputs = False
    save_output = True

    def forward(self, a):
        self.out = self.xp.exp(a)
        return self.out

    def backward(self, g):
        return (self.xp.multiply(g, self.out),)


class LogOp(Function):
    def forward(self, a):
        self.a = a
        return self.xp.log(a)

    def backward(self, g):
        return (self.xp.true_divide(g, self.a),)


class SqrtOp(Function):
    save_inputs = False
    save_output = True

    def forward(self, a):
        self.out = self.xp.sqrt(a)
        return self.out

    def backward(self, g):
        return (self.xp.true_divide(g, 2 * self.out),)


class AbsOp(Function):
    def forward(self, a):
        self.a = a
        return self.xp.abs(a)

    def backward(self, g):
        return (self.xp.multiply(g, self.xp.sign(self.a)),)


class SinOp(Function):
    def forward(self, a):
        self.a = a
        return self.xp.sin(a)

    def backward(self, g):
        return (self.xp.multiply(g, self.xp.cos(self.a)),)


class CosOp(Function):
    def forward(self, a):
        self.a = a
        return self.xp.cos(a)

    def backward(self, g):
        return (self.xp.negative(self.xp.multiply(g, self.xp.sin(self.a))),)


def exp(a: Tensor) -> Tensor:
    """e ** a, element-wise."""
    return ExpOp.apply(floating(expect_tensor(a, "exp")))


def log(a: Tensor) -> Tensor:
    """The natural logarithm, element-wise (nan below 0, -inf at 0)."""
    return LogOp.apply(floating(expect_tensor(a, "log")))


def sqrt(a: Tensor) -> Tensor:
    """The square root, element-wise (nan below 0)."""
    return SqrtOp.apply(floating(expect_tensor(a, "sqrt")))


def abs(a: Tensor) -> Tensor:
    """|a|, element-wise; its gradient at 0 is 0."""
    return AbsOp.apply(expect_tensor(a, "abs"))


def sin(a: Tensor) -> Tensor:
    """sin(a), element-wise."""
    return SinOp.apply(floating(expect_tensor(a, "sin")))


def cos(a: Tensor) -> Tensor:
    """cos(a), element-wise."""
    return CosOp.apply(floating(expect_tensor(a, "cos")))


# ------------------------------------------------------------------------------- maximum, minimum, clip, where


class MaximumOp(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return self.xp.maximum(a, b)

    def backward(self, g):
        # Ties share the gradient equally, as in PyTorch.
        xp, a, b = self.xp, self.a, self.b
        half = xp.multiply(g, 0.5)
        ga = xp.where(a > b, g, xp.where(a == b, half, 0)) if self.needs_input_grad[0] else None
        gb = xp.where(b > a, g, xp.where(a == b, half, 0)) if self.needs_input_grad[1] else None
        return ga, gb


class MinimumOp(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return self.xp.minimum(a, b)

    def backward(self, g):
        xp, a, b = self.xp, self.a, self.b
        half = xp.multiply(g, 0.5)
        ga = xp.where(a < b, g, xp.where(a == b, half, 0)) if self.needs_input_grad[0] else None
        gb = xp.where(b < a, g, xp.where(a == b, half, 0)) if self.needs_input_grad[1] else None
        return ga, gb


class ClipOp(Function):
    """out = min(max(x, low), high): x where low <= x <= high, low below it, high above it (and high wherever
    low > high). The gradient goes to whichever of x, low, high the output is; x keeps it at the bounds."""

    def forward(self, x, low, high):
        self.x, self.low, self.high = x, low, high
        return self.xp.minimum(self.xp.maximum(x, low), high)

    def backward(self, g):
        xp, x, low, high = self.xp, self.x, self.low, self.high
        to_high = (x > high) | (low > high)
        to_low = (x < low) & ~to_high
        to_x = ~(to_high | to_low)
        need_x, need_low, need_high = self.needs_input_grad
        return (
            xp.where(to_x, g, 0) if need_x else None,
            xp.where(to_low, g, 0) if need_low else None,
            xp.where(to_high, g, 0) if need_high else None,
        )


class WhereOp(Function):
    def forward(self, cond, a, b):
        self.cond = cond
        return self.xp.where(cond, a, b)

    def backward(self, g):
        xp, cond = self.xp, self.cond
        _, need_a, need_b = self.needs_input_grad
        return None, (xp.where(cond, g, 0) if need_a else None), (xp.where(cond, 0, g) if need_b else None)


def maximum(a: Any, b: Any) -> Tensor:
    """The element-wise maximum, broadcast; on ties each side gets half the gradient."""
    return _apply_broadcasting(MaximumOp, "maximum", *binary_operands(a, b, "maximum"))


def minimum(a: Any, b: Any) -> Tensor:
    """The element-wise minimum, broadcast; on ties each side gets half the gradient."""
    return _apply_broadcasting(MinimumOp, "minimum", *binary_operands(a, b, "minimum"))


def clip(x: Tensor, min: Any = None, max: Any = None) -> Tensor:
    """Clip ``x`` into [min, max] (either may be None; numbers or tensors, broadcast). Also named ``clamp``."""
    if min is None and max is None:
        raise ValueError("clip: at least one of min and max must be given")
    expect_tensor(x, "clip")
    if not dtypes.is_floating(x.data.dtype) and not isinstance(min, Tensor) and not isinstance(max, Tensor):
        return Tensor._make(x._backend.xp.clip(x.data, min, max), x._backend)
    x = floating(x)
    low = to_operand(float("-inf") if min is None else min, x)
    high = to_operand(float("inf") if max is None else max, x)
    low, high = cast(low, x.data.dtype), cast(high, x.data.dtype)
    return _apply_broadcasting(ClipOp, "clip", x, low, high)


clamp = clip


def where(condition: Tensor, a: Any, b: Any) -> Tensor:
    """``a`` where ``condition`` is True, else ``b``; all three broadcast. ``condition`` must be a bool tensor."""
    expect_tensor(condition, "where", "the condition")
    if condition.data.dtype != dtypes.bool_:
        raise TypeError(f"where: the condition must be a bool tensor, got {condition.data.dtype.name}")
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = to_operand(a, condition)
    a, b = binary_operands(a, b, "where")
    return _apply_broadcasting(WhereOp, "where", condition, a, b)


# -------------------------------------------------------------------------------------- comparisons (no grad)


def _compare(ufunc_name: str, op: str, a: Any, b: Any) -> Tensor:
    a, b = binary_operands(a, b, op)
    if a._backend is not b._backend:
        raise RuntimeError(
            f"{op}: expected both tensors on the same device, got {a._backend.name} and {b._backend.name}"
        )
    try:
        out = getattr(a._backend.xp, ufunc_name)(a.data, b.data)
    except ValueError:
        raise shapes_error(op, a, b) from None
    return Tensor._make(a._backend.xp.asarray(out), a._backend)


def eq(a: Any, b: Any) -> Tensor:
    """a == b, element-wise, as a bool tensor."""
    return _compare("equal", "eq", a, b)


def ne(a: Any, b: Any) -> Tensor:
    """a != b, element-wise, as a bool tensor."""
    return _compare("not_equal", "ne", a, b)


def lt(a: Any, b: Any) -> Tensor:
    """a < b, element-wise, as a bool tensor."""
    return _compare("less", "lt", a, b)


def le(a: Any, b: Any) -> Tensor:
    """a <= b, element-wise, as a bool tensor."""
    return _compare("less_equal", "le", a, b)


def gt(a: Any, b: Any) -> Tensor:
    """a > b, element-wise, as a bool tensor."""
    return _compare("greater", "gt", a, b)


def ge(a: Any, b: Any) -> Tensor:
    """a >= b, element-wise, as a bool tensor."""
    return _compare("greater_equal", "ge", a, b)


def logical_not(a: Tensor) -> Tensor:
    """Not ``a`` for a bool tensor, bitwise not for integers."""
    if dtypes.is_floating(expect_tensor(a, "logical_not").data.dtype):
        raise TypeError(f"~ (logical_not) needs a bool or integer tensor, got {a.data.dtype.name}")
    return Tensor._make(a._backend.xp.invert(a.data), a._backend)
