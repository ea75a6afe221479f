"""Stochastic gradient descent, with momentum (heavy-ball or Nesterov), dampening and L2 weight decay."""

from __future__ import annotations

from typing import Any, Iterable

from minidl.optim.optimizer import Optimizer, check_number
from minidl.tensor import Tensor


class SGD(Optimizer):
    r"""``SGD(params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *, maximize=False)``.

    PyTorch's algorithm, for each parameter θ with gradient g (negated when ``maximize``)::

        g ← g + weight_decay·θ                      (when weight_decay ≠ 0)
        b ← g at the first step, else momentum·b + (1 − dampening)·g     (when momentum ≠ 0)
        g ← g + momentum·b if nesterov else b       (when momentum ≠ 0)
        θ ← θ − lr·g

    State per parameter: ``momentum_buffer`` (b), when momentum ≠ 0.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_options(self, options: dict[str, Any]) -> None:
        check_number("SGD", "learning rate lr", options["lr"])
        check_number("SGD", "momentum", options["momentum"])
        check_number("SGD", "weight_decay", options["weight_decay"])
        check_number("SGD", "dampening", options["dampening"], low=float("-inf"))
        if options["nesterov"] and (options["momentum"] <= 0 or options["dampening"] != 0):
            raise ValueError(
                f"SGD: Nesterov momentum needs momentum > 0 and dampening = 0, got momentum={options['momentum']} "
                f"and dampening={options['dampening']}"
            )

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        lr, momentum, weight_decay = group["lr"], group["momentum"], group["weight_decay"]
        theta = p.data
        g = -grad if group["maximize"] else grad
        if weight_decay != 0:
            g = g + weight_decay * theta
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = Tensor._make(p.backend.xp.array(g, copy=True), p.backend)
            else:
                buf.data *= momentum
                buf.data += (1 - group["dampening"]) * g
            g = g + momentum * buf.data if group["nesterov"] else buf.data
        theta -= lr * g
