"""The errors a newcomer meets first: a NumPy array where a Tensor belongs, float64 data into a float32 model,
images in the wrong layout. Each must say what was given and the fix, at the op boundary."""

from __future__ import annotations

import numpy as np
import pytest

import minidl
import minidl.nn.functional as F
from minidl import nn, ops
from minidl.data import TensorDataset
from minidl.text import plural

ARRAY = np.ones((2, 3, 4, 4), dtype=np.float32)
LABELS = minidl.zeros(2, dtype=minidl.int64)

# Every public op, called with a NumPy array where its (first) tensor goes.
CALLS = {
    "abs": lambda a: ops.abs(a),
    "adaptive_avg_pool2d": lambda a: F.adaptive_avg_pool2d(a, 1),
    "add": lambda a: ops.add(a, a),
    "all": lambda a: ops.all(a),
    "any": lambda a: ops.any(a),
    "argmax": lambda a: ops.argmax(a),
    "argmin": lambda a: ops.argmin(a),
    "avg_pool2d": lambda a: F.avg_pool2d(a, 2),
    "batch_norm": lambda a: F.batch_norm(a, None, None, training=True),
    "binary_cross_entropy_with_logits": lambda a: F.binary_cross_entropy_with_logits(a, minidl.zeros(2, 3, 4, 4)),
    "broadcast_to": lambda a: ops.broadcast_to(a, (2, 3, 4, 4)),
    "cast": lambda a: ops.cast(a, minidl.float64),
    "cat": lambda a: ops.cat([minidl.zeros(2, 3, 4, 4), a]),
    "chunk": lambda a: ops.chunk(a, 2),
    "clamp": lambda a: ops.clamp(a, 0),
    "clip": lambda a: ops.clip(a, 0),
    "clone": lambda a: ops.clone(a),
    "conv2d": lambda a: F.conv2d(a, minidl.ones(2, 3, 1, 1)),
    "cos": lambda a: ops.cos(a),
    "cross_entropy": lambda a: F.cross_entropy(a, minidl.zeros(2, 4, 4, dtype=minidl.int64)),
    "div": lambda a: ops.div(a, a),
    "dropout": lambda a: F.dropout(a, 0.5),
    "elu": lambda a: F.elu(a),
    "eq": lambda a: ops.eq(a, a),
    "exp": lambda a: ops.exp(a),
    "expand": lambda a: ops.expand(a, 2, 3, 4, 4),
    "flatten": lambda a: ops.flatten(a),
    "ge": lambda a: ops.ge(a, a),
    "gelu": lambda a: F.gelu(a),
    "getitem": lambda a: ops.getitem(a, 0),
    "gt": lambda a: ops.gt(a, a),
    "hardtanh": lambda a: F.hardtanh(a),
    "le": lambda a: ops.le(a, a),
    "leaky_relu": lambda a: F.leaky_relu(a),
    "linear": lambda a: F.linear(a, minidl.ones(2, 4)),
    "local_response_norm": lambda a: F.local_response_norm(a, 2),
    "log": lambda a: ops.log(a),
    "log_softmax": lambda a: F.log_softmax(a, 1),
    "logical_not": lambda a: ops.logical_not(a),
    "logsumexp": lambda a: ops.logsumexp(a),
    "lt": lambda a: ops.lt(a, a),
    "matmul": lambda a: ops.matmul(a, a),
    "max": lambda a: ops.max(a),
    "max_pool2d": lambda a: F.max_pool2d(a, 2),
    "maximum": lambda a: ops.maximum(a, a),
    "mean": lambda a: ops.mean(a),
    "min": lambda a: ops.min(a),
    "minimum": lambda a: ops.minimum(a, a),
    "mse_loss": lambda a: F.mse_loss(a, minidl.zeros(2, 3, 4, 4)),
    "mul": lambda a: ops.mul(a, a),
    "ne": lambda a: ops.ne(a, a),
    "neg": lambda a: ops.neg(a),
    "nll_loss": lambda a: F.nll_loss(a, minidl.zeros(2, 4, 4, dtype=minidl.int64)),
    "pad": lambda a: F.pad(a, (1, 1)),
    "permute": lambda a: ops.permute(a, 0, 1, 2, 3),
    "pow": lambda a: ops.pow(a, a),
    "relu": lambda a: F.relu(a),
    "relu6": lambda a: F.relu6(a),
    "reshape": lambda a: ops.reshape(a, -1),
    "sigmoid": lambda a: F.sigmoid(a),
    "sin": lambda a: ops.sin(a),
    "softmax": lambda a: F.softmax(a, 1),
    "split": lambda a: ops.split(a, 1),
    "sqrt": lambda a: ops.sqrt(a),
    "squeeze": lambda a: ops.squeeze(a),
    "stack": lambda a: ops.stack([minidl.zeros(2, 3, 4, 4), a]),
    "std": lambda a: ops.std(a),
    "sub": lambda a: ops.sub(a, a),
    "sum": lambda a: ops.sum(a),
    "tanh": lambda a: F.tanh(a),
    "to_device": lambda a: ops.to_device(a, minidl.backend.get_backend("cpu")),
    "transpose": lambda a: ops.transpose(a, 0, 1),
    "unsqueeze": lambda a: ops.unsqueeze(a, 0),
    "var": lambda a: ops.var(a),
    "view": lambda a: ops.view(a, -1),
    "where": lambda a: ops.where(a, minidl.ones(1), minidl.ones(1)),
}
INTERNAL = {"index_key"}  # a helper of indexing, not an op a user calls


