"""Dropout: zero each element with probability p during training and scale the rest by 1 / (1 - p)."""

from __future__ import annotations

from minidl.autograd import Function
from minidl.ops.checks import expect_tensor
from minidl.tensor import Tensor


class DropoutOp(Function):
    save_inputs = False

    def forward(self, x, mask):
        self.mask = mask
        return x * mask

    def backward(self, g):
        return (g * self.mask,)


def dropout(input: Tensor, p: float = 0.5, training: bool = True) -> Tensor:
    """Inverted dropout, as ``torch.nn.functional.dropout``: in training each element is kept with probability
    1 - p and scaled by 1 / (1 - p) (so the expected value is unchanged); outside training, the input itself.
    The mask is drawn on the input's device by its counter-based generator (``minidl.random``), so
    ``minidl.manual_seed`` makes it reproducible, and every device draws the same masks."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be a probability in [0, 1], got {p}")
    expect_tensor(input, "dropout")
    if not training or p == 0.0:
        return input
    if input.data.dtype.kind != "f":
        raise TypeError(f"dropout: needs a floating-point input, got {input.data.dtype.name}")
    if p == 1.0:
        return DropoutOp.apply(input, mask=input._backend.xp.zeros(input.shape, dtype=input.data.dtype))
    return DropoutOp.apply(input, mask=input._backend.dropout_mask(input.shape, p, input.data.dtype))
