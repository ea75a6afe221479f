"""``BatchNormalization`` with Keras's defaults and update rule.

Keras's momentum is the weight of the old moving statistic: ``momentum=0.99`` here is PyTorch's
``momentum=0.01``. Keras also updates the moving variance with the batch's *biased* variance (PyTorch uses the
unbiased one) and defaults to epsilon 1e-3 (PyTorch: 1e-5). Normalisation itself is ``F.batch_norm``: the batch's
mean and biased variance in training, the moving statistics in inference and when the layer is frozen
(``trainable=False``), as in Keras.
"""

from __future__ import annotations

from typing import Any

from minidl.autograd import no_grad
from minidl.keras import initializers
from minidl.keras.layers.base import Layer, WeightSpec
from minidl.keras.layers.layout import Shape, shape_text
from minidl.nn import functional as F
from minidl.nn.parameter import Parameter
from minidl.tensor import Tensor, empty, zeros


class BatchNormalization(Layer):
    """y = gamma (x - mean) / sqrt(var + epsilon) + beta, per feature of ``axis`` (the channels: -1 for
    channels-last images and for (N, features), 1 for channels-first images).

    Training: the batch's mean and variance over every other axis; then moving = momentum·moving +
    (1 - momentum)·batch (biased variance). Inference: the moving statistics.
    Weights (Keras's order): gamma, beta (trainable; ``scale``/``center`` False drops them), moving_mean,
    moving_variance (not trained): 4 values per feature in Keras's parameter count.
    """

    def __init__(
        self,
        axis: int = -1,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        beta_initializer: Any = "zeros",
        gamma_initializer: Any = "ones",
        moving_mean_initializer: Any = "zeros",
        moving_variance_initializer: Any = "ones",
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise ValueError(f"BatchNormalization: axis must be an int, got {axis!r}")
        if not 0 <= momentum <= 1:
            raise ValueError(f"BatchNormalization: momentum must be in [0, 1] (Keras's sense: 0.99), got {momentum!r}")
        if epsilon <= 0:
            raise ValueError(f"BatchNormalization: epsilon must be positive, got {epsilon!r}")
        self.axis, self.momentum, self.epsilon = axis, float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.initializers = {
            "gamma": initializers.get(gamma_initializer),
            "beta": initializers.get(beta_initializer),
            "moving_mean": initializers.get(moving_mean_initializer),
            "moving_variance": initializers.get(moving_variance_initializer),
        }

    def _axis(self, ndim: int) -> int:
        axis = self.axis + ndim if self.axis < 0 else self.axis
        if not 0 < axis < ndim:
            raise ValueError(
                f"{self.name} (BatchNormalization): axis {self.axis} is not a feature axis of a {ndim}-D input "
                "(axis 0 is the batch)"
            )
        return axis

    def build(self, input_shape: Shape) -> None:
        axis = self._axis(len(input_shape))
        features = input_shape[axis]
        if features is None:
            raise ValueError(
                f"{self.name} (BatchNormalization): axis {self.axis} of {shape_text(input_shape)} is unknown"
            )
        n = int(features)
        if self.scale:
            self.gamma = Parameter(empty(n, dtype=self.dtype))
        if self.center:
            self.beta = Parameter(empty(n, dtype=self.dtype))
        self.register_buffer("moving_mean", empty(n, dtype=self.dtype))
        self.register_buffer("moving_variance", empty(n, dtype=self.dtype))
        for spec in self._specs_of(n):
            with no_grad():
                self.initializers[spec.name](spec.tensor, (n,))
        super().build(input_shape)

    def _size_matters(self, axis: int) -> bool:
        return axis == self._axis(len(self.input_spec or ()))

    def _specs_of(self, n: int) -> list[WeightSpec]:
        specs = []
        if self.scale:
            specs.append(WeightSpec("gamma", self.gamma))
        if self.center:
            specs.append(WeightSpec("beta", self.beta))
        specs.append(WeightSpec("moving_mean", self.moving_mean, trainable=False))
        specs.append(WeightSpec("moving_variance", self.moving_variance, trainable=False))
        return specs

    def _weight_specs(self) -> list[WeightSpec]:
        return self._specs_of(0) if self.built else []

    def call(self, inputs: Tensor) -> Tensor:
        axis = self._axis(inputs.ndim)
        order = (0, axis, *(d for d in range(1, inputs.ndim) if d != axis))
        x = inputs.permute(*order)  # the features on dim 1, as F.batch_norm wants them (a view)
        gamma = self.gamma if self.scale else None
        beta = self.beta if self.center else None
        if self.training and self.trainable:
            out = self._train_forward(x, gamma, beta)
        else:
            out = F.batch_norm(x, self.moving_mean, self.moving_variance, gamma, beta, False, 0.0, self.epsilon)
        inverse = sorted(range(inputs.ndim), key=order.__getitem__)
        return out.permute(*inverse)

    def _train_forward(self, x: Tensor, gamma: Tensor | None, beta: Tensor | None) -> Tensor:
        """Normalise with the batch statistics and move the moving ones towards them (Keras's rule)."""
        n = x.shape[1]
        batch_mean = zeros(n, dtype=self.moving_mean.dtype, device=x.device)
        batch_var = zeros(n, dtype=self.moving_variance.dtype, device=x.device)
        # With momentum 1, F.batch_norm leaves exactly the batch's mean and unbiased variance in these two.
        out = F.batch_norm(x, batch_mean, batch_var, gamma, beta, True, 1.0, self.epsilon)
        count = x.numel() // n
        with no_grad():
            biased = batch_var * ((count - 1) / count)
            self.moving_mean.mul_(self.momentum).add_(batch_mean * (1 - self.momentum))
            self.moving_variance.mul_(self.momentum).add_(biased * (1 - self.momentum))
        return out

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            **{f"{k}_initializer": initializers.serialize(v) for k, v in self.initializers.items()},
        }
