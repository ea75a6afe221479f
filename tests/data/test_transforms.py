"""minidl.data.transforms: Pillow and NumPy references for the deterministic functions, seeds and per-image draws
for the random ones."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

import minidl
import minidl.data.transforms as T

# Odd sizes come up often: 1, small primes, and anything up to 40.
sides = st.sampled_from([1, 2, 3, 5, 7, 11, 13, 17, 31]) | st.integers(1, 40)
seeds = st.integers(0, 2**32 - 1)


def uint8_image(seed: int, shape: tuple) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


def float_image(seed: int, shape: tuple, dtype=np.float32) -> np.ndarray:
    return np.random.default_rng(seed).random(shape).astype(dtype)


def pil_resize(chw: np.ndarray, size: tuple[int, int], resample: int) -> np.ndarray:
    """Pillow's resize of a (C, H, W) image (uint8 RGB or one float32 channel), back as (C, h, w)."""
    h, w = size
    if chw.dtype == np.float32:
        return np.asarray(Image.fromarray(chw[0], mode="F").resize((w, h), resample))[None]
    return T.to_nchw(np.asarray(Image.fromarray(T.to_nhwc(chw)).resize((w, h), resample)))


# ---------------------------------------------------------------------------------------------------------------
# Layouts and values


def test_to_tensor_layouts_and_scaling():
    hwc = uint8_image(0, (4, 5, 3))
    chw = T.to_tensor(hwc)
    assert chw.shape == (3, 4, 5) and chw.dtype == np.float32 and chw.flags.c_contiguous
    np.testing.assert_array_equal(chw, np.transpose(hwc, (2, 0, 1)).astype(np.float32) / 255)
    assert T.to_tensor(hwc[..., 0]).shape == (1, 4, 5)
    nhwc = uint8_image(1, (2, 4, 5, 1))
    np.testing.assert_array_equal(T.to_tensor(nhwc)[:, 0], nhwc[..., 0] / np.float32(255))
    assert T.to_tensor(np.full((2, 2), 255, np.uint8)).max() == 1.0
    floats = float_image(2, (4, 5, 3), np.float64)
    np.testing.assert_allclose(T.to_tensor(floats), np.transpose(floats, (2, 0, 1)), rtol=1e-7)  # not rescaled


def test_to_tensor_rejects_bad_input():
    with pytest.raises(ValueError, match=r"\(H, W\), \(H, W, C\) or \(N, H, W, C\), got shape \(5,\)"):
        T.to_tensor(np.zeros(5, np.uint8))
    with pytest.raises(TypeError, match="uint8 or float.*int64"):
        T.to_tensor(np.zeros((2, 2), np.int64))


def test_to_nchw_and_to_nhwc_are_inverse_views():
    nhwc = uint8_image(0, (2, 3, 4, 5))
    nchw = T.to_nchw(nhwc)
    assert nchw.shape == (2, 5, 3, 4) and np.shares_memory(nchw, nhwc)
    np.testing.assert_array_equal(nchw[1, 4], nhwc[1, :, :, 4])
    np.testing.assert_array_equal(T.to_nhwc(nchw), nhwc)
    assert T.to_nchw(nhwc[0]).shape == (5, 3, 4) and T.to_nhwc(nchw[0]).shape == (3, 4, 5)
    with pytest.raises(ValueError, match=r"\(H, W, C\).*got shape \(3, 4\)"):
        T.to_nchw(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"\(C, H, W\).*got shape \(1, 2, 3, 4, 5\)"):
        T.to_nhwc(np.zeros((1, 2, 3, 4, 5)))


