"""``Flatten``: merge a range of dimensions into one (by default all but the batch dimension)."""

from __future__ import annotations

from minidl.nn import functional as F
from minidl.nn.module import Module
from minidl.tensor import Tensor


class Flatten(Module):
    """x: (N, C, H, W) -> (N, C*H*W) with the defaults; dims start_dim..end_dim (inclusive) are merged."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Tensor) -> Tensor:
        return F.flatten(input, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
