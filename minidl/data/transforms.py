"""Pre-processing and augmentation on NumPy arrays: functions, and transform classes that call them.

Layout: the pipeline is channel-first. Every transform takes a single image (C, H, W) or a batch (N, C, H, W)
(what the DataLoader hands its ``transform``: float32 NCHW) and returns the same layout. The exceptions say so:
``to_tensor`` and ``to_nchw`` read the channel-last layout of image files (H, W, C) / (N, H, W, C), ``to_nhwc``
writes it, and ``crop_and_resize`` takes a batch and returns one crop per box.

Values: float images are in [0, 1] (what ``to_tensor`` makes); uint8 images in [0, 255] are accepted too, and a
transform that computes in floating point rounds and clips its result back to the input's integer dtype.

Randomness: a random transform draws independent parameters for every image of a batch. The functions take
``seed``: an int (a fresh generator), a ``numpy.random.Generator`` (used and advanced), or None (minidl's
global generator, so ``minidl.manual_seed`` fixes the draws). The classes take ``seed`` once, at construction,
and keep their own generator; with None it is seeded from minidl's global generator at that moment.

    pipeline = Compose([RandomCrop(28, padding=2), RandomAffine(10, translate=(0.1, 0.1)),
                        Normalize((0.1307,), (0.3081,))])
    batch = pipeline(batch)            # float32 (N, 1, 28, 28) -> float32 (N, 1, 28, 28)
"""

from __future__ import annotations

import numbers
from typing import Any, Callable, Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from minidl import random

__all__ = [
    "AdjustBrightness", "AdjustContrast", "ColorJitter", "Compose", "FlipLeftRight", "FlipUpDown", "Grayscale",
    "Lambda", "Normalize", "RGBToBGR", "RGBToYUV", "RandomAffine", "RandomCrop", "RandomFlip", "RandomHorizontalFlip",
    "RandomTransform", "RandomVerticalFlip", "Resize", "ToTensor", "Transform", "YUVToRGB", "adjust_brightness",
    "adjust_contrast", "affine", "crop_and_resize", "flip_left_right", "flip_up_down", "normalize", "random_affine",
    "random_crop", "random_flip", "resize", "rgb_to_bgr", "rgb_to_grayscale", "rgb_to_yuv", "to_nchw", "to_nhwc",
    "to_tensor", "yuv_to_rgb",
]  # fmt: skip

Seed = int | np.random.Generator | None
Size = int | Sequence[int]

# ITU-R BT.601 luma weights, and the analog YUV built on them (TensorFlow's rgb_to_yuv uses this matrix rounded,
# within 3e-5):
#   Y = Wr R + Wg G + Wb B,   U = Umax (B - Y) / (1 - Wb),   V = Vmax (R - Y) / (1 - Wr)
_WR, _WB = 0.299, 0.114
_WG = 1.0 - _WR - _WB
_U_MAX, _V_MAX = 0.436, 0.615
_RGB_TO_YUV = np.array(
    [
        [_WR, _WG, _WB],
        [-_U_MAX * _WR / (1 - _WB), -_U_MAX * _WG / (1 - _WB), _U_MAX],
        [_V_MAX, -_V_MAX * _WG / (1 - _WR), -_V_MAX * _WB / (1 - _WR)],
    ]
)
_YUV_TO_RGB = np.linalg.inv(_RGB_TO_YUV)


# ----------------------------------------------------------------------------------------------------------------
# Checks and small helpers


