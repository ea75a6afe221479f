"""Keras weight files through h5py (an optional dependency: ``pip install "minidl[keras]"``).

Two layouts are read, by layer order:

- Keras 3 (``model.save_weights("x.weights.h5")``, and ``model.weights.h5`` inside a ``.keras`` archive): the
  weights of the i-th layer of class ``Conv2D`` are the datasets ``layers/conv2d_<i>/vars/0``, ``.../1``... (no
  suffix for the first), in the layer's weight order; the group name is the snake-case class name counted per
  class, whatever the layer's own name (kept in the ``name`` attribute of ``vars``).
- Keras 2 / the legacy HDF5 format (``.h5``, whole models under ``model_weights``): the ``layer_names``
  attribute lists the layers in order and each layer group's ``weight_names`` attribute its weights in order.

Arrays are in Keras's layout and go through each layer's ``set_weights`` (kernels transposed to minidl's).
``write`` produces the Keras 3 layout, which Keras 3's ``load_weights`` reads.
"""

from __future__ import annotations

import io
import os
import warnings
import zipfile
from collections import Counter
from typing import Any

import numpy as np

from minidl.keras.naming import to_snake_case


def h5py_module() -> Any:
    """The h5py module, or an ImportError saying how to install it."""
    try:
        import h5py
    except ImportError as err:
        raise ImportError(
            'reading and writing Keras .weights.h5/.keras files needs h5py: pip install "minidl[keras]" '
            "(or pip install h5py); minidl's own .npz/.safetensors files need nothing more"
        ) from err
    return h5py


def layer_paths(layers: list[Any]) -> list[str]:
    """Each layer's group in a Keras 3 weights file: "layers/dense", "layers/dense_1"..., counted per class."""
    seen: Counter[str] = Counter()
    paths = []
    for layer in layers:
        name = to_snake_case(type(layer).__name__)
        paths.append(f"layers/{name}" if seen[name] == 0 else f"layers/{name}_{seen[name]}")
        seen[name] += 1
    return paths


def write(model: Any, path: str | os.PathLike) -> None:
    """Write the model's weights in the Keras 3 layout."""
    h5py = h5py_module()
    with h5py.File(os.fspath(path), "w") as f:
        f.create_group("vars").attrs["name"] = model.name
        f.create_group("layers")
        for layer, group_path in zip(model.layers, layer_paths(model.layers)):
            group = f.create_group(group_path).create_group("vars")
            group.attrs["name"] = layer.name
            for i, array in enumerate(layer.get_weights()):
                group.create_dataset(str(i), data=array)


def _open(path: str | os.PathLike) -> Any:
    h5py = h5py_module()
    name = os.fspath(path)
    if name.endswith(".keras"):
        with zipfile.ZipFile(name) as archive:
            if "model.weights.h5" not in archive.namelist():
                raise ValueError(f"{name}: a .keras archive should hold model.weights.h5; found {archive.namelist()}")
            return h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r")
    return h5py.File(name, "r")


def read(model: Any, path: str | os.PathLike, skip_mismatch: bool = False) -> None:
    """Load a Keras weights file into ``model``'s layers, by layer order (see the module docstring)."""
    with _open(path) as f:
        if "layers" in f:
            found = _keras3_arrays(f, model.layers)
        else:
            root = f["model_weights"] if "model_weights" in f else f
            if "layer_names" not in root.attrs:
                raise ValueError(
                    f"{os.fspath(path)}: not a Keras weights file (neither Keras 3's layers/<name>/vars groups nor "
                    "Keras 2's layer_names attribute)"
                )
            found = _legacy_arrays(root, model.layers)
    for layer, (where, arrays) in zip(model.layers, found):
        expected = [spec.keras_shape for spec in layer._weight_specs()]
        given = [tuple(a.shape) for a in arrays]
        if given == expected:
            if arrays:
                layer.set_weights(arrays)
            continue
        message = (
            f"{os.fspath(path)}: layer {layer.name} ({type(layer).__name__}) has weights of shapes {expected} in "
            f"Keras's layout, but the file's {where} holds {given}"
        )
        if not skip_mismatch:
            raise ValueError(message + " (load_weights(..., skip_mismatch=True) skips such layers)")
        warnings.warn(message + "; skipped", stacklevel=3)


def _keras3_arrays(f: Any, layers: list[Any]) -> list[tuple[str, list[np.ndarray]]]:
    paths = layer_paths(layers)
    found = []
    for group_path in paths:
        vars_group = f.get(f"{group_path}/vars")
        arrays = [] if vars_group is None else [np.asarray(vars_group[str(i)]) for i in range(len(vars_group))]
        found.append((f"group {group_path}", arrays))
    extra = sorted(
        f"layers/{name}"
        for name, group in f["layers"].items()
        if f"layers/{name}" not in paths and len(group.get("vars", {})) > 0
    )
    if extra:
        raise ValueError(f"the weights file holds layers this model does not have: {', '.join(extra)}")
    return found


def _text(value: Any) -> str:
    return value.decode("utf8") if isinstance(value, bytes) else str(value)


def _legacy_arrays(root: Any, layers: list[Any]) -> list[tuple[str, list[np.ndarray]]]:
    """The Keras 2 file's layers that hold weights, matched in order to the model's layers that hold weights."""
    stored = []
    for name in map(_text, root.attrs["layer_names"]):
        weight_names = [_text(w) for w in root[name].attrs.get("weight_names", [])]
        if weight_names:
            stored.append((f"layer {name}", [np.asarray(root[name][w]) for w in weight_names]))
    with_weights = [i for i, layer in enumerate(layers) if layer._weight_specs()]
    if len(stored) != len(with_weights):
        raise ValueError(
            f"the weights file holds {len(stored)} layers with weights, this model {len(with_weights)} "
            f"({', '.join(layers[i].name for i in with_weights)})"
        )
    found: list[tuple[str, list[np.ndarray]]] = [("(no weights)", [])] * len(layers)
    for i, entry in zip(with_weights, stored):
        found[i] = entry
    return found
