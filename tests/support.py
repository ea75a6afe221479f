"""Shared test tools: Hypothesis strategies for arrays in every memory layout, gradient checks, and the
comparison with PyTorch."""

from __future__ import annotations

import itertools
import math
from typing import Callable, Sequence

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minidl

LAYOUTS = ("contiguous", "transposed", "strided", "reversed")


def make_array(rng: np.random.Generator, shape: tuple, dtype, low: float, high: float, layout: str) -> np.ndarray:
    """Uniform values in [low, high) of ``shape``, laid out in memory as ``layout`` says:
    contiguous; transposed (Fortran order); strided (every other element of a larger array); reversed (negative
    strides)."""
    shape = tuple(shape)

    def draw(s: tuple) -> np.ndarray:
        return rng.uniform(low, high, size=s).astype(dtype)

    if layout == "transposed" and len(shape) >= 2:
        return draw(shape[::-1]).T
    if layout == "strided" and len(shape) >= 1:
        return draw(shape[:-1] + (2 * shape[-1],))[..., ::2]
    if layout == "reversed" and len(shape) >= 1:
        return draw(shape)[..., ::-1]
    return draw(shape)


def as_layout(a: np.ndarray, layout: str) -> np.ndarray:
    """The values of ``a`` in a memory layout from ``LAYOUTS``: a non-contiguous view of new memory (or ``a``
    itself for 'contiguous')."""
    every_axis_reversed = (slice(None, None, -1),) * a.ndim
    if layout == "transposed":  # stored in reversed axis order
        order = tuple(reversed(range(a.ndim)))
        return np.ascontiguousarray(a.transpose(order)).transpose(order)
    if layout == "strided" and a.ndim:  # every other element of a twice-as-wide last axis
        wide = np.zeros((*a.shape[:-1], 2 * a.shape[-1]), dtype=a.dtype)
        wide[..., ::2] = a
        return wide[..., ::2]
    if layout == "reversed":  # negative strides on every axis
        return np.ascontiguousarray(a[every_axis_reversed])[every_axis_reversed]
    return a


def away_from_zero(array: np.ndarray, margin: float = 0.1) -> np.ndarray:
    """``array`` with every |value| pushed to at least ``margin`` (for functions with a kink or pole at 0)."""
    array[...] = np.where(array >= 0, array + margin, array - margin)
    return array


@st.composite
def arrays(draw, shape, dtype=np.float64, low: float = -2.0, high: float = 2.0, layouts=LAYOUTS) -> np.ndarray:
    """A strategy: an array of ``shape`` (a tuple or a strategy) in a drawn memory layout, values drawn from a
    drawn seed (fast, and reproducible by Hypothesis)."""
    if not isinstance(shape, tuple):
        shape = draw(shape)
    layout = draw(st.sampled_from(layouts))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return make_array(rng, shape, dtype, low, high, layout)


def shapes(min_dims: int = 0, max_dims: int = 3, min_side: int = 1, max_side: int = 4) -> st.SearchStrategy:
    """Array shapes; small, so a full Jacobian check stays cheap; size-1 dims come up often."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def broadcast_shapes(num: int = 2, max_dims: int = 3, max_side: int = 4) -> st.SearchStrategy:
    """Tuples of ``num`` shapes that broadcast together (leading dims missing, size-1 dims stretched)."""
    return hnp.mutually_broadcastable_shapes(num_shapes=num, min_dims=0, max_dims=max_dims, max_side=max_side).map(
        lambda s: s.input_shapes
    )


@st.composite
def regrouped(draw, shape):
    """A shape with the same number of elements as ``shape`` (its prime factors regrouped), maybe with one -1."""
    factors, n = [], math.prod(shape)
    for p in (2, 3, 5, 7):
        while n % p == 0:
            factors.append(p)
            n //= p
    order = draw(st.permutations(factors)) if factors else []
    cuts = sorted(draw(st.lists(st.integers(0, len(order)), max_size=3)))
    bounds = [0, *cuts, len(order)]
    new = [math.prod(order[a:b]) for a, b in itertools.pairwise(bounds)]
    if new and draw(st.booleans()):
        new[draw(st.integers(0, len(new) - 1))] = -1
    return tuple(new)


@st.composite
def cat_parts(draw, dtype=np.float64) -> tuple[list[np.ndarray], int]:
    """(arrays, dim): one to three arrays whose shapes agree except along ``dim`` (maybe negative)."""
    base = draw(shapes(min_dims=1))
    dim = draw(st.integers(-len(base), len(base) - 1))
    parts = []
    for size in draw(st.lists(st.integers(1, 3), min_size=1, max_size=3)):
        shape = list(base)
        shape[dim] = size
        parts.append(draw(arrays(tuple(shape), dtype=dtype)))
    return parts, dim


def leaves(arrays: Sequence[np.ndarray]) -> list[minidl.Tensor]:
    """Tensors sharing memory with ``arrays`` (so strided layouts reach the ops), requiring grad."""
    return [minidl.from_numpy(a).requires_grad_() for a in arrays]


def check_gradients(fn: Callable, *arrays: np.ndarray, **tolerances) -> None:
    """gradcheck ``fn`` at float64 ``arrays`` (all differentiated)."""
    assert minidl.gradcheck(
        fn, leaves([np.asarray(a, dtype=np.float64) if a.dtype != np.float64 else a for a in arrays]), **tolerances
    )


def relative_error(actual, expected) -> float:
    """max |actual - expected| / max |expected| (0 when both are all zero)."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"shape {actual.shape} != expected {expected.shape}"
    nan_a, nan_e = np.isnan(actual), np.isnan(expected)
    assert np.array_equal(nan_a, nan_e), "NaNs in different places"
    actual, expected = actual[~nan_a], expected[~nan_e]
    inf = np.isinf(expected)
    assert np.array_equal(actual[inf], expected[inf]), "infinities differ"
    actual, expected = actual[~inf], expected[~inf]
    if actual.size == 0:
        return 0.0
    scale = np.max(np.abs(expected))
    diff = np.max(np.abs(actual - expected))
    return float(diff / scale) if scale > 0 else float(diff)


