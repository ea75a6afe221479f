"""fit / evaluate / predict on a tiny MLP: learning, History, averaging, modes, scheduler, progress, errors."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
from tqdm import tqdm

import minidl
from minidl import nn
from minidl.optim import SGD, Adam
from minidl.optim.lr_scheduler import ReduceLROnPlateau, StepLR
from minidl.train import History, evaluate, fit, predict
from minidl.train import progress as progress_module
from tests.train.helpers import ArrayLoader, blobs, loaders, mlp, weights

LOSS = nn.CrossEntropyLoss()


def quiet_fit(model, train, optimizer, epochs, **kwargs) -> History:
    kwargs.setdefault("progress", False)
    kwargs.setdefault("print_fn", None)
    return fit(model, train, LOSS, optimizer, epochs, **kwargs)


def test_fit_learns_a_separable_problem():
    train, val = loaders()
    model = mlp()
    history = quiet_fit(model, train, Adam(model.parameters(), lr=0.05), 8, val_loader=val)
    assert history.train_acc[-1] > 0.95
    assert history.val_acc[-1] > 0.95
    assert history.train_loss[-1] < history.train_loss[0] / 3


def test_history_has_one_value_per_epoch_of_each_metric():
    train, val = loaders()
    model = mlp()
    optimizer = SGD(model.parameters(), lr=0.1)
    history = quiet_fit(model, train, optimizer, 3, val_loader=val, scheduler=StepLR(optimizer, 1, gamma=0.5))
    assert len(history) == 3 and history.epochs == [1, 2, 3]
    for key in History.KEYS:
        assert len(getattr(history, key)) == 3, key
    assert history.lr == pytest.approx([0.1, 0.05, 0.025])  # the lr each epoch trained with
    assert all(t > 0 for t in history.epoch_time)
    assert all(0 <= a <= 1 for a in history.train_acc + history.val_acc)
    assert history["val_accuracy"] is history.val_acc and history["loss"] is history.train_loss
    # The last epoch's validation numbers are those of the final weights.
    assert (history.val_loss[-1], history.val_acc[-1]) == pytest.approx(evaluate(model, val, LOSS), rel=1e-6)


def test_history_without_validation_has_nan_val_metrics():
    train, _ = loaders()
    model = mlp()
    history = quiet_fit(model, train, SGD(model.parameters(), lr=0.1), 2)
    assert all(math.isnan(v) for v in history.val_loss + history.val_acc)
    assert not any(math.isnan(v) for v in history.train_loss + history.train_acc)


def test_the_loaders_epoch_is_set_before_each_epoch():
    train, val = loaders()
    model = mlp()
    quiet_fit(model, train, SGD(model.parameters(), lr=0.1), 3, val_loader=val)
    assert train.epochs_set == [0, 1, 2]


def test_train_loss_is_averaged_over_samples_with_a_smaller_last_batch():
    x, y = blobs(30)  # batches of 7: 7, 7, 7, 7, 2
    model = mlp()
    # lr=0 keeps the weights, so the epoch's mean loss must equal the loss of all samples in one batch.
    history = quiet_fit(model, ArrayLoader(x, y, 7), SGD(model.parameters(), lr=0.0), 1)
    full_loss, full_acc = evaluate(model, ArrayLoader(x, y, 30), LOSS)
    assert history.train_loss[0] == pytest.approx(full_loss, rel=1e-6)
    assert history.train_acc[0] == pytest.approx(full_acc)
    assert evaluate(model, ArrayLoader(x, y, 7), LOSS) == pytest.approx((full_loss, full_acc), rel=1e-6)


def test_evaluate_and_predict_agree_with_a_manual_loop():
    x, y = blobs(25)
    model = mlp(dropout=0.5)
    model.train()
    loader = ArrayLoader(x, y, 6)
    model.eval()
    with minidl.no_grad():
        logits = np.concatenate([model(xb).numpy() for xb, _ in loader])
        losses = [LOSS(model(xb), yb).item() * len(yb) for xb, yb in loader]
    model.train()
    loss, acc = evaluate(model, loader, LOSS)
    assert loss == pytest.approx(sum(losses) / len(x), rel=1e-6)
    assert acc == pytest.approx(np.mean(logits.argmax(1) == y))
    np.testing.assert_allclose(predict(model, loader), logits, rtol=1e-6)
    np.testing.assert_allclose(predict(model, x, batch_size=4), logits, rtol=1e-6)
    np.testing.assert_allclose(predict(model, minidl.from_numpy(x), batch_size=100), logits, rtol=1e-6)
    probs = predict(model, x, softmax=True)
    np.testing.assert_allclose(probs.sum(1), 1, rtol=1e-5)
    np.testing.assert_array_equal(probs.argmax(1), logits.argmax(1))
    assert model.training  # the caller's mode is kept


def test_numpy_batches_are_converted():
    x, y = blobs(20)
    model = mlp()
    tensors = evaluate(model, ArrayLoader(x, y, 8), LOSS)
    arrays = evaluate(model, ArrayLoader(x.astype(np.float64), y, 8, numpy=True), LOSS)
    assert arrays == pytest.approx(tensors)
    history = quiet_fit(model, ArrayLoader(x, y, 8, numpy=True), SGD(model.parameters(), lr=0.1), 1)
    assert history.train_loss[0] > 0


class ModeSpy(nn.Module):
    """Records ``self.training`` and whether gradients are recorded at each forward."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = mlp()
        self.seen: list[tuple[bool, bool]] = []

    def forward(self, x):
        self.seen.append((self.training, minidl.is_grad_enabled()))
        return self.inner(x)