def test_normalize_per_channel():
    x = float_image(0, (4, 3, 5, 6))
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.5)
    got = T.normalize(x, mean, std)
    assert got.dtype == np.float32 and got.shape == x.shape
    for c in range(3):
        np.testing.assert_allclose(got[:, c], (x[:, c] - mean[c]) / std[c], rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(T.normalize(x[2], mean, std), got[2])
    np.testing.assert_allclose(T.normalize(x, 0.5, 2.0), (x - 0.5) / 2, rtol=1e-6)
    assert T.normalize(uint8_image(0, (1, 2, 2)), 0, 1).dtype == np.float32


def test_normalize_rejects_bad_statistics():
    x = np.zeros((3, 2, 2), np.float32)
    with pytest.raises(ValueError, match=r"mean must have one value per channel \(3\), got 2"):
        T.normalize(x, (0.5, 0.5), (1, 1, 1))
    with pytest.raises(ValueError, match="std must be positive"):
        T.normalize(x, 0.0, (1, 0, 1))
    with pytest.raises(ValueError, match=r"\(C, H, W\) image or an \(N, C, H, W\) batch, got shape \(2, 2\)"):
        T.normalize(x[0], 0.0, 1.0)


# ---------------------------------------------------------------------------------------------------------------
# Colour


@given(seed=seeds, h=sides, w=sides)
def test_grayscale_matches_pillow_convert_L(seed, h, w):
    rgb = uint8_image(seed, (h, w, 3))
    pillow = np.asarray(Image.fromarray(rgb).convert("L")).astype(np.float64)
    # Pillow: fixed-point weights 19595, 38470, 7471 / 2**16, rounded: within 0.5 (+ the weights' error) of
    # the exact luma, and so within 1 of our rounded uint8.
    luma = T.rgb_to_grayscale(T.to_nchw(rgb).astype(np.float64))[0]
    np.testing.assert_allclose(luma, pillow, atol=0.5 + 255 * 2e-5)
    rounded = T.rgb_to_grayscale(T.to_nchw(rgb))
    assert rounded.dtype == np.uint8 and rounded.shape == (1, h, w)
    assert np.abs(rounded[0].astype(int) - pillow).max() <= 1


def test_grayscale_weights_channels_and_errors():
    x = float_image(0, (2, 3, 4, 5))
    gray = T.rgb_to_grayscale(x)
    assert gray.shape == (2, 1, 4, 5) and gray.dtype == np.float32
    np.testing.assert_allclose(gray[:, 0], 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2], rtol=1e-6)
    three = T.rgb_to_grayscale(x, num_output_channels=3)
    assert three.shape == x.shape and np.array_equal(three[:, 1], gray[:, 0])
    with pytest.raises(ValueError, match=r"expected 3 channels at dim -3, got shape \(2, 4, 4, 5\)"):
        T.rgb_to_grayscale(np.zeros((2, 4, 4, 5)))


def test_yuv_matrix_is_bt601():
    # TensorFlow's rgb_to_yuv kernel (tf.image), written out: columns are Y, U, V.
    tf_kernel = np.array(
        [[0.299, -0.14714119, 0.61497538], [0.587, -0.28886916, -0.51496512], [0.114, 0.43601035, -0.10001026]]
    )
    rgb = float_image(0, (3, 4, 5), np.float64)
    np.testing.assert_allclose(T.rgb_to_yuv(rgb), np.einsum("chw,cd->dhw", rgb, tf_kernel), atol=5e-5)  # rounded
    white = T.rgb_to_yuv(np.ones((3, 1, 1)))
    np.testing.assert_allclose(white.ravel(), [1.0, 0.0, 0.0], atol=1e-12)
    for channel in range(3):  # the definition: U = 0.436 (B - Y) / (1 - 0.114), V = 0.615 (R - Y) / (1 - 0.299)
        r, g, b = np.eye(3)[channel]
        y = 0.299 * r + 0.587 * g + 0.114 * b
        pure = T.rgb_to_yuv(np.eye(3)[channel].reshape(3, 1, 1)).ravel()
        np.testing.assert_allclose(pure, [y, 0.436 * (b - y) / 0.886, 0.615 * (r - y) / 0.701], atol=1e-15)
    np.testing.assert_allclose(T._YUV_TO_RGB @ T._RGB_TO_YUV, np.eye(3), atol=1e-15)


@given(seed=seeds, n=st.integers(1, 3), h=sides, w=sides)
def test_yuv_round_trip(seed, n, h, w):
    rgb = float_image(seed, (n, 3, h, w), np.float64)
    yuv = T.rgb_to_yuv(rgb)
    assert yuv.shape == rgb.shape and yuv.dtype == np.float64
    np.testing.assert_allclose(T.yuv_to_rgb(yuv), rgb, atol=1e-14)
    np.testing.assert_allclose(T.rgb_to_yuv(T.yuv_to_rgb(rgb)), rgb, atol=1e-14)
    rgb32 = rgb.astype(np.float32)
    back = T.yuv_to_rgb(T.rgb_to_yuv(rgb32[0]))
    assert back.dtype == np.float32 and back.shape == (3, h, w)
    np.testing.assert_allclose(back, rgb32[0], atol=2e-6)


def test_rgb_to_bgr():
    x = uint8_image(0, (2, 3, 4, 5))
    bgr = T.rgb_to_bgr(x)
    np.testing.assert_array_equal(bgr, x[:, ::-1])
    np.testing.assert_array_equal(T.rgb_to_bgr(bgr), x)
    np.testing.assert_array_equal(T.rgb_to_bgr(x[0]), x[0, ::-1])
    with pytest.raises(ValueError, match=r"expected 3 channels.*got shape \(1, 4, 5\)"):
        T.rgb_to_bgr(x[0, :1])


