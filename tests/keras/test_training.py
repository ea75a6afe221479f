"""compile/fit/evaluate/predict on NumPy arrays: Keras's History, the validation split, callbacks, the optimizers'
Keras update rules, and the fused softmax + cross-entropy against the loss on probabilities."""

import math

import numpy as np
import pytest

import minidl
from minidl import keras
from minidl.keras import callbacks, layers, optimizers

RNG = np.random.default_rng(2)


def blobs(n, seed=0):
    """Three separable blobs: x float32 (n, 4), labels (n,)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = np.eye(3, 4, dtype=np.float32)[y] * 3 + rng.normal(0, 0.5, (n, 4)).astype(np.float32)
    return x, y


def mlp(seed=0, optimizer="adam", loss="sparse_categorical_crossentropy", metrics=("accuracy",)):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [keras.Input((4,)), layers.Dense(8, activation="relu"), layers.Dense(3, activation="softmax")]
    )
    model.compile(optimizer=optimizer, loss=loss, metrics=list(metrics))
    return model


def test_fit_returns_keras_history_and_learns():
    x, y = blobs(96)
    model = mlp(optimizer=optimizers.Adam(0.05))
    history = model.fit(x, y, batch_size=16, epochs=4, validation_split=0.25, verbose=0)
    assert list(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert all(len(v) == 4 for v in history.history.values()) and history.epoch == [0, 1, 2, 3]
    assert model.history is history and history.params["steps"] == 5  # 72 training samples in batches of 16
    assert history.history["loss"][-1] < history.history["loss"][0] and history.history["val_accuracy"][-1] > 0.9
    loss, accuracy = model.evaluate(x, y, verbose=0)
    assert accuracy > 0.9 and loss == pytest.approx(model.evaluate(x, y, verbose=0, return_dict=True)["loss"])
    probs = model.predict(x[:5], verbose=0)
    assert probs.shape == (5, 3) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)


def test_validation_split_holds_out_the_last_samples_before_shuffling():
    x, y = blobs(40)
    split = mlp(seed=3).fit(x, y, batch_size=8, epochs=2, validation_split=0.2, verbose=0)
    explicit = mlp(seed=3).fit(x[:32], y[:32], batch_size=8, epochs=2, validation_data=(x[32:], y[32:]), verbose=0)
    assert split.history == explicit.history
    with pytest.raises(ValueError, match="validation_split=0.99 leaves no sample on one side of 40 samples"):
        mlp().fit(x, y, validation_split=0.99, verbose=0)


def test_one_hot_targets_train_as_labels_with_the_same_numbers():
    x, y = blobs(48)
    sparse = mlp(seed=4).fit(x, y, batch_size=12, epochs=2, verbose=0)
    one_hot = mlp(seed=4, loss="categorical_crossentropy").fit(x, keras.utils.to_categorical(y, 3), batch_size=12,
                                                              epochs=2, verbose=0)  # fmt: skip
    for key in ("loss", "accuracy"):
        np.testing.assert_allclose(one_hot.history[key], sparse.history[key], rtol=1e-6)


def test_fused_softmax_cross_entropy_equals_the_loss_on_probabilities():
    x, y = blobs(32)
    model = mlp(seed=5)
    fused = model.evaluate(x, y, verbose=0)[0]
    probabilities = minidl.tensor(model.predict(x, verbose=0))
    on_probabilities = keras.losses.SparseCategoricalCrossentropy()(minidl.tensor(y), probabilities).item()
    assert fused == pytest.approx(on_probabilities, rel=1e-5)
    soft = keras.utils.to_categorical(y, 3) * 0.9 + 0.1 / 3  # not one-hot: the probability-target path
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    loss, accuracy = model.evaluate(x, soft, verbose=0)
    expected = -(soft * np.log(np.clip(probabilities.numpy(), 1e-7, 1 - 1e-7))).sum(axis=1).mean()
    assert loss == pytest.approx(expected, rel=1e-5)
    assert accuracy == pytest.approx((probabilities.numpy().argmax(1) == y).mean())


def test_binary_and_regression_losses_with_their_metrics():
    x, y = blobs(40)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=optimizers.SGD(0.5), loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(x, (y == 0).astype(np.float32), batch_size=8, epochs=5, verbose=0)
    assert history.history["accuracy"][-1] > 0.9
    regression = keras.Sequential([keras.Input((4,)), layers.Dense(1)])
    regression.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
    loss, mae = regression.evaluate(x, x[:, 0], verbose=0)
    predicted = regression.predict(x, verbose=0)[:, 0]
    assert loss == pytest.approx(((predicted - x[:, 0]) ** 2).mean(), rel=1e-5)
    assert mae == pytest.approx(np.abs(predicted - x[:, 0]).mean(), rel=1e-5)


def test_early_stopping_stops_and_restores_the_best_weights():
    x, y = blobs(32)
    model = mlp(optimizer=optimizers.SGD(0.0))  # no learning: the loss never improves after the first epoch
    stopper = callbacks.EarlyStopping(monitor="loss", patience=2, restore_best_weights=True)
    history = model.fit(x, y, epochs=10, callbacks=[stopper], verbose=0)
    assert len(history.epoch) == 3 and stopper.stopped_epoch == 2 and stopper.best_epoch == 0


def test_early_stopping_on_val_accuracy_maximises_it():
    stopper = callbacks.EarlyStopping(monitor="val_accuracy", patience=1)
    assert stopper.mode == "max" and stopper.monitor == "val_acc"


def test_learning_rate_scheduler_sets_the_rate_and_logs_it():
    x, y = blobs(16)
    model = mlp()
    schedule = callbacks.LearningRateScheduler(lambda epoch, lr: 0.01 * 0.5**epoch)
    history = model.fit(x, y, epochs=3, callbacks=[schedule], verbose=0)
    assert history.history["learning_rate"] == pytest.approx([0.01, 0.005, 0.0025])
    assert model.optimizer.learning_rate == pytest.approx(0.0025)


def test_model_checkpoint_saves_the_best_model(tmp_path):
    x, y = blobs(32)
    model = mlp()
    path = tmp_path / "best-{epoch:02d}.npz"
    saver = callbacks.ModelCheckpoint(str(path), monitor="loss", save_best_only=True)
    model.fit(x, y, epochs=3, callbacks=[saver], verbose=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best-01.npz", "best-02.npz", "best-03.npz"]
    restored = keras.load_model(tmp_path / "best-03.npz")
    np.testing.assert_allclose(restored.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    with pytest.raises(ValueError, match=r"files ending in .npz, .safetensors.*\.keras archives are read, not written"):
        callbacks.ModelCheckpoint("best.keras")


def test_custom_keras_callback_sees_logs_and_can_stop_training():
    class StopAfterTwo(callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seen, self.batches = [], 0

        def on_train_batch_end(self, batch, logs=None):
            self.batches += 1

        def on_epoch_end(self, epoch, logs=None):
            self.seen.append(sorted(logs))
            if epoch == 1:
                self.model.stop_training = True

    x, y = blobs(20)
    watcher = StopAfterTwo()
    history = mlp().fit(x, y, batch_size=10, epochs=5, callbacks=[watcher], verbose=0)
    assert history.epoch == [0, 1] and watcher.batches == 4 and watcher.seen[0] == ["accuracy", "loss"]


def test_verbose_prints_keras_epoch_lines(capsys):
    x, y = blobs(20)
    mlp().fit(x, y, batch_size=10, epochs=1, verbose=2, validation_split=0.5)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Epoch 1/1"
    assert out[1].startswith("1/1 - ") and "s/step - accuracy: " in out[1] and " - val_loss: " in out[1]


def _step(rule, options, grads, start):
    p = minidl.tensor(np.array(start, dtype=np.float64), requires_grad=True)
    optimizer = rule([p], options)
    for g in grads:
        p.grad = minidl.tensor(np.array(g, dtype=np.float64))
        optimizer.step()
    return p.detach().numpy()


GRADS = [[0.5, -1.0], [0.25, 2.0], [-0.75, 0.5]]
START = [1.0, -2.0]


def test_keras_adam_rule_adds_epsilon_before_the_bias_correction():
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-7
    theta, m, v = np.array(START), np.zeros(2), np.zeros(2)
    for t, g in enumerate(map(np.array, GRADS), start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        theta = theta - lr * math.sqrt(1 - b2**t) / (1 - b1**t) * m / (np.sqrt(v) + eps)
    options = {"lr": lr, "beta_1": b1, "beta_2": b2, "epsilon": eps, "amsgrad": False, "weight_decay": 0.0}
    np.testing.assert_allclose(_step(optimizers.KerasAdamRule, options, GRADS, START), theta, rtol=1e-12)
    assert optimizers.Adam().get_config() == {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999,
                                              "epsilon": 1e-7, "amsgrad": False, "weight_decay": 0.0}  # fmt: skip


def test_keras_rmsprop_and_sgd_rules():
    lr, rho, eps, momentum = 0.01, 0.9, 1e-7, 0.5
    theta, v, buffer = np.array(START), np.zeros(2), np.zeros(2)
    for g in map(np.array, GRADS):
        v = rho * v + (1 - rho) * g * g
        buffer = momentum * buffer + lr * g / np.sqrt(v + eps)
        theta = theta - buffer
    options = {"lr": lr, "rho": rho, "momentum": momentum, "epsilon": eps, "centered": False, "weight_decay": 0.0}
    np.testing.assert_allclose(_step(optimizers.KerasRMSpropRule, options, GRADS, START), theta, rtol=1e-12)
    theta, velocity = np.array(START), np.zeros(2)
    for g in map(np.array, GRADS):
        velocity = 0.9 * velocity - 0.1 * g
        theta = theta + 0.9 * velocity - 0.1 * g  # Nesterov
    options = {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.0}
    np.testing.assert_allclose(_step(optimizers.KerasSGDRule, options, GRADS, START), theta, rtol=1e-12)
    assert optimizers.SGD().learning_rate == 0.01 and optimizers.RMSprop().get_config()["rho"] == 0.9


def test_optimizer_settings_are_checked_when_made():
    with pytest.raises(ValueError, match="Adam: invalid beta_1 1.5"):
        optimizers.Adam(beta_1=1.5)
