"""SSDBoxCoder and default_boxes: hand-worked offsets and boxes, round trips, the layout of the default boxes, the
decode's gradients in float64, errors."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minidl
from minidl.vision import SSDBoxCoder, default_boxes
from minidl.vision.anchors import boxes_per_cell
from tests.support import check_gradients
from tests.vision.test_ops import drawn_boxes


def test_encode_by_hand():
    default = minidl.tensor([[0.0, 0.0, 2.0, 4.0]])  # centre (1, 2), size (2, 4)
    box = minidl.tensor([[1.0, 1.0, 3.0, 9.0]])  # centre (2, 5), size (2, 8)
    offsets = SSDBoxCoder((0.1, 0.2)).encode(box, default).numpy()
    np.testing.assert_allclose(offsets, [[(2 - 1) / (2 * 0.1), (5 - 2) / (4 * 0.1), 0.0, math.log(2) / 0.2]], rtol=1e-6)


@settings(max_examples=10)
@given(n=st.integers(1, 6), seed=st.integers(0, 2**32 - 1), variances=st.sampled_from([(0.1, 0.2), (1.0, 1.0)]))
def test_decode_inverts_encode(n, seed, variances):
    coder = SSDBoxCoder(variances)
    defaults = minidl.tensor(drawn_boxes(seed, n))
    boxes = minidl.tensor(drawn_boxes(seed + 1, 2 * n).reshape(2, n, 4))  # a batch of two images
    decoded = coder.decode(coder.encode(boxes, defaults), defaults)
    assert decoded.shape == (2, n, 4)
    np.testing.assert_allclose(decoded.numpy(), boxes.numpy(), rtol=1e-12, atol=1e-12)


@settings(max_examples=10)
@given(n=st.integers(1, 4), seed=st.integers(0, 2**32 - 1))
def test_encode_and_decode_gradients(n, seed):
    coder = SSDBoxCoder()
    defaults = minidl.tensor(drawn_boxes(seed, n))
    offsets = np.random.default_rng(seed).uniform(-2, 2, (n, 4))
    check_gradients(lambda o: coder.decode(o, defaults), offsets)
    check_gradients(lambda b: coder.encode(b, defaults), drawn_boxes(seed + 1, n))


def test_decode_caps_the_size_offsets():
    default = minidl.tensor([[0.0, 0.0, 1.0, 1.0]])
    box = SSDBoxCoder((0.1, 0.2)).decode(minidl.tensor([[0.0, 0.0, 1e4, 0.0]]), default).numpy()
    np.testing.assert_allclose(box[0, 2] - box[0, 0], 1000 / 16, rtol=1e-5)  # capped, finite


def test_coder_errors():
    coder = SSDBoxCoder()
    defaults = minidl.tensor([[0.0, 0.0, 1.0, 1.0]])
    with pytest.raises(ValueError, match="every box needs a positive width and height"):
        coder.encode(minidl.tensor([[0.5, 0.5, 0.5, 0.9]]), defaults)
    with pytest.raises(ValueError, match=r"boxes must have shape \(\.\.\., 1, 4\)"):
        coder.encode(minidl.tensor([[0.0, 0.0, 1.0, 1.0]] * 2), defaults)
    with pytest.raises(TypeError, match="offsets and defaults need one floating dtype, got float64 and float32"):
        coder.decode(minidl.tensor([[0.0, 0.0, 1.0, 1.0]], dtype=minidl.float64), defaults)
    with pytest.raises(ValueError, match="variances must be two positive numbers"):
        SSDBoxCoder((0.1, 0.0))


def test_default_boxes_by_hand():
    # One 2 x 2 map, scale 0.5 (next 0.8), ratios 1 and 2: three boxes per cell, the third square of side sqrt(0.4).
    boxes = default_boxes([2], [0.5, 0.8], [[1.0, 2.0]]).numpy()
    assert boxes.shape == (2 * 2 * 3, 4) and boxes.dtype == np.float32
    w2, h2, side = 0.5 * math.sqrt(2), 0.5 / math.sqrt(2), math.sqrt(0.4)
    expected_first_cell = [
        [0.0, 0.0, 0.5, 0.5],
        [0.25 - w2 / 2, 0.25 - h2 / 2, 0.25 + w2 / 2, 0.25 + h2 / 2],
        [0.25 - side / 2, 0.25 - side / 2, 0.25 + side / 2, 0.25 + side / 2],
    ]
    np.testing.assert_allclose(boxes[:3], expected_first_cell, rtol=1e-6, atol=1e-7)
    # Cells row by row: the second cell is to the right of the first (centre x 0.75), the third below it.
    np.testing.assert_allclose(boxes[3], [0.5, 0.0, 1.0, 0.5], atol=1e-7)
    np.testing.assert_allclose(boxes[6], [0.0, 0.5, 0.5, 1.0], atol=1e-7)


def test_default_boxes_count_order_and_clip():
    sizes, ratios = [(3, 4), 2], [[1.0, 2.0, 0.5], [1.0]]
    boxes = default_boxes(sizes, [0.3, 0.6], ratios, dtype=minidl.float64).numpy()  # no extra square boxes
    assert boxes.shape == (3 * 4 * 3 + 2 * 2 * 1, 4) and boxes.dtype == np.float64
    assert boxes_per_cell(ratios[0], False) == 3 and boxes_per_cell(ratios[1], True) == 2
    np.testing.assert_allclose(boxes[-4:, 2] - boxes[-4:, 0], 0.6)  # the second map's boxes come last
    clipped = default_boxes(sizes, [0.3, 0.6, 0.9], ratios, clip=True).numpy()
    assert clipped.min() >= 0 and clipped.max() <= 1
    with pytest.raises(ValueError, match="scales must be 2 or 3 positive numbers"):
        default_boxes(sizes, [0.3], ratios)
    with pytest.raises(ValueError, match="aspect_ratios must be 2 non-empty lists"):
        default_boxes(sizes, [0.3, 0.6], [[1.0], []])
    with pytest.raises(ValueError, match=r"each feature size must be a positive int H or a pair \(H, W\), got 0"):
        default_boxes([0], [0.3], [[1.0]])
