"""Sequential: Keras's shape inference and parameter counts, the summary's layout, channels-last against
channels-first, and the errors a learner meets (shapes, compile, names)."""

import numpy as np
import pytest

from minidl import keras
from minidl.keras import layers

RNG = np.random.default_rng(1)


def convnet(data_format="channels_last", input_shape=(28, 28, 1)):
    """The lab's network (Keras's simple MNIST convnet)."""
    return keras.Sequential([
        keras.Input(shape=input_shape),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu", data_format=data_format),
        layers.MaxPooling2D(pool_size=(2, 2), data_format=data_format),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu", data_format=data_format),
        layers.MaxPooling2D(pool_size=(2, 2), data_format=data_format),
        layers.Flatten(data_format=data_format),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ])  # fmt: skip


def test_the_lab_network_has_keras_shapes_and_parameter_counts():
    model = convnet()
    assert model.count_params() == 34_826
    assert [layer.count_params() for layer in model.layers] == [320, 0, 18_496, 0, 0, 0, 16_010]
    assert model.output_shape == (None, 10)
    assert [layer.name for layer in model.layers][:2] == [model.layers[0].name, model.layers[1].name]
    text = model.summary(print_fn=lambda s: None)
    lines = text.splitlines()
    assert lines[0] == f'Model: "{model.name}"'
    assert lines[2] == "┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃"
    row = f"│ {model.layers[0].name + ' (Conv2D)':<31} │ (None, 26, 26, 32)     │           320 │"
    assert row in lines
    assert "│ (None, 5, 5, 64)       │" in text and "│ (None, 1600)           │" in text
    assert lines[-3:] == [" Total params: 34,826 (136.04 KB)", " Trainable params: 34,826 (136.04 KB)",
                          " Non-trainable params: 0 (0.00 B)"]  # fmt: skip


def test_layers_get_keras_names_counted_per_class():
    first, second, dense = layers.Conv2D(1, 1), layers.Conv2D(1, 1), layers.Dense(1)
    base = first.name
    assert base.startswith("conv2d")
    number = 0 if base == "conv2d" else int(base.rsplit("_", 1)[1])
    assert second.name == f"conv2d_{number + 1}" and dense.name.startswith("dense")
    assert layers.BatchNormalization(name="bn").name == "bn"


def test_shapes_are_inferred_when_the_model_is_first_called():
    model = keras.Sequential()
    model.add(layers.Conv2D(8, 3, padding="same", strides=2))
    model.add(layers.BatchNormalization())
    model.add(layers.SeparableConv2D(6, 3))
    model.add(layers.GlobalAveragePooling2D())
    model.add(layers.Dense(3))
    assert not model.built
    out = model(RNG.normal(size=(2, 11, 11, 3)).astype(np.float32))
    assert tuple(out.shape) == (2, 3) and model.input_shape == (None, 11, 11, 3)
    # conv 3*3*3*8+8, BN 4*8 (2*8 not trained), separable 3*3*8 + 8*6 + 6, dense 6*3+3
    assert [layer.count_params() for layer in model.layers] == [224, 32, 126, 0, 21]
    assert len(model.non_trainable_weights) == 2 and model.count_params() == 403
    assert " Non-trainable params: 16 (64.00 B)" in model.summary(print_fn=lambda s: None)


def test_input_shape_argument_builds_at_once_as_in_keras_2():
    model = keras.Sequential([layers.Dense(4, input_shape=(3,)), layers.Dense(2)])
    assert model.built and model.output_shape == (None, 2) and model.count_params() == 16 + 10


def test_channels_last_and_channels_first_compute_the_same_function():
    last, first = convnet(), convnet("channels_first", (1, 28, 28))
    first.set_weights(last.get_weights())
    x = RNG.random((3, 28, 28, 1), dtype=np.float32)
    np.testing.assert_allclose(last.predict(x, verbose=0), first.predict(x.transpose(0, 3, 1, 2), verbose=0),
                               rtol=1e-5, atol=1e-6)  # fmt: skip


def test_calling_the_model_directly_is_inference_unless_training():
    model = keras.Sequential([keras.Input((50,)), layers.Dropout(0.5)])
    x = np.ones((4, 50), dtype=np.float32)
    np.testing.assert_array_equal(model(x).numpy(), x)
    assert (model(x, training=True).numpy() == 0).any()
    assert model.training  # the module's own mode is left as it was


def test_a_missing_channel_axis_is_named_with_the_fix():
    model = convnet()
    expected = r"expected inputs of shape \(None, 28, 28, 1\), got \(None, 28, 28\): add the channel axis with "
    with pytest.raises(ValueError, match=expected + r"x\[\.\.\., None\] or np.expand_dims\(x, -1\)"):
        model.predict(np.zeros((2, 28, 28)), verbose=0)
    rgb = convnet(input_shape=(8, 8, 3))
    with pytest.raises(ValueError, match=r"look channels-first .* np.transpose\(x, \(0, 2, 3, 1\)\)"):
        rgb.predict(np.zeros((2, 3, 8, 8)), verbose=0)


def test_fit_before_compile_says_how_to_compile():
    with pytest.raises(RuntimeError, match=r"call compile\(\) before fit\(\), e.g. model.compile\(optimizer='adam'"):
        convnet().fit(np.zeros((2, 28, 28, 1)), np.zeros(2))


def test_unknown_names_list_the_known_ones():
    model = convnet()
    with pytest.raises(ValueError, match="unknown optimizer 'adma'; known: adam, adamw, sgd, rmsprop"):
        model.compile(optimizer="adma", loss="mse")
    with pytest.raises(ValueError, match="unknown loss 'crossentropy'; known: sparse_categorical_crossentropy, "):
        model.compile(optimizer="adam", loss="crossentropy")
    with pytest.raises(ValueError, match="unknown metric 'accuracyy'; known: accuracy, acc, binary_accuracy"):
        model.compile(optimizer="adam", loss="mse", metrics=["accuracyy"])
    with pytest.raises(ValueError, match="a loss is needed"):
        model.compile(optimizer="adam")


def test_targets_that_do_not_fit_the_loss_name_the_other_loss():
    model = convnet()
    x = np.zeros((4, 28, 28, 1), dtype=np.float32)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"expects integer class labels \(N,\).*one-hot.*'categorical_crossentropy'"):
        model.fit(x, np.eye(10)[[1, 2, 3, 4]], verbose=0)
    with pytest.raises(ValueError, match=r"labels must be in 0..9 for 10 outputs, got values from 0 to 12"):
        model.fit(x, np.array([0, 1, 2, 12]), verbose=0)
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    with pytest.raises(ValueError, match=r"expects one-hot targets \(N, 10\).*keras.utils.to_categorical\(y, 10\)"):
        model.fit(x, np.array([1, 2, 3, 4]), verbose=0)
    with pytest.raises(ValueError, match="x holds 4 samples but y holds 3"):
        model.fit(x, np.eye(10)[[1, 2, 3]], verbose=0)


def test_a_dense_head_on_images_without_flatten_is_pointed_out():
    model = keras.Sequential([keras.Input((4, 4, 1)), layers.Dense(3)])
    model.compile(optimizer="adam", loss="mse")
    with pytest.raises(ValueError, match="the output still has spatial axes: is a Flatten"):
        model.fit(np.zeros((2, 4, 4, 1)), np.zeros((2, 3)), verbose=0)


def test_summary_of_an_unbuilt_model_says_how_to_build_it():
    with pytest.raises(ValueError, match=r"has not been built yet.*keras.Input\(shape=...\)"):
        keras.Sequential([layers.Dense(2)]).summary()
