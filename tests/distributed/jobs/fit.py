"""MPI job (2 ranks): ``fit`` under MPI, and the LeNet example with --distributed.

    mpiexec -n 2 python -m mpi4py tests/distributed/jobs/fit.py results.json work_folder

Checks, reported in results.json by rank 0 (tests/distributed/test_mpi.py judges them):
- a 4-epoch run, and a run stopped after 2 epochs then resumed from its checkpoint to 4 (in fresh objects, after
  the generators were scrambled), end with the same weights and history; the ranks draw different dropout masks
  and noise (their own seeds), which the checkpoint must give back to each rank;
- the validation metrics fit reports are those of the whole validation set (each rank holds half of it);
- lines are printed on rank 0 only; the checkpoint holds both ranks' generator states; rank 0 warns about an
  optimizer that does not average the ranks' gradients; loaders of different lengths are refused on every rank
  (instead of a rank waiting forever for the other's last steps);
- examples/lenet_mnist.py --distributed trains on a subset of MNIST (its output goes to the job's stdout).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np

import minidl
import minidl.distributed as dist
from minidl import nn, optim
from minidl.data import DataLoader, TensorDataset
from minidl.data.transforms import RandomTransform
from minidl.train import evaluate, fit, load_checkpoint, ranks
from tests.data import MNIST_DIR
from tests.distributed.jobs.report import rel, write
from tests.train.helpers import blobs, mlp

dist.init()
RANK, SIZE = dist.rank(), dist.size()
WORK = Path(sys.argv[2])
results: dict = {}


class Noise(RandomTransform):
    """Adds N(0, 0.1²) noise from its own generator (a loader state that differs between ranks)."""

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return x + self.generator.normal(0, 0.1, x.shape).astype(x.dtype)


x, y = blobs(160, seed=0)
train_set = TensorDataset(x, y)
val_x, val_y = blobs(100, seed=1)
val_y[::5] = (val_y[::5] + 1) % 3  # a fifth of the labels wrong, so that the accuracy is no trivial 1.0
val_set = TensorDataset(val_x, val_y)


def run(epochs: int, folder: Path, resume: bool) -> tuple:
    minidl.manual_seed(100 + RANK)  # the ranks draw different dropout masks
    model = mlp(dropout=0.3)
    dist.broadcast_parameters(model)
    optimizer = dist.DistributedOptimizer(optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
    scheduler = optim.lr_scheduler.StepLR(optimizer, 2, 0.5)
    sampler = dist.DistributedSampler(train_set, shuffle=True, seed=1)
    loader = DataLoader(train_set, 8, sampler=sampler, transform=Noise(seed=RANK), prefetch=0)
    val_loader = DataLoader(val_set, 25, sampler=dist.DistributedSampler(val_set, shuffle=False))
    lines: list[str] = []
    history = fit(
        model, loader, nn.CrossEntropyLoss(), optimizer, epochs, val_loader, scheduler,
        checkpoint_dir=folder, resume=resume, progress=False, print_fn=lines.append,
    )  # fmt: skip
    return model, history, lines


model, history, lines = run(4, WORK / "straight", resume=False)
run(2, WORK / "interrupted", resume=False)
minidl.manual_seed(12345)  # scrambled: the resumed run must take every generator from the checkpoint
resumed, resumed_history, resumed_lines = run(4, WORK / "interrupted", resume=True)

weights = [p.detach().numpy() for p in model.parameters()]
gathered = dist.allgather_object(weights)
whole_val = DataLoader(val_set, 25)  # the whole validation set, in this process alone
val_loss, val_acc = evaluate(model, whole_val, nn.CrossEntropyLoss())
checkpoint = load_checkpoint(WORK / "straight" / "epoch_0004.npz")
results["resume"] = {
    "weights": rel([p.detach().numpy() for p in resumed.parameters()], weights),
    "history_equal": {k: v for k, v in history.state_dict().items() if k != "epoch_time"}
    == {k: v for k, v in resumed_history.state_dict().items() if k != "epoch_time"},
    "epochs": len(history.train_loss),
}
results["ranks_equal"] = rel(gathered[1], gathered[0])
results["val_loss"] = [history.val_loss[-1], val_loss]
results["val_acc"] = [history.val_acc[-1], val_acc]
results["lines_per_rank"] = dist.allgather_object(len(lines) + len(resumed_lines))
results["checkpoint_ranks"] = {
    "size": int(checkpoint["ranks"]["size"]),
    "rng_differ": checkpoint["ranks"]["rng"][0] != checkpoint["ranks"]["rng"][1],
    "loaders_differ": checkpoint["ranks"]["loader"][0] != checkpoint["ranks"]["loader"][1],
}
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    ranks.warn_unless_distributed_optimizer(optim.SGD(mlp().parameters(), lr=0.1))
results["plain_optimizer_warnings"] = dist.allgather_object([str(w.message) for w in caught])

try:
    unequal = DataLoader(train_set, 8 if RANK == 0 else 16)  # 20 batches on rank 0, 10 on rank 1
    plain = mlp()
    fit(plain, unequal, nn.CrossEntropyLoss(), dist.DistributedOptimizer(optim.SGD(plain.parameters(), lr=0.1)), 1,
        progress=False, print_fn=None)  # fmt: skip
    refused = "not refused"
except ValueError as err:
    refused = str(err)
results["unequal_loaders"] = dist.allgather_object(refused)

# The main job's example, distributed, on 640 images for one epoch.
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "examples"))
import lenet_mnist  # noqa: E402

accuracy = lenet_mnist.main(
    ["--distributed", "--data-dir", str(MNIST_DIR), "--epochs", "1", "--train-subset", "640", "--batch-size", "32",
     "--out", str(WORK / "lenet"), "--no-progress"]
)  # fmt: skip
results["lenet_accuracy"] = dist.allgather_object(accuracy)
write(results)
