"""minidl: a deep-learning engine written from scratch on NumPy, with compiled hot paths.

The public API mirrors PyTorch's where a PyTorch user would look::

    import minidl
    x = minidl.randn(3, 4, requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward()
    x.grad

Layers of the package, top to bottom: ``minidl.nn`` (layers, ``nn.functional``) -> ``minidl.ops`` (every op's
forward and backward) -> ``minidl.autograd`` (graph, backward, grad mode) -> ``minidl.backend`` (one object per
device) -> ``minidl_kernels`` (compiled kernels on raw arrays).
"""

from minidl import backend, nn, optim
from minidl.autograd import Function, enable_grad, grad, is_grad_enabled, no_grad, set_grad_enabled
from minidl.backend import Device
from minidl.backend import Device as device
from minidl.dtypes import bool_, float32, float64, int8, int16, int32, int64, uint8
from minidl.gradcheck import GradcheckError, gradcheck
from minidl.ops import (
    abs,
    add,
    all,
    any,
    argmax,
    argmin,
    broadcast_to,
    cat,
    chunk,
    clamp,
    clip,
    clone,
    cos,
    div,
    eq,
    exp,
    expand,
    flatten,
    ge,
    gt,
    le,
    log,
    logsumexp,
    lt,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    mul,
    ne,
    neg,
    permute,
    pow,
    reshape,
    sigmoid,
    sin,
    split,
    sqrt,
    squeeze,
    stack,
    std,
    sub,
    sum,
    tanh,
    transpose,
    unsqueeze,
    var,
    where,
)
from minidl.random import manual_seed
from minidl.tensor import (
    Tensor,
    arange,
    as_tensor,
    empty,
    eye,
    from_numpy,
    full,
    full_like,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    tensor,
    zeros,
    zeros_like,
)

bool = bool_

__version__ = "0.1.0"

__all__ = [
    "Device", "Function", "GradcheckError", "Tensor", "abs", "add", "all", "any", "arange", "argmax", "argmin",
    "as_tensor", "backend", "bool", "bool_", "broadcast_to", "cat", "chunk", "clamp", "clip", "clone", "cos",
    "device", "div", "empty", "enable_grad", "eq", "exp", "expand", "eye", "flatten", "float32", "float64",
    "from_numpy", "full", "full_like", "ge", "grad", "gradcheck", "gt", "int8", "int16", "int32", "int64",
    "is_grad_enabled", "le", "log", "logsumexp", "lt", "manual_seed", "matmul", "max", "maximum", "mean", "min",
    "minimum", "mul", "ne", "neg", "nn", "no_grad", "optim", "ones", "ones_like", "permute", "pow", "rand", "rand_like",
    "randint", "randn", "randn_like", "reshape", "set_grad_enabled", "sigmoid", "sin", "split", "sqrt",
    "squeeze", "stack", "std", "sub", "sum", "tanh", "tensor", "transpose", "uint8", "unsqueeze", "var",
    "where", "zeros", "zeros_like",
]  # fmt: skip
