"""Matrix product with NumPy's ``matmul`` rules: 1-D operands are vectors, batch dims broadcast."""

from __future__ import annotations

from typing import Any

from minidl.autograd import Function
from minidl.ops.checks import dtype_mismatch, expect_tensor
from minidl.ops.operands import to_operand
from minidl.tensor import Tensor


class MatMulOp(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return self.xp.matmul(a, b)

    def backward(self, g):
        xp, a, b = self.xp, self.a, self.b
        need_a, need_b = self.needs_input_grad
        # Treat vectors as matrices: a (k,) as (1, k), b (k,) as (k, 1); g gets the matching unit dims back.
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        if b.ndim == 1:
            g = g[..., None]
        if a.ndim == 1:
            g = g[..., None, :]
        ga = gb = None
        if need_a:
            ga = xp.matmul(g, xp.swapaxes(b2, -1, -2))  # (..., m, k); autograd sums the batch dims away
            if a.ndim == 1:
                ga = ga[..., 0, :]
        if need_b:
            if b2.ndim == 2 and a2.ndim > 2:
                # One weight matrix for a batch: fold the batch into the rows, one GEMM instead of a batched
                # product followed by a sum.
                k, n = a2.shape[-1], g.shape[-1]
                gb = xp.matmul(xp.reshape(a2, (-1, k)).T, xp.reshape(g, (-1, n)))
            else:
                gb = xp.matmul(xp.swapaxes(a2, -1, -2), g)  # (..., k, n)
            if b.ndim == 1:
                gb = gb[..., 0]
        return ga, gb


def matmul(a: Any, b: Any) -> Tensor:
    """The matrix product ``a @ b``. a: (k,) or (..., m, k); b: (k,) or (..., k, n); batch dims broadcast.
    Both operands must have the same dtype (as in PyTorch: cast one explicitly)."""
    if not isinstance(a, Tensor):
        a = to_operand(a, expect_tensor(b, "matmul", "one operand"))
    if not isinstance(b, Tensor):
        b = to_operand(b, a)
    if a.data.ndim == 0 or b.data.ndim == 0:
        raise ValueError(f"matmul: both operands need at least 1 dim, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    if a.data.dtype != b.data.dtype:
        raise TypeError(
            f"matmul: both operands must have the same dtype, got {a.data.dtype.name} and {b.data.dtype.name}"
        )
    k_a = a.data.shape[-1]
    k_b = b.data.shape[0] if b.data.ndim == 1 else b.data.shape[-2]
    if k_a != k_b:
        raise ValueError(
            f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} are incompatible: the last dim of the first "
            f"({k_a}) must equal the {'only' if b.data.ndim == 1 else 'second-to-last'} dim of the second ({k_b})"
        )
    try:
        return MatMulOp.apply(a, b)
    except ValueError:
        raise ValueError(
            f"matmul: the batch dims of shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be broadcast together"
        ) from None


class LinearOp(Function):
    """y = x @ W^T + b, with the leading dims of x folded into one batch of rows."""

    def forward(self, x, w, *bias):
        xp = self.xp
        self.x, self.w, self.has_bias = x, w, bool(bias)
        out = xp.matmul(x, w.T)
        if bias:
            out += bias[0]
        return out

    def backward(self, g):
        xp, x, w = self.xp, self.x, self.w
        need_x, need_w = self.needs_input_grad[:2]
        gx = xp.matmul(g, w) if need_x else None
        gw = None
        if need_w:
            rows = xp.reshape(g, (-1, g.shape[-1]))
            gw = xp.matmul(rows.T, xp.reshape(x, (-1, x.shape[-1])))
        if not self.has_bias:
            return gx, gw
        gb = xp.sum(xp.reshape(g, (-1, g.shape[-1])), axis=0) if self.needs_input_grad[2] else None
        return gx, gw, gb


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """input @ weight^T + bias, as ``torch.nn.functional.linear``. input: (*, in_features);
    weight: (out_features, in_features); bias: (out_features,) or None. Returns (*, out_features)."""
    expect_tensor(input, "linear")
    if expect_tensor(weight, "linear", "weight").data.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out_features, in_features), got {tuple(weight.shape)}")
    if input.data.ndim < 1 or input.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"linear: the input's last dim must be in_features = {weight.shape[1]} (weight {tuple(weight.shape)}), "
            f"got input shape {tuple(input.shape)}"
        )
    if input.data.dtype != weight.data.dtype:
        raise dtype_mismatch("linear", input.data.dtype, weight.data.dtype)
    tensors = [input, weight]
    if bias is not None:
        if tuple(expect_tensor(bias, "linear", "bias").shape) != (weight.shape[0],):
            raise ValueError(f"linear: bias must have shape ({weight.shape[0]},), got {tuple(bias.shape)}")
        tensors.append(bias)
    return LinearOp.apply(*tensors)