def test_every_public_op_is_covered():
    public = (set(ops.__all__) | set(F.__all__)) - INTERNAL
    assert public == set(CALLS), f"add these ops to CALLS: {sorted(public - set(CALLS))}"


# Ops whose message names the op a wrapper calls (relu6 is hardtanh between 0 and 6; clamp is clip).
REPORTED_AS = {"relu6": "hardtanh", "clamp": "clip", "getitem": "getitem"}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_a_numpy_array_given_to_an_op_names_the_op_and_the_fix(name):
    with pytest.raises(TypeError) as caught:
        CALLS[name](ARRAY)
    message = str(caught.value)
    assert message.startswith(REPORTED_AS.get(name, name) + ": "), message
    assert "must be a minidl.Tensor, got numpy.ndarray of shape (2, 3, 4, 4) and dtype float32" in message
    assert "minidl.tensor(x)" in message and "minidl.from_numpy(x)" in message


def test_other_non_tensors_name_their_type():
    with pytest.raises(TypeError, match=r"relu: input must be a minidl.Tensor, got list; make one with minidl.tensor"):
        F.relu([1.0, -1.0])
    with pytest.raises(TypeError, match=r"cat: expected a sequence of tensors, got one Tensor"):
        ops.cat(minidl.zeros(2))
    with pytest.raises(TypeError, match=r"cross_entropy: target must be a minidl.Tensor, got numpy.ndarray"):
        F.cross_entropy(minidl.zeros(2, 3), np.zeros(2, dtype=np.int64))


LAYERS = [
    nn.Conv2d(3, 4, 3),
    nn.Linear(4, 2),
    nn.BatchNorm2d(3),
    nn.MaxPool2d(2),
    nn.AvgPool2d(2),
    nn.AdaptiveAvgPool2d(1),
    nn.ReLU(),
    nn.Flatten(),
    nn.Dropout(),
    nn.Softmax(1),
    nn.LocalResponseNorm(2),
]


@pytest.mark.parametrize("layer", LAYERS, ids=lambda layer: type(layer).__name__)
def test_a_numpy_array_given_to_a_layer_is_a_type_error_with_the_fix(layer):
    with pytest.raises(TypeError, match=r"must be a minidl\.Tensor, got numpy\.ndarray .*minidl\.tensor\(x\)"):
        layer(ARRAY)