def _array(x: Any, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype.kind not in "fiu":
        raise TypeError(f"{name}: expected a float or integer array, got dtype {x.dtype}")
    return x


def _batched(x: Any, name: str) -> tuple[np.ndarray, bool]:
    """``x`` as an (N, C, H, W) batch, and whether it was a single (C, H, W) image."""
    x = _array(x, name)
    if x.ndim not in (3, 4):
        raise ValueError(f"{name}: expected a (C, H, W) image or an (N, C, H, W) batch, got shape {x.shape}")
    return (x[None], True) if x.ndim == 3 else (x, False)


def _unbatched(y: np.ndarray, single: bool) -> np.ndarray:
    return y[0] if single else y


def _check_channels(x: np.ndarray, allowed: tuple[int, ...], name: str) -> None:
    if x.shape[-3] not in allowed:
        want = " or ".join(str(c) for c in allowed)
        channels = "channel" if allowed == (1,) else "channels"
        raise ValueError(f"{name}: expected {want} {channels} at dim -3, got shape {x.shape}")


def _float_dtype(dtype: np.dtype) -> np.dtype:
    return dtype if dtype.kind == "f" else np.dtype(np.float32)


def _cast_like(y: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``y`` (floating) in ``dtype``: integer dtypes are rounded half up and clipped to their range."""
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return np.clip(np.floor(y + 0.5), info.min, info.max).astype(dtype)
    return y.astype(dtype, copy=False)


def _upper_bound(dtype: np.dtype) -> float:
    """The brightest value: 1 for float images, the dtype's maximum for integer ones."""
    return float(np.iinfo(dtype).max) if dtype.kind in "iu" else 1.0


def _positive_int(v: Any, what: str, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ValueError(f"{name}: {what} must be a positive integer, got {v!r}")
    return int(v)


def _size_pair(size: Size, name: str) -> tuple[int, int]:
    """(h, w) from an int (a square) or a pair."""
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        pair = (size, size)
    else:
        pair = tuple(size) if isinstance(size, (tuple, list, np.ndarray)) else ()
        if len(pair) != 2:
            raise ValueError(f"{name}: size must be an int or a pair (h, w), got {size!r}")
    return _positive_int(pair[0], "height", name), _positive_int(pair[1], "width", name)


def _range(v: Any, what: str, name: str, *, low: float, symmetric_about: float | None) -> tuple[float, float]:
    """A (lo, hi) pair from a pair, or from a number d: (about - d, about + d) (clamped to ``low``)."""
    if isinstance(v, numbers.Real):
        if symmetric_about is None:
            raise ValueError(f"{name}: {what} must be a pair (lo, hi), got {v!r}")
        if v < 0:
            raise ValueError(f"{name}: {what} must be a non-negative number or a pair (lo, hi), got {v!r}")
        lo, hi = max(symmetric_about - float(v), low), symmetric_about + float(v)
    elif isinstance(v, (tuple, list)) and len(v) == 2 and all(isinstance(e, numbers.Real) for e in v):
        lo, hi = float(v[0]), float(v[1])
    else:
        raise ValueError(f"{name}: {what} must be a number or a pair (lo, hi), got {v!r}")
    if not (np.isfinite(lo) and np.isfinite(hi) and low <= lo <= hi):
        raise ValueError(f"{name}: {what} must satisfy {low} <= lo <= hi, got ({lo}, {hi})")
    return lo, hi


def _generator(seed: Seed) -> np.random.Generator:
    """The generator a random function draws from: a Generator as given, an int's fresh one, or the global one."""
    if seed is None:
        return random.generator()
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) and seed >= 0:
        return np.random.default_rng(int(seed))
    raise ValueError(f"seed must be a non-negative int, a numpy Generator or None, got {seed!r}")


def _own_generator(seed: Seed) -> np.random.Generator:
    """A transform object's own generator; with no seed, seeded now from minidl's global generator."""
    if seed is None:
        return np.random.default_rng(random.generator().integers(2**63))
    return _generator(seed)


def _per_image(v: Any, n: int, what: str, name: str) -> np.ndarray:
    """A scalar or an (n,) array of per-image values, as float64 (n,)."""
    a = np.asarray(v, dtype=np.float64)
    if a.ndim == 0:
        return np.full(n, float(a))
    if a.shape != (n,):
        raise ValueError(f"{name}: {what} must be a number or one value per image, shape ({n},), got {a.shape}")
    return a


# ----------------------------------------------------------------------------------------------------------------
# Layout and value conversions


def to_tensor(x: Any) -> np.ndarray:
    """An image file's array as the pipeline's float32 channel-first array, like torchvision's ``ToTensor``.

    Shapes: (H, W) grayscale -> (1, H, W); (H, W, C) -> (C, H, W); (N, H, W, C) -> (N, C, H, W) (a batch of
    grayscale images must come as (N, H, W, 1)). uint8 values are divided by 255 (to [0, 1]); float values are
    kept as they are. Returns a new contiguous float32 array.
    """
    x = _array(x, "to_tensor")
    if x.dtype != np.uint8 and x.dtype.kind != "f":
        raise TypeError(f"to_tensor: expected a uint8 or float array, got dtype {x.dtype}")
    if x.ndim == 2:
        x = x[None]
    elif x.ndim in (3, 4):
        x = np.moveaxis(x, -1, -3)
    else:
        raise ValueError(f"to_tensor: expected (H, W), (H, W, C) or (N, H, W, C), got shape {x.shape}")
    if x.dtype == np.uint8:
        return np.ascontiguousarray(x, dtype=np.float32) / np.float32(255)
    return np.ascontiguousarray(x, dtype=np.float32)


def to_nchw(x: Any) -> np.ndarray:
    """Channel-last to channel-first: (H, W, C) -> (C, H, W), (N, H, W, C) -> (N, C, H, W). A view."""
    x = _array(x, "to_nchw")
    if x.ndim not in (3, 4):
        raise ValueError(f"to_nchw: expected an (H, W, C) image or an (N, H, W, C) batch, got shape {x.shape}")
    return np.moveaxis(x, -1, -3)


def to_nhwc(x: Any) -> np.ndarray:
    """Channel-first to channel-last: (C, H, W) -> (H, W, C), (N, C, H, W) -> (N, H, W, C). A view."""
    x = _array(x, "to_nhwc")
    if x.ndim not in (3, 4):
        raise ValueError(f"to_nhwc: expected a (C, H, W) image or an (N, C, H, W) batch, got shape {x.shape}")
    return np.moveaxis(x, -3, -1)


def normalize(x: Any, mean: float | Sequence[float], std: float | Sequence[float]) -> np.ndarray:
    """(x - mean[c]) / std[c] for each channel c of a (C, H, W) image or (N, C, H, W) batch.

    ``mean`` and ``std`` are numbers (every channel) or sequences of C numbers; every std must be positive.
    Float inputs keep their dtype; integer inputs give float32.
    """
    x, single = _batched(x, "normalize")
    c = x.shape[1]
    dtype = _float_dtype(x.dtype)
    stats = []
    for what, v in (("mean", mean), ("std", std)):
        a = np.asarray(v, dtype=np.float64).reshape(-1)
        if a.size == 1:
            a = np.full(c, a[0])
        if a.shape != (c,):
            raise ValueError(f"normalize: {what} must have one value per channel ({c}), got {a.size}")
        stats.append(a.astype(dtype)[:, None, None])
    m, s = stats
    if not np.all(s > 0):
        raise ValueError(f"normalize: std must be positive, got {np.ravel(s).tolist()}")
    return _unbatched((x.astype(dtype, copy=False) - m) / s, single)


def _mix_channels(x: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``matrix`` (K, 3) applied to the channel dim of (..., 3, H, W), in x's float dtype: (..., K, H, W)."""
    dtype = _float_dtype(x.dtype)
    flat = x.reshape(*x.shape[:-2], x.shape[-2] * x.shape[-1]).astype(dtype, copy=False)
    return (matrix.astype(dtype) @ flat).reshape(*x.shape[:-3], matrix.shape[0], *x.shape[-2:])


def _rgb(x: Any, name: str) -> np.ndarray:
    x = _array(x, name)
    if x.ndim not in (3, 4):
        raise ValueError(f"{name}: expected a (3, H, W) image or an (N, 3, H, W) batch, got shape {x.shape}")
    _check_channels(x, (3,), name)
    return x


def rgb_to_grayscale(x: Any, num_output_channels: int = 1) -> np.ndarray:
    """Luma 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601) of (3, H, W) / (N, 3, H, W) RGB images.

    Returns (1, H, W) / (N, 1, H, W), or the luma repeated in 3 channels with ``num_output_channels=3``. Float
    inputs keep their dtype; uint8 (and other integer) inputs are rounded back to their dtype, as Pillow's
    ``convert('L')`` does.
    """
    x = _rgb(x, "rgb_to_grayscale")
    if num_output_channels not in (1, 3):
        raise ValueError(f"rgb_to_grayscale: num_output_channels must be 1 or 3, got {num_output_channels!r}")
    gray = _cast_like(_mix_channels(x, _RGB_TO_YUV[:1]), x.dtype)
    return np.repeat(gray, 3, axis=-3) if num_output_channels == 3 else gray


def rgb_to_yuv(x: Any) -> np.ndarray:
    """RGB -> YUV (BT.601 analog YUV, as TensorFlow's ``rgb_to_yuv``) of (3, H, W) / (N, 3, H, W) images.

    With Wr = 0.299, Wb = 0.114, Wg = 1 - Wr - Wb, Umax = 0.436, Vmax = 0.615:
    Y = Wr R + Wg G + Wb B, U = Umax (B - Y) / (1 - Wb), V = Vmax (R - Y) / (1 - Wr), i.e. (to 5 decimals)

        [Y]   [ 0.29900   0.58700   0.11400] [R]
        [U] = [-0.14714  -0.28886   0.43600] [G]
        [V]   [ 0.61500  -0.51499  -0.10001] [B]

    For RGB in [0, 1]: Y in [0, 1], U in [-0.436, 0.436], V in [-0.615, 0.615]. Float inputs keep their dtype;
    integer inputs give float32 (in the input's scale). ``yuv_to_rgb`` applies the inverse matrix.
    """
    x = _rgb(x, "rgb_to_yuv")
    return _mix_channels(x, _RGB_TO_YUV)


def yuv_to_rgb(x: Any) -> np.ndarray:
    """YUV -> RGB, the exact inverse of ``rgb_to_yuv`` (the inverse of its matrix), on (3, H, W) / (N, 3, H, W):

        [R]   [1.0   0.00000   1.13984] [Y]
        [G] = [1.0  -0.39465  -0.58060] [U]
        [B]   [1.0   2.03211   0.00000] [V]

    Float inputs keep their dtype; integer inputs give float32. Values are not clipped.
    """
    x = _rgb(x, "yuv_to_rgb")
    return _mix_channels(x, _YUV_TO_RGB)


def rgb_to_bgr(x: Any) -> np.ndarray:
    """Reverse the channel order of (3, H, W) / (N, 3, H, W) images (RGB <-> BGR). A new array."""
    x = _rgb(x, "rgb_to_bgr")
    return np.ascontiguousarray(x[..., ::-1, :, :])


# ----------------------------------------------------------------------------------------------------------------
# Geometry: resize, crops, flips


def _nearest_indices(n_in: int, n_out: int) -> np.ndarray:
    """Pillow's NEAREST source indices: floor((i + 0.5) * n_in / n_out) for i < n_out."""
    scale = n_in / n_out
    # Pillow walks the source coordinate by repeated addition (x += scale) and truncates it; summing the same
    # way (np.add.accumulate is sequential) reproduces its choice where (i + 0.5) * scale is nearly an integer.
    coords = np.add.accumulate(np.concatenate([[0.5 * scale], np.full(n_out - 1, scale)]))
    return np.minimum(coords.astype(np.intp), n_in - 1)


def _triangle_weights(n_in: int, n_out: int, antialias: bool) -> np.ndarray:
    """(n_out, n_in) resampling matrix of Pillow's BILINEAR filter along one axis.

    Output pixel i has its centre at c = (i + 0.5) * n_in / n_out in input coordinates; input pixel j (centre
    j + 0.5) gets weight max(0, 1 - |j + 0.5 - c| / support), normalised over the row. support = 1 is the
    plain half-pixel bilinear interpolation (edges clamped); with ``antialias`` and n_out < n_in the support
    widens to n_in / n_out, so every input pixel contributes when shrinking (Pillow's behaviour).
    """
    scale = n_in / n_out
    support = max(scale, 1.0) if antialias else 1.0
    centres = (np.arange(n_out) + 0.5) * scale
    w = np.maximum(0.0, 1.0 - np.abs(np.arange(n_in) + 0.5 - centres[:, None]) / support)
    return w / w.sum(axis=1, keepdims=True)


def resize(x: Any, size: Size, mode: str = "bilinear", antialias: bool = True) -> np.ndarray:
    """Resize (C, H, W) / (N, C, H, W) images to ``size`` = (h, w) (an int: a square), with Pillow's semantics.

    - ``"nearest"``: output pixel i takes input pixel floor((i + 0.5) * H / h) (computed in floating point the
      way Pillow does), exactly as ``PIL.Image.resize`` with ``NEAREST`` at integer and non-integer scales;
      values are copied, the dtype is kept.
    - ``"bilinear"``: a separable triangle filter on pixel centres (half-pixel, align_corners=False, edges
      clamped), one (h, H) and one (W, w) weight matrix product. Upsampling is the plain bilinear
      interpolation, as Pillow's ``BILINEAR``. When shrinking, Pillow widens the triangle to the scale factor
      (antialiasing: all the input pixels under an output pixel contribute, none is skipped);
      ``antialias=True`` (the default) does the same, ``antialias=False`` keeps the 2-tap interpolation of
      ``torch.nn.functional.interpolate(mode="bilinear", align_corners=False)``, which aliases when shrinking
      by more than 2. Float inputs keep their dtype; integer inputs are rounded back to their dtype (Pillow
      rounds uint8 after each of its two passes, so its uint8 results may differ from these by 1).
    """
    x, single = _batched(x, "resize")
    out_h, out_w = _size_pair(size, "resize")
    h, w = x.shape[-2:]
    if mode == "nearest":
        y = x[:, :, _nearest_indices(h, out_h)[:, None], _nearest_indices(w, out_w)]
    elif mode == "bilinear":
        dtype = _float_dtype(x.dtype)
        rows = _triangle_weights(h, out_h, antialias).astype(dtype)
        cols = _triangle_weights(w, out_w, antialias).astype(dtype)
        y = _cast_like(rows @ x.astype(dtype, copy=False) @ cols.T, x.dtype)
    else:
        raise ValueError(f"resize: mode must be 'nearest' or 'bilinear', got {mode!r}")
    return _unbatched(y, single)


def _boxes(boxes: Any, box_indices: Any, n_images: int) -> tuple[np.ndarray, np.ndarray]:
    b = np.asarray(boxes, dtype=np.float64)
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"crop_and_resize: boxes must have shape (K, 4) [y1, x1, y2, x2], got {b.shape}")
    idx = np.asarray(box_indices)
    if idx.shape != (b.shape[0],) or (idx.size and idx.dtype.kind not in "iu"):
        raise ValueError(f"crop_and_resize: box_indices must be {b.shape[0]} integers, got {idx.dtype} {idx.shape}")
    if idx.size and (idx.min() < 0 or idx.max() >= n_images):
        raise ValueError(f"crop_and_resize: box_indices must be in [0, {n_images}), got {idx.tolist()}")
    if not np.all(np.isfinite(b)):
        raise ValueError("crop_and_resize: boxes must be finite")
    bad = np.nonzero((b[:, 0] > b[:, 2]) | (b[:, 1] > b[:, 3]))[0]
    if bad.size:
        raise ValueError(
            f"crop_and_resize: boxes must be ordered [y1, x1, y2, x2] with y1 <= y2 and x1 <= x2; "
            f"box {bad[0]} is {b[bad[0]].tolist()}"
        )
    return b, idx.astype(np.intp)


def _crop_coords(lo: np.ndarray, hi: np.ndarray, n_in: int, n_out: int) -> np.ndarray:
    """TensorFlow's sampling positions (K, n_out) in pixel indices for normalised box edges ``lo``, ``hi`` (K,)."""
    if n_out == 1:
        return (0.5 * (lo + hi) * (n_in - 1))[:, None]
    step = (hi - lo) * (n_in - 1) / (n_out - 1)
    return lo[:, None] * (n_in - 1) + np.arange(n_out) * step[:, None]


def crop_and_resize(
    images: Any,
    boxes: Any,
    box_indices: Any,
    size: Size,
    method: str = "bilinear",
    extrapolation_value: float = 0.0,
) -> np.ndarray:
    """Crop boxes out of a batch and resize each crop to ``size`` = (h, w), as ``tf.image.crop_and_resize``.

    images (N, C, H, W) (channel-first, unlike TensorFlow's NHWC); boxes (K, 4) rows [y1, x1, y2, x2] in
    normalised coordinates (0 and 1 are the first and last pixel centres; values outside [0, 1] sample outside
    the image, which gives ``extrapolation_value``); box_indices (K,) the image of each box. Crop pixel (i, j)
    samples image row y1 (H - 1) + i (y2 - y1) (H - 1) / (h - 1) (the box centre when h = 1), and likewise the
    column, with ``"bilinear"`` or ``"nearest"`` interpolation. Returns (K, C, h, w), float32 for integer inputs.
    Unlike TensorFlow, a box with y1 > y2 or x1 > x2 is an error rather than a flipped crop.
    """
    x = _array(images, "crop_and_resize")
    if x.ndim != 4:
        raise ValueError(f"crop_and_resize: images must be an (N, C, H, W) batch, got shape {x.shape}")
    crop_h, crop_w = _size_pair(size, "crop_and_resize")
    if method not in ("bilinear", "nearest"):
        raise ValueError(f"crop_and_resize: method must be 'bilinear' or 'nearest', got {method!r}")
    b, idx = _boxes(boxes, box_indices, x.shape[0])
    h, w = x.shape[-2:]
    ys = _crop_coords(b[:, 0], b[:, 2], h, crop_h)  # (K, h)
    xs = _crop_coords(b[:, 1], b[:, 3], w, crop_w)  # (K, w)
    inside = ((ys >= 0) & (ys <= h - 1))[:, :, None] & ((xs >= 0) & (xs <= w - 1))[:, None, :]  # (K, h, w)
    if method == "nearest":
        ys, xs = np.floor(ys + 0.5), np.floor(xs + 0.5)
    y0 = np.clip(np.floor(ys), 0, h - 1).astype(np.intp)
    x0 = np.clip(np.floor(xs), 0, w - 1).astype(np.intp)
    # Fractions are clipped only so that samples outside the image stay finite; they are overwritten below.
    dy = np.clip(ys - y0, 0.0, 1.0)[:, :, None, None]  # (K, h, 1, 1)
    dx = np.clip(xs - x0, 0.0, 1.0)[:, None, :, None]  # (K, 1, w, 1)
    rows = np.stack([y0, np.minimum(y0 + 1, h - 1)], axis=1)[:, :, None, :, None]  # (K, 2, 1, h, 1)
    cols = np.stack([x0, np.minimum(x0 + 1, w - 1)], axis=1)[:, None, :, None, :]  # (K, 1, 2, 1, w)
    pixels = np.moveaxis(x, 1, -1)  # (N, H, W, C)
    corners = pixels[idx[:, None, None, None, None], rows, cols].astype(np.float64)  # (K, 2, 2, h, w, C)
    top = corners[:, 0, 0] + (corners[:, 0, 1] - corners[:, 0, 0]) * dx
    bottom = corners[:, 1, 0] + (corners[:, 1, 1] - corners[:, 1, 0]) * dx
    out = np.where(inside[..., None], top + (bottom - top) * dy, extrapolation_value)  # (K, h, w, C)
    return np.ascontiguousarray(np.moveaxis(out, -1, 1), dtype=_float_dtype(x.dtype))


def flip_up_down(x: Any) -> np.ndarray:
    """Reverse the rows of (C, H, W) / (N, C, H, W) images. A new array."""
    x, single = _batched(x, "flip_up_down")
    return _unbatched(np.ascontiguousarray(x[..., ::-1, :]), single)


def flip_left_right(x: Any) -> np.ndarray:
    """Reverse the columns of (C, H, W) / (N, C, H, W) images. A new array."""
    x, single = _batched(x, "flip_left_right")
    return _unbatched(np.ascontiguousarray(x[..., ::-1]), single)


def _padding(padding: int | Sequence[int] | None) -> tuple[int, int, int, int]:
    """torchvision's padding forms -> (left, top, right, bottom): p, (left/right, top/bottom), (l, t, r, b)."""
    if padding is None:
        return (0, 0, 0, 0)
    if isinstance(padding, (int, np.integer)) and not isinstance(padding, bool):
        pads: tuple = (padding,) * 4
    elif isinstance(padding, (tuple, list)) and len(padding) in (2, 4):
        pads = tuple(padding) * 2 if len(padding) == 2 else tuple(padding)
    else:
        raise ValueError(f"random_crop: padding must be an int, a pair or 4 ints, got {padding!r}")
    if not all(isinstance(p, (int, np.integer)) and not isinstance(p, bool) and p >= 0 for p in pads):
        raise ValueError(f"random_crop: padding must be non-negative integers, got {padding!r}")
    left, top, right, bottom = (int(p) for p in pads)
    return left, top, right, bottom


def _check_padding_mode(mode: str, name: str) -> None:
    if mode not in ("constant", "edge", "reflect", "symmetric"):
        raise ValueError(f"{name}: padding_mode must be 'constant', 'edge', 'reflect' or 'symmetric', got {mode!r}")


def random_crop(
    x: Any,
    size: Size,
    padding: int | Sequence[int] | None = None,
    *,
    fill: float = 0,
    padding_mode: str = "constant",
    seed: Seed = None,
) -> np.ndarray:
    """A random (h, w) window of each image, after padding, as torchvision's ``RandomCrop(size, padding)``.

    x (C, H, W) / (N, C, H, W) -> (C, h, w) / (N, C, h, w), same dtype; every image of a batch gets its own
    window. ``padding``: an int (every side), (left/right, top/bottom) or (left, top, right, bottom);
    ``padding_mode``: "constant" (with ``fill``), "edge", "reflect" or "symmetric" (as ``np.pad``).
    """
    x, single = _batched(x, "random_crop")
    crop_h, crop_w = _size_pair(size, "random_crop")
    left, top, right, bottom = _padding(padding)
    _check_padding_mode(padding_mode, "random_crop")
    if left or top or right or bottom:
        extra = {"constant_values": fill} if padding_mode == "constant" else {}
        x = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), mode=padding_mode, **extra)
    n, _, h, w = x.shape
    if crop_h > h or crop_w > w:
        raise ValueError(f"random_crop: crop size ({crop_h}, {crop_w}) is larger than the padded image ({h}, {w})")
    rng = _generator(seed)
    tops = rng.integers(0, h - crop_h + 1, size=n)
    lefts = rng.integers(0, w - crop_w + 1, size=n)
    windows = sliding_window_view(x, (crop_h, crop_w), axis=(2, 3))  # (N, C, H', W', h, w), no copy
    return _unbatched(windows[np.arange(n), :, tops, lefts], single)


