"""Fine-tuning of the second kind, image regression: the output layer changes from 10 class scores to 4 numbers,
the box (x1, y1, x2, y2) of the one MNIST digit on a 56×56 canvas.

1. Pre-train the backbone: MobileNet v1 (width ``--alpha``, ``small_input``) as a classifier of the 28×28 MNIST
   training digits, or load it from ``--backbone`` (the file ``examples/detect_digits.py`` writes serves too).
2. Replace its classifier by a regression head: the global average pooling goes (it would throw away where the
   digit is) and the new output layer maps the flattened 4×4 feature map to 4 outputs, the box in fractions of the
   canvas. Train everything with the smooth L1 loss (beta: one pixel) on ``--canvases`` canvases of
   ``MNISTDetection(canvas_size=56, digits_per_canvas=(1, 1))`` (training digits), Adam, a cosine schedule.
3. The baseline trains the same network from random weights, with the same canvases, batches and schedule.

Both are scored by the mean IoU of their boxes with the true ones on ``--test-canvases`` test canvases (digits
never seen in training), and by the share of boxes with IoU >= 0.5 and >= 0.75::

    python examples/box_regression.py                       # one thread, about 11 minutes
    python examples/box_regression.py --backbone runs/mobilenet_digits.npz   # the backbone of detect_digits.py

Measured with the defaults and detect_digits.py's backbone (one thread, on a 2-core machine shared with other jobs):
mean IoU 0.840 fine-tuned (99.6% of the boxes at IoU >= 0.5, 89.4% at >= 0.75) against 0.753 from scratch (96.0%,
61.6%), 272 and 269 s of training. With 6 epochs: 0.811 against 0.714.

``--data-dir`` is the folder holding ``mnist/`` (or the four IDX files); without it the files are looked for in
``$MINIDL_DATA``, ``~/.cache/minidl`` and the repository's ``data/``; ``--download`` fetches them. A run repeats
exactly for a given ``--seed`` and thread count.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the examples' shared helpers
from _backbone import add_backbone_flags, normalise, pretrained_backbone
from _data import add_data_flags, load_splits
from _device import add_device_flag, chosen_device
from _threads import DEFAULT_THREADS, limit_numba_threads, pin_threads, threads_flag

if __name__ == "__main__":  # before NumPy and Numba start their thread pools
    pin_threads(threads_flag(sys.argv[1:]))

import numpy as np

import minidl
from minidl import nn, optim
from minidl.data import DataLoader, datasets
from minidl.models import MobileNetV1, mobilenet_v1
from minidl.models.detection import smooth_l1_loss
from minidl.vision import box_iou

CANVAS = 56
DIGIT_SIZE = (28, 40)  # the digit's 28×28 frame is resized to 28-40 pixels: ink boxes of about 10-30 × 20-30


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see --help), checked."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add_data_flags(parser, "MNIST")
    add_device_flag(parser)
    add_backbone_flags(parser, alpha=0.25)
    add("--canvases", type=int, default=10000, help="training canvases (default 10000)")
    add("--epochs", type=int, default=8, help="training epochs of each network (default 8)")
    add("--batch-size", type=int, default=32, help="canvases per step (default 32)")
    add("--lr", type=float, default=1e-3, help="peak learning rate of Adam (default 1e-3)")
    add("--test-canvases", type=int, default=1000, help="test canvases (default 1000)")
    add("--seed", type=int, default=0, help="seeds the canvases, the weights and the shuffles (default 0)")
    add("--threads", type=int, default=DEFAULT_THREADS, help=f"threads of BLAS and Numba (default {DEFAULT_THREADS})")
    args = parser.parse_args(argv)
    for name in ("pretrain_epochs", "pretrain_subset", "canvases", "epochs", "batch_size", "test_canvases", "threads"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if not args.alpha > 0 or not args.lr > 0 or args.seed < 0:
        parser.error("--alpha and --lr must be positive and --seed non-negative")
    return args


def to_regressor(model: MobileNetV1) -> nn.Linear:
    """Turn the classifier into a box regressor in place: no global pooling, a new 4-output layer on the
    flattened feature map; returns the new layer."""
    with minidl.no_grad():
        features = model.forward_features(minidl.zeros(1, 1, CANVAS, CANVAS, device=model.classifier.weight.device))
    model.avgpool = nn.Identity()
    model.classifier = nn.Linear(features.numel(), 4).to(model.classifier.weight.device)
    return model.classifier


def train(model: MobileNetV1, canvases: datasets.MNISTDetection, args: argparse.Namespace, device) -> float:
    """``args.epochs`` epochs of smooth L1 between predicted and true boxes (fractions of the canvas); returns the
    seconds taken."""
    loader = DataLoader(canvases, batch_size=args.batch_size, shuffle=True, seed=args.seed, drop_last=True)
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs * len(loader))
    start = time.perf_counter()
    model.train()
    for epoch in range(args.epochs):
        total, steps = 0.0, 0
        for images, boxes, _ in loader:
            target = (boxes[:, 0] / CANVAS).to(device)  # the one digit of each canvas
            loss = smooth_l1_loss(model(minidl.from_numpy(normalise(images.numpy())).to(device)), target,
                                  beta=1 / CANVAS)  # fmt: skip
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            total, steps = total + loss.item(), steps + 1
        print(f"      epoch {epoch + 1}/{args.epochs}: smooth L1 {total / steps:.5f}")
    return time.perf_counter() - start


def box_scores(model: MobileNetV1, canvases: datasets.MNISTDetection, device) -> dict[str, float]:
    """Mean IoU of the predicted and true boxes over ``canvases``, and the shares with IoU >= 0.5 and >= 0.75."""
    model.eval()
    ious = []
    with minidl.no_grad():
        for start in range(0, len(canvases), 200):
            images = normalise(canvases.images[start : start + 200] / np.float32(255))
            predicted = model(minidl.from_numpy(images).to(device)).cpu().numpy() * CANVAS
            ordered = np.concatenate([np.minimum(predicted[:, :2], predicted[:, 2:]),
                                      np.maximum(predicted[:, :2], predicted[:, 2:])], axis=1)  # fmt: skip
            truth = np.concatenate(canvases.boxes[start : start + 200])
            ious.append(np.diag(box_iou(minidl.from_numpy(ordered), minidl.from_numpy(truth)).numpy()))
    iou = np.nan_to_num(np.concatenate(ious))
    return {"mean_iou": float(iou.mean()), "iou50": float((iou >= 0.5).mean()), "iou75": float((iou >= 0.75).mean())}


def main(argv: list[str] | None = None) -> dict[str, dict[str, float]]:
    """Pre-train, fine-tune and train from scratch; returns {"finetuned": scores, "scratch": scores}, each with
    mean_iou, iou50, iou75 and seconds (of its training)."""
    args = parse_args(argv)
    pin_threads(args.threads)
    limit_numba_threads(args.threads)
    device = chosen_device(args.device)
    start = time.perf_counter()
    mnist, mnist_test = load_splits(datasets.MNIST, args.data_dir, args.download)
    pretrained = pretrained_backbone(mnist, mnist_test, args, device)
    single = {"canvas_size": CANVAS, "digits_per_canvas": (1, 1), "digit_size": DIGIT_SIZE, "seed": args.seed}
    canvases = datasets.MNISTDetection(train=True, num_canvases=args.canvases, mnist=mnist, **single)
    test = datasets.MNISTDetection(train=False, num_canvases=args.test_canvases, mnist=mnist_test, **single)
    print(f"2. Box regression on {canvases!r}; tested on {test!r}")

    results = {}
    for name in ("finetuned", "scratch"):
        minidl.manual_seed(args.seed + 1)
        model = mobilenet_v1(num_classes=10, in_channels=1, alpha=args.alpha, small_input=True).to(device)
        if name == "finetuned":
            model.load_state_dict(pretrained.state_dict())
        head = to_regressor(model)
        print(f"   {'fine-tuned' if name == 'finetuned' else 'from scratch'}: new output layer {head}, "
              f"{args.epochs} epochs")  # fmt: skip
        seconds = train(model, canvases, args, device)
        results[name] = {**box_scores(model, test, device), "seconds": seconds}
        print(f"      mean IoU {results[name]['mean_iou']:.3f} ({seconds:.0f} s of training)")

    total = time.perf_counter() - start
    print(f"\nBoxes of {len(test):,} test digits ({total:.0f} s in all, {args.threads} thread(s)):")
    for name, label in (("finetuned", "fine-tuned  "), ("scratch", "from scratch")):
        r = results[name]
        print(f"   {label} mean IoU {r['mean_iou']:.3f}   IoU >= 0.5: {r['iou50']:.1%}   IoU >= 0.75: "
              f"{r['iou75']:.1%}")  # fmt: skip
    return results


if __name__ == "__main__":
    main()
