"""``minidl.keras``: Keras's face over minidl, for the course's Keras lab. A Keras script runs with only its import
changed::

    from minidl import keras
    from minidl.keras import layers

    model = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),                 # channels-last images, as in Keras
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dense(10, activation="softmax"),
    ])
    model.summary()
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=128, epochs=15, validation_split=0.1)
    test_loss, test_accuracy = model.evaluate(x_test, y_test, verbose=0)

Underneath there is no other engine: layers hold ``minidl.nn`` modules, optimizers are ``minidl.optim``
optimizers (with Keras's update rules and defaults), and ``fit`` runs ``minidl.train.fit``. Modules: ``models``
(Sequential, load_model), ``layers``, ``losses``, ``metrics``, ``optimizers``, ``callbacks``, ``initializers``,
``activations``, ``datasets``, ``utils``, ``config``; ``training`` (how fit maps onto minidl's loop), ``summary``,
``saving`` and ``keras_h5`` (Keras weight files, with h5py).
"""

from minidl.keras import (
    activations,
    callbacks,
    config,
    datasets,
    initializers,
    layers,
    losses,
    metrics,
    models,
    optimizers,
    utils,
)
from minidl.keras.layers import Input
from minidl.keras.models import Sequential, load_model

__all__ = [
    "Input",
    "Sequential",
    "activations",
    "callbacks",
    "config",
    "datasets",
    "initializers",
    "layers",
    "load_model",
    "losses",
    "metrics",
    "models",
    "optimizers",
    "utils",
]