def test_adjust_brightness_torchvision_semantics():
    x = float_image(0, (3, 3, 4, 5))
    np.testing.assert_allclose(T.adjust_brightness(x, 0.5), x * 0.5, rtol=1e-6)
    np.testing.assert_allclose(T.adjust_brightness(x, 1.7), np.clip(x * 1.7, 0, 1), rtol=1e-6)
    np.testing.assert_array_equal(T.adjust_brightness(x, 1.0), x)
    assert not T.adjust_brightness(x, 0.0).any()
    per_image = T.adjust_brightness(x, [0.2, 1.0, 3.0])
    np.testing.assert_array_equal(per_image[1], x[1])
    np.testing.assert_allclose(per_image[2], np.clip(3 * x[2], 0, 1), rtol=1e-6)
    u = np.array([[[0, 100, 200, 255]]], np.uint8)
    np.testing.assert_array_equal(T.adjust_brightness(u, 1.5), [[[0, 150, 255, 255]]])
    np.testing.assert_array_equal(T.adjust_brightness(u, 0.5), [[[0, 50, 100, 128]]])  # 127.5 rounds up
    with pytest.raises(ValueError, match="factor must be non-negative"):
        T.adjust_brightness(x, -0.1)
    with pytest.raises(ValueError, match=r"one value per image, shape \(3,\), got \(2,\)"):
        T.adjust_brightness(x, [1.0, 2.0])


