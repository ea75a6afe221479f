"""Pooling against PyTorch 2.13 (CPU, float32): max_pool2d (kernel, stride given or None, padding up to half the
kernel, dilation, ceil_mode, the int64 indices of return_indices, ties and NaNs), avg_pool2d (ceil_mode,
count_include_pad, divisor_override) and adaptive_avg_pool2d (int, pair, None entries, output 1, sizes that do not
divide the input), over drawn shapes and every memory layout; 3-D unbatched input too. Then the errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

import minidl
import minidl.nn.functional as F
from tests.support import arrays
from tests.support import compare_with_torch as compare

F32 = np.float32
MAX_SIDE = 9


def _pair_or_int(draw, values):
    a, b = draw(values), draw(values)
    return a if a == b and draw(st.booleans()) else (a, b)


def _as_pair(v):
    return tuple(v) if isinstance(v, tuple) else (v, v)


@st.composite
def pool_configs(draw, dilation: bool = True) -> dict:
    """x's shape and the window arguments of a pooling that fits: padding at most half the kernel (PyTorch's rule,
    which ignores dilation), the dilated kernel within the padded input."""
    kernel = _pair_or_int(draw, st.integers(1, 4))
    kh, kw = _as_pair(kernel)
    stride = None if draw(st.booleans()) else _pair_or_int(draw, st.integers(1, 3))
    padding = (draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2)))
    if padding[0] == padding[1] and draw(st.booleans()):
        padding = padding[0]
    dil = _pair_or_int(draw, st.integers(1, 2)) if dilation else 1
    (dh, dw), (ph, pw) = _as_pair(dil), _as_pair(padding)
    min_h, min_w = max(1, dh * (kh - 1) + 1 - 2 * ph), max(1, dw * (kw - 1) + 1 - 2 * pw)
    h = draw(st.integers(min_h, max(min_h, MAX_SIDE)))
    w = draw(st.integers(min_w, max(min_w, MAX_SIDE)))
    lead = (draw(st.integers(1, 3)),) if draw(st.booleans()) else (draw(st.integers(1, 2)), draw(st.integers(1, 3)))
    kwargs = {"kernel_size": kernel, "stride": stride, "padding": padding, "ceil_mode": draw(st.booleans())}
    if dilation:
        kwargs["dilation"] = dil
    return {"x": (*lead, h, w), "kwargs": kwargs}


def _refused_as_only_padding(x: np.ndarray, **kwargs) -> bool:
    """With dilation a window may read only padding: PyTorch gives -inf there (and an index outside the input),
    minidl refuses the arguments. True (after checking the refusal) when that is the case."""
    if not np.isneginf(TF.max_pool2d(torch.from_numpy(np.array(x)), **kwargs).numpy()).any():
        return False
    with pytest.raises(ValueError, match=r"max_pool2d: with kernel .* some windows over the .* hold only padding"):
        F.max_pool2d(minidl.from_numpy(x), **kwargs)
    return True


@given(data=st.data())
def test_max_pool2d_matches_torch(data):
    config = data.draw(pool_configs())
    x = data.draw(arrays(config["x"], dtype=F32))
    kwargs = config["kwargs"]
    if _refused_as_only_padding(x, **kwargs):
        return
    compare(lambda t: F.max_pool2d(t, **kwargs), lambda t: TF.max_pool2d(t, **kwargs), x)
    # positional arguments, in PyTorch's order
    args = tuple(kwargs[k] for k in ("kernel_size", "stride", "padding", "dilation", "ceil_mode"))
    compare(lambda t: F.max_pool2d(t, *args), lambda t: TF.max_pool2d(t, *args), x)


def _check_indices(x: np.ndarray, **kwargs) -> None:
    """Values and gradients through compare; the int64 indices equal to PyTorch's."""
    if _refused_as_only_padding(x, **kwargs):
        return
    compare(
        lambda t: F.max_pool2d(t, return_indices=True, **kwargs)[0],
        lambda t: TF.max_pool2d(t, return_indices=True, **kwargs)[0],
        x,
    )
    _, ours = F.max_pool2d(minidl.from_numpy(x), return_indices=True, **kwargs)
    _, theirs = TF.max_pool2d(torch.from_numpy(np.array(x)), return_indices=True, **kwargs)
    assert ours.dtype == np.int64
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@given(data=st.data())
def test_max_pool2d_indices_match_torch(data):
    config = data.draw(pool_configs())
    _check_indices(data.draw(arrays(config["x"], dtype=F32)), **config["kwargs"])


