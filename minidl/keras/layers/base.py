"""``Layer``: the base of every Keras-style layer, a minidl ``Module`` whose weights are made when its input shape
is first known (``build``), as in Keras.

A layer holds minidl modules (``Conv2D`` holds an ``nn.Conv2d``) or parameters in minidl's layout; its Keras
weights (``get_weights``/``set_weights``, weight files) are the same tensors seen in Keras's layout (a Conv2D kernel
as (kh, kw, in, out)), described once per layer by ``_weight_specs``.

Calling a layer or a model directly (``layer(x)``, ``model(x)``) runs in inference mode unless ``training=True``,
as in Keras; inside ``fit`` the model is in training mode.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np

from minidl import dtypes
from minidl.autograd import no_grad
from minidl.keras import activations, config
from minidl.keras.layers.layout import Shape, shape_text
from minidl.keras.naming import to_snake_case, unique_name
from minidl.nn.module import Module
from minidl.tensor import Tensor, from_numpy


def _same(a: np.ndarray) -> np.ndarray:
    return a


@dataclass
class WeightSpec:
    """One Keras weight of a layer: its Keras name ("kernel"), the minidl tensor holding it, the conversions between
    the two layouts, and whether it trains (a BatchNormalization's moving statistics do not)."""

    name: str
    tensor: Tensor
    to_keras: Callable[[np.ndarray], np.ndarray] = _same
    from_keras: Callable[[np.ndarray], np.ndarray] = _same
    trainable: bool = True

    @property
    def keras_shape(self) -> tuple[int, ...]:
        return tuple(self.to_keras(np.empty(tuple(self.tensor.shape), dtype=np.float32)).shape)


def as_input(inputs: Any, where: str) -> Tensor:
    """``inputs`` as a Tensor: NumPy arrays and lists become ``floatx()`` tensors (as Keras casts them)."""
    if isinstance(inputs, Tensor):
        return inputs
    array = np.asarray(inputs)
    if array.dtype == object:
        raise TypeError(f"{where}: expected a minidl Tensor or a NumPy array, got {type(inputs).__name__}")
    if array.dtype.kind in "biuf":
        array = array.astype(config.floatx(), copy=False)
    return from_numpy(np.ascontiguousarray(array))


@contextlib.contextmanager
def training_mode(module: Module, training: bool) -> Iterator[None]:
    """Run with every sub-module of ``module`` in training (True) or inference mode, restoring their modes after."""
    modes = [(m, m.training) for _, m in module.named_modules()]
    module.train(training)
    try:
        yield
    finally:
        for m, mode in modes:
            m.training = mode


class Layer(Module):
    """Base class of the Keras layers.

    name: defaults to the snake-case class name, numbered from the second one on ("conv2d", "conv2d_1"...).
    trainable: False freezes the layer's weights (and makes BatchNormalization use its moving statistics).
    dtype: "float32" or "float64" (default: ``keras.config.floatx()``).
    input_shape: the shape of one sample, for the first layer of a Sequential (Keras 2's way of giving it).

    Subclasses implement ``build(input_shape)`` (make the weights; call ``super().build``),
    ``compute_output_shape(input_shape)`` and ``call(inputs)``, or for a layer with an ``activation``,
    ``pre_activation(inputs)`` (the output before the activation, which the training loss may fuse with it).
    """

    def __init__(
        self,
        name: str | None = None,
        trainable: bool = True,
        dtype: str | None = None,
        input_shape: tuple[int, ...] | None = None,
    ):
        super().__init__()
        self.name = name if name is not None else unique_name(to_snake_case(type(self).__name__))
        self.built = False
        self.input_spec: Shape | None = None  # the shape the layer was built for, batch dimension None
        self.dtype_name = dtype if dtype is not None else config.floatx()
        if self.dtype_name not in ("float32", "float64"):
            raise ValueError(f"{type(self).__name__}: dtype must be 'float32' or 'float64', got {dtype!r}")
        self.activation: Callable[[Tensor], Tensor] | None = None
        self.batch_input_shape: Shape | None = None if input_shape is None else (None, *tuple(input_shape))
        self._trainable = bool(trainable)

    # ---------------------------------------------------------------------------------------------- building
    @property
    def dtype(self) -> Any:
        """The minidl dtype of the weights."""
        return dtypes.as_dtype(self.dtype_name)

    def build(self, input_shape: Shape) -> None:
        """Make the weights for inputs of ``input_shape`` (batch dimension first, None when unknown). Subclasses
        make theirs and then call this."""
        self.input_spec = (None, *tuple(input_shape)[1:])
        self.built = True
        self._apply_trainable()

    def ensure_built(self, input_shape: Shape) -> None:
        """Build for ``input_shape`` the first time; afterwards refuse shapes the weights do not fit."""
        if not self.built:
            self.build((None, *tuple(input_shape)[1:]))
        else:
            self.check_input_shape(tuple(input_shape))

    def check_input_shape(self, shape: Shape) -> None:
        """Refuse an input whose rank or fixed sizes differ from those the layer was built for."""
        spec = self.input_spec
        if spec is None:
            return
        fixed = [i for i, d in enumerate(spec) if d is not None and i > 0]
        if len(shape) != len(spec) or any(shape[i] != spec[i] for i in fixed if self._size_matters(i)):
            raise ValueError(
                f"{self.name} ({type(self).__name__}): built for inputs of shape {shape_text(spec)}, got "
                f"{shape_text(shape)}"
            )

    def _size_matters(self, axis: int) -> bool:
        """Whether the input size along ``axis`` is fixed by the weights (by default: the last axis)."""
        return axis == len(self.input_spec or ()) - 1

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        """The output shape for inputs of ``input_shape`` (the same, unless the layer says otherwise)."""
        return tuple(input_shape)

    # ------------------------------------------------------------------------------------------------ calling
    def pre_activation(self, inputs: Tensor) -> Tensor:
        """The output before the activation (layers with an ``activation`` implement it)."""
        raise NotImplementedError(f"{type(self).__name__} must implement call() or pre_activation()")

    def call(self, inputs: Tensor) -> Tensor:
        """The layer's computation (for layers with an activation: the activation of ``pre_activation``)."""
        out = self.pre_activation(inputs)
        return out if self.activation is None else self.activation(out)

    def forward(self, inputs: Tensor) -> Tensor:
        return self.call(inputs)

    def __call__(self, inputs: Any, training: bool | None = None) -> Tensor:
        """Run the layer on a batch (a Tensor or a NumPy array), building it on first use; in inference mode unless
        ``training=True``."""
        x = as_input(inputs, self.name)
        self.ensure_built(tuple(x.shape))
        with training_mode(self, bool(training)):
            return Module.__call__(self, x)

    def run(self, x: Tensor) -> Tensor:
        """Run the layer inside a model: built already, in the model's mode (training or not)."""
        return Module.__call__(self, x)

    # ------------------------------------------------------------------------------------------------ weights
    def _weight_specs(self) -> list[WeightSpec]:
        """The layer's Keras weights in Keras's order (none by default)."""
        return []

    def _require_built(self, what: str) -> None:
        if not self.built:
            raise ValueError(
                f"{self.name} ({type(self).__name__}) has no weights yet: it is built when its input shape is known "
                f"(a first call, model.build(input_shape), or keras.Input(shape) first in the model); then {what}"
            )

    @property
    def weights(self) -> list[Tensor]:
        """The layer's weights as minidl tensors (minidl's layout: a Conv2D kernel is (out, in, kh, kw))."""
        return [spec.tensor for spec in self._weight_specs()]

    @property
    def trainable_weights(self) -> list[Tensor]:
        """The weights that train."""
        return [s.tensor for s in self._weight_specs() if s.trainable and self._trainable]

    @property
    def non_trainable_weights(self) -> list[Tensor]:
        """The weights that do not train (moving statistics, and all of them when ``trainable`` is False)."""
        return [s.tensor for s in self._weight_specs() if not (s.trainable and self._trainable)]

    def get_weights(self) -> list[np.ndarray]:
        """The weights as NumPy arrays in Keras's layout and order (a Conv2D: kernel (kh, kw, in, out), bias)."""
        return [np.ascontiguousarray(spec.to_keras(spec.tensor.detach().numpy())) for spec in self._weight_specs()]

    def set_weights(self, weights: list[Any]) -> None:
        """Load NumPy arrays in Keras's layout and order (what ``get_weights`` returns, or a Keras layer's)."""
        self._require_built("set_weights")
        specs = self._weight_specs()
        expected = [spec.keras_shape for spec in specs]
        given = [tuple(np.shape(w)) for w in weights]
        if len(given) != len(expected) or given != expected:
            names = ", ".join(f"{s.name} {shape}" for s, shape in zip(specs, expected)) or "none"
            raise ValueError(
                f"{self.name} ({type(self).__name__}): set_weights expects {len(expected)} array(s) in Keras's "
                f"layout ({names}), got shapes {given}"
            )
        with no_grad():
            for spec, value in zip(specs, weights):
                array = spec.from_keras(np.asarray(value, dtype=spec.tensor.data.dtype))
                spec.tensor.copy_(from_numpy(np.ascontiguousarray(array)).to(spec.tensor.device))

    def count_params(self) -> int:
        """The number of weight values, moving statistics included (Keras's count)."""
        self._require_built("count_params")
        return sum(spec.tensor.numel() for spec in self._weight_specs())

    @property
    def trainable(self) -> bool:
        """Whether the layer's weights train (settable)."""
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        self._apply_trainable()

    def _apply_trainable(self) -> None:
        for spec in self._weight_specs():
            if spec.trainable:
                spec.tensor.requires_grad_(self._trainable)

    # --------------------------------------------------------------------------------------------- describing
    def get_config(self) -> dict[str, Any]:
        """The arguments that make this layer again (``type(layer)(**config)``)."""
        config = {"name": self.name, "trainable": self._trainable, "dtype": self.dtype_name}
        if self.batch_input_shape is not None:
            config["input_shape"] = list(self.batch_input_shape[1:])
        return config

    def activation_name(self) -> str:
        """The Keras name of the activation ("linear" when there is none)."""
        return "linear" if self.activation is None else activations.serialize(self.activation)

    def extra_repr(self) -> str:
        return f"name={self.name!r}"
