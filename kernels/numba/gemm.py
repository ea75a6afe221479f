"""GEMM in Numba: C = A @ B for one pair of matrices or a batch, blocked for the caches around a register-blocked
micro-kernel (the GotoBLAS / BLIS scheme).

- **Micro-kernel.** A tile of ``MR x NR`` values of C lives in vector registers for a whole K-block: each step p
  loads one row of a packed B panel (``NR`` values, two 32-byte vectors), broadcasts ``MR`` values of a packed A
  panel, and does ``MR`` vector multiply-adds. With ``MR = 6`` and ``NR = 16`` float32 (8 float64) that is the
  12-accumulator AVX2 kernel of the BLAS libraries: 12 FMAs per 2 loads and 6 broadcasts. Numba cannot say "a
  vector of 8 floats" in Python and its compiler leaves LLVM's SLP vectoriser off, so the scalar form of this
  kernel stays scalar; ``_tile`` therefore builds it in LLVM IR through ``numba.extending.intrinsic`` (vector
  types, ``llvm.fmuladd``, which becomes ``vfmadd231ps`` with FMA and a multiply and an add without). The tile is
  written in 64-byte rows, so on AVX-512 each row is one register and on NEON four.
- **Packing.** Per K-block, A is copied into panels of ``MR`` rows and B into panels of ``NR`` columns, each stored
  with its short side running fastest, so that the micro-kernel reads two contiguous streams. Where the source
  runs the other way (a row-major A, a B stored transposed) the copy goes through 8 x 8 float32 (4 x 4 float64)
  transposes in registers, and every pack walks a few source rows at a time so that rows 4 KiB apart do not
  evict each other from L1: about half a cycle per value. Rows and columns past the edge are packed as zeros; the
  edge tiles of C go through a small scratch tile.
- **Cache blocking.** K is cut into equal blocks of at most ``KC`` steps (a B micro-panel, ``KC x NR``, stays in
  the 32 KiB L1 while a block of A panels, ``A_BLOCK_BYTES``, streams from L2 past it); N into blocks whose
  packed B (``B_BLOCK_BYTES``) stays in L3. The blocks of A panels are split between threads (``prange``).
- **Batches.** The driver takes stacks of matrices; when every product shares one A (the weights of a
  convolution against each image's columns), A is packed once and reused for the whole batch.

Measured with ``python -m benchmarks gemm`` (medians of alternating pairs, 1 thread, CPUs shared with other jobs) on a
2-vCPU AMD EPYC Zen 3 (AVX2 + FMA, no AVX-512; NumPy's OpenBLAS 0.3.31 runs its Haswell kernel there), float32:
95% of OpenBLAS at 256², 98-101% from 512² to 2048² (~90-93 GFLOP/s), 87-138% on ResNet-18's convolution GEMMs
at batch 32 (ahead where a shared weight matrix meets many small products).

Inputs may have any strides: each matrix of a stack is packed straight from memory when it is C- or F-contiguous
(a flag says "transposed"), any other view is first copied (O(M K + K N) against the O(M N K) product).
"""

from __future__ import annotations

import functools
import threading

import numba
import numpy as np
from llvmlite import ir
from minidl_kernels.reference.conv import check_gemm_args
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

MR = 6  # rows of a tile of C: MR x 2 accumulator vectors = 12 of AVX2's 16 registers, 4 left for B and A
TILE_ROW_BYTES = 64  # one row of a tile of C and of a packed B panel: NR = 16 float32 or 8 float64
KC = 512  # most K steps per block: a packed B micro-panel, KC x 64 bytes, fills at most a 32 KiB L1
A_BLOCK_BYTES = 288 * 1024  # packed A panels met by each B micro-panel: held in L2 (512 KiB per core here)
B_BLOCK_BYTES = 8 * 1024 * 1024  # packed B block met by every A block: held in L3 (32 MiB here)

# The intrinsics below are compiled into the functions that call them: they live in this file so that Numba's
# on-disk cache, which checks only the caller's source file, sees any change to them.


def panel_width(itemsize: int) -> int:
    """NR, the columns of a tile of C (and of a packed B panel) for elements of ``itemsize`` bytes."""
    return TILE_ROW_BYTES // itemsize


