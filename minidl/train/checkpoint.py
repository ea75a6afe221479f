"""Checkpoints of a ``fit`` run: what one holds, where it is written, and how a run resumes from it.

A checkpoint is one ``.npz`` file (written by ``minidl.save``) holding a dict::

    {"format": "minidl.train.checkpoint/1", "epoch": epochs done, "model": state dict,
     "optimizer": state dict, "scheduler": state dict or None, "history": History.state_dict(),
     "callbacks": {"<index>.<class name>": state dict, ...}, "rng": the random generators' states (JSON),
     "loader": the training loader's state_dict() (its augmentation generators), or None}

and, written by a run on several MPI ranks (by rank 0), ``"ranks": {"size": ranks, "rng": [each rank's], "loader":
[each rank's]}``: a resumed run (with as many ranks) gives every rank its own generators back.

``ModelCheckpoint`` writes ``epoch_0001.npz``, ``epoch_0002.npz``... into its folder after every epoch, and a
copy of the best one as ``best.npz``. Resuming restores all of it, so a run interrupted and resumed ends with
the same weights as one that was not (given a loader whose order depends only on its seed and the epoch,
through ``set_epoch``, or on the global generator).

Every file is written to a temporary file and renamed into place (``minidl.tempfiles``), so none is ever seen
half-written. The epoch file comes first and records which epoch is the best; ``best.npz`` is copied from it
after. A run killed in between leaves ``best.npz`` one improvement behind (or missing): a resumed run checks it
against the epoch the restored state records as best and copies that epoch's file over it. Temporary files left
by killed runs are removed when a run starts.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import warnings
from pathlib import Path
from typing import Any

from minidl import random, tempfiles
from minidl.train import ranks
from minidl.train.callbacks import Callback, FitState, resolve_mode
from minidl.train.history import metric_key

FORMAT = "minidl.train.checkpoint/1"
BEST_NAME = "best.npz"
_EPOCH_FILE = re.compile(r"epoch_(\d+)\.npz")
_LEGACY_BEST_TMP = ".best.tmp.npz"  # where older versions copied best.npz before renaming it


def epoch_path(directory: str | os.PathLike, epoch: int) -> Path:
    """The file of the checkpoint taken after ``epoch`` epochs (from 1)."""
    return Path(directory) / f"epoch_{epoch:04d}.npz"


def epoch_files(directory: str | os.PathLike) -> dict[int, Path]:
    """The per-epoch checkpoints in ``directory``, by epoch number (empty when the folder does not exist)."""
    folder = Path(directory)
    if not folder.is_dir():
        return {}
    found = {}
    for path in folder.iterdir():
        match = _EPOCH_FILE.fullmatch(path.name)
        if match:
            found[int(match.group(1))] = path
    return dict(sorted(found.items()))


def latest_checkpoint(directory: str | os.PathLike) -> Path | None:
    """The checkpoint of the highest epoch in ``directory``, or None."""
    files = epoch_files(directory)
    return files[max(files)] if files else None


def resolve_resume(resume: bool | str | os.PathLike, directory: str | os.PathLike | None) -> Path:
    """The checkpoint file ``fit(..., resume=...)`` asks for: the latest in ``directory`` for True, the latest
    in a given folder, or a given file."""
    if resume is True:
        if directory is None:
            raise ValueError(
                "fit: resume=True needs checkpoint_dir= (or a ModelCheckpoint callback) to find the last "
                "checkpoint; or pass the checkpoint's path: resume='runs/epoch_0003.npz'"
            )
        path = latest_checkpoint(directory)
        if path is None:
            raise FileNotFoundError(f"fit: resume=True, but there is no checkpoint (epoch_*.npz) in {directory}")
        return path
    path = Path(resume)
    if path.is_dir():
        found = latest_checkpoint(path)
        if found is None:
            raise FileNotFoundError(f"fit: no checkpoint (epoch_*.npz) to resume from in {path}")
        return found
    if not path.is_file():
        raise FileNotFoundError(f"fit: the checkpoint to resume from does not exist: {path}")
    return path


# ------------------------------------------------------------------------------------------ capture, restore
def _callback_key(index: int, callback: Callback) -> str:
    return f"{index}.{type(callback).__name__}"


def capture(state: FitState) -> dict[str, Any]:
    """The checkpoint of the loop's state after epoch ``state.epoch`` (under MPI every rank must call it: it gathers
    the ranks' generator states)."""
    callbacks = {}
    for i, callback in enumerate(state.callbacks):
        saved = callback.state_dict()
        if saved:
            callbacks[_callback_key(i, callback)] = saved
    checkpoint = {
        "format": FORMAT,
        "epoch": state.epoch + 1,
        "model": dict(state.model.state_dict()),
        "optimizer": state.optimizer.state_dict(),
        "scheduler": None if state.scheduler is None else state.scheduler.state_dict(),
        "history": state.history.state_dict(),
        "callbacks": callbacks,
        # JSON text: the generators' 128-bit integers stay exact whatever the file format does with ints.
        "rng": json.dumps(random.get_state()),
        # The loader's own random state (its augmentation generators), when it keeps one.
        "loader": _loader_state(state.train_loader),
    }
    per_rank = ranks.gather_rank_states(checkpoint["rng"], checkpoint["loader"])
    if per_rank is not None:
        checkpoint["ranks"] = per_rank
    return checkpoint


