"""The autograd engine: accumulation, retain_graph, freeing, grad mode, detach, diamonds, deep chains,
broadcast sums, in-place safety, grad(), retain_grad, and the errors for misuse."""

import gc

import numpy as np
import pytest

import minidl


def test_backward_on_a_scalar_and_with_an_explicit_gradient():
    x = minidl.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0, 6.0]
    x.grad = None
    (x * 3).backward(minidl.tensor([1.0, 0.0, 2.0]))
    assert x.grad.tolist() == [3.0, 0.0, 6.0]
    x.grad = None
    (x * 3).backward(np.ones(3))
    assert x.grad.tolist() == [3.0, 3.0, 3.0]


def test_backward_on_a_non_scalar_without_gradient_says_so():
    x = minidl.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"one-element output.*shape \(2, 3\).*gradient="):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match=r"gradient has shape \(3,\) but the tensor has shape \(2, 3\)"):
        (x * 2).backward(minidl.ones(3))


def test_backward_without_a_graph_says_so():
    with pytest.raises(RuntimeError, match="does not require grad"):
        minidl.ones(2).sum().backward()
    x = minidl.ones(2, requires_grad=True)
    with minidl.no_grad():
        y = (x * 2).sum()
    with pytest.raises(RuntimeError, match="no_grad"):
        y.backward()


def test_gradients_accumulate_into_leaves_only():
    x = minidl.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.sum().backward(retain_graph=True)
    y.sum().backward()
    assert x.grad.tolist() == [4.0, 4.0]  # accumulated over two calls
    assert y.grad is None  # non-leaf: no stale gradient kept
    assert x.is_leaf and not y.is_leaf and y.grad_fn is not None


def test_leaf_gradient_is_owned_not_shared():
    a = minidl.ones(2, requires_grad=True)
    b = minidl.ones(2, requires_grad=True)
    (a + b).sum().backward()  # add passes one gradient array to both inputs
    with minidl.no_grad():
        a.grad.mul_(10)
    assert b.grad.tolist() == [1.0, 1.0]


def test_graph_is_freed_after_backward_unless_retained():
    x = minidl.ones(2, requires_grad=True)
    y = (x.exp() * 3).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        y.backward()
    z = (x.exp() * 3).sum()
    z.backward(retain_graph=True)
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * np.e * 3, rtol=1e-6)


def test_saved_arrays_are_released_after_backward():
    x = minidl.ones(1000, requires_grad=True)
    e = x.exp()
    node = e.grad_fn
    loss = e.sum()
    assert node.out.shape == (1000,)  # exp saved its output for backward
    loss.backward()
    assert node.inputs is None and not hasattr(node, "out")


def test_no_grad_as_context_and_decorator_and_enable_grad():
    x = minidl.ones(2, requires_grad=True)
    with minidl.no_grad():
        assert not minidl.is_grad_enabled()
        assert not (x * 2).requires_grad
        with minidl.enable_grad():
            assert (x * 2).requires_grad
    assert minidl.is_grad_enabled()

    @minidl.no_grad()
    def predict(t):
        return t * 2

    assert not predict(x).requires_grad and minidl.is_grad_enabled()
    with minidl.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad


def test_no_grad_restores_the_mode_after_an_exception():
    with pytest.raises(ZeroDivisionError), minidl.no_grad():
        1 / 0
    assert minidl.is_grad_enabled()


