"""Tensor creation, dtypes, conversions, repr, seeding, in-place ops and the errors for bad input."""

import os
import subprocess
import sys

import numpy as np
import pytest

import minidl
from tests.conftest import CUDA_ON_GPU


def test_tensor_dtype_defaults():
    assert minidl.tensor([1.0, 2.0]).dtype == minidl.float32
    assert minidl.tensor(np.zeros(3)).dtype == minidl.float64  # NumPy data keeps its dtype, as in PyTorch
    assert minidl.tensor(np.zeros(3), dtype=minidl.float64).dtype == minidl.float64
    assert minidl.tensor([1, 2]).dtype == minidl.int64
    assert minidl.tensor([True, False]).dtype == minidl.bool_
    assert minidl.tensor(np.zeros(2, dtype=np.uint8)).dtype == minidl.uint8
    assert minidl.tensor(np.zeros(2, dtype=np.int32)).dtype == minidl.int32
    assert minidl.tensor([1, 2], dtype="float64").dtype == minidl.float64
    assert minidl.tensor([1, 2], dtype=float).dtype == minidl.float64
    assert minidl.tensor(3.5).shape == ()


def test_tensor_copies_and_from_numpy_shares():
    a = np.arange(4.0)
    t = minidl.tensor(a)
    a[0] = 99
    assert t[0].item() == 0.0
    s = minidl.from_numpy(a)
    assert s.dtype == minidl.float64  # from_numpy keeps the dtype
    a[1] = 42
    assert s[1].item() == 42
    assert minidl.tensor(t).data is not t.data


def test_unsupported_dtypes_are_refused():
    with pytest.raises(TypeError, match="unsupported dtype float16"):
        minidl.tensor(np.zeros(2, dtype=np.float16))
    with pytest.raises(TypeError, match="unsupported dtype complex128"):
        minidl.tensor([1 + 2j])
    with pytest.raises(TypeError, match="unsupported"):
        minidl.tensor(["a", "b"])
    with pytest.raises(TypeError, match="unsupported dtype float16"):
        minidl.zeros(2, dtype=np.float16)
    with pytest.raises(TypeError, match="unsupported dtype float16"):
        minidl.from_numpy(np.zeros(2, dtype=np.float16))
    with pytest.raises(ValueError, match="regular n-dimensional array"):
        minidl.tensor([[1, 2], [3]])
    with pytest.raises(TypeError, match="numpy.ndarray"):
        minidl.from_numpy([1, 2])


def test_requires_grad_only_on_floats():
    with pytest.raises(TypeError, match="only floating-point tensors can require gradients, this one is int64"):
        minidl.tensor([1, 2], requires_grad=True)
    t = minidl.tensor([1, 2])
    with pytest.raises(TypeError, match="int64"):
        t.requires_grad_()
    with pytest.raises(TypeError, match="int64"):
        t.requires_grad = True
    assert minidl.tensor([1.0], requires_grad=True).requires_grad


def test_creation_functions():
    assert minidl.zeros(2, 3).shape == (2, 3) and minidl.zeros((2, 3)).shape == (2, 3)
    assert minidl.ones(4).tolist() == [1.0] * 4
    assert minidl.empty(2, 2).dtype == minidl.float32
    assert minidl.full((2,), 7).dtype == minidl.int64
    assert minidl.full((2,), 7.5).tolist() == [7.5, 7.5]
    assert minidl.full((1,), True).dtype == minidl.bool_
    assert minidl.arange(5).tolist() == [0, 1, 2, 3, 4] and minidl.arange(5).dtype == minidl.int64
    assert minidl.arange(1, 2, 0.5).dtype == minidl.float32
    assert minidl.eye(3).numpy().trace() == 3 and minidl.eye(2, 3).shape == (2, 3)
    assert minidl.rand(3, 4).shape == (3, 4) and minidl.randn(2, dtype=minidl.float64).dtype == minidl.float64
    x = minidl.randn(2, 3, dtype=minidl.float64)
    assert minidl.zeros_like(x).dtype == minidl.float64 and minidl.ones_like(x).shape == (2, 3)
    assert minidl.full_like(x, 2.0).tolist() == [[2.0] * 3] * 2
    assert minidl.randint(0, 10, (5,)).dtype == minidl.int64
    with pytest.raises(ValueError, match="non-negative integers"):
        minidl.zeros(-1)
    with pytest.raises(ValueError, match="step"):
        minidl.arange(0, 5, 0)


def test_manual_seed_makes_random_ops_reproducible():
    minidl.manual_seed(123)
    a = (minidl.rand(3).numpy(), minidl.randn(2, 2).numpy(), minidl.randint(0, 100, (4,)).numpy())
    minidl.manual_seed(123)
    b = (minidl.rand(3).numpy(), minidl.randn(2, 2).numpy(), minidl.randint(0, 100, (4,)).numpy())
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    minidl.manual_seed(124)
    assert not np.array_equal(minidl.rand(3).numpy(), a[0])
    with pytest.raises(ValueError, match="non-negative integer"):
        minidl.manual_seed(-1)