def test_train_mode_for_training_eval_mode_without_grad_for_validation():
    train = ArrayLoader(*blobs(16), 8)
    val = ArrayLoader(*blobs(12), 4)
    model = ModeSpy()
    quiet_fit(model, train, SGD(model.parameters(), lr=0.1), 2, val_loader=val)
    epoch = [(True, True)] * 2 + [(False, False)] * 3
    assert model.seen == epoch * 2


class PlateauSpy(ReduceLROnPlateau):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.metrics: list[float] = []

    def step(self, metrics) -> None:
        self.metrics.append(float(metrics))
        super().step(metrics)


@pytest.mark.parametrize("with_val", [True, False])
def test_reduce_lr_on_plateau_steps_once_per_epoch_on_the_right_loss(with_val):
    train, val = loaders()
    model = mlp()
    optimizer = SGD(model.parameters(), lr=0.1)
    scheduler = PlateauSpy(optimizer, patience=0)
    history = quiet_fit(model, train, optimizer, 3, val_loader=val if with_val else None, scheduler=scheduler)
    assert scheduler.metrics == (history.val_loss if with_val else history.train_loss)


def test_progress_bar_and_lines_do_not_change_the_results(capsys, monkeypatch):
    # Refresh the bar at every batch (tqdm waits 0.1 s between refreshes), so its postfix shows up in stderr.
    monkeypatch.setattr(progress_module, "tqdm", functools.partial(tqdm, mininterval=0, miniters=1))
    runs = []
    for progress in (False, True):
        minidl.manual_seed(0)
        train, val = loaders()
        model = mlp(dropout=0.2)
        lines: list[str] = []
        history = fit(model, train, LOSS, SGD(model.parameters(), lr=0.1, momentum=0.9), 2, val_loader=val,
                      progress=progress, print_fn=lines.append)  # fmt: skip
        runs.append((weights(model), history, lines, capsys.readouterr()))
    (w0, h0, lines0, out0), (w1, h1, lines1, out1) = runs
    for key in w0:
        np.testing.assert_array_equal(w0[key], w1[key])
    assert h0.train_loss == h1.train_loss and h0.val_acc == h1.val_acc
    assert len(lines0) == 2 and lines0[0].startswith("Epoch 1/2 - train loss")
    assert " - val loss " in lines0[0] and lines0[0].endswith("s - lr 1.00e-01")
    assert [line.split(" - ")[:3] for line in lines0] == [line.split(" - ")[:3] for line in lines1]
    assert out0.err == ""
    assert "Epoch 2/2" in out1.err and "loss=" in out1.err and "acc=" in out1.err and "img/s=" in out1.err


def test_print_fn_defaults_to_print(capsys):
    model = mlp()
    fit(model, ArrayLoader(*blobs(8), 4), LOSS, SGD(model.parameters(), lr=0.1), 1, progress=False)
    assert capsys.readouterr().out.startswith("Epoch 1/1 - train loss")


def test_regression_reports_no_accuracy():
    x = np.random.default_rng(0).normal(size=(12, 4)).astype(np.float32)
    y = x[:, :1] * 2
    model = nn.Linear(4, 1)
    history = fit(model, ArrayLoader(x, y, 5), nn.MSELoss(), SGD(model.parameters(), lr=0.1), 2, progress=False,
                  print_fn=None)  # fmt: skip
    assert math.isnan(history.train_acc[0]) and history.train_loss[1] < history.train_loss[0]


# ------------------------------------------------------------------------------------------------------ errors
def test_a_non_scalar_loss_is_refused():
    model = mlp()
    with pytest.raises(ValueError, match=r"scalar.*shape \(4,\).*reduction='mean'"):
        fit(model, ArrayLoader(*blobs(8), 4), nn.CrossEntropyLoss(reduction="none"), SGD(model.parameters(), lr=0.1),
            1, progress=False, print_fn=None)  # fmt: skip


