"""``fit``, ``evaluate`` and ``predict``: the training loop and the two loops that only run the model."""

from __future__ import annotations

import math
import os
import time
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from minidl.autograd import no_grad
from minidl.nn.module import Module
from minidl.optim.lr_scheduler import ReduceLROnPlateau
from minidl.tensor import Tensor
from minidl.train import checkpoint as ckpt
from minidl.train import ranks
from minidl.train.batches import batch_size, batch_tensors, input_batches, reference_parameter
from minidl.train.callbacks import Callback, FitState
from minidl.train.history import History
from minidl.train.metrics import accuracy_counts
from minidl.train.progress import EpochBar, epoch_line

LossFn = Callable[[Tensor, Tensor], Tensor]


class _Totals:
    """Sums over an epoch's batches: the loss weighted by batch size (so a smaller last batch counts for what
    it holds), correct predictions, samples."""

    def __init__(self) -> None:
        self.loss_sum = 0.0
        self.samples = 0
        self.correct = 0
        self.counted = 0
        self.classification = True

    def add(self, loss: float, n: int, output: Tensor, target: Tensor) -> None:
        self.loss_sum += loss * n
        self.samples += n
        counts = accuracy_counts(output, target) if self.classification else None
        if counts is None:
            self.classification = False
        else:
            self.correct += counts[0]
            self.counted += counts[1]

    def sum_over_ranks(self) -> None:
        """Replace the sums by their totals over every MPI rank (nothing to do in a single process)."""
        values = [self.loss_sum, self.samples, self.correct, self.counted, 0.0 if self.classification else 1.0]
        loss_sum, samples, correct, counted, not_classifying = ranks.sum_over_ranks(values)
        self.loss_sum, self.samples, self.correct, self.counted = loss_sum, int(samples), int(correct), int(counted)
        self.classification = not_classifying == 0  # accuracy only when every rank's outputs were classifications

    @property
    def loss(self) -> float:
        return self.loss_sum / self.samples if self.samples else math.nan

    @property
    def accuracy(self) -> float:
        return self.correct / self.counted if self.classification and self.counted else math.nan


def _loss_value(loss: Any) -> Tensor:
    """The loss, checked to be the one-element tensor that ``backward()`` needs."""
    if not isinstance(loss, Tensor):
        raise TypeError(f"loss_fn should return a Tensor, got {type(loss).__name__}")
    if loss.numel() != 1:
        raise ValueError(
            f"loss_fn should return a scalar (the mean over the batch), got a tensor of shape {tuple(loss.shape)}; "
            "use reduction='mean'"
        )
    return loss


def _loader_length(loader: Iterable) -> int | None:
    try:
        return len(loader)  # type: ignore[arg-type]
    except TypeError:
        return None


def _empty(where: str) -> ValueError:
    return ValueError(f"{where} yielded no batches")


# ------------------------------------------------------------------------------------------------ evaluate
def evaluate(model: Module, loader: Iterable, loss_fn: LossFn) -> tuple[float, float]:
    """The mean loss over every sample of ``loader`` and the accuracy (NaN unless a classification), in eval
    mode and without recording gradients; the model's mode is restored afterwards.

    loader: yields (x, y) pairs, x (N, ...) and y (N, ...) as Tensors or NumPy arrays.
    loss_fn: ``loss_fn(model(x), y)`` is the mean loss of the batch (a one-element tensor).

    Under MPI it evaluates this process's loader only (``fit`` sums the ranks' totals for its validation).
    """
    totals = _evaluate_totals(model, loader, loss_fn)
    if totals.samples == 0:
        raise _empty("evaluate: the loader")
    return totals.loss, totals.accuracy


def _evaluate_totals(model: Module, loader: Iterable, loss_fn: LossFn) -> _Totals:
    """The sums ``evaluate`` reports (see there)."""
    was_training = model.training
    model.eval()
    like = reference_parameter(model)
    totals = _Totals()
    try:
        with no_grad():
            for batch in loader:
                x, y = batch_tensors(batch, like, "loader")
                output = model(x)
                totals.add(_loss_value(loss_fn(output, y)).item(), batch_size(x), output, y)
    finally:
        model.train(was_training)
    return totals


