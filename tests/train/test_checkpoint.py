"""Checkpoints: files per epoch, the best kept, resuming equals not stopping, stale files, keep_last."""

from __future__ import annotations

import math
import re
import shutil

import numpy as np
import pytest

import minidl
from minidl import nn
from minidl.optim import SGD
from minidl.optim.lr_scheduler import StepLR
from minidl.train import EarlyStopping, History, ModelCheckpoint, fit, latest_checkpoint, load_checkpoint
from minidl.train import checkpoint as ckpt
from minidl.train.callbacks import FitState
from tests.faults import stale_and_live_names
from tests.train.helpers import ArrayLoader, blobs, loaders, mlp, weights

LOSS = nn.CrossEntropyLoss()


def run(epochs: int, folder, resume=False, model_seed: int = 0, callbacks=(), **kwargs) -> tuple[nn.Module, History]:
    """A seeded run: a dropout MLP (so the global generator matters), SGD with momentum (optimizer state), a
    step schedule (scheduler state), a shuffling loader whose order depends on (seed, epoch)."""
    minidl.manual_seed(model_seed)
    model = mlp(dropout=0.3)
    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = StepLR(optimizer, step_size=1, gamma=0.7)
    train, val = loaders()
    history = fit(model, train, LOSS, optimizer, epochs, val_loader=val, scheduler=scheduler, callbacks=callbacks,
                  checkpoint_dir=folder, resume=resume, progress=False, print_fn=None, **kwargs)  # fmt: skip
    return model, history


def assert_same_weights(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def assert_same_history(a: History, b: History) -> None:
    for key in History.KEYS:
        if key != "epoch_time":
            assert getattr(a, key) == getattr(b, key), key


def test_a_checkpoint_per_epoch_and_the_best_one(tmp_path):
    model, history = run(3, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.npz", "epoch_0001.npz", "epoch_0002.npz",
                                                          "epoch_0003.npz"]  # fmt: skip
    assert latest_checkpoint(tmp_path) == tmp_path / "epoch_0003.npz"
    last = load_checkpoint(tmp_path / "epoch_0003.npz")
    assert last["epoch"] == 3
    assert_same_weights({k: v.numpy() for k, v in last["model"].items()}, weights(model))
    assert last["history"]["val_acc"] == history.val_acc
    best_epoch = int(np.argmax(history.val_acc)) + 1  # the first of the best, by val_acc
    best = load_checkpoint(tmp_path / "best.npz")
    assert best["epoch"] == best_epoch
    same = load_checkpoint(tmp_path / f"epoch_{best_epoch:04d}.npz")
    assert_same_weights({k: v.numpy() for k, v in best["model"].items()},
                        {k: v.numpy() for k, v in same["model"].items()})  # fmt: skip


def test_the_best_follows_the_monitored_metric(tmp_path):
    # Validating on flipped labels makes val_loss worst at the end, so its best is the first epoch.
    x, y = blobs(40)
    x, y = x[y < 2], y[y < 2]
    model = mlp()
    history = fit(model, ArrayLoader(x, y, 8), LOSS, SGD(model.parameters(), lr=0.1), 3,
                  val_loader=ArrayLoader(x, 1 - y, 8), checkpoint_dir=tmp_path, monitor="val_loss", progress=False,
                  print_fn=None)  # fmt: skip
    assert history.val_loss[0] < min(history.val_loss[1:])
    assert load_checkpoint(tmp_path / "best.npz")["epoch"] == 1


def test_resuming_equals_an_uninterrupted_run(tmp_path):
    straight, straight_history = run(4, tmp_path / "straight")
    run(2, tmp_path / "split")
    # A fresh process would start from other weights and another generator state: the checkpoint restores both.
    resumed, resumed_history = run(4, tmp_path / "split", resume=True, model_seed=123)
    assert_same_weights(weights(straight), weights(resumed))
    assert_same_history(straight_history, resumed_history)
    assert len(resumed_history) == 4
    a = load_checkpoint(tmp_path / "straight" / "epoch_0004.npz")
    b = load_checkpoint(tmp_path / "split" / "epoch_0004.npz")
    momentum = [(s["momentum_buffer"].numpy(), t["momentum_buffer"].numpy()) for s, t in
                zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values())]  # fmt: skip
    for x, y in momentum:
        np.testing.assert_array_equal(x, y)
    assert a["scheduler"] == b["scheduler"] and a["rng"] == b["rng"]


