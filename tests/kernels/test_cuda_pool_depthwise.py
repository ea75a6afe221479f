"""The cuda pooling and depthwise kernels against the NumPy reference, on Numba's CUDA simulator at tiny sizes:
kernels of 1, 2, 3, 5 and non-square, strides, paddings (asymmetric for depthwise), dilations, floor and ceil_mode
output sizes, channel multipliers 1 and 2, odd sizes, non-contiguous inputs, both dtypes; for max pooling ties,
NaNs and infinities with the indices compared exactly."""

import numpy as np
import pytest
from minidl_kernels import reference as ref
from minidl_kernels.cuda import depthwise, pool, runtime
from minidl_kernels.reference.pool import pool_output_sizes

from tests.support import as_layout

DTYPES = [np.float32, np.float64]
TOL = {np.float32: 1e-5, np.float64: 1e-12}

# (x shape, kernel, stride, padding, dilation) of max pooling; average pooling uses those without dilation.
POOLS = [
    ((2, 3, 7, 9), (3, 3), (2, 2), (1, 1), (1, 1)),
    ((1, 2, 8, 7), (2, 2), (2, 2), (0, 0), (1, 1)),
    ((1, 2, 5, 6), (1, 1), (1, 2), (0, 0), (1, 1)),
    ((2, 1, 11, 9), (5, 5), (3, 2), (2, 2), (1, 1)),
    ((1, 3, 9, 10), (2, 3), (1, 2), (1, 1), (2, 1)),
    ((1, 2, 10, 8), (3, 2), (3, 1), (1, 0), (2, 3)),
]
AVG_POOLS = [config for config in POOLS if config[4] == (1, 1)]

# (x shape, kernel, multiplier m, stride, padding (top, bottom, left, right), dilation) of depthwise convolution.
DEPTHWISE = [
    ((2, 3, 7, 6), (3, 3), 1, (1, 1), (1, 1, 1, 1), (1, 1)),
    ((1, 2, 8, 7), (3, 3), 2, (2, 1), (1, 0, 2, 1), (1, 2)),
    ((2, 2, 6, 5), (1, 1), 2, (2, 2), (0, 0, 0, 0), (1, 1)),
    ((1, 1, 9, 8), (5, 5), 1, (1, 2), (2, 2, 2, 2), (1, 1)),
    ((1, 3, 5, 7), (2, 3), 2, (1, 3), (0, 1, 1, 0), (2, 1)),
    ((1, 2, 6, 6), (3, 2), 1, (2, 2), (1, 2, 0, 1), (2, 2)),
]


def _host(array):
    """A device array as a NumPy array (CuPy's ``get``; under the simulator it already is one)."""
    return array if isinstance(array, np.ndarray) else array.get()


def _device(array):
    """A NumPy array (or view) on the device (the simulator's device arrays are NumPy arrays)."""
    return array if runtime.SIMULATED else runtime.array_module().asarray(array)


