"""2-D convolution (cross-correlation, as in PyTorch) on a backend's kernels, with the algorithm picked from the
arguments and the memory the device can spare:

- **depthwise** (groups == in_channels, one input channel per filter): the depthwise kernels, no im2col;
- **pointwise** (1×1 kernel, no padding, groups == 1): one matrix product per image, no im2col at all;
- **im2col + GEMM** for everything else: the patches of a chunk of images become columns and every group's
  filters multiply them in one batched matrix product. Chunks keep the column buffer near ``column_budget`` bytes
  (on the CPU small enough to stay in cache between im2col and the GEMM, which measured fastest; on a GPU large,
  so that each GEMM fills the device), and backward rebuilds the columns instead of keeping them, so memory stays
  near PyTorch's.

A backend owns one ``Convolution`` (its kernel table, its array namespace, its budget): the choice of algorithm
and chunking lives with the device, not in the op.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from minidl.backend.kernel_table import KernelTable


class ConvolutionPlan(NamedTuple):
    """What forward decided, for backward: the algorithm and the geometry (padding is (top, bottom, left, right))."""

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
    """'depthwise', 'pointwise' or 'im2col' for a convolution of ``in_channels`` with ``weight_shape``."""
    _, cg, kh, kw = weight_shape
    if groups == in_channels and cg == 1 and groups > 1:
        return "depthwise"
    if (kh, kw) == (1, 1) and tuple(padding) == (0, 0, 0, 0) and groups == 1:
        return "pointwise"
    return "im2col"


class Convolution:
    """conv2d forward and backward on ``kernels`` (im2col, col2im, matmul, the depthwise kernels) and ``xp``."""

    def __init__(self, kernels: KernelTable, xp: Any, column_budget: int):
        self.kernels = kernels
        self.xp = xp
        self.column_budget = column_budget

    def _chunk(self, n: int, per_image_bytes: int) -> int:
        return max(1, min(n, self.column_budget // max(per_image_bytes, 1)))

    def forward(self, x, w, stride, padding, dilation, groups) -> tuple[Any, ConvolutionPlan]:
        """x: (N, C, H, W), w: (C_out, C / groups, kh, kw) -> ((N, C_out, Ho, Wo), the plan for backward)."""
        xp, kernels = self.xp, self.kernels
        n, c, h, width = x.shape
        cout, cg, kh, kw = w.shape
        algorithm = choose_algorithm(c, w.shape, padding, groups)
        ho, wo = conv_output_hw((h, width), (kh, kw), stride, padding, dilation)
        plan = ConvolutionPlan(algorithm, stride, padding, dilation, groups, (ho, wo))
        if algorithm == "depthwise":
            return kernels.depthwise_conv2d_forward(x, w, stride, padding, dilation), plan
        if algorithm == "pointwise":
            x3 = _pointwise_input(xp, x, stride)
            return xp.reshape(kernels.matmul(xp.reshape(w, (cout, cg)), x3), (n, cout, ho, wo)), plan
        k, length = cg * kh * kw, ho * wo
        w3 = xp.reshape(w, (groups, cout // groups, k))
        out = xp.empty((n, groups, cout // groups, length), dtype=x.dtype)
        step = self._chunk(n, groups * k * length * x.itemsize)
        for start in range(0, n, step):
            stop = min(n, start + step)
            cols = kernels.im2col(x[start:stop], (kh, kw), stride, padding, dilation)
            out[start:stop] = kernels.matmul(w3, xp.reshape(cols, (stop - start, groups, k, length)))
        return xp.reshape(out, (n, cout, ho, wo)), plan

    def backward(self, g, x, w, plan: ConvolutionPlan, need_x: bool, need_w: bool) -> tuple[Any, Any]:
        """The gradients (dx or None, dw or None) of ``forward`` for the output gradient g: (N, C_out, Ho, Wo)."""
        xp, kernels = self.xp, self.kernels
        n, c = x.shape[:2]
        cout, cg = w.shape[:2]
        geometry = (plan.stride, plan.padding, plan.dilation)
        if plan.algorithm == "depthwise":
            gx = kernels.depthwise_conv2d_backward_input(g, w, x.shape, *geometry) if need_x else None
            gw = kernels.depthwise_conv2d_backward_weight(g, x, w.shape, *geometry) if need_w else None
            return gx, gw
        if plan.algorithm == "pointwise":
            g3 = xp.reshape(g, (n, cout, -1))
            gx = gw = None
            if need_x:
                gx3 = kernels.matmul(xp.reshape(w, (cout, cg)).T, g3)
                sh, sw = plan.stride
                if (sh, sw) == (1, 1):
                    gx = xp.reshape(gx3, x.shape)
                else:
                    gx = xp.zeros(x.shape, dtype=g.dtype)
                    gx[:, :, ::sh, ::sw] = xp.reshape(gx3, (n, c, *plan.out_hw))
            if need_w:
                x3 = _pointwise_input(xp, x, plan.stride)
                gw = xp.reshape(xp.sum(kernels.matmul(g3, xp.swapaxes(x3, 1, 2)), axis=0), w.shape)
            return gx, gw
        return self._im2col_backward(g, x, w, plan, need_x, need_w)

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


def _pointwise_input(xp: Any, x: Any, stride: tuple[int, int]) -> Any:
    """x: (N, C, H, W) -> (N, C, Ho * Wo): the pixels a strided 1×1 convolution reads."""
    sh, sw = stride
    if (sh, sw) != (1, 1):
        x = x[:, :, ::sh, ::sw]
    return xp.reshape(x, (x.shape[0], x.shape[1], -1))
