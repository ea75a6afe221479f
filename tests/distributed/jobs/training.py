"""MPI job (2 ranks): data-parallel training equals one process on the whole batch.

    mpiexec -n 2 python -m mpi4py tests/distributed/jobs/training.py results.json

Checks, each reported in results.json by rank 0 (tests/distributed/test_mpi.py judges them):
- the collectives on tensors (sum, mean, max of float and int64 tensors; broadcast from rank 1);
- the sampler's shares of every epoch, gathered from both ranks;
- 2 ranks x batch 32 against 1 process x batch 64 after 20 steps: SGD (momentum, weight decay) and Adam in
  float64, SGD in float32, the ranks starting from different weights that broadcast_parameters makes equal;
- a parameter used by rank 0 only (no deadlock; its gradient averaged with rank 1's zeros);
- broadcast_optimizer_state;
- SyncBatchNorm on 2 x 16 against BatchNorm on 1 x 32 (outputs, input and parameter gradients, running
  statistics), and a small convolutional network converted with convert_sync_batchnorm trained for 5 steps;
- tensors on the cuda device, where it exists (Numba's simulator under the tests, or a GPU with
  MINIDL_CUDA_TESTS=gpu): all_reduce, broadcast_parameters, gradient averaging and SyncBatchNorm there.
"""

from __future__ import annotations

import numpy as np

import minidl
import minidl.distributed as dist
from minidl import nn, optim
from minidl.data import DataLoader, TensorDataset
from tests.distributed.jobs.report import rel, write

dist.init()
RANK, SIZE = dist.rank(), dist.size()
assert SIZE == 2, f"run this job on 2 ranks, got {SIZE}"
results: dict = {}


# ------------------------------------------------------------------------------------------------ collectives
def collectives() -> None:
    x = minidl.tensor(np.array([1.0, -2.0, 3.0]) * (RANK + 1))
    results["all_reduce_sum"] = dist.all_reduce(x.clone(), "sum").numpy().tolist()
    results["all_reduce_mean"] = dist.all_reduce(x.clone(), "mean").numpy().tolist()
    results["all_reduce_max"] = dist.all_reduce(x.clone(), "max").numpy().tolist()
    counts = minidl.tensor(np.array([[RANK, 10]], dtype=np.int64))
    results["all_reduce_int"] = dist.all_reduce(counts, "sum").numpy().tolist()
    b = minidl.tensor(np.full((2, 2), float(RANK + 5), dtype=np.float32))
    results["broadcast_from_1"] = dist.allgather_object(dist.broadcast(b, src=1).numpy().tolist())
    strided = minidl.tensor(np.arange(12.0).reshape(3, 4) * (RANK + 1)).T  # a non-contiguous view
    results["all_reduce_strided"] = dist.all_reduce(strided, "sum").numpy().tolist()


# ---------------------------------------------------------------------------------------------------- sampler
def sampler() -> None:
    shares = {}
    for n, drop_last in ((100, False), (103, False), (103, True)):
        s = dist.DistributedSampler(list(range(n)), shuffle=True, seed=4, drop_last=drop_last)
        epochs = []
        for epoch in range(3):
            s.set_epoch(epoch)
            epochs.append(dist.allgather_object(list(s)))
        shares[f"{n}-{drop_last}"] = epochs
    results["sampler_shares"] = shares


# ------------------------------------------------------------------------------------------- training equality
STEPS, GLOBAL_BATCH = 20, 64


def dataset(dtype) -> TensorDataset:
    rng = np.random.default_rng(7)
    x = rng.standard_normal((STEPS * GLOBAL_BATCH, 6)).astype(dtype)
    y = rng.integers(0, 3, STEPS * GLOBAL_BATCH)
    return TensorDataset(x, y)


def mlp(dtype, seed: int) -> nn.Module:
    minidl.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3)).to(dtype=dtype)


def train(model: nn.Module, optimizer, loader: DataLoader) -> None:
    loss_fn = nn.CrossEntropyLoss()
    dtype = next(iter(model.parameters())).dtype
    steps = 0
    for x, y in loader:
        optimizer.zero_grad()
        loss_fn(model(x.to(dtype=dtype)), y).backward()
        optimizer.step()
        steps += 1
    assert steps == STEPS, steps


def weights(model: nn.Module) -> list[np.ndarray]:
    return [p.detach().numpy().copy() for p in model.parameters()]