def test_adjust_contrast_blends_with_grayscale_mean():
    x = float_image(1, (2, 3, 4, 5))
    mean = (0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]).mean(axis=(1, 2))[:, None, None, None]
    for factor in (0.0, 0.3, 1.0, 2.5):
        expected = np.clip(factor * x + (1 - factor) * mean, 0, 1)
        np.testing.assert_allclose(T.adjust_contrast(x, factor), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(T.adjust_contrast(x, 1.0), x)
    gray = x[:, :1]
    flat = np.broadcast_to(gray.mean(axis=(1, 2, 3), keepdims=True), gray.shape)
    np.testing.assert_allclose(T.adjust_contrast(gray, 0.0), flat, rtol=1e-6)
    u = (x * 255).astype(np.uint8)
    assert T.adjust_contrast(u, 1.3).dtype == np.uint8
    with pytest.raises(ValueError, match=r"expected 1 or 3 channels at dim -3, got shape \(2, 2, 4, 5\)"):
        T.adjust_contrast(x[:, :2], 0.5)


# ---------------------------------------------------------------------------------------------------------------
# Resize


@given(seed=seeds, h=sides, w=sides, out_h=sides, out_w=sides)
def test_resize_nearest_matches_pillow_exactly(seed, h, w, out_h, out_w):
    x = uint8_image(seed, (3, h, w))
    got = T.resize(x, (out_h, out_w), mode="nearest")
    assert got.dtype == np.uint8 and got.shape == (3, out_h, out_w)
    np.testing.assert_array_equal(got, pil_resize(x, (out_h, out_w), Image.NEAREST))


def test_resize_nearest_integer_scales():
    x = uint8_image(0, (3, 6, 9))
    np.testing.assert_array_equal(T.resize(x, (12, 27), "nearest"), x.repeat(2, axis=1).repeat(3, axis=2))
    np.testing.assert_array_equal(T.resize(x, (3, 3), "nearest"), x[:, 1::2, 1::3])
    np.testing.assert_array_equal(T.resize(x, (3, 3), "nearest"), pil_resize(x, (3, 3), Image.NEAREST))


@given(seed=seeds, h=sides, w=sides, out_h=sides, out_w=sides)
def test_resize_bilinear_matches_pillow_float(seed, h, w, out_h, out_w):
    # Pillow's "F" mode resamples in double precision, without rounding: both up- and downsampling
    # (where Pillow widens the triangle filter, as antialias=True does) agree to float32 precision.
    x = float_image(seed, (1, h, w))
    got = T.resize(x, (out_h, out_w))
    assert got.dtype == np.float32 and got.shape == (1, out_h, out_w)
    np.testing.assert_allclose(got, pil_resize(x, (out_h, out_w), Image.BILINEAR), atol=2e-6)


@given(seed=seeds, h=sides, w=sides, out_h=sides, out_w=sides)
def test_resize_bilinear_matches_pillow_uint8_within_one(seed, h, w, out_h, out_w):
    # Pillow rounds uint8 after its horizontal pass and again after the vertical one; we round once.
    x = uint8_image(seed, (3, h, w))
    got = T.resize(x, (out_h, out_w))
    assert got.dtype == np.uint8
    diff = np.abs(got.astype(int) - pil_resize(x, (out_h, out_w), Image.BILINEAR).astype(int))
    assert diff.max(initial=0) <= 1


def half_pixel_bilinear(x: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """Reference: 2-tap bilinear at half-pixel centres (align_corners=False), edges clamped, pixel by pixel."""
    h, w = x.shape[-2:]
    out = np.empty((*x.shape[:-2], out_h, out_w))
    for i in range(out_h):
        sy = min(max((i + 0.5) * h / out_h - 0.5, 0.0), h - 1)
        y0 = math.floor(sy)
        y1, fy = min(y0 + 1, h - 1), sy - y0
        for j in range(out_w):
            sx = min(max((j + 0.5) * w / out_w - 0.5, 0.0), w - 1)
            x0 = math.floor(sx)
            x1, fx = min(x0 + 1, w - 1), sx - x0
            top = x[..., y0, x0] * (1 - fx) + x[..., y0, x1] * fx
            bottom = x[..., y1, x0] * (1 - fx) + x[..., y1, x1] * fx
            out[..., i, j] = top * (1 - fy) + bottom * fy
    return out


@given(seed=seeds, h=sides, w=sides, out_h=sides, out_w=sides)
def test_resize_bilinear_without_antialias_is_half_pixel_interpolation(seed, h, w, out_h, out_w):
    x = float_image(seed, (2, 1, h, w), np.float64)
    np.testing.assert_allclose(T.resize(x, (out_h, out_w), antialias=False), half_pixel_bilinear(x, out_h, out_w),
                               atol=1e-12)  # fmt: skip
    if out_h >= h and out_w >= w:  # upsampling: antialias changes nothing
        np.testing.assert_allclose(T.resize(x, (out_h, out_w)), half_pixel_bilinear(x, out_h, out_w), atol=1e-12)


def test_resize_identity_batch_and_errors():
    x = float_image(0, (4, 3, 7, 5))
    for mode in ("nearest", "bilinear"):
        np.testing.assert_array_equal(T.resize(x, (7, 5), mode), x)
        np.testing.assert_array_equal(T.resize(x, (3, 11), mode)[2], T.resize(x[2], (3, 11), mode))
    assert T.resize(x, 9).shape == (4, 3, 9, 9)
    shrunk = T.resize(np.ones((1, 8, 8), np.float32) * 0.25, (3, 5))
    np.testing.assert_allclose(shrunk, 0.25, rtol=1e-6)  # the filter weights sum to 1
    with pytest.raises(ValueError, match="height must be a positive integer, got 0"):
        T.resize(x, (0, 5))
    with pytest.raises(ValueError, match=r"size must be an int or a pair \(h, w\)"):
        T.resize(x, (1, 2, 3))
    with pytest.raises(ValueError, match="mode must be 'nearest' or 'bilinear', got 'bicubic'"):
        T.resize(x, 4, mode="bicubic")
    with pytest.raises(ValueError, match=r"got shape \(7, 5\)"):
        T.resize(x[0, 0], 4)


# ---------------------------------------------------------------------------------------------------------------
# crop_and_resize


def crop_and_resize_reference(images, boxes, box_indices, size, method="bilinear", extrapolation_value=0.0):
    """TensorFlow's CropAndResize kernel, transcribed loop by loop (images NCHW)."""
    _, c, h, w = images.shape
    crop_h, crop_w = size
    out = np.empty((len(boxes), c, crop_h, crop_w))
    for b, ((y1, x1, y2, x2), i) in enumerate(zip(boxes, box_indices)):
        height_scale = (y2 - y1) * (h - 1) / (crop_h - 1) if crop_h > 1 else 0
        width_scale = (x2 - x1) * (w - 1) / (crop_w - 1) if crop_w > 1 else 0
        for y in range(crop_h):
            in_y = y1 * (h - 1) + y * height_scale if crop_h > 1 else 0.5 * (y1 + y2) * (h - 1)
            for x in range(crop_w):
                in_x = x1 * (w - 1) + x * width_scale if crop_w > 1 else 0.5 * (x1 + x2) * (w - 1)
                if in_y < 0 or in_y > h - 1 or in_x < 0 or in_x > w - 1:
                    out[b, :, y, x] = extrapolation_value
                elif method == "nearest":
                    out[b, :, y, x] = images[i, :, math.floor(in_y + 0.5), math.floor(in_x + 0.5)]
                else:
                    top, bottom, y_lerp = math.floor(in_y), math.ceil(in_y), in_y - math.floor(in_y)
                    left, right, x_lerp = math.floor(in_x), math.ceil(in_x), in_x - math.floor(in_x)
                    img = images[i].astype(np.float64)
                    t = img[:, top, left] + (img[:, top, right] - img[:, top, left]) * x_lerp
                    d = img[:, bottom, left] + (img[:, bottom, right] - img[:, bottom, left]) * x_lerp
                    out[b, :, y, x] = t + (d - t) * y_lerp
    return out


@given(seed=seeds, h=sides, w=sides, crop_h=st.integers(1, 9), crop_w=st.integers(1, 9),
       method=st.sampled_from(["bilinear", "nearest"]))  # fmt: skip
def test_crop_and_resize_matches_tensorflow_loop(seed, h, w, crop_h, crop_w, method):
    rng = np.random.default_rng(seed)
    images = rng.random((3, 2, h, w))
    corners = rng.uniform(-0.3, 1.3, size=(5, 2, 2))  # some boxes reach outside the image
    boxes = np.concatenate([corners.min(axis=1), corners.max(axis=1)], axis=1)  # [y1, x1, y2, x2]
    box_indices = rng.integers(0, 3, size=5)
    got = T.crop_and_resize(images, boxes, box_indices, (crop_h, crop_w), method, extrapolation_value=-1.0)
    expected = crop_and_resize_reference(images, boxes, box_indices, (crop_h, crop_w), method, -1.0)
    assert got.shape == (5, 2, crop_h, crop_w)
    np.testing.assert_allclose(got, expected, atol=1e-12)


def test_crop_and_resize_special_boxes_and_errors():
    images = float_image(0, (2, 3, 6, 8))
    whole = T.crop_and_resize(images, [[0, 0, 1, 1], [0, 0, 1, 1]], [1, 0], (6, 8))
    assert whole.dtype == np.float32
    np.testing.assert_allclose(whole, images[::-1], atol=1e-6)  # the whole image at its own size is itself
    upsampled = T.crop_and_resize(images, [[0, 0, 1, 1]], [0], (11, 15))
    np.testing.assert_allclose(upsampled, crop_and_resize_reference(images, [[0, 0, 1, 1]], [0], (11, 15)), atol=1e-6)
    one = T.crop_and_resize(images, [[0.2, 0.2, 0.2, 0.2]], [0], (1, 1))
    np.testing.assert_allclose(one[0, :, 0, 0], images[0, :, 1, 1] * 0.6 + images[0, :, 1, 2] * 0.4, rtol=1e-5)
    assert T.crop_and_resize(images, np.zeros((0, 4)), np.zeros(0, int), 3).shape == (0, 3, 3, 3)
    with pytest.raises(ValueError, match=r"y1 <= y2 and x1 <= x2; box 1 is \[0.5, 0.0, 0.2, 1.0\]"):
        T.crop_and_resize(images, [[0, 0, 1, 1], [0.5, 0, 0.2, 1]], [0, 0], 3)
    with pytest.raises(ValueError, match=r"box_indices must be in \[0, 2\)"):
        T.crop_and_resize(images, [[0, 0, 1, 1]], [2], 3)
    with pytest.raises(ValueError, match=r"boxes must have shape \(K, 4\)"):
        T.crop_and_resize(images, [[0, 0, 1]], [0], 3)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\) batch, got shape \(3, 6, 8\)"):
        T.crop_and_resize(images[0], [[0, 0, 1, 1]], [0], 3)


# ---------------------------------------------------------------------------------------------------------------
# Flips and random crops


def test_flips():
    x = uint8_image(0, (2, 3, 4, 5))
    np.testing.assert_array_equal(T.flip_up_down(x), x[:, :, ::-1])
    np.testing.assert_array_equal(T.flip_left_right(x), x[..., ::-1])
    np.testing.assert_array_equal(T.flip_left_right(T.flip_left_right(x[0])), x[0])
    np.testing.assert_array_equal(T.flip_up_down(x[1]), np.flipud(T.to_nhwc(x[1])).transpose(2, 0, 1))
    assert T.flip_up_down(x).flags.c_contiguous and not np.shares_memory(T.flip_up_down(x), x)
    with pytest.raises(ValueError, match=r"flip_up_down: expected a \(C, H, W\).*got shape \(4, 5\)"):
        T.flip_up_down(x[0, 0])


def padded_windows(x: np.ndarray, size: tuple[int, int], pad: tuple[int, int, int, int]) -> list[np.ndarray]:
    left, top, right, bottom = pad
    p = np.pad(x, ((0, 0), (top, bottom), (left, right)))
    h, w = size
    return [p[:, i : i + h, j : j + w] for i in range(p.shape[1] - h + 1) for j in range(p.shape[2] - w + 1)]


def test_random_crop_takes_a_window_of_the_padded_image_per_image():
    x = np.broadcast_to(float_image(0, (1, 3, 9, 7)), (16, 3, 9, 7))
    out = T.random_crop(x, (6, 5), padding=2, seed=1)
    assert out.shape == (16, 3, 6, 5) and out.dtype == np.float32
    windows = padded_windows(x[0], (6, 5), (2, 2, 2, 2))
    positions = [next(k for k, win in enumerate(windows) if np.array_equal(win, crop)) for crop in out]
    assert len(set(positions)) > 8  # identical images, different windows: each image draws its own offsets
    np.testing.assert_array_equal(out, T.random_crop(x, (6, 5), padding=2, seed=1))
    assert not np.array_equal(out, T.random_crop(x, (6, 5), padding=2, seed=2))


def test_random_crop_padding_forms_and_modes():
    x = uint8_image(0, (3, 5, 6))
    np.testing.assert_array_equal(T.random_crop(x, (5, 6), seed=0), x)  # no padding, full size: identity
    wide = T.random_crop(x, (5, 10), padding=(2, 0), seed=3)  # left/right 2, top/bottom 0: only one window
    np.testing.assert_array_equal(wide, np.pad(x, ((0, 0), (0, 0), (2, 2))))
    tall = T.random_crop(x, (8, 6), padding=(0, 1, 0, 2), fill=7, seed=3)
    np.testing.assert_array_equal(tall, np.pad(x, ((0, 0), (1, 2), (0, 0)), constant_values=7))
    edge = T.random_crop(x, (7, 8), padding=1, padding_mode="reflect", seed=0)
    np.testing.assert_array_equal(edge, np.pad(x, ((0, 0), (1, 1), (1, 1)), mode="reflect"))
    with pytest.raises(ValueError, match=r"crop size \(9, 6\) is larger than the padded image \(7, 8\)"):
        T.random_crop(x, (9, 6), padding=1)
    with pytest.raises(ValueError, match="padding must be non-negative integers"):
        T.random_crop(x, 3, padding=-1)
    with pytest.raises(ValueError, match="padding_mode must be"):
        T.random_crop(x, 3, padding=1, padding_mode="wrap")


@given(seed=seeds, h=sides, w=sides, pad=st.integers(0, 3), data=st.data())
def test_random_crop_shapes_on_odd_sizes(seed, h, w, pad, data):
    crop_h = data.draw(st.integers(1, h + 2 * pad))
    crop_w = data.draw(st.integers(1, w + 2 * pad))
    x = uint8_image(seed, (2, 1, h, w))
    out = T.random_crop(x, (crop_h, crop_w), padding=pad, seed=seed)
    assert out.shape == (2, 1, crop_h, crop_w) and out.dtype == np.uint8
    windows = padded_windows(x[1], (crop_h, crop_w), (pad,) * 4)
    assert any(np.array_equal(win, out[1]) for win in windows)


def test_random_flip_per_image():
    x = np.broadcast_to(float_image(0, (1, 2, 3, 4)), (64, 2, 3, 4))
    out = T.random_flip(x, seed=5)
    flipped = np.array([np.array_equal(o, x[0, ..., ::-1]) for o in out])
    assert all(np.array_equal(o, x[0]) for o in out[~flipped])
    assert 16 < flipped.sum() < 48
    np.testing.assert_array_equal(out, T.random_flip(x, seed=5))
    np.testing.assert_array_equal(T.random_flip(x, p=0.0), x)
    np.testing.assert_array_equal(T.random_flip(x, p=1.0), x[..., ::-1])
    np.testing.assert_array_equal(T.random_flip(x[0], p=1.0, direction="vertical"), x[0, :, ::-1])
    with pytest.raises(ValueError, match="direction must be 'horizontal' or 'vertical', got 'diagonal'"):
        T.random_flip(x, direction="diagonal")
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\], got 1.5"):
        T.random_flip(x, p=1.5)