@given(data=st.data())
def test_max_pool2d_with_ties_matches_torch(data):
    """Few distinct values, so most windows hold their maximum more than once: the first one (row-major order in
    the window) wins in both, and takes the whole gradient."""
    config = data.draw(pool_configs())
    x = data.draw(arrays(config["x"], dtype=F32, low=-1.5, high=1.5))
    x[...] = np.round(x)  # the layout is kept
    _check_indices(x, **config["kwargs"])


def test_max_pool2d_propagates_nan_like_torch():
    """A NaN wins over the numbers of its window (one NaN per window here; see the next test for several)."""
    x = np.arange(2 * 6 * 7, dtype=F32).reshape(2, 6, 7) % 5
    x[0, 1, 2] = x[1, 4, 4] = np.nan
    for kwargs in [{"kernel_size": 2}, {"kernel_size": (1, 2), "padding": (0, 1)}, {"kernel_size": 3}]:
        _check_indices(x[None], **kwargs)
        _check_indices(x, **kwargs)


def test_max_pool2d_with_several_nans_in_a_window_matches_torch():
    x = np.array([[[[1.0, np.nan], [np.nan, 2.0]]]], dtype=F32)
    _check_indices(x, kernel_size=2)


@given(data=st.data())
def test_avg_pool2d_matches_torch(data):
    config = data.draw(pool_configs(dilation=False))
    x = data.draw(arrays(config["x"], dtype=F32))
    kwargs = {
        **config["kwargs"],
        "count_include_pad": data.draw(st.booleans()),
        "divisor_override": data.draw(st.one_of(st.none(), st.integers(1, 7))),
    }
    compare(lambda t: F.avg_pool2d(t, **kwargs), lambda t: TF.avg_pool2d(t, **kwargs), x)


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("divisor_override", [None, 3])
def test_avg_pool2d_ceil_mode_partial_windows_match_torch(count_include_pad, divisor_override):
    """Windows that run past the padded input (ceil_mode) are clipped; their divisors are PyTorch's."""
    x = np.random.default_rng(0).uniform(-1, 1, (2, 3, 7, 8)).astype(F32)
    for kernel, stride, padding in [(3, 2, 1), ((3, 2), (2, 3), (1, 0)), (2, 3, 0), (4, 3, 2)]:
        kwargs = {
            "kernel_size": kernel, "stride": stride, "padding": padding, "ceil_mode": True,
            "count_include_pad": count_include_pad, "divisor_override": divisor_override,
        }  # fmt: skip
        compare(lambda t, kw=kwargs: F.avg_pool2d(t, **kw), lambda t, kw=kwargs: TF.avg_pool2d(t, **kw), x)


@given(data=st.data())
def test_adaptive_avg_pool2d_matches_torch(data):
    lead = data.draw(st.sampled_from([(1,), (3,), (1, 1), (2, 3)]))  # (C,) unbatched or (N, C)
    h, w = data.draw(st.integers(1, MAX_SIDE)), data.draw(st.integers(1, MAX_SIDE))
    x = data.draw(arrays((*lead, h, w), dtype=F32))
    sizes = st.integers(1, MAX_SIDE + 2)  # larger than the input too: windows then overlap
    output_size = data.draw(
        st.one_of(
            sizes,
            st.tuples(sizes, sizes),
            st.tuples(st.none(), sizes),
            st.tuples(sizes, st.none()),
            st.just((None, None)),
            st.just(1),
            st.just((1, 1)),
        )
    )
    compare(lambda t: F.adaptive_avg_pool2d(t, output_size), lambda t: TF.adaptive_avg_pool2d(t, output_size), x)