def predict(model: Module, data: Any, batch_size: int = 256, softmax: bool = False) -> np.ndarray:
    """The model's outputs for every sample of ``data``, in order, as one NumPy array (N, ...), computed in eval
    mode without recording gradients (the model's mode is restored afterwards).

    data: an array or Tensor (N, ...) cut into batches of ``batch_size``, or a loader yielding (x, y) pairs or
        bare x batches.
    softmax: return probabilities (a softmax over dim 1) instead of the raw logits.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"predict: batch_size must be an integer >= 1, got {batch_size!r}")
    was_training = model.training
    model.eval()
    outputs = []
    try:
        with no_grad():
            for x in input_batches(data, batch_size, reference_parameter(model)):
                out = model(x)
                if softmax:
                    out = out.softmax(dim=1)
                outputs.append(out.numpy())
    finally:
        model.train(was_training)
    if not outputs:
        raise _empty("predict: the data")
    return np.concatenate(outputs, axis=0)


# ----------------------------------------------------------------------------------------------------- fit
def _train_epoch(state: FitState, loader: Iterable, loss_fn: LossFn, bar: EpochBar) -> _Totals:
    """One pass over ``loader`` in train mode: a step of the optimizer per batch."""
    model, optimizer = state.model, state.optimizer
    model.train()
    like = reference_parameter(model)
    totals = _Totals()
    start = time.perf_counter()
    for i, batch in enumerate(loader):
        x, y = batch_tensors(batch, like, "train_loader")
        optimizer.zero_grad()
        output = model(x)
        loss = _loss_value(loss_fn(output, y))
        loss.backward()
        optimizer.step()
        n, value = batch_size(x), loss.item()
        totals.add(value, n, output, y)
        state.batch, state.batch_logs = i, {"loss": value, "size": n}
        for callback in state.callbacks:
            callback.on_batch_end(state)
        bar.update(totals.loss, totals.accuracy, totals.samples / max(time.perf_counter() - start, 1e-9))
    if totals.samples == 0:
        raise _empty("fit: train_loader")
    return totals


def _step_scheduler(scheduler: Any, logs: dict[str, float], has_val: bool) -> None:
    """One scheduler step per epoch; ReduceLROnPlateau reads the validation (else training) loss, or the
    accuracy when its mode is 'max'."""
    if scheduler is None:
        return
    if isinstance(scheduler, ReduceLROnPlateau):
        prefix = "val" if has_val else "train"
        scheduler.step(logs[f"{prefix}_acc" if scheduler.mode == "max" else f"{prefix}_loss"])
    else:
        scheduler.step()


def _set_epoch(loaders: Sequence[Any], epoch: int) -> None:
    for loader in loaders:
        if loader is not None and callable(getattr(loader, "set_epoch", None)):
            loader.set_epoch(epoch)


def _run_epoch(
    state: FitState, train_loader: Iterable, val_loader: Iterable | None, loss_fn: LossFn, progress: bool
) -> dict[str, float]:
    """Train one epoch, validate, and return the epoch's logs: every History key (NaN where there is no value).
    Under MPI the metrics are those of all ranks' samples together."""
    lr = float(state.optimizer.param_groups[0]["lr"])
    ranks.check_same_length(_loader_length(train_loader), "train_loader")
    start = time.perf_counter()
    with EpochBar(progress, _loader_length(train_loader), state.epoch + 1, state.epochs) as bar:
        totals = _train_epoch(state, train_loader, loss_fn, bar)
    totals.sum_over_ranks()
    val_loss, val_acc = math.nan, math.nan
    if val_loader is not None:
        val = _evaluate_totals(state.model, val_loader, loss_fn)
        val.sum_over_ranks()
        if val.samples == 0:
            raise _empty("fit: val_loader")
        val_loss, val_acc = val.loss, val.accuracy
    logs = {"train_loss": totals.loss, "train_acc": totals.accuracy, "val_loss": val_loss, "val_acc": val_acc, "lr": lr}
    logs["epoch_time"] = time.perf_counter() - start
    return logs


def _check_epochs(epochs: Any) -> None:
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"fit: epochs must be an integer >= 1, got {epochs!r}")


def _checkpoint_callbacks(
    callbacks: Sequence[Callback], checkpoint_dir: str | os.PathLike | None, monitor: str | None
) -> list[Callback]:
    """The callbacks in running order: the user's, then the ModelCheckpoint (from ``checkpoint_dir`` or the
    user's own) last, so each checkpoint holds the other callbacks' state at the end of the epoch."""
    callbacks = list(callbacks)
    for callback in callbacks:
        if not isinstance(callback, Callback):
            raise TypeError(f"fit: callbacks must be minidl.train.Callback objects, got {type(callback).__name__}")
    savers = [c for c in callbacks if isinstance(c, ckpt.ModelCheckpoint)]
    if checkpoint_dir is not None:
        if savers:
            raise ValueError("fit: pass either checkpoint_dir= or a ModelCheckpoint callback, not both")
        savers = [ckpt.ModelCheckpoint(checkpoint_dir, monitor=monitor)]
    elif monitor is not None:
        raise ValueError(
            "fit: monitor= picks the best checkpoint of checkpoint_dir=; with your own ModelCheckpoint, set its "
            "monitor instead"
            if savers
            else "fit: monitor= picks the best checkpoint, so it needs checkpoint_dir="
        )
    return [c for c in callbacks if not isinstance(c, ckpt.ModelCheckpoint)] + savers