# ---------------------------------------------------------------------------------------------------------------
# Affine warps


def affine_reference(img: np.ndarray, angle: float, tx: float, ty: float, scale: float, fill: float) -> np.ndarray:
    """Inverse-mapped bilinear warp of one (C, H, W) image, pixel by pixel, with np.linalg.inv of the forward map
    (rotation counter-clockwise as displayed, rows pointing down, about the centre; then the shift)."""
    c, h, w = img.shape
    t = math.radians(angle)
    forward = scale * np.array([[math.cos(t), math.sin(t)], [-math.sin(t), math.cos(t)]])  # on (col, row)
    inverse = np.linalg.inv(forward)
    centre = np.array([(w - 1) / 2, (h - 1) / 2])
    out = np.empty((c, h, w))
    for i in range(h):
        for j in range(w):
            sx, sy = inverse @ (np.array([j, i]) - centre - [tx, ty]) + centre
            x0, y0 = math.floor(sx), math.floor(sy)
            fy, fx = sy - y0, sx - x0
            value = np.zeros(c)
            for yy, xx, wt in ((y0, x0, (1 - fy) * (1 - fx)), (y0, x0 + 1, (1 - fy) * fx),
                               (y0 + 1, x0, fy * (1 - fx)), (y0 + 1, x0 + 1, fy * fx)):  # fmt: skip
                value += wt * (img[:, yy, xx] if 0 <= yy < h and 0 <= xx < w else fill)
            out[:, i, j] = value
    return out