@pytest.mark.parametrize("epochs", [0, -1, 2.5, True])
def test_epochs_must_be_a_positive_integer(epochs):
    model = mlp()
    with pytest.raises(ValueError, match="epochs must be an integer >= 1"):
        quiet_fit(model, ArrayLoader(*blobs(8), 4), SGD(model.parameters(), lr=0.1), epochs)


def test_an_empty_loader_is_refused():
    model = mlp()
    empty = ArrayLoader(np.zeros((0, 4), np.float32), np.zeros(0, np.int64), 4)
    with pytest.raises(ValueError, match="train_loader yielded no batches"):
        quiet_fit(model, empty, SGD(model.parameters(), lr=0.1), 1)
    with pytest.raises(ValueError, match="the loader yielded no batches"):
        evaluate(model, empty, LOSS)
    with pytest.raises(ValueError, match="no batches"):
        predict(model, np.zeros((0, 4), np.float32))


def test_a_loader_must_yield_pairs():
    model = mlp()
    with pytest.raises(TypeError, match=r"train_loader should yield \(x, y\) pairs, got Tensor"):
        quiet_fit(model, [minidl.zeros(2, 4)], SGD(model.parameters(), lr=0.1), 1)


def test_resume_without_a_checkpoint_names_the_folder(tmp_path):
    model = mlp()
    folder = tmp_path / "run"
    with pytest.raises(FileNotFoundError, match=f"no checkpoint.*in {folder}"):
        quiet_fit(model, ArrayLoader(*blobs(8), 4), SGD(model.parameters(), lr=0.1), 1, checkpoint_dir=folder,
                  resume=True)  # fmt: skip
    with pytest.raises(ValueError, match="resume=True needs checkpoint_dir="):
        quiet_fit(model, ArrayLoader(*blobs(8), 4), SGD(model.parameters(), lr=0.1), 1, resume=True)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        quiet_fit(model, ArrayLoader(*blobs(8), 4), SGD(model.parameters(), lr=0.1), 1, resume=folder / "x.npz")


def test_tensor_batches_follow_a_float64_model():
    """The real DataLoader yields float32 Tensors; a float64 model (for checking) gets them cast, as arrays are."""
    from minidl.data import DataLoader, TensorDataset

    x, y = blobs(32)
    model = mlp().double()
    history = quiet_fit(model, DataLoader(TensorDataset(x, y), 8), SGD(model.parameters(), lr=0.1), 1)
    assert np.isfinite(history.train_loss[0])


def test_callbacks_start_afresh_in_a_second_fit(tmp_path):
    """EarlyStopping and ModelCheckpoint forget an earlier fit's best (as Keras resets them)."""
    from minidl.train import EarlyStopping, ModelCheckpoint

    train, val = loaders()
    model = mlp()
    stopper = EarlyStopping("val_loss", patience=1)
    saver = ModelCheckpoint(tmp_path)
    for run in range(2):
        opt = SGD(model.parameters(), lr=0.05)
        kwargs = {"val_loader": val, "callbacks": [stopper, saver], "progress": False, "print_fn": None}
        if run == 0:
            fit(model, train, LOSS, opt, 2, **kwargs)
        else:  # the second run replaces the first run's files, and says so
            with pytest.warns(UserWarning, match="removing 3 checkpoint file"):
                fit(model, train, LOSS, opt, 2, **kwargs)
        assert stopper.best_epoch >= 1 and (tmp_path / "best.npz").is_file()
    assert saver.best_epoch in (1, 2)


def test_models_returning_a_tuple_train_and_report_the_first_outputs_accuracy():
    class TwoHeads(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = mlp()

        def forward(self, x):
            out = self.body(x)
            return out, out * 0.5

    def loss(outputs, y):
        return LOSS(outputs[0], y) + 0.3 * LOSS(outputs[1], y)

    train, _ = loaders()
    model = TwoHeads()
    history = fit(model, train, loss, SGD(model.parameters(), lr=0.1), 2, progress=False, print_fn=None)
    assert 0.0 <= history.train_acc[-1] <= 1.0


def test_monitor_with_an_own_model_checkpoint_is_refused(tmp_path):
    from minidl.train import ModelCheckpoint

    train, _ = loaders()
    model = mlp()
    with pytest.raises(ValueError, match="set its monitor instead"):
        fit(model, train, LOSS, SGD(model.parameters(), lr=0.1), 1, callbacks=[ModelCheckpoint(tmp_path)],
            monitor="train_loss", progress=False, print_fn=None)  # fmt: skip
