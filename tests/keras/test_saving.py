"""Saving and loading: whole models and weights in minidl's formats, and Keras weight files written here with h5py
in Keras 3's layout (layers/<snake-case class>[_<i>]/vars/<j>, in a .weights.h5 file or a .keras zip) and in the
legacy layout (layer_names / weight_names attributes), read by layer order into the same architecture."""

import io
import zipfile

import numpy as np
import pytest

from minidl import keras
from minidl.keras import layers

h5py = pytest.importorskip("h5py")  # the optional extra; the dev extra installs it, so CI runs these

RNG = np.random.default_rng(3)


def small_convnet():
    return keras.Sequential([
        keras.Input((6, 6, 2)),
        layers.Conv2D(3, 3, activation="relu"),
        layers.BatchNormalization(),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dense(4, activation="softmax"),
    ])  # fmt: skip


def keras_arrays():
    """Weights in Keras's layout for small_convnet, in layer order: conv kernel (kh, kw, in, out) and bias; BN gamma,
    beta, moving mean and variance; dense kernel (in, out) and bias."""
    return [
        [RNG.normal(size=(3, 3, 2, 3)).astype(np.float32), RNG.normal(size=3).astype(np.float32)],
        [RNG.normal(size=3).astype(np.float32) for _ in range(3)] + [np.abs(RNG.normal(size=3)).astype(np.float32)],
        [],
        [],
        [RNG.normal(size=(12, 4)).astype(np.float32), RNG.normal(size=4).astype(np.float32)],
    ]


def write_keras3(file, arrays):
    with h5py.File(file, "w") as f:
        for group, weights in zip(["conv2d", "batch_normalization", "max_pooling2d", "flatten", "dense"], arrays):
            vars_group = f.create_group(f"layers/{group}/vars")
            for i, array in enumerate(weights):
                vars_group.create_dataset(str(i), data=array)
        f.create_group("vars")


def reference(arrays):
    model = small_convnet()
    model.set_weights([a for weights in arrays for a in weights])
    return model


X = RNG.random((3, 6, 6, 2), dtype=np.float32)


def test_keras3_weights_file_loads_by_layer_order(tmp_path):
    arrays = keras_arrays()
    write_keras3(tmp_path / "model.weights.h5", arrays)
    model = small_convnet()
    model.load_weights(tmp_path / "model.weights.h5")
    np.testing.assert_array_equal(model.predict(X, verbose=0), reference(arrays).predict(X, verbose=0))
    assert [w.shape for w in model.get_weights()] == [a.shape for weights in arrays for a in weights]


def test_keras_archive_holds_the_same_weights_file(tmp_path):
    arrays, buffer = keras_arrays(), io.BytesIO()
    write_keras3(buffer, arrays)
    with zipfile.ZipFile(tmp_path / "model.keras", "w") as archive:
        archive.writestr("config.json", "{}")
        archive.writestr("model.weights.h5", buffer.getvalue())
    model = small_convnet()
    model.load_weights(tmp_path / "model.keras")
    np.testing.assert_array_equal(model.predict(X, verbose=0), reference(arrays).predict(X, verbose=0))


def test_legacy_h5_weights_load_by_the_order_of_layers_with_weights(tmp_path):
    arrays = keras_arrays()
    names = {"conv2d_7": ["kernel", "bias"], "bn": ["gamma", "beta", "moving_mean", "moving_variance"], "pool": [],
             "flat": [], "head": ["kernel", "bias"]}  # fmt: skip
    with h5py.File(tmp_path / "old.h5", "w") as f:
        root = f.create_group("model_weights")
        root.attrs["layer_names"] = [n.encode() for n in names]
        for (name, weight_names), weights in zip(names.items(), arrays):
            group = root.create_group(name)
            group.attrs["weight_names"] = [f"{name}/{w}:0".encode() for w in weight_names]
            for weight_name, array in zip(weight_names, weights):
                group.create_dataset(f"{name}/{weight_name}:0", data=array)
    model = small_convnet()
    model.load_weights(tmp_path / "old.h5")
    np.testing.assert_array_equal(model.predict(X, verbose=0), reference(arrays).predict(X, verbose=0))


def test_weight_files_that_do_not_fit_are_refused(tmp_path):
    arrays = keras_arrays()
    arrays[4][0] = arrays[4][0][:, :3]
    arrays[4][1] = arrays[4][1][:3]
    write_keras3(tmp_path / "other.weights.h5", arrays)
    model = small_convnet()
    with pytest.raises(ValueError, match=r"has weights of shapes \[\(12, 4\), \(4,\)\].*layers/dense holds "
                                         r"\[\(12, 3\), \(3,\)\].*skip_mismatch=True"):  # fmt: skip
        model.load_weights(tmp_path / "other.weights.h5")
    with pytest.warns(UserWarning, match="skipped"):
        model.load_weights(tmp_path / "other.weights.h5", skip_mismatch=True)
    with h5py.File(tmp_path / "extra.weights.h5", "w") as f:
        f.create_group("layers/dense_1/vars").create_dataset("0", data=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="holds layers this model does not have: layers/dense_1"):
        model.load_weights(tmp_path / "extra.weights.h5")


def test_save_weights_round_trips_in_both_families(tmp_path):
    model = reference(keras_arrays())
    for name in ("w.weights.h5", "w.npz"):
        model.save_weights(tmp_path / name)
        other = small_convnet()
        other.load_weights(tmp_path / name)
        np.testing.assert_array_equal(other.predict(X, verbose=0), model.predict(X, verbose=0))
    with h5py.File(tmp_path / "w.weights.h5") as f:  # Keras 3's layout, as the hand-written files above
        assert f["layers/conv2d/vars/0"].shape == (3, 3, 2, 3) and f["layers/dense/vars/1"].shape == (4,)


def test_save_and_load_model_keep_architecture_weights_and_training_state(tmp_path):
    model = small_convnet()
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", metrics=["acc"])
    y = np.array([0, 1, 3])
    model.fit(X, y, epochs=2, verbose=0)
    model.save(tmp_path / "model.npz")
    loaded = keras.load_model(tmp_path / "model.npz")
    assert [type(layer).__name__ for layer in loaded.layers] == [type(layer).__name__ for layer in model.layers]
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))
    assert loaded.evaluate(X, y, verbose=0) == model.evaluate(X, y, verbose=0)
    # The optimizer state came along: one more epoch on each gives the same weights.
    model.fit(X, y, epochs=1, verbose=0, shuffle=False)
    loaded.fit(X, y, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match=r"writes whole models as .npz or .safetensors.*\.keras archives are read"):
        model.save(tmp_path / "model.keras")