def _vector(context, dtype) -> tuple[ir.VectorType, int]:
    """The LLVM vector of one tile row for ``dtype`` and the element size in bytes."""
    element = context.get_data_type(dtype)
    itemsize = context.get_abi_sizeof(element)
    return ir.VectorType(element, panel_width(itemsize)), itemsize


def _intp(context, builder, value, ty):
    return context.cast(builder, value, ty, types.intp)


def _float_arrays(*arrays) -> bool:
    return all(isinstance(x, types.Array) and x.dtype in (types.float32, types.float64) for x in arrays)


@intrinsic
def _panel_width(typingctx, x):
    """NR for x's dtype, as a compile-time constant."""
    if not _float_arrays(x):
        return None

    def codegen(context, builder, signature, args):
        return context.get_constant(types.intp, panel_width(x.dtype.bitwidth // 8))

    return types.intp(x), codegen


@intrinsic
def _tile(typingctx, kc, a_pack, a_start, b_pack, b_start, c, row, col, overwrite):
    """c[row : row + MR, col : col + NR] = Ap @ Bp if ``overwrite`` else c[...] + Ap @ Bp, where Ap (MR, kc) and
    Bp (kc, NR) are packed panels: Ap[i, p] = a_pack[a_start + p * MR + i], Bp[p, j] = b_pack[b_start + p * NR + j].
    a_pack, b_pack: 1-D; c: 2-D with contiguous rows; the tile must lie inside c."""
    if not (_float_arrays(a_pack, b_pack, c) and a_pack.dtype == b_pack.dtype == c.dtype and c.ndim == 2):
        return None
    sig = types.void(kc, a_pack, a_start, b_pack, b_start, c, row, col, overwrite)

    def codegen(context, builder, signature, args):
        kc_t, ap_t, a0_t, bp_t, b0_t, c_t, row_t, col_t, _ = signature.args
        kc_v, ap_v, a0_v, bp_v, b0_v, c_v, row_v, col_v, overwrite_v = args
        vec, itemsize = _vector(context, c_t.dtype)
        nr = vec.count
        intp = context.get_value_type(types.intp)
        a_ptr = builder.gep(
            context.make_array(ap_t)(context, builder, ap_v).data, [_intp(context, builder, a0_v, a0_t)]
        )
        b_ptr = builder.gep(
            context.make_array(bp_t)(context, builder, bp_v).data, [_intp(context, builder, b0_v, b0_t)]
        )
        c_arr = context.make_array(c_t)(context, builder, c_v)
        row_v, col_v = _intp(context, builder, row_v, row_t), _intp(context, builder, col_v, col_t)
        c_rows = [
            builder.bitcast(
                cgutils.get_item_pointer(
                    context, builder, c_t, c_arr, [builder.add(row_v, ir.Constant(intp, i)), col_v]
                ),
                vec.as_pointer(),
            )
            for i in range(MR)
        ]
        i8_ptr, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        # C is read and written once per K-block: start fetching its lines now, use them after the loop.
        prefetch = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [i8_ptr, i32, i32, i32]), "llvm.prefetch.p0i8"
        )
        for ptr in c_rows:
            builder.call(
                prefetch, [builder.bitcast(ptr, i8_ptr), ir.Constant(i32, 1), ir.Constant(i32, 3), ir.Constant(i32, 1)]
            )
        # Accumulators in stack slots: LLVM promotes them to registers.
        accumulators = [cgutils.alloca_once_value(builder, ir.Constant(vec, None)) for _ in range(MR)]
        muladd = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(vec, [vec, vec, vec]), f"llvm.fmuladd.v{nr}f{8 * itemsize}"
        )
        splat_mask = ir.Constant(ir.VectorType(i32, nr), [0] * nr)
        undef = ir.Constant(vec, ir.Undefined)
        with cgutils.for_range(builder, _intp(context, builder, kc_v, kc_t)) as loop:
            b_row = builder.gep(b_ptr, [builder.mul(loop.index, ir.Constant(intp, nr))])
            b = builder.load(builder.bitcast(b_row, vec.as_pointer()), align=itemsize)
            a_col = builder.gep(a_ptr, [builder.mul(loop.index, ir.Constant(intp, MR))])
            for i, acc in enumerate(accumulators):
                a = builder.load(builder.gep(a_col, [ir.Constant(intp, i)]))
                a = builder.shuffle_vector(builder.insert_element(undef, a, ir.Constant(i32, 0)), undef, splat_mask)
                builder.store(builder.call(muladd, [a, b, builder.load(acc)]), acc)
        with builder.if_else(context.cast(builder, overwrite_v, signature.args[8], types.boolean)) as (store, add):
            with store:
                for acc, ptr in zip(accumulators, c_rows):
                    builder.store(builder.load(acc), ptr, align=itemsize)
            with add:
                for acc, ptr in zip(accumulators, c_rows):
                    builder.store(
                        builder.fadd(builder.load(acc), builder.load(ptr, align=itemsize)), ptr, align=itemsize
                    )
        return context.get_dummy_value()

    return sig, codegen