def random_flip(x: Any, p: float = 0.5, direction: str = "horizontal", *, seed: Seed = None) -> np.ndarray:
    """Flip each image with probability ``p``: left-right (``"horizontal"``) or up-down (``"vertical"``).

    x (C, H, W) / (N, C, H, W) -> a new array of the same shape and dtype; one draw per image.
    """
    x, single = _batched(x, "random_flip")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"random_flip: p must be in [0, 1], got {p!r}")
    if direction not in ("horizontal", "vertical"):
        raise ValueError(f"random_flip: direction must be 'horizontal' or 'vertical', got {direction!r}")
    flip = _generator(seed).random(x.shape[0]) < p
    flipped = x[..., ::-1] if direction == "horizontal" else x[..., ::-1, :]
    return _unbatched(np.where(flip[:, None, None, None], flipped, x), single)


def adjust_brightness(x: Any, factor: float | Sequence[float]) -> np.ndarray:
    """x * factor, clipped to [0, 1] (float) or [0, 255] (uint8), as torchvision's ``adjust_brightness``.

    x (C, H, W) / (N, C, H, W); ``factor`` >= 0 (0: black, 1: unchanged), or one factor per image of a batch.
    Same shape and dtype.
    """
    x, single = _batched(x, "adjust_brightness")
    f = _factors(factor, x.shape[0], "adjust_brightness")
    dtype = _float_dtype(x.dtype)
    y = np.clip(x.astype(dtype, copy=False) * f.astype(dtype), 0, _upper_bound(x.dtype))
    return _unbatched(_cast_like(y, x.dtype), single)