def _loader_state(loader: Any) -> Any:
    return loader.state_dict() if callable(getattr(loader, "state_dict", None)) else None


def restore(state: FitState, checkpoint: dict[str, Any]) -> int:
    """Load a checkpoint into the model, optimizer, scheduler, history, callbacks and global generator;
    returns the number of epochs it had done. Under MPI each rank takes its own generators from the checkpoint,
    which must come from a run with as many ranks."""
    rng_text, loader_state = ranks.own_rank_state(checkpoint)
    state.model.load_state_dict(checkpoint["model"])
    state.optimizer.load_state_dict(checkpoint["optimizer"])
    _restore_scheduler(state.scheduler, checkpoint.get("scheduler"))
    state.history.load_state_dict(checkpoint["history"])
    _restore_callbacks(state.callbacks, checkpoint.get("callbacks") or {})
    rng = json.loads(str(rng_text))
    if "host" not in rng:  # written before the device generators existed: the host generator's state alone
        rng = {"host": rng, "seed": random.get_state()["seed"], "offsets": {}}
    random.set_state(rng)
    if loader_state is not None and callable(getattr(state.train_loader, "load_state_dict", None)):
        state.train_loader.load_state_dict(loader_state)
    return int(checkpoint["epoch"])


def _restore_scheduler(scheduler: Any, saved: Any) -> None:
    if scheduler is None:
        if saved is not None:
            warnings.warn("fit: the checkpoint has a scheduler's state, but no scheduler was given", stacklevel=4)
        return
    if saved is None:
        warnings.warn("fit: the checkpoint has no scheduler state; the scheduler starts afresh", stacklevel=4)
        return
    scheduler.load_state_dict(saved)


def _restore_callbacks(callbacks: list[Callback], saved: dict[str, Any]) -> None:
    left = dict(saved)
    for i, callback in enumerate(callbacks):
        key = _callback_key(i, callback)
        if key in left:
            callback.load_state_dict(left.pop(key))
    if left:
        warnings.warn(
            f"fit: the checkpoint holds the state of callbacks that this run does not have at the same place: "
            f"{sorted(left)}",
            stacklevel=4,
        )


