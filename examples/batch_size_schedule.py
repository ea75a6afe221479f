"""Don't decay the learning rate, increase the batch size (Smith, Kindermans, Ying and Le, 2017, arXiv 1711.00489):
the two schedules side by side on Fashion-MNIST.

Both arms train LeNet-5 (``minidl.models.lenet5``) with SGD (momentum 0.9) from the same initial weights for
``--epochs`` epochs, starting at batch size ``--batch-size`` and learning rate ``--lr``; at each epoch of
``--milestones``:

- "decay the learning rate": the learning rate is divided by ``--factor`` (``optim.lr_scheduler.MultiStepLR``);
- "increase the batch size": the batch size is multiplied by ``--factor`` instead
  (``minidl.train.BatchSizeScheduler``), the learning rate stays.

SGD's gradient noise scales as lr / batch size, so both lower it alike at the milestones; the second does it with
fewer, larger steps. The script reports each arm's test accuracy, number of parameter updates and wall time, and
draws both training curves (test accuracy by epoch, training loss by parameter update) to ``--out``::

    python examples/batch_size_schedule.py                  # one thread, about 4 minutes

Measured with the defaults (one thread, on a 2-core machine shared with other jobs): decaying the learning rate
reached 89.91% test accuracy with 8,442 parameter updates in 107 s; growing the batch size instead, 89.89% with
3,492 updates in 101 s. The same accuracy from 2.4 times fewer updates; at one thread the wall time hardly changes,
since the work per image is the same: fewer, larger steps pay where a large batch runs in parallel (a GPU, or many
processes with ``minidl.distributed``).

``--data-dir`` is the folder holding ``fashion-mnist/`` (or its four IDX files); without it the files are looked
for in ``$MINIDL_DATA``, ``~/.cache/minidl`` and the repository's ``data/``; ``--download`` fetches them. A run
repeats exactly for a given ``--seed`` and thread count.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the examples' shared helpers
from _data import add_data_flags, load_splits
from _device import add_device_flag, chosen_device
from _threads import DEFAULT_THREADS, limit_numba_threads, pin_threads, threads_flag

if __name__ == "__main__":  # before NumPy and Numba start their thread pools
    pin_threads(threads_flag(sys.argv[1:]))

import numpy as np

import minidl
from minidl import nn, optim
from minidl.data import DataLoader, TensorDataset, datasets
from minidl.models import lenet5
from minidl.train import BatchSizeScheduler, Callback, FitState, fit

ARMS = {"lr_decay": "decay the learning rate", "batch_increase": "increase the batch size"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see --help), checked."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add_data_flags(parser, "Fashion-MNIST")
    add_device_flag(parser)
    add("--epochs", type=int, default=9, help="training epochs of each arm (default 9)")
    add("--milestones", type=int, nargs="+", default=[3, 6], help="epochs (from 0) at which the learning rate "
        "falls or the batch size grows (default 3 6)")  # fmt: skip
    add("--factor", type=int, default=5, help="the learning rate's divisor, the batch size's multiplier (default 5)")
    add("--batch-size", type=int, default=64, help="the starting batch size (default 64)")
    add("--lr", type=float, default=0.05, help="the starting learning rate of SGD, momentum 0.9 (default 0.05)")
    add("--subset", type=int, default=None, metavar="N", help="train on N images only, for quick trials")
    add("--out", type=Path, default=Path("runs/batch_size_schedule.png"), help="the curves' picture (default "
        "runs/batch_size_schedule.png)")  # fmt: skip
    add("--seed", type=int, default=0, help="seeds the initial weights and the shuffles (default 0)")
    add("--threads", type=int, default=DEFAULT_THREADS, help=f"threads of BLAS and Numba (default {DEFAULT_THREADS})")
    args = parser.parse_args(argv)
    for name in ("epochs", "batch_size", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if args.factor < 2 or not args.lr > 0 or args.seed < 0 or (args.subset is not None and args.subset < 1):
        parser.error("--factor must be at least 2, --lr positive, --seed non-negative and --subset at least 1")
    if (
        args.milestones != sorted(set(args.milestones))
        or not 0 < args.milestones[0] <= args.milestones[-1] < args.epochs
    ):
        parser.error("--milestones must increase strictly and lie in [1, --epochs)")
    return args


class Updates(Callback):
    """Counts the parameter updates and records the training loss after each one."""

    def __init__(self) -> None:
        self.losses: list[float] = []

    def on_batch_end(self, state: FitState) -> None:
        self.losses.append(state.batch_logs["loss"])


def normalised(dataset: datasets.FashionMNIST, subset: int | None) -> TensorDataset:
    """The images standardised with Fashion-MNIST's training mean and deviation, float32 (N, 1, 28, 28)."""
    images = (dataset.data[:subset, None] / np.float32(255) - dataset.mean) / dataset.std
    return TensorDataset(images.astype(np.float32), dataset.targets[:subset])


