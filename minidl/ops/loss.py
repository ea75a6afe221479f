"""Losses, with PyTorch's names, arguments and reductions ('mean', 'sum', 'none').

Classification losses take class scores as (N, C) or (N, C, d1, ...) and integer targets (N,) or (N, d1, ...);
cross-entropy and nll_loss are fused ops (one node, a closed-form backward), so a training step does not pay for
a log-softmax, a gather and a mean separately.
"""

from __future__ import annotations

import warnings
from typing import Any

from minidl.autograd import Function
from minidl.ops.activation import log_softmax
from minidl.ops.checks import expect_tensor
from minidl.ops.conversion import cast
from minidl.tensor import Tensor
from minidl.text import plural

_REDUCTIONS = ("none", "mean", "sum")


def check_reduction(reduction: str, op: str) -> str:
    """``reduction`` itself when it is 'none', 'mean' or 'sum'; a clear error otherwise."""
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {', '.join(_REDUCTIONS)}, got {reduction!r}")
    return reduction


def _class_rows(xp: Any, x: Any) -> Any:
    """(N, C, d1, ...) scores as (N * d1 * ..., C) rows, one per prediction."""
    if x.ndim == 2:
        return x
    return xp.reshape(xp.moveaxis(x, 1, -1), (-1, x.shape[1]))


def _back_to_input_layout(xp: Any, rows: Any, shape: tuple) -> Any:
    if len(shape) == 2:
        return rows
    moved = xp.reshape(rows, (shape[0], *shape[2:], shape[1]))
    return xp.moveaxis(moved, -1, 1)


def _targets(input: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int, op: str) -> Any:
    """Check class-index targets against the scores; return them as a flat int64 array."""
    expect_tensor(target, op, "target")
    if input.data.ndim < 2:
        raise ValueError(f"{op}: expected scores of shape (N, C) or (N, C, d1, ...), got {tuple(input.shape)}")
    if target.data.dtype.kind not in "iu":
        raise TypeError(f"{op}: class-index targets must be integers, got {target.data.dtype.name}")
    expected = (input.shape[0], *input.shape[2:])
    if tuple(target.shape) != expected:
        raise ValueError(
            f"{op}: the target shape {tuple(target.shape)} does not match the input shape {tuple(input.shape)} "
            f"(expected {expected})"
        )
    classes = input.shape[1]
    if weight is not None and tuple(weight.shape) != (classes,):
        raise ValueError(f"{op}: weight must have shape ({classes},), got {tuple(weight.shape)}")
    xp = target._backend.xp
    t = xp.reshape(target.data, -1).astype(xp.int64, copy=False)
    bad = (t != ignore_index) & ((t < 0) | (t >= classes))
    if bad.any():
        first = int(t[bad][0])
        raise IndexError(
            f"{op}: target {first} is out of range for {plural(classes, 'class', 'classes')} (expected 0..{classes - 1}"
            f" or ignore_index {ignore_index})"
        )
    return t


