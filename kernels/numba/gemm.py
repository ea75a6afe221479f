"""GEMM in Numba: C = A @ B, blocked for the caches, with a register-blocked micro-kernel that LLVM vectorises.

How it is built (the GotoBLAS / BLIS scheme, adapted to what Numba's compiler does well):

- The product is cut into K-blocks of ``KC``. For each K-block, A is packed into micro-panels of ``MR`` rows and
  B into micro-panels of ``NR`` columns, each panel stored with K running fastest, so that the micro-kernel reads
  ``MR + NR`` contiguous streams. Rows and columns past the end are packed as zeros, so every tile is full.
- The micro-kernel computes an ``MR x NR`` tile as ``MR * NR`` dot products of length ``kc`` that share their
  loads: each step of k loads ``MR`` values of A and ``NR`` of B and does ``MR * NR`` multiply-adds on them.
  LLVM's loop vectoriser turns the k loop into SIMD code (16 float32 lanes with AVX-512) with the
  ``MR * NR`` accumulators held in vector registers; it needs ``fastmath`` reassociation for that, which only
  changes the order of the sums. (The textbook outer-product micro-kernel, with scalar accumulators, stays
  scalar here: Numba leaves LLVM's SLP vectoriser off, and only the loop vectoriser runs.) At the end of a tile
  each accumulator is summed across its lanes, a cost that ``KC`` amortises.
- Loops: for each K-block, for each block of ``NCP`` B panels (sized to stay in L2), the row panels of A are
  split across threads (``prange``) and each A panel (in L1) meets every B panel of the block. A transposing
  pack (B when it is row-major, A when it is column-major) reads ``GROUP`` panels' worth of each source row at
  once, so that every cache line it loads is used whole.

Measured on one Zen 4 core (the 2-vCPU AMD EPYC development machine, AVX-512), float32, against OpenBLAS through
NumPy: about 75-80% of its GFLOP/s at 1024 x 1024, ~70% at 512, ~60% at 256 (where K = 256 leaves the horizontal
sums less work to hide behind), ~80% on a ResNet 3x3 convolution's 64 x 576 @ 576 x 1024. ``python -m benchmarks
gemm`` measures it.

Inputs may have any strides: a C- or F-contiguous operand is packed straight from its memory, any other view is
first copied to a C-contiguous array (a cost of O(M K + K N) against the O(M N K) product).
"""

import numpy as np
from minidl_kernels.reference.conv import check_gemm_args
from numba import njit, prange

MR = 4  # rows of A per micro-panel
NR = 4  # columns of B per micro-panel (the packing code assumes MR == NR)
KC = 1024  # K-block: the length of the dot products between two horizontal sums
NCP = 16  # B micro-panels per L2 block: NCP * NR * KC values (256 KiB of float32; L2 is 1 MiB here)
GROUP = 8  # panels packed together: a transposing pack reads GROUP * NR neighbours of each row of x


@njit(cache=True, fastmath={"reassoc", "contract"})
def _micro_kernel(kc, ap, bp, c, i0, j0):  # pragma: no cover - compiled
    """c[i0:i0+4, j0:j0+4] += ap[:, :kc] @ bp[:, :kc].T, where ap is (4, kc) and bp is (4, kc), both C-contiguous."""
    c00, c01, c02, c03 = c[i0, j0], c[i0, j0 + 1], c[i0, j0 + 2], c[i0, j0 + 3]
    c10, c11, c12, c13 = c[i0 + 1, j0], c[i0 + 1, j0 + 1], c[i0 + 1, j0 + 2], c[i0 + 1, j0 + 3]
    c20, c21, c22, c23 = c[i0 + 2, j0], c[i0 + 2, j0 + 1], c[i0 + 2, j0 + 2], c[i0 + 2, j0 + 3]
    c30, c31, c32, c33 = c[i0 + 3, j0], c[i0 + 3, j0 + 1], c[i0 + 3, j0 + 2], c[i0 + 3, j0 + 3]
    for p in range(kc):
        a0, a1, a2, a3 = ap[0, p], ap[1, p], ap[2, p], ap[3, p]
        b0, b1, b2, b3 = bp[0, p], bp[1, p], bp[2, p], bp[3, p]
        c00 += a0 * b0
        c01 += a0 * b1
        c02 += a0 * b2
        c03 += a0 * b3
        c10 += a1 * b0
        c11 += a1 * b1
        c12 += a1 * b2
        c13 += a1 * b3
        c20 += a2 * b0
        c21 += a2 * b1
        c22 += a2 * b2
        c23 += a2 * b3
        c30 += a3 * b0
        c31 += a3 * b1
        c32 += a3 * b2
        c33 += a3 * b3
    c[i0, j0], c[i0, j0 + 1], c[i0, j0 + 2], c[i0, j0 + 3] = c00, c01, c02, c03
    c[i0 + 1, j0], c[i0 + 1, j0 + 1], c[i0 + 1, j0 + 2], c[i0 + 1, j0 + 3] = c10, c11, c12, c13
    c[i0 + 2, j0], c[i0 + 2, j0 + 1], c[i0 + 2, j0 + 2], c[i0 + 2, j0 + 3] = c20, c21, c22, c23
    c[i0 + 3, j0], c[i0 + 3, j0 + 1], c[i0 + 3, j0 + 2], c[i0 + 3, j0 + 3] = c30, c31, c32, c33