def adjust_contrast(x: Any, factor: float | Sequence[float]) -> np.ndarray:
    """Blend each image with the mean of its grayscale version, as torchvision's ``adjust_contrast``:
    factor * x + (1 - factor) * mean, clipped to [0, 1] (float) or [0, 255] (uint8).

    x (C, H, W) / (N, C, H, W) with C = 3 (RGB; mean of 0.299 R + 0.587 G + 0.114 B) or C = 1; ``factor`` >= 0
    (0: a uniform grey image, 1: unchanged), or one factor per image of a batch. Same shape and dtype.
    """
    x, single = _batched(x, "adjust_contrast")
    _check_channels(x, (1, 3), "adjust_contrast")
    f = _factors(factor, x.shape[0], "adjust_contrast")
    dtype = _float_dtype(x.dtype)
    xf = x.astype(dtype, copy=False)
    gray = _mix_channels(xf, _RGB_TO_YUV[:1]) if x.shape[1] == 3 else xf
    mean = gray.mean(axis=(1, 2, 3), keepdims=True, dtype=np.float64)
    y = np.clip(f.astype(dtype) * xf + ((1 - f) * mean).astype(dtype), 0, _upper_bound(x.dtype))
    return _unbatched(_cast_like(y, x.dtype), single)


def _factors(factor: Any, n: int, name: str) -> np.ndarray:
    f = _per_image(factor, n, "factor", name)
    if not np.all(np.isfinite(f) & (f >= 0)):
        raise ValueError(f"{name}: factor must be non-negative, got {factor!r}")
    return f[:, None, None, None]


