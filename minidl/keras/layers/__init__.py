"""Keras's layers on minidl modules: ``from minidl.keras import layers``; ``layers.Conv2D(32, 3, activation="relu")``.

Images are channels-last (N, H, W, C) unless ``data_format="channels_first"`` (or
``keras.config.set_image_data_format``). Modules: ``base`` (Layer), ``core`` (Input, Dense, Activation, Dropout,
Flatten), ``convolutional``, ``pooling``, ``normalization``, ``layout`` (image layouts, 'same' padding).
"""

from minidl.keras.layers.base import Layer
from minidl.keras.layers.convolutional import Conv2D, DepthwiseConv2D, SeparableConv2D
from minidl.keras.layers.core import Activation, Dense, Dropout, Flatten, Input, InputLayer
from minidl.keras.layers.normalization import BatchNormalization
from minidl.keras.layers.pooling import (
    AveragePooling2D,
    AvgPool2D,
    GlobalAveragePooling2D,
    GlobalAvgPool2D,
    MaxPool2D,
    MaxPooling2D,
)

Convolution2D = Conv2D

__all__ = [
    "Activation",
    "AveragePooling2D",
    "AvgPool2D",
    "BatchNormalization",
    "Conv2D",
    "Convolution2D",
    "Dense",
    "DepthwiseConv2D",
    "Dropout",
    "Flatten",
    "GlobalAveragePooling2D",
    "GlobalAvgPool2D",
    "Input",
    "InputLayer",
    "Layer",
    "MaxPool2D",
    "MaxPooling2D",
    "SeparableConv2D",
]