@given(seed=seeds, h=st.integers(1, 9), w=st.integers(1, 9), fill=st.sampled_from([0.0, 0.5]))
def test_affine_matches_pixel_loop_reference(seed, h, w, fill):
    rng = np.random.default_rng(seed)
    x = rng.random((3, 2, h, w))
    angle, shift, zoom = rng.uniform(-180, 180, 3), rng.uniform(-3, 3, (3, 2)), rng.uniform(0.5, 2, 3)
    got = T.affine(x, angle, shift, zoom, fill=fill)
    assert got.shape == x.shape and got.dtype == np.float64
    for k in range(3):
        expected = affine_reference(x[k], angle[k], shift[k, 0], shift[k, 1], zoom[k], fill)
        np.testing.assert_allclose(got[k], expected, atol=1e-10)


@given(seed=seeds, n=st.sampled_from([1, 2, 3, 5, 7, 13, 28]), k=st.integers(1, 3))
def test_affine_quarter_turns_are_rot90(seed, n, k):
    x = uint8_image(seed, (2, 3, n, n))
    expected = np.rot90(x, k, axes=(-2, -1))
    np.testing.assert_array_equal(T.affine(x, 90 * k, interpolation="nearest"), expected)
    np.testing.assert_array_equal(T.affine(x, 90 * k), expected)  # bilinear lands on pixel centres
    np.testing.assert_array_equal(T.random_affine(x[0], (90 * k, 90 * k), interpolation="nearest"), expected[0])


