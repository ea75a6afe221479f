"""Keras's callbacks: ``fit(..., callbacks=[EarlyStopping(patience=3)])``.

``Callback`` is Keras's interface (``on_epoch_end(epoch, logs)``, ``self.model``); ``fit`` calls these from inside
``minidl.train.fit`` (see ``minidl.keras.training``). ``EarlyStopping`` is ``minidl.train.EarlyStopping`` with
Keras's arguments and rules (``baseline``, ``start_from_epoch``, best weights restored at the end), so it runs in
minidl's loop directly; ``ModelCheckpoint`` and ``LearningRateScheduler`` are Keras's, built on ``model.save``
and the optimizer's ``learning_rate``. Logs use Keras's names: loss, accuracy, val_loss, val_accuracy.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any, Callable

import numpy as np

from minidl import train


class Callback:
    """Base class of Keras callbacks: override the hooks you need. ``self.model`` is the model being trained and
    ``self.params`` holds ``epochs``, ``steps`` and ``verbose``; a callback ends training after the current epoch
    by setting ``self.model.stop_training = True``."""

    def __init__(self) -> None:
        self.model: Any = None
        self.params: dict[str, Any] = {}

    def set_model(self, model: Any) -> None:
        self.model = model

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
        """Before the first epoch."""

    def on_train_end(self, logs: dict[str, float] | None = None) -> None:
        """After the last epoch (``logs``: the last epoch's)."""

    def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        """Before epoch ``epoch`` (from 0)."""

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        """After epoch ``epoch``'s validation; ``logs`` holds its metrics (a callback may add to them)."""

    def on_train_batch_end(self, batch: int, logs: dict[str, float] | None = None) -> None:
        """After each training step; ``logs`` holds the epoch's running mean loss and metrics."""


class History(Callback):
    """What ``fit`` returns: ``history.history`` maps each log name ("loss", "accuracy", "val_loss",
    "val_accuracy"...) to its value per epoch; ``history.epoch`` lists the epochs (from 0)."""

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)


class EarlyStopping(train.EarlyStopping):
    """Stop training when ``monitor`` ("val_loss", "val_accuracy", "loss", "accuracy") has not improved by more than
    ``min_delta`` for ``patience`` epochs, as Keras does: the first epoch's value is the first best; training stops
    after an epoch where ``patience`` epochs have passed since the last improvement (never after the first epoch);
    an improvement resets the count only if it also beats ``baseline`` (when given); epochs before
    ``start_from_epoch`` are not looked at. With ``restore_best_weights`` the model ends with the weights of its best
    epoch (whether or not training stopped early). ``stopped_epoch`` and ``best_epoch`` count from 0, as in Keras."""

    def __init__(
        self,
        monitor: str = "val_loss",
        min_delta: float = 0.0,
        patience: int = 0,
        verbose: int = 0,
        mode: str = "auto",
        baseline: float | None = None,
        restore_best_weights: bool = False,
        start_from_epoch: int = 0,
    ):
        super().__init__(monitor, patience, min_delta, mode, restore_best_weights)
        self.keras_monitor = monitor
        self.verbose = verbose
        self.baseline = baseline
        self.start_from_epoch = int(start_from_epoch)

    def _reset(self) -> None:
        super()._reset()
        self.best = math.nan  # no value yet: the first one is the best

    def _improved(self, value: float) -> bool:
        return math.isnan(self.best) or super()._improved(value)

    def _beats_baseline(self, value: float) -> bool:
        if self.baseline is None:
            return True
        best, self.best = self.best, float(self.baseline)
        try:
            return super()._improved(value)
        finally:
            self.best = best

    def on_epoch_end(self, state: train.FitState) -> None:
        value = state.logs.get(self.monitor, math.nan)
        if math.isnan(value):
            available = ", ".join(k for k, v in state.logs.items() if not math.isnan(v))
            warnings.warn(
                f"Early stopping conditioned on metric `{self.keras_monitor}` which is not available (have: "
                f"{available})",
                stacklevel=2,
            )
            return
        if state.epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self._weights(state)
            self.best_epoch = state.epoch
        self.wait += 1
        if self._improved(value):
            self.best, self.best_epoch = value, state.epoch
            if self.restore_best_weights:
                self.best_weights = self._weights(state)
            if self._beats_baseline(value):
                self.wait = 0
            return
        if self.wait >= self.patience and state.epoch > 0:
            self.stopped_epoch = state.epoch
            state.stop_training = True

    @staticmethod
    def _weights(state: train.FitState) -> dict[str, np.ndarray]:
        return {k: np.array(v.numpy(), copy=True) for k, v in state.model.state_dict().items()}

    def on_train_end(self, state: train.FitState) -> None:
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            state.model.load_state_dict(self.best_weights)


