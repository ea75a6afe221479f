"""Element-wise ops: gradients against finite differences over drawn shapes, broadcasting and memory layouts;
dtype promotion; the gradient conventions at kinks; errors."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minidl
from tests.ops.cases import BINARY, UNARY
from tests.support import arrays, away_from_zero, broadcast_shapes, check_gradients, shapes


@pytest.mark.parametrize("case", UNARY, ids=lambda c: c.name)
@given(data=st.data())
def test_unary_gradients(case, data):
    x = data.draw(arrays(shapes(), low=case.low, high=case.high))
    if case.nonzero:
        away_from_zero(x)
    check_gradients(case.fn, x)


@pytest.mark.parametrize("case", BINARY, ids=lambda c: c.name)
@given(data=st.data())
def test_binary_gradients_broadcast(case, data):
    shape_a, shape_b = data.draw(broadcast_shapes())
    a = data.draw(arrays(shape_a, low=case.low, high=case.high))
    b = data.draw(arrays(shape_b, low=case.low, high=case.high))
    if case.nonzero:
        away_from_zero(b)
    check_gradients(case.fn, a, b)


@given(data=st.data())
def test_where_gradients(data):
    shape_c, shape_a, shape_b = data.draw(broadcast_shapes(3))
    cond = np.asarray(data.draw(arrays(shape_c)) > 0)
    a, b = data.draw(arrays(shape_a)), data.draw(arrays(shape_b))
    check_gradients(lambda x, y: minidl.where(minidl.from_numpy(cond), x, y), a, b)


@given(data=st.data())
def test_clip_with_tensor_bounds_gradients(data):
    shape_x, shape_lo, shape_hi = data.draw(broadcast_shapes(3))
    x = data.draw(arrays(shape_x, low=-2, high=2))
    low = data.draw(arrays(shape_lo, low=-1.5, high=0))
    high = data.draw(arrays(shape_hi, low=0.5, high=1.5))
    check_gradients(lambda x, lo, hi: minidl.clip(x, lo, hi), x, low, high)


def test_gradient_conventions_at_kinks():
    x = minidl.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    minidl.abs(x).sum().backward()
    assert x.grad.tolist() == [-1.0, 0.0, 1.0]  # sign(0) = 0
    x.grad = None
    minidl.nn.functional.relu(x).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 1.0]
    x.grad = None
    x.clip(0.0, 2.0).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0]  # the bounds themselves pass the gradient
    a = minidl.tensor([1.0, 2.0], requires_grad=True)
    b = minidl.tensor([1.0, 3.0], requires_grad=True)
    minidl.maximum(a, b).sum().backward()
    assert a.grad.tolist() == [0.5, 0.0] and b.grad.tolist() == [0.5, 1.0]  # ties share
    z = minidl.tensor([0.0, 2.0], requires_grad=True)
    (z**0).sum().backward()
    assert z.grad.tolist() == [0.0, 0.0]


def test_pow_gradient_in_the_exponent_at_zero_base():
    base = minidl.tensor([0.0, 2.0])
    e = minidl.tensor([2.0, 3.0], requires_grad=True)
    (base**e).sum().backward()
    assert e.grad.tolist() == [0.0, pytest.approx(8 * np.log(2))]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (minidl.int64, minidl.float32, minidl.float32),  # floats win: not float64 as NumPy would say
        (minidl.float32, minidl.float64, minidl.float64),
        (minidl.int32, minidl.int64, minidl.int64),
        (minidl.uint8, minidl.int8, minidl.int16),
        (minidl.bool_, minidl.int32, minidl.int32),
        (minidl.bool_, minidl.float32, minidl.float32),
    ],
)
def test_dtype_promotion_of_two_tensors(a, b, expected):
    x, y = minidl.ones(2, dtype=a), minidl.ones(2, dtype=b)
    assert (x + y).dtype == expected
    assert (y * x).dtype == expected


def test_dtype_with_python_scalars():
    f, i, b = minidl.ones(2), minidl.ones(2, dtype=minidl.int64), minidl.ones(2, dtype=minidl.bool_)
    assert (f * 2).dtype == minidl.float32
    assert (f * 2.5).dtype == minidl.float32
    assert (minidl.ones(2, dtype=minidl.float64) * 2.5).dtype == minidl.float64
    assert (i + 1).dtype == minidl.int64
    assert (i * 1.5).dtype == minidl.float32
    assert (i / 2).dtype == minidl.float32  # true division
    assert (b + 1).dtype == minidl.int64
    assert minidl.exp(i).dtype == minidl.float32
    assert (i * np.float64(2.0)).dtype == minidl.float32


def test_mixed_float_dtypes_give_each_input_its_own_gradient_dtype():
    a = minidl.ones(3, requires_grad=True)
    b = minidl.ones(3, dtype=minidl.float64, requires_grad=True)
    out = a * b
    assert out.dtype == minidl.float64
    out.sum().backward()
    assert a.grad.dtype == minidl.float32 and b.grad.dtype == minidl.float64


def test_comparisons_give_bool_tensors_without_gradient():
    a = minidl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for result, expected in [
        (a < 2, [True, False, False]),
        (a <= 2, [True, True, False]),
        (a > 2, [False, False, True]),
        (a >= 2, [False, True, True]),
        (a == 2, [False, True, False]),
        (a != 2, [True, False, True]),
        (2 < a, [False, False, True]),
    ]:
        assert result.dtype == minidl.bool_
        assert not result.requires_grad
        assert result.tolist() == expected
    assert (~(a > 2)).tolist() == [True, True, False]


def test_ndarray_operands_are_taken_as_tensors():
    a = minidl.ones(2, requires_grad=True)
    out = np.array([1.0, 2.0], dtype=np.float32) * a
    assert isinstance(out, minidl.Tensor) and out.requires_grad
    with pytest.raises(TypeError):
        np.exp(a)  # a NumPy ufunc would silently drop the graph: refused


def test_incompatible_shapes_name_both_shapes():
    a, b = minidl.ones(2, 3), minidl.ones(4)
    for op in (lambda: a + b, lambda: a * b, lambda: a - b, lambda: a / b, lambda: minidl.maximum(a, b), lambda: a < b):
        with pytest.raises(ValueError, match=r"\(2, 3\) and \(4,\)"):
            op()


def test_bad_operands_are_refused():
    with pytest.raises(TypeError, match="str"):
        minidl.ones(2) + "a"
    with pytest.raises(TypeError, match="condition must be a bool tensor, got float32"):
        minidl.where(minidl.ones(2), 1.0, 0.0)
    with pytest.raises(ValueError, match="at least one of min and max"):
        minidl.clip(minidl.ones(2))


def test_integer_clip_stays_integer():
    out = minidl.tensor([-5, 0, 5]).clip(-1, 1)
    assert out.dtype == minidl.int64 and out.tolist() == [-1, 0, 1]


def test_zero_dim_tensors_rank_below_dimensioned_ones():
    # Within one category the tensor with dims decides (as for Python scalars); a higher category still wins.
    assert (minidl.tensor(2) + minidl.tensor([1, 2], dtype=minidl.int32)).dtype == minidl.int32
    assert (minidl.tensor(2.0, dtype=minidl.float64) + minidl.ones(2)).dtype == minidl.float32
    assert (minidl.tensor(2.0, dtype=minidl.float64) + minidl.tensor([1, 2])).dtype == minidl.float64
    w = minidl.tensor(2.0, dtype=minidl.float64, requires_grad=True)
    (w * minidl.ones(3)).sum().backward()
    assert w.grad.dtype == minidl.float64 and w.grad.item() == 3.0
