"""Saving and loading models and weights.

- ``model.save(path)`` / ``load_model(path)``: one ``.npz`` or ``.safetensors`` file written by ``minidl.save``
  holding ``{"format": "minidl.keras/1", "config": architecture, "weights": state dict, "compile": loss,
  optimizer and metrics by name (or None), "optimizer_state": the optimizer's state dict (or None)}``. Keras's own
  ``.keras`` archives are not written (their weights can be read with ``load_weights``).
- ``model.save_weights(path)`` / ``model.load_weights(path)``: minidl's state dict (``.npz``/``.safetensors``), or
  Keras weight files (``.weights.h5``, ``.h5``, and ``.keras`` for reading) through ``minidl.keras.keras_h5``.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

from minidl.io import load, save
from minidl.keras import initializers, keras_h5, layers, losses, optimizers
from minidl.optim.optimizer import Optimizer as MinidlOptimizer

FORMAT = "minidl.keras/1"
_MINIDL_SUFFIXES = (".npz", ".safetensors")
_KERAS_WEIGHT_SUFFIXES = (".weights.h5", ".h5", ".keras")
LAYER_CLASSES = {name: getattr(layers, name) for name in layers.__all__ if name not in ("Input", "Layer")}


def model_config(model: Any) -> dict[str, Any]:
    """The architecture as plain data: name, input shape (one sample's, or None) and each layer's class and
    arguments."""
    return {
        "name": model.name,
        "input_shape": None if model.input_spec is None else list(model.input_spec[1:]),
        "layers": [{"class_name": type(layer).__name__, "config": layer.get_config()} for layer in model.layers],
    }


def _layer_from(entry: dict[str, Any]) -> Any:
    kind = LAYER_CLASSES.get(entry["class_name"])
    if kind is None:
        raise ValueError(f"load_model: unknown layer class {entry['class_name']!r}")
    config = {
        key: initializers.deserialize(value) if key.endswith("_initializer") else value
        for key, value in entry["config"].items()
    }
    if "input_shape" in config:
        config["input_shape"] = tuple(config["input_shape"])
    return kind(**config)


def _compile_config(model: Any) -> dict[str, Any] | None:
    if not model.compiled:
        return None
    if isinstance(model.optimizer, MinidlOptimizer):
        warnings.warn(
            "save: a minidl.optim optimizer cannot be saved by name; load_model will not compile", stacklevel=3
        )
        return None
    try:
        loss = losses.serialize(model.loss)
    except ValueError as err:
        warnings.warn(f"save: {err}", stacklevel=3)
        return None
    return {"optimizer": optimizers.serialize(model.optimizer), "loss": loss, "metrics": list(model.compiled_metrics)}


def _check_suffix(path: str | os.PathLike, action: str) -> None:
    name = os.fspath(path)
    if not name.endswith(_MINIDL_SUFFIXES):
        extra = " (Keras's .keras archives are read by load_weights, not written)" if name.endswith(".keras") else ""
        raise ValueError(
            f"{action}: minidl.keras writes whole models as .npz or .safetensors files, got {name!r}{extra}"
        )


def save_model(model: Any, path: str | os.PathLike) -> None:
    """Write ``model`` as described in the module docstring."""
    _check_suffix(path, "save")
    model._require_built("weights to save")
    compiled = _compile_config(model)
    state = None
    if compiled is not None and model.optimizer.built:
        state = model.optimizer.minidl.state_dict()
    save(
        {
            "format": FORMAT,
            "config": model_config(model),
            "weights": dict(model.state_dict()),
            "compile": compiled,
            "optimizer_state": state,
        },
        path,
    )


def load_model(path: str | os.PathLike, compile: bool = True) -> Any:
    """The model ``save_model`` wrote (compiled as it was, with its optimizer state, unless ``compile=False``)."""
    from minidl.keras.layers.core import Input
    from minidl.keras.models import Sequential

    name = os.fspath(path)
    if name.endswith(_KERAS_WEIGHT_SUFFIXES):
        raise ValueError(
            f"load_model reads files written by minidl.keras's model.save (.npz/.safetensors); for a Keras file "
            f"({name}), build the same Sequential and call model.load_weights({name!r})"
        )
    data = load(path)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{name} is not a model saved by minidl.keras (no format {FORMAT!r})")
    config = data["config"]
    model = Sequential(name=config["name"])
    if config["input_shape"] is not None:
        model.add(Input(tuple(config["input_shape"])))
    for entry in config["layers"]:
        model.add(_layer_from(entry))
    model.load_state_dict(data["weights"])
    settings = data.get("compile")
    if compile and settings is not None:
        model.compile(
            optimizer=optimizers.deserialize(settings["optimizer"]),
            loss=losses.deserialize(settings["loss"]),
            metrics=list(settings["metrics"]),
        )
        if data.get("optimizer_state") is not None:
            optimizer = model.minidl_optimizer()
            optimizer.load_state_dict(data["optimizer_state"])
    return model


def save_weights(model: Any, path: str | os.PathLike) -> None:
    """Write the weights: Keras 3's ``.weights.h5`` layout, or minidl's state dict."""
    name = os.fspath(path)
    model._require_built("weights to save")
    if name.endswith(".weights.h5"):
        keras_h5.write(model, name)
    elif name.endswith(_MINIDL_SUFFIXES):
        save(dict(model.state_dict()), name)
    else:
        raise ValueError(
            f"save_weights: write to a .weights.h5 (Keras) or .npz/.safetensors (minidl) file, got {name!r}"
        )


def load_weights(model: Any, path: str | os.PathLike, skip_mismatch: bool = False) -> None:
    """Read weights written by ``save_weights``, or by Keras (see ``keras_h5``)."""
    name = os.fspath(path)
    model._require_built("weights to load into (build it first, or start it with keras.Input)")
    if name.endswith(_KERAS_WEIGHT_SUFFIXES):
        keras_h5.read(model, name, skip_mismatch)
    elif name.endswith(_MINIDL_SUFFIXES):
        model.load_state_dict(load(name), strict=not skip_mismatch)
    else:
        raise ValueError(
            f"load_weights: expected a Keras .weights.h5/.h5/.keras file or a minidl .npz/.safetensors file, "
            f"got {name!r}"
        )