def _normal(shape, dtype, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _out_size(shape, kernel, stride, padding, dilation, ceil_mode):
    """(Ho, Wo) as PyTorch computes it, floor or ceil_mode."""
    return tuple(
        pool_output_sizes(size, k, s, p, d)[int(ceil_mode)]
        for size, k, s, p, d in zip(shape[2:], kernel, stride, padding, dilation)
    )


def _close(got, expected, dtype, scale=1.0):
    """got (a device array of ``dtype``, C-contiguous) against a float64 result, within the dtype's tolerance of
    ``scale`` (the size of the terms summed)."""
    got = _host(got)
    assert got.dtype == dtype and got.shape == expected.shape and got.flags.c_contiguous
    np.testing.assert_allclose(got, expected, rtol=TOL[dtype], atol=TOL[dtype] * scale)


def _pool_values(shape, kind, dtype, seed):
    """Normals; small integers (many ties); normals with NaNs; normals with +-inf (and a plane of -inf)."""
    rng = np.random.default_rng(seed)
    if kind == "ties":
        return rng.integers(-2, 3, size=shape).astype(dtype)
    x = rng.standard_normal(shape).astype(dtype)
    if kind == "nan":
        x[rng.random(shape) < 0.2] = np.nan
    elif kind == "inf":
        x[rng.random(shape) < 0.2] = -np.inf
        x[rng.random(shape) < 0.05] = np.inf
        x[0, 0] = -np.inf
    return x


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize(("shape", "kernel", "stride", "padding", "dilation"), POOLS)
def test_max_pool_matches_the_reference(shape, kernel, stride, padding, dilation, ceil_mode, dtype):
    out_size = _out_size(shape, kernel, stride, padding, dilation, ceil_mode)
    for seed, kind in enumerate(["normal", "ties", "nan", "inf"]):
        x = _pool_values(shape, kind, dtype, seed)
        out, indices = pool.max_pool2d_forward(_device(x), kernel, stride, padding, dilation, out_size)
        expected, expected_indices = ref.max_pool2d_forward(x, kernel, stride, padding, dilation, out_size)
        out, indices = _host(out), _host(indices)
        assert out.dtype == dtype and indices.dtype == np.int64
        np.testing.assert_array_equal(out, expected)
        np.testing.assert_array_equal(indices, expected_indices)
    g = _normal(expected.shape, dtype, 7)
    dx = pool.max_pool2d_backward(_device(g), _device(expected_indices), shape)
    _close(dx, ref.max_pool2d_backward(g.astype(np.float64), expected_indices, shape), dtype)


def test_max_pool_last_nan_and_first_maximum_win():
    x = np.array([[[[1.0, 3.0, 3.0], [np.nan, 2.0, np.nan]]]])
    out, indices = pool.max_pool2d_forward(_device(x), (2, 3), (1, 1), (0, 0), (1, 1), (1, 1))
    assert np.isnan(_host(out)[0, 0, 0, 0]) and _host(indices)[0, 0, 0, 0] == 5
    out, indices = pool.max_pool2d_forward(_device(x[:, :, :1]), (1, 3), (1, 1), (0, 0), (1, 1), (1, 1))
    assert _host(out)[0, 0, 0, 0] == 3.0 and _host(indices)[0, 0, 0, 0] == 1


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_pool_windows_of_minus_infinity_point_inside_the_input(dtype):
    x = np.full((1, 1, 3, 3), -np.inf, dtype=dtype)
    out, indices = pool.max_pool2d_forward(_device(x), (2, 2), (2, 2), (1, 1), (1, 1), (2, 2))
    assert (_host(out) == -np.inf).all() and _host(indices).tolist() == [[[[0, 1], [3, 4]]]]


def test_max_pool_backward_accumulates_where_windows_overlap():
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 5.0  # the maximum of all nine 3x3 windows (padding 1)
    _, indices = pool.max_pool2d_forward(_device(x), (3, 3), (1, 1), (1, 1), (1, 1), (3, 3))
    assert (_host(indices) == 4).all()
    dx = _host(pool.max_pool2d_backward(_device(np.arange(9.0).reshape(1, 1, 3, 3)), indices, x.shape))
    assert dx[0, 0, 1, 1] == 36.0 and dx.sum() == 36.0


@pytest.mark.parametrize("index", [-1, 12])
def test_max_pool_backward_refuses_indices_out_of_range(index):
    indices = np.zeros((1, 2, 2, 2), np.int64)
    indices[0, 1, 1, 0] = index
    with pytest.raises(IndexError, match=r"^max_pool2d_backward: indices in \[0, 12\)"):
        pool.max_pool2d_backward(_device(np.ones((1, 2, 2, 2))), _device(indices), (1, 2, 3, 4))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("count_include_pad", "divisor"), [(True, None), (False, None), (True, 3), (False, 5)])
@pytest.mark.parametrize("ceil_mode", [False, True])
@pytest.mark.parametrize(("shape", "kernel", "stride", "padding", "dilation"), AVG_POOLS)
def test_avg_pool_matches_the_reference(
    shape, kernel, stride, padding, dilation, ceil_mode, count_include_pad, divisor, dtype
):
    out_size = _out_size(shape, kernel, stride, padding, dilation, ceil_mode)
    x = _normal(shape, dtype, 1)
    out = pool.avg_pool2d_forward(_device(x), kernel, stride, padding, out_size, count_include_pad, divisor)
    expected = ref.avg_pool2d_forward(
        x.astype(np.float64), kernel, stride, padding, out_size, count_include_pad, divisor
    )
    _close(out, expected, dtype)
    g = _normal((*shape[:2], *out_size), dtype, 2)
    dx = pool.avg_pool2d_backward(_device(g), shape, kernel, stride, padding, count_include_pad, divisor)
    expected = ref.avg_pool2d_backward(g.astype(np.float64), shape, kernel, stride, padding, count_include_pad, divisor)
    _close(dx, expected, dtype)