@pytest.mark.parametrize("output_size", [1, (1, 1), 2, (3, 2), (4, 5), (None, 3), (2, None), 7])
def test_adaptive_avg_pool2d_of_sizes_that_do_not_divide_matches_torch(output_size):
    x = np.random.default_rng(1).uniform(-1, 1, (2, 3, 7, 5)).astype(F32)
    compare(lambda t: F.adaptive_avg_pool2d(t, output_size), lambda t: TF.adaptive_avg_pool2d(t, output_size), x)
    compare(
        lambda t: F.adaptive_avg_pool2d(t, output_size),
        lambda t: TF.adaptive_avg_pool2d(t, output_size),
        np.asfortranarray(x[1]),
    )


# ---------------------------------------------------------------------------------------------------------- errors

POOLS = {
    "max_pool2d": lambda x, *args, **kw: F.max_pool2d(x, *args, **kw),
    "avg_pool2d": lambda x, *args, **kw: F.avg_pool2d(x, *args, **kw),
}


@pytest.mark.parametrize("name", [*POOLS, "adaptive_avg_pool2d"])
@pytest.mark.parametrize("shape", [(5, 5), (1, 1, 1, 5, 5), (5,)])
def test_pooling_needs_3d_or_4d_input(name, shape):
    x = minidl.zeros(*shape)
    pool = getattr(F, name)
    with pytest.raises(ValueError, match=rf"{name}: expected a 3-D \(C, H, W\) or 4-D \(N, C, H, W\) input, got shape"):
        pool(x, 2)


@pytest.mark.parametrize("name", list(POOLS))
def test_pooling_padding_at_most_half_the_kernel(name):
    x = minidl.zeros(1, 1, 6, 6)
    with pytest.raises(
        ValueError, match=rf"{name}: padding \(2, 2\) must be at most half of the .*kernel size \(3, 3\)"
    ):
        POOLS[name](x, 3, padding=2)
    with pytest.raises(ValueError, match=rf"{name}: padding \(0, 2\) must be at most half"):
        POOLS[name](x, (2, 3), padding=(0, 2))
    POOLS[name](x, (2, 3), padding=(1, 1))  # half the kernel is fine


@pytest.mark.parametrize("name", list(POOLS))
def test_pooling_kernel_larger_than_padded_input(name):
    with pytest.raises(ValueError, match=rf"{name}: the kernel \(5×2 .*\) is larger than the padded input \(4×6"):
        POOLS[name](minidl.zeros(1, 1, 4, 6), (5, 2))
    with pytest.raises(ValueError, match=r"larger than the padded input"):
        F.max_pool2d(minidl.zeros(1, 1, 4, 4), 3, dilation=2)


def test_max_pool2d_refuses_windows_of_only_padding():
    x = np.ones((1, 1, 1, 1), dtype=F32)
    assert _refused_as_only_padding(x, kernel_size=(1, 2), padding=(0, 1), dilation=(1, 2))
    x = np.ones((1, 1, 2, 2), dtype=F32)  # taps at -1 and 2 along each dim
    assert _refused_as_only_padding(x, kernel_size=2, stride=1, padding=1, dilation=3)


def test_pooling_bad_arguments():
    x = minidl.zeros(1, 1, 4, 4)
    with pytest.raises(ValueError, match=r"kernel_size must be integers >= 1, got 0"):
        F.max_pool2d(x, 0)
    with pytest.raises(ValueError, match=r"divisor_override must be a positive integer, got 0"):
        F.avg_pool2d(x, 2, divisor_override=0)
    with pytest.raises(ValueError, match=r"output sizes must be positive integers, got \(0, 2\)"):
        F.adaptive_avg_pool2d(x, (0, 2))
    with pytest.raises(ValueError, match=r"output_size must be an int or a pair, got \(1, 2, 3\)"):
        F.adaptive_avg_pool2d(x, (1, 2, 3))