class ClassLossOp(Function):
    """Cross-entropy of raw scores (``from_logits``) or negative log-likelihood of log-probabilities, over rows
    of class scores, with class weights, ignore_index and (for cross-entropy) label smoothing."""

    def forward(self, x, *weight, target, ignore_index, reduction, smoothing, from_logits):
        xp = self.xp
        self.shape, self.reduction, self.smoothing, self.from_logits = x.shape, reduction, smoothing, from_logits
        z = _class_rows(xp, x)
        rows, classes = z.shape
        valid = target != ignore_index
        t = xp.where(valid, target, 0)
        w = weight[0] if weight else None
        w_t = (w[t] if w is not None else xp.ones(rows, dtype=z.dtype)) * valid
        picked = z[xp.arange(rows), t]
        if from_logits:
            # p by e / sum(e), not exp(log p): 1 - p_t keeps its accuracy (measured 5e-7 against 1.6e-5 relative
            # error of the gradient with exp(log_softmax)), so cross-entropy stays on the array namespace's operations.
            shift = xp.amax(z, axis=1, keepdims=True)
            exp = xp.exp(z - shift)
            total = xp.sum(exp, axis=1, keepdims=True)
            self.p = exp / total
            log_total = xp.log(total)[:, 0]
            lse = shift[:, 0] + log_total
            # -(log p_t) as -((z_t - shift) - log sum): no cancellation when z_t is large and close to the max.
            loss = -w_t * ((picked - shift[:, 0]) - log_total)
        else:
            loss = -w_t * picked
        if smoothing:
            w_sum = float(w.sum()) if w is not None else float(classes)
            weighted = xp.sum(z * w, axis=1) if w is not None else xp.sum(z, axis=1)
            smooth = -(weighted - lse * w_sum) * valid
            loss = (1 - smoothing) * loss + (smoothing / classes) * smooth
            self.w_sum = w_sum
        self.valid, self.t, self.w, self.w_t, self.rows = valid, t, w, w_t, rows
        if reduction == "none":
            return xp.reshape(loss, (self.shape[0], *self.shape[2:])).astype(x.dtype)
        total_loss = xp.sum(loss)
        if reduction == "sum":
            return xp.asarray(total_loss, dtype=x.dtype)
        self.denominator = xp.sum(w_t) if w is not None else xp.sum(valid)
        with self.backend.errstate(invalid="ignore", divide="ignore"):
            return xp.asarray(total_loss / self.denominator, dtype=x.dtype)

    def backward(self, g):
        xp = self.xp
        rows, t, w_t = self.rows, self.t, self.w_t
        if self.reduction == "none":
            scale = xp.reshape(g, -1)
        elif self.reduction == "sum":
            scale = xp.full(rows, g, dtype=g.dtype)
        elif self.denominator == 0:
            scale = xp.zeros(rows, dtype=g.dtype)  # no target counted: the loss is nan, its gradient 0 (PyTorch)
        else:
            scale = xp.full(rows, g / self.denominator, dtype=g.dtype)
        pick = (1 - self.smoothing) * w_t * scale  # weight of -d(picked)
        if self.from_logits:
            grad = self.p * pick[:, None]
            grad[xp.arange(rows), t] -= pick
            if self.smoothing:
                s = (self.smoothing / grad.shape[1]) * scale * self.valid
                w = self.w if self.w is not None else 1.0
                grad += s[:, None] * (self.w_sum * self.p - w)
        else:
            grad = xp.zeros((rows, self.shape[1]), dtype=g.dtype)
            grad[xp.arange(rows), t] = -pick
        grad = _back_to_input_layout(xp, grad.astype(g.dtype, copy=False), self.shape)
        return (grad, None) if len(self.inputs) == 2 else (grad,)


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy between raw class scores and targets, as ``torch.nn.functional.cross_entropy``.

    input: (N, C) or (N, C, d1, ...) scores (logits); target: class indices (N,) / (N, d1, ...) (integers,
    ``ignore_index`` skipped), or class probabilities of the input's shape (floats). weight: (C,) class weights.
    label_smoothing ε mixes the target with the uniform distribution: (1 - ε) target + ε / C. 'mean' divides by
    the total weight of the counted targets (their number without ``weight``).
    """
    op = "cross_entropy"
    check_reduction(reduction, op)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing}")
    if expect_tensor(input, op).data.dtype.kind != "f":
        raise TypeError(f"{op}: the scores must be floating point, got {input.data.dtype.name}")
    if isinstance(target, Tensor) and target.data.dtype.kind == "f":
        return _cross_entropy_with_probabilities(input, target, weight, reduction, label_smoothing, op)
    t = _targets(input, target, weight, ignore_index, op)
    tensors = [input] if weight is None else [input, weight]
    return ClassLossOp.apply(
        *tensors, target=t, ignore_index=ignore_index, reduction=reduction, smoothing=label_smoothing,
        from_logits=True,
    )  # fmt: skip


def _cross_entropy_with_probabilities(input, target, weight, reduction, smoothing, op) -> Tensor:
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"{op}: probability targets must have the input's shape {tuple(input.shape)}, got {tuple(target.shape)}"
        )
    classes = input.shape[1]
    if smoothing:
        target = target * (1 - smoothing) + smoothing / classes
    terms = log_softmax(input, dim=1) * target
    if weight is not None:
        terms = terms * weight.reshape((1, classes) + (1,) * (input.data.ndim - 2))
    loss = -terms.sum(dim=1)
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()


def nll_loss(
    input: Tensor, target: Tensor, weight: Tensor | None = None, ignore_index: int = -100, reduction: str = "mean"
) -> Tensor:
    """Negative log-likelihood of log-probabilities (e.g. the output of ``log_softmax``), as
    ``torch.nn.functional.nll_loss``. input: (N, C) or (N, C, d1, ...); target: class indices (N,) / (N, d1, ...)."""
    op = "nll_loss"
    check_reduction(reduction, op)
    if expect_tensor(input, op).data.dtype.kind != "f":
        raise TypeError(f"{op}: the log-probabilities must be floating point, got {input.data.dtype.name}")
    t = _targets(input, target, weight, ignore_index, op)
    tensors = [input] if weight is None else [input, weight]
    return ClassLossOp.apply(
        *tensors, target=t, ignore_index=ignore_index, reduction=reduction, smoothing=0.0, from_logits=False
    )


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean squared error, as ``torch.nn.functional.mse_loss``: (input - target)² reduced. Shapes that differ
    are broadcast with a warning, as in PyTorch (it is usually a mistake, e.g. (N, 1) against (N,))."""
    check_reduction(reduction, "mse_loss")
    expect_tensor(input, "mse_loss")
    _warn_if_broadcast(input, target, "mse_loss")
    diff = input - target
    return _reduce(diff * diff, reduction)


