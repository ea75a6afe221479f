"""Train LeNet-5 on MNIST with minidl: the project's main job.

    python examples/lenet_mnist.py                          # MNIST from the repository's data/mnist (offline)
    python examples/lenet_mnist.py --data-dir path/to/mnist # a folder holding the four IDX files (.gz or raw)
    mpiexec -n 2 python -m mpi4py examples/lenet_mnist.py --distributed   # data-parallel on 2 processes

The defaults reach >= 99.2% accuracy on the real MNIST test set in 10 epochs (the LeNet-5 paper reports
99.05%): the modern LeNet-5 (ReLU, max-pool; the paper's 61,706 parameters), Adam with a cosine learning-rate
schedule, and light augmentation (random rotations of up to 10 degrees, shifts of up to 2 pixels and zooms of
up to 10%) on normalised images. It prints the model summary, one line per epoch (train and test loss and
accuracy, time, learning rate), saves a checkpoint every epoch and the best one under ``--out``, and draws the
loss and accuracy curves to ``--out/curves.png``. An interrupted run goes on where it stopped with ``--resume``.

With ``--distributed``, under ``mpiexec -n N python -m mpi4py``, each of the N ranks trains on its share of
every batch of ``--batch-size`` images (``--batch-size`` / N each, the same learning rate: the same steps as one
process) and evaluates its share of the test set; rank 0 prints, saves and draws.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the examples' shared _threads.py and _data.py
from _data import add_data_flags, load_splits
from _device import add_device_flag, chosen_device
from _threads import DEFAULT_THREADS, limit_numba_threads, pin_threads


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see --help)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=10, help="training epochs (default 10)")
    parser.add_argument("--batch-size", type=int, default=64, help="images per step (default 64)")
    parser.add_argument("--lr", type=float, default=None, help="peak learning rate (default 2e-3 Adam, 0.05 SGD)")
    parser.add_argument("--optimizer", choices=["adam", "sgd"], default="adam", help="adam (default) or sgd+momentum")
    add_data_flags(parser, "MNIST")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights, shuffling and augmentation (default 0)")
    parser.add_argument(
        "--threads",
        type=int,
        default=DEFAULT_THREADS,
        help=f"threads of every thread pool: BLAS, Numba (default {DEFAULT_THREADS})",
    )
    parser.add_argument("--out", type=Path, default=Path("runs/lenet_mnist"), help="checkpoints and curves folder")
    add_device_flag(parser)
    parser.add_argument("--no-augment", action="store_true", help="train on the images as they are")
    parser.add_argument("--resume", action="store_true", help="go on from the last checkpoint in --out")
    parser.add_argument("--train-subset", type=int, default=None, help="train on the first N images (quick runs)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (the epoch lines remain)")
    parser.add_argument(
        "--distributed",
        action="store_true",
        help="data-parallel over MPI: mpiexec -n N python -m mpi4py examples/lenet_mnist.py --distributed "
        "(--batch-size is the global batch, split over the N ranks)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> float:
    """Train and evaluate; returns the final test accuracy (a fraction)."""
    args = parse_args(argv)
    if args.threads < 1:
        sys.exit(f"--threads must be at least 1, got {args.threads}")
    pin_threads(args.threads)  # before minidl imports NumPy and Numba, when run as a script
    if "numba" in sys.modules:  # main() called from Python after Numba started
        limit_numba_threads(args.threads)

    import minidl
    from minidl import models, nn, optim
    from minidl.data import Subset, datasets, transforms
    from minidl.text import plural
    from minidl.train import fit

    device = chosen_device(args.device)
    ranks = Ranks(args.distributed, args.batch_size)
    say = print if ranks.rank == 0 else _quiet
    minidl.manual_seed(args.seed)
    train_set, test_set = load_splits(datasets.MNIST, args.data_dir, args.download)
    if args.train_subset is not None:
        train_set = Subset(train_set, range(min(args.train_subset, len(train_set))))

    normalize = transforms.Normalize(datasets.MNIST.mean, datasets.MNIST.std)
    # Each rank augments with its own generator: the same seed everywhere would give the ranks' images of a batch
    # the same random transforms, pair by pair.
    augment = transforms.RandomAffine(10, translate=(0.08, 0.08), scale=(0.9, 1.1), seed=args.seed + ranks.rank)
    train_transform = normalize if args.no_augment else transforms.Compose([augment, normalize])
    train_loader, test_loader = ranks.loaders(train_set, test_set, args.seed, train_transform, normalize)

    model = models.lenet5(num_classes=10, in_channels=1).to(device)
    if ranks.rank == 0:
        model.summary((1, 28, 28))
    if args.optimizer == "adam":
        optimizer = optim.Adam(model.parameters(), lr=args.lr or 2e-3)
    else:
        optimizer = optim.SGD(model.parameters(), lr=args.lr or 0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    optimizer = ranks.wrap(model, optimizer)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    say(f"Training on {len(train_set)} images, testing on {len(test_set)}; batch {args.batch_size}{ranks.split}, "
        f"{plural(len(train_loader), 'step')} per epoch, {args.optimizer} lr {optimizer.param_groups[0]['lr']:g}, "
        f"{plural(args.threads, 'thread')}{ranks.per_rank}, device {device}")  # fmt: skip

    start = time.perf_counter()
    history = fit(
        model, train_loader, nn.CrossEntropyLoss(), optimizer, args.epochs, val_loader=test_loader,
        scheduler=scheduler, checkpoint_dir=args.out / "checkpoints", monitor="val_acc", resume=args.resume,
        progress=not args.no_progress,
    )  # fmt: skip
    wall = time.perf_counter() - start
    if ranks.rank == 0:
        history.plot(args.out / "curves.png")
    best = max(range(len(history.val_acc)), key=lambda i: history.val_acc[i])
    per_epoch = sorted(history.epoch_time)[len(history.epoch_time) // 2]
    say(
        f"Test accuracy {history.val_acc[-1]:.2%} after {plural(len(history.val_acc), 'epoch')} "
        f"(best {history.val_acc[best]:.2%} at epoch {best + 1}, saved as {args.out / 'checkpoints' / 'best.npz'})"
    )
    say(f"Wall time {wall:.1f} s, median {per_epoch:.1f} s per epoch; curves in {args.out / 'curves.png'}")
    return history.val_acc[-1]


def _quiet(*args: object, **kwargs: object) -> None:
    """print() on the ranks other than 0: nothing."""


class Ranks:
    """What --distributed changes: this process's rank among the MPI ranks, each rank's share of the data, and
    the optimizer that averages the ranks' gradients. Without --distributed: one rank, plain loaders and optimizer,
    and minidl.distributed is not used."""

    def __init__(self, distributed: bool, batch_size: int) -> None:
        self.distributed = distributed
        self.rank, self.size = 0, 1
        if distributed:
            import minidl.distributed as dist

            dist.init()
            self.rank, self.size = dist.rank(), dist.size()
            if batch_size % self.size:
                sys.exit(f"--batch-size {batch_size} must be a multiple of the {self.size} ranks")
        self.batch_size = batch_size // self.size
        self.split = f" ({self.size} ranks x {self.batch_size})" if distributed else ""
        self.per_rank = " per rank" if distributed else ""

    def loaders(self, train_set: Any, test_set: Any, seed: int, train_transform: Any, normalize: Any) -> tuple:
        """The training loader (shuffled by ``seed`` each epoch) and the test loader, each over this rank's share."""
        from minidl.data import DataLoader

        if not self.distributed:
            train = DataLoader(train_set, self.batch_size, shuffle=True, seed=seed, transform=train_transform)
            return train, DataLoader(test_set, 1000, transform=normalize)
        import minidl.distributed as dist

        # The sampler draws the order one process's loader draws with shuffle=True, seed=seed; rank r takes
        # every size-th image of it, so batch k over all ranks is one process's batch k.
        train_sampler = dist.DistributedSampler(train_set, shuffle=True, seed=seed)
        train = DataLoader(train_set, self.batch_size, sampler=train_sampler, transform=train_transform)
        test_sampler = dist.DistributedSampler(test_set, shuffle=False)
        return train, DataLoader(test_set, 1000, sampler=test_sampler, transform=normalize)

    def wrap(self, model: Any, optimizer: Any) -> Any:
        """The optimizer, averaging the ranks' gradients when distributed (after giving every rank rank 0's
        weights)."""
        if not self.distributed:
            return optimizer
        import minidl.distributed as dist

        dist.broadcast_parameters(model, src=0)
        return dist.DistributedOptimizer(optimizer)


if __name__ == "__main__":
    main()