def assert_close(actual, expected, rtol: float = 1e-5) -> None:
    """Relative error (see ``relative_error``) at most ``rtol``."""
    if isinstance(actual, minidl.Tensor):
        actual = actual.detach().numpy()
    if hasattr(expected, "detach"):
        expected = expected.detach().numpy()
    err = relative_error(actual, expected)
    assert err <= rtol, f"relative error {err:.3g} > {rtol:g}"


def _torch_input(torch, a: np.ndarray, dtype=None, requires_grad: bool = False):
    """A PyTorch tensor holding a C-ordered copy of ``a`` (0-d stays 0-d; any strides are fine)."""
    t = torch.from_numpy(np.array(a, order="C", copy=True))
    if dtype is not None:
        t = t.to(dtype)
    return t.requires_grad_(requires_grad)


def _torch_run(torch, torch_fn, arrays, is_float, seed, dtype):
    """``torch_fn`` on ``arrays`` with the float ones in ``dtype``: the output and, for the output gradient
    ``seed``, the gradients of the float inputs, as NumPy arrays."""
    inputs = [_torch_input(torch, a, dtype, True) if f else _torch_input(torch, a) for a, f in zip(arrays, is_float)]
    out = torch_fn(*inputs)
    results = [out.detach().numpy()]
    if seed is not None:
        out.backward(torch.from_numpy(seed).to(out.dtype))
        results += [t.grad.numpy() for t, f in zip(inputs, is_float) if f]
    return results


def _torch_float32_error(torch, torch_fn, arrays, is_float, seed, rng) -> list[float]:
    """How far PyTorch's float32 results are from exact (float64) ones near these inputs: the largest relative
    error over the inputs themselves and three neighbours one or two float32 steps away (so that one lucky
    rounding does not set the bar)."""
    worst = None
    for trial in range(4):
        if trial:
            arrays = [
                (a * (1 + 2 * np.finfo(np.float32).eps * rng.uniform(-1, 1, a.shape))).astype(np.float32) if f else a
                for a, f in zip(arrays, is_float)
            ]
        f32 = _torch_run(torch, torch_fn, arrays, is_float, seed, torch.float32)
        f64 = _torch_run(torch, torch_fn, arrays, is_float, seed, torch.float64)
        errors = [relative_error(a, b) for a, b in zip(f32, f64)]
        worst = errors if worst is None else [max(w, e) for w, e in zip(worst, errors)]
    return worst


def compare_with_torch(fn: Callable, torch_fn: Callable, *arrays: np.ndarray, rtol: float = 1e-5) -> None:
    """Run ``fn`` (minidl) and ``torch_fn`` (PyTorch) on ``arrays`` (float ones as float32; minidl gets them in
    their memory layout, PyTorch a contiguous copy); compare the outputs, then the gradients of every float input
    for one random output gradient. The output dtypes must agree.

    Each result must match PyTorch's float32 result to ``rtol`` (relative error as in ``relative_error``). Where
    float32 cannot be that exact at these inputs (sums that cancel, a softmax near one-hot), PyTorch's float32
    result is no reference either; then minidl's result must be within ``rtol`` plus four times PyTorch's own
    float32 error of the exact result (PyTorch in float64 on the same values).
    """
    import torch

    arrays = [a.astype(np.float32, copy=False) if a.dtype.kind == "f" else a for a in map(np.asarray, arrays)]
    is_float = [a.dtype.kind == "f" for a in arrays]
    ours = [minidl.from_numpy(a).requires_grad_(f) for a, f in zip(arrays, is_float)]
    theirs = [_torch_input(torch, a, requires_grad=f) for a, f in zip(arrays, is_float)]
    out, expected = fn(*ours), torch_fn(*theirs)
    assert out.dtype == np.dtype(str(expected.dtype).replace("torch.", "")), f"dtype {out.dtype} != {expected.dtype}"
    results, references, names = [out.detach().numpy()], [expected.detach().numpy()], ["output"]
    seed = None
    if out.requires_grad:
        seed = np.random.default_rng(1).standard_normal(out.shape).astype(np.float32)
        out.backward(minidl.tensor(seed))
        expected.backward(torch.from_numpy(seed))
        for i, (a, b) in enumerate(zip(ours, theirs)):
            if b.requires_grad:
                assert a.grad is not None, f"input {i} got no gradient"
                results.append(a.grad.numpy())
                references.append(b.grad.numpy())
                names.append(f"gradient of input {i}")
    errors = [relative_error(r, ref) for r, ref in zip(results, references)]
    if all(err <= rtol for err in errors):
        return
    exact = _torch_run(torch, torch_fn, arrays, is_float, seed, torch.float64)
    torch_errors = _torch_float32_error(torch, torch_fn, arrays, is_float, seed, np.random.default_rng(2))
    for err, result, ref, torch_err, name in zip(errors, results, exact, torch_errors, names):
        if err <= rtol:
            continue
        ours_err = relative_error(result, ref)
        assert ours_err <= rtol + 4 * torch_err, (
            f"{name}: relative error {err:.3g} vs PyTorch float32 (> {rtol:g}); vs the exact (float64) result: "
            f"minidl {ours_err:.3g}, PyTorch float32 up to {torch_err:.3g} at these and neighbouring inputs"
        )
