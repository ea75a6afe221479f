"""How ``Sequential.fit``/``evaluate``/``predict`` run on minidl's loop (``minidl.train``): NumPy arrays become a
``DataLoader``, the compiled loss becomes the loop's loss function (``Objective``, which also counts the Keras
metrics of every batch), and ``KerasLoop``, a ``minidl.train.Callback``, turns the loop's epochs into Keras's logs,
``History``, printed lines and Keras callbacks.

When the loss is a cross-entropy on probabilities and the model ends with the matching activation (softmax, or
sigmoid for binary cross-entropy), the loop trains ``TrainingView``: the model without that last activation, with
the loss computed from the values before it (see ``minidl.keras.losses``). One-hot targets of
categorical cross-entropy are turned into class labels first: the same loss, on minidl's fused kernel.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from minidl import train
from minidl.data import DataLoader, TensorDataset
from minidl.keras import callbacks as keras_callbacks
from minidl.keras import config, losses, metrics
from minidl.nn.module import Module
from minidl.tensor import Tensor


def as_input_array(x: Any, where: str) -> np.ndarray:
    """Model inputs as a NumPy array of ``floatx()`` (integers and float64 are cast, as Keras does)."""
    if isinstance(x, Tensor):
        x = x.detach().numpy()
    array = np.asarray(x)
    if array.dtype == object or array.dtype.kind not in "biuf":
        raise TypeError(f"{where}: x must be a NumPy array of numbers, got {type(x).__name__} of dtype {array.dtype}")
    return array.astype(config.floatx(), copy=False)


def as_target_array(y: Any, n: int, where: str) -> np.ndarray:
    """Targets as a NumPy array of ``n`` rows."""
    if isinstance(y, Tensor):
        y = y.detach().numpy()
    if y is None:
        raise ValueError(f"{where}: y (the targets) is needed")
    array = np.asarray(y)
    if array.dtype == object or array.dtype.kind not in "biuf":
        raise TypeError(f"{where}: y must be a NumPy array of numbers, got {type(y).__name__} of dtype {array.dtype}")
    if array.ndim == 0 or len(array) != n:
        raise ValueError(f"{where}: x holds {n} samples but y holds {len(array) if array.ndim else 'a scalar'}")
    return array


def batch_size_of(batch_size: Any, where: str) -> int:
    """``batch_size`` (None: Keras's 32) checked."""
    if batch_size is None:
        return 32
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"{where}: batch_size must be a positive int, got {batch_size!r}")
    return int(batch_size)


def verbosity(verbose: Any) -> int:
    """Keras's verbose: "auto" is 1 (a progress bar and a line per epoch), 2 a line per epoch, 0 silence."""
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1, 2 or 'auto', got {verbose!r}")
    return int(verbose)


def validation_split_of(x: np.ndarray, y: np.ndarray, split: float) -> tuple[np.ndarray, ...]:
    """(x_train, y_train, x_val, y_val): the last ``split`` of the samples, before any shuffling, is for
    validation (Keras's rule: train on the first floor(n·(1 - split)))."""
    if not 0 < split < 1:
        raise ValueError(f"fit: validation_split must be in [0, 1), got {split!r}")
    at = math.floor(len(x) * (1.0 - split))
    if at == 0 or at == len(x):
        raise ValueError(f"fit: validation_split={split} leaves no sample on one side of {len(x)} samples")
    return x[:at], y[:at], x[at:], y[at:]


class TrainingView(Module):
    """The model as the loop trains it: its outputs, or with ``fused`` the values before its last activation."""

    def __init__(self, model: Any, fused: bool):
        super().__init__()
        self.model = model
        self.fused = fused

    def forward(self, x: Tensor) -> Tensor:
        return self.model.run_layers(x, skip_last_activation=self.fused)


class Objective:
    """The loop's loss function ``objective(output, y)``: the compiled loss (on pre-activation values when fused),
    counting the metrics of each batch for the phase the view is in (training or evaluation)."""

    def __init__(self, loss: losses.Loss, tracker: metrics.MetricTracker, view: TrainingView):
        self.loss, self.tracker, self.view = loss, tracker, view

    def __call__(self, output: Tensor, y: Tensor) -> Tensor:
        value = self.loss.logits_loss(y, output) if self.view.fused else self.loss(y, output)
        if self.tracker.metrics:
            self.tracker.update(output.detach().numpy(), y.numpy(), "train" if self.view.training else "eval")
        return value


