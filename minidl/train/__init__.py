"""Training loops: ``fit`` (with progress bar, history, callbacks, checkpoints and resume), ``evaluate`` and
``predict``::

    from minidl.train import EarlyStopping, fit

    history = fit(model, train_loader, nn.CrossEntropyLoss(), optimizer, epochs=10, val_loader=val_loader,
                  scheduler=scheduler, callbacks=[EarlyStopping("val_loss", patience=3)],
                  checkpoint_dir="runs/lenet")
    history.plot("runs/lenet/curves.png")
    # after an interruption, the same call with resume=True goes on from the last checkpoint

Modules: ``loop`` (fit, evaluate, predict), ``history`` (History), ``callbacks`` (Callback, EarlyStopping,
BatchSizeScheduler, FitState), ``checkpoint`` (ModelCheckpoint, checkpoint files), ``progress`` (tqdm bar, epoch lines),
``metrics`` (accuracy), ``batches`` (turning a loader's items into tensors).
"""

from minidl.train.callbacks import BatchSizeScheduler, Callback, EarlyStopping, FitState
from minidl.train.checkpoint import ModelCheckpoint, latest_checkpoint, load_checkpoint
from minidl.train.history import History
from minidl.train.loop import evaluate, fit, predict
from minidl.train.metrics import accuracy

__all__ = [
    "BatchSizeScheduler",
    "Callback",
    "EarlyStopping",
    "FitState",
    "History",
    "ModelCheckpoint",
    "accuracy",
    "evaluate",
    "fit",
    "latest_checkpoint",
    "load_checkpoint",
    "predict",
]
