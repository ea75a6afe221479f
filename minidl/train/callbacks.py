"""Callbacks: code that runs at fixed points of ``fit`` and sees the loop's state (``FitState``).

A callback subclasses ``Callback`` and overrides the hooks it needs; setting ``state.stop_training = True``
ends training after the current epoch. A callback that keeps state across epochs returns it from
``state_dict()`` so checkpoints (and ``fit(..., resume=True)``) carry it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from minidl.train.history import History, metric_key


@dataclass
class FitState:
    """The loop's state as callbacks see it.

    start_epoch: the epochs already done when ``fit`` began (0, or those of the checkpoint it resumed).
    epoch: the index of the current epoch, from 0 (``epoch + 1`` is the number printed).
    logs: the current epoch's metrics (the keys of ``History``), filled before ``on_epoch_end``.
    batch, batch_logs: the index of the batch just done and its ``{"loss", "size"}``, for ``on_batch_end``.
    stop_training: set it to end training; ``fit`` checks it after each epoch's callbacks.
    """

    model: Any
    optimizer: Any
    scheduler: Any
    history: History
    epochs: int
    callbacks: list[Callback] = field(default_factory=list)
    print_fn: Callable[[str], None] | None = print
    train_loader: Any = None
    start_epoch: int = 0
    epoch: int = 0
    logs: dict[str, float] = field(default_factory=dict)
    batch: int = 0
    batch_logs: dict[str, float] = field(default_factory=dict)
    stop_training: bool = False

    def say(self, message: str) -> None:
        """Print ``message`` through the loop's ``print_fn`` (nothing when it is None)."""
        if self.print_fn is not None:
            self.print_fn(message)


