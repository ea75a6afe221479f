"""Scatter-add in numba.cuda: the backward of gathering with repeated indices, on device arrays.

Two kernels on the stream, one thread per entry of index each:

- ``_first_bad_kernel`` finds the first position whose index lies outside [0, M) (an atomic minimum, N when every
  index is in range);
- ``_scatter_add_kernel`` adds ``src[i]`` into ``out[index[i]]`` with an atomic add for every i before that position
  (repeated indices accumulate; the float sum's order, and so its last bits, may vary from run to run).

So, as in the other implementations, the entries before a bad index are added and none from it on; the wrapper then
reads the position back (one small copy to the host, which waits for the kernels) and raises IndexError naming it.
Kernels take contiguous arrays only (the simulator refuses others): a strided ``out`` is added into a contiguous
copy that is then written back into it, and strided index and src are read from contiguous copies.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from minidl_kernels.cuda import runtime
from minidl_kernels.reference.scatter import check_scatter_args, scatter_index_error
from numba import cuda


@cuda.jit
def _first_bad_kernel(index, size, first_bad):  # pragma: no cover - compiled
    """index: (N,) -> first_bad[0] = min(first_bad[0], the positions i with index[i] outside [0, size))."""
    i = cuda.grid(1)
    if i >= index.size:
        return
    j = index[i]
    if j < 0 or j >= size:
        cuda.atomic.min(first_bad, 0, i)


@cuda.jit
def _scatter_add_kernel(out, index, src, first_bad):  # pragma: no cover - compiled
    """out[index[i]] += src[i] (atomically) for every i < first_bad[0]; out: (M,), index, src: (N,)."""
    i = cuda.grid(1)
    if i >= index.size or i >= first_bad[0]:
        return
    cuda.atomic.add(out, index[i], src[i])


PTX_CHECKS: list[tuple[Callable, str]] = [
    (_first_bad_kernel.py_func, "void(int64[::1], int64, int64[::1])"),
    *(
        (_scatter_add_kernel.py_func, f"void({dtype}[::1], int64[::1], {dtype}[::1], int64[::1])")
        for dtype in ("float32", "float64")
    ),
]


def scatter_add(out: Any, index: Any, src: Any) -> None:
    """Add ``src[i]`` into ``out[index[i]]`` for every i, in place; repeated indices accumulate.

    out: (M,) float32/float64 device array, index: (N,) int64 in [0, M), src: (N,) of out's dtype; strided views
    allowed. Raises IndexError naming the first index outside [0, M) (the entries before it were already added).
    """
    check_scatter_args(out, index, src)
    count = index.shape[0]
    if count == 0:
        return
    index = runtime.contiguous(index)
    src = runtime.contiguous(src)
    target = runtime.contiguous(out)
    first_bad = runtime.empty((1,), np.int64)
    first_bad.fill(count)
    runtime.launch_1d(_first_bad_kernel, count, index, out.shape[0], first_bad)
    runtime.launch_1d(_scatter_add_kernel, count, target, index, src, first_bad)
    if target is not out:
        out[...] = target
    bad = int(first_bad[0])
    if bad < count:
        raise scatter_index_error(bad, index, out.shape[0])
