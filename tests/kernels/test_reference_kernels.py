"""The NumPy reference kernels are the truth the compiled ones are held to, so they are checked here against
PyTorch's own convolution, pooling and batch norm (float64) on drawn configurations."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st
from minidl_kernels import reference as ref


def _t(a):
    return torch.from_numpy(np.ascontiguousarray(a))


@st.composite
def conv_configs(draw, depthwise=False):
    """(x, weight, stride, padding (t, b, l, r), dilation) with a valid output size, float64."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw, dh, dw = (draw(st.integers(1, 3)) for _ in range(4))
    pad = tuple(draw(st.integers(0, 3)) for _ in range(4))
    h_min, w_min = max(1, dh * (kh - 1) + 1 - pad[0] - pad[1]), max(1, dw * (kw - 1) + 1 - pad[2] - pad[3])
    h, w = draw(st.integers(h_min, h_min + 6)), draw(st.integers(w_min, w_min + 6))
    oc = c * draw(st.integers(1, 3)) if depthwise else draw(st.integers(1, 4))
    x = rng.standard_normal((n, c, h, w))
    weight = rng.standard_normal((oc, 1 if depthwise else c, kh, kw))
    return x, weight, (sh, sw), pad, (dh, dw)


def _torch_conv(x, weight, stride, pad, dilation, groups=1):
    padded = TF.pad(_t(x), (pad[2], pad[3], pad[0], pad[1]))
    return TF.conv2d(padded, _t(weight), stride=stride, dilation=dilation, groups=groups)


@given(config=conv_configs())
def test_im2col_gemm_is_a_convolution_and_col2im_its_adjoint(config):
    x, weight, stride, pad, dilation = config
    kernel = weight.shape[2:]
    cols = ref.im2col(x, kernel, stride, pad, dilation)
    out = np.matmul(weight.reshape(weight.shape[0], -1), cols)
    expected = _torch_conv(x, weight, stride, pad, dilation)
    np.testing.assert_allclose(out.reshape(expected.shape), expected.numpy(), rtol=1e-10, atol=1e-10)
    # col2im is the adjoint of im2col: <im2col(x), g> == <x, col2im(g)> for any g.
    g = np.random.default_rng(0).standard_normal(cols.shape)
    assert np.isclose(np.vdot(cols, g), np.vdot(x, ref.col2im(g, x.shape, kernel, stride, pad, dilation)))


@given(config=conv_configs(depthwise=True))
def test_depthwise_kernels_match_torch(config):
    x, weight, stride, pad, dilation = config
    xt, wt = _t(x).requires_grad_(), _t(weight).requires_grad_()
    padded = TF.pad(xt, (pad[2], pad[3], pad[0], pad[1]))
    expected = TF.conv2d(padded, wt, stride=stride, dilation=dilation, groups=x.shape[1])
    out = ref.depthwise_conv2d_forward(x, weight, stride, pad, dilation)
    np.testing.assert_allclose(out, expected.detach().numpy(), rtol=1e-10, atol=1e-10)
    g = np.random.default_rng(1).standard_normal(out.shape)
    expected.backward(_t(g))
    dx = ref.depthwise_conv2d_backward_input(g, weight, x.shape, stride, pad, dilation)
    dw = ref.depthwise_conv2d_backward_weight(g, x, weight.shape, stride, pad, dilation)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(dw, wt.grad.numpy(), rtol=1e-10, atol=1e-10)


@st.composite
def pool_configs(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    h, w = draw(st.integers(kh, 9)), draw(st.integers(kw, 9))
    x = rng.standard_normal((draw(st.integers(1, 2)), draw(st.integers(1, 3)), h, w))
    return x, (kh, kw), (sh, sw), (ph, pw), draw(st.booleans())


@given(config=pool_configs(), dilation=st.sampled_from([(1, 1), (2, 1), (1, 2)]))
def test_max_pool_kernels_match_torch(config, dilation):
    x, kernel, stride, padding, ceil_mode = config
    if any(d * (k - 1) + 1 > s + 2 * p for d, k, s, p in zip(dilation, kernel, x.shape[2:], padding)):
        return  # the dilated window does not fit: PyTorch refuses it
    xt = _t(x).requires_grad_()
    expected, idx = TF.max_pool2d(xt, kernel, stride, padding, dilation, ceil_mode=ceil_mode, return_indices=True)
    out, indices = ref.max_pool2d_forward(x, kernel, stride, padding, dilation, tuple(expected.shape[2:]))
    np.testing.assert_array_equal(out, expected.detach().numpy())
    np.testing.assert_array_equal(indices, idx.numpy())
    g = np.random.default_rng(2).standard_normal(out.shape)
    expected.backward(_t(g))
    np.testing.assert_allclose(ref.max_pool2d_backward(g, indices, x.shape), xt.grad.numpy(), rtol=1e-12)


@given(config=pool_configs(), count_include_pad=st.booleans(), divisor=st.sampled_from([None, 3]))
def test_avg_pool_kernels_match_torch(config, count_include_pad, divisor):
    x, kernel, stride, padding, ceil_mode = config
    xt = _t(x).requires_grad_()
    expected = TF.avg_pool2d(xt, kernel, stride, padding, ceil_mode, count_include_pad, divisor)
    out_size = tuple(expected.shape[2:])
    out = ref.avg_pool2d_forward(x, kernel, stride, padding, out_size, count_include_pad, divisor)
    np.testing.assert_allclose(out, expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = np.random.default_rng(3).standard_normal(out.shape)
    expected.backward(_t(g))
    dx = ref.avg_pool2d_backward(g, x.shape, kernel, stride, padding, count_include_pad, divisor)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("affine", [True, False])
@given(shape=st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 7)), seed=st.integers(0, 2**32 - 1))
def test_batch_norm_kernels_match_torch(affine, shape, seed):
    rng = np.random.default_rng(seed)
    if shape[0] * shape[2] < 2:
        return  # batch statistics need two values per channel (PyTorch refuses one)
    x = rng.standard_normal(shape) * 3 + 1
    weight = rng.standard_normal(shape[1]) if affine else None
    bias = rng.standard_normal(shape[1]) if affine else None
    xt = _t(x).requires_grad_()
    wt = _t(weight).requires_grad_() if affine else None
    bt = _t(bias).requires_grad_() if affine else None
    expected = TF.batch_norm(xt, None, None, wt, bt, training=True, eps=1e-5)
    out, mean, invstd, var = ref.batch_norm_forward(x, weight, bias, 1e-5)
    np.testing.assert_allclose(var, x.var(axis=(0, 2)), rtol=1e-12)
    np.testing.assert_allclose(out, expected.detach().numpy(), rtol=1e-9, atol=1e-10)
    g = rng.standard_normal(shape)
    expected.backward(_t(g))
    dx, dw, db = ref.batch_norm_backward(g, x, weight, mean, invstd)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=1e-8, atol=1e-9)
    if affine:
        np.testing.assert_allclose(dw, wt.grad.numpy(), rtol=1e-9, atol=1e-10)
        np.testing.assert_allclose(db, bt.grad.numpy(), rtol=1e-9, atol=1e-10)
