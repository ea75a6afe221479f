"""minidl.data.image: imread / imwrite through Pillow."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from minidl.data.image import imread, imwrite
from minidl.data.transforms import to_tensor


def noise(shape: tuple, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)


def smooth(h: int = 32, w: int = 40) -> np.ndarray:
    """A smooth RGB gradient: what JPEG compresses well."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // (w - 1), y * 255 // (h - 1), (x + y) * 255 // (h + w - 2)], axis=-1).astype(np.uint8)


@pytest.mark.parametrize("shape", [(7, 5), (1, 1), (13, 11, 3), (6, 9, 4)])
def test_png_round_trip_is_exact(tmp_path, shape):
    image = noise(shape)
    path = tmp_path / "image.png"
    imwrite(path, image)
    back = imread(path)
    assert back.dtype == np.uint8 and back.shape == shape
    np.testing.assert_array_equal(back, image)
    np.testing.assert_array_equal(np.asarray(Image.open(path)), image)  # Pillow reads what we wrote
    np.testing.assert_array_equal(imread(str(path)), image)  # str paths too


def test_jpeg_round_trip_is_close(tmp_path):
    image = smooth()
    for name in ("a.jpg", "b.JPEG"):
        imwrite(tmp_path / name, image)
        back = imread(tmp_path / name)
        assert back.shape == image.shape and back.dtype == np.uint8
        assert np.abs(back.astype(int) - image).mean() < 2.0
    imwrite(tmp_path / "low.jpg", image, quality=10)
    assert np.abs(imread(tmp_path / "low.jpg").astype(int) - image).mean() > np.abs(back.astype(int) - image).mean()
    gray = image[..., 0]
    imwrite(tmp_path / "gray.jpg", gray)
    assert imread(tmp_path / "gray.jpg").shape == gray.shape


def test_float_images_are_scaled_and_rounded(tmp_path):
    values = np.array([[0.0, 0.5, 1.0], [1 / 255, 0.2, 0.999]])
    imwrite(tmp_path / "f.png", values)
    np.testing.assert_array_equal(imread(tmp_path / "f.png"), [[0, 128, 255], [1, 51, 255]])
    imwrite(tmp_path / "c.png", values[:, :, None])  # (H, W, 1) is grayscale
    assert imread(tmp_path / "c.png").shape == (2, 3)


def test_modes(tmp_path):
    rgb = noise((5, 6, 3))
    imwrite(tmp_path / "rgb.png", rgb)
    gray = imread(tmp_path / "rgb.png", mode="L")
    np.testing.assert_array_equal(gray, np.asarray(Image.fromarray(rgb).convert("L")))
    assert imread(tmp_path / "rgb.png", mode="RGBA")[..., 3].min() == 255
    imwrite(tmp_path / "gray.png", gray)
    np.testing.assert_array_equal(imread(tmp_path / "gray.png", mode="RGB"), np.repeat(gray[..., None], 3, axis=2))
    palette = Image.fromarray(rgb).quantize(8)
    palette.save(tmp_path / "palette.png")
    np.testing.assert_array_equal(imread(tmp_path / "palette.png"), np.asarray(palette.convert("RGB")))
    Image.fromarray(noise((4, 4)) > 127).save(tmp_path / "bits.png")
    assert set(np.unique(imread(tmp_path / "bits.png"))) <= {0, 255}
    Image.fromarray(noise((4, 4)).astype(np.uint16) * 200).save(tmp_path / "deep.png")
    with pytest.raises(ValueError, match=r"mode 'I;16' has no uint8 form.*pass mode='L'"):
        imread(tmp_path / "deep.png")
    with pytest.raises(ValueError, match="mode must be one of"):
        imread(tmp_path / "rgb.png", mode="CMYK")


def test_imread_then_to_tensor(tmp_path):
    rgb = noise((4, 5, 3))
    imwrite(tmp_path / "x.png", rgb)
    chw = to_tensor(imread(tmp_path / "x.png"))
    assert chw.shape == (3, 4, 5) and chw.dtype == np.float32
    np.testing.assert_allclose(chw[1], rgb[..., 1] / 255, rtol=1e-6)


def test_read_errors(tmp_path):
    missing = tmp_path / "nope.png"
    with pytest.raises(FileNotFoundError, match="nope.png"):
        imread(missing)
    with pytest.raises(IsADirectoryError):
        imread(tmp_path)
    (tmp_path / "text.png").write_text("not an image")
    with pytest.raises(ValueError, match="text.png.*not an image file"):
        imread(tmp_path / "text.png")


def test_write_errors(tmp_path):
    image = noise((4, 4, 3))
    with pytest.raises(ValueError, match=r"unsupported extension '\.gif'.*expected one of \.jpeg, \.jpg, \.png"):
        imwrite(tmp_path / "x.gif", image)
    with pytest.raises(ValueError, match="unsupported extension ''"):
        imwrite(tmp_path / "x", image)
    with pytest.raises(ValueError, match=r"got shape \(3, 5, 6\).*to_nhwc"):
        imwrite(tmp_path / "x.png", noise((3, 5, 6)))
    with pytest.raises(ValueError, match=r"values in \[0, 1\], got min 0.0, max 2.0"):
        imwrite(tmp_path / "x.png", np.array([[0.0, 2.0]]))
    with pytest.raises(ValueError, match="non-finite"):
        imwrite(tmp_path / "x.png", np.array([[0.0, np.nan]]))
    with pytest.raises(TypeError, match=r"uint8 array or a float array in \[0, 1\], got dtype int64"):
        imwrite(tmp_path / "x.png", np.zeros((2, 2), np.int64))
    with pytest.raises(ValueError, match="JPEG has no alpha channel"):
        imwrite(tmp_path / "x.jpg", noise((4, 4, 4)))
    with pytest.raises(ValueError, match="quality must be an integer"):
        imwrite(tmp_path / "x.jpg", image, quality=0)
    assert not list(tmp_path.iterdir())  # nothing half-written
