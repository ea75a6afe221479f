"""Each Keras layer against the minidl module it maps onto, holding the same weights (given in Keras's layout and
converted here independently), channels-last and channels-first; 'same' padding against explicitly padded inputs."""

import numpy as np
import pytest

import minidl
from minidl import nn
from minidl.keras import layers
from minidl.nn import functional as F

RNG = np.random.default_rng(0)


def rand(*shape):
    return RNG.normal(size=shape).astype(np.float32)


def close(a, b, tol=1e-5):
    a = a.detach().numpy() if isinstance(a, minidl.Tensor) else a
    b = b.detach().numpy() if isinstance(b, minidl.Tensor) else b
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def nhwc(x):
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1))


def conv_module(kernel_hwio, bias, **kwargs):
    """An nn.Conv2d holding a Keras kernel (kh, kw, in, out) and bias."""
    kh, kw, cin, cout = kernel_hwio.shape
    conv = nn.Conv2d(cin * kwargs.get("groups", 1), cout, (kh, kw), bias=bias is not None, **kwargs)
    conv.load_state_dict({"weight": kernel_hwio.transpose(3, 2, 0, 1), **({"bias": bias} if bias is not None else {})})
    return conv


def test_dense_is_linear_with_the_transposed_kernel():
    layer = layers.Dense(5, activation="tanh")
    layer.build((None, 3, 4))
    kernel, bias = rand(4, 5), rand(5)
    layer.set_weights([kernel, bias])
    linear = nn.Linear(4, 5)
    linear.load_state_dict({"weight": kernel.T, "bias": bias})
    x = rand(2, 3, 4)
    close(layer(x), F.tanh(linear(minidl.tensor(x))))
    assert [w.shape for w in layer.get_weights()] == [(4, 5), (5,)] and layer.count_params() == 25


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("groups", [1, 2])
def test_conv2d_valid_matches_conv2d_in_either_layout(data_format, groups):
    layer = layers.Conv2D(4, (3, 2), strides=(1, 2), groups=groups, activation="relu", data_format=data_format)
    x = rand(2, 4, 7, 8)  # (N, C, H, W)
    given = x if data_format == "channels_first" else nhwc(x)
    layer.build((None, *given.shape[1:]))
    kernel, bias = rand(3, 2, 4 // groups, 4), rand(4)
    layer.set_weights([kernel, bias])
    expected = F.relu(conv_module(kernel, bias, stride=(1, 2), groups=groups)(minidl.tensor(x))).detach().numpy()
    close(layer(given), expected if data_format == "channels_first" else nhwc(expected))
    assert layer.count_params() == 3 * 2 * (4 // groups) * 4 + 4


def test_conv2d_strided_same_pads_like_keras_with_the_extra_row_after():
    layer = layers.Conv2D(3, 3, strides=2, padding="same", use_bias=False)
    x = rand(1, 2, 9, 10)
    layer.build((None, 9, 10, 2))
    kernel = rand(3, 3, 2, 3)
    layer.set_weights([kernel])
    # H 9 -> 5 outputs need 2 rows of padding (1 before, 1 after); W 10 -> 5 need 1 column (0 before, 1 after).
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (0, 1)))
    expected = conv_module(kernel, None, stride=2)(minidl.tensor(padded)).detach().numpy()
    out = layer(nhwc(x))
    assert tuple(out.shape) == (1, 5, 5, 3) and layer.compute_output_shape((None, 9, 10, 2)) == (None, 5, 5, 3)
    close(out, nhwc(expected))


def test_conv2d_stride_one_same_keeps_the_size():
    layer = layers.Conv2D(2, 4, padding="same")
    out = layer(rand(1, 6, 5, 3))
    assert tuple(out.shape) == (1, 6, 5, 2)


@pytest.mark.parametrize("multiplier", [1, 2])
def test_depthwise_conv2d_matches_a_grouped_conv2d(multiplier):
    layer = layers.DepthwiseConv2D(3, depth_multiplier=multiplier)
    x = rand(2, 3, 6, 7)
    layer.build((None, 6, 7, 3))
    kernel, bias = rand(3, 3, 3, multiplier), rand(3 * multiplier)
    layer.set_weights([kernel, bias])
    # Output channel c * multiplier + m filters input channel c with kernel[..., c, m].
    weight = kernel.transpose(2, 3, 0, 1).reshape(3 * multiplier, 1, 3, 3)
    conv = nn.Conv2d(3, 3 * multiplier, 3, groups=3)
    conv.load_state_dict({"weight": weight, "bias": bias})
    close(layer(nhwc(x)), nhwc(conv(minidl.tensor(x)).detach().numpy()))
    assert layer.count_params() == 9 * 3 * multiplier + 3 * multiplier


def test_separable_conv2d_is_depthwise_then_pointwise():
    layer = layers.SeparableConv2D(5, 3, depth_multiplier=2, padding="same")
    x = rand(2, 3, 6, 6)
    layer.build((None, 6, 6, 3))
    depthwise, pointwise, bias = rand(3, 3, 3, 2), rand(1, 1, 6, 5), rand(5)
    layer.set_weights([depthwise, pointwise, bias])
    first = nn.Conv2d(3, 6, 3, padding="same", groups=3, bias=False)
    first.load_state_dict({"weight": depthwise.transpose(2, 3, 0, 1).reshape(6, 1, 3, 3)})
    second = conv_module(pointwise, bias)
    close(layer(nhwc(x)), nhwc(second(first(minidl.tensor(x))).detach().numpy()))
    assert layer.count_params() == 3 * 3 * 3 * 2 + 6 * 5 + 5