# ------------------------------------------------------------------------------------------------- files
def save_checkpoint(checkpoint: dict[str, Any], path: str | os.PathLike) -> None:
    """Write ``checkpoint`` to ``path`` (an ``.npz``; ``minidl.save`` writes through a temporary file, so an
    interruption never leaves half a checkpoint)."""
    from minidl.io import save

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save(checkpoint, path)


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Read a checkpoint written by ``fit``; a clear error when the file is something else."""
    from minidl.io import load

    checkpoint = load(path)
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT:
        raise ValueError(f"{path} is not a checkpoint written by minidl.train.fit (no format {FORMAT!r})")
    return checkpoint


def _copy_file(source: Path, target: Path) -> None:
    """Copy ``source`` over ``target`` through a temporary file, so ``target`` is always whole."""
    with open(source, "rb") as src:
        tempfiles.write_atomically(target, lambda dst: shutil.copyfileobj(src, dst))


def _is_checkpoint_name(name: str) -> bool:
    return name == BEST_NAME or _EPOCH_FILE.fullmatch(name) is not None


def _remove_stale_temporaries(directory: Path) -> list[Path]:
    """Remove the temporary files of checkpoints that killed runs left in ``directory`` (see
    ``minidl.tempfiles``: never one that a running process may still be writing); returns those removed."""
    removed = tempfiles.remove_stale(directory, ".tmp", _is_checkpoint_name)
    legacy = directory / _LEGACY_BEST_TMP
    with contextlib.suppress(OSError):  # best-effort, as tempfiles.remove_stale
        legacy.unlink()
        removed.append(legacy)
    return removed


def _saved_epoch(path: Path) -> int | None:
    """The epoch of the checkpoint file ``path``, or None when it cannot be read as one."""
    try:
        return int(load_checkpoint(path)["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _holding(best: Path, epoch: int | None) -> str:
    """What ``best`` holds, in words: "holds epoch 3", "is missing", "cannot be read"."""
    if epoch is not None:
        return f"holds epoch {epoch}"
    return "cannot be read" if best.exists() else "is missing"


# -------------------------------------------------------------------------------------------- the callback
class ModelCheckpoint(Callback):
    """Save a checkpoint after every epoch into ``directory`` (``epoch_0001.npz``, ...) and keep a copy of the
    best one as ``best.npz``. ``fit(..., checkpoint_dir=...)`` adds one; ``fit`` always runs it after the other
    callbacks, so the checkpoint holds their state at the end of the epoch.

    monitor: the metric that picks the best epoch; None chooses "val_acc", else "val_loss", else "train_acc",
        else "train_loss" (the first that has a value).
    mode: "min", "max" or "auto" (max for accuracies).
    keep_last: how many per-epoch files to keep (None: all); ``best.npz`` is kept regardless.

    At the start of a run, epoch files beyond the run's starting epoch (left by an earlier run) are removed, and
    so is ``best.npz`` when the run starts afresh, so the folder only ever describes the current run; a resumed
    run makes ``best.npz`` hold the epoch its restored state records as best (see the module docstring).

    Under MPI every rank keeps the bookkeeping and takes part in each checkpoint, and rank 0 alone touches files.
    """

    def __init__(
        self,
        directory: str | os.PathLike,
        monitor: str | None = None,
        mode: str = "auto",
        keep_last: int | None = None,
    ) -> None:
        if keep_last is not None and (isinstance(keep_last, bool) or not isinstance(keep_last, int) or keep_last < 1):
            raise ValueError(f"ModelCheckpoint: keep_last must be None or an integer >= 1, got {keep_last!r}")
        self.directory = Path(directory)
        self._monitor, self._mode = None if monitor is None else metric_key(monitor), mode
        self.keep_last = keep_last
        self._reset()

    def _reset(self) -> None:
        self.monitor = self._monitor
        self.mode = None if self.monitor is None else resolve_mode(self._mode, self.monitor)
        self.best = math.nan
        self.best_epoch = 0

    def on_train_begin(self, state: FitState) -> None:
        if state.start_epoch == 0:  # a new run (a resumed one has its state restored): forget any earlier fit
            self._reset()
        if not ranks.is_root():
            return
        stale = [path for epoch, path in epoch_files(self.directory).items() if epoch > state.start_epoch]
        best = self.directory / BEST_NAME
        if state.start_epoch == 0 and best.exists():
            stale.append(best)
        if stale:
            warnings.warn(
                f"ModelCheckpoint: removing {len(stale)} checkpoint file(s) of an earlier run from {self.directory} "
                "(pass resume=True to continue a run instead)",
                stacklevel=2,
            )
            for path in stale:
                path.unlink()
        _remove_stale_temporaries(self.directory)
        if state.start_epoch > 0:
            self._repair_best(state.start_epoch)

    def _repair_best(self, start_epoch: int) -> None:
        """Make ``best.npz`` hold epoch ``best_epoch`` (the restored state's best), copying it from that epoch's
        file when ``best.npz`` holds another epoch, cannot be read, or is missing."""
        if self.best_epoch <= 0:
            return  # no best recorded (or recorded for another metric): nothing to hold best.npz to
        best = self.directory / BEST_NAME
        held = _saved_epoch(best) if best.exists() else None
        if held == self.best_epoch:
            return
        source = epoch_path(self.directory, self.best_epoch)
        problem = (
            f"ModelCheckpoint: {best} {_holding(best, held)}, but the resumed run's best is epoch {self.best_epoch}"
        )
        if source.is_file():
            why = (
                f"it comes from a later epoch than the {start_epoch} this run resumes from"
                if held is not None and held > start_epoch
                else "an earlier run was interrupted before copying it?"
            )
            warnings.warn(f"{problem} ({why}); copying {source.name} over it", stacklevel=3)
            _copy_file(source, best)
            return
        warnings.warn(
            f"{problem}, whose file {source.name} is gone (keep_last?); no best.npz until the next improvement",
            stacklevel=3,
        )
        with contextlib.suppress(FileNotFoundError):
            best.unlink()

    def _choose_monitor(self, logs: dict[str, float]) -> None:
        if self.monitor is None:
            candidates = ("val_acc", "val_loss", "train_acc", "train_loss")
            self.monitor = next((k for k in candidates if not math.isnan(logs.get(k, math.nan))), "train_loss")
            self.mode = resolve_mode(self._mode, self.monitor)

    def _improved(self, value: float) -> bool:
        if math.isnan(self.best):
            return True
        return value < self.best if self.mode == "min" else value > self.best

    def on_epoch_end(self, state: FitState) -> None:
        self._choose_monitor(state.logs)
        value = state.logs.get(self.monitor, math.nan)
        if math.isnan(value):
            raise ValueError(f"ModelCheckpoint: the monitored metric {self.monitor!r} has no value this epoch")
        improved = self._improved(value)
        if improved:
            self.best, self.best_epoch = value, state.epoch + 1
        path = epoch_path(self.directory, state.epoch + 1)
        # In this order (see the module docstring): the epoch file, which records the best epoch; best.npz, which
        # a resumed run can repair from it; then pruning, which must not remove that file before the copy is made.
        checkpoint = capture(state)
        if not ranks.is_root():
            return
        save_checkpoint(checkpoint, path)
        if improved:
            _copy_file(path, self.directory / BEST_NAME)
        self._prune(state.epoch + 1)

    def _prune(self, epoch: int) -> None:
        if self.keep_last is None:
            return
        for number, path in epoch_files(self.directory).items():
            if number <= epoch - self.keep_last:
                path.unlink()

    def state_dict(self) -> dict[str, Any]:
        return {"monitor": self.monitor, "mode": self.mode, "best": self.best, "best_epoch": self.best_epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        monitor = None if state["monitor"] is None else str(state["monitor"])
        if self.monitor is not None and monitor != self.monitor:
            return  # this run monitors another metric: the saved best says nothing about it
        self.monitor = monitor
        self.mode = None if state["mode"] is None else str(state["mode"])
        self.best = float(state["best"])
        self.best_epoch = int(state["best_epoch"])
