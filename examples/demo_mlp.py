"""Train a small multi-layer perceptron on a synthetic 3-class spiral, with nothing but minidl tensors.

Every piece is visible: the parameters are plain tensors with ``requires_grad=True``, the loss is written out
from ``log_softmax``, ``loss.backward()`` fills the gradients, and the update is SGD with momentum by hand.
(``minidl.nn`` and ``minidl.optim`` package these pieces; this demo shows what they do.)

    python examples/demo_mlp.py    # under a second; prints the training loss and the held-out accuracy
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

import minidl
import minidl.nn.functional as F


def spiral(points_per_class: int, classes: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Points on ``classes`` interleaved spiral arms in the plane, with a little noise.
    Returns x: (N, 2) float32 and y: (N,) int64, N = points_per_class * classes."""
    xs, ys = [], []
    for c in range(classes):
        r = np.linspace(0.05, 1.0, points_per_class)
        theta = np.linspace(c * 2 * math.pi / classes, c * 2 * math.pi / classes + 4.0, points_per_class)
        theta += rng.normal(0, 0.25, points_per_class)
        xs.append(np.stack([r * np.sin(theta), r * np.cos(theta)], axis=1))
        ys.append(np.full(points_per_class, c))
    return np.concatenate(xs).astype(np.float32), np.concatenate(ys).astype(np.int64)


def init_layer(fan_in: int, fan_out: int) -> tuple[minidl.Tensor, minidl.Tensor]:
    """He-initialised weight (fan_in, fan_out) and zero bias (fan_out,), both trainable."""
    w = minidl.randn(fan_in, fan_out) * math.sqrt(2.0 / fan_in)
    return w.requires_grad_(), minidl.zeros(fan_out, requires_grad=True)


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=300, help="full-batch steps (default 300)")
    parser.add_argument("--lr", type=float, default=0.2, help="learning rate (default 0.2)")
    parser.add_argument("--hidden", type=int, default=64, help="hidden units per layer (default 64)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    minidl.manual_seed(args.seed)
    x_np, y_np = spiral(200, 3, np.random.default_rng(args.seed))
    x, y = minidl.tensor(x_np), minidl.tensor(y_np)
    test_x_np, test_y_np = spiral(200, 3, np.random.default_rng(args.seed + 1000))  # held out
    test_x, test_y = minidl.tensor(test_x_np), minidl.tensor(test_y_np)
    rows = minidl.arange(len(y_np))
    params = [*init_layer(2, args.hidden), *init_layer(args.hidden, args.hidden), *init_layer(args.hidden, 3)]
    velocity = [minidl.zeros_like(p) for p in params]

    def forward(inputs: minidl.Tensor) -> minidl.Tensor:
        w1, b1, w2, b2, w3, b3 = params
        h = F.relu(inputs @ w1 + b1)
        h = F.relu(h @ w2 + b2)
        return h @ w3 + b3

    start = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        logits = forward(x)
        loss = -F.log_softmax(logits, dim=1)[rows, y].mean()  # cross-entropy
        for p in params:
            p.grad = None
        loss.backward()
        with minidl.no_grad():  # SGD with momentum 0.9
            for p, v in zip(params, velocity):
                v.mul_(0.9).add_(p.grad)
                p.sub_(v, alpha=args.lr)
        if epoch == 1 or epoch % 50 == 0:
            accuracy = (logits.argmax(1) == y).float().mean().item()
            print(f"epoch {epoch:4d}  loss {loss.item():.4f}  train accuracy {accuracy:.3f}")
    with minidl.no_grad():
        accuracy = (forward(test_x).argmax(1) == test_y).float().mean().item()
    seconds = time.perf_counter() - start
    print(f"test accuracy {accuracy:.3f} on {len(test_y_np)} held-out points; trained in {seconds:.2f} s")
    return accuracy


if __name__ == "__main__":
    main()
