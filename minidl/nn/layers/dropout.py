"""``Dropout``: zero each element with probability p in training, scaling the rest by 1 / (1 - p)."""

from __future__ import annotations

from minidl.nn import functional as F
from minidl.nn.module import Module
from minidl.tensor import Tensor


class Dropout(Module):
    """Inverted dropout: in training each element is zeroed with probability ``p`` (drawn from minidl's global
    generator, so ``manual_seed`` reproduces the mask) and the others are scaled by 1 / (1 - p), so the expected
    value is unchanged; in evaluation the input passes through. ``inplace`` is accepted but the result is computed
    out of place."""

    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
