"""minidl.keras against Keras 3 itself (its PyTorch backend), where Keras is installed (it is not a dependency:
`pip install keras` to run these). The same architecture and weights give the same predictions, Keras reads the
weights minidl writes and the other way round, and a few training steps of each optimizer agree."""

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
K = pytest.importorskip("keras", minversion="3.0")  # why this skips: Keras is an optional reference, not installed

from minidl import keras as M  # noqa: E402

RNG = np.random.default_rng(4)


def build(keras, data_format="channels_last"):
    L = keras.layers
    shape = (9, 10, 3) if data_format == "channels_last" else (3, 9, 10)
    return keras.Sequential([
        keras.Input(shape=shape),
        L.Conv2D(4, 3, strides=2, padding="same", activation="relu", data_format=data_format),
        L.BatchNormalization(axis=-1 if data_format == "channels_last" else 1),
        L.DepthwiseConv2D(3, padding="same", depth_multiplier=2, data_format=data_format),
        L.SeparableConv2D(5, (2, 3), padding="same", strides=2, data_format=data_format),
        L.MaxPooling2D(2, strides=1, padding="same", data_format=data_format),
        L.AveragePooling2D(3, strides=2, padding="same", data_format=data_format),
        L.Flatten(data_format=data_format),
        L.Dense(7, activation="tanh"),
        L.Dense(3, activation="softmax"),
    ])  # fmt: skip


X = RNG.normal(size=(4, 9, 10, 3)).astype(np.float32)


@pytest.fixture
def keras_model():
    model = build(K)
    model.set_weights([RNG.normal(size=w.shape).astype(np.float32) * 0.5 + (i in (4, 5)) for i, w in
                       enumerate(model.get_weights())])  # fmt: skip
    return model


def test_same_weights_same_predictions_through_every_file(keras_model, tmp_path):
    expected = keras_model.predict(X, verbose=0)
    ours = build(M)
    assert ours.count_params() == keras_model.count_params()
    keras_model.save_weights(tmp_path / "k.weights.h5")
    ours.load_weights(tmp_path / "k.weights.h5")
    np.testing.assert_allclose(ours.predict(X, verbose=0), expected, atol=1e-6)
    keras_model.save(tmp_path / "k.keras")
    ours.load_weights(tmp_path / "k.keras")
    np.testing.assert_allclose(ours.predict(X, verbose=0), expected, atol=1e-6)
    ours.save_weights(tmp_path / "m.weights.h5")
    theirs = build(K)
    theirs.load_weights(tmp_path / "m.weights.h5")
    np.testing.assert_allclose(theirs.predict(X, verbose=0), expected, atol=1e-6)
    first = build(M, "channels_first")
    first.set_weights(keras_model.get_weights())
    np.testing.assert_allclose(first.predict(X.transpose(0, 3, 1, 2), verbose=0), expected, atol=1e-6)


@pytest.mark.parametrize("name", ["adam", "sgd", "rmsprop", "adamw"])
def test_training_steps_agree(keras_model, name):
    ours = build(M)
    ours.set_weights(keras_model.get_weights())
    keras_model.compile(optimizer=name, loss="sparse_categorical_crossentropy")
    ours.compile(optimizer=name, loss="sparse_categorical_crossentropy")
    y = RNG.integers(0, 3, size=4)
    for _ in range(3):
        keras_model.train_on_batch(X, y)
        ours.fit(X, y, batch_size=4, epochs=1, verbose=0, shuffle=False)
    for theirs, mine in zip(keras_model.get_weights(), ours.get_weights()):  # BN's moving statistics included
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-5)
