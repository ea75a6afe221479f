"""The element-wise and activation ops under test, with the input domain each needs, shared by the gradient
checks (tests/ops) and the PyTorch comparisons (tests/parity)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as TF

import minidl
import minidl.nn.functional as F


@dataclass(frozen=True)
class Case:
    name: str
    fn: Callable
    torch_fn: Callable
    low: float = -2.0
    high: float = 2.0
    nonzero: bool = False  # keep |x| >= 0.1: a kink or a pole at 0


UNARY = [
    Case("neg", lambda x: -x, lambda x: -x),
    Case("exp", minidl.exp, torch.exp),
    Case("log", minidl.log, torch.log, 0.2, 3.0),
    Case("sqrt", minidl.sqrt, torch.sqrt, 0.2, 3.0),
    Case("abs", minidl.abs, torch.abs, nonzero=True),
    Case("sin", minidl.sin, torch.sin, -4.0, 4.0),
    Case("cos", minidl.cos, torch.cos, -4.0, 4.0),
    Case("relu", F.relu, torch.relu, nonzero=True),
    Case("leaky_relu", lambda x: F.leaky_relu(x, 0.2), lambda x: TF.leaky_relu(x, 0.2), nonzero=True),
    Case("relu6", F.relu6, TF.relu6, -3.0, 9.0, nonzero=True),
    Case("hardtanh", lambda x: F.hardtanh(x, -0.5, 0.7), lambda x: TF.hardtanh(x, -0.5, 0.7), nonzero=True),
    Case("elu", lambda x: F.elu(x, 1.5), lambda x: TF.elu(x, 1.5), nonzero=True),
    Case("gelu", F.gelu, TF.gelu, -4.0, 4.0),
    Case(
        "gelu_tanh",
        lambda x: F.gelu(x, approximate="tanh"),
        lambda x: TF.gelu(x, approximate="tanh"),
        -4.0,
        4.0,
    ),
    Case("sigmoid", F.sigmoid, torch.sigmoid, -8.0, 8.0),
    Case("tanh", F.tanh, torch.tanh, -3.0, 3.0),
    Case("pow_scalar", lambda x: x**3, lambda x: x**3),
    Case("pow_half", lambda x: x**0.5, lambda x: x**0.5, 0.2, 3.0),
    Case("rpow", lambda x: 2.5**x, lambda x: 2.5**x),
    Case("add_scalar", lambda x: x + 2.5, lambda x: x + 2.5),
    Case("rsub_scalar", lambda x: 3 - x, lambda x: 3 - x),
    Case("mul_scalar", lambda x: x * -1.5, lambda x: x * -1.5),
    Case("rdiv_scalar", lambda x: 2 / x, lambda x: 2 / x, nonzero=True),
    Case("div_scalar", lambda x: x / 4, lambda x: x / 4),
    Case("clip", lambda x: minidl.clip(x, -0.5, 0.7), lambda x: torch.clamp(x, -0.5, 0.7), nonzero=True),
    Case("clip_min", lambda x: x.clamp(min=0.3), lambda x: x.clamp(min=0.3), nonzero=True),
    Case("cast_float64", lambda x: x.double() * 2, lambda x: x.double() * 2),
]

BINARY = [
    Case("add", lambda a, b: a + b, lambda a, b: a + b),
    Case("sub", lambda a, b: a - b, lambda a, b: a - b),
    Case("mul", lambda a, b: a * b, lambda a, b: a * b),
    Case("div", lambda a, b: a / b, lambda a, b: a / b, nonzero=True),
    Case("pow", lambda a, b: a**b, lambda a, b: a**b, 0.2, 2.0),
    Case("maximum", minidl.maximum, torch.maximum),
    Case("minimum", minidl.minimum, torch.minimum),
]
