"""Compiled kernels of minidl: pure functions on arrays.

This folder is installed as the package ``minidl_kernels``. Nothing here imports ``minidl``: a kernel
knows arrays, shapes, dtypes and strides, never tensors, layers or devices.

Each kernel name has several implementations with one contract:

- ``minidl_kernels.reference``: plain NumPy, slow and obvious, the truth every test compares with;
- ``minidl_kernels.cpu``: Numba (``@njit(cache=True)``), compiled on first call and cached on disk;
- ``minidl_kernels.cython``: Cython extensions compiled by ``setup.py``;
- ``minidl_kernels.cuda``: numba.cuda versions (a later step).

``IMPLEMENTATIONS`` lists, for every kernel name, where each implementation lives, so that the backend
(and the tests) can find them without importing the compiled ones eagerly.
"""

IMPLEMENTATIONS: dict[str, dict[str, str]] = {
    "scatter_add": {
        "reference": "minidl_kernels.reference:scatter_add",
        "numba": "minidl_kernels.cpu.scatter:scatter_add",
        "cython": "minidl_kernels.cython.scatter:scatter_add",
    },
    "erf": {
        "reference": "minidl_kernels.reference:erf",
        "numba": "minidl_kernels.cpu.special:erf",
    },
}