FLOAT32_MODELS = {
    "conv2d": (nn.Conv2d(1, 2, 3), (2, 1, 5, 5)),
    "linear": (nn.Linear(3, 2), (2, 3)),
    "batch_norm": (nn.BatchNorm2d(3), (2, 3, 4, 4)),
}


@pytest.mark.parametrize("op", sorted(FLOAT32_MODELS))
def test_float64_input_to_a_float32_layer_has_one_wording_naming_both_fixes(op):
    layer, shape = FLOAT32_MODELS[op]
    with pytest.raises(TypeError) as caught:
        layer(minidl.zeros(*shape, dtype=minidl.float64))
    assert str(caught.value) == (
        f"{op}: the input is float64 but the weight is float32: they need one dtype; convert the input with "
        "x.float(), or the model with model.double() (model.to(minidl.float64))"
    )
    layer.double()  # the second fix works
    assert layer(minidl.zeros(*shape, dtype=minidl.float64)).dtype == minidl.float64


def test_integer_images_to_a_model_name_the_cast():
    with pytest.raises(TypeError, match=r"the input is uint8 but the weight is float32.*x\.float\(\) / 255"):
        nn.Conv2d(1, 2, 3)(minidl.zeros(1, 1, 5, 5, dtype=minidl.uint8))


def test_a_3d_input_to_conv2d_is_read_as_one_image_and_the_error_says_so():
    conv = nn.Conv2d(1, 6, 5)
    with pytest.raises(ValueError) as caught:
        conv(minidl.zeros(28, 28, 1))
    message = str(caught.value)
    assert "expects 1 input channel," in message  # singular
    assert "the 3-D input (28, 28, 1) is read as one unbatched (C, H, W) image with 28 channels" in message
    assert "channels-last (H, W, C): use x.permute(2, 0, 1)" in message
    with pytest.raises(ValueError, match=r"batch of N grey \(N, H, W\) images add the channel dim: x\.unsqueeze\(1\)"):
        conv(minidl.zeros(64, 28, 28))


def test_a_channels_last_batch_gets_the_permute_hint():
    with pytest.raises(
        ValueError, match=r"has 32 channels .*channels-last \(N, H, W, C\): use x\.permute\(0, 3, 1, 2\)"
    ):
        nn.Conv2d(3, 8, 3)(minidl.zeros(2, 32, 32, 3))
    with pytest.raises(ValueError, match=r"expected 3 channels \(dim 1\).*looks channels-last"):
        nn.BatchNorm2d(3)(minidl.zeros(2, 8, 8, 3))
    with pytest.raises(ValueError, match=r"expected 1 channel \(dim 1\)"):
        nn.BatchNorm2d(1)(minidl.zeros(2, 8, 8, 3))


def test_tensor_keeps_numpy_dtypes_and_defaults_python_floats_to_float32_as_pytorch():
    assert minidl.tensor(np.zeros(3)).dtype == minidl.float64
    assert minidl.tensor(np.float64(1.5)).dtype == minidl.float64
    assert minidl.tensor(np.zeros(3, dtype=np.float32)).dtype == minidl.float32
    assert minidl.tensor([1.0, 2.0]).dtype == minidl.float32
    assert minidl.tensor(1.5).dtype == minidl.float32
    assert minidl.tensor([1, 2]).dtype == minidl.int64
    assert minidl.tensor(minidl.zeros(2, dtype=minidl.float64)).dtype == minidl.float64
    assert minidl.tensor(np.zeros(2), dtype=minidl.float32).dtype == minidl.float32
    # A dataset of NumPy features hands float32 samples to float32 models (documented in TensorDataset).
    features, _ = TensorDataset(np.zeros((4, 3)), np.arange(4))[0]
    assert features.dtype == np.float32


def test_plural():
    assert plural(1, "epoch") == "1 epoch" and plural(0, "epoch") == "0 epochs" and plural(2, "epoch") == "2 epochs"
    assert plural(1, "class", "classes") == "1 class" and plural(3, "class", "classes") == "3 classes"
