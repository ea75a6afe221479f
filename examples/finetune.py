"""Fine-tuning: reuse a network trained on one task to learn a related task from a few labelled images.

1. Pre-train LeNet-5 (``minidl.models.lenet5()``: ReLU, max-pool) on MNIST digits 0–4, every training image of
   those five digits.
2. The new task is digits 5–9 with only ``--per-class`` labelled training images of each (10, then 50 by
   default, drawn with ``--seed``). The pre-trained network is adapted as the course does it:
   - ``model.forward_features(x)`` is the backbone's feature map, what the new task reuses;
   - ``model.reset_classifier(5)`` puts a fresh output layer for the new label set in place of the old one;
   - phase 1 (``--frozen-epochs``): the backbone is frozen (``requires_grad_(False)``) and only the head trains;
   - phase 2 (the rest of ``--finetune-epochs``): everything trains, with optimizer parameter groups that give
     the backbone a lower learning rate (``--backbone-lr-factor`` × ``--lr``) than the head.
   ``--head classifier`` (the default) counts LeNet's whole classifier (the 120-84-5 MLP, 96% of its weights) as
   the head and its two convolutions (``model.features``) as the backbone; ``--head last`` uses the zoo's
   generic split, ``model.head_parameters()`` (the new output layer only) and ``model.backbone_parameters()``
   (the rest). LeNet's hidden FC layers are specific to the old digits: ``last`` scores about 3 points lower.
3. The baseline trains the same architecture from scratch on the same images, for the same epochs and batches,
   with the same optimizer and the head's learning rate on every layer.

Both are tested on every MNIST test image of digits 5–9 (4,861 images); the last lines compare them. Pre-training
pays off when labels are scarce: with 10 images per digit it adds 3.4 points on average over seeds 0-4 (from -0.7
to +9.1); with 50, LeNet-5 from scratch already reaches about 94% and the digits 0–4 add nothing (-0.7 to +1.2)::

    python examples/finetune.py                                              # about 15 s on one core
    python examples/finetune.py --per-class 5 10 50 --seed 1                 # the gain as labels get scarce

``--data-dir`` is the folder holding ``mnist/`` (or the folder of the four IDX files itself); without it the files
are looked for in ``$MINIDL_DATA``, ``~/.cache/minidl`` and the repository's ``data/``; ``--download`` fetches them.
A run repeats exactly for a given ``--seed`` and thread count.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the examples' shared _threads.py and _data.py
from _data import add_data_flags, load_splits
from _threads import DEFAULT_THREADS, limit_numba_threads, pin_threads, threads_flag

if __name__ == "__main__":  # before NumPy and Numba start their thread pools
    pin_threads(threads_flag(sys.argv[1:]))

import numpy as np

import minidl
from minidl import nn, optim
from minidl.data import DataLoader, TensorDataset, datasets
from minidl.models import LeNet5, lenet5
from minidl.nn import Parameter
from minidl.text import plural
from minidl.train import evaluate, fit

OLD_DIGITS = (0, 1, 2, 3, 4)  # the pre-training task
NEW_DIGITS = (5, 6, 7, 8, 9)  # the fine-tuning task
PRETRAIN_LR, PRETRAIN_BATCH = 0.05, 64


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see ``--help``), checked."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add_data_flags(parser, "MNIST")
    add("--per-class", type=int, nargs="+", default=[10, 50], metavar="N", help="labelled training images per new "
        "digit; several values give one comparison each, from one pre-trained network (default: 10 50)")  # fmt: skip
    add("--pretrain-epochs", type=int, default=3, help="epochs of pre-training on digits 0-4 (default 3)")
    add("--pretrain-subset", type=int, default=None, metavar="N", help="pre-train on N images of digits 0-4 only, "
        "for quick trials (default: all 30,596)")  # fmt: skip
    add("--test-subset", type=int, default=None, metavar="N", help="test on N images of each task only, for quick "
        "trials (default: all)")  # fmt: skip
    add("--finetune-epochs", type=int, default=30, help="epochs on the small set, for fine-tuning (both phases) "
        "and for the baseline alike (default 30)")  # fmt: skip
    add("--frozen-epochs", type=int, default=5, help="the first fine-tuning epochs, with the backbone frozen "
        "(default 5; 0: none)")  # fmt: skip
    add("--head", choices=("classifier", "last"), default="classifier", help="what is fine-tuned as the head: "
        "LeNet's whole classifier MLP (the default), or only its output layer (head_parameters())")  # fmt: skip
    add("--lr", type=float, default=0.02, help="learning rate of the head (SGD, momentum 0.9) and of the baseline "
        "(default 0.02)")  # fmt: skip
    add("--backbone-lr-factor", type=float, default=0.1, help="the backbone's learning rate in phase 2, relative "
        "to --lr (default 0.1)")  # fmt: skip
    add("--batch-size", type=int, default=25, help="batch size on the small set (default 25)")
    add("--seed", type=int, default=0, help="seeds the choice of images, the initial weights and the shuffles "
        "(default 0)")  # fmt: skip
    add(
        "--threads",
        type=int,
        default=DEFAULT_THREADS,
        help=f"threads of every thread pool: BLAS, Numba (default {DEFAULT_THREADS})",
    )
    args = parser.parse_args(argv)
    for name in ("pretrain_epochs", "finetune_epochs", "batch_size", "pretrain_subset", "test_subset", "threads"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    if min(args.per_class) < 1:
        parser.error(f"--per-class must be at least 1, got {min(args.per_class)}")
    if not 0 <= args.frozen_epochs < args.finetune_epochs:
        parser.error("--frozen-epochs must lie in [0, --finetune-epochs)")
    if args.seed < 0:
        parser.error("--seed must be non-negative")
    return args


# ------------------------------------------------------------------------------------------------------ data
def digit_dataset(
    mnist: datasets.MNIST, digits: tuple[int, ...], per_class: int | None = None, seed: int = 0
) -> TensorDataset:
    """The images of ``digits`` in ``mnist``, normalised, labelled 0.. in the order of ``digits`` (so 5-9 become
    0-4, the classes of the new head). ``per_class``: keep that many images of each digit, drawn with ``seed``;
    None keeps them all."""
    rng = np.random.default_rng(seed)
    chosen, labels = [], []
    for label, digit in enumerate(digits):
        index = np.flatnonzero(mnist.targets == digit)
        if per_class is not None:
            if per_class > len(index):
                raise ValueError(f"digit {digit} has only {len(index)} training images, fewer than {per_class}")
            index = np.sort(rng.choice(index, per_class, replace=False))
        chosen.append(index)
        labels.append(np.full(len(index), label, dtype=np.int64))
    order = np.concatenate(chosen)
    images = (mnist.data[order, None].astype(np.float32) / 255 - datasets.MNIST.mean) / datasets.MNIST.std
    return TensorDataset(images.astype(np.float32), np.concatenate(labels))


def subset(dataset: TensorDataset, n: int | None, seed: int) -> TensorDataset:
    """``n`` samples of ``dataset`` drawn with ``seed`` (all of them when ``n`` is None or too large)."""
    if n is None or n >= len(dataset):
        return dataset
    keep = np.sort(np.random.default_rng(seed).choice(len(dataset), n, replace=False))
    return TensorDataset(*(a[keep] for a in dataset.arrays))


# -------------------------------------------------------------------------------------------------- training
def sgd(params: list, lr: float) -> optim.SGD:
    """The optimizer of every phase: SGD with momentum 0.9 (``params``: tensors or parameter groups)."""
    return optim.SGD(params, lr=lr, momentum=0.9)


def train(model: LeNet5, data: TensorDataset, optimizer: optim.Optimizer, epochs: int, batch_size: int, seed: int,
          verbose: bool = False) -> None:  # fmt: skip
    """``epochs`` epochs of ``minidl.train.fit`` on ``data``, shuffled from ``seed``; a line per epoch when
    ``verbose``, else one at the end."""
    loader = DataLoader(data, batch_size=batch_size, shuffle=True, seed=seed)
    history = fit(model, loader, nn.CrossEntropyLoss(), optimizer, epochs, progress=False,
                  print_fn=print if verbose else None)  # fmt: skip
    if not verbose:
        print(f"      {plural(epochs, 'epoch')}: train loss {history.train_loss[-1]:.4f}, train accuracy "
              f"{history.train_acc[-1]:.1%}, {sum(history.epoch_time):.1f} s")  # fmt: skip


def test_accuracy(model: LeNet5, data: TensorDataset) -> float:
    """The accuracy of ``model`` on every image of ``data``."""
    return evaluate(model, DataLoader(data, batch_size=500), nn.CrossEntropyLoss())[1]


def pretrain(data: TensorDataset, test: TensorDataset, epochs: int, seed: int) -> LeNet5:
    """LeNet-5 trained on ``data`` (digits 0-4) for ``epochs``; prints its accuracy on ``test``."""
    print(f"1. Pre-training LeNet-5 on digits 0-4: {len(data):,} images, {plural(epochs, 'epoch')}, lr {PRETRAIN_LR:g}")
    minidl.manual_seed(seed)
    model = lenet5(num_classes=len(OLD_DIGITS))
    train(model, data, sgd(list(model.parameters()), PRETRAIN_LR), epochs, PRETRAIN_BATCH, seed, verbose=True)
    print(f"   test accuracy on digits 0-4: {test_accuracy(model, test):.1%} ({len(test):,} images)")
    features = model.forward_features(minidl.zeros((1, 1, 28, 28)))
    print(f"   forward_features: (1, 1, 28, 28) -> {tuple(features.shape)}, the feature map the new task reuses")
    return model


def split(model: LeNet5, head: str) -> tuple[list[Parameter], list[Parameter]]:
    """(backbone, head) parameters: ``head="classifier"`` splits LeNet into ``features`` and ``classifier``;
    ``"last"`` is the zoo's generic ``backbone_parameters()`` / ``head_parameters()`` (the output layer alone)."""
    if head == "classifier":
        return list(model.features.parameters()), list(model.classifier.parameters())
    return list(model.backbone_parameters()), list(model.head_parameters())


