"""Winograd F(m×m, 3×3) transforms in Numba (see ``minidl_kernels.reference.winograd`` for the algorithm and the
contract). The products between the transforms are batched GEMMs, done by the caller.

Each kernel works on one (image, channel) plane per parallel iteration, tile after tile, and applies its 2-D
transform as two 1-D passes (columns, then rows) written out as explicit formulas on tuples (``_bt``, ``_at``,
``_a``): the zeros of the transform matrices cost nothing, common terms are shared, and the values stay in
registers. Data is transformed in its own dtype. The transformed tiles are stored in ``planes``, whose α² planes
are a little apart so that the α² values of one tile do not compete for one cache set.
"""

import numpy as np
from minidl_kernels.reference.winograd import (
    check_winograd_input_args,
    check_winograd_output_adjoint_args,
    check_winograd_output_args,
)
from numba import njit, prange

# The 1-D transforms on six values (α = 6 for m = 4; for m = 2, α = 4 and the last two inputs and outputs are
# unused zeros): plain tuples, so that the compiled tile loops keep every value in registers. They compute in
# float64 (scalar code: as fast as float32 here, and a little more accurate); the stores round to the data's dtype.


_f64 = np.float64


@njit(inline="always")
def _bt(m, s0, s1, s2, s3, s4, s5):  # pragma: no cover - compiled
    """Bᵀ · (s0 ... s_{α-1})."""
    s0, s1, s2, s3, s4, s5 = _f64(s0), _f64(s1), _f64(s2), _f64(s3), _f64(s4), _f64(s5)
    if m == 4:
        return (4 * s0 - 5 * s2 + s4, s3 + s4 - 4 * (s1 + s2), 4 * (s1 - s2) + s4 - s3,
                2 * (s3 - s1) + s4 - s2, 2 * (s1 - s3) + s4 - s2, 4 * s1 - 5 * s3 + s5)  # fmt: skip
    return s0 - s2, s1 + s2, s2 - s1, s1 - s3, s4 * 0, s5 * 0


@njit(inline="always")
def _at(m, s0, s1, s2, s3, s4, s5):  # pragma: no cover - compiled
    """Aᵀ · (s0 ... s_{α-1}): m values (then zeros)."""
    s0, s1, s2, s3, s4, s5 = _f64(s0), _f64(s1), _f64(s2), _f64(s3), _f64(s4), _f64(s5)
    if m == 4:
        return s0 + s1 + s2 + s3 + s4, s1 - s2 + 2 * (s3 - s4), s1 + s2 + 4 * (s3 + s4), s1 - s2 + 8 * (s3 - s4) + s5
    return s0 + s1 + s2, s1 - s2 - s3, s4 * 0, s5 * 0


@njit(inline="always")
def _a(m, s0, s1, s2, s3):  # pragma: no cover - compiled
    """A · (s0 ... s_{m-1}): α values, the adjoint of ``_at`` (for m = 2, s2 and s3 are ignored)."""
    s0, s1, s2, s3 = _f64(s0), _f64(s1), _f64(s2), _f64(s3)
    if m == 4:
        return (s0, s0 + s1 + s2 + s3, s0 - s1 + s2 - s3, s0 + 2 * s1 + 4 * s2 + 8 * s3,
                s0 - 2 * s1 + 4 * s2 - 8 * s3, s3)  # fmt: skip
    return s0, s0 + s1, s0 - s1, -s1, s0 * 0, s0 * 0


@njit(inline="always")
def _put(row, k, a, tx, v):  # pragma: no cover - compiled
    """row[k·α + u, tx] = v[u] for u < α."""
    row[k * a, tx], row[k * a + 1, tx], row[k * a + 2, tx], row[k * a + 3, tx] = v[0], v[1], v[2], v[3]
    if a == 6:
        row[k * a + 4, tx], row[k * a + 5, tx] = v[4], v[5]


@njit(inline="always")
def _flush(row, out, ch, base, tw):  # pragma: no cover - compiled
    """out[k, ch, base + tx] = row[k, tx]: one contiguous run per transformed position k."""
    for k in range(row.shape[0]):
        for tx in range(tw):
            out[k, ch, base + tx] = row[k, tx]


@njit(parallel=True, cache=True, error_model="numpy")
def _input_transform(x, m, pt, pl, th, tw, out):  # pragma: no cover - compiled
    n, c, h, w = x.shape
    a, hp, wp = m + 2, th * m + 4, tw * m + 4  # two more rows and columns than tiles read: six loads for m = 2 too
    rows, cols = min(h, th * m + 2 - pt), min(w, tw * m + 2 - pl)
    for plane in prange(n * c):
        img, ch = plane // c, plane % c
        p = np.zeros((hp, wp), dtype=x.dtype)
        p[pt : pt + rows, pl : pl + cols] = x[img, ch, :rows, :cols]
        col = np.zeros((6, 6), dtype=np.float64)
        row = np.empty((a * a, tw), dtype=x.dtype)  # one row of tiles, written out position by position
        for ty in range(th):
            r = ty * m
            for tx in range(tw):
                s = tx * m
                for j in range(a):  # column j of the tile through Bᵀ
                    v = _bt(m, p[r, s + j], p[r + 1, s + j], p[r + 2, s + j], p[r + 3, s + j], p[r + 4, s + j],
                            p[r + 5, s + j])  # fmt: skip
                    col[0, j], col[1, j], col[2, j], col[3, j], col[4, j], col[5, j] = v
                for k in range(a):  # then every row
                    _put(row, k, a, tx, _bt(m, col[k, 0], col[k, 1], col[k, 2], col[k, 3], col[k, 4], col[k, 5]))
            _flush(row, out, ch, (img * th + ty) * tw, tw)


