"""Pooling: gradients against finite differences over drawn windows, strides, paddings, dilations and
ceil_mode; output sizes; errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minidl
import minidl.nn.functional as F
from tests.support import check_gradients, make_array


@st.composite
def pool_args(draw, dilated=True):
    """(x, kwargs) for max/avg pooling with a valid configuration; values far apart so no two tie."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if dilated else (1, 1)
    extent = [d * (k - 1) + 1 for d, k in zip(dilation, kernel)]
    padding = tuple(draw(st.integers(0, e // 2)) for e in extent)
    stride = draw(st.sampled_from([None, 1, 2, (1, 2)]))
    h, w = (
        draw(st.integers(max(1, extent[0] - 2 * padding[0]), 6)),
        draw(st.integers(max(1, extent[1] - 2 * padding[1]), 6)),
    )
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2)), h, w)
    layout = draw(st.sampled_from(["contiguous", "transposed", "strided", "reversed"]))
    x = make_array(rng, shape, np.float64, 0, 1, layout)
    x[...] = rng.permutation(x.size).reshape(shape) / x.size  # distinct values: no ties in a window
    kwargs = dict(kernel_size=kernel, stride=stride, padding=padding, ceil_mode=draw(st.booleans()))
    if dilated:
        kwargs["dilation"] = dilation
    return x, kwargs


@given(args=pool_args())
def test_max_pool2d_gradients(args):
    x, kwargs = args
    try:
        F.max_pool2d(minidl.from_numpy(x), **kwargs)
    except ValueError as err:
        assert "hold only padding" in str(err)  # a dilated window can step over a tiny input entirely
        return
    check_gradients(lambda t: F.max_pool2d(t, **kwargs), x)


@given(args=pool_args(dilated=False), count_include_pad=st.booleans(), divisor=st.sampled_from([None, 2]))
def test_avg_pool2d_gradients(args, count_include_pad, divisor):
    x, kwargs = args
    check_gradients(
        lambda t: F.avg_pool2d(t, count_include_pad=count_include_pad, divisor_override=divisor, **kwargs), x
    )


@given(
    shape=st.tuples(st.integers(1, 2), st.integers(1, 2), st.integers(1, 7), st.integers(1, 7)),
    out=st.sampled_from([1, 2, 3, (2, 1), (None, 2), (4, 3)]),
    seed=st.integers(0, 2**32 - 1),
)
def test_adaptive_avg_pool2d_gradients(shape, out, seed):
    x = np.random.default_rng(seed).standard_normal(shape)
    check_gradients(lambda t: F.adaptive_avg_pool2d(t, out), x)


def test_pool_output_sizes_and_indices():
    x = minidl.arange(2 * 7 * 7, dtype=minidl.float32).reshape(1, 2, 7, 7)
    assert F.max_pool2d(x, 2).shape == (1, 2, 3, 3)
    assert F.max_pool2d(x, 2, ceil_mode=True).shape == (1, 2, 4, 4)
    assert F.avg_pool2d(x, 3, stride=2, padding=1).shape == (1, 2, 4, 4)
    _, idx = F.max_pool2d(x, 2, return_indices=True)
    assert idx.dtype == minidl.int64 and idx[0, 0, 0, 0].item() == 8  # the max of rows 0-1, cols 0-1 is at (1, 1)
    assert F.adaptive_avg_pool2d(x, 1).shape == (1, 2, 1, 1)
    assert F.max_pool2d(x[0], 3).shape == (2, 2, 2)  # unbatched
    with minidl.no_grad():
        assert F.max_pool2d(x, 2, return_indices=True)[1].shape == (1, 2, 3, 3)


def test_pool_errors():
    x = minidl.randn(1, 2, 4, 4)
    with pytest.raises(ValueError, match="at most half"):
        F.max_pool2d(x, 2, padding=2)
    with pytest.raises(ValueError, match=r"kernel \(5×5.*larger than the padded input \(4×4"):
        F.avg_pool2d(x, 5)
    with pytest.raises(ValueError, match=r"3-D \(C, H, W\) or 4-D"):
        F.max_pool2d(minidl.randn(4, 4), 2)
    with pytest.raises(ValueError, match="positive integers"):
        F.adaptive_avg_pool2d(x, 0)
    with pytest.raises(ValueError, match="hold only padding"):
        F.max_pool2d(minidl.randn(1, 1, 1, 1), (1, 2), padding=(0, 1), dilation=(1, 2))
    with pytest.raises(ValueError, match="divisor_override"):
        F.avg_pool2d(x, 2, divisor_override=0)
