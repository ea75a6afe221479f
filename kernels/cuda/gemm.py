"""Our tiled GEMM in numba.cuda: ``gemm`` (a (M, K) @ b (K, N)) and the batched ``matmul`` on one kernel.

Each block computes a BM x BN tile of C. It walks K in steps of BK: the block's threads copy a BM x BK tile of A and
a BK x BN tile of B into shared memory, synchronise, and each thread then accumulates a TM x TN register block of C
(``cuda.local.array``) from them, reading TM values of A and TN values of B per step of k. Thread (tx, ty) owns the
rows ``ty + i * (BM // TM)`` and the columns ``tx + j * (BN // TN)`` of the tile: consecutive threads read
consecutive shared-memory words (no bank conflicts) and write consecutive columns of C (coalesced). Entries past
the edges of A and B load as zeros and the stores past C's edges are skipped, so any M, N, K works.

Operands are read through their strides, so a transposed view is never copied: a layout flag per operand says
which of its two dims is contiguous, and the tile loads let consecutive threads walk that dim (coalesced reads in
either layout). The batch of ``matmul`` is grid dimension z; the broadcast of its batch dims is index arithmetic
on the matrices of each operand (``_BatchPlan``), never a copy.
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import numpy as np
from minidl_kernels.cuda import runtime
from minidl_kernels.reference.conv import check_gemm_args, check_matmul_args
from numba import cuda, from_dtype

# Grid dimensions y and z hold at most 65535 blocks; the kernel loops over what a smaller grid leaves.
MAX_GRID_YZ = 65535


class Tiles(NamedTuple):
    """A tiling: C tiles of bm x bn per block, K steps of bk, and a tm x tn register block per thread
    ((bm // tm) x (bn // tn) threads per block)."""

    bm: int
    bn: int
    bk: int
    tm: int
    tn: int

    @property
    def threads(self) -> tuple[int, int]:
        """The block's threads as (x, y): x along the columns of C, y along its rows."""
        return self.bn // self.tn, self.bm // self.tm


# 8 x 8 = 64 threads per block: the simulator runs a Python thread per CUDA thread.
SIMULATOR_TILES = Tiles(bm=32, bn=32, bk=8, tm=4, tn=4)
# 16 x 16 = 256 threads per block, each with 16 accumulators; 64 x 16 + 16 x 64 shared values per block.
GPU_TILES = Tiles(bm=64, bn=64, bk=16, tm=4, tn=4)
TILES = SIMULATOR_TILES if runtime.SIMULATED else GPU_TILES


def _gemm_function(dtype: Any, tiles: Tiles) -> Callable:
    """The Python function of the GEMM kernel for one dtype and tiling (shared and local arrays need both as
    compile-time constants).

    a: (Ba, M, K), b: (Bb, K, N), any strides; c: (B, M, N), C-contiguous. Matrix z of c is a[za] @ b[zb] with
    za = (z // inner) * a_outer + (z % inner) * a_inner, and zb likewise. ``a_k_fast`` says that a's k index is its
    contiguous one (a row-major a); ``b_n_fast`` the same for b's n index.
    """
    value = from_dtype(np.dtype(dtype))
    bm, bn, bk, tm, tn = tiles
    threads_x, threads_y = tiles.threads
    block_threads = threads_x * threads_y
    # One padding column: a tile load that walks the strided dim of a shared array still hits distinct banks.
    # (Shapes are computed here: the kernel's shared-array shapes must be constants, not expressions.)
    a_tile_shape, b_tile_shape = (bm, bk + 1), (bk, bn + 1)

    def gemm_kernel(a, b, c, inner, a_outer, a_inner, b_outer, b_inner, a_k_fast, b_n_fast):
        a_tile = cuda.shared.array(a_tile_shape, value)
        b_tile = cuda.shared.array(b_tile_shape, value)
        acc = cuda.local.array((tm, tn), value)
        a_values = cuda.local.array(tm, value)
        b_values = cuda.local.array(tn, value)
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
        thread = ty * threads_x + tx
        batch, m, n = c.shape
        k_size = a.shape[2]
        col0 = cuda.blockIdx.x * bn
        for z in range(cuda.blockIdx.z, batch, cuda.gridDim.z):
            za = (z // inner) * a_outer + (z % inner) * a_inner
            zb = (z // inner) * b_outer + (z % inner) * b_inner
            for row0 in range(cuda.blockIdx.y * bm, m, cuda.gridDim.y * bm):
                for i in range(tm):
                    for j in range(tn):
                        acc[i, j] = 0
                for k0 in range(0, k_size, bk):
                    for e in range(thread, bm * bk, block_threads):
                        if a_k_fast:
                            r, kk = e // bk, e % bk
                        else:
                            r, kk = e % bm, e // bm
                        if row0 + r < m and k0 + kk < k_size:
                            a_tile[r, kk] = a[za, row0 + r, k0 + kk]
                        else:
                            a_tile[r, kk] = 0
                    for e in range(thread, bk * bn, block_threads):
                        if b_n_fast:
                            kk, s = e // bn, e % bn
                        else:
                            kk, s = e % bk, e // bk
                        if k0 + kk < k_size and col0 + s < n:
                            b_tile[kk, s] = b[zb, k0 + kk, col0 + s]
                        else:
                            b_tile[kk, s] = 0
                    cuda.syncthreads()
                    for kk in range(bk):
                        for i in range(tm):
                            a_values[i] = a_tile[ty + i * threads_y, kk]
                        for j in range(tn):
                            b_values[j] = b_tile[kk, tx + j * threads_x]
                        for i in range(tm):
                            for j in range(tn):
                                acc[i, j] += a_values[i] * b_values[j]
                    cuda.syncthreads()  # the tiles are overwritten by the next step of k
                for i in range(tm):
                    row = row0 + ty + i * threads_y
                    for j in range(tn):
                        col = col0 + tx + j * threads_x
                        if row < m and col < n:
                            c[z, row, col] = acc[i, j]

    return gemm_kernel


_kernels: dict[tuple[np.dtype, Tiles], Any] = {}


def _gemm_kernel(dtype: Any, tiles: Tiles) -> Any:
    """The compiled GEMM kernel for ``dtype`` and ``tiles`` (built once)."""
    key = (np.dtype(dtype), tiles)
    kernel = _kernels.get(key)
    if kernel is None:
        kernel = _kernels[key] = cuda.jit(_gemm_function(dtype, tiles))
    return kernel


def _signature(dtype: str) -> str:
    return (
        f"void({dtype}[:, :, :], {dtype}[:, :, :], {dtype}[:, :, ::1], int64, int64, int64, int64, int64, boolean, "
        "boolean)"
    )


PTX_CHECKS: list[tuple[Callable, str]] = [
    (_gemm_function(dtype, tiles), _signature(dtype))
    for dtype in ("float32", "float64")
    for tiles in (GPU_TILES, SIMULATOR_TILES)
]


class _BatchPlan(NamedTuple):
    """Where matrix z of the output reads its operands: with z = outer * inner + i, a's matrix is
    outer * a_outer + i * a_inner and b's likewise (matrices counted in the C order of each operand's batch)."""

    inner: int
    a_outer: int
    a_inner: int
    b_outer: int
    b_inner: int


def _batch_dims(batch_a: tuple, batch_b: tuple, batch: tuple) -> list[tuple[int, int, int]]:
    """The batch as few dims as possible, each (size, a's step, b's step) in matrices (step 0: broadcast), outer
    first: dims of size 1 dropped, and a dim merged into the one before it when both operands step through the
    pair as through one dim."""
    batch_a = (1,) * (len(batch) - len(batch_a)) + tuple(batch_a)
    batch_b = (1,) * (len(batch) - len(batch_b)) + tuple(batch_b)
    dims: list[tuple[int, int, int]] = []
    for d, size in enumerate(batch):
        if size == 1:
            continue
        a_step = math.prod(batch_a[d + 1 :]) if batch_a[d] != 1 else 0
        b_step = math.prod(batch_b[d + 1 :]) if batch_b[d] != 1 else 0
        if dims and dims[-1][1] == a_step * size and dims[-1][2] == b_step * size:
            dims[-1] = (dims[-1][0] * size, a_step, b_step)
        else:
            dims.append((size, a_step, b_step))
    return dims


def _read_in_place(operand: Any) -> Any:
    """An operand as the kernel receives it to read it through its strides. A CuPy view goes as it is; the
    simulator copies each NumPy argument to a fake device array and refuses one that is neither C- nor F-contiguous
    (a sliced matrix, a batch of transposed ones), so there the view is wrapped as the simulator's device array
    instead, and read in place as on a GPU."""
    if not runtime.SIMULATED:
        return operand
    from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray

    return FakeCUDAArray(operand)


def _launch(a: Any, b: Any, c: Any, plan: _BatchPlan, batch: int, tiles: Tiles) -> None:
    """c[z] = a[za] @ b[zb] for z < batch, with za and zb as ``plan`` says. a: (Ba, M, K), b: (Bb, K, N),
    c: (batch, M, N) C-contiguous."""
    m, n = c.shape[1], c.shape[2]
    if batch == 0 or m == 0 or n == 0:
        return
    blocks = (-(-n // tiles.bn), min(-(-m // tiles.bm), MAX_GRID_YZ), min(batch, MAX_GRID_YZ))
    a_k_fast = abs(a.strides[2]) <= abs(a.strides[1])
    b_n_fast = abs(b.strides[2]) <= abs(b.strides[1])
    kernel = _gemm_kernel(a.dtype, tiles)
    a, b = _read_in_place(a), _read_in_place(b)
    runtime.launch(kernel, blocks, tiles.threads, a, b, c[:batch], *plan, a_k_fast, b_n_fast)


def _matmul(a: Any, b: Any, batch: tuple, tiles: Tiles) -> Any:
    """a (..., M, K) @ b (..., K, N) -> (*batch, M, N), C-contiguous; arguments already checked."""
    batch_a, batch_b = a.shape[:-2], b.shape[:-2]
    (m, k), n = a.shape[-2:], b.shape[-1]
    out = runtime.empty(batch + (m, n), a.dtype)
    # The matrices of each operand along one dim: views, unless an operand's own batch dims cannot be merged.
    a = a.reshape((math.prod(batch_a), m, k))
    b = b.reshape((math.prod(batch_b), k, n))
    c = out.reshape((math.prod(batch), m, n))
    dims = _batch_dims(batch_a, batch_b, batch)
    (outer, a_outer, b_outer), (inner, a_inner, b_inner) = ([(1, 0, 0), (1, 0, 0)] + dims)[-2:]
    plan = _BatchPlan(inner, a_outer, a_inner, b_outer, b_inner)
    # Beyond two merged dims (batches like (2, 1, 3) @ (1, 4, 3)), one launch per index of the leading dims.
    for count, index in enumerate(np.ndindex(*(size for size, _, _ in dims[:-2]))):
        a_at = sum(i * step for i, (_, step, _) in zip(index, dims))
        b_at = sum(i * step for i, (_, _, step) in zip(index, dims))
        _launch(a[a_at:], b[b_at:], c[count * outer * inner :], plan, outer * inner, tiles)
    return out


def gemm(a: Any, b: Any) -> Any:
    """The matrix product a @ b. a: (M, K), b: (K, N), any strides (read in place), both float32 or both float64
    -> (M, N), C-contiguous."""
    check_gemm_args(a, b)
    return _matmul(a, b, (), TILES)


def matmul(a: Any, b: Any) -> Any:
    """``np.matmul`` semantics: a (..., M, K), b (..., K, N), batch dims broadcast, any strides, both float32 or
    both float64 -> (..., M, N), C-contiguous; the whole batch in one launch."""
    batch = check_matmul_args(a, b)
    return _matmul(a, b, batch, TILES)
