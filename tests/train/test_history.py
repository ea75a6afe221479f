"""History: recording, state round trip, names, and the PNG of its curves."""

from __future__ import annotations

import math

import matplotlib
import pytest

from minidl.train import History

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def three_epochs(with_val: bool = True) -> History:
    history = History()
    for i in range(3):
        logs = {"train_loss": 1.0 / (i + 1), "train_acc": 0.5 + 0.1 * i, "lr": 0.1, "epoch_time": 0.5}
        if with_val:
            logs |= {"val_loss": 1.2 / (i + 1), "val_acc": 0.4 + 0.1 * i}
        history.append(logs)
    return history


def test_append_records_every_key_with_nan_for_missing_ones():
    history = three_epochs(with_val=False)
    assert len(history) == 3 and history.epochs == [1, 2, 3]
    assert history.train_loss == pytest.approx([1.0, 0.5, 1 / 3])
    assert all(math.isnan(v) for v in history.val_loss)
    assert history.last()["train_acc"] == pytest.approx(0.7)
    assert "epochs=3" in repr(history) and "val_loss" not in repr(history)


def test_state_dict_round_trip():
    history = three_epochs()
    copy = History()
    copy.load_state_dict(history.state_dict())
    assert copy.state_dict() == history.state_dict()
    with pytest.raises(ValueError, match="different lengths"):
        copy.load_state_dict({"train_loss": [1.0], "val_loss": [1.0, 2.0]})


def test_metric_names():
    history = three_epochs()
    assert history["accuracy"] is history.train_acc and history["val_loss"] is history.val_loss
    with pytest.raises(ValueError, match="unknown metric 'f1'"):
        history["f1"]


@pytest.mark.parametrize("with_val", [True, False])
def test_plot_writes_a_png_without_touching_the_backend(tmp_path, with_val):
    backend = matplotlib.rcParams._get_backend_or_none()
    path = tmp_path / "curves.png"
    three_epochs(with_val).plot(path, title="run")
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 1000
    assert matplotlib.rcParams._get_backend_or_none() == backend
