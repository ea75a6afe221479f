"""Callback hooks, stopping from a callback, and EarlyStopping (unit and through fit)."""

from __future__ import annotations

import numpy as np
import pytest

from minidl import nn
from minidl.optim import SGD
from minidl.train import Callback, EarlyStopping, FitState, History, fit
from tests.train.helpers import ArrayLoader, blobs, mlp, weights

LOSS = nn.CrossEntropyLoss()


class Recorder(Callback):
    """Logs every hook call, keeps the weights after each epoch, and can stop after a given epoch."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.calls: list[str] = []
        self.weights: list[dict[str, np.ndarray]] = []
        self.stop_after = stop_after

    def on_train_begin(self, state: FitState) -> None:
        self.calls.append("train_begin")

    def on_epoch_begin(self, state: FitState) -> None:
        self.calls.append(f"epoch_begin {state.epoch}")

    def on_batch_end(self, state: FitState) -> None:
        self.calls.append(f"batch {state.batch} size {state.batch_logs['size']}")

    def on_epoch_end(self, state: FitState) -> None:
        self.calls.append(f"epoch_end {state.epoch} {sorted(state.logs)}")
        self.weights.append(weights(state.model))
        if self.stop_after is not None and state.epoch + 1 == self.stop_after:
            state.stop_training = True

    def on_train_end(self, state: FitState) -> None:
        self.calls.append("train_end")


def run(model, train, epochs, callbacks, val=None, lr=0.1) -> History:
    return fit(model, train, LOSS, SGD(model.parameters(), lr=lr), epochs, val_loader=val, callbacks=callbacks,
               progress=False, print_fn=None)  # fmt: skip


def test_hooks_run_in_order_and_a_callback_can_stop_training():
    recorder = Recorder(stop_after=2)
    history = run(mlp(), ArrayLoader(*blobs(10), 4), 5, [recorder])
    keys = sorted(History.KEYS)
    epoch = ["batch 0 size 4", "batch 1 size 4", "batch 2 size 2"]
    assert recorder.calls == [
        "train_begin",
        "epoch_begin 0", *epoch, f"epoch_end 0 {keys}",
        "epoch_begin 1", *epoch, f"epoch_end 1 {keys}",
        "train_end",
    ]  # fmt: skip
    assert len(history) == 2


def state_with(logs: dict[str, float], epoch: int, model: nn.Module | None = None) -> FitState:
    return FitState(model=model, optimizer=None, scheduler=None, history=History(), epochs=10, epoch=epoch,
                    logs=logs, print_fn=None)  # fmt: skip


def stopped_after(stopper: EarlyStopping, values: list[float], key: str = "val_loss") -> int | None:
    """The epoch (from 1) after which ``stopper`` stops on these values, or None."""
    for epoch, value in enumerate(values):
        state = state_with({key: value}, epoch)
        stopper.on_epoch_end(state)
        if state.stop_training:
            return epoch + 1
    return None


def test_early_stopping_counts_epochs_without_improvement():
    assert stopped_after(EarlyStopping(patience=2), [1.0, 0.8, 0.85, 0.9, 0.7]) == 4
    assert stopped_after(EarlyStopping(patience=2), [1.0, 0.8, 0.85, 0.7, 0.75, 0.6]) is None
    assert stopped_after(EarlyStopping(patience=0), [1.0, 0.9, 0.95]) == 3
    # min_delta: 0.8 -> 0.79 is not an improvement by more than 0.05.
    assert stopped_after(EarlyStopping(patience=1, min_delta=0.05), [1.0, 0.8, 0.79]) == 3
    # Accuracies are maximised ("auto" mode), and Keras' names are accepted.
    assert stopped_after(EarlyStopping("val_accuracy", patience=1), [0.5, 0.7, 0.6], key="val_acc") == 3
    assert stopped_after(EarlyStopping("val_acc", patience=1, mode="min"), [0.5, 0.7], key="val_acc") == 2


def test_early_stopping_refuses_a_metric_without_values():
    with pytest.raises(ValueError, match="'val_loss' has no value"):
        run(mlp(), ArrayLoader(*blobs(8), 4), 2, [EarlyStopping("val_loss")])
    with pytest.raises(ValueError, match="unknown metric 'val_f1'"):
        EarlyStopping("val_f1")
    with pytest.raises(ValueError, match="patience"):
        EarlyStopping(patience=-1)


@pytest.mark.parametrize("restore", [True, False])
def test_early_stopping_through_fit_stops_at_the_right_epoch_and_restores_the_best_weights(restore):
    # Validating on flipped labels: the better the model learns, the worse the validation loss, so the best
    # epoch is the first and, with patience 2, training stops after epoch 3.
    x, y = blobs(40)
    keep = y < 2
    x, y = x[keep], y[keep]
    recorder = Recorder()
    stopper = EarlyStopping("val_loss", patience=2, restore_best_weights=restore)
    model = mlp()
    history = run(model, ArrayLoader(x, y, 8), 10, [recorder, stopper], val=ArrayLoader(x, 1 - y, 8))
    assert len(history) == 3 and history.val_loss[0] < history.val_loss[1] < history.val_loss[2]
    assert (stopper.stopped_epoch, stopper.best_epoch, stopper.best) == (3, 1, history.val_loss[0])
    expected = recorder.weights[0 if restore else 2]
    for key, value in weights(model).items():
        np.testing.assert_array_equal(value, expected[key])


def test_early_stopping_state_round_trips():
    stopper = EarlyStopping(patience=3, restore_best_weights=True)
    model = mlp()
    stopper.on_epoch_end(state_with({"val_loss": 0.5}, 0, model))
    stopper.on_epoch_end(state_with({"val_loss": 0.6}, 1, model))
    copy = EarlyStopping(patience=3, restore_best_weights=True)
    copy.load_state_dict(stopper.state_dict())
    assert (copy.best, copy.best_epoch, copy.wait) == (0.5, 1, 1)
    assert copy.best_weights.keys() == stopper.best_weights.keys()


def test_callbacks_must_be_callback_objects():
    with pytest.raises(TypeError, match="Callback objects, got function"):
        run(mlp(), ArrayLoader(*blobs(8), 4), 1, [lambda state: None])