def _panel_copier(width_of):
    """An intrinsic ``copy(dst, start, src, row, col)``: dst[start : start + R] = src[row, col : col + R] as one
    vector load and store, with R = width_of(itemsize). dst: 1-D; src: 2-D with contiguous rows."""

    def copy(typingctx, dst, start, src, row, col):
        if not (_float_arrays(dst, src) and dst.dtype == src.dtype and src.ndim == 2):
            return None
        sig = types.void(dst, start, src, row, col)

        def codegen(context, builder, signature, args):
            dst_t, start_t, src_t, row_t, col_t = signature.args
            dst_v, start_v, src_v, row_v, col_v = args
            element = context.get_data_type(src_t.dtype)
            itemsize = context.get_abi_sizeof(element)
            vec = ir.VectorType(element, width_of(itemsize))
            index = [_intp(context, builder, row_v, row_t), _intp(context, builder, col_v, col_t)]
            src_arr = context.make_array(src_t)(context, builder, src_v)
            source = cgutils.get_item_pointer(context, builder, src_t, src_arr, index)
            dst_data = context.make_array(dst_t)(context, builder, dst_v).data
            target = builder.gep(dst_data, [_intp(context, builder, start_v, start_t)])
            value = builder.load(builder.bitcast(source, vec.as_pointer()), align=itemsize)
            builder.store(value, builder.bitcast(target, vec.as_pointer()), align=itemsize)
            return context.get_dummy_value()

        return sig, codegen

    return intrinsic(copy)


