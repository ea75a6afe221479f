"""Object detection on real data: find and read the MNIST digits on 96×96 canvases with an SSD-lite detector whose
backbone is a pre-trained digit classifier (the course's third kind of fine-tuning).

1. Pre-train the backbone: MobileNet v1 (``minidl.models.mobilenet_v1``, width ``--alpha``, ``small_input``) as a
   classifier of the 28×28 MNIST training digits (or load it from ``--backbone``, where it is saved after training).
2. Build the detector on its ``features`` (``minidl.models.detection.ssd_lite``): heads on the maps of stride 8
   (12×12) and 16 (6×6), four default boxes per cell shaped for digits (taller than wide).
3. Train it on ``--canvases`` training canvases of ``minidl.data.datasets.MNISTDetection`` (1-5 training digits
   each) with the multibox loss (smooth L1 on matched boxes, cross-entropy with 3:1 hard-negative mining), Adam
   and a cosine learning-rate schedule.
4. Evaluate on ``--test-canvases`` test canvases (digits the network never saw): mAP@0.5 (VOC, all-point) and COCO's
   mAP@[.5:.95]; draw the first canvases with the predicted boxes, digits and scores to ``--out``.

    python examples/detect_digits.py                        # one thread, about 10 minutes
    python examples/detect_digits.py --backbone runs/mobilenet_digits.npz   # pre-train once, reuse after

Measured with the defaults (one thread, on a 2-core machine shared with other jobs, so slower than alone): digit
accuracy 96.99% after the one epoch of pre-training (107 s), then mAP@0.5 0.946 and COCO mAP@[.5:.95] 0.678 on the
1,000 test canvases (3,012 digits), 619 s from start to end.

``--data-dir`` is the folder holding ``mnist/`` (or the four IDX files); without it the files are looked for in
``$MINIDL_DATA``, ``~/.cache/minidl`` and the repository's ``data/``; ``--download`` fetches them. A run repeats
exactly for a given ``--seed`` and thread count.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the examples' shared _threads.py and _data.py
from _backbone import add_backbone_flags, normalise, pretrained_backbone
from _data import add_data_flags, load_splits
from _device import add_device_flag, chosen_device
from _threads import DEFAULT_THREADS, limit_numba_threads, pin_threads, threads_flag

if __name__ == "__main__":  # before NumPy and Numba start their thread pools
    pin_threads(threads_flag(sys.argv[1:]))

import numpy as np

import minidl
from minidl import optim
from minidl.data import DataLoader, datasets
from minidl.models.detection import SSDLite, match_defaults, multibox_loss, ssd_lite
from minidl.vision import metrics

CANVAS = 96
# Default boxes: scales 0.2 and 0.35 of the canvas (19 and 34 pixels) on the 12×12 and 6×6 maps, and a square one
# between each scale and the next; width / height 1, 0.6 and 0.35, since digits are taller than wide.
SCALES = (0.2, 0.35, 0.5)
ASPECT_RATIOS = ((1.0, 0.6, 0.35), (1.0, 0.6, 0.35))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see --help), checked."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add_data_flags(parser, "MNIST")
    add_device_flag(parser)
    add_backbone_flags(parser, alpha=0.25)
    add("--canvases", type=int, default=8000, help="training canvases (default 8000)")
    add("--epochs", type=int, default=4, help="detector training epochs (default 4)")
    add("--batch-size", type=int, default=32, help="canvases per step (default 32)")
    add("--lr", type=float, default=2e-3, help="peak learning rate of Adam (default 2e-3)")
    add("--test-canvases", type=int, default=1000, help="test canvases (default 1000)")
    add("--out", type=Path, default=Path("runs/detect_digits.png"), help="the picture of test detections "
        "(default runs/detect_digits.png)")  # fmt: skip
    add("--seed", type=int, default=0, help="seeds the canvases, the weights and the shuffles (default 0)")
    add("--threads", type=int, default=DEFAULT_THREADS, help=f"threads of BLAS and Numba (default {DEFAULT_THREADS})")
    args = parser.parse_args(argv)
    for name in ("pretrain_epochs", "pretrain_subset", "canvases", "epochs", "batch_size", "test_canvases", "threads"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if not args.alpha > 0 or not args.lr > 0 or args.seed < 0:
        parser.error("--alpha and --lr must be positive and --seed non-negative")
    return args


# ---------------------------------------------------------------------------------------------- 3. training
def train_detector(model: SSDLite, canvases: datasets.MNISTDetection, args: argparse.Namespace,
                   device: minidl.Device) -> None:  # fmt: skip
    """``args.epochs`` epochs of the multibox loss over ``canvases``: Adam, cosine schedule per step."""
    loader = DataLoader(canvases, batch_size=args.batch_size, shuffle=True, seed=args.seed, drop_last=True)
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    steps = args.epochs * len(loader)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    model.train()
    for epoch in range(args.epochs):
        start, totals = time.perf_counter(), np.zeros(3)
        for images, boxes, labels in loader:
            padded = labels.numpy()
            truth = [b[lab >= 0] / CANVAS for b, lab in zip(boxes.numpy(), padded)]  # in fractions of the canvas
            digits = [lab[lab >= 0] for lab in padded]
            classes, offsets = match_defaults(model.default_boxes, truth, digits, model.coder)
            locations, scores = model(minidl.from_numpy(normalise(images.numpy())).to(device))
            loc_loss, conf_loss = multibox_loss(locations, scores, classes.to(device), offsets.to(device))
            loss = loc_loss + conf_loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            totals += (loc_loss.item(), conf_loss.item(), 1)
        print(f"   epoch {epoch + 1}/{args.epochs}: localisation {totals[0] / totals[2]:.3f}, confidence "
              f"{totals[1] / totals[2]:.3f}, {time.perf_counter() - start:.0f} s")  # fmt: skip


# -------------------------------------------------------------------------------------------- 4. evaluation
def detect_all(model: SSDLite, canvases: datasets.MNISTDetection, device: minidl.Device) -> list[dict]:
    """The detections of every canvas, in order, by batches of 100."""
    found = []
    for start in range(0, len(canvases), 100):
        images = canvases.images[start : start + 100] / np.float32(255)
        found += model.detect(minidl.from_numpy(normalise(images)).to(device))
    return found


def draw(canvases: datasets.MNISTDetection, found: list[dict], path: Path, count: int = 12, min_score: float = 0.5
         ) -> None:  # fmt: skip
    """The first ``count`` canvases with the detections scoring at least ``min_score`` (box, digit, score)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    columns = 4
    figure, axes = plt.subplots(-(-count // columns), columns, figsize=(3 * columns, 3 * -(-count // columns)))
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= count:
            continue
        ax.imshow(canvases.images[i, 0], cmap="gray", vmin=0, vmax=255)
        for box, score, label in zip(found[i]["boxes"], found[i]["scores"], found[i]["labels"]):
            if score < min_score:
                continue
            ax.add_patch(Rectangle(box[:2] - 0.5, *(box[2:] - box[:2]), fill=False, color="lime", linewidth=1.2))
            ax.text(box[0] - 0.5, box[1] - 1.5, f"{label} {score:.2f}", color="yellow", fontsize=8)
        truth = " ".join(str(v) for v in canvases.labels[i])
        ax.set_title(f"test canvas {i}: digits {truth}", fontsize=8)
    figure.suptitle(f"SSD-lite detections (score >= {min_score:g}) on MNISTDetection test canvases")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Pre-train, fine-tune the detector, evaluate; returns {"map_50", "coco_map", "seconds"}."""
    args = parse_args(argv)
    pin_threads(args.threads)
    limit_numba_threads(args.threads)
    device = chosen_device(args.device)
    start = time.perf_counter()
    mnist, mnist_test = load_splits(datasets.MNIST, args.data_dir, args.download)
    backbone = pretrained_backbone(mnist, mnist_test, args, device)

    minidl.manual_seed(args.seed + 1)
    model = ssd_lite(backbone, num_classes=10, image_size=CANVAS, scales=SCALES, aspect_ratios=ASPECT_RATIOS).to(device)
    maps = ", ".join(f"{s}x{s}" for s in (CANVAS // 8, CANVAS // 16))
    print(f"2. SSD-lite on its features: heads on the {maps} maps, {len(model.default_boxes)} default boxes, "
          f"{sum(p.numel() for p in model.parameters()):,} parameters")  # fmt: skip

    canvases = datasets.MNISTDetection(train=True, num_canvases=args.canvases, mnist=mnist, seed=args.seed)
    print(f"3. Training on {canvases!r}, {args.epochs} epochs of {args.batch_size}-canvas batches")
    train_detector(model, canvases, args, device)

    test = datasets.MNISTDetection(train=False, num_canvases=args.test_canvases, mnist=mnist_test, seed=args.seed)
    found = detect_all(model, test, device)
    truth = [{"boxes": b, "labels": lab} for b, lab in zip(test.boxes, test.labels)]
    result = {
        "map_50": metrics.mean_average_precision(found, truth, iou_threshold=0.5),
        "coco_map": metrics.coco_map(found, truth)["map"],
        "seconds": time.perf_counter() - start,
    }
    draw(test, found, args.out)
    print(f"4. On {test!r}: mAP@0.5 {result['map_50']:.3f} (VOC, all-point), COCO mAP@[.5:.95] "
          f"{result['coco_map']:.3f}; {result['seconds']:.0f} s in all at {args.threads} thread(s); "
          f"detections drawn to {args.out}")  # fmt: skip
    return result


if __name__ == "__main__":
    main()
