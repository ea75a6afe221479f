"""Winograd F(m×m, 3×3) transforms in Numba (see ``minidl_kernels.reference.winograd`` for the algorithm and the
contract). The products between the transforms are batched GEMMs, done by the caller.

Each parallel task takes one channel of a group of consecutive images, whose tiles are consecutive in the
transformed layout (α², C, T), and works on all of them at once, tile index t innermost: every 1-D transform
(``_bt_pass``, ``_at_pass``, ``_a_pass``) is then one loop over t that LLVM vectorises, 8 tiles to a float32 AVX2
register. The tiles' elements are first gathered into that layout (element (i, j) of tile t at ``d[j, i, t]``), and
the transformed planes are read and written through flat views, so that every inner loop runs over unit-stride
arrays whose layout the compiler knows (a strided 'A' array was 3-10x slower).

Arithmetic is in the data's dtype: the transforms' constants are cast to it, since a Python int times a float32
is a float64 in Numba, and that alone kept the loops scalar.
"""

import numpy as np
from minidl_kernels.reference.winograd import (
    check_winograd_input_args,
    check_winograd_output_adjoint_args,
    check_winograd_output_args,
)
from numba import njit, prange

_FASTMATH = {"contract"}  # multiply-adds may fuse into FMA; no sum is reordered
_GROUP_TILES = 128  # tiles per task: a few hundred values per loop, the task's buffers within L2


@njit(inline="always", fastmath=_FASTMATH)
def _bt_pass(m, s, o):  # pragma: no cover - compiled
    """o[:, t] = Bᵀ · s[:, t] for every t: s, o (α, T) C-contiguous."""
    c2, c4, c5 = o.dtype.type(2), o.dtype.type(4), o.dtype.type(5)
    if m == 4:
        for t in range(s.shape[1]):
            s0, s1, s2, s3, s4, s5 = s[0, t], s[1, t], s[2, t], s[3, t], s[4, t], s[5, t]
            o[0, t] = c4 * s0 - c5 * s2 + s4
            o[1, t] = s3 + s4 - c4 * (s1 + s2)
            o[2, t] = c4 * (s1 - s2) + s4 - s3
            o[3, t] = c2 * (s3 - s1) + s4 - s2
            o[4, t] = c2 * (s1 - s3) + s4 - s2
            o[5, t] = c4 * s1 - c5 * s3 + s5
    else:
        for t in range(s.shape[1]):
            s0, s1, s2, s3 = s[0, t], s[1, t], s[2, t], s[3, t]
            o[0, t] = s0 - s2
            o[1, t] = s1 + s2
            o[2, t] = s2 - s1
            o[3, t] = s1 - s3


@njit(inline="always", fastmath=_FASTMATH)
def _at_pass(m, s, o):  # pragma: no cover - compiled
    """o[:, t] = Aᵀ · s[:, t]: s (α, T) -> o (m, T), C-contiguous."""
    c2, c4, c8 = o.dtype.type(2), o.dtype.type(4), o.dtype.type(8)
    if m == 4:
        for t in range(s.shape[1]):
            s0, s1, s2, s3, s4, s5 = s[0, t], s[1, t], s[2, t], s[3, t], s[4, t], s[5, t]
            o[0, t] = s0 + s1 + s2 + s3 + s4
            o[1, t] = s1 - s2 + c2 * (s3 - s4)
            o[2, t] = s1 + s2 + c4 * (s3 + s4)
            o[3, t] = s1 - s2 + c8 * (s3 - s4) + s5
    else:
        for t in range(s.shape[1]):
            s0, s1, s2, s3 = s[0, t], s[1, t], s[2, t], s[3, t]
            o[0, t] = s0 + s1 + s2
            o[1, t] = s1 - s2 - s3


@njit(inline="always", fastmath=_FASTMATH)
def _a_pass(m, s, o):  # pragma: no cover - compiled
    """o[:, t] = A · s[:, t]: s (m, T) -> o (α, T), C-contiguous; the adjoint of ``_at_pass``."""
    c2, c4, c8 = o.dtype.type(2), o.dtype.type(4), o.dtype.type(8)
    if m == 4:
        for t in range(s.shape[1]):
            s0, s1, s2, s3 = s[0, t], s[1, t], s[2, t], s[3, t]
            o[0, t] = s0
            o[1, t] = s0 + s1 + s2 + s3
            o[2, t] = s0 - s1 + s2 - s3
            o[3, t] = s0 + c2 * s1 + c4 * s2 + c8 * s3
            o[4, t] = s0 - c2 * s1 + c4 * s2 - c8 * s3
            o[5, t] = s3
    else:
        for t in range(s.shape[1]):
            s0, s1 = s[0, t], s[1, t]
            o[0, t] = s0
            o[1, t] = s0 + s1
            o[2, t] = s0 - s1
            o[3, t] = -s1


