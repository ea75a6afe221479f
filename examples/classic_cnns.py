"""The classic CNNs on Fashion-MNIST: train one model of the zoo, test it, and add a row to a results table.

Each run prints the model's summary (layers, output shapes, parameters, multiply-accumulates), trains it with
``minidl.train.fit``, prints its test accuracy and time, and appends one row (model, parameters, MACs, epochs,
train and test images, test accuracy, time per epoch, settings, date) to a Markdown table (``--out``). Run it once
per model to fill the table::

    python examples/classic_cnns.py --model lenet5 --epochs 10 --download
    python examples/classic_cnns.py --model mobilenet_v2 --epochs 1 --train-subset 5000 --test-subset 2000
    python examples/classic_cnns.py --model resnet18 --optimizer adam --threads 2

Every model is built with ``in_channels=1, num_classes=10`` and in the form that suits 28×28 images (``--help``
lists them); the images are normalised with Fashion-MNIST's mean and standard deviation. Big models are slow
on a CPU: ``--train-subset`` and ``--test-subset`` cut an epoch down for a first look. A run repeats exactly for
a given ``--seed`` and thread count.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the examples' shared _threads.py and _data.py
from _data import add_data_flags, load_splits
from _device import add_device_flag, chosen_device
from _threads import DEFAULT_THREADS, limit_numba_threads, pin_threads, threads_flag

if __name__ == "__main__":  # before NumPy and Numba start their thread pools
    pin_threads(threads_flag(sys.argv[1:]))

import datetime
from pathlib import Path
from typing import Any

import numpy as np

import minidl
from minidl import nn, optim
from minidl.data import DataLoader, Subset, datasets, transforms
from minidl.models import ImageClassifier, get_model, list_models
from minidl.text import plural
from minidl.train import evaluate, fit

# How each family takes 28×28 grey images (the first matching prefix of the model's name applies).
ADAPTATIONS = {
    "lenet5": "28×28 as they are (conv1 pads them to the paper's 32×32)",
    "alexnet": "small_input=True: a 3×3 stride-1 stem instead of 11×11 stride 4 (57 M parameters, 55 M in its FCs)",
    "vgg": "images resized to 32×32 (transforms.Resize) for the five 2×2 max-pools; no small-input form, so "
    "the 1×1 map is repeated to 7×7 and the classifier keeps its 25088×4096 weights (vgg11: 129 M parameters)",
    "nin": "small_input=True: a 3×3 stride-1 stem instead of 11×11 stride 4",
    "googlenet": "small_input=True: a 3×3 stride-1 stem and the first two max-pools dropped",
    "resnet": "small_input=True: the CIFAR stem, 3×3 stride 1 and no max-pool",
    "densenet": "small_input=True: a 3×3 stride-1 stem and no max-pool",
    "mobilenet": "small_input=True: the first convolution at stride 1",
}
# Training time at 1 thread on a 2-core Xeon, seconds per 1,000 images (= minutes per 60,000-image epoch).
SECONDS_PER_1000 = {
    "lenet5": 0.2, "mobilenet_v2": 10, "mobilenet_v1": 12, "nin": 17, "alexnet": 25, "vgg11": 33, "resnet18": 53,
    "googlenet": 102, "densenet121": 118,
}  # fmt: skip
DEFAULT_LR = {"sgd": 0.01, "adam": 1e-3, "adamw": 1e-3, "rmsprop": 1e-3}


def family(model: str) -> str:
    """The key of ``ADAPTATIONS`` that applies to ``model``."""
    return next(prefix for prefix in ADAPTATIONS if model.startswith(prefix))


def help_epilog() -> str:
    lines = ["How each model is adapted to 28×28 grey images:"]
    lines += [f"  {prefix:10s} {text}" for prefix, text in ADAPTATIONS.items()]
    lines += ["", "Training time at 1 thread (a 2-core Xeon), minutes per full 60,000-image epoch; testing the "
              "10,000 test images takes about a quarter of that again:"]  # fmt: skip
    lines += ["  " + ", ".join(f"{m} {s:g}" for m, s in SECONDS_PER_1000.items())]
    lines += ["AlexNet and VGG also hold 0.7-1.5 GB of weights, gradients and momentum. (Only MobileNet has a width "
              "multiplier; this script builds every model at full width.)"]  # fmt: skip
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see ``--help``), checked."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=help_epilog(),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    add = parser.add_argument
    add("--model", default="lenet5", choices=list_models(), metavar="MODEL",
        help=f"one of: {', '.join(list_models())} (default lenet5)")  # fmt: skip
    add("--epochs", type=int, default=5, help="training epochs (default 5)")
    add("--batch-size", type=int, default=64, help="batch size (default 64)")
    add("--optimizer", choices=list(DEFAULT_LR), default="sgd", help="sgd (momentum 0.9, the default), adam, "
        "adamw or rmsprop")  # fmt: skip
    add("--lr", type=float, default=None, help="learning rate (default 0.01 for sgd, 0.001 for the others)")
    add("--train-subset", type=int, default=None, metavar="N", help="train on N random training images (default: "
        "all 60,000)")  # fmt: skip
    add("--test-subset", type=int, default=None, metavar="N", help="test on N random test images (default: all "
        "10,000)")  # fmt: skip
    add_data_flags(parser, "Fashion-MNIST")
    add("--seed", type=int, default=0, help="seeds the subsets, the initial weights and the shuffles (default 0)")
    add(
        "--threads",
        type=int,
        default=DEFAULT_THREADS,
        help=f"threads of every thread pool: BLAS, Numba (default {DEFAULT_THREADS})",
    )
    add("--out", type=Path, default=Path("runs/classic_cnns.md"), help="the Markdown table the row is appended to "
        "(created with its header when missing; default runs/classic_cnns.md)")  # fmt: skip
    add("--no-progress", action="store_true", help="no progress bar during the epochs")
    add_device_flag(parser)
    args = parser.parse_args(argv)
    for name in ("epochs", "batch_size", "train_subset", "test_subset", "threads"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    if args.lr is not None and args.lr <= 0:
        parser.error(f"--lr must be positive, got {args.lr}")
    if args.seed < 0:
        parser.error("--seed must be non-negative")
    return args


# ------------------------------------------------------------------------------------------------- pieces
def build_model(name: str) -> tuple[ImageClassifier, int]:
    """The model ``name`` for 1-channel images and 10 classes, and the image side it takes (28 or 32)."""
    kind = family(name)
    if kind in ("lenet5", "vgg"):
        return get_model(name, num_classes=10, in_channels=1), 32 if kind == "vgg" else 28
    return get_model(name, num_classes=10, in_channels=1, small_input=True), 28


def subset(dataset: Any, n: int | None, seed: int) -> Any:
    """``n`` samples of ``dataset`` drawn with ``seed`` (the whole dataset when ``n`` is None or too large)."""
    if n is None or n >= len(dataset):
        return dataset
    return Subset(dataset, np.sort(np.random.default_rng(seed).choice(len(dataset), n, replace=False)))


def make_optimizer(name: str, params: Any, lr: float) -> optim.Optimizer:
    if name == "sgd":
        return optim.SGD(params, lr=lr, momentum=0.9)
    return {"adam": optim.Adam, "adamw": optim.AdamW, "rmsprop": optim.RMSprop}[name](params, lr=lr)


def human(n: float) -> str:
    """12345678 -> '12.3 M'."""
    for unit, size in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n:g}"


def duration(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


# ------------------------------------------------------------------------------------------------- table
COLUMNS = ("model", "params", "MACs", "epochs", "train images", "test images", "test accuracy", "time / epoch",
           "settings", "date")  # fmt: skip


def append_row(path: Path, row: dict[str, str]) -> None:
    """Append ``row`` (values for ``COLUMNS``) to the Markdown table at ``path``, writing the title and header
    first when the file does not exist yet."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    if not path.exists() or path.stat().st_size == 0:
        lines += ["# Classic CNNs on Fashion-MNIST", "",
                  "Written by `examples/classic_cnns.py`; MACs are multiply-accumulates per image.", "",
                  "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]  # fmt: skip
    lines.append("| " + " | ".join(row[c].replace("|", "/") for c in COLUMNS) + " |")
    with path.open("a", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Train and test ``--model``, append its row to ``--out``; returns the row's raw values (``accuracy`` in
    [0, 1], ``params``, ``macs``, ``epoch_seconds``, ``train_images``, ``test_images``) and ``row`` (the cells)."""
    args = parse_args(argv)
    pin_threads(args.threads)
    limit_numba_threads(args.threads)
    lr = args.lr if args.lr is not None else DEFAULT_LR[args.optimizer]

    device = chosen_device(args.device)
    full_train, full_test = load_splits(datasets.FashionMNIST, args.data_dir, args.download)
    minidl.manual_seed(args.seed)
    model, side = build_model(args.model)
    model.to(device)
    print(f"{args.model}: {ADAPTATIONS[family(args.model)]}")
    summary = model.summary((1, side, side))

    steps = [transforms.Resize(side)] if side != 28 else []
    prepare = transforms.Compose([*steps, transforms.Normalize(datasets.FashionMNIST.mean, datasets.FashionMNIST.std)])
    train_set = subset(full_train, args.train_subset, args.seed)
    test_set = subset(full_test, args.test_subset, args.seed + 1)
    train_loader = DataLoader(train_set, args.batch_size, shuffle=True, seed=args.seed, transform=prepare)
    test_loader = DataLoader(test_set, 256, transform=prepare)

    print(f"\nTraining on {len(train_set):,} images for {plural(args.epochs, 'epoch')}: {args.optimizer}, lr {lr:g}, "
          f"batch size {args.batch_size}")  # fmt: skip
    loss_fn = nn.CrossEntropyLoss()
    optimizer = make_optimizer(args.optimizer, model.parameters(), lr)
    history = fit(model, train_loader, loss_fn, optimizer, args.epochs, progress=not args.no_progress)
    start = time.perf_counter()
    _, accuracy = evaluate(model, test_loader, loss_fn)
    test_seconds = time.perf_counter() - start
    epoch_seconds = float(np.mean(history.epoch_time))
    print(f"\n{args.model}: test accuracy {accuracy:.2%} on {len(test_set):,} images ({duration(test_seconds)}); "
          f"{duration(epoch_seconds)} per epoch of {len(train_set):,} images")  # fmt: skip

    threads = plural(args.threads, "thread") if args.threads else "default threads"
    row = {
        "model": args.model, "params": f"{summary.total_params:,}", "MACs": human(summary.total_macs),
        "epochs": str(args.epochs), "train images": f"{len(train_set):,}", "test images": f"{len(test_set):,}",
        "test accuracy": f"{accuracy:.2%}", "time / epoch": duration(epoch_seconds),
        "settings": f"{args.optimizer} lr {lr:g}, batch {args.batch_size}, seed {args.seed}, {threads}",
        "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
    }  # fmt: skip
    append_row(args.out, row)
    print(f"Row appended to {args.out}:\n| " + " | ".join(row[c] for c in COLUMNS) + " |")
    return {"accuracy": accuracy, "params": summary.total_params, "macs": summary.total_macs,
            "epoch_seconds": epoch_seconds, "train_images": len(train_set), "test_images": len(test_set),
            "row": row}  # fmt: skip


if __name__ == "__main__":
    main()