def fine_tune(pretrained: LeNet5, data: TensorDataset, test: TensorDataset, args: argparse.Namespace) -> float:
    """A copy of ``pretrained`` adapted to ``data`` (digits 5-9, labelled 0-4); returns its accuracy on ``test``."""
    model = lenet5(num_classes=len(OLD_DIGITS))
    model.load_state_dict(pretrained.state_dict())  # a copy: the pre-trained network serves every --per-class
    minidl.manual_seed(args.seed + 1)
    new = model.reset_classifier(len(NEW_DIGITS))
    print(f"   reset_classifier({len(NEW_DIGITS)}): {model.classifier_path} is now {new}, freshly initialised")
    backbone, head = split(model, args.head)

    if args.frozen_epochs:
        for p in backbone:
            p.requires_grad_(False)  # with --head classifier, the same as model.features.requires_grad_(False)
        trainable = sum(p.numel() for p in head)
        print(f"   phase 1, backbone frozen: {trainable:,} of {trainable + sum(p.numel() for p in backbone):,} "
              f"parameters train, lr {args.lr:g}")  # fmt: skip
        train(model, data, sgd(head, args.lr), args.frozen_epochs, args.batch_size, args.seed)
        print(f"      test accuracy with the backbone frozen: {test_accuracy(model, test):.1%}")
        for p in backbone:
            p.requires_grad_(True)

    backbone_lr = args.lr * args.backbone_lr_factor
    groups = [{"params": backbone, "lr": backbone_lr}, {"params": head}]  # the head's group takes the default lr
    print(f"   phase 2, everything trains: backbone lr {backbone_lr:g}, head lr {args.lr:g}")
    # Phase 2's loader gets its own seed: with the same one it would repeat phase 1's shuffles.
    train(model, data, sgd(groups, args.lr), args.finetune_epochs - args.frozen_epochs, args.batch_size,
          args.seed + 1)  # fmt: skip
    return test_accuracy(model, test)