def equal_training(name: str, dtype, make_optimizer) -> None:
    data = dataset(dtype)
    reference = mlp(dtype, seed=0)  # one process, the whole batch of 64, every rank computes it alone
    train(reference, make_optimizer(reference), DataLoader(data, GLOBAL_BATCH, shuffle=True, seed=3))

    model = mlp(dtype, seed=RANK)  # the ranks start apart ...
    before = dist.allgather_object(weights(model)[0])
    dist.broadcast_parameters(model, src=0)  # ... and from rank 0's (seed 0) weights after this
    optimizer = dist.DistributedOptimizer(make_optimizer(model), bucket_mb=0.001)  # several buckets
    sampler = dist.DistributedSampler(data, shuffle=True, seed=3)
    loader = DataLoader(data, GLOBAL_BATCH // SIZE, sampler=sampler)
    loader.set_epoch(0)
    train(model, optimizer, loader)
    mine = weights(model)
    theirs = dist.allgather_object(mine)
    results[name] = {
        "started_apart": rel(before[1], before[0]),
        "vs_one_process": rel(mine, weights(reference)),
        "between_ranks": rel(theirs[1], theirs[0]),
    }


def sgd(model):
    return optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)


def adam(model):
    return optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-3)


# ----------------------------------------------------------------------------------------- unused parameters
class TwoHeads(nn.Module):
    """Rank 0 uses both heads, rank 1 only the first."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(4, 2), nn.Linear(4, 2)

    def forward(self, x):
        return self.a(x) + self.b(x) if RANK == 0 else self.a(x)


def unused_parameter() -> None:
    minidl.manual_seed(0)
    model = TwoHeads().double()
    optimizer = dist.DistributedOptimizer(optim.SGD(model.parameters(), lr=0.1))
    x = minidl.tensor(np.random.default_rng(RANK).standard_normal((5, 4)))
    model(x).sum().backward()
    local_b = None if model.b.weight.grad is None else model.b.weight.grad.numpy().copy()
    local_a = model.a.weight.grad.numpy().copy()
    optimizer.synchronize()
    gathered_a = dist.allgather_object(local_a)
    gathered_b = dist.allgather_object(local_b)
    results["unused_parameter"] = {
        "rank1_had_no_grad": gathered_b[1] is None,
        "b_grad_is_half_of_rank0": rel(model.b.weight.grad.numpy(), gathered_b[0] / 2),
        "a_grad_is_mean": rel(model.a.weight.grad.numpy(), (gathered_a[0] + gathered_a[1]) / 2),
    }


# ------------------------------------------------------------------------------------------- optimizer state
def optimizer_state() -> None:
    minidl.manual_seed(0)
    model = mlp(np.float64, seed=0)
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    if RANK == 0:  # rank 0 alone takes two steps (as if it had loaded a checkpoint)
        for _ in range(2):
            optimizer.zero_grad()
            model(minidl.randn(4, 6).double()).sum().backward()
            optimizer.step()
    dist.broadcast_optimizer_state(optimizer, src=0)
    state = optimizer.state_dict()
    gathered = dist.allgather_object(
        (sorted(state["state"]), [state["state"][k]["step"] for k in sorted(state["state"])])
    )
    first = [state["state"][k]["exp_avg"].numpy() for k in sorted(state["state"])]
    firsts = dist.allgather_object(first)
    results["optimizer_state"] = {
        "keys_and_steps_equal": gathered[0] == gathered[1],
        "moments": rel(firsts[1], firsts[0]),
    }


# -------------------------------------------------------------------------------------------- SyncBatchNorm
def sync_batchnorm(dtype, shape: tuple[int, ...]) -> dict:
    rng = np.random.default_rng(11)
    x = (rng.standard_normal(shape) * 3 + 1).astype(dtype)
    seed_grad = rng.standard_normal(shape).astype(dtype)
    c = shape[1]
    weight, bias = rng.uniform(0.5, 1.5, c).astype(dtype), rng.uniform(-1, 1, c).astype(dtype)
    layers = []
    for cls in (nn.BatchNorm2d if len(shape) == 4 else nn.BatchNorm1d, nn.SyncBatchNorm):
        layer = cls(c, momentum=0.3).to(dtype=dtype)
        with minidl.no_grad():
            layer.weight.copy_(weight)
            layer.bias.copy_(bias)
        layers.append(layer)
    one, synced = layers
    half = shape[0] // SIZE
    mine = slice(RANK * half, (RANK + 1) * half)
    outputs = []
    for layer, xs, gs in ((one, x, seed_grad), (synced, x[mine], seed_grad[mine])):
        xt = minidl.tensor(xs, requires_grad=True)
        for _ in range(2):  # two forwards: the running statistics move twice
            out = layer(xt)
        (out * minidl.tensor(gs)).sum().backward()
        outputs.append((out, xt.grad, layer))
    (out1, dx1, _), (out2, dx2, _) = outputs
    dweight = dist.all_reduce(synced.weight.grad.clone(), "sum")  # each rank holds its own rows' share
    dbias = dist.all_reduce(synced.bias.grad.clone(), "sum")
    return {
        "output": rel(out2, out1.detach().numpy()[mine]),
        "input_grad": rel(dx2, dx1.numpy()[mine]),
        "weight_grad": rel(dweight, one.weight.grad),
        "bias_grad": rel(dbias, one.bias.grad),
        "running_mean": rel(synced.running_mean, one.running_mean),
        "running_var": rel(synced.running_var, one.running_var),
        "batches_tracked": int(synced.num_batches_tracked.item()),
    }


def small_cnn(seed: int) -> nn.Module:
    minidl.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 5 * 5, 3)
    ).double()


def converted_training() -> None:
    rng = np.random.default_rng(5)
    data = TensorDataset(rng.standard_normal((5 * 16, 2, 5, 5)), rng.integers(0, 3, 5 * 16))
    reference = small_cnn(0)
    train_steps(reference, optim.SGD(reference.parameters(), lr=0.05, momentum=0.9), DataLoader(data, 16))
    model = dist.convert_sync_batchnorm(small_cnn(RANK))
    dist.broadcast_parameters(model)
    optimizer = dist.DistributedOptimizer(optim.SGD(model.parameters(), lr=0.05, momentum=0.9))
    loader = DataLoader(data, 16 // SIZE, sampler=dist.DistributedSampler(data, shuffle=False))
    train_steps(model, optimizer, loader)
    results["converted_cnn"] = {
        "is_sync": type(model[1]).__name__,
        "weights": rel(weights(model), weights(reference)),
        "running_var": rel(model[1].running_var, reference[1].running_var),
    }


def train_steps(model, optimizer, loader) -> None:
    loss_fn = nn.CrossEntropyLoss()
    for x, y in loader:
        optimizer.zero_grad()
        loss_fn(model(x.double()), y).backward()
        optimizer.step()


def cuda_tensors() -> None:
    if not minidl.cuda.is_available():
        return
    rng = np.random.default_rng(RANK)
    t = minidl.tensor(rng.standard_normal(5), device="cuda")
    expected = sum(np.random.default_rng(r).standard_normal(5) for r in range(SIZE)) / SIZE
    dist.all_reduce(t, "mean")
    minidl.manual_seed(RANK)
    layer = nn.BatchNorm1d(3).to("cuda")
    layer.weight.data[...] = layer.weight.backend.from_numpy(rng.uniform(0.5, 1.5, 3))
    dist.broadcast_parameters(layer)
    weights = dist.allgather_object(layer.weight.detach().numpy())
    optimizer = dist.DistributedOptimizer(optim.SGD(layer.parameters(), lr=0.1))
    layer.weight.grad = minidl.tensor(np.full(3, float(RANK + 1), dtype=np.float32), device="cuda")
    optimizer.synchronize()
    sync = dist.convert_sync_batchnorm(layer)
    x = minidl.tensor(np.random.default_rng(3).standard_normal((8, 3)).astype(np.float32))
    mine = slice(RANK * 4, RANK * 4 + 4)
    out = sync(x[mine].to("cuda"))
    plain = nn.BatchNorm1d(3)
    plain.weight.data[...] = weights[0]
    results["cuda"] = {
        "device": str(out.device),
        "all_reduce_mean": rel(t.numpy(), expected),
        "broadcast": rel(weights[1], weights[0]),
        "averaged_grad": layer.weight.grad.numpy().tolist(),
        "sync_batchnorm": rel(out.detach().numpy(), plain(x).detach().numpy()[mine]),
    }


collectives()
cuda_tensors()
sampler()
equal_training("sgd_float64", np.float64, sgd)
equal_training("adam_float64", np.float64, adam)
equal_training("sgd_float32", np.float32, sgd)
unused_parameter()
optimizer_state()
results["sync_batchnorm_float64"] = sync_batchnorm(np.float64, (32, 3, 4, 4))
results["sync_batchnorm_float64_2d"] = sync_batchnorm(np.float64, (32, 5))
results["sync_batchnorm_float32"] = sync_batchnorm(np.float32, (32, 3, 4, 4))
converted_training()
write(results)
