"""Compiled kernels of minidl: pure functions on arrays.

This folder is installed as the package ``minidl_kernels``. Nothing here imports ``minidl``: a kernel
knows arrays, shapes, dtypes and strides, never tensors, layers or devices.

Each kernel name has several implementations with one contract:

- ``minidl_kernels.reference``: plain NumPy, slow and obvious, the truth every test compares with;
- ``minidl_kernels.numba``: Numba (``@njit(cache=True)``), compiled on first call and cached on disk, in a per-user
  folder outside the package (``minidl_kernels.numba_cache``);
- ``minidl_kernels.cython``: Cython extensions compiled by ``setup.py``;
- ``minidl_kernels.blas``: the platform BLAS through NumPy (the GEMM ceiling);
- ``minidl_kernels.bitmask``: ``keep_where`` on the bits of a float array (NumPy, no branches);
- ``minidl_kernels.cuda``: numba.cuda versions on device arrays (CuPy on a GPU, NumPy under Numba's CUDA
  simulator), launched as ``minidl_kernels.cuda.runtime`` says.

``IMPLEMENTATIONS`` lists, for every kernel name, where each implementation for the CPU lives, and
``CUDA_IMPLEMENTATIONS`` the same for CUDA devices (``cuda``: ours; ``blas``: cuBLAS through CuPy), so that each
backend (and the tests) can find them without importing the compiled ones eagerly. ``BY_DEVICE`` maps a device
type to its table. A kernel missing from a device's table is missing on that device: there is no silent fall-back
to NumPy.

Every implementation checks its arguments before it touches memory, with the checks of its family's reference
module (``check_*_args``, built from ``reference.arguments``), written once: a call outside the contract raises
ValueError, TypeError or IndexError with the message ``"<kernel name>: <what was expected>, got <what was given>"``
(tests/kernels/test_kernel_arguments.py holds every implementation to it).
"""

import os

# Numba's OpenMP threads spin after each parallel kernel and starve the BLAS threads (and the other way round):
# with 2 threads on a busy 2-core machine, a 20 ms ResNet convolution took 1.3 s. Passive waiting costs a few
# microseconds per kernel. It must be set before an OpenMP runtime starts, so here, at import; an explicit
# OMP_WAIT_POLICY is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

IMPLEMENTATIONS: dict[str, dict[str, str]] = {
    "scatter_add": {
        "reference": "minidl_kernels.reference:scatter_add",
        "numba": "minidl_kernels.numba.scatter:scatter_add",
        "cython": "minidl_kernels.cython.scatter:scatter_add",
    },
    "keep_where": {
        "reference": "minidl_kernels.reference:keep_where",
        "bitmask": "minidl_kernels.bitmask:keep_where",
    },
    "erf": {
        "reference": "minidl_kernels.reference:erf",
        "numba": "minidl_kernels.numba.special:erf",
    },
    "im2col": {
        "reference": "minidl_kernels.reference:im2col",
        "numba": "minidl_kernels.numba.im2col:im2col",
        "cython": "minidl_kernels.cython.im2col:im2col",
    },
    "col2im": {
        "reference": "minidl_kernels.reference:col2im",
        "numba": "minidl_kernels.numba.im2col:col2im",
        "cython": "minidl_kernels.cython.im2col:col2im",
    },
    "gemm": {
        "reference": "minidl_kernels.reference:gemm",
        "numba": "minidl_kernels.numba.gemm:gemm",
    },
    "matmul": {
        "reference": "minidl_kernels.reference:matmul",
        "blas": "minidl_kernels.blas:matmul",
        "numba": "minidl_kernels.numba.matmul:matmul",
    },
    "max_pool2d_forward": {
        "reference": "minidl_kernels.reference:max_pool2d_forward",
        "numba": "minidl_kernels.numba.pool:max_pool2d_forward",
    },
    "max_pool2d_backward": {
        "reference": "minidl_kernels.reference:max_pool2d_backward",
        "numba": "minidl_kernels.numba.pool:max_pool2d_backward",
    },
    "avg_pool2d_forward": {
        "reference": "minidl_kernels.reference:avg_pool2d_forward",
        "numba": "minidl_kernels.numba.pool:avg_pool2d_forward",
    },
    "avg_pool2d_backward": {
        "reference": "minidl_kernels.reference:avg_pool2d_backward",
        "numba": "minidl_kernels.numba.pool:avg_pool2d_backward",
    },
    "depthwise_conv2d_forward": {
        "reference": "minidl_kernels.reference:depthwise_conv2d_forward",
        "numba": "minidl_kernels.numba.depthwise:depthwise_conv2d_forward",
    },
    "depthwise_conv2d_backward_input": {
        "reference": "minidl_kernels.reference:depthwise_conv2d_backward_input",
        "numba": "minidl_kernels.numba.depthwise:depthwise_conv2d_backward_input",
    },
    "depthwise_conv2d_backward_weight": {
        "reference": "minidl_kernels.reference:depthwise_conv2d_backward_weight",
        "numba": "minidl_kernels.numba.depthwise:depthwise_conv2d_backward_weight",
    },
    "batch_norm_forward": {
        "reference": "minidl_kernels.reference:batch_norm_forward",
        "numba": "minidl_kernels.numba.norm:batch_norm_forward",
    },
    "batch_norm_backward": {
        "reference": "minidl_kernels.reference:batch_norm_backward",
        "numba": "minidl_kernels.numba.norm:batch_norm_backward",
    },
    "winograd_filter_transform": {"reference": "minidl_kernels.reference:winograd_filter_transform"},
    "winograd_filter_transform_adjoint": {"reference": "minidl_kernels.reference:winograd_filter_transform_adjoint"},
    "winograd_input_transform": {
        "reference": "minidl_kernels.reference:winograd_input_transform",
        "numba": "minidl_kernels.numba.winograd:winograd_input_transform",
    },
    "winograd_output_transform": {
        "reference": "minidl_kernels.reference:winograd_output_transform",
        "numba": "minidl_kernels.numba.winograd:winograd_output_transform",
    },
    "winograd_output_transform_adjoint": {
        "reference": "minidl_kernels.reference:winograd_output_transform_adjoint",
        "numba": "minidl_kernels.numba.winograd:winograd_output_transform_adjoint",
    },
    "log_softmax": {
        "reference": "minidl_kernels.reference:log_softmax",
    },
    "dropout_mask": {
        "reference": "minidl_kernels.reference:dropout_mask",
    },
    "nms": {
        "reference": "minidl_kernels.reference:nms",
        "numba": "minidl_kernels.numba.nms:nms",
    },
}