def from_scratch(data: TensorDataset, test: TensorDataset, args: argparse.Namespace) -> float:
    """LeNet-5 trained from random weights on ``data`` with the same budget; returns its accuracy on ``test``."""
    print(f"   from scratch, same images: {plural(args.finetune_epochs, 'epoch')}, lr {args.lr:g} on every layer")
    minidl.manual_seed(args.seed + 2)
    model = lenet5(num_classes=len(NEW_DIGITS))
    train(model, data, sgd(list(model.parameters()), args.lr), args.finetune_epochs, args.batch_size, args.seed)
    return test_accuracy(model, test)


def main(argv: list[str] | None = None) -> list[dict[str, float]]:
    """Pre-train, then fine-tune and train from scratch for each ``--per-class``. Returns one dict per value:
    ``per_class``, ``scratch`` and ``finetuned`` (test accuracies in [0, 1]) and ``gain`` (in points)."""
    args = parse_args(argv)
    pin_threads(args.threads)
    limit_numba_threads(args.threads)
    start = time.perf_counter()
    train_set, test_set = load_splits(datasets.MNIST, args.data_dir, args.download)

    old_train = subset(digit_dataset(train_set, OLD_DIGITS), args.pretrain_subset, args.seed)
    old_test = subset(digit_dataset(test_set, OLD_DIGITS), args.test_subset, args.seed)
    pretrained = pretrain(old_train, old_test, args.pretrain_epochs, args.seed)
    test = subset(digit_dataset(test_set, NEW_DIGITS), args.test_subset, args.seed)
    results = []
    for per_class in args.per_class:
        small = digit_dataset(train_set, NEW_DIGITS, per_class, seed=args.seed)
        print(f"\n2. Digits 5-9 from {len(small)} labelled images ({per_class} per digit)")
        finetuned = fine_tune(pretrained, small, test, args)
        scratch = from_scratch(small, test, args)
        results.append({"per_class": per_class, "scratch": scratch, "finetuned": finetuned,
                        "gain": 100 * (finetuned - scratch)})  # fmt: skip

    print(f"\nTest accuracy on {len(test):,} MNIST test images of digits 5-9 (seed {args.seed}, "
          f"{time.perf_counter() - start:.0f} s in all):")  # fmt: skip
    for r in results:
        print(f"{r['per_class']:3d} per class   from scratch: {r['scratch']:.1%}  fine-tuned: {r['finetuned']:.1%}  "
              f"({r['gain']:+.1f} points)")  # fmt: skip
    return results


if __name__ == "__main__":
    main()
