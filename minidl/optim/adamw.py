"""AdamW: Adam with decoupled weight decay (the parameters shrink directly; the decay skips the moving averages)."""

from __future__ import annotations

from typing import Any, Iterable

from minidl.optim.adam import Adam


class AdamW(Adam):
    r"""``AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
    maximize=False)``.

    Adam (see ``Adam``) where each step first shrinks the parameter, θ ← θ·(1 − lr·weight_decay), instead of
    adding weight_decay·θ to the gradient (Loshchilov & Hutter, "Decoupled Weight Decay Regularization").
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize, decoupled_weight_decay=True)

    def _check_options(self, options: dict[str, Any]) -> None:
        super()._check_options(options)
        options["decoupled_weight_decay"] = True  # a group or a loaded state dict cannot turn it off
