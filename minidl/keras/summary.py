"""``model.summary()`` in Keras 3's layout: a boxed table of each layer's "name (Type)", output shape and
parameter count, then the totals with their memory (4 bytes a float32 value; KB = 1024 bytes).

Names longer than their column wrap at a space, as Keras's table does. Keras counts every weight as a parameter,
BatchNormalization's moving statistics included (as non-trainable ones).
"""

from __future__ import annotations

import textwrap
from typing import Any

from minidl.keras.layers.layout import shape_text

_WIDTHS = (31, 22, 13)  # Keras's column widths inside the borders, at its default line length


def memory_text(size: float) -> str:
    """``136.04 KB``: a byte count in B, KB, MB... (1024 each), two decimals."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size / 1024 < 1:
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} PB"


def _cells(texts: list[str], widths: list[int]) -> list[list[str]]:
    """The lines of each cell, wrapped to its column's width."""
    return [textwrap.wrap(t, w, break_long_words=False) or [""] for t, w in zip(texts, widths)]


def _row(texts: list[str], widths: list[int], bar: str) -> list[str]:
    cells = _cells(texts, widths)
    lines = []
    for i in range(max(len(c) for c in cells)):
        parts = [c[i] if i < len(c) else "" for c in cells]
        padded = [parts[0].ljust(widths[0]), parts[1].ljust(widths[1]), parts[2].rjust(widths[2])]
        lines.append(bar + bar.join(f" {p} " for p in padded) + bar)
    return lines


def _count(weights: list[Any]) -> tuple[int, int]:
    """(values, bytes) of some weights."""
    return sum(w.numel() for w in weights), sum(w.numel() * w.data.itemsize for w in weights)


def table(model: Any) -> str:
    """The summary of a built ``Sequential`` as text."""
    model._require_built("summary")
    rows, shape = [], model.input_spec
    for layer in model.layers:
        shape = layer.compute_output_shape(shape)
        rows.append([f"{layer.name} ({type(layer).__name__})", shape_text(shape), f"{layer.count_params():,}"])
    header = ["Layer (type)", "Output Shape", "Param #"]
    widths = [max(w, *(len(word) for r in [header, *rows] for word in r[i].split())) for i, w in enumerate(_WIDTHS)]
    bold = "━" * (widths[0] + 2), "━" * (widths[1] + 2), "━" * (widths[2] + 2)
    thin = "─" * (widths[0] + 2), "─" * (widths[1] + 2), "─" * (widths[2] + 2)
    lines = [f'Model: "{model.name}"', "┏" + "┳".join(bold) + "┓"]
    lines += _row(header, widths, "┃")
    lines.append("┡" + "╇".join(bold) + "┩")
    for i, row in enumerate(rows):
        if i:
            lines.append("├" + "┼".join(thin) + "┤")
        lines += _row(row, widths, "│")
    lines.append("└" + "┴".join(thin) + "┘")
    trainable, frozen = _count(model.trainable_weights), _count(model.non_trainable_weights)
    lines += [
        f" Total params: {trainable[0] + frozen[0]:,} ({memory_text(trainable[1] + frozen[1])})",
        f" Trainable params: {trainable[0]:,} ({memory_text(trainable[1])})",
        f" Non-trainable params: {frozen[0]:,} ({memory_text(frozen[1])})",
    ]
    return "\n".join(lines)