class Callback:
    """Base class of callbacks: every hook does nothing. Hooks run in the order of ``fit``'s ``callbacks``."""

    def on_train_begin(self, state: FitState) -> None:
        """Before the first epoch (after a resumed run's state is restored)."""

    def on_train_end(self, state: FitState) -> None:
        """After the last epoch, or after a callback stopped training."""

    def on_epoch_begin(self, state: FitState) -> None:
        """Before epoch ``state.epoch`` trains."""

    def on_epoch_end(self, state: FitState) -> None:
        """After the epoch's validation and the scheduler's step; ``state.logs`` holds its metrics."""

    def on_batch_end(self, state: FitState) -> None:
        """After each training step; ``state.batch_logs`` holds the batch's loss and size."""

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint must keep of this callback to resume exactly (nothing, by default)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned."""


def resolve_mode(mode: str, key: str) -> str:
    """'min' or 'max' for a metric: ``mode`` itself, or for 'auto' max for accuracies and min otherwise."""
    if mode == "auto":
        return "max" if key.endswith("acc") else "min"
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min', 'max' or 'auto', got {mode!r}")
    return mode


class EarlyStopping(Callback):
    """Stop training when ``monitor`` has not improved for ``patience`` epochs.

    monitor: a metric of ``History`` ("val_loss", "val_acc", "train_loss", ...).
    patience: how many epochs in a row without improvement end training: with the best value at epoch b,
        training stops after epoch b + patience (b + 1 for patience=0).
    min_delta: an improvement must beat the best by more than this (absolute).
    mode: "min", "max", or "auto" (max for accuracies, min otherwise).
    restore_best_weights: when training was stopped, load the weights of the best epoch at the end.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 0,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best_weights: bool = False,
    ) -> None:
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"EarlyStopping: patience must be an integer >= 0, got {patience!r}")
        self.monitor = metric_key(monitor)
        self.patience = patience
        self.min_delta = abs(float(min_delta))
        self.mode = resolve_mode(mode, self.monitor)
        self.restore_best_weights = restore_best_weights
        self._reset()

    def _reset(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = 0  # 1-based; 0 before any epoch
        self.wait = 0
        self.stopped_epoch = 0
        self.best_weights: dict[str, np.ndarray] | None = None

    def on_train_begin(self, state: FitState) -> None:
        if state.start_epoch == 0:  # a new run (a resumed one has its state restored): forget any earlier fit
            self._reset()

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, state: FitState) -> None:
        value = state.logs.get(self.monitor, math.nan)
        if math.isnan(value):
            raise ValueError(
                f"EarlyStopping: the monitored metric {self.monitor!r} has no value (is there a val_loader, and "
                "is the loss a classification one for accuracies?)"
            )
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, state.epoch + 1, 0
            if self.restore_best_weights:
                self.best_weights = {k: np.array(v.numpy(), copy=True) for k, v in state.model.state_dict().items()}
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = state.epoch + 1
            state.stop_training = True

    def on_train_end(self, state: FitState) -> None:
        if not self.stopped_epoch:
            return
        message = f"Early stopping after epoch {self.stopped_epoch}: best {self.monitor} {self.best:.4g}"
        if self.restore_best_weights and self.best_weights is not None:
            state.model.load_state_dict(self.best_weights)
            message += f", weights of epoch {self.best_epoch} restored"
        state.say(message)

    def state_dict(self) -> dict[str, Any]:
        return {
            "best": self.best,
            "best_epoch": self.best_epoch,
            "wait": self.wait,
            "stopped_epoch": self.stopped_epoch,
            "best_weights": self.best_weights,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = float(state["best"])
        self.best_epoch = int(state["best_epoch"])
        self.wait = int(state["wait"])
        self.stopped_epoch = int(state["stopped_epoch"])
        weights = state["best_weights"]
        self.best_weights = None if weights is None else {k: np.asarray(v) for k, v in weights.items()}


class BatchSizeScheduler(Callback):
    """Multiply the training loader's batch size by ``factor`` at each epoch of ``milestones``, instead of dividing
    the learning rate ("Don't decay the learning rate, increase the batch size", Smith et al., 2017: the gradient
    noise falls alike, with fewer and larger steps).

    milestones: epoch indices from 0 (as ``MultiStepLR``'s): epoch e trains with ``base * factor ** k``, k the number
        of milestones <= e, where base is the loader's batch size when ``fit`` starts. factor: an integer >= 2.

    The loader (``fit``'s train_loader, through ``FitState``) must read its ``batch_size`` attribute when an epoch
    starts, as ``minidl.data.DataLoader`` does. A resumed run continues with the batch size of its epoch; at the end
    of training the loader gets its base batch size back.
    """

    def __init__(self, milestones: Sequence[int], factor: int = 5) -> None:
        values = list(milestones)
        if not values or any(isinstance(m, bool) or not isinstance(m, int) or m < 1 for m in values):
            raise ValueError(f"BatchSizeScheduler: milestones must be epoch indices >= 1, got {milestones!r}")
        if values != sorted(set(values)):
            raise ValueError(f"BatchSizeScheduler: milestones must increase strictly, got {milestones!r}")
        if isinstance(factor, bool) or not isinstance(factor, int) or factor < 2:
            raise ValueError(f"BatchSizeScheduler: factor must be an integer >= 2 (batch sizes are whole), got "
                             f"{factor!r}")  # fmt: skip
        self.milestones, self.factor = values, factor
        self.base_batch_size: int | None = None

    def batch_size_at(self, epoch: int) -> int:
        """The batch size epoch ``epoch`` (from 0) trains with."""
        if self.base_batch_size is None:
            raise RuntimeError("BatchSizeScheduler: the base batch size is known once fit starts")
        return self.base_batch_size * self.factor ** sum(m <= epoch for m in self.milestones)

    def on_train_begin(self, state: FitState) -> None:
        size = getattr(state.train_loader, "batch_size", None)
        if isinstance(size, bool) or not isinstance(size, int):
            kind = type(state.train_loader).__name__
            raise TypeError(f"BatchSizeScheduler: the train loader needs an integer batch_size attribute it reads "
                            f"each epoch (minidl.data.DataLoader has one), got {kind}")  # fmt: skip
        if state.start_epoch == 0 or self.base_batch_size is None:
            self.base_batch_size = size

    def on_epoch_begin(self, state: FitState) -> None:
        size = self.batch_size_at(state.epoch)
        if size != state.train_loader.batch_size:
            state.say(f"BatchSizeScheduler: batch size {state.train_loader.batch_size} -> {size}")
            state.train_loader.batch_size = size

    def on_train_end(self, state: FitState) -> None:
        state.train_loader.batch_size = self.base_batch_size

    def state_dict(self) -> dict[str, Any]:
        return {"base_batch_size": self.base_batch_size}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        base = state["base_batch_size"]
        self.base_batch_size = None if base is None else int(base)
