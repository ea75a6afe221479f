"""The same small problem in minidl and PyTorch for the optimizer parity tests: a 2-layer tanh MLP on a fixed
batch, softmax cross-entropy loss, parameters copied from one NumPy initialisation."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import torch

import minidl
import minidl.nn.functional as F
import minidl.optim

N, D, H, C = 16, 5, 7, 3  # batch, inputs, hidden units, classes
STEPS = 20

# Two parameter groups: the first layer and the second, with their own lr and weight decay.
GROUPS = ((0, 1), (2, 3))


def initial_arrays() -> list[np.ndarray]:
    """W1 (D, H), b1 (H,), W2 (H, C), b2 (C,) in float64, and the batch comes from the same seed every time."""
    rng = np.random.default_rng(0)
    return [
        rng.normal(0, 1 / np.sqrt(D), (D, H)),
        rng.normal(0, 0.1, H),
        rng.normal(0, 1 / np.sqrt(H), (H, C)),
        rng.normal(0, 0.1, C),
    ]


def batch() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    return rng.normal(size=(N, D)), rng.integers(0, C, N)


def _grouped(params: Sequence[Any], group_options: Sequence[dict] | None) -> Any:
    if group_options is None:
        return list(params)
    return [{"params": [params[i] for i in idx], **opts} for idx, opts in zip(GROUPS, group_options)]


def train_minidl(
    name: str, options: dict, dtype: Any, group_options: Sequence[dict] | None = None, steps: int = STEPS
) -> list[np.ndarray]:
    """The parameters after ``steps`` steps of ``minidl.optim.<name>(params, **options)``."""
    params = [minidl.from_numpy(a.astype(dtype)).requires_grad_() for a in initial_arrays()]
    x, y = batch()
    x, y = minidl.from_numpy(x.astype(dtype)), minidl.from_numpy(y)
    rows = minidl.arange(N)
    opt = getattr(minidl.optim, name)(_grouped(params, group_options), **options)
    w1, b1, w2, b2 = params
    for _ in range(steps):
        opt.zero_grad()
        logits = (x @ w1 + b1).tanh() @ w2 + b2
        loss = -F.log_softmax(logits, dim=1)[rows, y].mean()
        loss.backward()
        opt.step()
    return [p.detach().numpy() for p in params]


def train_torch(
    name: str, options: dict, dtype: Any, group_options: Sequence[dict] | None = None, steps: int = STEPS
) -> list[np.ndarray]:
    """The same with ``torch.optim.<name>``."""
    tdtype = {np.float32: torch.float32, np.float64: torch.float64}[dtype]
    params = [torch.tensor(a, dtype=tdtype, requires_grad=True) for a in initial_arrays()]
    x, y = batch()
    x, y = torch.tensor(x, dtype=tdtype), torch.from_numpy(y)
    opt = getattr(torch.optim, name)(_grouped(params, group_options), **options)
    w1, b1, w2, b2 = params
    for _ in range(steps):
        opt.zero_grad()
        logits = torch.tanh(x @ w1 + b1) @ w2 + b2
        loss = -torch.log_softmax(logits, dim=1)[torch.arange(N), y].mean()
        loss.backward()
        opt.step()
    return [p.detach().numpy() for p in params]


# ---------------------------------------------------------------------------------- a gradient without a model


def synthetic_grad(theta: np.ndarray) -> np.ndarray:
    """A smooth gradient field (of a non-convex function), the same in both libraries: sin(3θ) + 0.1·θ³ − 0.2."""
    with np.errstate(over="ignore"):  # a run that diverges (a large drawn lr) reaches inf in both libraries alike
        return np.sin(3 * theta) + 0.1 * theta**3 - 0.2


def run_with_synthetic_grads(
    make_minidl: Callable, make_torch: Callable, theta0: np.ndarray, steps: int
) -> tuple[np.ndarray, np.ndarray]:
    """Step both optimizers (made from one float64 parameter) with ``synthetic_grad`` set as the gradient:
    checks the update formulas alone, free of any difference in the backward pass."""
    ours = minidl.from_numpy(theta0.copy()).requires_grad_()
    theirs = torch.tensor(theta0, requires_grad=True)
    opt_ours, opt_theirs = make_minidl([ours]), make_torch([theirs])
    for _ in range(steps):
        ours.grad = minidl.from_numpy(synthetic_grad(ours.detach().numpy()))
        theirs.grad = torch.from_numpy(synthetic_grad(theirs.detach().numpy()))
        opt_ours.step()
        opt_theirs.step()
    return ours.detach().numpy(), theirs.detach().numpy()
