"""The pre-trained backbone the detection and box-regression examples fine-tune: MobileNet v1 (``small_input``, one
input channel) trained to classify the 28×28 MNIST digits, saved to and loaded from a ``--backbone`` file.
minidl is imported inside the functions: the examples pin their thread pools first."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

MEAN, STD = 0.1307, 0.3081  # MNIST's training pixels scaled to [0, 1] (datasets.MNIST.mean / .std)


def add_backbone_flags(parser: argparse.ArgumentParser, alpha: float) -> None:
    """``--alpha``, ``--backbone`` and ``--pretrain-epochs``, the same in every example that fine-tunes it."""
    parser.add_argument("--alpha", type=float, default=alpha, help=f"MobileNet v1 width multiplier (default {alpha})")
    parser.add_argument(
        "--backbone",
        type=Path,
        default=None,
        help="a .npz of the pre-trained backbone: loaded when it exists (for the same --alpha), else written after "
        "pre-training (default: pre-train, save nothing)",
    )
    parser.add_argument("--pretrain-epochs", type=int, default=1, help="epochs of digit classification (default 1)")
    parser.add_argument(
        "--pretrain-subset",
        type=int,
        default=None,
        metavar="N",
        help="pre-train on the first N MNIST training digits only, for quick trials (default: all)",
    )


def normalise(images: Any) -> Any:
    """Images in [0, 1] (NumPy) -> standardised with MNIST's training mean and deviation, float32."""
    import numpy as np

    return ((images - MEAN) / STD).astype(np.float32)


def pretrained_backbone(mnist: Any, mnist_test: Any, args: argparse.Namespace, device: Any) -> Any:
    """MobileNet v1 (width ``args.alpha``) that classifies MNIST digits: loaded from ``args.backbone`` when that file
    exists, else trained for ``args.pretrain_epochs`` epochs (Adam 2e-3, batches of 64) on the first
    ``args.pretrain_subset`` digits (all by default), tested, and saved to ``args.backbone`` when given."""
    import numpy as np

    import minidl
    from minidl import nn, optim
    from minidl.data import DataLoader, TensorDataset
    from minidl.models import mobilenet_v1
    from minidl.train import evaluate, fit

    alpha, epochs, path, seed = args.alpha, args.pretrain_epochs, args.backbone, args.seed
    minidl.manual_seed(seed)
    model = mobilenet_v1(num_classes=10, in_channels=1, alpha=alpha, small_input=True).to(device)
    if path is not None and path.is_file():
        model.load_state_dict(minidl.load(path, map_location=device))
        print(f"1. Backbone: MobileNet v1 (alpha {alpha:g}) loaded from {path}")
        return model
    subset = args.pretrain_subset
    train = TensorDataset(normalise(mnist.data[:subset, None] / np.float32(255)), mnist.targets[:subset])
    test = TensorDataset(normalise(mnist_test.data[:, None] / np.float32(255)), mnist_test.targets)
    count = sum(p.numel() for p in model.parameters())
    print(f"1. Pre-training MobileNet v1 (alpha {alpha:g}, {count:,} parameters) as a classifier of {len(train):,} "
          f"MNIST digits, {epochs} epoch(s)")  # fmt: skip
    loader = DataLoader(train, batch_size=64, shuffle=True, seed=seed)
    fit(model, loader, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=2e-3), epochs, progress=False)
    accuracy = evaluate(model, DataLoader(test, batch_size=500), nn.CrossEntropyLoss())[1]
    print(f"   digit test accuracy: {accuracy:.2%}")
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        minidl.save(model.state_dict(), path)
        print(f"   saved to {path}")
    return model