_CUDA = "minidl_kernels.cuda"
CUDA_IMPLEMENTATIONS: dict[str, dict[str, str]] = {
    "scatter_add": {"cuda": f"{_CUDA}.scatter:scatter_add"},
    "keep_where": {"cuda": f"{_CUDA}.elementwise:keep_where"},
    "erf": {"cuda": f"{_CUDA}.elementwise:erf"},
    "im2col": {"cuda": f"{_CUDA}.im2col:im2col"},
    "col2im": {"cuda": f"{_CUDA}.im2col:col2im"},
    "gemm": {"cuda": f"{_CUDA}.gemm:gemm", "blas": f"{_CUDA}.blas:gemm"},
    "matmul": {"cuda": f"{_CUDA}.gemm:matmul", "blas": f"{_CUDA}.blas:matmul"},
    "max_pool2d_forward": {"cuda": f"{_CUDA}.pool:max_pool2d_forward"},
    "max_pool2d_backward": {"cuda": f"{_CUDA}.pool:max_pool2d_backward"},
    "avg_pool2d_forward": {"cuda": f"{_CUDA}.pool:avg_pool2d_forward"},
    "avg_pool2d_backward": {"cuda": f"{_CUDA}.pool:avg_pool2d_backward"},
    "depthwise_conv2d_forward": {"cuda": f"{_CUDA}.depthwise:depthwise_conv2d_forward"},
    "depthwise_conv2d_backward_input": {"cuda": f"{_CUDA}.depthwise:depthwise_conv2d_backward_input"},
    "depthwise_conv2d_backward_weight": {"cuda": f"{_CUDA}.depthwise:depthwise_conv2d_backward_weight"},
    "batch_norm_forward": {"cuda": f"{_CUDA}.norm:batch_norm_forward"},
    "batch_norm_backward": {"cuda": f"{_CUDA}.norm:batch_norm_backward"},
    "log_softmax": {"cuda": f"{_CUDA}.softmax:log_softmax"},
    "dropout_mask": {"cuda": f"{_CUDA}.random:dropout_mask"},
    "nms": {"cuda": f"{_CUDA}.nms:nms"},
}

BY_DEVICE: dict[str, dict[str, dict[str, str]]] = {"cpu": IMPLEMENTATIONS, "cuda": CUDA_IMPLEMENTATIONS}
