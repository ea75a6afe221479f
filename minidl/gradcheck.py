"""``gradcheck``: compare autograd's gradients with central finite differences, in float64."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from minidl import autograd, dtypes
from minidl.tensor import Tensor


class GradcheckError(AssertionError):
    """Raised by ``gradcheck`` when an analytic gradient differs from the numerical one."""


def _outputs(fn: Callable, inputs: Sequence[Any]) -> list[Tensor]:
    out = fn(*inputs)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    for o in outs:
        if not isinstance(o, Tensor):
            raise TypeError(f"gradcheck: fn must return a Tensor or a tuple of Tensors, got {type(o).__name__}")
    return outs


def _as_float64(t: Any) -> Any:
    if not isinstance(t, Tensor) or not t.requires_grad or t.dtype == dtypes.float64:
        return t
    return Tensor._make(t.data.astype(np.float64), t._backend, requires_grad=True)


def gradcheck(
    fn: Callable[..., Any],
    inputs: Sequence[Any] | Tensor,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """Check the gradients of ``fn`` at ``inputs`` against central finite differences.

    fn: takes the inputs, returns a Tensor or a tuple of Tensors. inputs: the arguments (Tensors that require
    grad are checked; float32 ones are converted to float64 first, other arguments are passed as they are).
    For every output element o and checked input element i, the analytic d o / d i (one backward per output
    element) must satisfy |analytic - numeric| <= atol + rtol * |numeric|, where
    numeric = (f(x + eps) - f(x - eps)) / (2 eps). Inputs are perturbed in place, so strided views are checked
    as they are. On failure raises GradcheckError naming the worst element (or returns False when
    ``raise_exception`` is False); returns True when every gradient matches.
    """
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    inputs = [_as_float64(t) for t in inputs]
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad, so there is nothing to check")

    outputs = _outputs(fn, inputs)

    # Analytic Jacobians: row r of J[(out k, input i)] is d out_k.flat[r] / d input_i.
    analytic = {}
    for k, out in enumerate(outputs):
        for i in checked:
            analytic[k, i] = np.zeros((out.data.size, inputs[i].data.size))
    for k, out in enumerate(outputs):
        if not (out.requires_grad and out.dtype.kind == "f"):
            continue
        for r in range(out.data.size):
            seed = np.zeros(out.data.size, dtype=out.dtype)
            seed[r] = 1
            grads = autograd.grad(
                out, [inputs[i] for i in checked], seed.reshape(out.shape), retain_graph=True, allow_unused=True
            )
            for i, g in zip(checked, grads):
                if g is not None:
                    analytic[k, i][r] = g.data.reshape(-1)

    # Numerical Jacobians, perturbing one input element at a time.
    numeric = {key: np.zeros_like(j) for key, j in analytic.items()}
    with autograd.no_grad():
        for i in checked:
            data = inputs[i].data
            for c, index in enumerate(np.ndindex(data.shape)):
                original = data[index]
                data[index] = original + eps
                plus = [o.data.astype(np.float64).reshape(-1) for o in _outputs(fn, inputs)]
                data[index] = original - eps
                minus = [o.data.astype(np.float64).reshape(-1) for o in _outputs(fn, inputs)]
                data[index] = original
                for k in range(len(outputs)):
                    numeric[k, i][:, c] = (plus[k] - minus[k]) / (2 * eps)

    worst = None
    for (k, i), a in analytic.items():
        n = numeric[k, i]
        excess = np.abs(a - n) - (atol + rtol * np.abs(n))
        bad = np.isnan(a) != np.isnan(n)
        if excess.size and (np.nanmax(excess) > 0 or bad.any()):
            flat = int(np.argmax(np.where(bad, np.inf, np.nan_to_num(excess, nan=-np.inf))))
            r, c = np.unravel_index(flat, a.shape)
            score = np.inf if bad[r, c] else excess[r, c]
            if worst is None or score > worst[0]:
                worst = (score, k, i, r, c, a[r, c], n[r, c], int(np.sum((excess > 0) | bad)), a.size)
    if worst is None:
        return True
    _, k, i, r, c, a_val, n_val, count, total = worst
    out_index = np.unravel_index(r, outputs[k].shape) if outputs[k].shape else ()
    in_index = np.unravel_index(c, inputs[i].shape) if inputs[i].shape else ()
    message = (
        f"gradcheck failed for input {i} (shape {tuple(inputs[i].shape)}) and output {k} "
        f"(shape {tuple(outputs[k].shape)}): {count} of {total} Jacobian entries differ.\n"
        f"worst: d output{list(map(int, out_index))} / d input{list(map(int, in_index))}: "
        f"analytic {a_val:.10g}, numerical {n_val:.10g}, difference {abs(a_val - n_val):.3g} "
        f"(allowed {atol + rtol * abs(n_val):.3g} = atol {atol:g} + rtol {rtol:g} * |numerical|)"
    )
    if raise_exception:
        raise GradcheckError(message)
    return False
