"""conv2d: gradients against finite differences over drawn shapes, strides, paddings, dilations and groups, for
each of the three algorithms; the errors for bad arguments."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minidl
import minidl.nn.functional as F
from tests.support import check_gradients, make_array

# A full Jacobian check runs one backward per output element: the shapes stay small.


@st.composite
def conv_args(draw, algorithm):
    """(x, weight, bias or None, kwargs) for conv2d, shaped so that ``algorithm`` is the one conv2d picks."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    layout = draw(st.sampled_from(["contiguous", "transposed", "strided", "reversed"]))
    n = draw(st.integers(1, 2))
    if algorithm == "depthwise":
        c = draw(st.integers(2, 3))
        groups, cout = c, c * draw(st.integers(1, 2))
    elif algorithm == "pointwise":
        c, groups, cout = draw(st.integers(1, 3)), 1, draw(st.integers(1, 3))
    else:
        groups = draw(st.integers(1, 2))
        per_group = 2 if groups > 1 else draw(st.integers(1, 2))  # one channel per group would be depthwise
        c, cout = groups * per_group, groups * draw(st.integers(1, 2))
    if algorithm == "pointwise":
        kernel, dilation, padding = (1, 1), (1, 1), 0
        stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    else:
        kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
        stride = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
        dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
        padding = draw(st.sampled_from([0, 1, (1, 0), (0, 2), "valid", "same"]))
        if padding == "same":
            stride = (1, 1)
        if algorithm == "im2col" and kernel == (1, 1) and groups == 1:
            padding = 1  # without padding conv2d would take the pointwise path
    extent = [d * (k - 1) + 1 for d, k in zip(dilation, kernel)]
    h, w = draw(st.integers(max(1, extent[0] - 2), 5)), draw(st.integers(max(1, extent[1] - 2), 5))
    if padding in (0, "valid"):
        h, w = max(h, extent[0]), max(w, extent[1])
    elif isinstance(padding, tuple):
        h, w = max(h, extent[0] - 2 * padding[0]), max(w, extent[1] - 2 * padding[1])
    elif padding == 1:
        h, w = max(h, extent[0] - 2), max(w, extent[1] - 2)
    x = make_array(rng, (n, c, h, w), np.float64, -1, 1, layout)
    weight = rng.uniform(-1, 1, (cout, c // groups, *kernel))
    bias = rng.uniform(-1, 1, cout) if draw(st.booleans()) else None
    return x, weight, bias, dict(stride=stride, padding=padding, dilation=dilation, groups=groups)


@pytest.mark.parametrize("algorithm", ["im2col", "pointwise", "depthwise"])
@given(data=st.data())
def test_conv2d_gradients(algorithm, data):
    x, weight, bias, kwargs = data.draw(conv_args(algorithm))
    probe = F.conv2d(minidl.from_numpy(x), minidl.from_numpy(weight).requires_grad_(), None, **kwargs)
    assert probe.grad_fn.plan.algorithm == algorithm
    if bias is None:
        check_gradients(lambda a, b: F.conv2d(a, b, None, **kwargs), x, weight)
    else:
        check_gradients(lambda a, b, c: F.conv2d(a, b, c, **kwargs), x, weight, bias)


def test_conv2d_unbatched_input_and_output_size():
    x = minidl.randn(3, 7, 6)
    w = minidl.randn(4, 3, 3, 2)
    out = F.conv2d(x, w, stride=(2, 1), padding=1, dilation=(1, 2))
    # Ho = (7 + 2 - 2 - 1) // 2 + 1 = 4, Wo = (6 + 2 - 2 - 1) // 1 + 1 = 6
    assert out.shape == (4, 4, 6)
    assert F.conv2d(minidl.randn(1, 3, 5, 4), minidl.randn(2, 3, 4, 3), padding="same").shape == (1, 2, 5, 4)


def test_conv2d_errors_name_expected_and_given():
    x = minidl.randn(2, 3, 8, 8)
    with pytest.raises(ValueError, match=r"expects 6 input channels, but the input \(2, 3, 8, 8\) has 3 channels"):
        F.conv2d(x, minidl.randn(4, 6, 3, 3))
    with pytest.raises(ValueError, match=r"groups=2 must divide both the input channels \(3\)"):
        F.conv2d(x, minidl.randn(4, 1, 3, 3), groups=2)
    with pytest.raises(ValueError, match=r"kernel \(9×9 .*larger than the padded input \(8×8"):
        F.conv2d(x, minidl.randn(4, 3, 9, 9))
    with pytest.raises(ValueError, match=r"3-D \(C, H, W\) or 4-D .* got shape \(8, 8\)"):
        F.conv2d(minidl.randn(8, 8), minidl.randn(4, 3, 3, 3))
    with pytest.raises(ValueError, match="needs stride 1"):
        F.conv2d(x, minidl.randn(4, 3, 3, 3), stride=2, padding="same")
    with pytest.raises(ValueError, match=r"bias must have shape \(4,\), got \(3,\)"):
        F.conv2d(x, minidl.randn(4, 3, 3, 3), minidl.randn(3))
    with pytest.raises(TypeError, match="the input is float32 but the weight is float64"):
        F.conv2d(x, minidl.randn(4, 3, 3, 3, dtype=minidl.float64))
    with pytest.raises(ValueError, match="stride must be integers >= 1"):
        F.conv2d(x, minidl.randn(4, 3, 3, 3), stride=0)


def test_conv2d_memory_chunks_agree_with_one_pass(monkeypatch):
    from minidl.backend import get_backend

    x = minidl.randn(5, 2, 6, 6, dtype=minidl.float64, requires_grad=True)
    w = minidl.randn(3, 2, 3, 3, dtype=minidl.float64, requires_grad=True)
    out = F.conv2d(x, w, padding=1)
    out.backward(minidl.ones_like(out))
    whole = (out.detach().numpy(), x.grad.numpy(), w.grad.numpy())
    monkeypatch.setattr(get_backend("cpu").convolution, "column_budget", 1)  # one image per chunk
    x.grad = w.grad = None
    out = F.conv2d(x, w, padding=1)
    out.backward(minidl.ones_like(out))
    for a, b in zip(whole, (out.detach().numpy(), x.grad.numpy(), w.grad.numpy())):
        np.testing.assert_allclose(a, b, rtol=1e-12)
