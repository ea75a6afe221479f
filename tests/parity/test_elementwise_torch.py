"""Element-wise ops against PyTorch 2.13 (CPU, float32): every unary and binary case of tests/ops/cases.py over
drawn shapes, broadcasting and memory layouts; where; clip with tensor bounds; comparisons; dtype promotion."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import minidl
from tests.ops.cases import BINARY, UNARY
from tests.support import arrays, assert_close, away_from_zero, broadcast_shapes, shapes
from tests.support import compare_with_torch as compare

F32 = np.float32


@pytest.mark.parametrize("case", UNARY, ids=lambda c: c.name)
@given(data=st.data())
def test_unary_matches_torch(case, data):
    x = data.draw(arrays(shapes(), dtype=F32, low=case.low, high=case.high))
    if case.nonzero:
        away_from_zero(x)
    compare(case.fn, case.torch_fn, x)


@pytest.mark.parametrize("case", BINARY, ids=lambda c: c.name)
@given(data=st.data())
def test_binary_broadcast_matches_torch(case, data):
    shape_a, shape_b = data.draw(broadcast_shapes())
    a = data.draw(arrays(shape_a, dtype=F32, low=case.low, high=case.high))
    b = data.draw(arrays(shape_b, dtype=F32, low=case.low, high=case.high))
    if case.nonzero:
        away_from_zero(b)
    compare(case.fn, case.torch_fn, a, b)


@given(data=st.data())
def test_where_matches_torch(data):
    shape_c, shape_a, shape_b = data.draw(broadcast_shapes(3))
    cond = data.draw(arrays(shape_c, dtype=F32)) > 0
    a, b = data.draw(arrays(shape_a, dtype=F32)), data.draw(arrays(shape_b, dtype=F32))
    compare(minidl.where, torch.where, cond, a, b)


def _clip(x, lo, hi):
    return minidl.clip(x, lo, hi)


def _torch_clamp(x, lo, hi):
    return torch.clamp(x, min=lo, max=hi)


@given(data=st.data())
def test_clip_with_tensor_bounds_matches_torch(data):
    shape_x, shape_lo, shape_hi = data.draw(broadcast_shapes(3))
    x = data.draw(arrays(shape_x, dtype=F32, low=-2, high=2))
    low = data.draw(arrays(shape_lo, dtype=F32, low=-1.5, high=0))
    high = data.draw(arrays(shape_hi, dtype=F32, low=0.5, high=1.5))
    # Forward with every broadcast. PyTorch's clamp backward fails ("output with shape [] doesn't match the
    # broadcast shape [1]") whenever the bounds broadcast x to a larger shape, so the gradients are compared with
    # an x drawn in the full output shape.
    compare(lambda *ts: _clip(*ts).detach(), lambda *ts: _torch_clamp(*ts).detach(), x, low, high)
    x_full = data.draw(arrays(np.broadcast_shapes(shape_x, shape_lo, shape_hi), dtype=F32, low=-2, high=2))
    compare(_clip, _torch_clamp, x_full, low, high)
    compare(lambda x, lo, hi: x.clamp(min=lo, max=hi), _torch_clamp, x_full, low, high)
    compare(lambda x, lo: x.clamp(min=lo), lambda x, lo: x.clamp(min=lo), x_full, low)
    compare(lambda x, hi: x.clamp(max=hi), lambda x, hi: x.clamp(max=hi), x_full, high)


COMPARISONS = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
}


@pytest.mark.parametrize("name", list(COMPARISONS))
@given(data=st.data())
def test_comparisons_match_torch(name, data):
    shape_a, shape_b = data.draw(broadcast_shapes())
    a = data.draw(arrays(shape_a, dtype=F32, low=-2, high=2))
    b = data.draw(arrays(shape_b, dtype=F32, low=-2, high=2))
    a[...], b[...] = np.round(a), np.round(b)  # few distinct values, so ties (==) are common; layouts are kept
    op = COMPARISONS[name]
    compare(op, op, a, b)  # forward only: the result is bool, without gradient
    compare(lambda t: op(t, 1.0), lambda t: op(t, 1.0), a)
    compare(getattr(minidl, name), getattr(torch, name), a, b)


def _ints(shape, dtype, low=-50, high=50):
    return arrays(shape, dtype=dtype, low=low, high=high)


@given(data=st.data())
def test_dtype_promotion_matches_torch(data):
    shape_a, shape_b = data.draw(broadcast_shapes())  # 0-d too: it ranks below dims in PyTorch
    i64 = data.draw(_ints(shape_a, np.int64))
    f32 = data.draw(arrays(shape_b, dtype=F32))
    i32 = data.draw(_ints(shape_b, np.int32))
    b = data.draw(arrays(shape_a, dtype=F32)) > 0
    u8 = data.draw(_ints(shape_a, np.uint8, 0, 100))
    i8 = data.draw(_ints(shape_b, np.int8, -100, 100))
    nonzero_i64 = np.where(i64 == 0, 7, i64)

    def add(x, y):
        return x + y

    def mul(x, y):
        return x * y

    compare(add, add, i64, f32)  # float32, not float64 as NumPy would say
    compare(add, add, f32, i64)
    compare(add, add, i32, i64)  # int64
    compare(add, add, b, f32)  # float32
    compare(add, add, u8, i8)  # int16
    compare(mul, mul, i64, f32)
    compare(lambda x: x * 1.5, lambda x: x * 1.5, i64)  # float32
    compare(lambda x: x / 3, lambda x: x / 3, i64)  # true division: float32
    compare(lambda x: 3 / x, lambda x: 3 / x, nonzero_i64)
    compare(lambda x, y: x / y, lambda x, y: x / y, i64, nonzero_i64)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (np.int64, np.float32),
        (np.int32, np.int64),
        (np.bool_, np.float32),
        (np.uint8, np.int8),
        (np.bool_, np.int32),
        (np.float32, np.float64),
        (np.int8, np.int16),
        (np.uint8, np.int64),
    ],
)
def test_promoted_dtype_names_match_torch(a, b):
    x, y = np.ones(2, dtype=a), np.ones(2, dtype=b)
    ours = minidl.from_numpy(x) + minidl.from_numpy(y)
    theirs = torch.from_numpy(x) + torch.from_numpy(y)
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
    assert_close(ours, theirs, 0)


@pytest.mark.parametrize(
    ("a", "b"),
    [(np.int64, np.int32), (np.float64, np.float32), (np.int64, np.uint8), (np.int32, np.int8)],
    ids=["int64-int32", "float64-float32", "int64-uint8", "int32-int8"],
)
def test_zero_dim_tensors_promote_like_torch(a, b):
    """PyTorch ranks a 0-d tensor below tensors with dims of the same category: int64 0-d + int32 (2,) is int32."""
    x, y = np.array(3, dtype=a), np.array([1, 2], dtype=b)
    for ours, theirs in [
        (minidl.from_numpy(x) + minidl.from_numpy(y), torch.from_numpy(x) + torch.from_numpy(y)),
        (minidl.from_numpy(y) * minidl.from_numpy(x), torch.from_numpy(y) * torch.from_numpy(x)),
    ]:
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
        assert_close(ours, theirs, 0)


def test_float64_zero_dim_tensor_with_float32_gives_float32_and_both_gradients():
    x = np.array([0.5, -1.25, 2.0], dtype=F32)
    s = np.array(1.5)  # float64, 0-d
    ours_x, ours_s = minidl.tensor(x, requires_grad=True), minidl.tensor(s, dtype=minidl.float64, requires_grad=True)
    theirs_x, theirs_s = torch.tensor(x, requires_grad=True), torch.tensor(s, requires_grad=True)
    out, expected = ours_x * ours_s, theirs_x * theirs_s
    assert out.dtype == minidl.float32 and expected.dtype == torch.float32
    assert_close(out, expected)
    seed = np.array([1.0, -2.0, 0.5], dtype=F32)
    out.backward(minidl.tensor(seed))
    expected.backward(torch.from_numpy(seed))
    assert ours_x.grad.dtype == minidl.float32 and ours_s.grad.dtype == minidl.float64  # each its own dtype
    assert_close(ours_x.grad, theirs_x.grad)
    assert_close(ours_s.grad, theirs_s.grad)
