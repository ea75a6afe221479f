"""Keras's optimizers, by name (``compile(optimizer="adam")``) or as objects (``Adam(learning_rate=1e-3)``),
with Keras's defaults and update rules, as minidl optimizers (``minidl.optim.Optimizer`` subclasses: parameter
groups, state dicts and ``zero_grad`` come from there).

A Keras optimizer is made before the model has weights; ``build(parameters)`` (done by ``fit``) makes the minidl
optimizer over them, available as ``optimizer.minidl``. The rules differ from PyTorch's in details that change
the numbers:

- Adam (lr 1e-3, epsilon 1e-7): θ ← θ − lr·√(1 − β₂ᵗ)/(1 − β₁ᵗ) · m / (√v + ε): ε is added before the bias
  correction of v (PyTorch adds it after, and defaults to 1e-8);
- RMSprop (lr 1e-3, rho 0.9, epsilon 1e-7): θ ← θ − lr·g / √(v + ε) (PyTorch: lr·g / (√v + ε), alpha 0.99);
- SGD (lr 0.01): velocity ← momentum·velocity − lr·g; θ ← θ + velocity (PyTorch keeps the velocity without lr);
- ``weight_decay`` is decoupled in all of them: θ ← θ − lr·weight_decay·θ before the step (AdamW's rule).
"""

from __future__ import annotations

from typing import Any, Iterable

from minidl.optim.optimizer import Optimizer as MinidlOptimizer
from minidl.optim.optimizer import check_number
from minidl.tensor import Tensor


def _zeros_like(p: Tensor) -> Tensor:
    return Tensor._make(p.backend.xp.zeros_like(p.data), p.backend)


def _decay(theta: Any, group: dict[str, Any]) -> None:
    if group["weight_decay"]:
        theta -= group["lr"] * group["weight_decay"] * theta


class KerasAdamRule(MinidlOptimizer):
    """Keras's Adam update on minidl's optimizer machinery (options: lr, beta_1, beta_2, epsilon, amsgrad,
    weight_decay). State: step, m, v (and v_hat with amsgrad)."""

    def _check_options(self, options: dict[str, Any]) -> None:
        check_number("Adam", "learning_rate", options["lr"])
        check_number("Adam", "beta_1", options["beta_1"], 0.0, 1.0)
        check_number("Adam", "beta_2", options["beta_2"], 0.0, 1.0)
        check_number("Adam", "epsilon", options["epsilon"])
        check_number("Adam", "weight_decay", options["weight_decay"])

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        xp = p.backend.xp
        if not state:
            state["step"], state["m"], state["v"] = 0, _zeros_like(p), _zeros_like(p)
            if group["amsgrad"]:
                state["v_hat"] = _zeros_like(p)
        state["step"] += 1
        t, beta_1, beta_2 = state["step"], group["beta_1"], group["beta_2"]
        theta, m, v = p.data, state["m"].data, state["v"].data
        _decay(theta, group)
        alpha = group["lr"] * (1 - beta_2**t) ** 0.5 / (1 - beta_1**t)
        m += (grad - m) * (1 - beta_1)
        v += (grad * grad - v) * (1 - beta_2)
        if group["amsgrad"]:
            v = xp.maximum(state["v_hat"].data, v, out=state["v_hat"].data)
        denom = xp.sqrt(v)
        denom += group["epsilon"]
        theta -= alpha * m / denom


class KerasSGDRule(MinidlOptimizer):
    """Keras's SGD update (options: lr, momentum, nesterov, weight_decay). State: velocity (with momentum)."""

    def _check_options(self, options: dict[str, Any]) -> None:
        check_number("SGD", "learning_rate", options["lr"])
        check_number("SGD", "momentum", options["momentum"], 0.0, 1.0)
        check_number("SGD", "weight_decay", options["weight_decay"])

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        theta, lr, momentum = p.data, group["lr"], group["momentum"]
        _decay(theta, group)
        if not momentum:
            theta -= lr * grad
            return
        if not state:
            state["velocity"] = _zeros_like(p)
        velocity = state["velocity"].data
        velocity *= momentum
        velocity -= lr * grad
        if group["nesterov"]:
            theta += momentum * velocity - lr * grad
        else:
            theta += velocity


class KerasRMSpropRule(MinidlOptimizer):
    """Keras's RMSprop update (options: lr, rho, momentum, epsilon, centered, weight_decay). State: velocity, and
    average_gradient (centered) and momentum_buffer (momentum > 0)."""

    def _check_options(self, options: dict[str, Any]) -> None:
        check_number("RMSprop", "learning_rate", options["lr"])
        check_number("RMSprop", "rho", options["rho"], 0.0, 1.0)
        check_number("RMSprop", "momentum", options["momentum"], 0.0, 1.0)
        check_number("RMSprop", "epsilon", options["epsilon"])
        check_number("RMSprop", "weight_decay", options["weight_decay"])

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        xp, theta, rho = p.backend.xp, p.data, group["rho"]
        if not state:
            state["velocity"] = _zeros_like(p)
            if group["centered"]:
                state["average_gradient"] = _zeros_like(p)
            if group["momentum"] > 0:
                state["momentum_buffer"] = _zeros_like(p)
        _decay(theta, group)
        velocity = state["velocity"].data
        velocity *= rho
        velocity += (1 - rho) * grad * grad
        denominator = velocity + group["epsilon"]
        if group["centered"]:
            average = state["average_gradient"].data
            average *= rho
            average += (1 - rho) * grad
            denominator -= average * average
        increment = group["lr"] * grad / xp.sqrt(denominator)
        if group["momentum"] > 0:
            buffer = state["momentum_buffer"].data
            buffer *= group["momentum"]
            buffer += increment
            theta -= buffer
        else:
            theta -= increment


