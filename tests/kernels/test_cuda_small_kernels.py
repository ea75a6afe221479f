"""The cuda batch norm, scatter_add, keep_where, erf, log_softmax and dropout_mask kernels against the NumPy
reference, on Numba's CUDA simulator at tiny sizes: odd sizes past one block, non-contiguous inputs, both dtypes,
None weight and bias, repeated and out-of-range indices, infinities and NaNs, logits in the thousands, and dropout
masks equal bit for bit for many (seed, offset), offsets that wrap past 2**64 included."""

import numpy as np
import pytest
from minidl_kernels import reference as ref
from minidl_kernels.cuda import elementwise, norm, random, runtime, scatter, softmax

from tests.support import as_layout

DTYPES = [np.float32, np.float64]
TOL = {np.float32: 1e-5, np.float64: 1e-12}
MASK64 = 2**64 - 1


def _host(array):
    """A device array as a NumPy array (CuPy's ``get``; under the simulator it already is one)."""
    return array if isinstance(array, np.ndarray) else array.get()


def _device(array):
    """A NumPy array (or view) on the device (the simulator's device arrays are NumPy arrays)."""
    return array if runtime.SIMULATED else runtime.array_module().asarray(array)


def _normal(shape, dtype, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _close(got, expected, dtype):
    """got (a device array) has expected's shape, the dtype and C layout of a new array, and its values within
    the dtype's tolerance relative to the largest |expected| (NaNs and infinities where expected has them)."""
    got = _host(got)
    assert got.shape == expected.shape and got.dtype == dtype and got.flags.c_contiguous
    finite = np.abs(expected[np.isfinite(expected)])
    scale = max(1.0, float(finite.max())) if finite.size else 1.0
    np.testing.assert_allclose(got, expected, rtol=TOL[dtype], atol=TOL[dtype] * scale)


def _in_float64(function, *arrays):
    """``function`` of the reference on float64 copies of the arrays (None stays None): the truth a float32 kernel
    is measured against (the reference's float32 arithmetic has errors of its own)."""
    return function(*(None if a is None else np.asarray(a, np.float64) for a in arrays))


# Batch norm: (N, C, L) shapes with channels of 1 to 3 * 64 + 1 values (one to four strides of a 64-thread block).
BN_SHAPES = [(1, 1, 1), (2, 3, 5), (3, 2, 17), (1, 2, 70), (5, 1, 39)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape", BN_SHAPES)
def test_batch_norm_forward_matches_the_reference(shape, affine, dtype):
    x = _normal(shape, dtype, 1) * 3 + 2
    weight = _normal(shape[1], dtype, 2) if affine else None
    bias = _normal(shape[1], dtype, 3) if affine else None
    eps = 0.0 if not affine and shape[0] * shape[2] > 1 else 1e-5  # eps 0 where no channel is constant
    got = norm.batch_norm_forward(_device(x), *(None if a is None else _device(a) for a in (weight, bias)), eps)
    expected = _in_float64(lambda x, w, b: ref.batch_norm_forward(x, w, b, eps), x, weight, bias)
    assert len(got) == 4
    for g, e in zip(got, expected):
        _close(g, e, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape", BN_SHAPES)
def test_batch_norm_backward_matches_the_reference(shape, affine, dtype):
    x, g = _normal(shape, dtype, 4) * 2 - 1, _normal(shape, dtype, 5)
    weight = _normal(shape[1], dtype, 6) if affine else None
    _, mean, invstd, _ = ref.batch_norm_forward(x, None, None, 1e-5)
    args = (g, x, weight, mean, invstd)
    got = norm.batch_norm_backward(*(None if a is None else _device(a) for a in args))
    expected = _in_float64(ref.batch_norm_backward, *args)
    assert len(got) == 3
    for d, e in zip(got, expected):
        _close(d, e, dtype)


@pytest.mark.parametrize("layout", ["transposed", "strided", "reversed"])
def test_batch_norm_reads_any_strides(layout):
    x, g = _normal((3, 2, 9), np.float64, 7), _normal((3, 2, 9), np.float64, 8)
    weight, bias = _normal(2, np.float64, 9), _normal(2, np.float64, 10)
    got = norm.batch_norm_forward(_device(as_layout(x, layout)), _device(weight), _device(bias), 1e-5)
    for d, e in zip(got, ref.batch_norm_forward(x, weight, bias, 1e-5)):
        _close(d, e, np.float64)
    mean, invstd = _host(got[1]), _host(got[2])
    args = (as_layout(g, layout), as_layout(x, layout), weight, mean, invstd)
    got = norm.batch_norm_backward(*(_device(a) for a in args))
    for d, e in zip(got, ref.batch_norm_backward(g, x, weight, mean, invstd)):
        _close(d, e, np.float64)


@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_norm_variance_has_no_cancellation(dtype):
    """Values 1000 + tiny deviations: E[x^2] - E[x]^2 would lose every digit; two passes in float64 keep the
    variance of the stored values (far below eps, returned as computed), and a constant channel gives exactly 0."""
    x = np.empty((2, 2, 33), dtype)
    x[:, 0] = 1000 + _normal((2, 33), dtype, 11) * 1e-3
    x[:, 1] = 1000
    _, mean, invstd, var = (_host(a) for a in norm.batch_norm_forward(_device(x), None, None, 1e-5))
    x64 = x.astype(np.float64)
    expected_var = ((x64 - x64.mean(axis=(0, 2), keepdims=True)) ** 2).mean(axis=(0, 2))
    np.testing.assert_allclose(var, expected_var, rtol=1e-6 if dtype == np.float32 else 1e-12)
    assert var[1] == 0 and mean[1] == 1000 and invstd[1] == np.asarray(1 / np.sqrt(1e-5), dtype)


def test_batch_norm_empty_batch():
    """N * L == 0: an empty output and NaN statistics, as the reference's empty means give; the backward gives
    zero sums."""
    x = np.zeros((0, 3, 4), np.float32)
    out, mean, invstd, var = norm.batch_norm_forward(_device(x), None, None, 1e-5)
    assert _host(out).shape == (0, 3, 4) and _host(out).dtype == np.float32
    for stat in (mean, invstd, var):
        assert _host(stat).dtype == np.float32 and np.isnan(_host(stat)).all() and _host(stat).shape == (3,)
    dx, dweight, dbias = norm.batch_norm_backward(
        _device(x), _device(x), None, _device(np.zeros(3, np.float32)), _device(np.ones(3, np.float32))
    )
    assert _host(dx).shape == (0, 3, 4) and not _host(dweight).any() and not _host(dbias).any()


# scatter_add: 150 entries (three 64-thread blocks) into 7 or 40 slots, so indices repeat.
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("size", "count"), [(1, 5), (7, 150), (40, 150), (13, 0)])
def test_scatter_add_accumulates_repeated_indices(size, count, dtype):
    rng = np.random.default_rng(size + count)
    out = _normal(size, dtype, 12)
    index = rng.integers(0, size, count)
    src = _normal(count, dtype, 13)
    device_out = _device(out.copy())
    assert scatter.scatter_add(device_out, _device(index), _device(src)) is None
    expected = out.astype(np.float64)
    np.add.at(expected, index, src.astype(np.float64))
    _close(device_out, expected, dtype)


def test_scatter_add_into_a_strided_out_from_strided_index_and_src():
    """out every other element of a wider array (updated in place, the elements between untouched); index and src
    read backwards."""
    wide = _device(np.arange(20, dtype=np.float64))
    index = np.random.default_rng(14).integers(0, 10, 90)
    src = _normal(90, np.float64, 15)
    scatter.scatter_add(wide[::2], _device(index[::-1].copy())[::-1], _device(src[::-1].copy())[::-1])
    expected = np.arange(20, dtype=np.float64)
    np.add.at(expected[::2], index, src)
    np.testing.assert_allclose(_host(wide), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("bad", [-1, 9, 2**40])
def test_scatter_add_names_the_first_index_out_of_range(bad):
    """Bad indices at positions 70, 100 and 130: the error names index[70]; the 70 entries before it are added and
    none after, as the other implementations leave out."""
    size = 9
    index = np.random.default_rng(16).integers(0, size, 150)
    index[[70, 100, 130]] = bad, -3, size
    src = _normal(150, np.float64, 17)
    out = _device(np.zeros(size))
    with pytest.raises(IndexError, match=rf"^scatter_add: index\[70\] in \[0, 9\) expected, got {bad}: out of range"):
        scatter.scatter_add(out, _device(index), _device(src))
    expected = np.zeros(size)
    np.add.at(expected, index[:70], src[:70])
    np.testing.assert_allclose(_host(out), expected, rtol=1e-12, atol=1e-12)


# keep_where and erf: element-wise over any shape.
ELEMENTWISE_SHAPES = [(), (0,), (1,), (130,), (3, 5, 7)]


def _with_specials(shape, dtype, seed):
    """Normal values with inf, -inf and nan mixed in (where there is room)."""
    values = _normal(shape, dtype, seed) * 2
    flat = values.reshape(-1)
    flat[: min(3, flat.size)] = np.array([np.inf, -np.inf, np.nan], dtype)[: min(3, flat.size)]
    return values


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", ELEMENTWISE_SHAPES)
def test_keep_where_is_exact(shape, dtype):
    g = _with_specials(shape, dtype, 18)
    keep = np.random.default_rng(19).random(shape) > 0.4
    got = _host(elementwise.keep_where(_device(g), _device(keep)))
    expected = ref.keep_where(g, keep)
    assert got.shape == shape and got.dtype == dtype and got.flags.c_contiguous
    np.testing.assert_array_equal(got, expected)
    assert not np.signbit(got[~keep]).any()  # an exact +0, never g * 0 (which gives -0 or nan)


def test_keep_where_drops_inf_and_nan_and_reads_any_strides():
    g = np.array([[np.inf, -np.inf, np.nan], [1.5, np.nan, -2.0]], np.float32)
    keep = np.array([[False, False, False], [True, True, False]])
    got = _host(elementwise.keep_where(_device(g.T), _device(keep.T)))
    np.testing.assert_array_equal(got, np.array([[0, 1.5], [0, np.nan], [0, 0]], np.float32))
    for layout in ("transposed", "strided", "reversed"):
        g, keep = _normal((4, 9), np.float64, 20), _normal((4, 9), np.float64, 21) > 0
        got = elementwise.keep_where(_device(as_layout(g, layout)), _device(as_layout(keep, layout)))
        np.testing.assert_array_equal(_host(got), ref.keep_where(g, keep))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", ELEMENTWISE_SHAPES)
def test_erf_matches_the_reference(shape, dtype):
    x = _with_specials(shape, dtype, 22)
    _close(elementwise.erf(_device(x)), ref.erf(x), dtype)


def test_erf_reads_any_strides_and_saturates():
    x = np.array([[0.0, -0.0, 1e-8, 6.0], [-6.0, 30.0, -30.0, 0.5]])
    got = _host(elementwise.erf(_device(x.T)))
    np.testing.assert_allclose(got, ref.erf(np.ascontiguousarray(x.T)), rtol=1e-12, atol=1e-300)
    assert got[3, 0] == 1.0 and got[0, 1] == -1.0 and np.signbit(got[1, 0])


# log_softmax: rows narrower than a block, a block exactly, and wider (strided loops), one class included.
SOFTMAX_SHAPES = [(1, 1), (3, 5), (2, 10), (4, 64), (3, 70), (2, 131)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SOFTMAX_SHAPES)
def test_log_softmax_matches_the_reference(shape, dtype):
    x = _normal(shape, dtype, 23) * 3
    _close(softmax.log_softmax(_device(x)), _in_float64(ref.log_softmax, x), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_softmax_is_exact_for_logits_in_the_thousands(dtype):
    """exp(5000) overflows even float64: only the shift by the maximum keeps these rows finite."""
    x = (_normal((3, 37), dtype, 24) * 2000 + np.array([[5000], [-8000], [0]])).astype(dtype)
    x[2, :] = 4000
    got = _host(softmax.log_softmax(_device(x)))
    assert np.isfinite(got).all()
    _close(got, _in_float64(ref.log_softmax, x), dtype)
    np.testing.assert_allclose(got[2], np.full(37, -np.log(37.0)), rtol=TOL[dtype])


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # the simulator's NumPy: inf - inf
@pytest.mark.parametrize("dtype", DTYPES)
def test_log_softmax_rows_with_inf_and_nan(dtype):
    """-inf entries get -inf (the rest of the row is finite); a row of -inf, a row with +inf and a row with NaN
    are NaN wherever the reference's arithmetic makes them so."""
    x = _normal((5, 9), dtype, 25)
    x[0, [1, 4]] = -np.inf
    x[1, :] = -np.inf
    x[2, 3] = np.inf
    x[3, 7] = np.nan
    x[4, 0] = 1e30 if dtype == np.float32 else 1e300
    got = _host(softmax.log_softmax(_device(x)))
    with np.errstate(invalid="ignore"):
        expected = ref.log_softmax(x)
    np.testing.assert_allclose(got, expected, rtol=TOL[dtype], atol=TOL[dtype])
    assert np.isneginf(got[0, [1, 4]]).all() and np.isfinite(np.delete(got[0], [1, 4])).all()
    assert np.isnan(got[1:4]).all()


@pytest.mark.parametrize("layout", ["transposed", "strided", "reversed"])
def test_log_softmax_reads_any_strides(layout):
    x = _normal((6, 11), np.float64, 26)
    _close(softmax.log_softmax(_device(as_layout(x, layout))), ref.log_softmax(x), np.float64)


# dropout_mask: equal to the reference bit for bit.
DROPOUTS = [
    ((), 0.5, 0, 0),
    ((0, 3), 0.5, 1, 2),
    ((7,), 0.0, 3, 0),
    ((2, 3, 5), 0.3, 7, 11),
    ((2, 100), 0.5, 2**64 - 1, 2**64 - 50),  # the counters wrap past 2**64 inside the mask
    ((150,), 0.9, 12345, 2**63 + 17),
    ((3, 43), 0.1, 2**40 + 3, MASK64),  # offset 2**64 - 1: element 1 wraps to key + 0
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "p", "seed", "offset"), DROPOUTS)
def test_dropout_mask_equals_the_reference_bit_for_bit(shape, p, seed, offset, dtype):
    got = _host(random.dropout_mask(shape, p, seed, offset, dtype))
    expected = ref.dropout_mask(shape, p, seed, offset, dtype)
    assert got.shape == expected.shape and got.dtype == np.dtype(dtype) and got.flags.c_contiguous
    assert got.tobytes() == expected.tobytes()


def test_dropout_masks_continue_across_offsets():
    """A mask of 130 at offset o is the masks of 50 at o and of 80 at o + 50 side by side, also across 2**64;
    another seed draws another mask."""
    offset = MASK64 - 20
    whole = _host(random.dropout_mask((130,), 0.5, 99, offset, np.float64))
    first = _host(random.dropout_mask((50,), 0.5, 99, offset, np.float64))
    second = _host(random.dropout_mask((80,), 0.5, 99, (offset + 50) & MASK64, np.float64))
    assert whole.tobytes() == np.concatenate([first, second]).tobytes()
    assert set(np.unique(whole)) == {0.0, 2.0} and 0.3 < np.mean(whole == 0) < 0.7
    assert not np.array_equal(whole, _host(random.dropout_mask((130,), 0.5, 98, offset, np.float64)))