def run_arm(arm: str, train: TensorDataset, test: TensorDataset, args: argparse.Namespace, device) -> dict:
    """Train one arm; returns its history, update losses, test accuracy, number of updates and wall time."""
    minidl.manual_seed(args.seed)
    model = lenet5(num_classes=10).to(device)
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    loader = DataLoader(train, batch_size=args.batch_size, shuffle=True, seed=args.seed)
    updates = Updates()
    if arm == "lr_decay":
        scheduler = optim.lr_scheduler.MultiStepLR(optimizer, milestones=args.milestones, gamma=1 / args.factor)
        callbacks = [updates]
    else:
        scheduler, callbacks = None, [BatchSizeScheduler(args.milestones, args.factor), updates]
    print(f"\n{ARMS[arm]}:")
    start = time.perf_counter()
    history = fit(model, loader, nn.CrossEntropyLoss(), optimizer, args.epochs, val_loader=DataLoader(test, 1000),
                  scheduler=scheduler, callbacks=callbacks, progress=False)  # fmt: skip
    seconds = time.perf_counter() - start
    return {"history": history, "losses": updates.losses, "accuracy": history.val_acc[-1],
            "updates": len(updates.losses), "seconds": seconds}  # fmt: skip


def draw(results: dict[str, dict], path: Path) -> None:
    """Test accuracy by epoch and training loss by parameter update, both arms in one picture."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for arm, r in results.items():
        epochs = np.arange(1, len(r["history"].val_acc) + 1)
        left.plot(epochs, 100 * np.array(r["history"].val_acc), marker="o", label=f"{ARMS[arm]}")
        losses = np.array(r["losses"])
        smooth = np.convolve(losses, np.ones(20) / 20, mode="valid") if len(losses) >= 20 else losses
        right.plot(np.arange(len(smooth)) + 1, smooth, label=f"{ARMS[arm]} ({r['updates']:,} updates)")
    left.set(xlabel="epoch", ylabel="test accuracy (%)", title="Fashion-MNIST test accuracy", xticks=epochs)
    right.set(xlabel="parameter updates", ylabel="training loss (mean of 20 batches)", yscale="log",
              title="training loss")  # fmt: skip
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main(argv: list[str] | None = None) -> dict[str, dict]:
    """Run both arms; returns {arm: {"accuracy", "updates", "seconds", ...}}."""
    args = parse_args(argv)
    pin_threads(args.threads)
    limit_numba_threads(args.threads)
    device = chosen_device(args.device)
    train_set, test_set = load_splits(datasets.FashionMNIST, args.data_dir, args.download)
    train, test = normalised(train_set, args.subset), normalised(test_set, None)
    sizes = [args.batch_size * args.factor**k for k in range(len(args.milestones) + 1)]
    rates = [args.lr / args.factor**k for k in range(len(args.milestones) + 1)]
    print(f"LeNet-5 on {len(train):,} Fashion-MNIST images, {args.epochs} epochs, milestones {args.milestones}: "
          f"learning rate {' -> '.join(f'{r:g}' for r in rates)} at batch size {args.batch_size}, or batch size "
          f"{' -> '.join(map(str, sizes))} at learning rate {args.lr:g}")  # fmt: skip
    results = {arm: run_arm(arm, train, test, args, device) for arm in ARMS}
    draw(results, args.out)
    print(f"\nOn the {len(test):,} test images ({args.threads} thread(s); curves in {args.out}):")
    for arm, r in results.items():
        print(f"   {ARMS[arm]:24s} test accuracy {r['accuracy']:.2%}   {r['updates']:,} parameter updates   "
              f"{r['seconds']:.0f} s")  # fmt: skip
    return results


if __name__ == "__main__":
    main()
