"""``Sequential``: a stack of Keras layers with Keras's training API (``compile``, ``fit``, ``evaluate``,
``predict``, ``summary``, ``save``), and ``load_model``.

The model is a minidl ``Module`` holding its layers as children "0", "1"... (``state_dict`` keys such as
"0.conv.weight"); it is built (its weights made) when its input shape is known: at once when it starts with
``keras.Input(shape)`` (or a layer given ``input_shape=``), else at the first call or ``fit``.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from minidl.keras import activations, losses, optimizers, saving, summary, training
from minidl.keras.callbacks import History
from minidl.keras.layers.base import Layer, as_input, training_mode
from minidl.keras.layers.core import InputLayer
from minidl.keras.layers.layout import Shape, shape_text
from minidl.keras.naming import unique_name
from minidl.nn.module import Module
from minidl.optim.optimizer import Optimizer as MinidlOptimizer
from minidl.tensor import Tensor


class Sequential(Module):
    """``Sequential([layers...])``: each layer's output is the next one's input.

    ``keras.Input(shape)`` (one sample's shape) first builds the model at once; otherwise it is built at its first
    call or ``fit``. ``model(x)`` runs it in inference mode (``training=True`` for training mode), as in Keras.
    """

    def __init__(self, layers: list[Any] | None = None, trainable: bool = True, name: str | None = None):
        super().__init__()
        self.name = name if name is not None else unique_name("sequential")
        self.built = False
        self.input_spec: Shape | None = None
        self.input_layer: InputLayer | None = None
        self.loss: losses.Loss | None = None
        self.optimizer: Any = None
        self.compiled_metrics: list[str] = []
        self.stop_training = False
        self.history: History | None = None
        for layer in layers or []:
            self.add(layer)
        if not trainable:
            for layer in self.layers:
                layer.trainable = False

    # -------------------------------------------------------------------------------------------- structure
    @property
    def layers(self) -> list[Layer]:
        """The layers, in order (the Input is not one of them, as in Keras)."""
        return list(self._modules.values())

    def add(self, layer: Any) -> None:
        """Append ``layer`` (a Keras layer, or ``keras.Input`` as the first item)."""
        if isinstance(layer, InputLayer):
            if self._modules or self.input_layer is not None:
                raise ValueError(f"{self.name}: keras.Input must come first, before any layer")
            object.__setattr__(self, "input_layer", layer)  # kept out of the layers (not a child module)
            self.build(layer.shape)
            return
        if not isinstance(layer, Layer):
            raise TypeError(
                f"{self.name}: Sequential takes minidl.keras layers (keras.layers.Dense...), got {type(layer).__name__}"
                + ("; wrap minidl.nn modules in minidl.nn.Sequential instead" if isinstance(layer, Module) else "")
            )
        if any(existing is layer for existing in self.layers):
            raise ValueError(f"{self.name}: the layer {layer.name!r} is already in the model")
        if not self._modules and self.input_layer is None and layer.batch_input_shape is not None:
            spec = layer.batch_input_shape
            object.__setattr__(self, "input_layer", InputLayer(spec[1:], batch_size=spec[0]))
        self.add_module(str(len(self._modules)), layer)
        if self.built:
            self._build_layer(layer, self._shape_before(len(self._modules) - 1))
        elif self.input_layer is not None:
            self.build(self.input_layer.shape)

    def pop(self) -> Layer:
        """Remove and return the last layer."""
        if not self._modules:
            raise ValueError(f"{self.name}: there is no layer to pop")
        key = next(reversed(self._modules))
        return self._modules.pop(key)

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        """A layer by name or by index."""
        if index is not None:
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(
            f"{self.name}: no layer named {name!r}; the layers are {[layer.name for layer in self.layers]}"
        )

    # --------------------------------------------------------------------------------------------- building
    def _shape_before(self, index: int) -> Shape:
        shape = self.input_spec
        for layer in self.layers[:index]:
            shape = layer.compute_output_shape(shape)
        return shape

    @staticmethod
    def _build_layer(layer: Layer, shape: Shape) -> None:
        if not layer.built:
            layer.build(shape)

    def build(self, input_shape: Shape) -> None:
        """Make every layer's weights for inputs of ``input_shape`` (the batch size first, None)."""
        shape = (None, *tuple(input_shape)[1:])
        self.input_spec = shape
        for layer in self.layers:
            self._build_layer(layer, shape)
            shape = layer.compute_output_shape(shape)
        self.built = True

    @property
    def input_shape(self) -> Shape:
        """The input shape the model was built for, (None, ...)."""
        self._require_built("input_shape")
        return self.input_spec

    @property
    def output_shape(self) -> Shape:
        """The output shape, (None, ...)."""
        self._require_built("output_shape")
        return self._shape_before(len(self.layers))

    def _require_built(self, what: str) -> None:
        if not self.built:
            raise ValueError(
                f"{self.name} has not been built yet, so it has no {what}: start it with keras.Input(shape=...), "
                "call model.build((None, *sample_shape)), or call it on a batch of data"
            )

    def check_input(self, shape: tuple[int, ...]) -> None:
        """Refuse inputs whose shape is not the one the model was built for, naming the likely fix."""
        spec = self.input_spec
        if spec is None:
            return
        fits = len(shape) == len(spec) and all(d is None or d == s for d, s in zip(spec[1:], shape[1:]))
        if fits:
            return
        message = f"{self.name}: expected inputs of shape {shape_text(spec)}, got {shape_text((None, *shape[1:]))}"
        if len(shape) == len(spec) - 1 and len(spec) == 4:
            if spec[-1] == 1 and tuple(shape[1:]) == tuple(spec[1:-1]):
                message += ": add the channel axis with x[..., None] or np.expand_dims(x, -1)"
            elif spec[1] == 1 and tuple(shape[1:]) == tuple(spec[2:]):
                message += ": add the channel axis with x[:, None] or np.expand_dims(x, 1)"
        elif len(shape) == len(spec) == 4 and shape[1] == spec[-1] and tuple(shape[2:]) == tuple(spec[1:3]):
            message += (
                ": the images look channels-first (N, C, H, W) but the model is channels-last (N, H, W, C); use "
                "np.transpose(x, (0, 2, 3, 1)), or build the layers with data_format='channels_first'"
            )
        raise ValueError(message)

    def ensure_built(self, shape: tuple[int, ...]) -> None:
        """Build for inputs of ``shape`` the first time, then check that inputs fit."""
        if not self.built:
            self.build((None, *shape[1:]))
        else:
            self.check_input(shape)

    # ---------------------------------------------------------------------------------------------- calling
    def run_layers(self, x: Tensor, skip_last_activation: bool = False) -> Tensor:
        """The layers in turn, in the model's current mode; optionally without the last layer's activation."""
        layers = self.layers
        for layer in layers[:-1]:
            x = layer.run(x)
        if not layers:
            return x
        last = layers[-1]
        if skip_last_activation:
            return last.pre_activation(x)
        return last.run(x)

    def last_activation_name(self) -> str | None:
        """The Keras name of the last layer's activation, when it has one ("softmax"...)."""
        layers = self.layers
        activation = getattr(layers[-1], "activation", None) if layers else None
        if activation is None:
            return None
        for name, fn in activations.ACTIVATIONS.items():
            if fn is activation:
                return name
        return None

    def forward(self, x: Tensor) -> Tensor:
        return self.run_layers(x)

    def call(self, inputs: Tensor, training: bool | None = None) -> Tensor:
        """The model's output for a batch (Keras's name for it)."""
        return self(inputs, training=training)

    def __call__(self, inputs: Any, training: bool | None = None) -> Tensor:
        """Run the model on a batch (a Tensor or NumPy array), building it on first use; inference mode unless
        ``training=True``."""
        x = as_input(inputs, self.name)
        self.ensure_built(tuple(x.shape))
        with training_mode(self, bool(training)):
            return Module.__call__(self, x)

    # -------------------------------------------------------------------------------------------- compiling
    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, metrics: list[str] | None = None) -> None:
        """Choose the optimizer ("adam", "sgd", "rmsprop", "adamw" with Keras's defaults, a keras.optimizers
        object, or a minidl.optim optimizer over this model's parameters), the loss (a name such as
        "sparse_categorical_crossentropy", a keras.losses object, or ``fn(y_true, y_pred)``) and the metrics
        (["accuracy"], "mae", "mse")."""
        if loss is None:
            raise ValueError(
                f"{self.name}.compile: a loss is needed, e.g. loss='sparse_categorical_crossentropy' (integer labels) "
                "or 'categorical_crossentropy' (one-hot targets)"
            )
        self.optimizer = optimizers.get(optimizer)
        self.loss = losses.get(loss)
        names = [metrics] if isinstance(metrics, str) else list(metrics or [])
        from minidl.keras import metrics as metric_names

        for name in names:
            if not isinstance(name, str) or name not in metric_names.KNOWN:
                raise ValueError(
                    f"{self.name}.compile: unknown metric {name!r}; known: {', '.join(metric_names.KNOWN)}"
                )
        self.compiled_metrics = names

    @property
    def compiled(self) -> bool:
        """Whether ``compile`` was called."""
        return self.loss is not None

    def require_compiled(self, what: str) -> None:
        """Refuse ``fit``/``evaluate`` before ``compile``, saying how to compile."""
        if not self.compiled:
            raise RuntimeError(
                f"{self.name}: call compile() before {what}(), e.g. model.compile(optimizer='adam', "
                "loss='sparse_categorical_crossentropy', metrics=['accuracy'])"
            )

    def minidl_optimizer(self) -> MinidlOptimizer:
        """The minidl optimizer that trains the model (a Keras optimizer is built over the parameters here)."""
        if isinstance(self.optimizer, MinidlOptimizer):
            return self.optimizer
        if not self.optimizer.built:
            self.optimizer.build([p for p in self.parameters() if p.requires_grad])
        return self.optimizer.minidl

    # --------------------------------------------------------------------------------------------- training
    def fit(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        epochs: int = 1,
        verbose: Any = "auto",
        callbacks: list[Any] | None = None,
        validation_split: float = 0.0,
        validation_data: Any = None,
        shuffle: bool = True,
    ) -> History:
        """Train on NumPy arrays: x (N, ...) and targets y (N, ...) for ``epochs`` epochs of ``batch_size`` (32)
        samples, shuffled each epoch. ``validation_split`` keeps the last fraction of the samples (before
        shuffling) for validation; ``validation_data=(x_val, y_val)`` gives them instead. verbose: 1 ("auto") a
        progress bar and a line per epoch, 2 the lines only, 0 nothing. Returns the ``History``, whose
        ``.history`` maps "loss", "accuracy", "val_loss", "val_accuracy"... to their values per epoch."""
        return training.fit(
            self, x, y, batch_size, epochs, verbose, callbacks, validation_split, validation_data, shuffle
        )

    def evaluate(
        self,
        x: Any = None,
        y: Any = None,
        batch_size: int | None = None,
        verbose: Any = "auto",
        return_dict: bool = False,
    ) -> Any:
        """The loss on (x, y), and the compiled metrics: ``loss`` alone, else ``[loss, metric, ...]`` (a dict with
        ``return_dict``), in inference mode."""
        return training.evaluate(self, x, y, batch_size, verbose, return_dict)

    def predict(self, x: Any, batch_size: int | None = None, verbose: Any = "auto") -> np.ndarray:
        """The outputs for x (N, ...) as one NumPy array (N, ...), in inference mode."""
        return training.predict(self, x, batch_size, verbose)

    # ----------------------------------------------------------------------------------------------- weights
    def get_weights(self) -> list[np.ndarray]:
        """Every layer's weights in Keras's layout and order."""
        return [w for layer in self.layers for w in layer.get_weights()]

    def set_weights(self, weights: list[Any]) -> None:
        """Load what ``get_weights`` returns (or a Keras model's ``get_weights()``)."""
        self._require_built("weights")
        weights = list(weights)
        counts = [len(layer._weight_specs()) for layer in self.layers]
        if len(weights) != sum(counts):
            raise ValueError(f"{self.name}: set_weights expects {sum(counts)} arrays, got {len(weights)}")
        start = 0
        for layer, count in zip(self.layers, counts):
            layer.set_weights(weights[start : start + count])
            start += count

    def count_params(self) -> int:
        """The number of weight values, moving statistics included (Keras's count)."""
        self._require_built("weights")
        return sum(layer.count_params() for layer in self.layers)

    @property
    def weights(self) -> list[Tensor]:
        """Every layer's weights as minidl tensors."""
        return [w for layer in self.layers for w in layer.weights]

    @property
    def trainable_weights(self) -> list[Tensor]:
        return [w for layer in self.layers for w in layer.trainable_weights]

    @property
    def non_trainable_weights(self) -> list[Tensor]:
        return [w for layer in self.layers for w in layer.non_trainable_weights]

    # -------------------------------------------------------------------------------------- showing, saving
    def summary(self, print_fn: Any = None) -> str:
        """Print (through ``print_fn``, default ``print``) and return Keras's table: each layer's name (type),
        output shape and parameter count, then the totals."""
        text = summary.table(self)
        (print_fn or print)(text)
        return text

    def get_config(self) -> dict[str, Any]:
        """The architecture: the input shape and each layer's class and arguments."""
        return saving.model_config(self)

    def save(self, filepath: str | os.PathLike) -> None:
        """Write the whole model (architecture, weights, compile settings, optimizer state) to ``.npz`` or
        ``.safetensors`` (minidl's formats); ``keras.models.load_model`` reads it back."""
        saving.save_model(self, filepath)

    def save_weights(self, filepath: str | os.PathLike) -> None:
        """Write the weights: a Keras ``.weights.h5`` file (needs h5py; Keras 3 reads it), or minidl's ``.npz`` /
        ``.safetensors`` state dict."""
        saving.save_weights(self, filepath)

    def load_weights(self, filepath: str | os.PathLike, skip_mismatch: bool = False) -> None:
        """Read weights by layer order: from a Keras ``.weights.h5`` or ``.keras`` file (h5py needed; kernels are
        transposed from Keras's layout), or a ``.npz``/``.safetensors`` state dict of this model."""
        saving.load_weights(self, filepath, skip_mismatch)

    def extra_repr(self) -> str:
        return f"name={self.name!r}"


def load_model(filepath: str | os.PathLike, compile: bool = True) -> Sequential:
    """A model saved by ``model.save`` (minidl's ``.npz``/``.safetensors``), compiled as it was unless
    ``compile=False``."""
    return saving.load_model(filepath, compile)
