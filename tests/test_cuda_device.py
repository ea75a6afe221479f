"""The cuda device end to end: moving tensors and modules, errors that name both devices, saving and loading, and a
small CNN whose outputs and gradients on cuda equal the CPU's.

In CI these run on Numba's CUDA simulator (tests/conftest.py) at tiny sizes; with MINIDL_CUDA_TESTS=gpu they run on
the GPU, and then every zoo model is compared with the CPU too."""

from __future__ import annotations

import numpy as np
import pytest

import minidl
import minidl.nn.functional as F
from minidl import nn, optim
from minidl.backend import get_backend, use_kernels
from tests.conftest import CUDA_ON_GPU

pytestmark = pytest.mark.skipif(
    not minidl.cuda.is_available(), reason="no CUDA device here (only with MINIDL_CUDA_TESTS=gpu on a GPU-less host)"
)


def test_the_device_is_what_the_test_run_asked_for():
    assert minidl.cuda.is_simulated() == (not CUDA_ON_GPU)
    assert minidl.cuda.device_count() >= 1
    assert get_backend("cuda") is get_backend("cuda:0") is get_backend(minidl.device("cuda", 0))
    with pytest.raises(RuntimeError, match="minidl drives one device of each type, cuda:0"):
        get_backend("cuda:1")


def test_tensors_move_and_copy_between_host_and_device():
    x = minidl.randn(3, 4)
    y = x.cuda()
    assert y.device == "cuda" and str(y.device) == "cuda:0" and y.device != "cpu"
    assert isinstance(y.data, get_backend("cuda").array_type)
    np.testing.assert_array_equal(y.numpy(), x.numpy())
    host = y.numpy()
    host[0, 0] = 100.0  # a copy: the device keeps its value
    assert y[0, 0].item() == x[0, 0].item()
    assert y.to("cpu").device == "cpu" and y.cpu().device == "cpu" and y.to("cuda") is y
    z = minidl.zeros(2, 3, device="cuda")
    assert z.device == "cuda" and z.sum().item() == 0.0
    # Random tensors are drawn on the host and copied: the same numbers as on the CPU.
    minidl.manual_seed(3)
    on_gpu = minidl.randn(5, device="cuda")
    minidl.manual_seed(3)
    np.testing.assert_array_equal(on_gpu.numpy(), minidl.randn(5).numpy())
    assert "device='cuda:0'" in repr(on_gpu)


def test_gradients_cross_the_device_boundary():
    x = minidl.randn(4, requires_grad=True)
    (x.cuda() * 3).sum().backward()
    assert x.grad.device == "cpu"
    np.testing.assert_allclose(x.grad.numpy(), np.full(4, 3.0))


def test_mixing_devices_is_one_error_naming_both_and_the_fix():
    with pytest.raises(RuntimeError, match=r"expected all tensors on the same device, got cpu and cuda:0; move one"):
        minidl.ones(2) + minidl.ones(2, device="cuda")
    with pytest.raises(RuntimeError, match=r"the tensor is on cuda:0 but the value is on cpu"):
        minidl.zeros(2, device="cuda").add_(minidl.ones(2))


def test_modules_optimizers_and_checkpoints_follow_the_device(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2)).cuda()
    assert all(t.device == "cuda" for t in (*model.parameters(), *model.buffers()))
    opt = optim.Adam(model.parameters(), lr=0.1)
    x, y = minidl.randn(6, 3, device="cuda"), minidl.randint(0, 2, (6,), device="cuda")
    F.cross_entropy(model(x), y).backward()
    opt.step()
    assert all(s.device == "cuda" for st in opt.state.values() for s in st.values() if isinstance(s, minidl.Tensor))
    minidl.save(model.state_dict(), tmp_path / "m.npz")
    on_cpu = minidl.load(tmp_path / "m.npz")
    on_gpu = minidl.load(tmp_path / "m.npz", map_location="cuda")
    for key, value in model.state_dict().items():
        assert on_cpu[key].device == "cpu" and on_gpu[key].device == "cuda"
        np.testing.assert_array_equal(on_cpu[key].numpy(), value.numpy())


def small_cnn() -> nn.Module:
    """conv, batch norm, ReLU, max and average pooling, a depthwise conv, dropout and a linear layer."""
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(4, 8, 3, padding=1, groups=4),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Dropout(0.25),
        nn.Linear(8 * 2 * 2, 5),
    )


def run_step(model: nn.Module, x: minidl.Tensor, y: minidl.Tensor, seed: int) -> tuple[np.ndarray, dict]:
    minidl.manual_seed(seed)  # the same dropout masks on both devices
    out = model(x)
    out = out[0] if isinstance(out, tuple) else out  # GoogLeNet's auxiliary outputs in training
    F.cross_entropy(out, y).backward()
    return out.detach().numpy(), {name: p.grad.numpy() for name, p in model.named_parameters()}


