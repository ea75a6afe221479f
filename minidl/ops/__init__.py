"""The ops of minidl, one module per family: elementwise, reduce, shape, matmul, activation, conversion, conv,
pool, norm, loss, dropout. Each op is a ``Function`` subclass named ``<Name>Op`` (forward and backward on raw
arrays) and a public function that checks its arguments and applies it.

This namespace re-exports the tensor ops (those ``minidl`` and ``Tensor`` methods expose); the neural-network ops
(``conv2d``, pooling, normalisation, losses, ``dropout``) are reached through ``minidl.nn.functional``."""

from minidl.ops.activation import elu, gelu, leaky_relu, log_softmax, relu, sigmoid, softmax, tanh
from minidl.ops.conversion import cast, clone, to_device
from minidl.ops.elementwise import (
    abs,
    add,
    clamp,
    clip,
    cos,
    div,
    eq,
    exp,
    ge,
    gt,
    le,
    log,
    logical_not,
    lt,
    maximum,
    minimum,
    mul,
    ne,
    neg,
    pow,
    sin,
    sqrt,
    sub,
    where,
)
from minidl.ops.matmul import matmul
from minidl.ops.reduce import all, any, argmax, argmin, logsumexp, max, mean, min, std, sum, var
from minidl.ops.shape import (
    broadcast_to,
    cat,
    chunk,
    expand,
    flatten,
    getitem,
    index_key,
    pad,
    permute,
    reshape,
    split,
    squeeze,
    stack,
    transpose,
    unsqueeze,
    view,
)

__all__ = [
    "abs", "add", "all", "any", "argmax", "argmin", "broadcast_to", "cast", "cat", "chunk", "clamp", "clip",
    "clone", "cos", "div", "elu", "eq", "exp", "expand", "flatten", "ge", "gelu", "getitem", "gt", "index_key",
    "le", "leaky_relu", "log", "log_softmax", "logical_not", "logsumexp", "lt", "matmul", "max", "maximum",
    "mean", "min", "minimum", "mul", "ne", "neg", "pad", "permute", "pow", "relu", "reshape", "sigmoid", "sin",
    "softmax", "split", "sqrt", "squeeze", "stack", "std", "sub", "sum", "tanh", "to_device", "transpose",
    "unsqueeze", "var", "view", "where",
]  # fmt: skip