def _warn_if_broadcast(input: Tensor, target: Any, op: str) -> None:
    if isinstance(target, Tensor) and tuple(target.shape) != tuple(input.shape):
        warnings.warn(
            f"{op}: the target shape {tuple(target.shape)} differs from the input shape {tuple(input.shape)}; "
            "they will be broadcast, which is likely not what you want",
            UserWarning,
            stacklevel=3,
        )


class BCEWithLogitsOp(Function):
    """loss = (1 - t) x + (1 + (pos_weight - 1) t) softplus(-x), written without overflow."""

    def forward(self, x, t, *, weight, pos_weight):
        xp = self.xp
        self.x, self.t, self.weight, self.pos_weight = x, t, weight, pos_weight
        softplus_neg = xp.maximum(-x, 0) + xp.log1p(xp.exp(-xp.abs(x)))  # log(1 + e^-x)
        log_weight = 1 + (pos_weight - 1) * t if pos_weight is not None else 1
        loss = (1 - t) * x + log_weight * softplus_neg
        return loss * weight if weight is not None else loss

    def backward(self, g):
        xp, x, t = self.xp, self.x, self.t
        e = xp.exp(-xp.abs(x))
        sig = xp.where(x >= 0, 1 / (1 + e), e / (1 + e))  # sigmoid(x), accurate in both tails
        if self.pos_weight is None:
            grad_x = sig - t
            grad_t = -x
        else:
            # d/dx = (1 - t) - lw sigmoid(-x) = lw sigmoid(x) - pos_weight t, with lw = 1 + (pos_weight - 1) t:
            # the second form does not cancel for confident negatives.
            grad_x = (1 + (self.pos_weight - 1) * t) * sig - self.pos_weight * t
            softplus_neg = xp.maximum(-x, 0) + xp.log1p(e)
            grad_t = -x + (self.pos_weight - 1) * softplus_neg
        if self.weight is not None:
            grad_x, grad_t = grad_x * self.weight, grad_t * self.weight
        need_x, need_t = self.needs_input_grad
        return (g * grad_x if need_x else None, g * grad_t if need_t else None)


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """Binary cross-entropy of raw scores against targets in [0, 1], as
    ``torch.nn.functional.binary_cross_entropy_with_logits``: stable for any score. weight: broadcast to the
    input, per element; pos_weight: (C,) weight of the positive term, broadcast along the last dim. Gradients
    flow to the input and the target (as in PyTorch); the weights are constants."""
    op = "binary_cross_entropy_with_logits"
    check_reduction(reduction, op)
    expect_tensor(input, op)
    if tuple(expect_tensor(target, op, "target").shape) != tuple(input.shape):
        raise ValueError(
            f"{op}: the target must have the input's shape {tuple(input.shape)}, got {tuple(target.shape)}"
        )
    dtype = input.data.dtype

    def constant(t: Tensor | None) -> Any:
        return None if t is None else t.data.astype(dtype, copy=False)

    loss = BCEWithLogitsOp.apply(input, cast(target, dtype), weight=constant(weight), pos_weight=constant(pos_weight))
    return _reduce(loss, reduction)
