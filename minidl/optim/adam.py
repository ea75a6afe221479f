"""Adam: per-coordinate steps scaled by running averages of the gradient and of its square."""

from __future__ import annotations

from typing import Any, Iterable

from minidl.optim.optimizer import Optimizer, check_number, lerp_
from minidl.tensor import Tensor


class Adam(Optimizer):
    r"""``Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *, maximize=False,
    decoupled_weight_decay=False)``.

    PyTorch's algorithm, for each parameter θ with gradient g (negated when ``maximize``), at step t = 1, 2, ...::

        g ← g + weight_decay·θ        (L2 penalty; with decoupled_weight_decay instead θ ← θ·(1 − lr·weight_decay))
        m ← β₁·m + (1 − β₁)·g         v ← β₂·v + (1 − β₂)·g²
        v̂ ← max(v̂, v) if amsgrad else v
        θ ← θ − lr/(1 − β₁ᵗ) · m / (√v̂ / √(1 − β₂ᵗ) + eps)

    State per parameter: ``step`` (t, an int), ``exp_avg`` (m), ``exp_avg_sq`` (v) and, with amsgrad,
    ``max_exp_avg_sq`` (the running maximum of v).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": tuple(betas) if isinstance(betas, (list, tuple)) else betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)

    def _check_options(self, options: dict[str, Any]) -> None:
        name = type(self).__name__
        check_number(name, "learning rate lr", options["lr"])
        check_number(name, "eps", options["eps"])
        betas = options["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
        check_number(name, "betas[0]", betas[0], 0.0, 1.0)
        check_number(name, "betas[1]", betas[1], 0.0, 1.0)
        check_number(name, "weight_decay", options["weight_decay"])

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        lr, weight_decay, eps = group["lr"], group["weight_decay"], group["eps"]
        beta1, beta2 = group["betas"]
        xp = p.backend.xp
        if not state:
            state["step"] = 0
            state["exp_avg"] = Tensor._make(xp.zeros_like(p.data), p.backend)
            state["exp_avg_sq"] = Tensor._make(xp.zeros_like(p.data), p.backend)
        if group["amsgrad"] and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = Tensor._make(xp.zeros_like(p.data), p.backend)
        state["step"] += 1
        step = state["step"]
        theta, m, v = p.data, state["exp_avg"].data, state["exp_avg_sq"].data

        g = -grad if group["maximize"] else grad
        if weight_decay != 0:
            if group["decoupled_weight_decay"]:
                theta *= 1 - lr * weight_decay
            else:
                g = g + weight_decay * theta
        lerp_(m, g, 1 - beta1)
        v *= beta2
        v += (1 - beta2) * g * g
        if group["amsgrad"]:
            v = xp.maximum(state["max_exp_avg_sq"].data, v, out=state["max_exp_avg_sq"].data)
        step_size = lr / (1 - beta1**step)
        denom = xp.sqrt(v) / (1 - beta2**step) ** 0.5
        denom += eps
        theta += -step_size * m / denom