def test_detach_and_requires_grad_():
    x = minidl.ones(2, requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.is_leaf
    y = (d * x).sum()
    y.backward()
    assert x.grad.tolist() == [2.0, 2.0]
    z = minidl.ones(2).requires_grad_()
    assert z.requires_grad
    with pytest.raises(RuntimeError, match="detach"):
        (z * 2).requires_grad_(False)


def test_diamond_graph_sums_both_paths():
    x = minidl.tensor([2.0], requires_grad=True)
    a = x * 3
    b = x.exp()
    y = a * b + a  # x reaches y through a twice and through b once
    y.backward()
    expected = 3 * np.exp(2.0) + 3 * 2.0 * np.exp(2.0) + 3
    assert x.grad.item() == pytest.approx(expected, rel=1e-6)


def test_tensor_used_many_times():
    x = minidl.tensor([3.0], requires_grad=True)
    y = x * x * x + x + x
    y.backward()
    assert x.grad.item() == pytest.approx(3 * 9 + 2)


def test_a_chain_of_ten_thousand_ops_backpropagates():
    x = minidl.tensor([1.0], dtype=minidl.float64, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.backward()
    assert x.grad.item() == pytest.approx(1.0001**10_000, rel=1e-9)
    del y
    # A long chain that is never backpropagated is freed without recursion errors too.
    z = x
    for _ in range(100_000):
        z = z + 1.0
    del z
    gc.collect()


def test_broadcast_gradients_sum_back_to_the_input_shape():
    a = minidl.ones(3, 1, requires_grad=True)
    b = minidl.ones(4, requires_grad=True)
    c = minidl.tensor(2.0, requires_grad=True)
    (a * b * c).sum().backward()
    assert a.grad.shape == (3, 1) and a.grad.tolist() == [[8.0]] * 3
    assert b.grad.shape == (4,) and b.grad.tolist() == [6.0] * 4
    assert c.grad.shape == () and c.grad.item() == 12.0


def test_inplace_change_of_a_saved_tensor_is_detected():
    w = minidl.ones(3, requires_grad=True)
    x = minidl.ones(3)
    y = (w * x).sum()  # Mul saved x
    x.add_(1)
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()
    # An optimizer-style update between forward and backward is caught too.
    y = (w * w).sum()
    with minidl.no_grad():
        w.sub_(0.1)
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()
    # Writing through a view bumps the version of its base.
    base = minidl.ones(4)
    y = (w.sum() * base).sum()
    with minidl.no_grad():
        base[1:3].mul_(2)
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def test_inplace_change_of_an_unsaved_input_is_allowed():
    w = minidl.ones(3, requires_grad=True)
    x = minidl.ones(3)
    y = (w + x).sum()  # Add saves nothing
    x.add_(1)
    y.backward()
    assert w.grad.tolist() == [1.0, 1.0, 1.0]


def test_grad_returns_without_accumulating():
    x = minidl.tensor([1.0, 2.0], requires_grad=True)
    h = x * x
    y = (h * 3).sum()
    gx, gh = minidl.grad(y, [x, h], retain_graph=True)
    assert gx.tolist() == [6.0, 12.0] and gh.tolist() == [3.0, 3.0]
    assert x.grad is None
    unused = minidl.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="allow_unused"):
        minidl.grad(y, [unused], retain_graph=True)
    assert minidl.grad(y, [unused], allow_unused=True) == (None,)
    with pytest.raises(RuntimeError, match="does not require grad"):
        minidl.grad(y, [minidl.ones(2)])


def test_retain_grad_keeps_a_non_leaf_gradient():
    x = minidl.ones(2, requires_grad=True)
    h = x * 2
    h.retain_grad()
    (h * h).sum().backward()
    assert h.grad.tolist() == [4.0, 4.0]


def test_backward_through_a_leaf_root():
    x = minidl.tensor(3.0, requires_grad=True)
    x.backward()
    assert x.grad.item() == 1.0


def test_mixing_devices_is_refused_with_both_names():
    class OtherBackend(minidl.backend.CPUBackend):
        name = "other"

    minidl.backend.register_backend(OtherBackend())
    try:
        a = minidl.ones(2, requires_grad=True)
        b = a.to("other")
        assert b.device == "other" and b.requires_grad
        with pytest.raises(RuntimeError, match="same device, got cpu and other"):
            a + b
        with pytest.raises(RuntimeError, match="same device"):
            minidl.matmul(a, b)
        (b * 2).sum().backward()  # the gradient travels back across the transfer
        assert a.grad.tolist() == [2.0, 2.0] and a.grad.device == "cpu"
    finally:
        minidl.backend.unregister_backend("other")


def test_integer_results_never_require_grad():
    x = minidl.ones(3, requires_grad=True)
    assert not x.argmax().requires_grad
    assert not (x > 0).requires_grad
    assert not x.long().requires_grad


def test_grad_mode_is_per_thread():
    """A no_grad block in another thread (a data-loading thread) leaves this thread recording, as in PyTorch."""
    import threading

    inside, release = threading.Event(), threading.Event()

    def worker():
        with minidl.no_grad():
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=worker)
    thread.start()
    inside.wait(5)
    x = minidl.ones(2, requires_grad=True)
    assert minidl.is_grad_enabled() and (x * 2).requires_grad
    release.set()
    thread.join()
    with minidl.no_grad():
        seen = []
        t = threading.Thread(target=lambda: seen.append(minidl.is_grad_enabled()))
        t.start()
        t.join()
        assert seen == [True] and not minidl.is_grad_enabled()
