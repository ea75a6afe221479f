"""Global settings a Keras user sets once (``keras.config``): the float type of new layers and the default image
layout, channels-last (N, H, W, C) as in Keras and TensorFlow, or channels-first (N, C, H, W) as in PyTorch."""

from __future__ import annotations

_FLOATX = ("float32", "float64")
_DATA_FORMATS = ("channels_last", "channels_first")

_settings = {"floatx": "float32", "image_data_format": "channels_last"}


def floatx() -> str:
    """The dtype of new weights and of the inputs ``fit``/``predict`` cast to: "float32" (default) or "float64"."""
    return _settings["floatx"]


def set_floatx(value: str) -> None:
    """Set ``floatx()`` to "float32" or "float64" (minidl's floating dtypes)."""
    if value not in _FLOATX:
        raise ValueError(f"set_floatx: expected one of {', '.join(_FLOATX)}, got {value!r}")
    _settings["floatx"] = value


def image_data_format() -> str:
    """The layout layers use when their ``data_format`` is None: "channels_last" (default) or "channels_first"."""
    return _settings["image_data_format"]


def set_image_data_format(data_format: str) -> None:
    """Set ``image_data_format()`` for layers made from now on."""
    _settings["image_data_format"] = standardize_data_format(data_format)


def standardize_data_format(data_format: str | None) -> str:
    """``data_format`` checked, or the global default for None."""
    if data_format is None:
        return image_data_format()
    value = str(data_format).lower()
    if value not in _DATA_FORMATS:
        raise ValueError(f"data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
    return value


def epsilon() -> float:
    """The fuzz factor of probabilistic losses (predicted probabilities are clipped to [eps, 1 - eps]): 1e-7."""
    return 1e-7
