"""``model.summary(input_shape)``: a Keras-style table of a model's layers, output shapes, parameters and
multiply-accumulates (MACs).

The output shapes come from one forward pass on zeros, in evaluation mode and under ``no_grad`` (each module's
mode is restored afterwards), watched through forward hooks. One row per leaf module (a module without
children) and per module that owns parameters directly, in the order the forward pass first calls them; a
module never called appears at the end with no output shape.

Counting rules (so the totals can be checked against published figures, e.g. ResNet-18 1.81 GMACs):

- parameters are ``Parameter`` objects only: buffers such as BatchNorm's running statistics are state, not
  parameters; a parameter with ``requires_grad=False`` (frozen) counts as non-trainable; a parameter shared by
  several modules counts once, in the first row that owns it;
- MACs are per sample (the batch dimension is left out), summed over the calls of a module:
  Conv2d = C_out * H_out * W_out * (C_in / groups) * kh * kw, Linear = in_features * out_features per output
  row; bias additions, BatchNorm, pooling, activations and additions count 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from minidl import dtypes
from minidl.autograd import no_grad
from minidl.nn.module import Module
from minidl.tensor import Tensor, zeros


def module_macs(module: Module, output: Any) -> int:
    """The multiply-accumulates of one call of ``module`` per sample, given its output: what the module's own
    ``macs(output)`` reports (0 for outputs that are not tensors)."""
    if not isinstance(output, Tensor) or output.ndim == 0:
        return 0
    return module.macs(output)


@dataclass
class LayerSummary:
    """One row of the table. output_shape: the shape of the output (batch included), a list of shapes for
    several outputs, None when the module was not called."""

    name: str
    type: str
    output_shape: Any
    params: int
    trainable_params: int
    non_trainable_params: int
    macs: int

    @property
    def label(self) -> str:
        return f"{self.name} ({self.type})" if self.name else self.type


def _shape_of(output: Any) -> Any:
    if isinstance(output, Tensor):
        return tuple(output.shape)
    if isinstance(output, tuple | list):
        return [_shape_of(o) for o in output]
    if isinstance(output, dict):
        return {k: _shape_of(v) for k, v in output.items()}
    return type(output).__name__


def _format_shape(shape: Any) -> str:
    if shape is None:
        return "(not called)"
    if isinstance(shape, list):
        return "[" + ", ".join(_format_shape(s) for s in shape) + "]"
    if isinstance(shape, dict):
        return "{" + ", ".join(f"{k}: {_format_shape(v)}" for k, v in shape.items()) + "}"
    return str(shape)


def _human(n: float) -> str:
    for unit, scale in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n:g}"


class ModelSummary:
    """The result of ``model.summary(...)``: ``layers`` (one ``LayerSummary`` per row) and the totals
    ``total_params``, ``trainable_params``, ``non_trainable_params``, ``total_macs`` (per sample).
    ``str(summary)`` is the table."""

    def __init__(self, model_name: str, input_shapes: list[tuple[int, ...]], batch_size: int, layers, totals):
        self.model_name = model_name
        self.input_shapes = input_shapes
        self.batch_size = batch_size
        self.layers: list[LayerSummary] = layers
        self.total_params, self.trainable_params, self.non_trainable_params = totals
        self.total_macs = sum(row.macs for row in layers)

    def __str__(self) -> str:
        show_frozen = self.non_trainable_params > 0
        header = ["Layer (type)", "Output shape", "Param #", *(["Non-trainable"] if show_frozen else []), "MACs"]
        body = []
        for row in self.layers:
            cells = [row.label, _format_shape(row.output_shape), f"{row.params:,}"]
            if show_frozen:
                cells.append(f"{row.non_trainable_params:,}")
            cells.append(f"{row.macs:,}")
            body.append(cells)
        widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]

        def line(cells: list[str]) -> str:
            parts = [cells[0].ljust(widths[0]), cells[1].ljust(widths[1])]
            parts += [c.rjust(w) for c, w in zip(cells[2:], widths[2:])]
            return "   ".join(parts).rstrip()

        width = sum(widths) + 3 * (len(widths) - 1)
        inputs = ", ".join(_format_shape(s) for s in self.input_shapes)
        text = [
            f'Model: "{self.model_name}"   input {inputs} per sample, batch size {self.batch_size}',
            "_" * width,
            line(header),
            "=" * width,
            *(line(cells) for cells in body),
            "=" * width,
            f"Total params: {self.total_params:,}",
            f"Trainable params: {self.trainable_params:,}",
            f"Non-trainable params: {self.non_trainable_params:,}",
            f"Total MACs: {self.total_macs:,} ({_human(self.total_macs)}MACs) per sample",
            "_" * width,
        ]
        return "\n".join(text)

    def __repr__(self) -> str:
        return (
            f"<ModelSummary of {self.model_name}: {self.total_params:,} params "
            f"({self.trainable_params:,} trainable), {_human(self.total_macs)}MACs per sample>"
        )


def _input_shapes(input_shape: Any) -> list[tuple[int, ...]]:
    """One shape (a tuple of ints) or several (a list/tuple of tuples) as a list of shapes."""

    def is_shape(s: Any) -> bool:
        return isinstance(s, tuple | list) and all(isinstance(d, int) and not isinstance(d, bool) for d in s)

    if isinstance(input_shape, int) and not isinstance(input_shape, bool):
        return [(input_shape,)]
    if is_shape(input_shape):
        return [tuple(input_shape)]
    if isinstance(input_shape, tuple | list) and input_shape and all(is_shape(s) for s in input_shape):
        return [tuple(s) for s in input_shape]
    raise TypeError(
        f"summary: input_shape must be a shape without the batch dimension, such as (3, 224, 224), or a list of "
        f"such shapes for several inputs; got {input_shape!r}"
    )


def summary(
    model: Module,
    input_shape: Any,
    batch_size: int = 1,
    dtype: Any = None,
    print_fn: Callable[[str], Any] | None = print,
) -> ModelSummary:
    """Run ``model`` once on zeros of shape (batch_size, *input_shape) and tabulate its layers (see the module
    docstring). ``dtype`` defaults to the dtype of the model's first floating-point parameter (float32 if none);
    the input is made on the parameters' device. The table goes to ``print_fn`` (None: not printed)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"summary: batch_size must be a positive integer, got {batch_size!r}")
    shapes = _input_shapes(input_shape)
    params = list(model.parameters())
    floating = [p for p in params if dtypes.is_floating(p.dtype)]
    if dtype is None:
        dtype = floating[0].dtype if floating else dtypes.float32
    device = params[0].device if params else "cpu"
    inputs = [zeros((batch_size, *s), dtype=dtype, device=device) for s in shapes]

    named = list(model.named_modules())
    watched = [(name, m) for name, m in named if not m._modules or any(p is not None for p in m._parameters.values())]
    calls: dict[int, dict] = {}  # id(module) -> its output shape and MACs; insertion order = first call order

    def pre_hook(module: Module, args: tuple) -> None:
        calls.setdefault(id(module), {"shape": None, "macs": 0})  # rows follow the order in which calls start

    def hook(module: Module, args: tuple, output: Any) -> None:
        record = calls[id(module)]
        record["shape"] = _shape_of(output)
        record["macs"] += module_macs(module, output)

    modes = [(m, m.training) for _, m in named]
    handles = [m.register_forward_pre_hook(pre_hook) for _, m in watched]
    handles += [m.register_forward_hook(hook) for _, m in watched]
    try:
        model.eval()
        with no_grad():
            model(*inputs)
    finally:
        for handle in handles:
            handle.remove()
        for m, mode in modes:
            m.training = mode

    by_id = {id(m): (name, m) for name, m in watched}
    ordered = [by_id[key] for key in calls] + [(name, m) for name, m in watched if id(m) not in calls]
    seen: set[int] = set()
    rows = []
    for name, m in ordered:
        total = trainable = 0
        for p in m._parameters.values():
            if p is None or id(p) in seen:
                continue
            seen.add(id(p))
            total += p.numel()
            trainable += p.numel() if p.requires_grad else 0
        record = calls.get(id(m), {"shape": None, "macs": 0})
        shape, macs = record["shape"], record["macs"]
        rows.append(LayerSummary(name, type(m).__name__, shape, total, trainable, total - trainable, macs))
    all_total = sum(p.numel() for p in params)
    all_trainable = sum(p.numel() for p in params if p.requires_grad)
    result = ModelSummary(
        type(model).__name__, shapes, batch_size, rows, (all_total, all_trainable, all_total - all_trainable)
    )
    if print_fn is not None:
        print_fn(str(result))
    return result
