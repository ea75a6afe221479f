"""2-D convolution (cross-correlation, as in PyTorch) on a backend's kernels, with the algorithm picked from the
arguments and the memory the device can spare:

- **depthwise** (groups == in_channels, one input channel per filter): the depthwise kernels, no im2col;
- **pointwise** (1×1 kernel, no padding, groups == 1): one matrix product per image, no im2col at all;
- **Winograd** F(2×2, 3×3) or F(4×4, 3×3) for 3×3 filters at stride 1 (``minidl_kernels.reference.winograd``):
  2.25× or 4× fewer multiplications, for the forward pass and both gradients, where the device has the transform
  kernels and the shape gains from it (``WinogradRule``);
- **im2col + GEMM** for everything else: the patches of a chunk of images become columns and every group's
  filters multiply them in one batched matrix product. Chunks keep the column buffer near ``column_budget`` bytes
  (on the CPU small enough to stay in cache between im2col and the GEMM, which measured fastest; on a GPU large,
  so that each GEMM fills the device), and backward rebuilds the columns instead of keeping them, so memory stays
  near PyTorch's. Winograd chunks the same way, and recomputes the input's transform for the weight gradient.

A backend owns one ``Convolution`` (its kernel table, its array namespace, its budget, its Winograd rule): the
choice of algorithm and chunking lives with the device, not in the op. ``Convolution.select`` forces one algorithm
for teaching and benchmarking (``minidl.backend.use_kernels("winograd4", "conv2d")``); "auto" is the default.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from minidl.backend.kernel_table import KernelTable

ALGORITHMS = ("auto", "im2col", "winograd", "winograd2", "winograd4")


class ConvolutionPlan(NamedTuple):
    """What forward decided, for backward: the algorithm ("depthwise", "pointwise", "im2col", "winograd2",
    "winograd4") and the geometry (padding is (top, bottom, left, right))."""

    algorithm: str
    stride: tuple[int, int]
    padding: tuple[int, int, int, int]
    dilation: tuple[int, int]
    groups: int
    out_hw: tuple[int, int]


def conv_output_hw(hw, kernel, stride, padding, dilation) -> tuple[int, int]:
    """(Ho, Wo) of a convolution over an (H, W) input."""
    (h, w), (kh, kw), (sh, sw), (pt, pb, pl, pr), (dh, dw) = hw, kernel, stride, padding, dilation
    return (h + pt + pb - dh * (kh - 1) - 1) // sh + 1, (w + pl + pr - dw * (kw - 1) - 1) // sw + 1


def choose_algorithm(in_channels: int, weight_shape: tuple, padding: tuple, groups: int) -> str:
    """'depthwise', 'pointwise' or 'im2col' for a convolution of ``in_channels`` with ``weight_shape``: the
    algorithms every device has."""
    _, cg, kh, kw = weight_shape
    if groups == in_channels and cg == 1 and groups > 1:
        return "depthwise"
    if (kh, kw) == (1, 1) and tuple(padding) == (0, 0, 0, 0) and groups == 1:
        return "pointwise"
    return "im2col"


def winograd_applies(weight_shape: tuple, stride: tuple, padding: tuple, dilation: tuple, groups: int) -> bool:
    """Whether Winograd F(m×m, 3×3) computes this convolution: 3×3 filters, stride 1, no dilation, one group,
    padding of at most 2 on each side (the input gradient pads by 2 - padding)."""
    return (
        tuple(weight_shape[2:]) == (3, 3)
        and tuple(stride) == (1, 1)
        and tuple(dilation) == (1, 1)
        and groups == 1
        and max(padding) <= 2
    )


class WinogradRule(NamedTuple):
    """When "auto" picks Winograd on a device (measured: ``python -m benchmarks ops``): F(4×4) where the output is
    at least ``min_size_4`` pixels on each side, F(2×2) from ``min_size_2`` (None: never by itself), and only with
    at least ``min_channels`` input and output channels (below that the transforms cost more than the
    multiplications they save)."""

    min_channels: int
    min_size_4: int
    min_size_2: int | None = None
    # the im2col implementations Winograd was measured against and beat; against the others "auto" keeps im2col
    against_im2col: tuple[str, ...] = ("numba",)


class Convolution:
    """conv2d forward and backward on ``kernels`` (im2col, col2im, matmul, the depthwise and Winograd kernels) and
    ``xp``. ``winograd``: when "auto" uses Winograd on this device (None: never). ``wide_length``: output maps of
    at most this many pixels run im2col's GEMM as one wide product per chunk of images, (C_out, K) @ (K, images · L),
    instead of one product per image, whose N = L is then too small for BLAS to reach its speed."""

    def __init__(
        self,
        kernels: KernelTable,
        xp: Any,
        column_budget: int,
        winograd: WinogradRule | None = None,
        wide_length: int = 0,
    ):
        self.kernels = kernels
        self.xp = xp
        self.column_budget = column_budget
        self.winograd = winograd
        self.wide_length = wide_length
        self.algorithm = "auto"

    def select(self, algorithm: str) -> str:
        """Force ``algorithm`` (one of ``ALGORITHMS``; "winograd" picks m itself) where it applies, "auto" to let
        the device choose; returns the previous setting. Depthwise and 1×1 convolutions keep their own algorithm
        except under "im2col", which runs everything through im2col + GEMM."""
        if algorithm not in ALGORITHMS:
            raise ValueError(f"conv2d: algorithm of {ALGORITHMS} expected, got {algorithm!r}")
        if algorithm.startswith("winograd") and not self.has_winograd():
            raise ValueError("conv2d: this device has no Winograd kernels (algorithms: 'auto', 'im2col')")
        previous, self.algorithm = self.algorithm, algorithm
        return previous

    def has_winograd(self) -> bool:
        """Whether the kernel table holds the Winograd transforms."""
        return "winograd_input_transform" in self.kernels.names()

    def choose(self, in_channels: int, weight_shape: tuple, stride, padding, dilation, groups, out_hw) -> str:
        """The algorithm for this convolution under the current setting (see ``select``)."""
        if self.algorithm == "im2col":
            return "im2col"
        general = choose_algorithm(in_channels, weight_shape, padding, groups)
        if general != "im2col" or not winograd_applies(weight_shape, stride, padding, dilation, groups):
            return general
        if self.algorithm in ("winograd2", "winograd4"):
            return self.algorithm
        rule = self.winograd
        if self.algorithm == "auto":
            if rule is None or min(in_channels, weight_shape[0]) < rule.min_channels:
                return "im2col"
            if self.kernels.choice("im2col") not in rule.against_im2col:
                return "im2col"
            if min(out_hw) >= rule.min_size_4:
                return "winograd4"
            if rule.min_size_2 is not None and min(out_hw) >= rule.min_size_2:
                return "winograd2"
            return "im2col"
        return "winograd4" if min(out_hw) >= 4 else "winograd2"  # "winograd": wherever it applies

    def describe(self, in_channels: int, weight_shape: tuple, stride, padding, dilation, groups, out_hw) -> str:
        """``choose``'s algorithm, with " wide" where im2col's or a 1×1 convolution's GEMM runs as one product over
        the batch (``_wide``): the name the benchmark tables list per layer."""
        algorithm = self.choose(in_channels, weight_shape, stride, padding, dilation, groups, out_hw)
        wide = algorithm in ("im2col", "pointwise") and self._wide(groups, out_hw[0] * out_hw[1])
        return f"{algorithm} wide" if wide else algorithm

    def _chunk(self, n: int, per_image_bytes: int) -> int:
        return max(1, min(n, self.column_budget // max(per_image_bytes, 1)))

    def forward(self, x, w, stride, padding, dilation, groups) -> tuple[Any, ConvolutionPlan]:
        """x: (N, C, H, W), w: (C_out, C / groups, kh, kw) -> ((N, C_out, Ho, Wo), the plan for backward)."""
        xp, kernels = self.xp, self.kernels
        n, c, h, width = x.shape
        cout, cg, kh, kw = w.shape
        ho, wo = conv_output_hw((h, width), (kh, kw), stride, padding, dilation)
        algorithm = self.choose(c, w.shape, stride, padding, dilation, groups, (ho, wo))
        plan = ConvolutionPlan(algorithm, stride, padding, dilation, groups, (ho, wo))
        if algorithm == "depthwise":
            return kernels.depthwise_conv2d_forward(x, w, stride, padding, dilation), plan
        if algorithm.startswith("winograd"):
            return self._winograd(x, w, padding, _tile_size(algorithm), (ho, wo)), plan
        if algorithm == "pointwise":
            x3, w2 = _pointwise_input(xp, x, stride), xp.reshape(w, (cout, cg))
            if self._wide(groups, ho * wo):  # one (C_out, C) @ (C, N · L) product
                out = _columns_as_images(xp, kernels.matmul(w2, _images_as_columns(xp, x3)), n)
            else:
                out = kernels.matmul(w2, x3)
            return xp.reshape(out, (n, cout, ho, wo)), plan
        k, length = cg * kh * kw, ho * wo
        w3 = xp.reshape(w, (groups, cout // groups, k))
        out = xp.empty((n, groups, cout // groups, length), dtype=x.dtype)
        step = self._chunk(n, groups * k * length * x.itemsize)
        wide = self._wide(groups, length)
        for start in range(0, n, step):
            stop = min(n, start + step)
            cols = kernels.im2col(x[start:stop], (kh, kw), stride, padding, dilation)
            if wide:  # one (C_out, K) @ (K, images · L) product for the chunk
                product = kernels.matmul(w3[0], _images_as_columns(xp, cols))
                out[start:stop, 0] = _columns_as_images(xp, product, stop - start)
            else:
                out[start:stop] = kernels.matmul(w3, xp.reshape(cols, (stop - start, groups, k, length)))
        return xp.reshape(out, (n, cout, ho, wo)), plan

    def backward(self, g, x, w, plan: ConvolutionPlan, need_x: bool, need_w: bool) -> tuple[Any, Any]:
        """The gradients (dx or None, dw or None) of ``forward`` for the output gradient g: (N, C_out, Ho, Wo)."""
        kernels = self.kernels
        geometry = (plan.stride, plan.padding, plan.dilation)
        if plan.algorithm == "depthwise":
            gx = kernels.depthwise_conv2d_backward_input(g, w, x.shape, *geometry) if need_x else None
            gw = kernels.depthwise_conv2d_backward_weight(g, x, w.shape, *geometry) if need_w else None
            return gx, gw
        if plan.algorithm == "pointwise":
            return self._pointwise_backward(g, x, w, plan, need_x, need_w)
        if plan.algorithm.startswith("winograd"):
            return self._winograd_backward(g, x, w, plan, need_x, need_w)
        return self._im2col_backward(g, x, w, plan, need_x, need_w)

    def _pointwise_backward(self, g, x, w, plan: ConvolutionPlan, need_x: bool, need_w: bool) -> tuple[Any, Any]:
        """The gradients of a 1×1 convolution: per image, or as wide products over the batch where the maps are
        small (``_wide``), or, for the weight gradient, where the per-image products' (N, C_out, C) sum would move
        more bytes than laying the images side by side."""
        xp, kernels = self.xp, self.kernels
        n, c = x.shape[:2]
        cout = w.shape[0]
        length = plan.out_hw[0] * plan.out_hw[1]
        g3, w2 = xp.reshape(g, (n, cout, -1)), xp.reshape(w, (cout, c))
        wide = self._wide(1, length)
        wide_w = need_w and (wide or cout * c >= length * (cout + c))
        g_wide = _images_as_columns(xp, g3) if (need_x and wide) or wide_w else None  # (C_out, N · L), made once
        gx = gw = None
        if need_x:
            if wide:
                gx3 = _columns_as_images(xp, kernels.matmul(w2.T, g_wide), n)
            else:
                gx3 = kernels.matmul(w2.T, g3)
            sh, sw = plan.stride
            if (sh, sw) == (1, 1):
                gx = xp.reshape(gx3, x.shape)
            else:
                gx = xp.zeros(x.shape, dtype=g.dtype)
                gx[:, :, ::sh, ::sw] = xp.reshape(gx3, (n, c, *plan.out_hw))
        if need_w:
            x3 = _pointwise_input(xp, x, plan.stride)
            if wide_w:
                gw = kernels.matmul(g_wide, _images_as_columns(xp, x3).T)
            else:
                gw = xp.sum(kernels.matmul(g3, xp.swapaxes(x3, 1, 2)), axis=0)
            gw = xp.reshape(gw, w.shape)
        return gx, gw

    def _wide(self, groups: int, length: int) -> bool:
        """Whether im2col's GEMM runs as one wide product per chunk (output maps of at most ``wide_length`` pixels,
        one group) instead of one small product per image."""
        return groups == 1 and length <= self.wide_length

    def _im2col_backward_wide(self, g, x, w, plan: ConvolutionPlan, need_x: bool, need_w: bool, step: int):
        """``_im2col_backward`` with one wide product per chunk (see ``_wide``)."""
        xp, kernels = self.xp, self.kernels
        n = x.shape[0]
        cout, cg, kh, kw = w.shape
        k = cg * kh * kw
        args = ((kh, kw), plan.stride, plan.padding, plan.dilation)
        g3 = xp.reshape(g, (n, cout, -1))
        w2 = xp.reshape(w, (cout, k))
        gx = xp.empty(x.shape, dtype=g.dtype) if need_x else None
        gw = xp.zeros((cout, k), dtype=g.dtype) if need_w else None
        for start in range(0, n, step):
            stop = min(n, start + step)
            g_wide = _images_as_columns(xp, g3[start:stop])  # (C_out, images · L)
            if need_w:
                cols = _images_as_columns(xp, kernels.im2col(x[start:stop], *args))  # (K, images · L)
                gw += kernels.matmul(g_wide, cols.T)
            if need_x:
                gcols = _columns_as_images(xp, kernels.matmul(w2.T, g_wide), stop - start)
                gx[start:stop] = kernels.col2im(gcols, (stop - start, *x.shape[1:]), *args)
        return gx, (xp.reshape(gw, w.shape) if need_w else None)

    def _winograd_chunk(self, n: int, channels: int, out_hw: tuple[int, int], m: int, itemsize: int) -> int:
        """Images per chunk: the transformed input of a chunk, α² · C · tiles, stays near the column budget."""
        tiles = -(-out_hw[0] // m) * -(-out_hw[1] // m)
        return self._chunk(n, (m + 2) ** 2 * channels * tiles * itemsize)

    def _winograd(self, x, w, padding, m: int, out_hw: tuple[int, int]) -> Any:
        """The stride-1 3×3 convolution of x (N, C, H, W) with w (C_out, C, 3, 3) by F(m×m, 3×3), padding
        (top, bottom, left, right) <= 2 -> (N, C_out, *out_hw)."""
        kernels = self.kernels
        n, c = x.shape[:2]
        cout = w.shape[0]
        u = kernels.winograd_filter_transform(w, m)  # (α², C_out, C)
        out = self.xp.empty((n, cout, *out_hw), dtype=x.dtype)
        step = self._winograd_chunk(n, max(c, cout), out_hw, m, x.itemsize)
        for start in range(0, n, step):
            stop = min(n, start + step)
            v = kernels.winograd_input_transform(x[start:stop], m, padding)  # (α², C, T)
            out[start:stop] = kernels.winograd_output_transform(kernels.matmul(u, v), m, (stop - start, cout, *out_hw))
        return out

    def _winograd_backward(self, g, x, w, plan: ConvolutionPlan, need_x: bool, need_w: bool) -> tuple[Any, Any]:
        xp, kernels = self.xp, self.kernels
        m = _tile_size(plan.algorithm)
        gx = gw = None
        if need_x:  # the convolution of g with the filters turned 180° and C_in/C_out swapped, padded by 2 - p
            flipped = xp.ascontiguousarray(xp.swapaxes(w[:, :, ::-1, ::-1], 0, 1))
            pads = tuple(2 - p for p in plan.padding)
            gx = self._winograd(g, flipped, pads, m, x.shape[2:])
        if need_w:  # dU = sum over tiles of dM Vᵀ, dM = A dY Aᵀ, then dw = Gᵀ dU G
            n, c = x.shape[:2]
            cout = w.shape[0]
            grad_u = xp.zeros(((m + 2) ** 2, cout, c), dtype=g.dtype)
            step = self._winograd_chunk(n, max(c, cout), plan.out_hw, m, x.itemsize)
            for start in range(0, n, step):
                stop = min(n, start + step)
                v = kernels.winograd_input_transform(x[start:stop], m, plan.padding)  # (α², C, T)
                grad_m = kernels.winograd_output_transform_adjoint(g[start:stop], m)  # (α², C_out, T)
                grad_u += kernels.matmul(grad_m, xp.swapaxes(v, 1, 2))
            gw = kernels.winograd_filter_transform_adjoint(grad_u, m)
        return gx, gw

    def _im2col_backward(self, g, x, w, plan: ConvolutionPlan, need_x: bool, need_w: bool) -> tuple[Any, Any]:
        xp, kernels, groups = self.xp, self.kernels, plan.groups
        n = x.shape[0]
        cout, cg, kh, kw = w.shape
        k, length = cg * kh * kw, plan.out_hw[0] * plan.out_hw[1]
        args = ((kh, kw), plan.stride, plan.padding, plan.dilation)
        g4 = xp.reshape(g, (n, groups, cout // groups, length))
        w_t = xp.swapaxes(xp.reshape(w, (groups, cout // groups, k)), 1, 2)  # (G, K, Cout/G)
        gx = xp.empty(x.shape, dtype=g.dtype) if need_x else None
        gw = xp.zeros((groups, cout // groups, k), dtype=g.dtype) if need_w else None
        step = self._chunk(n, groups * k * length * x.itemsize)
        if self._wide(groups, length):
            return self._im2col_backward_wide(g, x, w, plan, need_x, need_w, step)
        for start in range(0, n, step):
            stop = min(n, start + step)
            g_chunk = g4[start:stop]
            if need_w:
                cols = xp.reshape(kernels.im2col(x[start:stop], *args), (stop - start, groups, k, length))
                gw += xp.sum(kernels.matmul(g_chunk, xp.swapaxes(cols, -1, -2)), axis=0)
            if need_x:
                gcols = xp.reshape(kernels.matmul(w_t, g_chunk), (stop - start, groups * k, length))
                gx[start:stop] = kernels.col2im(gcols, (stop - start, *x.shape[1:]), *args)
        return gx, (xp.reshape(gw, w.shape) if need_w else None)


def _images_as_columns(xp: Any, a: Any) -> Any:
    """(images, rows, L) -> (rows, images · L), contiguous: the images side by side."""
    images, rows, length = a.shape
    return xp.ascontiguousarray(xp.swapaxes(a, 0, 1)).reshape(rows, images * length)


def _columns_as_images(xp: Any, a: Any, images: int) -> Any:
    """(rows, images · L) -> (images, rows, L), contiguous: the inverse of ``_images_as_columns``."""
    rows = a.shape[0]
    return xp.ascontiguousarray(xp.swapaxes(xp.reshape(a, (rows, images, -1)), 0, 1))


def _tile_size(algorithm: str) -> int:
    """m of "winograd2" / "winograd4"."""
    return int(algorithm[-1])


def _pointwise_input(xp: Any, x: Any, stride: tuple[int, int]) -> Any:
    """x: (N, C, H, W) -> (N, C, Ho * Wo): the pixels a strided 1×1 convolution reads."""
    sh, sw = stride
    if (sh, sw) != (1, 1):
        x = x[:, :, ::sh, ::sw]
    return xp.reshape(x, (x.shape[0], x.shape[1], -1))
