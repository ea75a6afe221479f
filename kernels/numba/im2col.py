"""im2col / col2im in Numba: the patches of an NCHW batch as columns, and their adjoint (see
``minidl_kernels.reference.conv`` for the contract: padding (top, bottom, left, right), any stride and dilation).

Both kernels run over the (image, channel) planes in parallel (``prange``). For one plane and one kernel offset
(i, j), each output row oh reads one input row ih = oh * sh + i * dh - top, at columns iw = ow * sw + j * dw - left;
the range of ow that lands inside the image is worked out once per (i, j), so the inner loops test no bounds:
zeros before the segment, a copy, zeros after it. At stride 1 the segment is contiguous and is copied in 64-byte
chunks with masked vector moves (see ``_chunk_codegen``); at other strides an element loop gathers it. col2im adds
instead of copying; every (image, channel) plane of dx is written by one iteration only, so overlapping windows
accumulate without races.

Non-contiguous inputs (strided, transposed, reversed views) are first copied to a C-contiguous array: for im2col
that copy is kh * kw times smaller than the output it feeds; for col2im it is the size of cols (callers normally
pass the contiguous result of a matrix product). The output is a new array, as the contract says; on a large
batch its first touch (page faults) costs about as much as filling it, so callers that can should call im2col
image by image (or in small groups), where the columns also stay in cache for the GEMM that reads them.
"""

import numpy as np
from llvmlite import ir
from minidl_kernels.reference.conv import check_col2im_args, check_im2col_args
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic


@njit(cache=True, error_model="numpy")
def _inside(off, step, size, count):  # pragma: no cover - compiled
    """The range [lo, hi) of t in [0, count) with 0 <= t * step + off < size."""
    if step == 1:  # no divisions on the common path
        lo = min(count, max(0, -off))
        return lo, max(lo, min(count, size - off))
    lo = min(count, max(0, (step - 1 - off) // step))
    hi = max(lo, min(count, (size - 1 - off) // step + 1))
    return lo, hi


# The element loops (strides > 1, and col2im's short segments) index the flat arrays with unsigned integers:
# Numba then emits no negative-index wraparound test and the address is affine in the loop counter, so LLVM can
# vectorise them. (Slicing a view per segment instead would cost a reference-count update each time.)
_u = np.uint64

# Row segments are short (Wo values: 10 to 32 on the course's networks), too short for LLVM's vectorised loops,
# which only start after 64 values and end in scalar remainders. So segments are copied, added and zeroed in
# chunks of CHUNK_BYTES with masked vector loads and stores (one AVX-512 instruction each; LLVM lowers them to
# what the CPU has). These three intrinsics are the only code here written in LLVM IR.
CHUNK_BYTES = 64


def _chunk_codegen(op):
    """The LLVM IR of one chunk operation, op in {"copy", "add", "zero"}: lanes = CHUNK_BYTES / itemsize values
    from element d of dst (and element s of src), the lanes t < n only (mask = lane index < n)."""

    def codegen(context, builder, signature, args):
        dst_array, d = args[0], args[1]
        src_array, s, n = (args[2], args[3], args[4]) if op != "zero" else (None, None, args[2])
        elem = context.get_data_type(signature.args[0].dtype)
        lanes = CHUNK_BYTES // context.get_abi_sizeof(elem)
        vec, i32 = ir.VectorType(elem, lanes), ir.IntType(32)
        # mask = [t < n for t in range(lanes)], with n clamped to [0, lanes] so that it fits 32 bits
        n = builder.select(builder.icmp_signed("<", n, n.type(lanes)), n, n.type(lanes))
        n = builder.trunc(builder.select(builder.icmp_signed("<", n, n.type(0)), n.type(0), n), i32)
        n_vec = builder.insert_element(ir.Constant(ir.VectorType(i32, lanes), None), n, i32(0))
        n_vec = builder.shuffle_vector(n_vec, n_vec, ir.Constant(ir.VectorType(i32, lanes), [0] * lanes))
        mask = builder.icmp_signed("<", ir.Constant(ir.VectorType(i32, lanes), list(range(lanes))), n_vec)
        dst_data = cgutils.create_struct_proxy(signature.args[0])(context, builder, value=dst_array).data
        dst = cgutils.gep(builder, dst_data, d)
        suffix = f"v{lanes}f{8 * context.get_abi_sizeof(elem)}.p0"
        align, zero = ir.Constant(i32, 1), ir.Constant(vec, None)
        load_type = ir.FunctionType(vec, [dst.type, i32, mask.type, vec])
        load = cgutils.get_or_insert_function(builder.module, load_type, "llvm.masked.load." + suffix)
        store_type = ir.FunctionType(ir.VoidType(), [vec, dst.type, i32, mask.type])
        store = cgutils.get_or_insert_function(builder.module, store_type, "llvm.masked.store." + suffix)
        if op == "zero":
            value = zero
        else:
            src_data = cgutils.create_struct_proxy(signature.args[2])(context, builder, value=src_array).data
            value = builder.call(load, [cgutils.gep(builder, src_data, s), align, mask, zero])
            if op == "add":
                value = builder.fadd(builder.call(load, [dst, align, mask, zero]), value)
        builder.call(store, [value, dst, align, mask])
        return context.get_dummy_value()

    return codegen


@intrinsic
def _chunk_copy(typingctx, dst, d, src, s, n):
    """dst[d + t] = src[s + t] for t < min(n, lanes), lanes = CHUNK_BYTES / itemsize (flat arrays, unchecked)."""
    return types.void(dst, types.intp, src, types.intp, types.intp), _chunk_codegen("copy")


@intrinsic
def _chunk_add(typingctx, dst, d, src, s, n):
    """dst[d + t] += src[s + t] for t < min(n, lanes), lanes = CHUNK_BYTES / itemsize (flat arrays, unchecked)."""
    return types.void(dst, types.intp, src, types.intp, types.intp), _chunk_codegen("add")


@intrinsic
def _chunk_zero(typingctx, dst, d, n):
    """dst[d + t] = 0 for t < min(n, lanes), lanes = CHUNK_BYTES / itemsize (a flat array, unchecked)."""
    return types.void(dst, types.intp, types.intp), _chunk_codegen("zero")


@njit(cache=True)
def _copy(dst, d, src, s, n):  # pragma: no cover - compiled
    """dst[d : d + n] = src[s : s + n], chunk by chunk."""
    t = 0
    while t < n:
        _chunk_copy(dst, d + t, src, s + t, n - t)
        t += CHUNK_BYTES // dst.itemsize


@njit(cache=True)
def _add(dst, d, src, s, n):  # pragma: no cover - compiled
    """dst[d : d + n] += src[s : s + n], chunk by chunk."""
    t = 0
    while t < n:
        _chunk_add(dst, d + t, src, s + t, n - t)
        t += CHUNK_BYTES // dst.itemsize


@njit(cache=True)
def _zero(dst, d, n):  # pragma: no cover - compiled
    """dst[d : d + n] = 0, chunk by chunk."""
    t = 0
    while t < n:
        _chunk_zero(dst, d + t, n - t)
        t += CHUNK_BYTES // dst.itemsize


@njit(cache=True, parallel=True, error_model="numpy")
def _im2col(x, n, c, h, w, kh, kw, sh, sw, pt, pl, dh, dw, ho, wo, cols):  # pragma: no cover - compiled
    """cols (flat, rows (n, c, i, j) of ho * wo) from x (flat NCHW)."""
    for plane in prange(n * c):
        for i in range(kh):
            oh_lo, oh_hi = _inside(i * dh - pt, sh, h, ho)
            for j in range(kw):
                row = ((plane * kh + i) * kw + j) * ho * wo
                off = j * dw - pl
                ow_lo, ow_hi = _inside(off, sw, w, wo)
                _zero(cols, row, oh_lo * wo)
                if sw == 1 and ow_lo == 0 and ow_hi == wo:  # no padding in this row: one copy per segment
                    for oh in range(oh_lo, oh_hi):
                        _copy(cols, row + oh * wo, x, (plane * h + oh * sh + i * dh - pt) * w + off, wo)
                    _zero(cols, row + oh_hi * wo, (ho - oh_hi) * wo)
                    continue
                for oh in range(oh_lo, oh_hi):
                    o = row + oh * wo
                    s = (plane * h + oh * sh + i * dh - pt) * w + off
                    _zero(cols, o, ow_lo)
                    if sw == 1:
                        _copy(cols, o + ow_lo, x, s + ow_lo, ow_hi - ow_lo)
                    else:
                        for t in range(ow_lo, ow_hi):
                            cols[_u(o + t)] = x[_u(s + t * sw)]
                    _zero(cols, o + ow_hi, wo - ow_hi)
                _zero(cols, row + oh_hi * wo, (ho - oh_hi) * wo)


@njit(cache=True, parallel=True, error_model="numpy")
def _col2im(cols, n, c, h, w, kh, kw, sh, sw, pt, pl, dh, dw, ho, wo, dx):  # pragma: no cover - compiled
    """dx (flat NCHW) = the sum of cols' (flat) entries over the pixels they were read from."""
    lanes = CHUNK_BYTES // dx.itemsize
    for plane in prange(n * c):
        _zero(dx, plane * h * w, h * w)
        for i in range(kh):
            oh_lo, oh_hi = _inside(i * dh - pt, sh, h, ho)
            for j in range(kw):
                row = ((plane * kh + i) * kw + j) * ho * wo
                off = j * dw - pl
                ow_lo, ow_hi = _inside(off, sw, w, wo)
                # Masked chunks only where the chunks of one segment end before the next segment starts: a
                # load that overlaps the 64 bytes of an earlier masked store (even lanes it left alone) waits for
                # that store, which costs more than a plain loop.
                chunked = sw == 1 and (ow_hi - ow_lo + lanes - 1) & -lanes <= sh * w
                for oh in range(oh_lo, oh_hi):
                    o = row + oh * wo
                    d = (plane * h + oh * sh + i * dh - pt) * w + off
                    if chunked:
                        _add(dx, d + ow_lo, cols, o + ow_lo, ow_hi - ow_lo)
                    else:
                        for t in range(ow_lo, ow_hi):
                            dx[_u(d + t * sw)] += cols[_u(o + t)]


def im2col(
    x: np.ndarray,
    kernel_size: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int, int, int],
    dilation: tuple[int, int],
) -> np.ndarray:
    """The patches of x as columns. x: (N, C, H, W) float32/float64, any strides -> cols:
    (N, C * kh * kw, Ho * Wo), a new C-contiguous array of x's dtype."""
    ho, wo = check_im2col_args(x, kernel_size, stride, padding, dilation)
    x = np.ascontiguousarray(x)
    n, c = x.shape[:2]
    (kh, kw), (sh, sw), (pt, _, pl, _), (dh, dw) = kernel_size, stride, padding, dilation
    cols = np.empty((n, c * kh * kw, ho * wo), dtype=x.dtype)
    if cols.size:
        _im2col(x.reshape(-1), n, c, x.shape[2], x.shape[3], kh, kw, sh, sw, pt, pl, dh, dw, ho, wo, cols.reshape(-1))
    return cols


def col2im(
    cols: np.ndarray,
    x_shape: tuple[int, int, int, int],
    kernel_size: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int, int, int],
    dilation: tuple[int, int],
) -> np.ndarray:
    """The adjoint of im2col: every column entry added back into the pixel it was read from (zero padding
    dropped). cols: (N, C * kh * kw, Ho * Wo) float32/float64, any strides -> dx: (N, C, H, W), a new
    C-contiguous array of cols' dtype."""
    ho, wo = check_col2im_args(cols, x_shape, kernel_size, stride, padding, dilation)
    n, c, h, w = x_shape
    (kh, kw), (sh, sw), (pt, _, pl, _), (dh, dw) = kernel_size, stride, padding, dilation
    cols = np.ascontiguousarray(cols)
    dx = np.empty((n, c, h, w), dtype=cols.dtype)
    if dx.size:
        _col2im(cols.reshape(-1), n, c, h, w, kh, kw, sh, sw, pt, pl, dh, dw, ho, wo, dx.reshape(-1))
    return dx