def _resume(state: FitState, resume: bool | str | os.PathLike) -> int:
    """Restore the checkpoint ``resume`` names; returns the epochs it had done."""
    savers = [c for c in state.callbacks if isinstance(c, ckpt.ModelCheckpoint)]
    path = ckpt.resolve_resume(resume, savers[0].directory if savers else None)
    done = ckpt.restore(state, ckpt.load_checkpoint(path))
    ranks.check_same_epoch(done, path)
    state.say(f"Resuming from {path} (epoch {done} done)")
    return done


def fit(
    model: Module,
    train_loader: Iterable,
    loss_fn: LossFn,
    optimizer: Any,
    epochs: int,
    val_loader: Iterable | None = None,
    scheduler: Any = None,
    callbacks: Sequence[Callback] = (),
    *,
    checkpoint_dir: str | os.PathLike | None = None,
    monitor: str | None = None,
    resume: bool | str | os.PathLike = False,
    progress: bool = True,
    print_fn: Callable[[str], None] | None = print,
) -> History:
    """Train ``model`` for ``epochs`` epochs and return the ``History`` of its metrics.

    Each epoch: ``train_loader.set_epoch(epoch)`` when the loader has it; a pass over ``train_loader`` in train
    mode (``optimizer.zero_grad()``, ``loss_fn(model(x), y).backward()``, ``optimizer.step()`` per batch); the
    validation pass over ``val_loader`` (eval mode, no gradients); one ``scheduler.step()`` (ReduceLROnPlateau
    gets the validation loss, or the training loss without a val_loader); one summary line through
    ``print_fn``; the callbacks' ``on_epoch_end``; and the checkpoint.

    model: maps x (N, ...) to outputs (N, C, ...) for classification (accuracy is the argmax over dim 1 against
        integer labels y (N, ...)), or to any output ``loss_fn`` takes (no accuracy is reported then).
    train_loader, val_loader: yield (x, y) pairs of Tensors or NumPy arrays (converted; floating arrays take
        the model's dtype, and every batch goes to the model's device).
    loss_fn: ``loss_fn(output, y)`` is the mean loss of the batch (a one-element tensor).
    optimizer: a ``minidl.optim`` optimizer over the model's parameters. scheduler: stepped once per epoch.
    callbacks: ``Callback`` objects; any of them can stop training (``state.stop_training = True``).
    checkpoint_dir: a folder for a checkpoint after every epoch (``epoch_0001.npz``...) and ``best.npz``.
    monitor: the metric that picks the best checkpoint (default: val_acc, else val_loss, else train_acc).
    resume: True continues from the latest checkpoint in checkpoint_dir; a path continues from that file (or
        that folder's latest). The run then goes on to ``epochs`` epochs in all, ending with the same weights as
        an uninterrupted run.
    progress: show a tqdm bar during each epoch (on stderr). print_fn: where the per-epoch lines go (None: quiet).

    Under MPI (``minidl.distributed`` initialised with several ranks; every rank calls ``fit`` alike, with a
    ``DistributedOptimizer`` and loaders holding each rank's share of the data): the epoch's metrics are those of
    all ranks' samples; the bar, the lines and the checkpoint files come from rank 0 only (each checkpoint holds
    every rank's random state); ``checkpoint_dir`` must be a folder every rank can read, and a run resumes with as
    many ranks as it had.
    """
    _check_epochs(epochs)
    epochs = int(epochs)
    ranks.warn_if_ranks_train_alone()
    ranks.warn_unless_distributed_optimizer(optimizer)
    if not ranks.is_root():
        progress, print_fn = False, None
    state = FitState(
        model=model,
        optimizer=optimizer,
        scheduler=scheduler,
        history=History(),
        epochs=epochs,
        callbacks=_checkpoint_callbacks(callbacks, checkpoint_dir, monitor),
        print_fn=print_fn,
        train_loader=train_loader,
    )
    if resume is not False and resume is not None:
        state.start_epoch = _resume(state, resume)
    for callback in state.callbacks:
        callback.on_train_begin(state)
    for epoch in range(state.start_epoch, epochs):
        state.epoch = epoch
        _set_epoch((train_loader, val_loader), epoch)
        for callback in state.callbacks:
            callback.on_epoch_begin(state)
        state.logs = _run_epoch(state, train_loader, val_loader, loss_fn, progress)
        state.history.append(state.logs)
        _step_scheduler(scheduler, state.logs, val_loader is not None)
        state.say(epoch_line(epoch + 1, epochs, state.logs))
        for callback in state.callbacks:
            callback.on_epoch_end(state)
        if state.stop_training:
            break
    for callback in state.callbacks:
        callback.on_train_end(state)
    return state.history
