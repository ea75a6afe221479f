"""Backends and the kernel switch: every implementation gives the same op results; the switch and its errors."""

import numpy as np
import pytest

import minidl
import minidl.nn.functional as F
from minidl.backend import get_backend, use_kernels


def _gradient_of_repeated_indexing():
    x = minidl.tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
    idx = minidl.tensor([0, 2, 2, 0, 1, 2])
    (x[idx] * minidl.arange(24, dtype=minidl.float32).reshape(6, 4)).sum().backward()
    return x.grad.numpy()


def _gradient_of_reflect_pad():
    x = minidl.tensor(np.arange(10.0).reshape(2, 5), requires_grad=True)
    (F.pad(x, (3, 2), mode="reflect") ** 2).sum().backward()
    return x.grad.numpy()


@pytest.mark.parametrize("impl", ["reference", "numba", "cython"])
def test_every_scatter_add_implementation_gives_the_same_gradients(impl):
    expected = (_gradient_of_repeated_indexing(), _gradient_of_reflect_pad())
    with use_kernels(impl, "scatter_add"):
        assert get_backend("cpu").kernels.choice("scatter_add") == impl
        got = (_gradient_of_repeated_indexing(), _gradient_of_reflect_pad())
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-6)


def test_use_kernels_restores_the_previous_choice():
    table = get_backend("cpu").kernels
    before = {name: table.choice(name) for name in table.names()}
    with use_kernels("reference"):
        assert all(table.choice(name) == "reference" for name in table.names())
        assert table.scatter_add.__module__.startswith("minidl_kernels.reference")
    assert {name: table.choice(name) for name in table.names()} == before


def test_use_kernels_errors():
    with pytest.raises(ValueError, match="no 'cython' implementation.*reference, numba"):
        use_kernels("cython", "erf")
    with pytest.raises(ValueError, match="no kernel named 'winograd'"):
        use_kernels("numba", "winograd")
    with pytest.raises(ValueError, match="no kernel has a 'fortran'"):
        use_kernels("fortran")
    with pytest.raises(AttributeError, match="no kernel named"):
        get_backend("cpu").kernels.not_a_kernel


def test_environment_variable_forces_an_implementation(monkeypatch):
    monkeypatch.setenv("MINIDL_KERNELS", "reference")
    backend = minidl.backend.CPUBackend()
    assert backend.kernels.choice("scatter_add") == "reference"
    assert backend.kernels.choice("erf") == "reference"


@pytest.mark.parametrize(
    ("kernel", "stride", "padding", "groups", "algorithm"),
    [
        (3, 1, 1, 1, "im2col"),
        (3, 2, 0, 1, "im2col"),
        (3, 1, 2, 2, "im2col"),
        (1, 1, 0, 1, "auto"),
        (1, 2, 0, 1, "auto"),
    ],
)
def test_wide_and_per_image_products_agree(kernel, stride, padding, groups, algorithm):
    """Small output maps run im2col's (and 1×1 convolutions') GEMM as one wide product per chunk; larger ones, one
    product per image. Both give the same convolution and gradients (float64)."""
    convolution = get_backend("cpu").convolution
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4, 7, 6))
    w = rng.standard_normal((6, 4 // groups, kernel, kernel))
    g = None
    results = []
    saved = convolution.wide_length
    try:
        for wide_length in (0, 1_000):
            convolution.wide_length = wide_length
            xm, wm = minidl.tensor(x, requires_grad=True), minidl.tensor(w, requires_grad=True)
            with use_kernels(algorithm, "conv2d"):
                out = F.conv2d(xm, wm, stride=stride, padding=padding, groups=groups)
            assert out.grad_fn.plan.algorithm == ("pointwise" if kernel == 1 else "im2col")
            g = rng.standard_normal(out.shape) if g is None else g
            out.backward(minidl.tensor(g))
            results.append([out.detach().numpy(), xm.grad.numpy(), wm.grad.numpy()])
    finally:
        convolution.wide_length = saved
    for per_image, wide in zip(*results):
        np.testing.assert_allclose(wide, per_image, rtol=1e-12, atol=1e-12)