def test_affine_identity_and_integer_shift():
    x = float_image(0, (2, 1, 7, 10))
    for interpolation in ("bilinear", "nearest"):
        np.testing.assert_array_equal(T.affine(x, interpolation=interpolation), x)
        np.testing.assert_array_equal(T.random_affine(x, 0, (0, 0), (1, 1), interpolation=interpolation), x)
        shifted = T.affine(x, 0, (2, 1), interpolation=interpolation)  # 2 right, 1 down, zeros come in
        expected = np.zeros_like(x)
        expected[..., 1:, 2:] = x[..., :-1, :-2]
        np.testing.assert_array_equal(shifted, expected)
    filled = T.affine(x, 0, (-3, 0), fill=0.25)
    np.testing.assert_array_equal(filled[..., -3:], 0.25)
    centre = T.affine(x[:, :, :, :7], 0, scale=3.0)[..., 3, 3]  # the centre of an odd square stays put
    np.testing.assert_array_equal(centre, x[..., 3, 3])


def test_random_affine_draws_per_image_and_is_reproducible():
    x = np.broadcast_to(float_image(0, (1, 1, 12, 12)), (8, 1, 12, 12))
    out = T.random_affine(x, 20, translate=(0.1, 0.1), scale=(0.9, 1.1), seed=4)
    assert out.shape == x.shape and out.dtype == np.float32
    assert len({o.tobytes() for o in out}) == 8
    np.testing.assert_array_equal(out, T.random_affine(x, 20, translate=(0.1, 0.1), scale=(0.9, 1.1), seed=4))
    # the parameters stay in their ranges: undo a pure shift of at most 0.1 * 12 pixels
    shifts = T.random_affine(np.ones((50, 1, 12, 12)), 0, translate=(0.1, 0.1), interpolation="nearest", seed=0)
    assert shifts[:, 0, 2:10, 2:10].all()
    u = (x * 255).astype(np.uint8)
    assert T.random_affine(u, 10, seed=0).dtype == np.uint8


def test_affine_errors():
    x = np.zeros((2, 1, 4, 4))
    with pytest.raises(ValueError, match=r"one pair per image, shape \(2, 2\), got \(3,\)"):
        T.affine(x, 0, (1, 2, 3))
    with pytest.raises(ValueError, match="scale must be positive"):
        T.affine(x, 0, scale=0)
    with pytest.raises(ValueError, match="interpolation must be 'bilinear' or 'nearest'"):
        T.affine(x, 0, interpolation="bicubic")
    with pytest.raises(ValueError, match="degrees must be a non-negative number or a pair"):
        T.random_affine(x, -5)
    with pytest.raises(ValueError, match=r"translate must be a pair of fractions in \[0, 1\]"):
        T.random_affine(x, 5, translate=(0.5, 2))
    with pytest.raises(ValueError, match="scale must be positive"):
        T.random_affine(x, 5, scale=(0, 1))


# ---------------------------------------------------------------------------------------------------------------
# Classes: seeds, Compose, repr