def _auto_mode(monitor: str, mode: str) -> str:
    if mode in ("min", "max"):
        return mode
    if mode != "auto":
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    return "max" if "acc" in monitor or monitor.startswith("fmeasure") else "min"


_WEIGHT_SUFFIXES = (".weights.h5", ".npz", ".safetensors")
_MODEL_SUFFIXES = (".npz", ".safetensors")


class ModelCheckpoint(Callback):
    """Save the model (``model.save``) or its weights (``save_weights_only``: ``model.save_weights``) after every
    epoch, or only when ``monitor`` improved (``save_best_only``). ``filepath`` may hold ``{epoch:02d}`` (from 1)
    and log names (``{val_loss:.2f}``). Whole models are written in minidl's formats (a path ending in ``.npz``
    or ``.safetensors``; ``keras.models.load_model`` reads them); weights also as Keras ``.weights.h5`` files."""

    def __init__(
        self,
        filepath: str,
        monitor: str = "val_loss",
        verbose: int = 0,
        save_best_only: bool = False,
        save_weights_only: bool = False,
        mode: str = "auto",
        save_freq: str = "epoch",
        initial_value_threshold: float | None = None,
    ):
        super().__init__()
        path = str(filepath)
        suffixes = _WEIGHT_SUFFIXES if save_weights_only else _MODEL_SUFFIXES
        if not path.endswith(suffixes):
            what = "weights" if save_weights_only else "whole models (save_weights_only=False)"
            raise ValueError(
                f"ModelCheckpoint: minidl.keras saves {what} to files ending in {', '.join(suffixes)}, got "
                f"{path!r}" + (" (Keras's .keras archives are read, not written)" if path.endswith(".keras") else "")
            )
        if save_freq != "epoch":
            raise ValueError(f"ModelCheckpoint: only save_freq='epoch' is supported, got {save_freq!r}")
        self.filepath, self.monitor, self.verbose = path, monitor, verbose
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        self.mode = _auto_mode(monitor, mode)
        self.best = initial_value_threshold

    def _improved(self, value: float) -> bool:
        if self.best is None:
            return True
        return value < self.best if self.mode == "min" else value > self.best

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        logs = logs or {}
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_best_only:
            value = logs.get(self.monitor)
            if value is None:
                warnings.warn(f"Can save best model only with {self.monitor} available, skipping.", stacklevel=2)
                return
            if not self._improved(value):
                if self.verbose > 0:
                    print(f"Epoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")
                return
            if self.verbose > 0:
                previous = "inf" if self.best is None else f"{self.best:.5f}"
                print(
                    f"Epoch {epoch + 1}: {self.monitor} improved from {previous} to {value:.5f}, saving model to {path}"
                )
            self.best = value
        elif self.verbose > 0:
            print(f"Epoch {epoch + 1}: saving model to {path}")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of every epoch to ``schedule(epoch, lr)`` (epoch from 0, lr the current
    rate); ``schedule(epoch)`` works too. The rate used appears in the logs as "learning_rate"."""

    def __init__(self, schedule: Callable[..., float], verbose: int = 0):
        super().__init__()
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        optimizer = self.model.optimizer
        try:
            lr = self.schedule(epoch, float(optimizer.learning_rate))
        except TypeError:  # a schedule of the epoch alone
            lr = self.schedule(epoch)
        if isinstance(lr, bool) or not isinstance(lr, (int, float, np.floating)) or not math.isfinite(lr):
            raise ValueError(f"LearningRateScheduler: the schedule must return a finite number, got {lr!r}")
        optimizer.learning_rate = float(lr)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {float(lr)}.")

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)