@pytest.mark.parametrize(("keras_layer", "module"), [
    (layers.MaxPooling2D(2), nn.MaxPool2d(2)),
    (layers.AveragePooling2D((2, 3), strides=1), nn.AvgPool2d((2, 3), stride=1)),
    (layers.GlobalAveragePooling2D(keepdims=True), nn.AdaptiveAvgPool2d(1)),
])  # fmt: skip
def test_pooling_matches_the_module(keras_layer, module):
    x = rand(2, 3, 7, 6)
    close(keras_layer(nhwc(x)), nhwc(module(minidl.tensor(x)).detach().numpy()))


def test_global_average_pooling_drops_the_spatial_axes():
    x = rand(2, 5, 4, 3)
    close(layers.GlobalAveragePooling2D()(x), x.mean(axis=(1, 2)))
    close(layers.GlobalAveragePooling2D(data_format="channels_first")(x), x.mean(axis=(2, 3)))


def test_same_pooling_ignores_the_padding():
    x = rand(1, 1, 5, 5)
    # 'same' at stride 2: 3 outputs per axis; the windows start at 0, 2, 4 and the last one sees one row/column only.
    windows = [slice(0, 2), slice(2, 4), slice(4, 5)]
    expected_max = np.array([[x[0, 0, r, c].max() for c in windows] for r in windows])
    expected_avg = np.array([[x[0, 0, r, c].mean() for c in windows] for r in windows])
    close(layers.MaxPooling2D(2, padding="same")(nhwc(x))[0, :, :, 0], expected_max)
    close(layers.AveragePooling2D(2, padding="same")(nhwc(x))[0, :, :, 0], expected_avg)


def test_flatten_takes_channels_last_order_whatever_the_layout():
    x = rand(2, 3, 4, 5)  # (N, C, H, W)
    close(layers.Flatten()(nhwc(x)), nhwc(x).reshape(2, -1))
    close(layers.Flatten(data_format="channels_first")(x), nhwc(x).reshape(2, -1))


def test_batch_normalization_matches_batchnorm2d_and_keeps_keras_moving_statistics():
    layer = layers.BatchNormalization()
    x = rand(4, 3, 5, 6) * 2 + 1
    layer.build((None, 5, 6, 3))
    gamma, beta, mean, var = rand(3), rand(3), rand(3), np.abs(rand(3)) + 0.5
    layer.set_weights([gamma, beta, mean, var])
    reference = nn.BatchNorm2d(3, eps=1e-3)
    reference.load_state_dict({"weight": gamma, "bias": beta, "running_mean": mean, "running_var": var,
                               "num_batches_tracked": np.array(0)})  # fmt: skip
    close(layer(nhwc(x)), nhwc(reference.eval()(minidl.tensor(x)).detach().numpy()))  # inference: moving statistics
    out = layer(nhwc(x), training=True)
    close(out, nhwc(reference.train()(minidl.tensor(x)).detach().numpy()))  # training: the batch's statistics
    # Keras's update: moving = 0.99 moving + 0.01 batch, with the batch's biased variance.
    moving_mean, moving_var = layer.get_weights()[2:]
    close(moving_mean, 0.99 * mean + 0.01 * x.mean(axis=(0, 2, 3)))
    close(moving_var, 0.99 * var + 0.01 * x.var(axis=(0, 2, 3)))
    assert layer.count_params() == 12 and len(layer.non_trainable_weights) == 2


def test_frozen_batch_normalization_uses_its_moving_statistics_in_training():
    layer = layers.BatchNormalization(axis=1)
    x = rand(4, 2, 3, 3)
    layer.build((None, 2, 3, 3))
    before = layer.get_weights()
    layer.trainable = False
    close(layer(x, training=True), layer(x))
    assert all(np.array_equal(a, b) for a, b in zip(before, layer.get_weights()))
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 4


def test_dropout_scales_in_training_and_passes_through_in_inference():
    layer = layers.Dropout(0.5)
    x = np.ones((200, 50), dtype=np.float32)
    close(layer(x), x)
    out = layer(x, training=True).detach().numpy()
    assert set(np.unique(out)) == {0.0, 2.0} and 0.4 < (out == 0).mean() < 0.6


def test_activation_layer_and_activation_arguments():
    x = rand(3, 4)
    close(layers.Activation("softmax")(x), F.softmax(minidl.tensor(x), -1))
    close(layers.Activation("leaky_relu")(x), np.where(x > 0, x, 0.2 * x))
    with pytest.raises(ValueError, match="unknown activation 'rleu'; known: linear, relu"):
        layers.Dense(3, activation="rleu")


def test_conv2d_refuses_grey_images_without_a_channel_axis():
    expected = r"4-D input \(batch, height, width, channels\).*got shape \(None, 28, 28\).*x\[\.\.\., None\] or "
    with pytest.raises(ValueError, match=expected + r"np.expand_dims\(x, -1\)"):
        layers.Conv2D(8, 3)(rand(2, 28, 28))
    with pytest.raises(ValueError, match=r"x\[:, None\] or np.expand_dims\(x, 1\)"):
        layers.Conv2D(8, 3, data_format="channels_first")(rand(2, 28, 28))


def test_a_built_layer_refuses_inputs_its_weights_do_not_fit():
    layer = layers.Dense(2)
    layer(rand(1, 3))
    with pytest.raises(ValueError, match=r"built for inputs of shape \(None, 3\), got \(1, 4\)"):
        layer(rand(1, 4))
    with pytest.raises(ValueError, match=r"set_weights expects 2 array\(s\) in Keras's layout \(kernel \(3, 2\), bias"):
        layer.set_weights([rand(2, 3), rand(2)])
