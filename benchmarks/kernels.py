"""Kernel implementations side by side (reference / Numba / Cython), and Numba's first-call compile time."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np

from benchmarks.report import markdown_table, us
from benchmarks.timing import summary, time_alternating


def _scatter_add_cases() -> list[tuple[str, int, int]]:
    return [("10⁵ adds into 10³", 100_000, 1_000), ("10⁵ adds into 10⁵", 100_000, 100_000), ("64 adds into 64", 64, 64)]


_FIRST_CALLS = """
import time
import numpy as np
t0 = time.perf_counter()
import numba  # noqa: F401
print("import numba", time.perf_counter() - t0)
from minidl_kernels import IMPLEMENTATIONS
import importlib

x = np.random.default_rng(0).standard_normal((2, 3, 6, 6)).astype(np.float32)
w = np.ones((3, 1, 3, 3), np.float32)
pads, one = (1, 1, 1, 1), (1, 1)
args = {
    "scatter_add": (np.zeros(4, np.float32), np.zeros(3, dtype=np.int64), np.ones(3, np.float32)),
    "erf": (x,),
    "gemm": (x[0, 0], x[0, 1]),
    "matmul": (x[0], x[1]),
    "im2col": (x, (3, 3), one, pads, one),
    "col2im": (np.ones((2, 27, 36), np.float32), x.shape, (3, 3), one, pads, one),
    "max_pool2d_forward": (x, (2, 2), (2, 2), (0, 0), one, (3, 3)),
    "max_pool2d_backward": (np.ones((2, 3, 3, 3), np.float32), np.zeros((2, 3, 3, 3), np.int64), x.shape),
    "avg_pool2d_forward": (x, (2, 2), (2, 2), (0, 0), (3, 3), True, None),
    "avg_pool2d_backward": (np.ones((2, 3, 3, 3), np.float32), x.shape, (2, 2), (2, 2), (0, 0), True, None),
    "depthwise_conv2d_forward": (x, w, one, pads, one),
    "depthwise_conv2d_backward_input": (x, w, x.shape, one, pads, one),
    "depthwise_conv2d_backward_weight": (x, x, w.shape, one, pads, one),
    "batch_norm_forward": (x.reshape(2, 3, 36), None, None, 1e-5),
    "batch_norm_backward": (x.reshape(2, 3, 36), x.reshape(2, 3, 36), None, np.zeros(3, np.float32),
                            np.ones(3, np.float32)),
}
for name, impls in IMPLEMENTATIONS.items():
    if "numba" not in impls:
        continue
    module, attr = impls["numba"].split(":")
    fn = getattr(importlib.import_module(module), attr)
    t = time.perf_counter()
    fn(*args[name])
    print(name, time.perf_counter() - t)
"""


def _compile_times() -> dict[str, dict[str, float]]:
    """In a fresh process: importing Numba, then the first float32 call of every Numba kernel, once with an
    empty cache (it compiles) and once more (it loads the cached machine code)."""
    times: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as cache:
        env = {"NUMBA_CACHE_DIR": cache, "PATH": "/usr/bin:/bin", "NUMBA_NUM_THREADS": "1"}
        for label in ("empty cache (compiles)", "cached (loads)"):
            out = subprocess.run([sys.executable, "-c", _FIRST_CALLS], env=env, capture_output=True, text=True)
            if out.returncode:
                raise RuntimeError(f"first-call timing failed:\n{out.stderr}")
            for line in out.stdout.splitlines():
                name, seconds = line.rsplit(" ", 1)
                times.setdefault(name, {})[label] = float(seconds)
    return times


def run(repeat: int) -> tuple[str, dict[str, Any]]:
    from minidl.backend import get_backend

    table = get_backend("cpu").kernels
    rows, records = [], []
    rng = np.random.default_rng(0)
    for name, n, m in _scatter_add_cases():
        index = rng.integers(0, m, n).astype(np.int64)
        src = rng.standard_normal(n).astype(np.float32)
        out = np.zeros(m, dtype=np.float32)
        impls = {impl: table.resolve("scatter_add", impl) for impl in table.available("scatter_add")}
        samples = time_alternating(
            {impl: (lambda fn=fn, o=out, i=index, s=src: fn(o, i, s)) for impl, fn in impls.items()},
            repeat=repeat,
            warmup=3,
        )
        stats = {impl: summary(s) for impl, s in samples.items()}
        rows.append([f"scatter_add {name}"] + [us(stats[i]["median_s"]) for i in ("reference", "numba", "cython")])
        records.append({"kernel": "scatter_add", "case": name, **stats})
    x = rng.standard_normal(100_000).astype(np.float32)
    impls = {impl: table.resolve("erf", impl) for impl in table.available("erf")}
    samples = time_alternating({impl: (lambda fn=fn: fn(x)) for impl, fn in impls.items()}, repeat=max(3, repeat // 10))
    stats = {impl: summary(s) for impl, s in samples.items()}
    rows.append(["erf 10⁵ float32", us(stats["reference"]["median_s"]), us(stats["numba"]["median_s"]), "—"])
    records.append({"kernel": "erf", "case": "10⁵ float32", **stats})
    text = markdown_table(["kernel", "reference (NumPy)", "Numba", "Cython"], rows)
    compile_times = _compile_times()
    labels = ["empty cache (compiles)", "cached (loads)"]
    text += "\n\n" + markdown_table(
        ["first call in a new process (float32)", *[f"{label}, s" for label in labels]],
        [[name, *[f"{t.get(label, float('nan')):.3f}" for label in labels]] for name, t in compile_times.items()],
    )
    text += "\n\n(The first Numba kernel called in a process also pays Numba's own start-up, ~0.3 s.)"
    defaults = {name: table.choice(name) for name in table.names()}
    text += "\n\nDefault implementation per kernel: " + ", ".join(f"{k} → {v}" for k, v in defaults.items())
    return text, {"kernels": records, "numba_first_call_s": compile_times, "defaults": defaults, "at": time.time()}