@dataclass
class Plan:
    """What a compiled model needs to run on some data: the loss to use, the view, the metric tracker."""

    loss: losses.Loss
    view: TrainingView
    tracker: metrics.MetricTracker

    @property
    def objective(self) -> Objective:
        return Objective(self.loss, self.tracker, self.view)


def plan(model: Any, y: np.ndarray, others: tuple[np.ndarray, ...] = ()) -> tuple[Plan, np.ndarray, tuple]:
    """The plan for targets ``y`` (and ``others``, validation targets, converted the same way), with the targets
    checked and converted for the loss."""
    output_shape = model.output_shape
    loss = model.loss
    y = loss.check_targets(y, output_shape)
    others = tuple(loss.check_targets(o, output_shape) for o in others)
    found = [metrics.resolve(m, y.shape, output_shape) for m in model.compiled_metrics]
    if isinstance(loss, losses.CategoricalCrossentropy):
        sparse = [loss.sparse_equivalent(t) for t in (y, *others)]
        if all(s is not None for s in sparse):
            loss = sparse[0][1]
            y, others = sparse[0][0], tuple(s[0] for s in sparse[1:])
    fused = loss.fusable_activation is not None and model.last_activation_name() == loss.fusable_activation
    tracker = metrics.MetricTracker(found, loss.fusable_activation if fused else None)
    return Plan(loss, TrainingView(model, fused), tracker), y, others


def loader(x: np.ndarray, y: np.ndarray, batch_size: int, shuffle: bool) -> DataLoader:
    """Batches of (x, y) in order, or shuffled anew every epoch from minidl's generator."""
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=shuffle, prefetch=0)


def format_logs(logs: dict[str, float]) -> str:
    """`` - accuracy: 0.9912 - loss: 0.0281``, as Keras prints values."""
    parts = []
    for key, value in logs.items():
        text = f"{value:.4f}" if value == 0 or abs(value) >= 1e-3 else f"{value:.4e}"
        parts.append(f"{key}: {text}")
    return "".join(f" - {p}" for p in parts)


def step_line(steps: int, seconds: float, logs: dict[str, float]) -> str:
    """``422/422 - 9s - 21ms/step - accuracy: 0.9912 - loss: 0.0281``."""
    per_step = seconds / max(steps, 1)
    per = f"{per_step * 1000:.0f}ms/step" if per_step >= 1e-3 else f"{per_step * 1e6:.0f}us/step"
    return f"{steps}/{steps} - {seconds:.0f}s - {per}{format_logs(logs)}"


class KerasLoop(train.Callback):
    """Runs inside ``minidl.train.fit``, first of its callbacks: builds each epoch's Keras logs, gives them to the
    Keras callbacks, prints Keras's epoch lines and fills ``History``. It also writes the Keras accuracy into the
    loop's own logs (``train_acc``, ``val_acc``), so minidl callbacks such as ``EarlyStopping`` watch the same
    values the Keras logs show."""

    def __init__(
        self,
        model: Any,
        plan: Plan,
        callbacks: list[keras_callbacks.Callback],
        verbose: int,
        epochs: int,
        steps: int,
        has_validation: bool,
    ):
        self.model, self.plan, self.callbacks = model, plan, callbacks
        self.verbose, self.epochs, self.steps, self.has_validation = verbose, epochs, steps, has_validation
        self.logs: dict[str, float] = {}
        self._loss_sum, self._seen = 0.0, 0

    def on_train_begin(self, state: train.FitState) -> None:
        self.model.stop_training = False
        for callback in self.callbacks:
            callback.on_train_begin({})

    def on_epoch_begin(self, state: train.FitState) -> None:
        self.plan.tracker.reset()
        self._loss_sum, self._seen = 0.0, 0
        if self.verbose:
            print(f"Epoch {state.epoch + 1}/{self.epochs}")
        for callback in self.callbacks:
            callback.on_epoch_begin(state.epoch, {})

    def on_batch_end(self, state: train.FitState) -> None:
        size = state.batch_logs["size"]
        self._loss_sum += state.batch_logs["loss"] * size
        self._seen += size
        running = {**self.plan.tracker.results("train"), "loss": self._loss_sum / self._seen}
        for callback in self.callbacks:
            callback.on_train_batch_end(state.batch, dict(running))

    def on_epoch_end(self, state: train.FitState) -> None:
        logs = {**self.plan.tracker.results("train"), "loss": state.logs["train_loss"]}
        if self.has_validation:
            logs.update({f"val_{k}": v for k, v in self.plan.tracker.results("eval").items()})
            logs["val_loss"] = state.logs["val_loss"]
        for name in ("accuracy", "acc"):
            if name in logs:
                state.logs["train_acc"] = logs[name]
                state.logs["val_acc"] = logs.get(f"val_{name}", math.nan)
        self.logs = logs
        *user, history = self.callbacks
        for callback in user:
            callback.on_epoch_end(state.epoch, logs)
        if self.verbose:
            print(step_line(self.steps, state.logs["epoch_time"], logs))
        history.on_epoch_end(state.epoch, logs)
        if self.model.stop_training:
            state.stop_training = True

    def on_train_end(self, state: train.FitState) -> None:
        for callback in self.callbacks:
            callback.on_train_end(dict(self.logs))