def test_properties_and_conversions():
    t = minidl.arange(6, dtype=minidl.float32).reshape(2, 3)
    assert t.shape == (2, 3) and t.ndim == 2 and t.dim() == 2
    assert t.size() == (2, 3) and t.size(1) == 3 and t.size(-1) == 3 and t.numel() == 6
    assert t.T.shape == (3, 2) and t.T.tolist() == [[0, 3], [1, 4], [2, 5]]
    assert t.device == "cpu" and t.device == minidl.device("cpu") and repr(t.device) == "device(type='cpu')"
    assert t[1, 2].item() == 5.0 and isinstance(t[1, 2].item(), float)
    assert float(t[0, 1]) == 1.0 and int(t[1, 1]) == 4
    assert len(t) == 2 and [r.shape for r in t] == [(3,), (3,)]
    assert t.double().dtype == minidl.float64 and t.long().dtype == minidl.int64 and t.int().dtype == minidl.int32
    assert t.to(minidl.float64).dtype == minidl.float64 and t.to("cpu") is t
    assert t.to("float64").dtype == minidl.float64
    assert np.asarray(t).shape == (2, 3)
    with pytest.raises(ValueError, match="6 elements"):
        t.item()
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(t)


def test_numpy_of_a_tensor_that_requires_grad_is_refused():
    t = minidl.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"detach\(\).numpy\(\)"):
        t.numpy()
    assert t.detach().numpy().tolist() == [1.0, 1.0]


def test_repr():
    assert repr(minidl.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(minidl.tensor([0.5, 2.0], requires_grad=True)) == "tensor([0.5000, 2.0000], requires_grad=True)"
    assert repr(minidl.tensor([1, 2], dtype=minidl.int32)) == "tensor([1, 2], dtype=int32)"
    assert repr(minidl.tensor([1.0], dtype=minidl.float64)) == "tensor([1.], dtype=float64)"
    x = minidl.ones(2, requires_grad=True)
    assert repr(x * 2) == "tensor([2., 2.], grad_fn=<MulBackward>)"
    assert repr(minidl.ones(2, 2)) == "tensor([[1., 1.],\n        [1., 1.]])"


def test_devices_that_do_not_exist_are_refused():
    with pytest.raises(RuntimeError, match="device 'tpu' is not available; available devices: cpu"):
        minidl.ones(2).to("tpu")
    with pytest.raises(RuntimeError, match="not available"):
        minidl.zeros(2, device="tpu")
    with pytest.raises(ValueError, match="expected 'type' or 'type:index'"):
        minidl.device("cuda:x")


@pytest.mark.skipif(CUDA_ON_GPU, reason="this machine has a GPU: cuda is available")
def test_without_a_gpu_or_the_simulator_cuda_says_why_it_is_unavailable():
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    code = "import minidl\nprint(minidl.cuda.is_available())\nminidl.ones(2).to('cuda')"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "False"
    assert "RuntimeError: device 'cuda' is not available: " in done.stderr
    assert "NUMBA_ENABLE_CUDASIM=1" in done.stderr  # the way to run it here anyway


def test_inplace_ops_under_no_grad_and_their_guards():
    w = minidl.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        w += 1
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        w[0] = 5.0
    with minidl.no_grad():
        w -= 0.5 * minidl.ones(3)
        w.mul_(2)
    assert w.tolist() == [1.0, 1.0, 1.0] and w.requires_grad and w.is_leaf
    y = w * 2
    with pytest.raises(RuntimeError, match="out-of-place"):
        y.add_(1)
    plain = minidl.zeros(3)
    plain += 1
    plain[1] = 5
    plain.clamp_(0, 2)
    assert plain.tolist() == [1.0, 2.0, 1.0]
    with pytest.raises(RuntimeError, match="value requires grad"):
        plain.add_(w)
    with pytest.raises(ValueError, match=r"shape \(4,\) cannot be written into a tensor of shape \(3,\)"):
        plain.add_(minidl.ones(4))
    plain.zero_()
    assert plain.tolist() == [0.0, 0.0, 0.0]
    plain.fill_(2).copy_(minidl.tensor([1.0, 2.0, 3.0]))
    assert plain.tolist() == [1.0, 2.0, 3.0]
    minidl.manual_seed(0)
    assert -1 <= plain.uniform_(-1, 1).min().item() and plain.normal_().shape == (3,)


def test_hash_is_identity_and_equality_is_elementwise():
    a, b = minidl.ones(2), minidl.ones(2)
    assert len({a, b}) == 2
    assert (a == b).tolist() == [True, True]


def test_deepcopy_copies_leaves_and_refuses_graph_nodes():
    import copy

    w = minidl.ones(3, requires_grad=True)
    (w * 2).sum().backward()
    twin = copy.deepcopy(w)
    assert twin.requires_grad and twin.grad.tolist() == [2.0, 2.0, 2.0]
    with minidl.no_grad():
        twin.add_(1)
    assert w.tolist() == [1.0, 1.0, 1.0] and twin.tolist() == [2.0, 2.0, 2.0]
    with pytest.raises(RuntimeError, match="only leaf tensors support deepcopy"):
        copy.deepcopy(w * 2)
