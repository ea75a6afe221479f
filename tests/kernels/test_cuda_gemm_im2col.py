"""The cuda GEMM (ours and the array module's), matmul, im2col and col2im against the NumPy reference, on Numba's
CUDA simulator at tiny sizes: odd sizes past one tile, transposed and sliced operands read in place, broadcast
batches, both dtypes, both tilings of our GEMM, and the reference's argument checks."""

import numpy as np
import pytest
from minidl_kernels import reference
from minidl_kernels.cuda import blas, runtime
from minidl_kernels.cuda import gemm as cuda_gemm
from minidl_kernels.cuda import im2col as cuda_im2col

DTYPES = [np.float32, np.float64]
RTOL = {np.float32: 1e-5, np.float64: 1e-12}
GEMMS = [pytest.param(cuda_gemm.gemm, id="cuda"), pytest.param(blas.gemm, id="blas")]
MATMULS = [pytest.param(cuda_gemm.matmul, id="cuda"), pytest.param(blas.matmul, id="blas")]
TILES = [pytest.param(cuda_gemm.SIMULATOR_TILES, id="simulator"), pytest.param(cuda_gemm.GPU_TILES, id="gpu")]


def _normal(shape, dtype, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _host(array):
    """A device array as a NumPy array (CuPy's ``get``; under the simulator it already is one)."""
    return array if isinstance(array, np.ndarray) else array.get()


def _device(array):
    """A NumPy array (or view) on the device, same strides (the simulator's device arrays are NumPy arrays)."""
    return array if runtime.SIMULATED else runtime.array_module().asarray(array)


def _layout(matrix, layout):
    """The same values as a (..., R, S) array in another memory layout: C; transposed (the last two dims swapped in
    memory, as ``x.T`` of a C array); sliced (every other row and every third column of a larger array); or
    reversed (negative strides)."""
    if layout == "transposed":
        view = np.ascontiguousarray(np.swapaxes(matrix, -1, -2)).swapaxes(-1, -2)
    elif layout == "sliced":
        view = np.zeros((*matrix.shape[:-2], 2 * matrix.shape[-2], 3 * matrix.shape[-1]), matrix.dtype)[..., ::2, ::3]
        view[...] = matrix
    elif layout == "reversed":
        view = matrix[..., ::-1, ::-1].copy()[..., ::-1, ::-1]
    else:
        view = matrix
    assert np.array_equal(view, matrix)
    return view


def _check_product(c, a, b):
    """c == a @ b (NumPy's broadcasting) within rtol * (|a| @ |b|) per element; c C-contiguous of a's dtype."""
    c = _host(c)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    expected = np.matmul(a64, b64)
    assert c.shape == expected.shape and c.dtype == a.dtype and c.flags.c_contiguous
    bound = RTOL[a.dtype.type] * np.matmul(np.abs(a64), np.abs(b64)) + 1e-30
    assert np.all(np.abs(c - expected) <= bound)


@pytest.mark.parametrize("gemm", GEMMS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm_odd_sizes_past_one_tile(gemm, dtype):
    a, b = _normal((37, 29), dtype, 1), _normal((29, 41), dtype, 2)
    _check_product(gemm(_device(a), _device(b)), a, b)


@pytest.mark.parametrize("gemm", GEMMS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("a_layout", "b_layout"), [("transposed", "c"), ("c", "transposed"), ("sliced", "reversed")])
def test_gemm_reads_any_strides(gemm, dtype, a_layout, b_layout):
    a, b = _normal((7, 11), dtype, 3), _normal((11, 5), dtype, 4)
    _check_product(gemm(_device(_layout(a, a_layout)), _device(_layout(b, b_layout))), a, b)


@pytest.mark.parametrize("gemm", GEMMS)
@pytest.mark.parametrize(("m", "k", "n"), [(1, 1, 1), (1, 13, 1), (3, 1, 2), (2, 0, 3), (0, 3, 2), (3, 2, 0)])
def test_gemm_degenerate_sizes(gemm, m, k, n):
    a, b = _normal((m, k), np.float64), _normal((k, n), np.float64)
    _check_product(gemm(_device(a), _device(b)), a, b)


@pytest.mark.parametrize("tiles", TILES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_both_tilings(tiles, dtype):
    # The GPU tiling (256 threads a block) on a single 64 x 64 tile with two steps of K and ragged edges; the
    # simulator's on two tiles with three steps of K. M, N, K are primes.
    a, b = _normal((37, 19), dtype, 5), _normal((19, 13), dtype, 6)
    a = _layout(a, "transposed")
    _check_product(cuda_gemm._matmul(_device(a), _device(b), (), tiles), a, b)


def test_tile_shapes():
    for tiles in (cuda_gemm.SIMULATOR_TILES, cuda_gemm.GPU_TILES):
        assert tiles.bm % tiles.tm == 0 and tiles.bn % tiles.tn == 0
    assert np.prod(cuda_gemm.SIMULATOR_TILES.threads) <= 64
    assert cuda_gemm.TILES == (cuda_gemm.SIMULATOR_TILES if runtime.SIMULATED else cuda_gemm.GPU_TILES)


def test_a_transposed_view_is_read_in_place(monkeypatch):
    launched = []
    monkeypatch.setattr(runtime, "launch", lambda kernel, blocks, threads, *args: launched.append(args))
    a, b = _normal((3, 5), np.float32), _normal((4, 3), np.float32)
    cuda_gemm.gemm(a.T, b.T)
    (args,) = launched
    # The kernel gets a.T and b.T themselves: same memory, same strides (the simulator wraps them, see gemm.py).
    assert args[0].__array_interface__["data"] == a.T.__array_interface__["data"]
    assert args[1].__array_interface__["data"] == b.T.__array_interface__["data"]
    assert args[0].strides[1:] == a.T.strides and args[1].strides[1:] == b.T.strides
    assert args[-2:] == (False, False)  # a read along M, b along K


@pytest.mark.parametrize("matmul", MATMULS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("a_shape", "b_shape"),
    [
        ((2, 1, 3, 4), (3, 4, 5)),  # batch (2, 3): a steps along the outer dim, b along the inner one
        ((3, 5, 2), (2, 4)),  # one b for every a
        ((2, 3), (2, 3, 1)),  # one a for every b
        ((2, 2, 3, 2), (2, 2, 2, 3)),  # equal batches, merged into one dim
        ((2, 1, 3, 2, 3), (1, 2, 3, 3, 2)),  # three batch groups: a launch per index of the outer one
    ],
)
def test_matmul_broadcasts_batches(matmul, dtype, a_shape, b_shape):
    a, b = _normal(a_shape, dtype, 7), _normal(b_shape, dtype, 8)
    _check_product(matmul(_device(a), _device(b)), a, b)


@pytest.mark.parametrize("matmul", MATMULS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_matmul_of_transposed_and_sliced_batches(matmul, dtype):
    a, b = _normal((3, 5, 4), dtype, 9), _normal((3, 4, 6), dtype, 10)
    _check_product(matmul(_device(_layout(a, "transposed")), _device(_layout(b, "sliced"))), a, b)
    # A slice of a batch dim: the operand's batch dims no longer merge into one; one copy, not one per matrix.
    part = _normal((2, 6, 5, 4), dtype, 11)[:, :3]
    _check_product(matmul(_device(part), _device(b)), part, b)


def test_matmul_is_one_launch_for_a_broadcast_batch(monkeypatch):
    launched = []
    monkeypatch.setattr(runtime, "launch", lambda kernel, blocks, threads, *args: launched.append((blocks, args)))
    cuda_gemm.matmul(_normal((2, 1, 3, 4), np.float64), _normal((3, 4, 5), np.float64))
    ((blocks, args),) = launched
    assert blocks[2] == 6 and args[3:8] == (3, 1, 0, 0, 1)  # inner 3; a: outer step 1; b: inner step 1


def test_grid_smaller_than_the_work(monkeypatch):
    # Past 65535 row tiles or matrices, blocks loop over the rest: forced here with a grid of one in y and z.
    monkeypatch.setattr(cuda_gemm, "MAX_GRID_YZ", 1)
    a, b = _normal((3, 40, 6), np.float64, 12), _normal((6, 9), np.float64, 13)
    _check_product(cuda_gemm.matmul(_device(a), _device(b)), a, b)


def test_batch_dims_are_merged():
    assert cuda_gemm._batch_dims((2, 3), (2, 3), (2, 3)) == [(6, 1, 1)]
    assert cuda_gemm._batch_dims((2, 1), (3,), (2, 3)) == [(2, 1, 0), (3, 0, 1)]
    assert cuda_gemm._batch_dims((4, 1, 1), (), (4, 1, 1)) == [(4, 1, 0)]
    assert cuda_gemm._batch_dims((2, 1, 3), (1, 4, 3), (2, 4, 3)) == [(2, 3, 0), (4, 0, 3), (3, 1, 1)]


@pytest.mark.parametrize(
    "kernel", [cuda_gemm.gemm, cuda_gemm.matmul, blas.gemm, blas.matmul], ids=lambda f: f"{f.__module__}.{f.__name__}"
)
def test_bad_arguments_are_refused(kernel):
    name = kernel.__name__
    f32, f64 = _normal((3, 4), np.float32), _normal((4, 2), np.float64)
    with pytest.raises(TypeError, match=f"^{name}: a and b of one dtype expected, got float32 and float64"):
        kernel(f32, f64)
    with pytest.raises(TypeError, match=f"^{name}: a must be a float32 or float64 array, got int64"):
        kernel(np.ones((3, 4), np.int64), np.ones((4, 2), np.int64))
    with pytest.raises(ValueError, match=f"^{name}: a .* expected, got shapes \\(3, 4\\) and \\(3, 2\\)"):
        kernel(_normal((3, 4), np.float64), _normal((3, 2), np.float64))
    with pytest.raises(ValueError, match=f"^{name}: "):
        kernel(_normal((4,), np.float64), f64)
    if name == "matmul":
        with pytest.raises(ValueError, match="^matmul: batch dims that broadcast expected"):
            kernel(_normal((2, 3, 4), np.float64), _normal((3, 4, 2), np.float64))
    else:
        with pytest.raises(ValueError, match=r"^gemm: a \(M, K\) and b \(K, N\) expected"):
            kernel(_normal((2, 3, 4), np.float64), f64)


# (x shape, kernel_size, stride, padding (top, bottom, left, right), dilation): odd sizes, asymmetric padding,
# strides and dilations > 1, a 1x1 kernel, a kernel as large as the padded input.
GEOMETRIES = [
    ((2, 3, 5, 7), (3, 3), (1, 1), (1, 1, 1, 1), (1, 1)),
    ((1, 2, 7, 6), (2, 3), (2, 1), (0, 1, 2, 0), (1, 2)),
    ((1, 1, 9, 8), (3, 2), (2, 3), (2, 1, 0, 3), (2, 1)),
    ((2, 2, 3, 5), (1, 1), (2, 2), (0, 0, 0, 0), (1, 1)),
    ((1, 2, 4, 3), (6, 5), (1, 1), (1, 1, 1, 1), (1, 1)),
]


def _x_layout(x, layout):
    """x (N, C, H, W) as a C array, a view with H and W swapped in memory, or a strided slice of a larger one."""
    if layout == "transposed":
        return np.ascontiguousarray(x.transpose(0, 1, 3, 2)).transpose(0, 1, 3, 2)
    if layout == "sliced":
        big = np.zeros((x.shape[0], 2 * x.shape[1], x.shape[2], 2 * x.shape[3]), x.dtype)
        big[:, ::2, :, 1::2] = x
        return big[:, ::2, :, 1::2]
    return x


def _check_close(got, expected):
    got = _host(got)
    assert got.shape == expected.shape and got.dtype == expected.dtype and got.flags.c_contiguous
    tol = RTOL[expected.dtype.type]
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("geometry", GEOMETRIES)
@pytest.mark.parametrize("layout", ["c", "transposed", "sliced"])
def test_im2col_matches_the_reference(dtype, geometry, layout):
    x_shape, *args = geometry
    x = _x_layout(_normal(x_shape, dtype, 14), layout)
    _check_close(cuda_im2col.im2col(_device(x), *args), reference.im2col(x, *args))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("geometry", GEOMETRIES)
@pytest.mark.parametrize("layout", ["c", "sliced"])
def test_col2im_matches_the_reference(dtype, geometry, layout):
    x_shape, *args = geometry
    ho, wo = reference.conv_output_size(x_shape[2:], *args)
    kh, kw = args[0]
    cols = _layout(_normal((x_shape[0], x_shape[1] * kh * kw, ho * wo), dtype, 15), layout)
    _check_close(cuda_im2col.col2im(_device(cols), x_shape, *args), reference.col2im(cols, x_shape, *args))


def test_col2im_is_the_adjoint_of_im2col():
    # <im2col(x), cols> == <x, col2im(cols)>: every entry gathered back exactly once.
    x_shape, *args = GEOMETRIES[2]
    x = _normal(x_shape, np.float64, 16)
    cols = _normal(reference.im2col(x, *args).shape, np.float64, 17)
    left = np.vdot(_host(cuda_im2col.im2col(_device(x), *args)), cols)
    right = np.vdot(x, _host(cuda_im2col.col2im(_device(cols), x_shape, *args)))
    assert left == pytest.approx(right, rel=1e-12)


def test_im2col_and_col2im_refuse_bad_arguments():
    x = _normal((2, 3, 5, 7), np.float32)
    with pytest.raises(ValueError, match=r"^im2col: x must be 4-D \(N, C, H, W\)"):
        cuda_im2col.im2col(x[0], (3, 3), (1, 1), (1, 1, 1, 1), (1, 1))
    with pytest.raises(TypeError, match="^im2col: x must be a float32 or float64 array, got int32"):
        cuda_im2col.im2col(x.astype(np.int32), (3, 3), (1, 1), (1, 1, 1, 1), (1, 1))
    with pytest.raises(ValueError, match="^im2col: padding"):
        cuda_im2col.im2col(x, (3, 3), (1, 1), (1, 1), (1, 1))
    with pytest.raises(ValueError, match="^col2im: cols of shape"):
        cuda_im2col.col2im(_normal((2, 27, 34), np.float32), x.shape, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1))
    with pytest.raises(TypeError, match="^col2im: cols must be a float32 or float64 array"):
        cuda_im2col.col2im(np.ones((2, 27, 35), np.int64), x.shape, (3, 3), (1, 1), (1, 1, 1, 1), (1, 1))


def test_every_kernel_has_a_ptx_check():
    for module, count in ((cuda_gemm, 4), (cuda_im2col, 4), (blas, 0)):
        assert len(module.PTX_CHECKS) == count
        assert {sig.split("[")[0] for _, sig in module.PTX_CHECKS} <= {"void(float32", "void(float64"}