def test_transform_classes_call_their_functions():
    x = float_image(0, (2, 3, 8, 8))
    np.testing.assert_array_equal(T.Normalize((0.5,) * 3, (0.25,) * 3)(x), T.normalize(x, 0.5, 0.25))
    np.testing.assert_array_equal(T.Resize((4, 5), "nearest")(x), T.resize(x, (4, 5), "nearest"))
    np.testing.assert_array_equal(T.Grayscale(3)(x), T.rgb_to_grayscale(x, 3))
    np.testing.assert_array_equal(T.YUVToRGB()(T.RGBToYUV()(x)), T.yuv_to_rgb(T.rgb_to_yuv(x)))
    np.testing.assert_array_equal(T.RGBToBGR()(x), T.rgb_to_bgr(x))
    np.testing.assert_array_equal(T.FlipUpDown()(x), T.flip_up_down(x))
    np.testing.assert_array_equal(T.FlipLeftRight()(x), T.flip_left_right(x))
    np.testing.assert_array_equal(T.AdjustBrightness(0.5)(x), T.adjust_brightness(x, 0.5))
    np.testing.assert_array_equal(T.AdjustContrast(0.5)(x), T.adjust_contrast(x, 0.5))
    np.testing.assert_array_equal(T.ToTensor()(uint8_image(0, (4, 4))), T.to_tensor(uint8_image(0, (4, 4))))
    np.testing.assert_array_equal(T.RandomCrop(6, 1, seed=3)(x), T.random_crop(x, 6, 1, seed=3))
    np.testing.assert_array_equal(T.RandomVerticalFlip(seed=3)(x), T.random_flip(x, direction="vertical", seed=3))
    np.testing.assert_array_equal(T.RandomHorizontalFlip(seed=3)(x), T.random_flip(x, seed=3))
    np.testing.assert_array_equal(T.RandomAffine(15, seed=3)(x), T.random_affine(x, 15, seed=3))


def test_random_classes_reproducible_from_seed_and_global_generator():
    x = float_image(0, (6, 1, 10, 10))

    def pipeline(seed=None):
        return T.Compose([T.RandomCrop(8, padding=2, seed=seed), T.RandomFlip(seed=seed),
                          T.RandomAffine(10, (0.1, 0.1), seed=seed), T.ColorJitter(0.3, 0.3, seed=seed)])  # fmt: skip

    a, b = pipeline(7), pipeline(7)
    first = a(x)
    np.testing.assert_array_equal(first, b(x))
    assert not np.array_equal(first, a(x))  # each call draws new parameters
    minidl.manual_seed(11)
    c = pipeline()
    minidl.manual_seed(11)
    d = pipeline()
    np.testing.assert_array_equal(c(x), d(x))
    minidl.manual_seed(11)
    e = T.random_crop(x, 8, 2)
    minidl.manual_seed(11)
    np.testing.assert_array_equal(e, T.random_crop(x, 8, 2))
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        T.RandomFlip(seed=-1)


def test_color_jitter():
    x = float_image(0, (8, 3, 5, 5))
    np.testing.assert_array_equal(T.ColorJitter()(x), x)
    out = T.ColorJitter(brightness=0.5, seed=0)(x)  # contrast factor 1: out = clip(x * b, 0, 1), b in [0.5, 1.5]
    factors = []
    for o, xi in zip(out, x):
        ratio = o[o < 1] / xi[o < 1]
        assert np.ptp(ratio) < 1e-5 and 0.5 - 1e-6 <= ratio.min() and ratio.max() <= 1.5 + 1e-6
        factors.append(round(float(ratio.mean()), 4))
    assert len(set(factors)) == 8
    assert T.ColorJitter(0.2, 0.2, seed=0)(x[0]).shape == (3, 5, 5)
    with pytest.raises(ValueError, match="brightness must be a non-negative number or a pair"):
        T.ColorJitter(brightness=-1)


def test_compose_applies_in_order_and_reprs():
    x = np.arange(12.0).reshape(1, 3, 4)
    assert T.Compose([T.Lambda(lambda a: a + 1), T.Lambda(lambda a: a * 2)])(x)[0, 0, 0] == 2
    assert T.Compose([T.Lambda(lambda a: a * 2), T.Lambda(lambda a: a + 1)])(x)[0, 0, 0] == 1
    crop_then_flip = T.Compose([T.RandomCrop((3, 2), seed=0), T.FlipLeftRight()])
    np.testing.assert_array_equal(crop_then_flip(x), T.random_crop(x, (3, 2), seed=0)[..., ::-1])
    pipeline = T.Compose([T.RandomCrop(28, padding=4, seed=1), T.Normalize((0.1307,), (0.3081,))])
    assert repr(pipeline) == (
        "Compose(\n"
        "    RandomCrop(size=(28, 28), padding=(4, 4, 4, 4), padding_mode='constant', fill=0, seed=1)\n"
        "    Normalize(mean=(0.1307,), std=(0.3081,))\n"
        ")"
    )
    assert repr(T.Resize(32)) == "Resize(size=(32, 32), mode='bilinear', antialias=True)"
    assert repr(T.RandomHorizontalFlip()) == "RandomHorizontalFlip(p=0.5)"
    assert repr(T.RandomAffine(10, translate=(0.1, 0.2), seed=3)) == (
        "RandomAffine(degrees=(-10.0, 10.0), translate=(0.1, 0.2), scale=None, interpolation='bilinear', "
        "fill=0.0, seed=3)"
    )
    assert repr(T.ToTensor()) == "ToTensor()"
    with pytest.raises(TypeError, match="every transform must be callable, got int"):
        T.Compose([T.ToTensor(), 3])
