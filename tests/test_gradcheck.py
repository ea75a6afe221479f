"""gradcheck itself: it passes correct gradients, catches wrong ones, and reports the worst element readably."""

import numpy as np
import pytest

import minidl
from minidl.autograd import Function


class WrongSquare(Function):
    """x², with a backward that is wrong for one element."""

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, g):
        grad = 2 * self.x * g
        grad.flat[1] += 0.5 * g.flat[1]
        return (grad,)


def test_gradcheck_passes_a_correct_function():
    x = minidl.randn(3, 2, dtype=minidl.float64, requires_grad=True)
    y = minidl.randn(2, dtype=minidl.float64, requires_grad=True)
    assert minidl.gradcheck(lambda a, b: (a * b).exp(), (x, y))


def test_gradcheck_reports_the_worst_element():
    x = minidl.tensor([1.0, 2.0, 3.0], dtype=minidl.float64, requires_grad=True)
    with pytest.raises(minidl.GradcheckError) as info:
        minidl.gradcheck(lambda t: WrongSquare.apply(t), (x,))
    message = str(info.value)
    assert "input 0 (shape (3,))" in message
    assert "1 of 9 Jacobian entries differ" in message
    assert "d output[1] / d input[1]" in message
    assert "analytic 4.5" in message and "numerical 4" in message
    assert minidl.gradcheck(lambda t: WrongSquare.apply(t), (x,), raise_exception=False) is False


def test_gradcheck_handles_several_outputs_and_non_tensor_arguments():
    x = minidl.randn(4, dtype=minidl.float64, requires_grad=True)
    assert minidl.gradcheck(lambda t, k: (t * k, t.sum()), (x, 3.0))


def test_gradcheck_converts_float32_inputs_to_float64():
    x = minidl.randn(3, requires_grad=True)
    assert minidl.gradcheck(lambda t: t.sin(), (x,))


def test_gradcheck_needs_an_input_that_requires_grad():
    with pytest.raises(ValueError, match="nothing to check"):
        minidl.gradcheck(lambda t: t * 2, (minidl.ones(2),))


def test_gradcheck_works_on_strided_views():
    base = np.random.default_rng(0).standard_normal((4, 6))
    view = base[::2, ::-3]
    assert not view.flags.c_contiguous
    assert minidl.gradcheck(lambda t: (t * t).sum(0), (minidl.from_numpy(view).requires_grad_(),))