def fit(
    model: Any,
    x: Any,
    y: Any,
    batch_size: Any,
    epochs: int,
    verbose: Any,
    callbacks: Any,
    validation_split: float,
    validation_data: Any,
    shuffle: bool,
) -> keras_callbacks.History:
    """``Sequential.fit`` (see there)."""
    model.require_compiled("fit")
    verbose, batch_size = verbosity(verbose), batch_size_of(batch_size, "fit")
    x = as_input_array(x, "fit")
    y = as_target_array(y, len(x), "fit")
    model.ensure_built(x.shape)
    x_val = y_val = None
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ValueError("fit: validation_data must be a pair (x_val, y_val)")
        x_val = as_input_array(validation_data[0], "fit (validation_data)")
        y_val = as_target_array(validation_data[1], len(x_val), "fit (validation_data)")
        model.check_input(x_val.shape)
    elif validation_split:
        x, y, x_val, y_val = validation_split_of(x, y, validation_split)
    run, y, others = plan(model, y, () if y_val is None else (y_val,))
    train_loader = loader(x, y, batch_size, bool(shuffle))
    val_loader = None if x_val is None else loader(x_val, others[0], batch_size, False)
    history = keras_callbacks.History()
    keras_side = [c for c in (callbacks or []) if not isinstance(c, train.Callback)]
    for callback in keras_side:
        if not isinstance(callback, keras_callbacks.Callback):
            raise TypeError(f"fit: callbacks must be keras.callbacks objects, got {type(callback).__name__}")
    minidl_side = [c for c in (callbacks or []) if isinstance(c, train.Callback)]
    params = {"epochs": int(epochs), "steps": len(train_loader), "verbose": verbose}
    for callback in (*keras_side, history):
        callback.set_model(model)
        callback.set_params(params)
    loop = KerasLoop(
        model, run, [*keras_side, history], verbose, int(epochs), len(train_loader), val_loader is not None
    )
    optimizer = model.minidl_optimizer()
    train.fit(
        run.view,
        train_loader,
        run.objective,
        optimizer,
        epochs,
        val_loader=val_loader,
        callbacks=[loop, *minidl_side],
        progress=verbose == 1,
        print_fn=None,
    )
    model.history = history
    return history


def evaluate(model: Any, x: Any, y: Any, batch_size: Any, verbose: Any, return_dict: bool) -> Any:
    """``Sequential.evaluate`` (see there)."""
    model.require_compiled("evaluate")
    verbose, batch_size = verbosity(verbose), batch_size_of(batch_size, "evaluate")
    x = as_input_array(x, "evaluate")
    y = as_target_array(y, len(x), "evaluate")
    model.ensure_built(x.shape)
    run, y, _ = plan(model, y)
    start = time.perf_counter()
    batches = loader(x, y, batch_size, False)
    loss, _ = train.evaluate(run.view, batches, run.objective)
    results = {"loss": loss, **run.tracker.results("eval")}
    if verbose:
        shown = {k: v for k, v in results.items() if k != "loss"} | {"loss": loss}
        print(step_line(len(batches), time.perf_counter() - start, shown))
    if return_dict:
        return results
    return loss if len(results) == 1 else list(results.values())


def predict(model: Any, x: Any, batch_size: Any, verbose: Any) -> np.ndarray:
    """``Sequential.predict`` (see there)."""
    verbose, batch_size = verbosity(verbose), batch_size_of(batch_size, "predict")
    x = as_input_array(x, "predict")
    model.ensure_built(x.shape)
    start = time.perf_counter()
    out = train.predict(model, x, batch_size=batch_size)
    if verbose:
        print(step_line(math.ceil(len(x) / batch_size), time.perf_counter() - start, {}))
    return out