def _panel_transposer(width_of):
    """An intrinsic ``transpose(dst, start, src, row, col)``: dst[start + t * R + r] = src[row + r, col + t] for
    r < R = width_of(itemsize) <= 2 W and t < W, where W = 32 bytes / itemsize (8 float32, 4 float64): R vector
    loads, W x W transposes in registers (log2(W) rounds of W shuffles), W stores of R values. dst: 1-D; src: 2-D
    with contiguous rows."""

    def transpose(typingctx, dst, start, src, row, col):
        if not (_float_arrays(dst, src) and dst.dtype == src.dtype and src.ndim == 2):
            return None
        sig = types.void(dst, start, src, row, col)

        def codegen(context, builder, signature, args):
            dst_t, start_t, src_t, row_t, col_t = signature.args
            dst_v, start_v, src_v, row_v, col_v = args
            element = context.get_data_type(src_t.dtype)
            itemsize = context.get_abi_sizeof(element)
            width, count = 32 // itemsize, width_of(itemsize)
            vec = ir.VectorType(element, width)
            intp, i32 = context.get_value_type(types.intp), ir.IntType(32)

            def shuffle(x, y, mask):
                return builder.shuffle_vector(x, y, ir.Constant(ir.VectorType(i32, len(mask)), mask))

            src_arr = context.make_array(src_t)(context, builder, src_v)
            row_v, col_v = _intp(context, builder, row_v, row_t), _intp(context, builder, col_v, col_t)
            blocks = -(-count // width)
            rows = [ir.Constant(vec, ir.Undefined)] * (blocks * width)  # rows past R stay undefined
            for r in range(count):
                ptr = cgutils.get_item_pointer(
                    context, builder, src_t, src_arr, [builder.add(row_v, ir.Constant(intp, r)), col_v]
                )
                rows[r] = builder.load(builder.bitcast(ptr, vec.as_pointer()), align=itemsize)
            # Transpose each W x W block: for s = W/2, ..., 1, rows r and r + s (r // s even) trade their odd
            # s-wide groups of columns, which swaps the off-diagonal s x s blocks of every 2s x 2s block.
            s = width // 2
            while s:
                low = [c if c // s % 2 == 0 else width + c - s for c in range(width)]
                high = [c + s if c // s % 2 == 0 else width + c for c in range(width)]
                for r in range(len(rows)):
                    if r // s % 2 == 0:
                        rows[r], rows[r + s] = shuffle(rows[r], rows[r + s], low), shuffle(rows[r], rows[r + s], high)
                s //= 2
            dst_data = context.make_array(dst_t)(context, builder, dst_v).data
            start_v = _intp(context, builder, start_v, start_t)
            for t in range(width):
                column = rows[t]  # column t of the source: its first W rows, then the next W
                if blocks == 2:
                    column = shuffle(rows[t], rows[width + t], list(range(2 * width)))
                if count < blocks * width:
                    column = shuffle(column, column, list(range(count)))
                target = builder.gep(dst_data, [builder.add(start_v, ir.Constant(intp, t * count))])
                builder.store(column, builder.bitcast(target, column.type.as_pointer()), align=itemsize)
            return context.get_dummy_value()

        return sig, codegen

    return intrinsic(transpose)


def _mr(itemsize: int) -> int:
    return MR


_copy_b_row = _panel_copier(panel_width)  # a row of a B panel, from a row-major B
_transpose_b = _panel_transposer(panel_width)  # W rows of a B panel, from a B stored transposed
_copy_a_column = _panel_copier(_mr)  # a column of an A panel, from an A stored transposed
_transpose_a = _panel_transposer(_mr)  # W columns of an A panel, from a row-major A


@njit(cache=True)
def _pack_a(a, transposed, i0, rows, p0, kc, out, start):  # pragma: no cover - compiled
    """Rows i0 <= i < i0 + rows of A (a, or a.T when ``transposed``), K steps p0 <= p < p0 + kc, as panels of MR
    rows: out[start + q * MR * kc + p * MR + r] = A[i0 + q * MR + r, p0 + p], zeros past the last row."""
    w = _panel_width(out) // 2  # the transposes' W: a 32-byte vector
    full = rows // MR
    if transposed:  # A[i, p] = a[p, i]: a panel column is MR neighbours in a row of a
        for pb in range(0, kc, w):  # W rows of a at a time, each walked along once for all panels
            for q in range(full):
                for p in range(pb, min(pb + w, kc)):
                    _copy_a_column(out, start + q * MR * kc + p * MR, a, p0 + p, i0 + q * MR)
    else:  # MR rows of a, W steps at a time, transposed in registers
        for q in range(full):
            base, i = start + q * MR * kc, i0 + q * MR
            for p in range(0, kc - w + 1, w):
                _transpose_a(out, base + p * MR, a, i, p0 + p)
            for p in range(kc - kc % w, kc):
                for r in range(MR):
                    out[base + p * MR + r] = a[i + r, p0 + p]
    if full * MR < rows:
        base, i, left = start + full * MR * kc, i0 + full * MR, rows - full * MR
        for p in range(kc):
            for r in range(MR):
                if r >= left:
                    out[base + p * MR + r] = 0
                elif transposed:
                    out[base + p * MR + r] = a[p0 + p, i + r]
                else:
                    out[base + p * MR + r] = a[i + r, p0 + p]


@njit(cache=True)
def _pack_b(b, transposed, j0, cols, p0, kc, out):  # pragma: no cover - compiled
    """Columns j0 <= j < j0 + cols of B (b, or b.T when ``transposed``), K steps p0 <= p < p0 + kc, as panels of NR
    columns: out[q * kc * NR + p * NR + j] = B[p0 + p, j0 + q * NR + j], zeros past the last column."""
    nr = _panel_width(out)
    w = nr // 2  # the transposes' W: a 32-byte vector
    full = cols // nr
    if transposed:  # B[p, j] = b[j, p]: NR rows of b, W steps at a time, transposed in registers
        for q in range(full):
            base, j = q * nr * kc, j0 + q * nr
            for p in range(0, kc - w + 1, w):
                _transpose_b(out, base + p * nr, b, j, p0 + p)
            for p in range(kc - kc % w, kc):
                for jj in range(nr):
                    out[base + p * nr + jj] = b[j + jj, p0 + p]
    else:
        for pb in range(0, kc, w):  # W rows of b at a time, each walked along once for all panels
            for q in range(full):
                for p in range(pb, min(pb + w, kc)):
                    _copy_b_row(out, q * nr * kc + p * nr, b, p0 + p, j0 + q * nr)
    if full * nr < cols:
        base, j, left = full * nr * kc, j0 + full * nr, cols - full * nr
        for p in range(kc):
            for jj in range(nr):
                if jj >= left:
                    out[base + p * nr + jj] = 0
                elif transposed:
                    out[base + p * nr + jj] = b[j + jj, p0 + p]
                else:
                    out[base + p * nr + jj] = b[p0 + p, j + jj]


@njit(cache=True)
def _put_edge(tile, c, i0, j0, rows, cols, overwrite):  # pragma: no cover - compiled
    """c[i0 : i0 + rows, j0 : j0 + cols] = (or +=) tile[:rows, :cols]: a tile cut by the edge of C."""
    for r in range(rows):
        for j in range(cols):
            if overwrite:
                c[i0 + r, j0 + j] = tile[r, j]
            else:
                c[i0 + r, j0 + j] += tile[r, j]


@njit(cache=True, parallel=True)
def _gemm(a, ta, b, tb, c, kc, mc, nc, a_pack, b_pack):  # pragma: no cover - compiled
    """c[i] = A[i] @ B[i] for each i < c.shape[0], where A[i] is a[i] (a.T-wise: a[i].T if ta) and likewise B; a and
    b hold either one matrix (shared by the batch) or one per product. kc, mc, nc: the block sizes (``blocking``);
    a_pack, b_pack: scratch of ``pack_sizes`` values (A is packed whole: once for a shared A, once per product
    else)."""
    batch, m, n = c.shape
    k = a.shape[1] if ta else a.shape[2]
    nr = _panel_width(c)
    mp = (m + MR - 1) // MR * MR
    k_blocks, m_blocks = (k + kc - 1) // kc, (m + mc - 1) // mc
    shared_a = a.shape[0] == 1
    for bi in range(batch):
        a_i, b_i, c_i = a[0 if shared_a else bi], b[0 if b.shape[0] == 1 else bi], c[bi]
        for jc in range(0, n, nc):
            n_cur = min(nc, n - jc)
            for kb in range(k_blocks):
                pc = kb * kc
                k_cur = min(kc, k - pc)
                first = kb == 0
                pack_a = jc == 0 and (bi == 0 or not shared_a)
                _pack_b(b_i, tb, jc, n_cur, pc, k_cur, b_pack)
                for ib in prange(m_blocks):
                    ic = ib * mc
                    m_cur = min(mc, m - ic)
                    a_start = kb * mp * kc + ic * k_cur
                    if pack_a:
                        _pack_a(a_i, ta, ic, m_cur, pc, k_cur, a_pack, a_start)
                    tile = np.empty((MR, nr), c.dtype)
                    for jr in range(0, n_cur, nr):
                        cols = min(nr, n_cur - jr)
                        for i_r in range(0, m_cur, MR):
                            rows = min(MR, m_cur - i_r)
                            a0, b0 = a_start + i_r * k_cur, jr * k_cur
                            if rows == MR and cols == nr:
                                _tile(k_cur, a_pack, a0, b_pack, b0, c_i, ic + i_r, jc + jr, first)
                            else:
                                _tile(k_cur, a_pack, a0, b_pack, b0, tile, 0, 0, True)
                                _put_edge(tile, c_i, ic + i_r, jc + jr, rows, cols, first)


@functools.lru_cache(maxsize=1024)
def blocking(m: int, n: int, k: int, itemsize: int, threads: int = 1) -> tuple[int, int, int]:
    """Block sizes (kc, mc, nc) for an (M, K) @ (K, N) product: K in equal blocks of at most KC steps (no short
    last block), M in equal blocks of whole panels of about A_BLOCK_BYTES packed (at least one per thread while
    there are panels), N in blocks of whole panels of about B_BLOCK_BYTES packed."""
    kc = _ceil_div(k, _ceil_div(k, KC))
    mc = max(MR, A_BLOCK_BYTES // (kc * itemsize) // MR * MR)
    blocks = max(_ceil_div(m, mc), min(threads, _ceil_div(m, MR)))
    mc = _ceil_div(_ceil_div(m, blocks), MR) * MR
    nr = panel_width(itemsize)
    nc = max(nr, B_BLOCK_BYTES // (kc * itemsize) // nr * nr)
    return kc, mc, nc


def pack_sizes(m: int, n: int, k: int, itemsize: int, blocks: tuple[int, int, int]) -> tuple[int, int]:
    """Values of scratch the driver packs into for an (M, K) @ (K, N) product with ``blocks`` (kc, mc, nc): all of A
    in panels of MR rows, and one block of B in panels of NR columns."""
    kc, _, nc = blocks
    nr = panel_width(itemsize)
    return _ceil_div(k, kc) * _ceil_div(m, MR) * MR * kc, kc * min(nc, _ceil_div(n, nr) * nr)


def _ceil_div(x: int, y: int) -> int:
    return -(-x // y)


def _c_stack(x: np.ndarray) -> tuple[np.ndarray, bool]:
    """(y, transposed) with y C-contiguous, (count, rows, cols), and x == (y.swapaxes(1, 2) if transposed else y),
    for x (count, rows, cols); copies only when x's matrices are neither C- nor F-contiguous."""
    if x.flags.c_contiguous:
        return x, False
    swapped = x.swapaxes(1, 2)
    if swapped.flags.c_contiguous:
        return swapped, True
    return np.ascontiguousarray(x), False


def gemm_stacked(a: np.ndarray, b: np.ndarray, out: np.ndarray, blocks: tuple[int, int, int] | None = None) -> None:
    """out[i] = a[i or 0] @ b[i or 0] for every i: a (1 or B, M, K), b (1 or B, K, N), out (B, M, N) C-contiguous, one
    float dtype, any strides for a and b (a stack of 1 is shared by the batch). ``blocks``: (kc, mc, nc) instead of
    ``blocking``'s choice (tests use tiny blocks to cross every edge). Arguments are not checked: callers do."""
    _, m, n = out.shape
    k = a.shape[2]
    if out.size == 0:
        return
    if k == 0:
        out[...] = 0
        return
    a, ta = _c_stack(a)
    b, tb = _c_stack(b)
    blocks = blocks or blocking(m, n, k, out.itemsize, numba.get_num_threads())
    a_size, b_size = pack_sizes(m, n, k, out.itemsize, blocks)
    scratch = _scratch(out.dtype, a_size + b_size)
    _gemm(a, ta, b, tb, out, *blocks, scratch[:a_size], scratch[a_size:])


_SCRATCH_KEPT_BYTES = 64 * 2**20  # the most packing scratch each thread keeps between calls
_kept = threading.local()


def _scratch(dtype: np.dtype, size: int) -> np.ndarray:
    """``size`` values of ``dtype`` to pack into, 64-byte aligned. Up to _SCRATCH_KEPT_BYTES are kept per thread for
    the next call: an allocator that hands large blocks back to the OS on free (glibc by default) would otherwise
    fault every page in again on every call (a few hundred microseconds on a 256 x 256 float64 product)."""
    nbytes = size * dtype.itemsize
    kept = getattr(_kept, "buffer", None)
    if kept is None or kept.size < nbytes + 64:
        kept = np.empty(nbytes + 64, np.uint8)
        if nbytes <= _SCRATCH_KEPT_BYTES:
            _kept.buffer = kept
    start = -kept.ctypes.data % 64
    return kept[start : start + nbytes].view(dtype)


def gemm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The matrix product a @ b. a: (M, K), b: (K, N), any strides, both float32 or both float64 ->
    (M, N), C-contiguous."""
    check_gemm_args(a, b)
    out = np.empty((a.shape[0], b.shape[1]), dtype=a.dtype)
    gemm_stacked(a[None], b[None], out[None])
    return out