# ----------------------------------------------------------------------------------------------------------------
# Affine warps


def _source_coords(
    h: int, w: int, angle: np.ndarray, tx: np.ndarray, ty: np.ndarray, scale: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For every output pixel of every image, the (row, col) it samples: (N, H, W) each.

    The forward map rotates by ``angle`` degrees counter-clockwise as displayed (rows pointing down), scales
    about the image centre ((H - 1) / 2, (W - 1) / 2) and then translates by (tx, ty) pixels; this is its
    inverse applied to the output grid.
    """
    theta = np.deg2rad(angle)[:, None, None]
    cos, sin, s = np.cos(theta), np.sin(theta), scale[:, None, None]
    cy, cx = (h - 1) / 2, (w - 1) / 2
    dy = np.arange(h)[None, :, None] - cy - ty[:, None, None]
    dx = np.arange(w)[None, None, :] - cx - tx[:, None, None]
    return cy + (sin * dx + cos * dy) / s, cx + (cos * dx - sin * dy) / s


def _in_range(i: np.ndarray, n: int) -> np.ndarray:
    return (i >= 0) & (i < n)


def _sample(x: np.ndarray, rows: np.ndarray, cols: np.ndarray, interpolation: str, fill: float) -> np.ndarray:
    """x (N, C, H, W) sampled at (rows, cols) (N, H', W'), ``fill`` outside: (N, C, H', W') in x's float dtype.

    One gather for the whole batch, by flat pixel index into the (N*H*W, C) pixels (much faster than indexing
    three axes); bilinear gathers its 2 x 2 neighbours at once, and a neighbour outside the image contributes
    ``fill`` (zero padding for fill = 0, like grid_sample's padding_mode="zeros").
    """
    n, c, h, w = x.shape
    dtype = _float_dtype(x.dtype)
    pixels = np.moveaxis(x, 1, -1).reshape(n * h * w, c).astype(dtype, copy=False)
    first = (np.arange(n) * (h * w))[:, None, None]  # flat index of each image's pixel (0, 0)
    if interpolation == "nearest":
        r, col = np.floor(rows + 0.5).astype(np.intp), np.floor(cols + 0.5).astype(np.intp)
        inside = _in_range(r, h) & _in_range(col, w)
        values = pixels[np.where(inside, first + r * w + col, 0)]  # (N, H', W', C)
        return np.ascontiguousarray(np.moveaxis(np.where(inside[..., None], values, dtype.type(fill)), -1, 1))
    r0, c0 = np.floor(rows), np.floor(cols)
    fr, fc = (rows - r0).astype(dtype), (cols - c0).astype(dtype)
    r, col = r0.astype(np.intp), c0.astype(np.intp)
    # Neighbour (i, j) of (r, col) is (r + i, col + j), i, j in {0, 1}: weights and validity are separable.
    weights = np.stack([1 - fr, fr], axis=1)[:, :, None] * np.stack([1 - fc, fc], axis=1)[:, None]  # (N, 2, 2, H', W')
    inside = (
        np.stack([_in_range(r, h), _in_range(r + 1, h)], axis=1)[:, :, None]
        & np.stack([_in_range(col, w), _in_range(col + 1, w)], axis=1)[:, None]
    )
    flat = (first + r * w + col)[:, None, None] + np.array([[0, 1], [w, w + 1]])[:, :, None, None]
    out = np.einsum("nijhw,nijhwc->nchw", np.where(inside, weights, 0), pixels[np.where(inside, flat, 0)])
    if fill != 0:  # the weight of the neighbours outside, exactly 0 where all four are inside
        out += dtype.type(fill) * np.where(inside, 0, weights).sum(axis=(1, 2))[:, None]
    return np.ascontiguousarray(out)


def affine(
    x: Any,
    angle: float | Sequence[float] = 0.0,
    translate: Sequence[float] | np.ndarray = (0.0, 0.0),
    scale: float | Sequence[float] = 1.0,
    *,
    interpolation: str = "bilinear",
    fill: float = 0.0,
) -> np.ndarray:
    """Rotate, scale and shift images about their centre, sampling by the inverse map.

    x (C, H, W) / (N, C, H, W) -> same shape and dtype (integer inputs rounded back). ``angle``: degrees,
    counter-clockwise as displayed (90 is ``np.rot90``; as Pillow's ``rotate`` and torchvision's ``rotate``,
    while torchvision's ``affine`` counts clockwise); ``translate``: (dx, dy) in pixels (dx right, dy down);
    ``scale`` > 0 (> 1 zooms in). Each is one value for every image, or one per image: angle (N,),
    translate (N, 2), scale (N,). ``interpolation``: "bilinear" or "nearest"; pixels mapped from outside the
    image are ``fill``.
    """
    x, single = _batched(x, "affine")
    if interpolation not in ("bilinear", "nearest"):
        raise ValueError(f"affine: interpolation must be 'bilinear' or 'nearest', got {interpolation!r}")
    n, _, h, w = x.shape
    t = np.asarray(translate, dtype=np.float64)
    if t.shape == (2,):
        t = np.broadcast_to(t, (n, 2))
    if t.shape != (n, 2):
        raise ValueError(f"affine: translate must be (dx, dy) or one pair per image, shape ({n}, 2), got {t.shape}")
    s = _per_image(scale, n, "scale", "affine")
    if not np.all(s > 0):
        raise ValueError(f"affine: scale must be positive, got {scale!r}")
    rows, cols = _source_coords(h, w, _per_image(angle, n, "angle", "affine"), t[:, 0], t[:, 1], s)
    return _unbatched(_cast_like(_sample(x, rows, cols, interpolation, fill), x.dtype), single)


def random_affine(
    x: Any,
    degrees: float | Sequence[float],
    translate: Sequence[float] | None = None,
    scale: Sequence[float] | None = None,
    *,
    interpolation: str = "bilinear",
    fill: float = 0.0,
    seed: Seed = None,
) -> np.ndarray:
    """A random small rotation, shift and zoom of each image (torchvision's ``RandomAffine`` without shear).

    x (C, H, W) / (N, C, H, W) -> same shape and dtype. Per image: angle uniform in (-degrees, degrees) (or in
    ``degrees`` = (lo, hi), counter-clockwise, see ``affine``); with ``translate`` = (a, b) fractions, a shift dx
    uniform in (-a W, a W) and dy in (-b H, b H) pixels (not rounded to whole pixels, unlike torchvision); with
    ``scale`` = (lo, hi) a zoom uniform in it. Then ``affine`` warps the whole batch in one gather.
    """
    x, single = _batched(x, "random_affine")
    lo, hi = _range(degrees, "degrees", "random_affine", low=-np.inf, symmetric_about=0.0)
    frac = (0.0, 0.0) if translate is None else _translate_fractions(translate, "random_affine")
    s_lo, s_hi = (1.0, 1.0) if scale is None else _range(scale, "scale", "random_affine", low=0.0, symmetric_about=None)
    if s_lo <= 0:
        raise ValueError(f"random_affine: scale must be positive, got {scale!r}")
    n, _, h, w = x.shape
    rng = _generator(seed)
    angle = rng.uniform(lo, hi, size=n)
    shift = rng.uniform(-1.0, 1.0, size=(n, 2)) * np.array([frac[0] * w, frac[1] * h])
    zoom = rng.uniform(s_lo, s_hi, size=n)
    return _unbatched(affine(x, angle, shift, zoom, interpolation=interpolation, fill=fill), single)


def _translate_fractions(translate: Any, name: str) -> tuple[float, float]:
    ok = isinstance(translate, (tuple, list)) and len(translate) == 2
    if not ok or not all(isinstance(v, numbers.Real) and 0 <= v <= 1 for v in translate):
        raise ValueError(f"{name}: translate must be a pair of fractions in [0, 1], got {translate!r}")
    return float(translate[0]), float(translate[1])


# ----------------------------------------------------------------------------------------------------------------
# Transform classes


class Transform:
    """Base of the transform classes: a callable on a (C, H, W) image or an (N, C, H, W) batch."""

    def __call__(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must define __call__")

    def extra_repr(self) -> str:
        """The arguments shown between the parentheses of the repr."""
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


class RandomTransform(Transform):
    """A transform with its own generator: ``seed`` an int, a Generator, or None (seeded from minidl's global
    generator when the transform is made, so ``minidl.manual_seed`` before building the pipeline fixes it)."""

    def __init__(self, seed: Seed = None):
        self.seed = seed
        self.generator = _own_generator(seed)

    def _seed_repr(self) -> str:
        return f", seed={self.seed}" if isinstance(self.seed, (int, np.integer)) else ""


class Compose(Transform):
    """Apply ``transforms`` in order: Compose([a, b])(x) == b(a(x))."""

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]):
        transforms = list(transforms)
        for t in transforms:
            if not callable(t):
                raise TypeError(f"Compose: every transform must be callable, got {type(t).__name__}")
        self.transforms = transforms

    def __call__(self, x: Any) -> Any:
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self) -> str:
        lines = "".join(f"    {t!r}\n" for t in self.transforms)
        return f"Compose(\n{lines})"


class Lambda(Transform):
    """A transform from any function of the array."""

    def __init__(self, fn: Callable[[Any], Any]):
        if not callable(fn):
            raise TypeError(f"Lambda: fn must be callable, got {type(fn).__name__}")
        self.fn = fn

    def __call__(self, x: Any) -> Any:
        return self.fn(x)

    def extra_repr(self) -> str:
        return getattr(self.fn, "__name__", repr(self.fn))


class ToTensor(Transform):
    """``to_tensor``: uint8 (H, W[, C]) / (N, H, W, C) -> float32 (C, H, W) / (N, C, H, W) in [0, 1]."""

    def __call__(self, x: Any) -> np.ndarray:
        return to_tensor(x)


class Normalize(Transform):
    """``normalize``: (x - mean[c]) / std[c] per channel."""

    def __init__(self, mean: float | Sequence[float], std: float | Sequence[float]):
        self.mean = tuple(np.atleast_1d(np.asarray(mean, dtype=np.float64)).tolist())
        self.std = tuple(np.atleast_1d(np.asarray(std, dtype=np.float64)).tolist())
        if len(self.mean) != len(self.std):
            raise ValueError(f"Normalize: mean and std must have the same length, got {self.mean} and {self.std}")
        if not all(s > 0 for s in self.std):
            raise ValueError(f"Normalize: std must be positive, got {self.std}")

    def __call__(self, x: Any) -> np.ndarray:
        return normalize(x, self.mean, self.std)

    def extra_repr(self) -> str:
        return f"mean={self.mean}, std={self.std}"


class Grayscale(Transform):
    """``rgb_to_grayscale``: (3, H, W) RGB -> (1, H, W) luma (or 3 copies of it)."""

    def __init__(self, num_output_channels: int = 1):
        if num_output_channels not in (1, 3):
            raise ValueError(f"Grayscale: num_output_channels must be 1 or 3, got {num_output_channels!r}")
        self.num_output_channels = num_output_channels

    def __call__(self, x: Any) -> np.ndarray:
        return rgb_to_grayscale(x, self.num_output_channels)

    def extra_repr(self) -> str:
        return f"num_output_channels={self.num_output_channels}"


class RGBToYUV(Transform):
    """``rgb_to_yuv`` (BT.601) on (3, H, W) / (N, 3, H, W)."""

    def __call__(self, x: Any) -> np.ndarray:
        return rgb_to_yuv(x)


class YUVToRGB(Transform):
    """``yuv_to_rgb`` (BT.601) on (3, H, W) / (N, 3, H, W)."""

    def __call__(self, x: Any) -> np.ndarray:
        return yuv_to_rgb(x)


class RGBToBGR(Transform):
    """``rgb_to_bgr``: reverse the 3 channels."""

    def __call__(self, x: Any) -> np.ndarray:
        return rgb_to_bgr(x)


class Resize(Transform):
    """``resize`` to (h, w) with "nearest" or "bilinear" (Pillow's semantics)."""

    def __init__(self, size: Size, mode: str = "bilinear", antialias: bool = True):
        self.size = _size_pair(size, "Resize")
        if mode not in ("nearest", "bilinear"):
            raise ValueError(f"Resize: mode must be 'nearest' or 'bilinear', got {mode!r}")
        self.mode, self.antialias = mode, bool(antialias)

    def __call__(self, x: Any) -> np.ndarray:
        return resize(x, self.size, self.mode, self.antialias)

    def extra_repr(self) -> str:
        return f"size={self.size}, mode={self.mode!r}, antialias={self.antialias}"


class AdjustBrightness(Transform):
    """``adjust_brightness`` by a fixed factor."""

    def __init__(self, factor: float):
        self.factor = float(_factors(factor, 1, "AdjustBrightness")[0, 0, 0, 0])

    def __call__(self, x: Any) -> np.ndarray:
        return adjust_brightness(x, self.factor)

    def extra_repr(self) -> str:
        return f"factor={self.factor}"


class AdjustContrast(Transform):
    """``adjust_contrast`` by a fixed factor."""

    def __init__(self, factor: float):
        self.factor = float(_factors(factor, 1, "AdjustContrast")[0, 0, 0, 0])

    def __call__(self, x: Any) -> np.ndarray:
        return adjust_contrast(x, self.factor)

    def extra_repr(self) -> str:
        return f"factor={self.factor}"


class FlipUpDown(Transform):
    """``flip_up_down``: reverse the rows."""

    def __call__(self, x: Any) -> np.ndarray:
        return flip_up_down(x)


class FlipLeftRight(Transform):
    """``flip_left_right``: reverse the columns."""

    def __call__(self, x: Any) -> np.ndarray:
        return flip_left_right(x)


class RandomCrop(RandomTransform):
    """``random_crop``: a random (h, w) window of each image after ``padding`` (torchvision's RandomCrop)."""

    def __init__(
        self,
        size: Size,
        padding: int | Sequence[int] | None = None,
        fill: float = 0,
        padding_mode: str = "constant",
        seed: Seed = None,
    ):
        self.size = _size_pair(size, "RandomCrop")
        self.padding = _padding(padding)
        _check_padding_mode(padding_mode, "RandomCrop")
        self.fill, self.padding_mode = fill, padding_mode
        super().__init__(seed)

    def __call__(self, x: Any) -> np.ndarray:
        return random_crop(
            x, self.size, self.padding, fill=self.fill, padding_mode=self.padding_mode, seed=self.generator
        )

    def extra_repr(self) -> str:
        extra = f", fill={self.fill}" if self.padding_mode == "constant" else ""
        return f"size={self.size}, padding={self.padding}, padding_mode={self.padding_mode!r}{extra}{self._seed_repr()}"


class RandomFlip(RandomTransform):
    """``random_flip``: flip each image with probability ``p`` ("horizontal": left-right, "vertical": up-down)."""

    def __init__(self, p: float = 0.5, direction: str = "horizontal", seed: Seed = None):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"{type(self).__name__}: p must be in [0, 1], got {p!r}")
        if direction not in ("horizontal", "vertical"):
            raise ValueError(f"{type(self).__name__}: direction must be 'horizontal' or 'vertical', got {direction!r}")
        self.p, self.direction = float(p), direction
        super().__init__(seed)

    def __call__(self, x: Any) -> np.ndarray:
        return random_flip(x, self.p, self.direction, seed=self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}, direction={self.direction!r}{self._seed_repr()}"


class RandomHorizontalFlip(RandomFlip):
    """Flip left-right with probability ``p`` (torchvision's name)."""

    def __init__(self, p: float = 0.5, seed: Seed = None):
        super().__init__(p, "horizontal", seed)

    def extra_repr(self) -> str:
        return f"p={self.p}{self._seed_repr()}"


class RandomVerticalFlip(RandomFlip):
    """Flip up-down with probability ``p`` (torchvision's name)."""

    def __init__(self, p: float = 0.5, seed: Seed = None):
        super().__init__(p, "vertical", seed)

    def extra_repr(self) -> str:
        return f"p={self.p}{self._seed_repr()}"


class RandomAffine(RandomTransform):
    """``random_affine``: random rotation (degrees), shift (fractions) and zoom (scale range) per image."""

    def __init__(
        self,
        degrees: float | Sequence[float],
        translate: Sequence[float] | None = None,
        scale: Sequence[float] | None = None,
        interpolation: str = "bilinear",
        fill: float = 0.0,
        seed: Seed = None,
    ):
        self.degrees = _range(degrees, "degrees", "RandomAffine", low=-np.inf, symmetric_about=0.0)
        self.translate = None if translate is None else _translate_fractions(translate, "RandomAffine")
        self.scale = None if scale is None else _range(scale, "scale", "RandomAffine", low=0.0, symmetric_about=None)
        if self.scale is not None and self.scale[0] <= 0:
            raise ValueError(f"RandomAffine: scale must be positive, got {scale!r}")
        if interpolation not in ("bilinear", "nearest"):
            raise ValueError(f"RandomAffine: interpolation must be 'bilinear' or 'nearest', got {interpolation!r}")
        self.interpolation, self.fill = interpolation, fill
        super().__init__(seed)

    def __call__(self, x: Any) -> np.ndarray:
        return random_affine(
            x,
            self.degrees,
            self.translate,
            self.scale,
            interpolation=self.interpolation,
            fill=self.fill,
            seed=self.generator,
        )

    def extra_repr(self) -> str:
        return (
            f"degrees={self.degrees}, translate={self.translate}, scale={self.scale}, "
            f"interpolation={self.interpolation!r}, fill={self.fill}{self._seed_repr()}"
        )


class ColorJitter(RandomTransform):
    """Random brightness and contrast per image (torchvision's ColorJitter, without saturation and hue).

    ``brightness`` b: a factor uniform in [max(0, 1 - b), 1 + b] (or in a pair (lo, hi)) for
    ``adjust_brightness``; ``contrast`` likewise for ``adjust_contrast``. Brightness is applied first
    (torchvision shuffles the order at every call).
    """

    def __init__(
        self, brightness: float | Sequence[float] = 0.0, contrast: float | Sequence[float] = 0.0, seed: Seed = None
    ):
        self.brightness = _range(brightness, "brightness", "ColorJitter", low=0.0, symmetric_about=1.0)
        self.contrast = _range(contrast, "contrast", "ColorJitter", low=0.0, symmetric_about=1.0)
        super().__init__(seed)

    def __call__(self, x: Any) -> np.ndarray:
        n = np.shape(x)[0] if np.ndim(x) == 4 else 1
        brightness = self.generator.uniform(*self.brightness, size=n)
        contrast = self.generator.uniform(*self.contrast, size=n)
        if np.ndim(x) != 4:
            brightness, contrast = brightness[0], contrast[0]
        return adjust_contrast(adjust_brightness(x, brightness), contrast)

    def extra_repr(self) -> str:
        return f"brightness={self.brightness}, contrast={self.contrast}{self._seed_repr()}"