def test_resume_from_a_given_file_and_early_stopping_state(tmp_path):
    stopper = EarlyStopping("val_loss", patience=10, restore_best_weights=True)
    # best.npz follows the validation loss, which falls every epoch here (the accuracy reaches 1 at once).
    straight, straight_history = run(3, tmp_path / "straight", callbacks=[stopper], monitor="val_loss")
    _, split_history = run(3, tmp_path / "split", monitor="val_loss",
                           callbacks=[EarlyStopping("val_loss", patience=10, restore_best_weights=True)])  # fmt: skip
    assert split_history.val_loss[2] < split_history.val_loss[1] < split_history.val_loss[0]
    # Resume from epoch 1's file: the later files of the interrupted run are replaced, and best.npz (of epoch 3)
    # becomes epoch 1's again until the resumed run improves on it.
    resumed_stopper = EarlyStopping("val_loss", patience=10, restore_best_weights=True)
    with (
        pytest.warns(UserWarning, match="removing 2 checkpoint file"),
        pytest.warns(UserWarning, match=r"best.npz holds epoch 3, .* later epoch than the 1 this run resumes from"),
    ):
        resumed, resumed_history = run(3, tmp_path / "split", resume=tmp_path / "split" / "epoch_0001.npz",
                                       model_seed=7, callbacks=[resumed_stopper], monitor="val_loss")  # fmt: skip
    assert_same_weights(weights(straight), weights(resumed))
    assert_same_history(straight_history, resumed_history)
    assert (resumed_stopper.best, resumed_stopper.best_epoch) == (stopper.best, stopper.best_epoch)


def test_resume_after_the_last_epoch_trains_no_more(tmp_path):
    model, history = run(2, tmp_path)
    resumed, again = run(2, tmp_path, resume=True, model_seed=5)
    assert_same_weights(weights(model), weights(resumed))
    assert_same_history(history, again)


def test_a_fresh_run_removes_an_earlier_runs_checkpoints(tmp_path):
    run(3, tmp_path)
    with pytest.warns(UserWarning, match="removing 4 checkpoint file"):
        run(1, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.npz", "epoch_0001.npz"]


def test_keep_last_and_a_model_checkpoint_callback(tmp_path):
    saver = ModelCheckpoint(tmp_path, monitor="train_loss", keep_last=2)
    minidl.manual_seed(0)
    model = mlp()
    train, _ = loaders()
    history = fit(model, train, LOSS, SGD(model.parameters(), lr=0.1), 4, callbacks=[saver], progress=False,
                  print_fn=None)  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.npz", "epoch_0003.npz", "epoch_0004.npz"]
    assert saver.best == min(history.train_loss) and saver.mode == "min"
    assert math.isnan(load_checkpoint(tmp_path / "epoch_0004.npz")["history"]["val_loss"][0])
    with pytest.raises(ValueError, match="either checkpoint_dir= or a ModelCheckpoint"):
        fit(model, train, LOSS, SGD(model.parameters(), lr=0.1), 1, callbacks=[saver], checkpoint_dir=tmp_path)
    with pytest.raises(ValueError, match="keep_last"):
        ModelCheckpoint(tmp_path, keep_last=0)


def test_a_file_that_is_not_a_checkpoint_is_refused(tmp_path):
    path = tmp_path / "epoch_0001.npz"
    minidl.io.save({"w": np.zeros(2)}, path)
    with pytest.raises(ValueError, match="not a checkpoint written by minidl.train.fit"):
        run(2, tmp_path, resume=True)


def _augmented_run(epochs: int, folder, resume=False):
    """A small conv net fed by the real DataLoader with a seeded random augmentation (its own generator)."""
    from minidl.data import DataLoader, TensorDataset, transforms

    minidl.manual_seed(0)
    rng = np.random.default_rng(1)
    images = rng.random((48, 1, 8, 8)).astype(np.float32)
    labels = (images.mean(axis=(1, 2, 3)) > 0.5).astype(np.int64)
    augment = transforms.Compose(
        [transforms.RandomAffine(15, translate=(0.1, 0.1), seed=3), transforms.Normalize(0.5, 0.3)]
    )
    loader = DataLoader(TensorDataset(images, labels), 8, shuffle=True, seed=2, transform=augment, prefetch=0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 2))
    optimizer = SGD(model.parameters(), lr=0.1, momentum=0.9)
    fit(model, loader, LOSS, optimizer, epochs, checkpoint_dir=folder, resume=resume, progress=False, print_fn=None)
    return model


