"""The Keras lab's training time: minidl.keras (channels-last, and channels-first) against PyTorch, same network.

The network is the lab's (examples/keras_mnist.py: Conv2D 32 3×3 relu, max-pool 2, Conv2D 64 3×3 relu, max-pool 2,
flatten, dropout 0.5, Dense 10 softmax; 34,826 parameters), trained with Adam (Keras's lr 1e-3, epsilon 1e-7) on
batches of 128 MNIST images, one epoch = 54,000 training images (the lab's validation_split 0.1) and a validation
pass over 6,000:

- ``minidl-nhwc``: ``minidl.keras`` exactly as the lab runs it (``model.fit(..., validation_data=...)``,
  channels-last images, each convolution and pooling permuting to and from the NCHW kernels);
- ``minidl-nchw``: the same with ``data_format="channels_first"`` on channels-first images (no permutation): the
  difference is the cost of the channels-last layout;
- ``torch``: the same network in PyTorch (NCHW), ``torch.optim.Adam(lr=1e-3, eps=1e-7)``, cross-entropy, the same
  batches drawn in the same way (a shuffled order, fancy indexing), and the validation pass under ``no_grad``.

Each case runs in its own process (as in the ``training`` suite: no allocator state shared), with every thread
pool pinned to ``--threads``. Each times ``epochs_fraction`` of an epoch (its first batches, and the same share of
the validation set) after a warm-up of a few batches (Numba's first calls, caches), and reports seconds per full
epoch extrapolated from it; the cases alternate for ``repeat`` rounds and the median is reported.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import time
from typing import Any

from benchmarks.report import markdown_table
from benchmarks.timing import THREAD_VARIABLES

DEFAULT_REPEAT = 1
CASES = ("minidl-nhwc", "minidl-nchw", "torch")
TRAIN, VAL, BATCH = 54_000, 6_000, 128


def _data(fraction: float, channels_first: bool) -> tuple[Any, ...]:
    """The lab's arrays (x/255 float32 with a channel axis, labels): the first ``fraction`` of the training part and
    of the validation part, and a few warm-up batches."""
    import numpy as np

    from minidl.keras.datasets import mnist

    (x, y), _ = mnist.load_data()
    x = np.expand_dims(x.astype("float32") / 255, 1 if channels_first else -1)
    y = y.astype(np.int64)
    n_train, n_val = math.ceil(fraction * TRAIN / BATCH) * BATCH, math.ceil(fraction * VAL)
    return x[:n_train], y[:n_train], x[TRAIN : TRAIN + n_val], y[TRAIN : TRAIN + n_val], x[: 4 * BATCH], y[: 4 * BATCH]


def _minidl_case(fraction: float, channels_first: bool) -> float:
    from minidl import keras
    from minidl.keras import layers

    fmt = "channels_first" if channels_first else "channels_last"
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input(shape=(1, 28, 28) if channels_first else (28, 28, 1)),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu", data_format=fmt),
        layers.MaxPooling2D(pool_size=(2, 2), data_format=fmt),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu", data_format=fmt),
        layers.MaxPooling2D(pool_size=(2, 2), data_format=fmt),
        layers.Flatten(data_format=fmt),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ])  # fmt: skip
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    x, y, x_val, y_val, x_warm, y_warm = _data(fraction, channels_first)
    model.fit(x_warm, y_warm, batch_size=BATCH, epochs=1, verbose=0)
    start = time.perf_counter()
    model.fit(x, y, batch_size=BATCH, epochs=1, validation_data=(x_val, y_val), verbose=0)
    return time.perf_counter() - start


def _torch_case(fraction: float, threads: int) -> float:
    import numpy as np
    import torch
    from torch import nn

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.5), nn.Linear(1600, 10),
    )  # fmt: skip
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    x, y, x_val, y_val, x_warm, y_warm = _data(fraction, channels_first=True)
    rng = np.random.default_rng(0)

    def epoch(x: np.ndarray, y: np.ndarray, x_val: np.ndarray | None, y_val: np.ndarray | None) -> None:
        model.train()
        order = rng.permutation(len(x))
        for start in range(0, len(x), BATCH):
            rows = order[start : start + BATCH]
            xb, yb = torch.from_numpy(x[rows]), torch.from_numpy(y[rows])
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            optimizer.step()
            loss.item()
        if x_val is None:
            return
        model.eval()
        with torch.no_grad():
            for start in range(0, len(x_val), BATCH):
                out = model(torch.from_numpy(x_val[start : start + BATCH]))
                nn.functional.cross_entropy(out, torch.from_numpy(y_val[start : start + BATCH])).item()

    epoch(x_warm, y_warm, None, None)
    start = time.perf_counter()
    epoch(x, y, x_val, y_val)
    return time.perf_counter() - start


def worker(case: str, fraction: float, threads: int) -> float:
    """Seconds of one timed (partial) epoch of ``case``, in this process."""
    if case == "torch":
        return _torch_case(fraction, threads)
    return _minidl_case(fraction, channels_first=case == "minidl-nchw")


def _run_worker(case: str, fraction: float, threads: int) -> float:
    env = {**os.environ, **{name: str(threads) for name in THREAD_VARIABLES}}
    command = [sys.executable, "-m", "benchmarks.keras_lab", case, str(fraction), str(threads)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return float(json.loads(result.stdout.strip().splitlines()[-1])["seconds"])


def run(repeat: int = DEFAULT_REPEAT, epochs_fraction: float = 0.25, threads: int = 1) -> tuple[str, dict[str, Any]]:
    """Time every case (see the module docstring); returns the Markdown table and the JSON data."""
    if not 0 < epochs_fraction <= 1:
        raise ValueError(f"keras_lab: epochs_fraction must be in (0, 1], got {epochs_fraction}")
    samples: dict[str, list[float]] = {case: [] for case in CASES}
    for _ in range(repeat):
        for case in CASES:
            samples[case].append(_run_worker(case, epochs_fraction, threads) / epochs_fraction)
    median = {case: statistics.median(values) for case, values in samples.items()}
    rows = []
    for case in CASES:
        shown = ", ".join(f"{v:.1f}" for v in samples[case])
        rows.append([case, f"{median[case]:.1f}", f"{median[case] / median['torch']:.2f}×", shown])
    table = markdown_table(["case", "s per epoch (median)", "vs PyTorch", "samples (s)"], rows)
    table += (
        f"\n\nOne epoch: {TRAIN:,} training images in batches of {BATCH} and a validation pass over {VAL:,}, "
        f"extrapolated from {epochs_fraction:g} of it; channels-last costs "
        f"{100 * (median['minidl-nhwc'] / median['minidl-nchw'] - 1):+.1f}% against channels-first in minidl."
    )
    data = {"epochs_fraction": epochs_fraction, "samples_s_per_epoch": samples, "median_s_per_epoch": median}
    return table, data


if __name__ == "__main__":  # a worker: python -m benchmarks.keras_lab CASE FRACTION THREADS
    seconds = worker(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]))
    print(json.dumps({"seconds": seconds}))
