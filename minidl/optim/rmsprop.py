"""RMSprop: steps divided by a running root-mean-square of the gradient (Hinton's lecture 6e)."""

from __future__ import annotations

from typing import Any, Iterable

from minidl.optim.optimizer import Optimizer, check_number, lerp_
from minidl.tensor import Tensor


class RMSprop(Optimizer):
    r"""``RMSprop(params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False, *,
    maximize=False)``.

    PyTorch's algorithm, for each parameter θ with gradient g (negated when ``maximize``)::

        g ← g + weight_decay·θ                      (when weight_decay ≠ 0)
        v ← α·v + (1 − α)·g²
        a ← √(v − ḡ²) + eps with ḡ ← α·ḡ + (1 − α)·g when centered, else a ← √v + eps
        b ← momentum·b + g/a;  θ ← θ − lr·b         (when momentum > 0)
        θ ← θ − lr·g/a                              (otherwise)

    State per parameter: ``step``, ``square_avg`` (v), ``grad_avg`` (ḡ, when centered) and ``momentum_buffer``
    (b, when momentum > 0).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "alpha": alpha,
            "eps": eps,
            "centered": centered,
            "weight_decay": weight_decay,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_options(self, options: dict[str, Any]) -> None:
        check_number("RMSprop", "learning rate lr", options["lr"])
        check_number("RMSprop", "eps", options["eps"])
        check_number("RMSprop", "momentum", options["momentum"])
        check_number("RMSprop", "weight_decay", options["weight_decay"])
        check_number("RMSprop", "alpha", options["alpha"])

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        lr, alpha, momentum, weight_decay = group["lr"], group["alpha"], group["momentum"], group["weight_decay"]
        xp = p.backend.xp
        if not state:
            state["step"] = 0
            state["square_avg"] = Tensor._make(xp.zeros_like(p.data), p.backend)
        if momentum > 0 and "momentum_buffer" not in state:
            state["momentum_buffer"] = Tensor._make(xp.zeros_like(p.data), p.backend)
        if group["centered"] and "grad_avg" not in state:
            state["grad_avg"] = Tensor._make(xp.zeros_like(p.data), p.backend)
        state["step"] += 1
        theta, v = p.data, state["square_avg"].data

        g = -grad if group["maximize"] else grad
        if weight_decay != 0:
            g = g + weight_decay * theta
        v *= alpha
        v += (1 - alpha) * g * g
        if group["centered"]:
            g_avg = state["grad_avg"].data
            lerp_(g_avg, g, 1 - alpha)
            avg = xp.sqrt(v - g_avg * g_avg)
        else:
            avg = xp.sqrt(v)
        avg += group["eps"]
        if momentum > 0:
            buf = state["momentum_buffer"].data
            buf *= momentum
            buf += g / avg
            theta -= lr * buf
        else:
            theta += -lr * g / avg
