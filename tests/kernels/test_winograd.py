"""Winograd F(2×2, 3×3) and F(4×4, 3×3): the Numba transforms against the NumPy reference, the reference's algebra
against the direct convolution, the convolution through Winograd against im2col and PyTorch (float32 error
bounded), its gradients by finite differences, and the algorithm switch."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from minidl_kernels import reference
from minidl_kernels.numba import winograd as numba_winograd

import minidl
import minidl.nn.functional as F
from minidl.backend import get_backend, use_kernels

PADDINGS = st.tuples(*[st.integers(0, 2)] * 4)


@st.composite
def transform_cases(draw):
    """(x (N, C, H, W), m, padding) with an output of at least one pixel."""
    pads = draw(PADDINGS)
    h = draw(st.integers(max(1, 3 - pads[0] - pads[1]), 9))
    w = draw(st.integers(max(1, 3 - pads[2] - pads[3]), 9))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), h, w)
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    x = np.random.default_rng(draw(st.integers(0, 2**16))).standard_normal(shape).astype(dtype)
    return x, draw(st.sampled_from([2, 4])), pads


@settings(max_examples=40, deadline=None)
@given(transform_cases())
def test_numba_transforms_match_the_reference(case):
    x, m, pads = case
    tol = 1e-12 if x.dtype == np.float64 else 3e-5
    v = numba_winograd.winograd_input_transform(x, m, pads)
    np.testing.assert_allclose(v, reference.winograd_input_transform(x, m, pads), rtol=tol, atol=tol)
    n, c, h, w = x.shape
    out_shape = (n, c, h + pads[0] + pads[1] - 2, w + pads[2] + pads[3] - 2)
    tiles = np.random.default_rng(1).standard_normal(v.shape).astype(x.dtype)
    np.testing.assert_allclose(
        numba_winograd.winograd_output_transform(tiles, m, out_shape),
        reference.winograd_output_transform(tiles, m, out_shape),
        rtol=tol,
        atol=tol,
    )
    g = np.random.default_rng(2).standard_normal(out_shape).astype(x.dtype)
    np.testing.assert_allclose(
        numba_winograd.winograd_output_transform_adjoint(g, m),
        reference.winograd_output_transform_adjoint(g, m),
        rtol=tol,
        atol=tol,
    )


def _direct(x: np.ndarray, w: np.ndarray, pads: tuple[int, int, int, int]) -> np.ndarray:
    """The stride-1 cross-correlation by definition, float64."""
    padded = np.pad(x, ((0, 0), (0, 0), pads[:2], pads[2:]))
    ho, wo = padded.shape[2] - 2, padded.shape[3] - 2
    out = np.zeros((x.shape[0], w.shape[0], ho, wo))
    for i in range(3):
        for j in range(3):
            out += np.einsum("nchw,oc->nohw", padded[:, :, i : i + ho, j : j + wo], w[:, :, i, j])
    return out


@settings(max_examples=20, deadline=None)
@given(transform_cases(), st.integers(1, 4))
def test_reference_algebra_is_the_convolution_and_its_adjoints(case, cout):
    """Forward, the weight gradient (dU = dM Vᵀ, dw = Gᵀ dU G) and the input gradient (the turned filters) of the
    reference transforms equal the direct convolution and its adjoints in float64."""
    x, m, pads = case
    x = x.astype(np.float64)
    w = np.random.default_rng(3).standard_normal((cout, x.shape[1], 3, 3))
    v = reference.winograd_input_transform(x, m, pads)
    y = _direct(x, w, pads)
    got = reference.winograd_output_transform(reference.winograd_filter_transform(w, m) @ v, m, y.shape)
    np.testing.assert_allclose(got, y, atol=1e-10)
    g = np.random.default_rng(4).standard_normal(y.shape)
    grad_u = reference.winograd_output_transform_adjoint(g, m) @ np.swapaxes(v, 1, 2)
    grad_w = reference.winograd_filter_transform_adjoint(grad_u, m)
    patches = np.pad(x, ((0, 0), (0, 0), pads[:2], pads[2:]))
    ho, wo = y.shape[2:]
    expected_w = np.stack(
        [np.einsum("nohw,nchw->oc", g, patches[:, :, i : i + ho, j : j + wo]) for i in range(3) for j in range(3)],
        axis=-1,
    ).reshape(w.shape)
    np.testing.assert_allclose(grad_w, expected_w, atol=1e-10)
    turned = np.ascontiguousarray(np.swapaxes(w[:, :, ::-1, ::-1], 0, 1))
    turned_pads = [2 - p for p in pads]
    grad_m = reference.winograd_filter_transform(turned, m) @ reference.winograd_input_transform(g, m, turned_pads)
    grad_x = reference.winograd_output_transform(grad_m, m, x.shape)
    np.testing.assert_allclose(grad_x, _direct(g, turned, tuple(2 - p for p in pads)), atol=1e-10)


@pytest.mark.parametrize("algorithm", ["winograd2", "winograd4"])
def test_conv2d_by_winograd_has_finite_difference_gradients(algorithm):
    rng = np.random.default_rng(5)
    x = minidl.tensor(rng.standard_normal((2, 3, 6, 5)), requires_grad=True)
    w = minidl.tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True)
    b = minidl.tensor(rng.standard_normal(4), requires_grad=True)
    with use_kernels(algorithm, "conv2d"):
        assert F.conv2d(x, w, b, padding=(1, 2)).grad_fn.plan.algorithm == algorithm
        assert minidl.gradcheck(lambda x, w, b: F.conv2d(x, w, b, padding=(1, 2)), (x, w, b))


@pytest.mark.parametrize(("algorithm", "bound"), [("im2col", 2e-6), ("winograd2", 2e-6), ("winograd4", 2e-5)])
def test_float32_error_against_float64_truth_and_pytorch(algorithm, bound):
    """Winograd's float32 error, relative to the largest value, on a ResNet-like layer: F(2×2) is as exact as the
    direct algorithm (about 3e-7 measured), F(4×4) about 20x worse (about 6e-6 measured); both agree with
    PyTorch's float32 result within the 1e-5 of the op tests."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    x, w = rng.standard_normal((2, 64, 16, 16)), rng.standard_normal((64, 64, 3, 3)) / 24
    g = rng.standard_normal((2, 64, 16, 16))
    truth, theirs = [], []
    for dtype, into in ((torch.float64, truth), (torch.float32, theirs)):
        tx = torch.tensor(x, dtype=dtype, requires_grad=True)
        tw = torch.tensor(w, dtype=dtype, requires_grad=True)
        out = torch.nn.functional.conv2d(tx, tw, padding=1)
        out.backward(torch.tensor(g, dtype=dtype))
        into += [out.detach().numpy(), tx.grad.numpy(), tw.grad.numpy()]
    mx = minidl.tensor(x.astype(np.float32), requires_grad=True)
    mw = minidl.tensor(w.astype(np.float32), requires_grad=True)
    with use_kernels(algorithm, "conv2d"):
        out = F.conv2d(mx, mw, padding=1)
        out.backward(minidl.tensor(g.astype(np.float32)))
    ours = [out.detach().numpy(), mx.grad.numpy(), mw.grad.numpy()]
    for got, exact, torch_value in zip(ours, truth, theirs):
        scale = np.abs(exact).max()
        assert np.abs(got - exact).max() / scale < bound
        assert np.abs(got - torch_value).max() / scale < 1e-5


