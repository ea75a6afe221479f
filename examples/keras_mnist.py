"""The course's Keras lab on minidl: Keras's "Simple MNIST convnet" example (keras.io, by François Chollet, Apache
2.0), written as a Keras user writes it, with only the import line changed (``from minidl import keras``).

    python examples/keras_mnist.py             # 1 thread, like every example; --threads N for more

A small convnet (two 3x3 convolutions with max pooling, dropout, a softmax layer: 34,826 parameters) trained with
Adam on channels-last (N, 28, 28, 1) images for 15 epochs of 128 images, keeping the last 10% of the training set
for validation; it ends with the loss and accuracy on the 10,000 test images (Keras's own run reaches about 99%).
MNIST comes from the repository's data/mnist (or $MINIDL_DATA, ~/.cache/minidl).
"""

import _one_thread  # noqa: F401 (not in Keras's script: 1 thread, or --threads N, before NumPy starts)
import numpy as np

from minidl import keras
from minidl.keras import layers

# The data: 28x28 grey digits in 10 classes.
num_classes = 10
input_shape = (28, 28, 1)

(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()

# Pixels scaled to [0, 1], and the channel axis Conv2D expects: (N, 28, 28) -> (N, 28, 28, 1).
x_train = x_train.astype("float32") / 255
x_test = x_test.astype("float32") / 255
x_train = np.expand_dims(x_train, -1)
x_test = np.expand_dims(x_test, -1)
print("x_train shape:", x_train.shape)
print(x_train.shape[0], "train samples")
print(x_test.shape[0], "test samples")

# Labels as one-hot rows, for categorical cross-entropy.
y_train = keras.utils.to_categorical(y_train, num_classes)
y_test = keras.utils.to_categorical(y_test, num_classes)

# The model.
model = keras.Sequential(
    [
        keras.Input(shape=input_shape),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(num_classes, activation="softmax"),
    ]
)
model.summary()

# Training, with a tenth of the training images held out for validation.
batch_size = 128
epochs = 15

model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, validation_split=0.1)

# The test set.
score = model.evaluate(x_test, y_test, verbose=0)
print("Test loss:", score[0])
print("Test accuracy:", score[1])