@njit(parallel=True, cache=True, error_model="numpy")
def _output_transform(tiles, m, th, tw, out):  # pragma: no cover - compiled
    n, c, ho, wo = out.shape
    a = m + 2
    for plane in prange(n * c):
        img, ch = plane // c, plane % c
        y = np.empty((th * m, tw * m), dtype=out.dtype)
        half = np.zeros((6, 4), dtype=np.float64)
        row = np.zeros((36, tw), dtype=tiles.dtype)  # one row of tiles, read in position by position
        for ty in range(th):
            base = (img * th + ty) * tw
            for k in range(a * a):
                for tx in range(tw):
                    row[k, tx] = tiles[k, ch, base + tx]
            for tx in range(tw):
                r, c0 = ty * m, tx * m
                for k in range(a):  # every row of the tile through Aᵀ (for m = 2, rows past α² read zeros)
                    half[k, 0], half[k, 1], half[k, 2], half[k, 3] = _at(
                        m, row[k * a, tx], row[k * a + 1, tx], row[k * a + 2, tx], row[k * a + 3, tx],
                        row[k * a + 4, tx], row[k * a + 5, tx],
                    )  # fmt: skip
                for j in range(m):  # then every column
                    v = _at(m, half[0, j], half[1, j], half[2, j], half[3, j], half[4, j], half[5, j])
                    y[r, c0 + j], y[r + 1, c0 + j] = v[0], v[1]
                    if m == 4:
                        y[r + 2, c0 + j], y[r + 3, c0 + j] = v[2], v[3]
        out[img, ch] = y[:ho, :wo]


@njit(parallel=True, cache=True, error_model="numpy")
def _output_transform_adjoint(g, m, th, tw, out):  # pragma: no cover - compiled
    n, c, ho, wo = g.shape
    a = m + 2
    for plane in prange(n * c):
        img, ch = plane // c, plane % c
        p = np.zeros((th * m + 2, tw * m + 2), dtype=g.dtype)  # g, zero beyond the output (m + 2 for m = 2)
        p[:ho, :wo] = g[img, ch]
        col = np.zeros((6, 4), dtype=np.float64)
        row = np.empty((a * a, tw), dtype=g.dtype)
        for ty in range(th):
            r = ty * m
            for tx in range(tw):
                s = tx * m
                for j in range(m):  # column j of the m×m tile through A
                    col[0, j], col[1, j], col[2, j], col[3, j], col[4, j], col[5, j] = _a(
                        m, p[r, s + j], p[r + 1, s + j], p[r + 2, s + j], p[r + 3, s + j]
                    )
                for k in range(a):  # then every row
                    _put(row, k, a, tx, _a(m, col[k, 0], col[k, 1], col[k, 2], col[k, 3]))
            _flush(row, out, ch, (img * th + ty) * tw, tw)


def planes(count: int, rows: int, cols: int, dtype) -> np.ndarray:
    """An uninitialised (count, rows, cols) array whose (rows, cols) planes are each C-contiguous but lie 64 bytes
    further apart than back to back. The transforms write (and read) one value in each of the α² planes per tile;
    with planes back to back those α² addresses are a power of two apart for the usual sizes and all fall into the
    same cache set, which made the transforms 4-5x slower."""
    itemsize = np.dtype(dtype).itemsize
    stride = rows * cols + 64 // itemsize
    base = np.empty(count * stride, dtype=dtype)
    return np.lib.stride_tricks.as_strided(base, (count, rows, cols), (stride * itemsize, cols * itemsize, itemsize))


def winograd_input_transform(x: np.ndarray, m: int, padding: tuple[int, int, int, int]) -> np.ndarray:
    """V = Bᵀ d B for every α×α input tile d: x (N, C, H, W) -> (α², C, N · tiles_h · tiles_w)."""
    th, tw, _, _ = check_winograd_input_args(x, m, padding)
    n, c = x.shape[:2]
    a = m + 2
    out = planes(a * a, c, n * th * tw, x.dtype)
    _input_transform(np.ascontiguousarray(x), m, padding[0], padding[2], th, tw, out)
    return out


def winograd_output_transform(tiles: np.ndarray, m: int, out_shape: tuple[int, int, int, int]) -> np.ndarray:
    """Y = Aᵀ M A for every transformed tile: tiles (α², C, N · tiles_h · tiles_w) -> (N, C, Ho, Wo) = ``out_shape``."""
    th, tw = check_winograd_output_args(tiles, m, out_shape)
    out = np.empty(tuple(out_shape), dtype=tiles.dtype)
    _output_transform(tiles, m, th, tw, out)
    return out


def winograd_output_transform_adjoint(g: np.ndarray, m: int) -> np.ndarray:
    """dM = A dY Aᵀ for every m×m tile of g: g (N, C, Ho, Wo) -> (α², C, N · tiles_h · tiles_w)."""
    th, tw = check_winograd_output_adjoint_args(g, m)
    n, c = g.shape[:2]
    a = m + 2
    out = planes(a * a, c, n * th * tw, g.dtype)
    _output_transform_adjoint(np.ascontiguousarray(g), m, th, tw, out)
    return out
