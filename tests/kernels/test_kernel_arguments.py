"""Every implementation of every kernel in ``IMPLEMENTATIONS`` refuses arguments outside its contract with a
ValueError, TypeError or IndexError whose message starts with the kernel's name, before it touches memory; and a
good call still gives the reference's result.

The cases are listed per kernel name and run against every implementation of that name, so a new implementation is
checked at once, and a new kernel name without cases fails ``test_every_kernel_has_cases``. Several cases read or
wrote out of bounds before the checks existed (a wrong batch or channel count in a backward pass, a zero stride);
after them, all raise in-process.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

import numpy as np
import pytest
from minidl_kernels import BY_DEVICE, IMPLEMENTATIONS

from minidl.backend import get_backend

Args = Callable[[], tuple]


def _load(name: str, impl: str, device: str = "cpu") -> Callable:
    module, attr = BY_DEVICE[device][name][impl].split(":")
    return getattr(importlib.import_module(module), attr)


def _normal(*shape: int, dtype=np.float64) -> np.ndarray:
    return np.random.default_rng(sum(shape)).standard_normal(shape).astype(dtype)


def _ints(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def _read_only(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


# Shared geometry: a (2, 3, 6, 7) input; im2col 3x3, padding 1 -> 6x7 outputs; pooling 3x3, stride 2, padding 1 ->
# (3, 4) (floor) or (4, 4) (ceil_mode); depthwise with m = 2, stride (2, 1), dilation (1, 2) -> 3x3 outputs.
X = (2, 3, 6, 7)
CONV = ((3, 3), (1, 1), (1, 1, 1, 1), (1, 1))
POOL = ((3, 3), (2, 2), (1, 1))
DW_X, DW_W, DW_ARGS = (2, 3, 6, 5), (6, 1, 3, 3), ((2, 1), (1, 0, 1, 1), (1, 2))
DW_G = (2, 6, 3, 3)
WG = (1, 2, 3, 5)  # a Winograd output: F(2×2) tiles it 2 × 3


def _cols() -> np.ndarray:
    return _load("im2col", "reference")(_normal(*X), *CONV)


def _max_indices() -> np.ndarray:
    return _load("max_pool2d_forward", "reference")(_normal(*X), *POOL, (1, 1), (3, 4))[1]


def _bn_stats() -> tuple[np.ndarray, np.ndarray]:
    _, mean, invstd, _ = _load("batch_norm_forward", "reference")(_normal(2, 3, 4), None, None, 1e-5)
    return mean, invstd


GOOD: dict[str, list[Args]] = {
    "scatter_add": [lambda: (np.zeros(4), _ints(0, 2, 2, 3), _normal(4))],
    "keep_where": [lambda: (_normal(2, 3), _normal(2, 3) > 0), lambda: (_normal(5, dtype=np.float32), _normal(5) > 0)],
    "erf": [lambda: (_normal(2, 3),), lambda: (_normal(4, dtype=np.float32),)],
    "log_softmax": [lambda: (_normal(3, 5),), lambda: (_normal(2, 1, dtype=np.float32) * 100,)],
    "dropout_mask": [lambda: ((2, 3, 5), 0.3, 7, 11, np.float32), lambda: ((40,), 0.0, 0, 2**63, np.float64)],
    "im2col": [lambda: (_normal(*X), *CONV), lambda: (_normal(1, 2, 5, 4), (2, 3), (2, 1), (0, 1, 2, 0), (2, 1))],
    "col2im": [lambda: (_cols(), X, *CONV)],
    "gemm": [
        lambda: (_normal(3, 4), _normal(4, 5)),
        lambda: (_normal(2, 3, dtype=np.float32).T, _normal(2, 2, dtype=np.float32)),
    ],
    "matmul": [lambda: (_normal(2, 3, 4), _normal(4, 5)), lambda: (_normal(2, 1, 3, 4), _normal(3, 4, 2))],
    "max_pool2d_forward": [lambda: (_normal(*X), *POOL, (1, 1), (3, 4)), lambda: (_normal(*X), *POOL, (1, 1), (4, 4))],
    "max_pool2d_backward": [lambda: (_normal(2, 3, 3, 4), _max_indices(), X)],
    "avg_pool2d_forward": [
        lambda: (_normal(*X), *POOL, (3, 4), True, None),
        lambda: (_normal(*X), *POOL, (4, 4), False, 2),
    ],
    "avg_pool2d_backward": [
        lambda: (_normal(2, 3, 4, 4), X, *POOL, False, None),
        lambda: (_normal(2, 3, 3, 4), X, *POOL, True, 3),
    ],
    "depthwise_conv2d_forward": [lambda: (_normal(*DW_X), _normal(*DW_W), *DW_ARGS)],
    "depthwise_conv2d_backward_input": [lambda: (_normal(*DW_G), _normal(*DW_W), DW_X, *DW_ARGS)],
    "depthwise_conv2d_backward_weight": [lambda: (_normal(*DW_G), _normal(*DW_X), DW_W, *DW_ARGS)],
    "batch_norm_forward": [
        lambda: (_normal(2, 3, 4), _normal(3), _normal(3), 1e-5),
        lambda: (_normal(2, 3, 4), None, None, 0.0),
    ],
    "batch_norm_backward": [lambda: (_normal(2, 3, 4), _normal(2, 3, 4), _normal(3), *_bn_stats())],
    "winograd_filter_transform": [lambda: (_normal(4, 3, 3, 3), 4), lambda: (_normal(2, 1, 3, 3, dtype=np.float32), 2)],
    "winograd_filter_transform_adjoint": [lambda: (_normal(36, 4, 3), 4), lambda: (_normal(16, 2, 5), 2)],
    "winograd_input_transform": [
        lambda: (_normal(*X), 4, (1, 1, 1, 1)),
        lambda: (_normal(2, 3, 5, 4, dtype=np.float32), 2, (0, 2, 1, 0)),
    ],
    "winograd_output_transform": [lambda: (_normal(36, 3, 8), 4, (2, 3, 6, 7)), lambda: (_normal(16, 2, 6), 2, WG)],
    "winograd_output_transform_adjoint": [lambda: (_normal(2, 3, 6, 7), 4), lambda: (_normal(*WG), 2)],
    "nms": [
        lambda: (_boxes(9), _normal(9), 0.3),
        lambda: (_boxes(5, np.float32), _normal(5, dtype=np.float32), 1),
        lambda: (_boxes(0), _normal(0), 0.5),
    ],
}


def _boxes(n: int, dtype=np.float64) -> np.ndarray:
    """n xyxy boxes of sides 1 to 3 in a 6 x 6 square, so that some overlap."""
    corners = np.abs(_normal(n, 4)) * 2
    corners[:, 2:] = corners[:, :2] + 1 + np.abs(corners[:, 2:]) / 2
    return corners.astype(dtype)


def _scatter(out=(4,), index=(0, 2), src=None, index_dtype=np.int64, dtype=np.float64) -> Args:
    return lambda: (
        np.zeros(out, dtype=dtype),
        np.array(index, dtype=index_dtype),
        np.ones(len(index) if src is None else src, dtype=dtype),
    )


def _pool_geometry(kernel: str) -> dict[str, tuple[type, Callable[[tuple], tuple]]]:
    """Bad (kernel_size, stride, padding, dilation, out_size) for a pooling kernel over a (6, 7) input, each as
    (error, a function of the good tuple giving the bad one)."""
    cases = {
        "zero kernel": (ValueError, lambda g: ((0, 3), *g[1:])),
        "kernel of three": (ValueError, lambda g: ((3, 3, 3), *g[1:])),
        "float kernel": (TypeError, lambda g: ((3.0, 3), *g[1:])),
        "zero stride": (ValueError, lambda g: (g[0], (0, 2), *g[2:])),
        "negative stride": (ValueError, lambda g: (g[0], (2, -1), *g[2:])),
        "stride of one": (ValueError, lambda g: (g[0], (2,), *g[2:])),
        "stride None": (TypeError, lambda g: (g[0], None, *g[2:])),
        "negative padding": (ValueError, lambda g: (*g[:2], (-1, 1), *g[3:])),
        "padding of four": (ValueError, lambda g: (*g[:2], (1, 1, 1, 1), *g[3:])),
        "padding over half the kernel": (ValueError, lambda g: (*g[:2], (2, 1), *g[3:])),
        "kernel larger than the padded input": (ValueError, lambda g: ((9, 3), g[1], (1, 1), *g[3:])),
        "out_size too large": (ValueError, lambda g: (*g[:4], (5, 4))),
        "out_size too small": (ValueError, lambda g: (*g[:4], (3, 3))),
        "out_size zero": (ValueError, lambda g: (*g[:4], (0, 4))),
        "out_size of three": (ValueError, lambda g: (*g[:4], (3, 4, 1))),
    }
    if kernel.startswith("max"):
        cases["zero dilation"] = (ValueError, lambda g: (*g[:3], (0, 1), g[4]))
        cases["dilation of one"] = (ValueError, lambda g: (*g[:3], (1,), g[4]))
    return cases


def _max_forward_cases() -> dict[str, tuple[type, Args]]:
    good = (*POOL, (1, 1), (3, 4))
    cases: dict[str, tuple[type, Args]] = {
        name: (error, lambda bad=bad: (_normal(*X), *bad(good))) for name, (error, bad) in _pool_geometry("max").items()
    }
    cases["3-D x"] = (ValueError, lambda: (_normal(3, 6, 7), *good))
    cases["int x"] = (TypeError, lambda: (np.ones(X, np.int64), *good))
    cases["list x"] = (TypeError, lambda: (_normal(*X).tolist(), *good))
    # Rows -1 and 2 of a 2-row input under window 1: (2, 1) kernel, dilation 3, padding 2.
    cases["window with no input element"] = (
        ValueError,
        lambda: (np.zeros((1, 1, 2, 2)), (2, 1), (1, 1), (2, 0), (3, 1), (3, 2)),
    )
    return cases


def _avg_forward_cases() -> dict[str, tuple[type, Args]]:
    def call(kernel, stride, padding, dilation, out_size, x=X, divisor=None):
        assert dilation == (1, 1)
        return lambda: (_normal(*x), kernel, stride, padding, out_size, True, divisor)

    good = (*POOL, (1, 1), (3, 4))
    cases = {name: (error, call(*bad(good))) for name, (error, bad) in _pool_geometry("avg").items()}
    cases["3-D x"] = (ValueError, call(*good, x=(3, 6, 7)))
    cases["int x"] = (TypeError, lambda: (np.ones(X, np.int32), *POOL, (3, 4), True, None))
    cases["zero divisor_override"] = (ValueError, call(*good, divisor=0))
    cases["negative divisor_override"] = (ValueError, call(*good, divisor=-2))
    cases["float divisor_override"] = (TypeError, call(*good, divisor=1.5))
    return cases


def _avg_backward_cases() -> dict[str, tuple[type, Args]]:
    def call(kernel, stride, padding, dilation, out_size, g=None, x_shape=X, divisor=None):
        assert dilation == (1, 1)
        grad = g or (2, 3, *out_size[:2])
        return lambda: (_normal(*grad), x_shape, kernel, stride, padding, True, divisor)

    good = (*POOL, (1, 1), (3, 4))
    cases = {
        name: (error, call(*bad(good)))
        for name, (error, bad) in _pool_geometry("avg").items()
        if not name.startswith("out_size")  # grad_out carries (Ho, Wo)
    }
    cases["grad_out's Ho too large"] = (ValueError, call(*good, g=(2, 3, 5, 4)))
    cases["grad_out's Wo too small"] = (ValueError, call(*good, g=(2, 3, 3, 3)))
    cases["batch mismatch"] = (ValueError, call(*good, g=(3, 3, 3, 4)))
    cases["channel mismatch"] = (ValueError, call(*good, g=(2, 4, 3, 4)))
    cases["the fault-injection reproducer"] = (
        ValueError,
        lambda: (np.ones((1, 1, 1, 1), np.float32), (1, 20_000_000, 2, 2), (2, 2), (2, 2), (0, 0)),
    )
    cases["3-D grad_out"] = (ValueError, call(*good, g=(3, 3, 4)))
    cases["int grad_out"] = (TypeError, lambda: (np.ones((2, 3, 3, 4), np.int64), X, *POOL, True, None))
    cases["x_shape of three"] = (ValueError, call(*good, x_shape=(3, 6, 7)))
    cases["negative x_shape"] = (ValueError, call(*good, x_shape=(2, 3, -6, 7)))
    cases["zero divisor_override"] = (ValueError, call(*good, divisor=0))
    return cases


def _conv_geometry(build: Callable[..., Args]) -> dict[str, tuple[type, Args]]:
    """Bad (kernel_size, stride, padding, dilation) of im2col / col2im, through ``build(kernel, stride, padding,
    dilation)``."""
    k, s, p, d = CONV
    return {
        "zero kernel": (ValueError, build((0, 3), s, p, d)),
        "kernel of one": (ValueError, build((3,), s, p, d)),
        "float kernel": (TypeError, build((3, 3.5), s, p, d)),
        "zero stride": (ValueError, build(k, (0, 1), p, d)),
        "negative stride": (ValueError, build(k, (1, -1), p, d)),
        "stride of three": (ValueError, build(k, (1, 1, 1), p, d)),
        "string stride": (TypeError, build(k, "11", p, d)),
        "negative padding": (ValueError, build(k, s, (0, -1, 0, 0), d)),
        "padding of two": (ValueError, build(k, s, (1, 1), d)),
        "zero dilation": (ValueError, build(k, s, p, (0, 1))),
        "bool dilation": (TypeError, build(k, s, p, (True, 1))),
        "kernel larger than the padded input": (ValueError, build((9, 3), s, p, d)),
        "dilated kernel larger than the padded input": (ValueError, build(k, s, p, (1, 5))),
    }


def _depthwise_geometry(build: Callable[..., Args]) -> dict[str, tuple[type, Args]]:
    """Bad (stride, padding, dilation) of the depthwise kernels, through ``build(stride, padding, dilation)``."""
    s, p, d = DW_ARGS
    return {
        "zero stride": (ValueError, build((0, 1), p, d)),
        "negative stride": (ValueError, build((2, -1), p, d)),
        "stride of one": (ValueError, build((2,), p, d)),
        "stride of three": (ValueError, build((2, 1, 1), p, d)),
        "float stride": (TypeError, build((2.0, 1), p, d)),
        "negative padding": (ValueError, build(s, (1, 0, -1, 1), d)),
        "padding of two": (ValueError, build(s, (1, 1), d)),
        "zero dilation": (ValueError, build(s, p, (1, 0))),
        "negative dilation": (ValueError, build(s, p, (-1, 2))),
        "dilation of three": (ValueError, build(s, p, (1, 2, 1))),
        "dilated kernel larger than the padded input": (ValueError, build(s, p, (4, 2))),
    }


def _depthwise_cases(which: str) -> dict[str, tuple[type, Args]]:
    def forward(stride=DW_ARGS[0], padding=DW_ARGS[1], dilation=DW_ARGS[2], x=DW_X, w=DW_W, dtype=np.float64):
        return lambda: (_normal(*x, dtype=dtype), _normal(*w), stride, padding, dilation)

    def backward_input(stride=DW_ARGS[0], padding=DW_ARGS[1], dilation=DW_ARGS[2], g=DW_G, w=DW_W, x_shape=DW_X):
        return lambda: (_normal(*g), _normal(*w), x_shape, stride, padding, dilation)

    def backward_weight(stride=DW_ARGS[0], padding=DW_ARGS[1], dilation=DW_ARGS[2], g=DW_G, x=DW_X, w_shape=DW_W):
        return lambda: (_normal(*g), _normal(*x), w_shape, stride, padding, dilation)

    if which == "forward":
        cases = _depthwise_geometry(forward)
        cases.update(
            {
                "3-D x": (ValueError, forward(x=(3, 6, 5))),
                "int x": (TypeError, forward(dtype=np.int64)),
                "int weight": (TypeError, lambda: (_normal(*DW_X), np.ones(DW_W, np.int32), *DW_ARGS)),
                "3-D weight": (ValueError, forward(w=(6, 3, 3))),
                "weight with two input channels": (ValueError, forward(w=(6, 2, 3, 3))),
                "weight channels not a multiple": (ValueError, forward(w=(5, 1, 3, 3))),
                "no input channels": (ValueError, forward(x=(2, 0, 6, 5))),
                "kernel larger than the padded input": (ValueError, forward(w=(6, 1, 9, 3))),
            }
        )
        return cases
    if which == "backward_input":
        cases = _depthwise_geometry(backward_input)
        cases.update(
            {
                "batch mismatch": (ValueError, backward_input(g=(3, 6, 3, 3))),
                "channel mismatch": (ValueError, backward_input(g=(2, 3, 3, 3))),
                "Ho mismatch": (ValueError, backward_input(g=(2, 6, 4, 3))),
                "Wo mismatch": (ValueError, backward_input(g=(2, 6, 3, 1))),
                "3-D grad_out": (ValueError, backward_input(g=(6, 3, 3))),
                "int grad_out": (TypeError, lambda: (np.ones(DW_G, np.int64), _normal(*DW_W), DW_X, *DW_ARGS)),
                "x_shape channels not a divisor": (ValueError, backward_input(x_shape=(2, 4, 6, 5))),
                "x_shape of three": (ValueError, backward_input(x_shape=(2, 3, 6))),
                "weight with two input channels": (ValueError, backward_input(w=(6, 2, 3, 3))),
            }
        )
        return cases
    cases = _depthwise_geometry(backward_weight)
    cases.update(
        {
            "batch mismatch": (ValueError, backward_weight(g=(8, 6, 3, 3))),
            "smaller batch": (ValueError, backward_weight(g=(1, 6, 3, 3))),
            "channel mismatch": (ValueError, backward_weight(g=(2, 12, 3, 3))),
            "Ho mismatch": (ValueError, backward_weight(g=(2, 6, 2, 3))),
            "int x": (TypeError, lambda: (_normal(*DW_G), np.ones(DW_X, np.int64), DW_W, *DW_ARGS)),
            "3-D x": (ValueError, backward_weight(x=(3, 6, 5))),
            "weight_shape with two input channels": (ValueError, backward_weight(w_shape=(6, 2, 3, 3))),
            "weight_shape channels not a multiple": (ValueError, backward_weight(w_shape=(5, 1, 3, 3))),
            "weight_shape of three": (ValueError, backward_weight(w_shape=(6, 3, 3))),
        }
    )
    return cases


def _bn_backward(g=(2, 3, 4), x=(2, 3, 4), weight=(3,), mean=(3,), invstd=(3,)) -> Args:
    return lambda: (_normal(*g), _normal(*x), _normal(*weight), _normal(*mean), np.abs(_normal(*invstd)))


def _winograd_input(x=X, m=4, padding=(1, 1, 1, 1), dtype=np.float64) -> Args:
    return lambda: (_normal(*x, dtype=dtype), m, padding)


def _winograd_output(tiles=(36, 3, 8), m=4, out_shape=(2, 3, 6, 7), dtype=np.float64) -> Args:
    return lambda: (_normal(*tiles, dtype=dtype), m, out_shape)


BAD: dict[str, dict[str, tuple[type, Args]]] = {
    "winograd_filter_transform": {
        "5x5 filters": (ValueError, lambda: (_normal(4, 3, 5, 5), 4)),
        "3-D filters": (ValueError, lambda: (_normal(4, 3, 3), 4)),
        "m of 3": (ValueError, lambda: (_normal(4, 3, 3, 3), 3)),
        "int filters": (TypeError, lambda: (np.ones((4, 3, 3, 3), np.int64), 4)),
    },
    "winograd_filter_transform_adjoint": {
        "16 positions for m=4": (ValueError, lambda: (_normal(16, 4, 3), 4)),
        "2-D grad_u": (ValueError, lambda: (_normal(36, 4), 4)),
        "m True": (ValueError, lambda: (_normal(36, 4, 3), True)),
    },
    "winograd_input_transform": {
        "padding of three": (ValueError, _winograd_input(padding=(3, 1, 1, 1))),
        "negative padding": (ValueError, _winograd_input(padding=(1, -1, 1, 1))),
        "padding of two values": (ValueError, _winograd_input(padding=(1, 1))),
        "input smaller than the filter": (ValueError, _winograd_input(x=(1, 1, 2, 5), padding=(0, 0, 1, 1))),
        "3-D x": (ValueError, _winograd_input(x=(3, 6, 7))),
        "m of 6": (ValueError, _winograd_input(m=6)),
        "float16 x": (TypeError, _winograd_input(dtype=np.float16)),
    },
    "winograd_output_transform": {
        "too few tiles": (ValueError, _winograd_output(tiles=(36, 3, 6))),  # read past the end before the checks
        "other channels": (ValueError, _winograd_output(tiles=(36, 2, 8))),
        "16 positions for m=4": (ValueError, _winograd_output(tiles=(16, 3, 8))),
        "zero-sized out_shape": (ValueError, _winograd_output(out_shape=(2, 3, 0, 7))),
        "out_shape of three": (ValueError, _winograd_output(out_shape=(2, 3, 6))),
        "int tiles": (TypeError, lambda: (np.ones((36, 3, 8), np.int64), 4, (2, 3, 6, 7))),
    },
    "winograd_output_transform_adjoint": {
        "3-D g": (ValueError, lambda: (_normal(3, 6, 7), 4)),
        "m of 1": (ValueError, lambda: (_normal(2, 3, 6, 7), 1)),
        "int g": (TypeError, lambda: (np.ones((2, 3, 6, 7), np.int64), 4)),
    },
    "scatter_add": {
        "2-D out": (ValueError, _scatter(out=(2, 2))),
        "2-D index": (ValueError, lambda: (np.zeros(4), np.zeros((1, 2), np.int64), np.ones(2))),
        "index and src lengths differ": (ValueError, _scatter(src=3)),
        "src of another dtype": (TypeError, lambda: (np.zeros(4), _ints(0), np.ones(1, np.float32))),
        "int32 index": (TypeError, _scatter(index_dtype=np.int32)),
        "float index": (TypeError, _scatter(index_dtype=np.float64)),
        "int32 out and src": (TypeError, _scatter(dtype=np.int32)),  # the Cython kernel wrote past out's end
        "read-only out": (ValueError, lambda: (_read_only(np.zeros(4)), _ints(0), np.ones(1))),
        "list out": (TypeError, lambda: ([0.0] * 4, _ints(0), np.ones(1))),
        "index past the end": (IndexError, _scatter(index=(0, 4))),
        "negative index": (IndexError, _scatter(index=(-1,))),
    },
    "keep_where": {
        "keep of another shape": (ValueError, lambda: (_normal(2, 3), _normal(3) > 0)),
        "keep not bool": (TypeError, lambda: (_normal(2, 3), _normal(2, 3))),
        "int g": (TypeError, lambda: (np.ones((2, 3), np.int64), _normal(2, 3) > 0)),
        "float16 g": (TypeError, lambda: (np.ones((2, 3), np.float16), _normal(2, 3) > 0)),
        "list g": (TypeError, lambda: ([1.0, 2.0], np.array([True, False]))),
    },
    "erf": {
        "int x": (TypeError, lambda: (np.arange(3),)),
        "float16 x": (TypeError, lambda: (np.ones(3, np.float16),)),
        "list x": (TypeError, lambda: ([0.5, 1.0],)),
    },
    "log_softmax": {
        "1-D x": (ValueError, lambda: (_normal(3),)),
        "no classes": (ValueError, lambda: (np.zeros((2, 0)),)),
        "int x": (TypeError, lambda: (np.ones((2, 3), np.int64),)),
        "list x": (TypeError, lambda: ([[0.5, 1.0]],)),
    },
    "dropout_mask": {
        "p of 1": (ValueError, lambda: ((3,), 1.0, 0, 0, np.float32)),
        "negative p": (ValueError, lambda: ((3,), -0.1, 0, 0, np.float32)),
        "negative seed": (ValueError, lambda: ((3,), 0.5, -1, 0, np.float32)),
        "offset past 2**64": (ValueError, lambda: ((3,), 0.5, 0, 2**64, np.float32)),
        "negative size": (ValueError, lambda: ((3, -1), 0.5, 0, 0, np.float32)),
        "int dtype": (TypeError, lambda: ((3,), 0.5, 0, 0, np.int64)),
    },
    "im2col": {
        **_conv_geometry(lambda k, s, p, d: lambda: (_normal(*X), k, s, p, d)),
        "3-D x": (ValueError, lambda: (_normal(3, 6, 7), *CONV)),
        "int x": (TypeError, lambda: (np.ones(X, np.int64), *CONV)),
        "list x": (TypeError, lambda: (_normal(*X).tolist(), *CONV)),
    },
    "col2im": {
        **_conv_geometry(lambda k, s, p, d: lambda: (_cols(), X, k, s, p, d)),
        "cols of another length": (ValueError, lambda: (_cols()[..., :-1], X, *CONV)),
        "cols for more channels": (ValueError, lambda: (_cols(), (2, 4, 6, 7), *CONV)),
        "cols for a larger batch": (ValueError, lambda: (_cols(), (3, 3, 6, 7), *CONV)),
        "2-D cols": (ValueError, lambda: (_cols()[0], X, *CONV)),
        "int cols": (TypeError, lambda: (_cols().astype(np.int64), X, *CONV)),
        "x_shape of three": (ValueError, lambda: (_cols(), (3, 6, 7), *CONV)),
        "negative x_shape": (ValueError, lambda: (_cols(), (2, 3, -6, 7), *CONV)),
    },
    "gemm": {
        "K mismatch": (ValueError, lambda: (_normal(3, 4), _normal(5, 2))),
        "1-D a": (ValueError, lambda: (_normal(4), _normal(4, 2))),
        "3-D b": (ValueError, lambda: (_normal(3, 4), _normal(1, 4, 2))),
        "dtypes differ": (TypeError, lambda: (_normal(3, 4), _normal(4, 2, dtype=np.float32))),
        "int matrices": (TypeError, lambda: (np.ones((3, 4), np.int64), np.ones((4, 2), np.int64))),
        "list a": (TypeError, lambda: ([[1.0]], _normal(1, 2))),
    },
    "matmul": {
        "K mismatch": (ValueError, lambda: (_normal(2, 3, 4), _normal(2, 5, 2))),
        "1-D b": (ValueError, lambda: (_normal(3, 4), _normal(4))),
        "batches that do not broadcast": (ValueError, lambda: (_normal(2, 3, 4), _normal(3, 4, 2))),
        "dtypes differ": (TypeError, lambda: (_normal(3, 4, dtype=np.float32), _normal(4, 2))),
        "int matrices": (TypeError, lambda: (np.ones((3, 4), np.int32), np.ones((4, 2), np.int32))),
    },
    "max_pool2d_forward": _max_forward_cases(),
    "max_pool2d_backward": {
        "batch mismatch": (ValueError, lambda: (_normal(2, 3, 3, 4), _max_indices(), (3, 3, 6, 7))),
        "channel mismatch": (ValueError, lambda: (_normal(2, 3, 3, 4), _max_indices(), (2, 20_000_000, 6, 7))),
        "indices of another shape": (ValueError, lambda: (_normal(2, 3, 3, 4), _max_indices()[..., :2], X)),
        "int32 indices": (TypeError, lambda: (_normal(2, 3, 3, 4), _max_indices().astype(np.int32), X)),
        "float indices": (TypeError, lambda: (_normal(2, 3, 3, 4), _max_indices().astype(np.float64), X)),
        "int grad_out": (TypeError, lambda: (np.ones((2, 3, 3, 4), np.int64), _max_indices(), X)),
        "3-D grad_out": (ValueError, lambda: (_normal(3, 3, 4), _max_indices()[0], X)),
        "x_shape of three": (ValueError, lambda: (_normal(2, 3, 3, 4), _max_indices(), (2, 3, 42))),
        "index past the plane": (IndexError, lambda: (_normal(2, 3, 3, 4), np.full((2, 3, 3, 4), 42, np.int64), X)),
        "negative index": (IndexError, lambda: (_normal(2, 3, 3, 4), np.full((2, 3, 3, 4), -1, np.int64), X)),
    },
    "avg_pool2d_forward": _avg_forward_cases(),
    "avg_pool2d_backward": _avg_backward_cases(),
    "depthwise_conv2d_forward": _depthwise_cases("forward"),
    "depthwise_conv2d_backward_input": _depthwise_cases("backward_input"),
    "depthwise_conv2d_backward_weight": _depthwise_cases("backward_weight"),
    "batch_norm_forward": {
        "2-D x": (ValueError, lambda: (_normal(2, 3), None, None, 1e-5)),
        "int x": (TypeError, lambda: (np.ones((2, 3, 4), np.int64), None, None, 1e-5)),
        "weight of another length": (ValueError, lambda: (_normal(2, 3, 4), _normal(2), None, 1e-5)),
        "2-D weight": (ValueError, lambda: (_normal(2, 3, 4), _normal(3, 1), None, 1e-5)),
        "bias of another length": (ValueError, lambda: (_normal(2, 3, 4), None, _normal(4), 1e-5)),
        "int bias": (TypeError, lambda: (_normal(2, 3, 4), None, np.ones(3, np.int64), 1e-5)),
        "negative eps": (ValueError, lambda: (_normal(2, 3, 4), None, None, -1e-5)),
        "eps None": (TypeError, lambda: (_normal(2, 3, 4), None, None, None)),
    },
    "batch_norm_backward": {
        "grad_out of another shape": (ValueError, _bn_backward(g=(2, 3, 5))),
        "grad_out with more channels": (ValueError, _bn_backward(g=(2, 4, 4))),
        "int grad_out": (TypeError, lambda: (np.ones((2, 3, 4), np.int64), _normal(2, 3, 4), None, *_bn_stats())),
        "2-D x": (ValueError, _bn_backward(g=(2, 3), x=(2, 3))),
        "weight of another length": (ValueError, _bn_backward(weight=(2,))),
        "mean of another length": (ValueError, _bn_backward(mean=(4,))),
        "invstd of another length": (ValueError, _bn_backward(invstd=(2,))),
        "mean None": (TypeError, lambda: (_normal(2, 3, 4), _normal(2, 3, 4), None, None, np.ones(3))),
        "int invstd": (
            TypeError,
            lambda: (_normal(2, 3, 4), _normal(2, 3, 4), None, np.zeros(3), np.ones(3, np.int64)),
        ),
    },
    "nms": {
        "boxes of five columns": (ValueError, lambda: (_normal(4, 5), _normal(4), 0.5)),
        "1-D boxes": (ValueError, lambda: (_normal(4), _normal(1), 0.5)),
        "int boxes": (TypeError, lambda: (np.ones((3, 4), np.int64), np.ones(3, np.int64), 0.5)),
        "a score per coordinate": (ValueError, lambda: (_boxes(3), _normal(3, 4), 0.5)),
        "fewer scores than boxes": (ValueError, lambda: (_boxes(3), _normal(2), 0.5)),
        "scores of another dtype": (TypeError, lambda: (_boxes(3), _normal(3, dtype=np.float32), 0.5)),
        "list boxes": (TypeError, lambda: (_boxes(3).tolist(), _normal(3), 0.5)),
        "threshold None": (TypeError, lambda: (_boxes(3), _normal(3), None)),
        "threshold True": (TypeError, lambda: (_boxes(3), _normal(3), True)),
        "threshold NaN": (ValueError, lambda: (_boxes(3), _normal(3), float("nan"))),
    },
}

# (device, kernel, implementation) for every implementation of every device; the cuda ones run on the NumPy arrays
# of the cases under Numba's CUDA simulator (tests/conftest.py), on the GPU when one is used.
IMPLS = [(device, name, impl) for device, table in BY_DEVICE.items() for name, impls in table.items() for impl in impls]


def test_every_kernel_has_cases():
    assert set(GOOD) == set(IMPLEMENTATIONS) == set(BAD)
    assert set(BY_DEVICE["cuda"]) <= set(IMPLEMENTATIONS)  # every cuda kernel has the CPU's reference contract


@pytest.mark.parametrize(
    ("device", "name", "impl", "case"),
    [
        pytest.param(device, name, impl, case, id=f"{device}-{name}-{impl}-{case}")
        for device, name, impl in IMPLS
        for case in BAD.get(name, {})
    ],
)
def test_bad_arguments_are_refused(device, name, impl, case):
    error, args = BAD[name][case]
    with pytest.raises(error, match=f"^{name}: "):
        _load(name, impl, device)(*_on(device, args()))


def _same(got: Any, expected: Any) -> None:
    if isinstance(expected, tuple):
        assert isinstance(got, tuple) and len(got) == len(expected)
        for g, e in zip(got, expected):
            _same(g, e)
        return
    assert got.shape == expected.shape and got.dtype == expected.dtype
    tol = 1e-5 if expected.dtype == np.float32 else 1e-12
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)


def _on(device: str, args: tuple) -> tuple:
    """The case's arguments on ``device``: NumPy arrays become device arrays (CuPy on a GPU; under the simulator
    they stay NumPy); everything else is passed as it is."""
    if device == "cpu":
        return args
    from minidl_kernels.cuda import runtime

    xp = runtime.array_module()
    return tuple(xp.asarray(a) if isinstance(a, np.ndarray) else a for a in args)


def _host(value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(_host(v) for v in value)
    return value.get() if hasattr(value, "get") and not isinstance(value, np.ndarray) else value


@pytest.mark.parametrize(
    ("device", "name", "impl", "call"),
    [
        pytest.param(device, name, impl, i, id=f"{device}-{name}-{impl}-{i}")
        for device, name, impl in IMPLS
        for i in range(len(GOOD.get(name, [])))
    ],
)
def test_good_arguments_match_the_reference(device, name, impl, call):
    args = GOOD[name][call]
    if name == "scatter_add":  # in place: compare what each leaves in out
        expected_args, got_args = args(), _on(device, args())
        _load(name, "reference")(*expected_args)
        assert _load(name, impl, device)(*got_args) is None
        _same(_host(got_args[0]), expected_args[0])
        return
    _same(_host(_load(name, impl, device)(*_on(device, args()))), _load(name, "reference")(*args()))


def test_the_avg_pool2d_backward_reproducer_raises():
    """The fault-injection probe's call: a (1, 1, 1, 1) gradient for 20 million channels read far past its end."""
    kernels = get_backend("cpu").kernels
    with pytest.raises(ValueError, match=r"^avg_pool2d_backward: grad_out of shape \(1, 20000000, Ho, Wo\)"):
        kernels.avg_pool2d_backward(np.ones((1, 1, 1, 1), np.float32), (1, 20_000_000, 2, 2), (2, 2), (2, 2), (0, 0))
