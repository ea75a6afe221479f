"""examples/keras_mnist.py runs end to end, as written, on 256 real MNIST images (its 15 epochs on the
full set are the lab itself, run by hand: README's figures)."""

import os
import runpy
import sys
from pathlib import Path

import numpy as np

from minidl.keras.datasets import mnist

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")


def test_the_lab_script_trains_and_reports_test_accuracy(monkeypatch, capsys):
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    small = ((x_train[:256], y_train[:256]), (x_test[:100], y_test[:100]))
    monkeypatch.setattr(mnist, "load_data", lambda path=None: small)
    monkeypatch.syspath_prepend(str(EXAMPLES))
    for name in THREAD_VARIABLES:  # _one_thread pins them: restore them (or their absence) after the test
        monkeypatch.setenv(name, os.environ.get(name, ""))  # records the value, or the absence, to restore
        if not os.environ[name]:
            monkeypatch.delenv(name)
    monkeypatch.setattr(sys, "argv", ["keras_mnist.py"])
    namespace = runpy.run_path(str(EXAMPLES / "keras_mnist.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "x_train shape: (256, 28, 28, 1)" in out and " Total params: 34,826 (136.04 KB)" in out
    assert out.count("2/2 - ") == 15  # 230 training images in batches of 128, 15 epochs
    history = namespace["model"].history.history
    assert list(history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert history["loss"][-1] < history["loss"][0]
    accuracy = float(out.split("Test accuracy: ")[1].split()[0])
    assert 0.3 < accuracy <= 1 and np.isclose(accuracy, namespace["score"][1])
