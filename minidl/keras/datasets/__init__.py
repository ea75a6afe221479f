"""Keras's small datasets as NumPy arrays: ``keras.datasets.mnist.load_data()``, ``fashion_mnist.load_data()``."""

from minidl.keras.datasets import fashion_mnist, mnist

__all__ = ["fashion_mnist", "mnist"]