@njit(inline="always")
def _copy_row(src, dst, start):  # pragma: no cover - compiled
    """dst[start : start + len(src)] = src."""
    for t in range(src.shape[0]):
        dst[start + t] = src[t]


@njit(inline="always")
def _load_row(src, start, dst):  # pragma: no cover - compiled
    """dst[:] = src[start : start + len(dst)]."""
    for t in range(dst.shape[0]):
        dst[t] = src[start + t]


_u = np.uint64  # unsigned indices: no wraparound test for negative indices in the gather and scatter loops


@njit(inline="always")
def _task_images(n, group, task):  # pragma: no cover - compiled
    """(channel, first image, images) of parallel task ``task``: tasks run channel by channel, ``group`` images each."""
    groups = (n + group - 1) // group
    b0 = (task % groups) * group
    return task // groups, b0, min(n, b0 + group) - b0


@njit(inline="always", fastmath=_FASTMATH)
def _input_task(x, m, pt, pl, th, tw, flat, pitch, group, task):  # pragma: no cover - compiled
    """One task of ``_input_transform_m``: channel ch of images b0 ... b0 + count - 1."""
    n, h, w = x.shape[0], x.shape[2], x.shape[3]
    a, tiles = m + 2, th * tw
    ch, b0, count = _task_images(n, group, task)
    size = count * tiles
    d = np.zeros((a, a, size), dtype=x.dtype)  # d[j, i, t] = padded input at (ty·m + i, tx·m + j)
    for b in range(count):
        for ty in range(th):
            t0 = (b * th + ty) * tw
            for i in range(a):
                r = ty * m + i - pt
                if r < 0 or r >= h:
                    continue  # a row of padding: zeros already
                src = x[b0 + b, ch, r]
                for j in range(a):
                    lo = max(0, (pl - j + m - 1) // m)  # the tiles whose column j lies inside x
                    hi = min(tw, (w - 1 - j + pl) // m + 1)
                    if hi > lo:
                        dst, first, start = d[j, i], _u(t0 + lo), _u(lo * m + j - pl)
                        for k in range(_u(hi - lo)):
                            dst[first + k] = src[start + k * _u(m)]
    tmp = np.empty((a, size), dtype=x.dtype)
    col = np.empty((a, a, size), dtype=x.dtype)  # col[ξ, j] = (Bᵀ d)[ξ, j]
    for j in range(a):  # every column through Bᵀ
        _bt_pass(m, d[j], tmp)
        for k in range(a):
            _copy_row(tmp[k], col[k, j], 0)
    base = ch * n * tiles + b0 * tiles
    for k in range(a):  # then every row, out to the α planes of row ξ = k
        _bt_pass(m, col[k], tmp)
        for v in range(a):
            _copy_row(tmp[v], flat, (k * a + v) * pitch + base)


@njit(inline="always", fastmath=_FASTMATH)
def _output_task(flat, pitch, m, th, tw, out, group, task):  # pragma: no cover - compiled
    """One task of ``_output_transform_m``."""
    n, ho, wo = out.shape[0], out.shape[2], out.shape[3]
    a, tiles = m + 2, th * tw
    ch, b0, count = _task_images(n, group, task)
    size = count * tiles
    base = ch * n * tiles + b0 * tiles
    row = np.empty((a, size), dtype=out.dtype)
    tmp = np.empty((m, size), dtype=out.dtype)
    half = np.empty((m, a, size), dtype=out.dtype)  # half[j, ξ] = (M A)[ξ, j]
    for k in range(a):  # every row of the tiles through Aᵀ
        for v in range(a):
            _load_row(flat, (k * a + v) * pitch + base, row[v])
        _at_pass(m, row, tmp)
        for j in range(m):
            _copy_row(tmp[j], half[j, k], 0)
    for j in range(m):  # then every column: tmp[u] = output row u of every tile, at column j
        _at_pass(m, half[j], tmp)
        for b in range(count):
            for ty in range(th):
                t0 = _u((b * th + ty) * tw)
                for u in range(min(m, ho - ty * m)):
                    dst, src = out[b0 + b, ch, ty * m + u], tmp[u]
                    for tx in range(_u(max(0, min(tw, (wo - 1 - j) // m + 1)))):
                        dst[tx * _u(m) + _u(j)] = src[t0 + tx]


@njit(inline="always", fastmath=_FASTMATH)
def _adjoint_task(g, m, th, tw, flat, pitch, group, task):  # pragma: no cover - compiled
    """One task of ``_output_transform_adjoint_m``."""
    n, ho, wo = g.shape[0], g.shape[2], g.shape[3]
    a, tiles = m + 2, th * tw
    ch, b0, count = _task_images(n, group, task)
    size = count * tiles
    q = np.zeros((m, m, size), dtype=g.dtype)  # q[j, u, t] = g at (ty·m + u, tx·m + j), zero beyond g
    for b in range(count):
        for ty in range(th):
            t0 = _u((b * th + ty) * tw)
            for u in range(min(m, ho - ty * m)):
                src = g[b0 + b, ch, ty * m + u]
                for j in range(m):
                    dst = q[j, u]
                    for tx in range(_u(max(0, min(tw, (wo - 1 - j) // m + 1)))):
                        dst[t0 + tx] = src[tx * _u(m) + _u(j)]
    tmp = np.empty((a, size), dtype=g.dtype)
    col = np.empty((a, m, size), dtype=g.dtype)  # col[ξ, j] = (A dY)[ξ, j]
    for j in range(m):  # every column through A
        _a_pass(m, q[j], tmp)
        for k in range(a):
            _copy_row(tmp[k], col[k, j], 0)
    base = ch * n * tiles + b0 * tiles
    for k in range(a):  # then every row
        _a_pass(m, col[k], tmp)
        for v in range(a):
            _copy_row(tmp[v], flat, (k * a + v) * pitch + base)


# One compiled kernel per tile size: with m a constant, the gathers' and scatters' stride is known to LLVM (about
# 2x faster than with m an argument). Each runs its tasks (channel, group of images) in parallel.


@njit(parallel=True, cache=True, error_model="numpy", fastmath=_FASTMATH)
def _input_transform_4(x, pt, pl, th, tw, flat, pitch, group):  # pragma: no cover - compiled
    """flat[ξν · pitch + ch · N·tiles + t] = (Bᵀ d_t B)[ξ, ν] for the 6×6 input tile d_t of every tile t."""
    for task in prange(x.shape[1] * ((x.shape[0] + group - 1) // group)):
        _input_task(x, 4, pt, pl, th, tw, flat, pitch, group, task)


@njit(parallel=True, cache=True, error_model="numpy", fastmath=_FASTMATH)
def _input_transform_2(x, pt, pl, th, tw, flat, pitch, group):  # pragma: no cover - compiled
    """``_input_transform_4`` for F(2×2, 3×3): 4×4 input tiles."""
    for task in prange(x.shape[1] * ((x.shape[0] + group - 1) // group)):
        _input_task(x, 2, pt, pl, th, tw, flat, pitch, group, task)


@njit(parallel=True, cache=True, error_model="numpy", fastmath=_FASTMATH)
def _output_transform_4(flat, pitch, th, tw, out, group):  # pragma: no cover - compiled
    """out[img, ch] = the 4×4 tiles Aᵀ M_t A, M_t[ξ, ν] = flat[ξν · pitch + ch · N·tiles + t]."""
    for task in prange(out.shape[1] * ((out.shape[0] + group - 1) // group)):
        _output_task(flat, pitch, 4, th, tw, out, group, task)


@njit(parallel=True, cache=True, error_model="numpy", fastmath=_FASTMATH)
def _output_transform_2(flat, pitch, th, tw, out, group):  # pragma: no cover - compiled
    """``_output_transform_4`` for F(2×2, 3×3)."""
    for task in prange(out.shape[1] * ((out.shape[0] + group - 1) // group)):
        _output_task(flat, pitch, 2, th, tw, out, group, task)


@njit(parallel=True, cache=True, error_model="numpy", fastmath=_FASTMATH)
def _output_transform_adjoint_4(g, th, tw, flat, pitch, group):  # pragma: no cover - compiled
    """flat[ξν · pitch + ch · N·tiles + t] = (A dY_t Aᵀ)[ξ, ν] for the 4×4 tile dY_t of g (zero beyond g)."""
    for task in prange(g.shape[1] * ((g.shape[0] + group - 1) // group)):
        _adjoint_task(g, 4, th, tw, flat, pitch, group, task)


@njit(parallel=True, cache=True, error_model="numpy", fastmath=_FASTMATH)
def _output_transform_adjoint_2(g, th, tw, flat, pitch, group):  # pragma: no cover - compiled
    """``_output_transform_adjoint_4`` for F(2×2, 3×3)."""
    for task in prange(g.shape[1] * ((g.shape[0] + group - 1) // group)):
        _adjoint_task(g, 2, th, tw, flat, pitch, group, task)


def planes(count: int, rows: int, cols: int, dtype) -> np.ndarray:
    """An uninitialised (count, rows, cols) array whose (rows, cols) planes are each C-contiguous but lie 64 bytes
    further apart than back to back. The transforms write (and read) one value in each of the α² planes per tile;
    with planes back to back those α² addresses are a power of two apart for the usual sizes and all fall into the
    same cache set, which made the transforms 4-5x slower."""
    itemsize = np.dtype(dtype).itemsize
    stride = rows * cols + 64 // itemsize
    base = np.empty(count * stride, dtype=dtype)
    return np.lib.stride_tricks.as_strided(base, (count, rows, cols), (stride * itemsize, cols * itemsize, itemsize))


def _flat(planes_array: np.ndarray) -> tuple[np.ndarray, int]:
    """A (count, rows, cols) array whose planes are C-contiguous (``planes``, or any C-contiguous array) as a flat
    1-D view from its first element to its last, and the distance between planes in elements."""
    count, rows, cols = planes_array.shape
    itemsize = planes_array.itemsize
    if planes_array.strides[1:] != (cols * itemsize, itemsize) or planes_array.strides[0] % itemsize:
        planes_array = np.ascontiguousarray(planes_array)
    pitch = planes_array.strides[0] // itemsize
    length = (count - 1) * pitch + rows * cols
    return np.lib.stride_tricks.as_strided(planes_array, (length,), (itemsize,)), pitch


def _group(n: int, tiles: int) -> int:
    """Images per task: about ``_GROUP_TILES`` tiles of one channel."""
    return max(1, min(n, _GROUP_TILES // max(tiles, 1)))


def winograd_input_transform(x: np.ndarray, m: int, padding: tuple[int, int, int, int]) -> np.ndarray:
    """V = Bᵀ d B for every α×α input tile d: x (N, C, H, W) -> (α², C, N · tiles_h · tiles_w)."""
    th, tw, _, _ = check_winograd_input_args(x, m, padding)
    n, c = x.shape[:2]
    a = m + 2
    out = planes(a * a, c, n * th * tw, x.dtype)
    if out.size:
        flat, pitch = _flat(out)
        kernel = _input_transform_4 if m == 4 else _input_transform_2
        kernel(np.ascontiguousarray(x), padding[0], padding[2], th, tw, flat, pitch, _group(n, th * tw))
    return out


def winograd_output_transform(tiles: np.ndarray, m: int, out_shape: tuple[int, int, int, int]) -> np.ndarray:
    """Y = Aᵀ M A for every transformed tile: tiles (α², C, N · tiles_h · tiles_w) -> (N, C, Ho, Wo) = ``out_shape``."""
    th, tw = check_winograd_output_args(tiles, m, out_shape)
    out = np.empty(tuple(out_shape), dtype=tiles.dtype)
    if out.size:
        flat, pitch = _flat(tiles)
        kernel = _output_transform_4 if m == 4 else _output_transform_2
        kernel(flat, pitch, th, tw, out, _group(out_shape[0], th * tw))
    return out


def winograd_output_transform_adjoint(g: np.ndarray, m: int) -> np.ndarray:
    """dM = A dY Aᵀ for every m×m tile of g: g (N, C, Ho, Wo) -> (α², C, N · tiles_h · tiles_w)."""
    th, tw = check_winograd_output_adjoint_args(g, m)
    n, c = g.shape[:2]
    a = m + 2
    out = planes(a * a, c, n * th * tw, g.dtype)
    if out.size:
        flat, pitch = _flat(out)
        kernel = _output_transform_adjoint_4 if m == 4 else _output_transform_adjoint_2
        kernel(np.ascontiguousarray(g), th, tw, flat, pitch, _group(n, th * tw))
    return out
