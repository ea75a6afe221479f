"""Read and write image files through Pillow, as uint8 NumPy arrays in the file layout (H, W[, C]).

``to_tensor`` (in ``minidl.data.transforms``) turns what ``imread`` returns into the pipeline's float32 (C, H, W).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

__all__ = ["imread", "imwrite"]

_WRITE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}
_READ_MODES = (None, "L", "LA", "RGB", "RGBA")
# Modes whose pixels are already uint8 in the layouts imread returns.
_UINT8_MODES = ("L", "LA", "RGB", "RGBA")


def _as_uint8_mode(image: Image.Image) -> Image.Image:
    """``image`` converted, if needed, to the uint8 mode that keeps its content (mode=None in imread)."""
    if image.mode in _UINT8_MODES:
        return image
    if image.mode == "1":
        return image.convert("L")
    if image.mode == "P":  # a palette: its colours, with alpha where the palette has transparency
        return image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        return image.convert("RGB")
    if image.mode == "PA":
        return image.convert("RGBA")
    raise ValueError(
        f"imread: the image's mode {image.mode!r} has no uint8 form (16-bit or float pixels); "
        f"pass mode='L' or mode='RGB' to convert it"
    )


def imread(path: str | os.PathLike, mode: str | None = None) -> np.ndarray:
    """Read an image file (any format Pillow reads) as a uint8 array.

    Returns (H, W) for grayscale, (H, W, 3) for RGB, (H, W, 4) for RGBA, (H, W, 2) for grayscale + alpha.
    ``mode`` None keeps the file's content (a palette becomes RGB or RGBA, bilevel becomes L); "L", "LA", "RGB"
    or "RGBA" converts to that mode (Pillow's conversion: "L" is the BT.601 luma, rounded).
    Raises FileNotFoundError for a missing file, ValueError for a file Pillow cannot read as an image.
    """
    if mode not in _READ_MODES:
        raise ValueError(f"imread: mode must be one of {_READ_MODES}, got {mode!r}")
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "imread: a directory, not an image file", str(path))
    if not path.is_file():
        raise FileNotFoundError(errno.ENOENT, "imread: no such image file", str(path))
    try:
        with Image.open(path) as image:
            converted = image.convert(mode) if mode is not None else _as_uint8_mode(image)
            return np.array(converted, dtype=np.uint8)
    except UnidentifiedImageError as e:
        raise ValueError(f"imread: {str(path)!r} is not an image file Pillow can read") from e


def _to_uint8(array: Any) -> np.ndarray:
    """uint8 as it is; floats in [0, 1] scaled by 255 and rounded."""
    a = np.asarray(array)
    if a.dtype == np.uint8:
        return a
    if a.dtype.kind != "f":
        raise TypeError(
            f"imwrite: expected a uint8 array or a float array in [0, 1], got dtype {a.dtype} "
            f"(convert with array.astype(np.uint8) if the values are 0..255)"
        )
    if a.size and not (np.all(np.isfinite(a)) and a.min() >= 0.0 and a.max() <= 1.0):
        raise ValueError(
            f"imwrite: float images must have values in [0, 1], got min {np.nanmin(a)}, max {np.nanmax(a)}"
            + ("" if np.all(np.isfinite(a)) else " and non-finite values")
        )
    return np.floor(a * 255.0 + 0.5).astype(np.uint8)


def imwrite(path: str | os.PathLike, array: Any, quality: int = 95) -> None:
    """Write an image to a PNG or JPEG file; the format comes from the extension (.png, .jpg, .jpeg).

    ``array``: (H, W) grayscale, (H, W, 1), (H, W, 3) RGB or (H, W, 4) RGBA (PNG only), either uint8 or float
    in [0, 1] (scaled by 255 and rounded). A (C, H, W) array must be made channel-last first (``to_nhwc``).
    ``quality`` (1..95) is JPEG's; PNG is lossless.
    """
    path = Path(path)
    fmt = _WRITE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(_WRITE_FORMATS))
        raise ValueError(f"imwrite: unsupported extension {path.suffix!r} for {str(path)!r}; expected one of {known}")
    a = _to_uint8(array)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (3, 4))):
        raise ValueError(
            f"imwrite: expected an (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) array, got shape {a.shape} "
            f"(a channel-first (C, H, W) image needs to_nhwc first)"
        )
    if a.size == 0:
        raise ValueError(f"imwrite: the image is empty, shape {a.shape}")
    if fmt == "JPEG" and a.ndim == 3 and a.shape[2] == 4:
        raise ValueError(f"imwrite: JPEG has no alpha channel; write {str(path)!r} as .png or drop the alpha")
    if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)) or not 1 <= quality <= 95:
        raise ValueError(f"imwrite: quality must be an integer in [1, 95], got {quality!r}")
    options = {"quality": int(quality)} if fmt == "JPEG" else {}
    Image.fromarray(np.ascontiguousarray(a)).save(path, format=fmt, **options)