class Optimizer:
    """A Keras optimizer: its settings, and once built, the minidl optimizer that applies them (``minidl``)."""

    rule: type[MinidlOptimizer] = MinidlOptimizer
    name = "optimizer"

    def __init__(self, learning_rate: float, **options: Any):
        self._options = {"lr": float(learning_rate), **options}
        self.rule([_probe()], dict(self._options))  # refuses bad settings now, as Keras does
        self.minidl: MinidlOptimizer | None = None

    @property
    def built(self) -> bool:
        """Whether the optimizer holds the model's parameters yet."""
        return self.minidl is not None

    def build(self, parameters: Iterable[Tensor]) -> None:
        """Make the minidl optimizer over ``parameters`` (the model's trainable weights)."""
        self.minidl = self.rule(list(parameters), dict(self._options))

    @property
    def learning_rate(self) -> float:
        """The learning rate (settable, also during training: callbacks set it between epochs)."""
        if self.minidl is not None:
            return float(self.minidl.param_groups[0]["lr"])
        return self._options["lr"]

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        check_number(type(self).__name__, "learning_rate", value)
        self._options["lr"] = float(value)
        if self.minidl is not None:
            for group in self.minidl.param_groups:
                group["lr"] = float(value)

    @property
    def iterations(self) -> int:
        """The number of steps taken."""
        return 0 if self.minidl is None else self.minidl._step_count

    def get_config(self) -> dict[str, Any]:
        """The settings, under Keras's names."""
        options = dict(self._options)
        return {"learning_rate": options.pop("lr"), **options}

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({settings})"


def _probe() -> Tensor:
    """A one-element parameter to validate an optimizer's options before it has the model's."""
    from minidl.tensor import zeros

    return zeros(1, requires_grad=True)


class Adam(Optimizer):
    """Adam with Keras's rule and defaults: ``Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
    amsgrad=False, weight_decay=None)``."""

    rule = KerasAdamRule
    name = "adam"

    def __init__(
        self,
        learning_rate: float = 0.001,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
        weight_decay: float | None = None,
    ):
        super().__init__(
            learning_rate,
            beta_1=float(beta_1),
            beta_2=float(beta_2),
            epsilon=float(epsilon),
            amsgrad=bool(amsgrad),
            weight_decay=float(weight_decay or 0.0),
        )


class AdamW(Adam):
    """Adam with decoupled weight decay, Keras's defaults: ``AdamW(learning_rate=0.001, weight_decay=0.004,
    beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False)``."""

    name = "adamw"

    def __init__(
        self,
        learning_rate: float = 0.001,
        weight_decay: float = 0.004,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        amsgrad: bool = False,
    ):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay)


class SGD(Optimizer):
    """Stochastic gradient descent with Keras's rule and defaults: ``SGD(learning_rate=0.01, momentum=0.0,
    nesterov=False, weight_decay=None)``."""

    rule = KerasSGDRule
    name = "sgd"

    def __init__(
        self,
        learning_rate: float = 0.01,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float | None = None,
    ):
        super().__init__(
            learning_rate, momentum=float(momentum), nesterov=bool(nesterov), weight_decay=float(weight_decay or 0.0)
        )


class RMSprop(Optimizer):
    """RMSprop with Keras's rule and defaults: ``RMSprop(learning_rate=0.001, rho=0.9, momentum=0.0,
    epsilon=1e-7, centered=False, weight_decay=None)``."""

    rule = KerasRMSpropRule
    name = "rmsprop"

    def __init__(
        self,
        learning_rate: float = 0.001,
        rho: float = 0.9,
        momentum: float = 0.0,
        epsilon: float = 1e-7,
        centered: bool = False,
        weight_decay: float | None = None,
    ):
        super().__init__(
            learning_rate,
            rho=float(rho),
            momentum=float(momentum),
            epsilon=float(epsilon),
            centered=bool(centered),
            weight_decay=float(weight_decay or 0.0),
        )


OPTIMIZERS: dict[str, type[Optimizer]] = {"adam": Adam, "adamw": AdamW, "sgd": SGD, "rmsprop": RMSprop}


def get(identifier: Any) -> Any:
    """A Keras optimizer for a name ("adam", any case) or a Keras optimizer object; a minidl optimizer (already
    over the model's parameters) is returned as it is."""
    if isinstance(identifier, (Optimizer, MinidlOptimizer)):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in OPTIMIZERS:
        return OPTIMIZERS[identifier.lower()]()
    if isinstance(identifier, type) and issubclass(identifier, Optimizer):
        return identifier()
    raise ValueError(
        f"unknown optimizer {identifier!r}; known: {', '.join(OPTIMIZERS)}, a keras.optimizers object "
        "(Adam(learning_rate=...)) or a minidl.optim optimizer over the model's parameters"
    )


def serialize(optimizer: Optimizer) -> dict[str, Any]:
    """``{"name": ..., "config": {...}}``, which ``deserialize`` turns back into the optimizer."""
    return {"name": optimizer.name, "config": optimizer.get_config()}


def deserialize(config: dict[str, Any]) -> Optimizer:
    """The optimizer ``serialize`` described."""
    return OPTIMIZERS[config["name"]](**config["config"])