def test_resuming_with_augmentation_equals_an_uninterrupted_run(tmp_path):
    """The augmentation's own generator is part of the checkpoint (DataLoader.state_dict), so the resumed
    epochs see the same random transforms as an uninterrupted run."""
    straight = _augmented_run(4, tmp_path / "straight")
    _augmented_run(2, tmp_path / "interrupted")
    resumed = _augmented_run(4, tmp_path / "interrupted", resume=True)
    assert_same_weights(weights(resumed), weights(straight))


# ------------------------------------------------------------------------------------ interrupted writes


class Interrupted(Exception):
    """Stands for a kill between writing an epoch's checkpoint and copying it to best.npz."""


def model_weights(checkpoint: dict) -> dict[str, np.ndarray]:
    return {k: v.numpy() for k, v in checkpoint["model"].items()}


@pytest.mark.parametrize("first_copy", [True, False], ids=["best-missing", "best-stale"])
def test_best_npz_left_behind_by_an_interruption_is_repaired_on_resume(tmp_path, monkeypatch, first_copy):
    """Killed after epoch N's file (which records N as the best) is in place but before best.npz is copied:
    best.npz is missing, or holds an older epoch. Resuming copies epoch N's file over it."""
    copy = ckpt._copy_file

    def copy_or_die(source, target):
        if first_copy or source.name != "epoch_0001.npz":
            raise Interrupted(source.name)
        copy(source, target)

    monkeypatch.setattr(ckpt, "_copy_file", copy_or_die)
    with pytest.raises(Interrupted) as info:
        run(6, tmp_path, monitor="train_loss")  # the training loss improves: a copy after epoch 1 comes
    monkeypatch.setattr(ckpt, "_copy_file", copy)
    epoch = int(re.fullmatch(r"epoch_(\d+)\.npz", str(info.value))[1])
    assert (epoch == 1) == first_copy
    last = load_checkpoint(tmp_path / f"epoch_{epoch:04d}.npz")
    assert last["callbacks"]["0.ModelCheckpoint"]["best_epoch"] == epoch
    best = tmp_path / "best.npz"
    assert not best.exists() if first_copy else load_checkpoint(best)["epoch"] == 1

    found = "is missing" if first_copy else "holds epoch 1"
    message = rf"best.npz {found}, but the resumed run's best is epoch {epoch} \(.*interrupted"
    with pytest.warns(UserWarning, match=message):
        run(epoch, tmp_path, resume=True, monitor="train_loss")  # nothing left to train: only the repair
    repaired = load_checkpoint(best)
    assert repaired["epoch"] == epoch
    assert_same_weights(model_weights(repaired), model_weights(last))


def test_best_npz_of_a_gone_epoch_is_removed_on_resume(tmp_path):
    """The restored state's best epoch has no file left (keep_last pruned it) and best.npz holds another epoch:
    no copy can repair it, so it goes."""
    run(2, tmp_path, monitor="train_loss")
    shutil.copyfile(tmp_path / "epoch_0002.npz", tmp_path / "best.npz")
    (tmp_path / "epoch_0001.npz").unlink()
    saver = ModelCheckpoint(tmp_path)
    saver.load_state_dict({"monitor": "train_loss", "mode": "min", "best": 0.1, "best_epoch": 1})
    state = FitState(model=None, optimizer=None, scheduler=None, history=History(), epochs=2, start_epoch=2)
    with pytest.warns(UserWarning, match=r"best.npz holds epoch 2, .* epoch 1, whose file epoch_0001.npz is gone"):
        saver.on_train_begin(state)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch_0002.npz"]


def test_a_resumed_run_removes_stale_temporaries_of_checkpoints(tmp_path):
    run(2, tmp_path)
    names = {**stale_and_live_names("epoch_0003.npz", ".tmp"), **stale_and_live_names("best.npz", ".tmp")}
    names[".best.tmp.npz"] = True  # where older versions copied best.npz
    others = stale_and_live_names("notes.txt", ".tmp")  # not a checkpoint's: left alone
    for name in [*names, *others]:
        (tmp_path / name).write_bytes(b"half a checkpoint")
    run(2, tmp_path, resume=True)
    kept = {n for n, gone in names.items() if not gone} | set(others)
    assert {p.name for p in tmp_path.iterdir()} == {"best.npz", "epoch_0001.npz", "epoch_0002.npz"} | kept
