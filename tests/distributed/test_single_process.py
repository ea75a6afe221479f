"""minidl.distributed in a plain process: a world of one rank that never imports mpi4py; the collectives, the
broadcasts and DistributedOptimizer leave everything as it is; how an MPI launch is recognised; the staging of
device arrays through host memory; the errors."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

import minidl
import minidl.distributed as dist
from minidl import nn, optim
from minidl.distributed.communicator import SingleProcess, cuda_aware_mpi
from minidl.distributed.launch import launch_reason
from minidl.distributed.staging import mpi_buffer
from tests.distributed import ROOT, needs_mpi, without_mpi_variables

PLAIN_SCRIPT = """
import sys
import numpy as np
import minidl, minidl.distributed as dist
from minidl import nn, optim
dist.init()
t = dist.all_reduce(minidl.tensor([1.0, 2.0]), "mean")
dist.broadcast(t)
model = nn.Linear(2, 1)
dist.broadcast_parameters(model)
opt = dist.DistributedOptimizer(optim.SGD(model.parameters(), lr=0.1))
model(minidl.ones(3, 2)).sum().backward()
opt.step()
dist.barrier()
print(dist.rank(), dist.size(), dist.local_rank(), dist.local_size(), dist.is_initialized(), t.numpy().tolist(),
      "mpi4py" in sys.modules)