@pytest.mark.parametrize("matmul", ["cuda", "blas"])
def test_a_small_cnn_gives_the_cpus_outputs_and_gradients(matmul):
    minidl.manual_seed(0)
    cpu_model = small_cnn()
    gpu_model = small_cnn()
    gpu_model.load_state_dict(cpu_model.state_dict())
    gpu_model.cuda()
    x, y = minidl.randn(2, 3, 8, 8), minidl.tensor([1, 4])
    expected = run_step(cpu_model, x, y, seed=7)
    with use_kernels(matmul, "matmul", device="cuda"):
        got = run_step(gpu_model, x.cuda(), y.cuda(), seed=7)
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-5, atol=1e-5)
    for name, grad in expected[1].items():
        np.testing.assert_allclose(got[1][name], grad, rtol=1e-5, atol=1e-5, err_msg=name)
    for cpu_buffer, gpu_buffer in zip(cpu_model.buffers(), gpu_model.buffers()):
        np.testing.assert_allclose(gpu_buffer.numpy(), cpu_buffer.numpy(), rtol=1e-5, atol=1e-6)


def test_conv_and_pooling_gradcheck_in_float64_on_the_device():
    # Tiny: every finite difference is a forward pass of simulated kernels, every Jacobian row a backward pass.
    minidl.manual_seed(1)
    x = minidl.randn(1, 2, 4, 4, dtype=minidl.float64, device="cuda", requires_grad=True)
    w = minidl.randn(2, 2, 2, 2, dtype=minidl.float64, device="cuda", requires_grad=True)
    dw = minidl.randn(2, 1, 3, 3, dtype=minidl.float64, device="cuda", requires_grad=True)
    assert minidl.gradcheck(lambda x, w: F.conv2d(x, w, padding=1, stride=2), (x, w))
    assert minidl.gradcheck(lambda x, w: F.conv2d(x, w, padding=1, stride=2, groups=2), (x, dw))
    assert minidl.gradcheck(lambda x: F.max_pool2d(x, 3, stride=2, padding=1), (x,))
    assert minidl.gradcheck(lambda x: F.avg_pool2d(x, 2, count_include_pad=False), (x,))


def test_fit_trains_on_the_models_device():
    from minidl.data import DataLoader, TensorDataset
    from minidl.train import fit

    minidl.manual_seed(2)
    images = np.random.default_rng(0).standard_normal((8, 1, 6, 6)).astype(np.float32)
    labels = (images.mean(axis=(1, 2, 3)) > 0).astype(np.int64)
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 4 * 4, 2)).cuda()
    loader = DataLoader(TensorDataset(images, labels), batch_size=4)
    history = fit(model, loader, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), 2, progress=False,
                  print_fn=None)  # fmt: skip
    assert len(history.train_loss) == 2 and np.isfinite(history.train_loss).all()


def zoo_model(name: str) -> tuple[nn.Module, tuple[int, int, int]]:
    """A zoo model at its smallest input (as python -m benchmarks models builds them): VGG 3×32×32, the rest
    1×28×28 in their small-input forms."""
    if name.startswith("vgg"):
        return minidl.models.get_model(name, num_classes=10, in_channels=3), (3, 32, 32)
    kwargs = {} if name == "lenet5" else {"small_input": True}
    return minidl.models.get_model(name, num_classes=10, in_channels=1, **kwargs), (1, 28, 28)


@pytest.mark.skipif(not CUDA_ON_GPU, reason="every zoo model at its smallest input: hours on the simulator")
@pytest.mark.parametrize("name", minidl.models.list_models())
def test_every_zoo_model_trains_a_step_on_the_gpu_like_the_cpu(name):
    minidl.manual_seed(0)
    cpu_model, shape = zoo_model(name)
    gpu_model, _ = zoo_model(name)
    gpu_model.load_state_dict(cpu_model.state_dict())
    gpu_model.cuda()
    x, y = minidl.randn(2, *shape), minidl.tensor([1, 7])
    expected = run_step(cpu_model, x, y, seed=5)
    got = run_step(gpu_model, x.cuda(), y.cuda(), seed=5)
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-4, atol=1e-4 * np.abs(expected[0]).max())
    for key, grad in expected[1].items():
        atol = 1e-4 * max(float(np.abs(grad).max()), 1e-12)
        np.testing.assert_allclose(got[1][key], grad, rtol=1e-4, atol=atol, err_msg=key)