@pytest.mark.parametrize("im2col", ["numba", "cython"])
def test_auto_picks_winograd_where_it_measured_faster(im2col):
    convolution = get_backend("cpu").convolution
    with use_kernels(im2col, "im2col"):
        _check_choices(convolution)


def _check_choices(convolution):

    def chosen(c, cout, size, stride=(1, 1), padding=(1, 1, 1, 1), kernel=3, groups=1):
        weight_shape = (cout, c // groups, kernel, kernel)
        return convolution.choose(c, weight_shape, stride, padding, (1, 1), groups, (size, size))

    assert chosen(64, 64, 32) == "winograd4"
    assert chosen(128, 128, 16) == "winograd4"
    assert chosen(256, 256, 8) == "winograd4"
    assert chosen(32, 32, 32) == "winograd4"
    assert chosen(512, 512, 4) == "im2col"  # one tile per 4×4 map: F(4×4) measured 1.5× slower
    assert chosen(16, 16, 32) == "im2col"  # few channels: the transforms cost more than they save
    assert chosen(3, 64, 32) == "im2col"
    assert chosen(64, 64, 16, stride=(2, 2)) == "im2col"
    assert chosen(64, 64, 16, kernel=5) == "im2col"
    assert chosen(64, 64, 16, padding=(3, 3, 3, 3)) == "im2col"
    assert chosen(64, 64, 16, groups=2) == "im2col"
    with use_kernels("winograd", "conv2d"):
        assert chosen(16, 16, 8) == "winograd4"
        assert chosen(16, 16, 3) == "winograd2"
        assert chosen(64, 64, 16, stride=(2, 2)) == "im2col"  # forced only where Winograd applies
    with use_kernels("im2col", "conv2d"):
        assert chosen(64, 64, 32) == "im2col"
        assert chosen(64, 64, 32, kernel=1, padding=(0, 0, 0, 0)) == "im2col"
    assert convolution.algorithm == "auto"


def test_algorithm_switch_errors():
    with pytest.raises(ValueError, match="algorithm of .* expected, got 'fft'"):
        use_kernels("fft", "conv2d")
    with pytest.raises(ValueError, match="'conv2d' takes an algorithm and is chosen alone"):
        use_kernels("winograd4", "conv2d", "im2col")
    assert get_backend("cpu").convolution.algorithm == "auto"