@njit(cache=True)
def _pack_group(x, transposed, rows, pc, kc, panels, g):  # pragma: no cover - compiled
    """Pack the panels q of group g (g * GROUP <= q < (g + 1) * GROUP, those that exist):
    panels[q, r, p] = X[q * W + r, pc + p], where X (rows x K) is x, or x.T when ``transposed``; rows of X past
    ``rows`` are packed as zeros. W (the panel width) is MR = NR."""
    q0, q1 = g * GROUP, min((g + 1) * GROUP, panels.shape[0])
    full = min(q1, rows // NR)  # the panels q0 <= q < full lie inside X
    if transposed:  # X[i, p] = x[p, i]: read x row by row, GROUP * NR neighbours at a time
        for p in range(kc):
            for q in range(q0, full):
                for r in range(NR):
                    panels[q, r, p] = x[pc + p, q * NR + r]
    else:
        for q in range(q0, full):
            for r in range(NR):
                for p in range(kc):
                    panels[q, r, p] = x[q * NR + r, pc + p]
    for q in range(max(q0, full), q1):  # the last panel, cut by the edge of X
        for r in range(NR):
            i = q * NR + r
            if i >= rows:
                for p in range(kc):
                    panels[q, r, p] = 0
            elif transposed:
                for p in range(kc):
                    panels[q, r, p] = x[pc + p, i]
            else:
                for p in range(kc):
                    panels[q, r, p] = x[i, pc + p]


@njit(cache=True, parallel=True)
def _gemm(a, ta, b, tb, m, n, k, c):  # pragma: no cover - compiled
    """c (zeros, padded to whole tiles) += A @ B, where A is a (or a.T if ta) and B is b (or b.T if tb)."""
    n_ap, n_bp = c.shape[0] // MR, c.shape[1] // NR
    n_ag, n_bg = (n_ap + GROUP - 1) // GROUP, (n_bp + GROUP - 1) // GROUP
    kb = min(KC, k)
    ap = np.empty((n_ap, MR, kb), c.dtype)
    bp = np.empty((n_bp, NR, kb), c.dtype)
    for pc in range(0, k, KC):
        kc = min(KC, k - pc)
        # A is the logical (M, K) matrix; B^T the logical (N, K) one: B is packed transposed. (Packing is a few
        # percent of the time; in a prange it would double the compile time, so it runs on one thread.)
        for g in range(n_ag):
            _pack_group(a, ta, m, pc, kc, ap, g)
        for g in range(n_bg):
            _pack_group(b, not tb, n, pc, kc, bp, g)
        for jc in range(0, n_bp, NCP):
            for ip in prange(n_ap):
                for jp in range(jc, min(jc + NCP, n_bp)):
                    _micro_kernel(kc, ap[ip], bp[jp], c, ip * MR, jp * NR)


def _as_c_contiguous(x: np.ndarray) -> tuple[np.ndarray, bool]:
    """(y, transposed) with y C-contiguous and x == (y.T if transposed else y), copying only when x is neither
    C- nor F-contiguous."""
    if x.flags.c_contiguous:
        return x, False
    if x.flags.f_contiguous:
        return x.T, True
    return np.ascontiguousarray(x), False


def gemm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The matrix product a @ b. a: (M, K), b: (K, N), any strides, both float32 or both float64 ->
    (M, N), C-contiguous."""
    check_gemm_args(a, b)
    (m, k), n = a.shape, b.shape[1]
    if m == 0 or n == 0 or k == 0:
        return np.zeros((m, n), dtype=a.dtype)
    mp, np_ = -(-m // MR) * MR, -(-n // NR) * NR
    c = np.zeros((mp, np_), dtype=a.dtype)
    a, ta = _as_c_contiguous(a)
    b, tb = _as_c_contiguous(b)
    _gemm(a, ta, b, tb, m, n, k, c)
    return c if (mp, np_) == (m, n) else np.ascontiguousarray(c[:m, :n])
