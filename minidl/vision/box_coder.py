"""The SSD box coder: a box as offsets from a default box (anchor), scaled by the variances.

With the box g and the default box d in centre form (cx, cy, w, h) and variances (v_c, v_s)::

    t = ((g_cx - d_cx) / (d_w v_c),  (g_cy - d_cy) / (d_h v_c),  log(g_w / d_w) / v_s,  log(g_h / d_h) / v_s)

(Liu et al., 2016, with the variances of their code, 0.1 and 0.2: the offsets of matched boxes then have a spread
near 1, which suits a smooth-L1 loss). ``decode`` inverts it; both are built from minidl's ops (differentiable).
"""

from __future__ import annotations

import math
from typing import Sequence

from minidl.ops import clamp, exp, log, stack
from minidl.ops.checks import expect_tensor
from minidl.tensor import Tensor
from minidl.vision.ops import box_convert

# Decoded widths and heights are capped at 1000 / 16 times their default box's, as torchvision does, so that a
# wild offset cannot overflow exp().
MAX_LOG_SCALE = math.log(1000.0 / 16)


class SSDBoxCoder:
    """Encode boxes as offsets from default boxes, and decode offsets back to boxes.

    variances: (v_c, v_s), the scales of the centre and of the log-size offsets (SSD's 0.1 and 0.2).
    """

    def __init__(self, variances: Sequence[float] = (0.1, 0.2)):
        values = tuple(variances)
        if len(values) != 2 or not all(isinstance(v, (int, float)) and v > 0 for v in values):
            raise ValueError(f"SSDBoxCoder: variances must be two positive numbers (centre, size), got {variances!r}")
        self.variances = (float(values[0]), float(values[1]))

    def __repr__(self) -> str:
        return f"SSDBoxCoder(variances={self.variances})"

    def encode(self, boxes: Tensor, defaults: Tensor) -> Tensor:
        """Offsets of ``boxes`` from ``defaults``: boxes (..., A, 4) xyxy, one per default box, each of positive
        width and height; defaults (A, 4) xyxy -> offsets (..., A, 4)."""
        _check_pair(boxes, defaults, "encode", "boxes")
        g = box_convert(boxes, "xyxy", "cxcywh")
        d = box_convert(defaults, "xyxy", "cxcywh")
        if not bool((g.data[..., 2:] > 0).all()):
            raise ValueError("SSDBoxCoder.encode: every box needs a positive width and height (the offsets take their "
                             "logarithm); drop empty boxes before encoding")  # fmt: skip
        v_c, v_s = self.variances
        return stack(
            [
                (g[..., 0] - d[..., 0]) / (d[..., 2] * v_c),
                (g[..., 1] - d[..., 1]) / (d[..., 3] * v_c),
                log(g[..., 2] / d[..., 2]) / v_s,
                log(g[..., 3] / d[..., 3]) / v_s,
            ],
            dim=-1,
        )

    def decode(self, offsets: Tensor, defaults: Tensor) -> Tensor:
        """Boxes from their offsets: offsets (..., A, 4), defaults (A, 4) xyxy -> boxes (..., A, 4) xyxy.
        The log-size offsets are capped at log(1000 / 16) before exp() (as torchvision does)."""
        _check_pair(offsets, defaults, "decode", "offsets")
        d = box_convert(defaults, "xyxy", "cxcywh")
        v_c, v_s = self.variances
        centre_x = d[..., 0] + offsets[..., 0] * v_c * d[..., 2]
        centre_y = d[..., 1] + offsets[..., 1] * v_c * d[..., 3]
        width = d[..., 2] * exp(clamp(offsets[..., 2] * v_s, max=MAX_LOG_SCALE))
        height = d[..., 3] * exp(clamp(offsets[..., 3] * v_s, max=MAX_LOG_SCALE))
        return box_convert(stack([centre_x, centre_y, width, height], dim=-1), "cxcywh", "xyxy")


def _check_pair(values: Tensor, defaults: Tensor, method: str, name: str) -> None:
    """values (..., A, 4) and defaults (A, 4) of one floating dtype."""
    op = f"SSDBoxCoder.{method}"
    expect_tensor(values, op, name)
    expect_tensor(defaults, op, "defaults")
    if defaults.ndim != 2 or defaults.shape[1] != 4:
        raise ValueError(f"{op}: defaults must have shape (A, 4), got {tuple(defaults.shape)}")
    if values.ndim < 2 or tuple(values.shape[-2:]) != tuple(defaults.shape):
        raise ValueError(f"{op}: {name} must have shape (..., {defaults.shape[0]}, 4), one row per default box, got "
                         f"{tuple(values.shape)}")  # fmt: skip
    if values.dtype != defaults.dtype or values.dtype.kind != "f":
        raise TypeError(f"{op}: {name} and defaults need one floating dtype, got {values.dtype.name} and "
                        f"{defaults.dtype.name}")  # fmt: skip