@pytest.mark.parametrize("layout", ["transposed", "strided", "reversed"])
def test_pool_reads_any_strides(layout):
    shape, kernel, stride, padding, dilation = POOLS[0]
    out_size = _out_size(shape, kernel, stride, padding, dilation, True)
    x = _normal(shape, np.float64, 3)
    view = _device(as_layout(x, layout))
    out, indices = pool.max_pool2d_forward(view, kernel, stride, padding, dilation, out_size)
    expected, expected_indices = ref.max_pool2d_forward(x, kernel, stride, padding, dilation, out_size)
    np.testing.assert_array_equal(_host(out), expected)
    np.testing.assert_array_equal(_host(indices), expected_indices)
    g = as_layout(_normal(expected.shape, np.float64, 4), layout)
    _close(
        pool.max_pool2d_backward(_device(g), _device(as_layout(expected_indices, layout)), shape),
        ref.max_pool2d_backward(g, expected_indices, shape),
        np.float64,
    )
    _close(
        pool.avg_pool2d_forward(view, kernel, stride, padding, out_size),
        ref.avg_pool2d_forward(x, kernel, stride, padding, out_size),
        np.float64,
    )
    _close(
        pool.avg_pool2d_backward(_device(g), shape, kernel, stride, padding),
        ref.avg_pool2d_backward(g, shape, kernel, stride, padding),
        np.float64,
    )


def _depthwise_operands(shape, kernel, m, stride, padding, dilation, dtype):
    """x, weight and a gradient of the output, in ``dtype``."""
    n, c, h, w = shape
    ho, wo = ref.conv_output_size((h, w), kernel, stride, padding, dilation)
    x = _normal(shape, dtype, 5)
    weight = _normal((c * m, 1, *kernel), dtype, 6)
    g = _normal((n, c * m, ho, wo), dtype, 8)
    return x, weight, g


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "kernel", "m", "stride", "padding", "dilation"), DEPTHWISE)
def test_depthwise_matches_the_reference(shape, kernel, m, stride, padding, dilation, dtype):
    x, weight, g = _depthwise_operands(shape, kernel, m, stride, padding, dilation, dtype)
    x64, w64, g64 = x.astype(np.float64), weight.astype(np.float64), g.astype(np.float64)
    geometry = (stride, padding, dilation)
    taps = kernel[0] * kernel[1]
    out = depthwise.depthwise_conv2d_forward(_device(x), _device(weight), *geometry)
    _close(out, ref.depthwise_conv2d_forward(x64, w64, *geometry), dtype, taps)
    dx = depthwise.depthwise_conv2d_backward_input(_device(g), _device(weight), shape, *geometry)
    _close(dx, ref.depthwise_conv2d_backward_input(g64, w64, shape, *geometry), dtype, taps * m)
    dweight = depthwise.depthwise_conv2d_backward_weight(_device(g), _device(x), weight.shape, *geometry)
    _close(dweight, ref.depthwise_conv2d_backward_weight(g64, x64, weight.shape, *geometry), dtype, g[:, 0].size)


def test_depthwise_mixed_dtypes_and_any_strides():
    shape, kernel, m, stride, padding, dilation = DEPTHWISE[1]
    x, weight, g = _depthwise_operands(shape, kernel, m, stride, padding, dilation, np.float64)
    geometry = (stride, padding, dilation)
    x32, w32, g32 = (a.astype(np.float32) for a in (x, weight, g))
    # The result has the dtype of x (forward) or grad_out (backward); the other operand is cast to it.
    out = depthwise.depthwise_conv2d_forward(
        _device(as_layout(x32, "reversed")), _device(as_layout(weight, "transposed")), *geometry
    )
    _close(
        out,
        ref.depthwise_conv2d_forward(x32.astype(np.float64), weight.astype(np.float32).astype(np.float64), *geometry),
        np.float32,
        9,
    )
    dx = depthwise.depthwise_conv2d_backward_input(_device(as_layout(g, "strided")), _device(w32), shape, *geometry)
    _close(dx, ref.depthwise_conv2d_backward_input(g, w32.astype(np.float64), shape, *geometry), np.float64, 18)
    dweight = depthwise.depthwise_conv2d_backward_weight(
        _device(g32), _device(as_layout(x, "transposed")), weight.shape, *geometry
    )
    expected = ref.depthwise_conv2d_backward_weight(
        g32.astype(np.float64), x.astype(np.float32).astype(np.float64), weight.shape, *geometry
    )
    _close(dweight, expected, np.float32, g[:, 0].size)
