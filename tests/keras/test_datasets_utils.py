"""keras.datasets.mnist.load_data (from the repository's data/mnist) and keras.utils."""

import numpy as np
import pytest

from minidl import keras
from tests.data import MNIST_DIR


def test_mnist_load_data_gives_keras_arrays():
    (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data(path=MNIST_DIR)
    assert (x_train.shape, y_train.shape, x_test.shape, y_test.shape) == ((60000, 28, 28), (60000,), (10000, 28, 28),
                                                                          (10000,))  # fmt: skip
    assert {a.dtype for a in (x_train, y_train, x_test, y_test)} == {np.dtype(np.uint8)}
    assert y_train[:5].tolist() == [5, 0, 4, 1, 9] and x_train.max() == 255


def test_load_data_says_where_it_looked(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"in none of .*download=True"):
        keras.datasets.mnist.load_data(path=tmp_path)


def test_to_categorical_matches_keras():
    out = keras.utils.to_categorical(np.array([[2], [0], [1]]), 4)
    assert out.dtype == np.float64 and out.tolist() == [[0, 0, 1, 0], [1, 0, 0, 0], [0, 1, 0, 0]]
    assert keras.utils.to_categorical([1, 3]).shape == (2, 4)
    with pytest.raises(ValueError, match=r"labels must be in 0..1, got 0..3"):
        keras.utils.to_categorical([0, 3], 2)


def test_set_random_seed_makes_weights_repeat():
    def weights():
        keras.utils.set_random_seed(7)
        return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]).get_weights()[0]

    np.testing.assert_array_equal(weights(), weights())


def test_image_data_format_setting_is_the_default_of_new_layers():
    try:
        keras.config.set_image_data_format("channels_first")
        assert keras.layers.Conv2D(2, 3).data_format == "channels_first"
    finally:
        keras.config.set_image_data_format("channels_last")
    assert keras.layers.MaxPooling2D().data_format == "channels_last"
    with pytest.raises(ValueError, match="data_format must be 'channels_last' or 'channels_first'"):
        keras.config.set_image_data_format("NHWC")
