"""Depthwise convolution in Numba, by direct loops (no im2col).

The contract is ``minidl_kernels.reference.depthwise``: x (N, C, H, W), weight (C * m, 1, kh, kw), output channel
o reads input channel o // m; stride and dilation are (height, width) pairs, padding is (top, bottom, left, right).

One layout serves every kernel: a plane is copied into a flat scratch buffer whose rows share one pitch, with
zeros where the padding is, so that every tap (i, j) becomes a fixed offset into that buffer and the work on a
whole plane is one long loop that LLVM vectorises, with no border tests and no short per-row loops:

- forward: ``out[t] = sum_k w_k * buf[t + offset_k]`` over t = r * pitch + q, the tap weights in registers (all
  nine of a 3x3 kernel in one sweep, else three at a time); the crop into the output keeps every sh-th row and
  sw-th column of the sweep and drops the columns where products wrapped around a row. A stride thus computes
  sh * sw times the outputs it keeps: the price of long vectorised loops (measured faster than strided ones).
- input gradient: the output gradient is spread, at the stride, into a zero buffer bordered by the kernel's
  reach, and correlated (stride 1) with the flipped kernel; the m output channels of an input channel add up.
- weight gradient: the output gradient is spread, at the stride, into the forward pass's layout (zeros in every
  other place), so each tap's sum is one dot product of two flat arrays (the zeros cancel what wrapped), summed
  in any order across SIMD lanes (fastmath ``reassoc``); the per-group sums are then added in a channel-parallel
  loop, in float64.

Short loops cost more than they compute, so small planes of one channel are stacked, image after image, in one
buffer of a few thousand elements and one loop runs over the whole stack (a 32x32 plane is long enough alone):
every kernel is parallel over (channel, group of images) pairs, channels fastest, so that consecutive tasks
read consecutive planes.

Small output maps (at most ``CHANNELS_LAST_MAX_PIXELS``, as in MobileNets' last stages, or
``SAME_3X3_CHANNELS_LAST_MAX_PIXELS`` for the layers ``_same_3x3`` below computes) leave the planar loops
too short to pay for themselves; there, when each input channel has one filter (m = 1), the kernels transpose
their operands to channels-last (N, H, W, C) and run one loop over the channels per (position, tap), vectorised
across channels: 3-10x faster on 2×2 to 4×4 maps and with stride 2 on 8×8 ones, slower on 16×16 and larger
(measured at batch 32, 1 thread).

The commonest case, a 3×3 filter per channel at stride 1 with padding 1 on larger maps, runs ``_same_3x3`` for the
forward pass and the input gradient: each bordered plane correlated row by row straight into the output, without
the flat sweep's wrapped columns and the crop (measured 30-45% faster than the flat sweep on 16×16 and 32×32 maps;
its weight gradient as nine row-wise reductions was 2.5x slower than the flat dot products, which stay).

Inputs of any strides are accepted: the wrappers take a C-contiguous copy where an argument is not already
contiguous (``np.ascontiguousarray``), and cast the weight (or x) to the dtype the reference's result has.
"""

from __future__ import annotations

import numpy as np
from minidl_kernels.reference.conv import conv_output_size
from minidl_kernels.reference.depthwise import (
    check_depthwise_backward_input_args,
    check_depthwise_backward_weight_args,
    check_depthwise_forward_args,
)
from numba import njit, prange

_FASTMATH = {"contract"}  # multiply-adds may fuse into FMA: more accurate, never reorders a sum
_GROUP_ELEMENTS = 2048  # small planes of a channel are stacked, image after image, into buffers about this long
CHANNELS_LAST_MAX_PIXELS = 64  # output maps of at most this many pixels run channels-last (when m = 1)
# ... and 'same' 3×3 stride-1 layers only up to this: on 8×8 maps ``_same_3x3`` measured faster (2.06 vs 2.69 ms at
# 192 channels, batch 32, fwd+bwd), on 4×4 and 2×2 maps channels-last (1.11 vs 2.86 ms at 384 channels)
SAME_3X3_CHANNELS_LAST_MAX_PIXELS = 16