"""


def python(code: str, **env: str) -> subprocess.CompletedProcess:
    """``python -c code`` in a plain process (no MPI launcher variables, plus ``env``)."""
    environ = without_mpi_variables(dict(os.environ)) | env
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120
    )


def test_a_plain_process_is_rank_0_of_1_without_importing_mpi4py():
    done = python(PLAIN_SCRIPT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0", "1", "0", "1", "True", "[1.0,", "2.0]", "False"]


def test_launchers_are_recognised_by_their_variables(monkeypatch):
    monkeypatch.delitem(sys.modules, "mpi4py.MPI", raising=False)
    assert launch_reason({}) is None
    monkeypatch.setitem(sys.modules, "mpi4py.MPI", sys)  # any module: only its presence counts
    assert "mpi4py's MPI module is imported" in launch_reason({})
    assert "PMI_RANK is set" in launch_reason({"PMI_RANK": "0", "PMI_SIZE": "2"})
    assert "Open MPI" in launch_reason({"OMPI_COMM_WORLD_SIZE": "4"})
    assert "PMIx" in launch_reason({"PMIX_RANK": "1"})


def test_a_launched_process_without_mpi4py_is_told_how_to_install_it():
    blocker = "import sys; sys.modules['mpi4py'] = None; "  # as if mpi4py were not installed
    done = python(blocker + "import minidl.distributed as dist; dist.init()", PMI_RANK="0", PMI_SIZE="1")
    assert done.returncode != 0
    assert "PMI_RANK is set" in done.stderr and "pip install 'minidl[mpi]'" in done.stderr


@needs_mpi
def test_a_script_that_started_mpi_itself_joins_its_world_of_one_rank():
    done = python("from mpi4py import MPI; import minidl.distributed as d; print(d.size(), d.world.world())")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("1 MPICommunicator(rank 0 of 1")


def test_collectives_of_one_rank_return_the_tensor_itself():
    t = minidl.tensor([1.5, -2.0])
    assert dist.all_reduce(t, "mean") is t and t.numpy().tolist() == [1.5, -2.0]
    assert dist.broadcast(t, src=0) is t
    assert dist.broadcast_object({"a": 1}) == {"a": 1}
    assert dist.allgather_object(3) == [3]
    assert dist.rank() == 0 and dist.size() == 1


def test_one_rank_trains_exactly_as_without_minidl_distributed():
    def train(wrap: bool) -> list[np.ndarray]:
        minidl.manual_seed(0)
        model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
        opt = optim.Adam(model.parameters(), lr=0.1)
        if wrap:
            dist.broadcast_parameters(model)
            opt = dist.DistributedOptimizer(opt)
            dist.broadcast_optimizer_state(opt)
        for _ in range(3):
            opt.zero_grad()
            (model(minidl.randn(5, 3)) ** 2).mean().backward()
            opt.step()
        return [p.detach().numpy() for p in model.parameters()]

    for ours, plain in zip(train(True), train(False)):
        np.testing.assert_array_equal(ours, plain)


def test_distributed_optimizer_is_the_wrapped_optimizer_for_schedulers_and_checkpoints():
    model = nn.Linear(2, 2)
    inner = optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    opt = dist.DistributedOptimizer(inner)
    scheduler = optim.lr_scheduler.StepLR(opt, 1, gamma=0.1)
    assert opt.param_groups is inner.param_groups and opt.state is inner.state and opt.defaults is inner.defaults
    model(minidl.ones(1, 2)).sum().backward()
    loss = opt.step(closure=lambda: minidl.tensor(2.0))
    scheduler.step()
    assert loss.item() == 2.0 and opt._step_count == inner._step_count == 1
    assert inner.param_groups[0]["lr"] == pytest.approx(0.05)
    state = opt.state_dict()
    assert set(state["state"][0]) == {"momentum_buffer"}
    opt.load_state_dict(state)
    opt.zero_grad()
    assert model.weight.grad is None
    assert "DistributedOptimizer(SGD" in repr(opt) and "ranks=1" in repr(opt)


def test_distributed_optimizer_pickles_with_its_wrapped_optimizer():
    model = nn.Linear(2, 1)
    opt = dist.DistributedOptimizer(optim.Adam(model.parameters(), lr=0.1), bucket_mb=2)
    model(minidl.ones(1, 2)).sum().backward()
    opt.step()
    copy = pickle.loads(pickle.dumps(opt))
    assert copy.bucket_mb == 2 and copy.state_dict()["state"][0]["step"] == 1
    assert copy._comm is dist.world.world()


def test_distributed_optimizer_refuses_what_it_cannot_wrap():
    inner = optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1)
    with pytest.raises(TypeError, match="expected a minidl.optim optimizer"):
        dist.DistributedOptimizer(object())
    with pytest.raises(ValueError, match="already a DistributedOptimizer"):
        dist.DistributedOptimizer(dist.DistributedOptimizer(inner))
    with pytest.raises(ValueError, match="bucket_mb must be a positive number"):
        dist.DistributedOptimizer(inner, bucket_mb=0)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: dist.all_reduce(minidl.tensor([1, 2]), "mean"), TypeError, "needs a floating-point tensor"),
        (lambda: dist.all_reduce(minidl.tensor([1.0]), "prod"), ValueError, "op must be one of"),
        (lambda: dist.all_reduce(np.ones(2)), TypeError, "must be a minidl.Tensor"),
        (lambda: dist.broadcast(minidl.tensor([1.0]), src=1), ValueError, "src must be a rank from 0 to 0"),
        (lambda: dist.broadcast_parameters(nn.Linear(2, 2), src=2), ValueError, "src must be a rank"),
        (lambda: dist.broadcast_parameters(minidl.ones(2)), TypeError, "got a single Tensor"),
        (lambda: dist.broadcast_parameters([1, 2]), TypeError, r"\(name, tensor\) pairs"),
        (lambda: dist.broadcast_optimizer_state(nn.Linear(2, 2)), TypeError, "expected a minidl.optim optimizer"),
    ],
)
def test_bad_arguments_are_refused(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_all_reduce_refuses_a_recorded_result():
    x = minidl.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="minidl does not record in-place ops"):
        dist.all_reduce(x * 2)


class FakeDeviceArray:
    """Stands for a GPU array: not a NumPy array, so the host cannot hand it to MPI."""

    def __init__(self, values: np.ndarray) -> None:
        self.values = values
        self.flags = values.flags

    def __setitem__(self, key, value) -> None:
        self.values[key] = value.values if isinstance(value, FakeDeviceArray) else value


class FakeDevice:
    """Stands for a GPU backend: copies between host and device, and records them."""

    def __init__(self) -> None:
        self.copies: list[str] = []

    def to_numpy(self, array: FakeDeviceArray) -> np.ndarray:
        self.copies.append("to host")
        return array.values.copy()

    def from_numpy(self, array: np.ndarray) -> FakeDeviceArray:
        self.copies.append("to device")
        return FakeDeviceArray(array.copy())

    def synchronize(self) -> None:
        self.copies.append("synchronize")


def test_device_arrays_are_staged_through_host_memory():
    device, array = FakeDevice(), FakeDeviceArray(np.arange(3.0))
    with mpi_buffer(array, device, SingleProcess(), "test") as buffer:
        assert isinstance(buffer, np.ndarray)
        buffer *= 10  # what a collective would write
    assert array.values.tolist() == [0.0, 10.0, 20.0] and device.copies == ["to host", "to device"]

    aware = SingleProcess()
    aware.cuda_aware = True
    device.copies = []
    with mpi_buffer(array, device, aware, "test") as buffer:
        assert buffer is array  # a CUDA-aware MPI reads the device memory itself, once the device is done
    assert device.copies == ["synchronize"]


def test_host_arrays_go_to_mpi_in_place_or_through_a_contiguous_copy():
    a = np.arange(6.0).reshape(2, 3)
    with mpi_buffer(a, None, SingleProcess(), "test") as buffer:
        assert buffer is a
    view = a.T
    with mpi_buffer(view, None, SingleProcess(), "test") as buffer:
        assert buffer is not view and buffer.flags.c_contiguous
        buffer += 1
    assert a.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    a.flags.writeable = False
    with pytest.raises(ValueError, match="read-only; clone"), mpi_buffer(a, None, SingleProcess(), "all_reduce"):
        pass


def test_cuda_awareness_can_be_forced_either_way(monkeypatch):
    monkeypatch.setenv("MINIDL_MPI_CUDA_AWARE", "1")
    assert cuda_aware_mpi()
    monkeypatch.setenv("MINIDL_MPI_CUDA_AWARE", "0")
    assert not cuda_aware_mpi()
