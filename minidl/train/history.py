"""``History``: what ``fit`` returns, one value per epoch of each metric, and ``plot`` to draw the curves."""

from __future__ import annotations

import math
import os
from typing import Any, Mapping

# Monitor names a Keras user would type, mapped to the History keys.
ALIASES = {"loss": "train_loss", "accuracy": "train_acc", "acc": "train_acc", "val_accuracy": "val_acc"}


def metric_key(name: str) -> str:
    """The History key of a metric name ("val_loss", "val_acc", "train_loss", "train_acc", "lr", "epoch_time";
    Keras' "loss", "accuracy", "val_accuracy" are accepted too)."""
    key = ALIASES.get(name, name)
    if key not in History.KEYS:
        raise ValueError(f"unknown metric {name!r}; choose one of {', '.join(History.KEYS)}")
    return key


class History:
    """Per-epoch metrics of a training run: ``history.train_loss[i]`` is epoch i+1's mean training loss.

    Lists (one value per epoch, NaN where there is none: no validation loader, or accuracy of a
    non-classification loss): ``train_loss``, ``train_acc``, ``val_loss``, ``val_acc``, ``lr`` (the learning
    rate of the first parameter group during the epoch), ``epoch_time`` (seconds, validation included).
    ``history["val_loss"]`` works as well.
    """

    KEYS = ("train_loss", "train_acc", "val_loss", "val_acc", "lr", "epoch_time")

    def __init__(self) -> None:
        self.train_loss: list[float] = []
        self.train_acc: list[float] = []
        self.val_loss: list[float] = []
        self.val_acc: list[float] = []
        self.lr: list[float] = []
        self.epoch_time: list[float] = []

    def append(self, logs: Mapping[str, float]) -> None:
        """Record one epoch: ``logs`` maps each of ``KEYS`` to a number (a missing key records NaN)."""
        for key in self.KEYS:
            getattr(self, key).append(float(logs.get(key, math.nan)))

    def __len__(self) -> int:
        return len(self.train_loss)

    def __getitem__(self, name: str) -> list[float]:
        return getattr(self, metric_key(name))

    @property
    def epochs(self) -> list[int]:
        """The epoch numbers, from 1."""
        return list(range(1, len(self) + 1))

    def last(self) -> dict[str, float]:
        """The last epoch's metrics as a dict (empty before the first epoch)."""
        return {key: getattr(self, key)[-1] for key in self.KEYS} if len(self) else {}

    def state_dict(self) -> dict[str, list[float]]:
        """Every list, copied: ``{"train_loss": [...], ...}`` (what checkpoints store)."""
        return {key: list(getattr(self, key)) for key in self.KEYS}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Replace the lists by those of ``state_dict()`` (values become Python floats)."""
        lengths = {key: len(state[key]) for key in self.KEYS if key in state}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"History.load_state_dict: the lists have different lengths {lengths}")
        n = next(iter(lengths.values()), 0)
        for key in self.KEYS:
            values = state.get(key, [math.nan] * n)
            setattr(self, key, [float(v) for v in values])

    def plot(self, path: str | os.PathLike, title: str | None = None, dpi: int = 100) -> None:
        """Write a PNG (or any format matplotlib knows from the suffix) with two panels: loss and accuracy
        per epoch, training and validation. Series that are all NaN are left out.

        Uses a bare matplotlib ``Figure`` (the Agg renderer): pyplot and the user's backend are not touched.
        """
        from matplotlib.figure import Figure

        fig = Figure(figsize=(10, 4), layout="constrained")
        panels = (("loss", "train_loss", "val_loss"), ("accuracy", "train_acc", "val_acc"))
        for ax, (label, train_key, val_key) in zip(fig.subplots(1, 2), panels):
            for key, name in ((train_key, "train"), (val_key, "validation")):
                values = getattr(self, key)
                if any(not math.isnan(v) for v in values):
                    ax.plot(self.epochs, values, marker="o", markersize=3, label=name)
            ax.set_xlabel("epoch")
            ax.set_ylabel(label)
            ax.grid(True, alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend()
        if title:
            fig.suptitle(title)
        fig.savefig(os.fspath(path), dpi=dpi)

    def __repr__(self) -> str:
        last = ", ".join(f"{k}={v:.4g}" for k, v in self.last().items() if not math.isnan(v))
        return f"History(epochs={len(self)}{', ' + last if last else ''})"