@njit(cache=True)
def _bordered(plane, buf, top, left, rows, pitch):  # pragma: no cover - compiled
    """Fill the flat ``buf`` (rows * pitch) with ``plane`` placed at (top, left) in zeros (cropped to fit)."""
    h, w = plane.shape
    buf[:] = 0
    grid = buf.reshape(rows, pitch)
    r0, r1 = max(0, -top), min(h, rows - top)
    c0, c1 = max(0, -left), min(w, pitch - left)
    for r in range(r0, r1):
        src, dst = plane[r, c0:c1], grid[r + top, c0 + left :]
        for q in range(c1 - c0):
            dst[q] = src[q]


@njit(cache=True)
def _spread(plane, buf, top, left, sh, sw, rows, pitch):  # pragma: no cover - compiled
    """Fill the flat ``buf`` (rows * pitch) with zeros and plane[r, q] at (top + r * sh, left + q * sw)."""
    if sh == 1 and sw == 1:
        _bordered(plane, buf, top, left, rows, pitch)
        return
    h, w = plane.shape
    buf[:] = 0
    grid = buf.reshape(rows, pitch)
    r0, r1 = max(0, (-top + sh - 1) // sh), min(h, (rows - 1 - top) // sh + 1)
    c0, c1 = max(0, (-left + sw - 1) // sw), min(w, (pitch - 1 - left) // sw + 1)
    for r in range(r0, r1):
        src, dst = plane[r], grid[top + r * sh]
        for q in range(c0, c1):
            dst[left + q * sw] = src[q]


@njit(cache=True)
def _tap_offsets(kh, kw, dh, dw, pitch):  # pragma: no cover - compiled
    """Where tap (i, j) starts in a flat buffer of row pitch ``pitch``."""
    offsets = np.empty(kh * kw, dtype=np.int64)
    for i in range(kh):
        for j in range(kw):
            offsets[i * kw + j] = i * dh * pitch + j * dw
    return offsets


@njit(cache=True)
def _crop_into(flat, pitch, sh, sw, dst, accumulate):  # pragma: no cover - compiled
    """dst[r, q] (+)= flat[r * sh * pitch + q * sw] (the stride picks every sh-th row and sw-th column)."""
    ho, wo = dst.shape
    for r in range(ho):
        src, drow = flat[r * sh * pitch :], dst[r]
        if accumulate:
            for q in range(wo):
                drow[q] += src[q]
        elif sw == 1:
            for q in range(wo):
                drow[q] = src[q]
        else:
            for q in range(wo):
                drow[q] = src[q * sw]


@njit(cache=True, fastmath=_FASTMATH)
def _correlate_flat(src, taps, offsets, out):  # pragma: no cover - compiled
    """out[t] = sum_k taps[k] * src[t + offsets[k]] over a whole plane laid out flat with one row pitch: one long
    vectorised loop instead of a short one per row (nine taps at once for a 3x3 kernel, else three at a time)."""
    n, k = out.shape[0], taps.shape[0]
    if k == 9:  # one source view indexed at nine offsets; unsigned indices need no wraparound test
        w0, w1, w2 = taps[0], taps[1], taps[2]
        w3, w4, w5 = taps[3], taps[4], taps[5]
        w6, w7, w8 = taps[6], taps[7], taps[8]
        o0, o1, o2 = np.uint64(offsets[0]), np.uint64(offsets[1]), np.uint64(offsets[2])
        o3, o4, o5 = np.uint64(offsets[3]), np.uint64(offsets[4]), np.uint64(offsets[5])
        o6, o7, o8 = np.uint64(offsets[6]), np.uint64(offsets[7]), np.uint64(offsets[8])
        for t in range(np.uint64(n)):
            out[t] = (
                w0 * src[t + o0] + w1 * src[t + o1] + w2 * src[t + o2]
                + w3 * src[t + o3] + w4 * src[t + o4] + w5 * src[t + o5]
                + w6 * src[t + o6] + w7 * src[t + o7] + w8 * src[t + o8]
            )  # fmt: skip
        return
    out[:] = 0
    j = 0
    while j + 3 <= k:
        w0, w1, w2 = taps[j], taps[j + 1], taps[j + 2]
        s0, s1, s2 = src[offsets[j] :], src[offsets[j + 1] :], src[offsets[j + 2] :]
        for t in range(n):
            out[t] += w0 * s0[t] + w1 * s1[t] + w2 * s2[t]
        j += 3
    for r in range(j, k):
        w0, s0 = taps[r], src[offsets[r] :]
        for t in range(n):
            out[t] += w0 * s0[t]


@njit(cache=True, fastmath={"contract", "reassoc"})
def _flat_dots(gflat, sflat, offsets, out):  # pragma: no cover - compiled
    """out[k] += sum_t gflat[t] * sflat[t + offsets[k]] (out starts at zero): long dot products, summed in any
    order (SIMD lanes), in out's dtype."""
    n, taps = gflat.shape[0], offsets.shape[0]
    if taps == 9:  # one source view at nine offsets; unsigned indices need no wraparound test
        o0, o1, o2 = np.uint64(offsets[0]), np.uint64(offsets[1]), np.uint64(offsets[2])
        o3, o4, o5 = np.uint64(offsets[3]), np.uint64(offsets[4]), np.uint64(offsets[5])
        o6, o7, o8 = np.uint64(offsets[6]), np.uint64(offsets[7]), np.uint64(offsets[8])
        a0, a1, a2, a3, a4, a5, a6, a7, a8 = out[0], out[1], out[2], out[3], out[4], out[5], out[6], out[7], out[8]
        for t in range(np.uint64(n)):
            gv = gflat[t]
            a0 += gv * sflat[t + o0]
            a1 += gv * sflat[t + o1]
            a2 += gv * sflat[t + o2]
            a3 += gv * sflat[t + o3]
            a4 += gv * sflat[t + o4]
            a5 += gv * sflat[t + o5]
            a6 += gv * sflat[t + o6]
            a7 += gv * sflat[t + o7]
            a8 += gv * sflat[t + o8]
        out[0], out[1], out[2], out[3], out[4], out[5], out[6], out[7], out[8] = a0, a1, a2, a3, a4, a5, a6, a7, a8
        return
    k = 0
    while k + 3 <= taps:  # three taps per sweep: gflat read once for three sums
        s0, s1, s2 = sflat[offsets[k] :], sflat[offsets[k + 1] :], sflat[offsets[k + 2] :]
        a0, a1, a2 = out[k], out[k + 1], out[k + 2]
        for t in range(n):
            gv = gflat[t]
            a0 += gv * s0[t]
            a1 += gv * s1[t]
            a2 += gv * s2[t]
        out[k], out[k + 1], out[k + 2] = a0, a1, a2
        k += 3
    for r in range(k, taps):
        s = sflat[offsets[r] :]
        acc = out[r]  # a zero of the array's dtype: float32 sums keep 16 SIMD lanes
        for t in range(n):
            acc += gflat[t] * s[t]
        out[r] = acc


@njit(cache=True)
def _layout(ho, wo, kh, kw, sh, sw, dh, dw):  # pragma: no cover - compiled
    """The zero-bordered input buffer every output position reads at stride 1: rows, pitch, and the length of the
    flat output sweep ((Ho - 1) * sh + 1 rows of the pitch); one more row than the sweep reaches, for what wraps."""
    rows, pitch = (ho - 1) * sh + (kh - 1) * dh + 2, (wo - 1) * sw + (kw - 1) * dw + 1
    return rows, pitch, ((ho - 1) * sh + 1) * pitch


@njit(parallel=True, cache=True, fastmath=_FASTMATH)
def _forward(x, w, out, sh, sw, pt, pl, dh, dw, size):  # pragma: no cover - compiled
    """Per (channel, group of ``size`` images): the images' zero-bordered planes stacked in one buffer, one flat
    stride-1 correlation per output channel over the whole stack, then each plane cropped (at the stride) into the
    output. A stride computes sh * sw times the outputs it keeps, in exchange for long vectorised loops."""
    n, c = x.shape[0], x.shape[1]
    oc, kh, kw = w.shape
    m = oc // c
    ho, wo = out.shape[2], out.shape[3]
    rows, pitch, sweep = _layout(ho, wo, kh, kw, sh, sw, dh, dw)
    block = rows * pitch
    offsets = _tap_offsets(kh, kw, dh, dw, pitch)
    groups = (n + size - 1) // size
    for task in prange(c * groups):
        ci, b0 = task % c, (task // c) * size  # channels fastest: consecutive tasks read consecutive planes
        count = min(n, b0 + size) - b0
        buf = np.empty(count * block, dtype=out.dtype)
        flat = np.empty((count - 1) * block + sweep, dtype=out.dtype)
        for j in range(count):
            _bordered(x[b0 + j, ci], buf[j * block : (j + 1) * block], pt, pl, rows, pitch)
        for k in range(m):
            _correlate_flat(buf, w[ci * m + k].reshape(-1), offsets, flat)
            for j in range(count):
                _crop_into(flat[j * block :], pitch, sh, sw, out[b0 + j, ci * m + k], False)


@njit(parallel=True, cache=True, fastmath=_FASTMATH)
def _backward_input(g, wflip, dx, sh, sw, pt, pl, dh, dw, size):  # pragma: no cover - compiled
    """dx = the stride-1 correlation, with the flipped kernel, of the output gradient spread at the stride
    (g[oh, ow] at (top + oh * sh, left + ow * sw), zeros between) into a buffer bordered by the kernel's reach;
    stacked per (input channel, group of images) like ``_forward``."""
    n, c, h, w = dx.shape
    oc, kh, kw = wflip.shape
    m = oc // c
    top, left = (kh - 1) * dh - pt, (kw - 1) * dw - pl  # where g[0, 0] lands (may be outside: cropped)
    rows, pitch = h + (kh - 1) * dh + 1, w + (kw - 1) * dw
    block = rows * pitch
    offsets = _tap_offsets(kh, kw, dh, dw, pitch)
    groups = (n + size - 1) // size
    for task in prange(c * groups):
        ci, b0 = task % c, (task // c) * size
        count = min(n, b0 + size) - b0
        buf = np.empty(count * block, dtype=dx.dtype)
        flat = np.empty((count - 1) * block + h * pitch, dtype=dx.dtype)
        for k in range(m):
            for j in range(count):
                _spread(g[b0 + j, ci * m + k], buf[j * block : (j + 1) * block], top, left, sh, sw, rows, pitch)
            _correlate_flat(buf, wflip[ci * m + k].reshape(-1), offsets, flat)
            for j in range(count):
                _crop_into(flat[j * block :], pitch, 1, 1, dx[b0 + j, ci], k > 0)


@njit(parallel=True, cache=True, fastmath=_FASTMATH)
def _backward_weight_partial(g, x, partial, sh, sw, pt, pl, dh, dw, size):  # pragma: no cover - compiled
    """partial[group, o, i, j] = sum over a group of images' output positions of g * (the input under tap (i, j)):
    their zero-bordered planes stacked as in ``_forward``, the gradient spread at the stride into the same layout
    (zeros everywhere else), one flat dot product per tap."""
    n, c = x.shape[0], x.shape[1]
    _, oc, kh, kw = partial.shape
    m = oc // c
    ho, wo = g.shape[2], g.shape[3]
    rows, pitch, sweep = _layout(ho, wo, kh, kw, sh, sw, dh, dw)
    block = rows * pitch
    offsets = _tap_offsets(kh, kw, dh, dw, pitch)
    groups = (n + size - 1) // size
    for task in prange(c * groups):
        ci, grp = task % c, task // c
        b0 = grp * size
        count = min(n, b0 + size) - b0
        buf = np.empty(count * block, dtype=partial.dtype)
        gbuf = np.empty(count * block, dtype=partial.dtype)
        for j in range(count):
            _bordered(x[b0 + j, ci], buf[j * block : (j + 1) * block], pt, pl, rows, pitch)
        for k in range(m):
            o = ci * m + k
            for j in range(count):
                _spread(g[b0 + j, o], gbuf[j * block : (j + 1) * block], 0, 0, sh, sw, rows, pitch)
            dots = partial[grp, o].reshape(-1)
            dots[:] = 0
            _flat_dots(gbuf[: (count - 1) * block + sweep], buf, offsets, dots)


@njit(parallel=True, cache=True)
def _sum_over_batch(partial, out):  # pragma: no cover - compiled
    n, oc, kh, kw = partial.shape
    for o in prange(oc):
        for i in range(kh):
            for j in range(kw):
                s = 0.0  # float64 whatever the dtype: N partial sums, added once
                for b in range(n):
                    s += partial[b, o, i, j]
                out[o, 0, i, j] = s


# ---- channels-last kernels for small maps (m = 1): xt, gt (N, H, W, C), taps wt (1, kh, kw, C) ----

_FORWARD, _INPUT_GRAD, _WEIGHT_GRAD = 0, 1, 2


@njit(parallel=True, cache=True, fastmath=_FASTMATH)
def _channels_last_pass(mode, first, second, result, geometry):  # pragma: no cover - compiled
    """One pass of the channels-last kernels, each image in one task; for every output position (oh, ow) and tap
    (i, j) that lands inside the input at (ih, iw), one loop over the channels adds

    - ``_FORWARD``: first = wt, second = xt, result = out (N, Ho, Wo, C): out[b, oh, ow] += wt[0, i, j] * xt[b, ih, iw];
    - ``_INPUT_GRAD``: first = wt, second = gt, result = dxt (N, H, W, C):
      dxt[b, ih, iw] += wt[0, i, j] * gt[b, oh, ow];
    - ``_WEIGHT_GRAD``: first = gt, second = xt, result = partial (N, kh, kw, C):
      partial[b, i, j] += gt[b, oh, ow] * xt[b, ih, iw].

    geometry: (H, W, Ho, Wo, kh, kw, sh, sw, pt, pl, dh, dw)."""
    h, w, ho, wo, kh, kw, sh, sw, pt, pl, dh, dw = geometry
    c = result.shape[3]
    for b in prange(result.shape[0]):
        result[b] = 0
        for oh in range(ho):
            for ow in range(wo):
                for i in range(kh):
                    ih = oh * sh - pt + i * dh
                    if ih < 0 or ih >= h:
                        continue
                    for j in range(kw):
                        iw = ow * sw - pl + j * dw
                        if iw < 0 or iw >= w:
                            continue
                        if mode == _FORWARD:
                            dst, u, v = result[b, oh, ow], first[0, i, j], second[b, ih, iw]
                        elif mode == _INPUT_GRAD:
                            dst, u, v = result[b, ih, iw], first[0, i, j], second[b, oh, ow]
                        else:
                            dst, u, v = result[b, i, j], first[b, oh, ow], second[b, ih, iw]
                        for ch in range(c):
                            dst[ch] += u[ch] * v[ch]


def _channels_last(a: np.ndarray, dtype) -> np.ndarray:
    """(N, C, H, W) -> a C-contiguous (N, H, W, C) copy of ``dtype``."""
    return np.ascontiguousarray(a.transpose(0, 2, 3, 1), dtype=dtype)


def _taps_last(weight: np.ndarray, dtype) -> np.ndarray:
    """(C, 1, kh, kw) -> (1, kh, kw, C) of ``dtype``."""
    return np.ascontiguousarray(weight.transpose(1, 2, 3, 0), dtype=dtype)


def _use_channels_last(channels: int, out_channels: int, out_hw: tuple[int, int], same_3x3: bool = False) -> bool:
    """Whether the channels-last kernels take this layer (see ``CHANNELS_LAST_MAX_PIXELS``)."""
    limit = min(CHANNELS_LAST_MAX_PIXELS, SAME_3X3_CHANNELS_LAST_MAX_PIXELS) if same_3x3 else CHANNELS_LAST_MAX_PIXELS
    return out_channels == channels and out_hw[0] * out_hw[1] <= limit


# ---- 'same' 3×3 stride-1 kernel (padding 1 all round, m = 1): row by row, straight into the output ----


@njit(parallel=True, cache=True, fastmath=_FASTMATH)
def _same_3x3(x, taps, out):  # pragma: no cover - compiled
    """out[b, ch] = the stride-1 3×3 correlation of x[b, ch] bordered by one zero, taps[ch] (9,) row-major: each
    plane is copied into a bordered scratch plane once, then every output row is one loop of nine products over three
    scratch rows, written in place (no flat sweep over the border, no crop)."""
    n, c, h, w = x.shape
    for plane in prange(n * c):
        b, ch = plane // c, plane % c
        p = np.zeros((h + 2, w + 2), dtype=out.dtype)
        src = x[b, ch]
        for r in range(h):
            dst, row = p[r + 1], src[r]
            for q in range(w):
                dst[q + 1] = row[q]
        t = taps[ch]
        w0, w1, w2, w3, w4, w5, w6, w7, w8 = t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8]
        o = out[b, ch]
        for r in range(h):
            top, mid, bot, dst = p[r], p[r + 1], p[r + 2], o[r]
            for q in range(w):
                dst[q] = (
                    w0 * top[q] + w1 * top[q + 1] + w2 * top[q + 2]
                    + w3 * mid[q] + w4 * mid[q + 1] + w5 * mid[q + 2]
                    + w6 * bot[q] + w7 * bot[q + 1] + w8 * bot[q + 2]
                )  # fmt: skip


def _use_same_3x3(channels: int, weight_shape: tuple, stride, padding, dilation) -> bool:
    """Whether ``_same_3x3`` computes this convolution: 3×3 taps, one filter per channel, stride 1, no dilation,
    padding 1 on every side."""
    return (
        tuple(weight_shape) == (channels, 1, 3, 3)
        and tuple(stride) == (1, 1)
        and tuple(dilation) == (1, 1)
        and tuple(padding) == (1, 1, 1, 1)
    )


def _group(n: int, block: int) -> int:
    """How many images' planes of one channel to stack in a buffer: enough for long loops on small planes, one
    plane when a plane alone is about that long (stacking large planes only crowds the cache)."""
    return max(1, min(n, _GROUP_ELEMENTS // block))


def _as(a: np.ndarray, dtype) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=dtype)


def depthwise_conv2d_forward(
    x: np.ndarray,
    weight: np.ndarray,
    stride: tuple[int, int],
    padding: tuple[int, int, int, int],
    dilation: tuple[int, int],
) -> np.ndarray:
    """x: (N, C, H, W), weight: (C * m, 1, kh, kw) -> (N, C * m, Ho, Wo), a new C-contiguous array of x's dtype."""
    check_depthwise_forward_args(x, weight, stride, padding, dilation)
    oc, _, kh, kw = weight.shape
    (sh, sw), (pt, _, pl, _), (dh, dw) = stride, padding, dilation
    ho, wo = conv_output_size(x.shape[2:], (kh, kw), stride, padding, dilation)
    same = _use_same_3x3(x.shape[1], weight.shape, stride, padding, dilation)
    if x.size and ho * wo and _use_channels_last(x.shape[1], oc, (ho, wo), same):
        out_t = np.empty((x.shape[0], ho, wo, oc), dtype=x.dtype)
        geometry = (*x.shape[2:], ho, wo, kh, kw, sh, sw, pt, pl, dh, dw)
        _channels_last_pass(_FORWARD, _taps_last(weight, x.dtype), _channels_last(x, x.dtype), out_t, geometry)
        return np.ascontiguousarray(out_t.transpose(0, 3, 1, 2))
    out = np.empty((x.shape[0], oc, ho, wo), dtype=x.dtype)
    if out.size and same:
        _same_3x3(_as(x, x.dtype), _as(weight, x.dtype).reshape(oc, 9), out)
    elif out.size:
        rows, pitch, _ = _layout(ho, wo, kh, kw, sh, sw, dh, dw)
        w = _as(weight, x.dtype).reshape(oc, kh, kw)
        _forward(_as(x, x.dtype), w, out, sh, sw, pt, pl, dh, dw, _group(x.shape[0], rows * pitch))
    return out


def depthwise_conv2d_backward_input(
    grad_out: np.ndarray,
    weight: np.ndarray,
    x_shape: tuple[int, int, int, int],
    stride: tuple[int, int],
    padding: tuple[int, int, int, int],
    dilation: tuple[int, int],
) -> np.ndarray:
    """grad_out: (N, C * m, Ho, Wo), weight: (C * m, 1, kh, kw) -> dx: (N, C, H, W) of grad_out's dtype."""
    check_depthwise_backward_input_args(grad_out, weight, x_shape, stride, padding, dilation)
    oc, _, kh, kw = weight.shape
    (sh, sw), (pt, _, pl, _), (dh, dw) = stride, padding, dilation
    dtype = grad_out.dtype
    same = _use_same_3x3(x_shape[1], weight.shape, stride, padding, dilation)
    if _use_channels_last(x_shape[1], oc, grad_out.shape[2:], same) and grad_out.size and np.prod(x_shape):
        dx_t = np.empty((x_shape[0], x_shape[2], x_shape[3], x_shape[1]), dtype=dtype)
        geometry = (*x_shape[2:], *grad_out.shape[2:], kh, kw, sh, sw, pt, pl, dh, dw)
        _channels_last_pass(_INPUT_GRAD, _taps_last(weight, dtype), _channels_last(grad_out, dtype), dx_t, geometry)
        return np.ascontiguousarray(dx_t.transpose(0, 3, 1, 2))
    if grad_out.size and same:
        dx = np.empty(tuple(x_shape), dtype=dtype)  # the same correlation with the taps turned 180°
        _same_3x3(_as(grad_out, dtype), np.ascontiguousarray(_as(weight, dtype).reshape(oc, 9)[:, ::-1]), dx)
        return dx
    dx = np.zeros(tuple(x_shape), dtype=dtype)
    if dx.size == 0 or grad_out.size == 0:
        return dx
    g = _as(grad_out, dtype)
    w = _as(weight, dtype).reshape(oc, kh, kw)
    block = (x_shape[2] + (kh - 1) * dh + 1) * (x_shape[3] + (kw - 1) * dw)  # as in _backward_input
    wflip = np.ascontiguousarray(w[:, ::-1, ::-1])
    _backward_input(g, wflip, dx, sh, sw, pt, pl, dh, dw, _group(x_shape[0], block))
    return dx


def depthwise_conv2d_backward_weight(
    grad_out: np.ndarray,
    x: np.ndarray,
    weight_shape: tuple[int, int, int, int],
    stride: tuple[int, int],
    padding: tuple[int, int, int, int],
    dilation: tuple[int, int],
) -> np.ndarray:
    """grad_out: (N, C * m, Ho, Wo), x: (N, C, H, W) -> dweight: (C * m, 1, kh, kw) of grad_out's dtype."""
    check_depthwise_backward_weight_args(grad_out, x, weight_shape, stride, padding, dilation)
    oc, _, kh, kw = weight_shape
    (sh, sw), (pt, _, pl, _), (dh, dw) = stride, padding, dilation
    dtype = grad_out.dtype
    dweight = np.zeros(tuple(weight_shape), dtype=dtype)
    if grad_out.size == 0:
        return dweight
    same = _use_same_3x3(x.shape[1], weight_shape, stride, padding, dilation)
    if _use_channels_last(x.shape[1], oc, grad_out.shape[2:], same):
        partial = np.empty((x.shape[0], kh, kw, oc), dtype=dtype)
        geometry = (*x.shape[2:], *grad_out.shape[2:], kh, kw, sh, sw, pt, pl, dh, dw)
        _channels_last_pass(_WEIGHT_GRAD, _channels_last(grad_out, dtype), _channels_last(x, dtype), partial, geometry)
        dweight[:, 0] = partial.sum(axis=0, dtype=np.float64).transpose(2, 0, 1)  # N partial sums, added in float64
        return dweight
    rows, pitch, _ = _layout(grad_out.shape[2], grad_out.shape[3], kh, kw, sh, sw, dh, dw)
    size = _group(x.shape[0], rows * pitch)
    partial = np.empty(((x.shape[0] + size - 1) // size, oc, kh, kw), dtype=dtype)
    _backward_weight_partial(_as(grad_out, dtype), _as(x, dtype), partial, sh, sw, pt, pl, dh, dw, size)
    _sum_over_batch(partial, dweight)
    return dweight
