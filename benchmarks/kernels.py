"""Kernel implementations side by side (reference / Numba / Cython), and Numba's first-call compile time."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import textwrap
import time
from typing import Any

import numpy as np

from benchmarks.report import markdown_table, us
from benchmarks.timing import summary, time_alternating


def _scatter_add_cases() -> list[tuple[str, int, int]]:
    return [("10⁵ adds into 10³", 100_000, 1_000), ("10⁵ adds into 10⁵", 100_000, 100_000), ("64 adds into 64", 64, 64)]


def _compile_times() -> dict[str, float]:
    """In a fresh process: importing Numba, then the first call of each Numba kernel, with an empty cache
    (compiles) and again (loads the cached machine code)."""
    script = textwrap.dedent(
        """
        import time, numpy as np
        t0 = time.perf_counter()
        import numba
        t1 = time.perf_counter()
        from minidl_kernels.cpu.scatter import scatter_add
        scatter_add(np.zeros(4), np.zeros(3, dtype=np.int64), np.ones(3))
        t2 = time.perf_counter()
        from minidl_kernels.cpu.special import erf
        erf(np.ones(3))
        t3 = time.perf_counter()
        print(t1 - t0, t2 - t1, t3 - t2)
        """
    )
    times = {}
    with tempfile.TemporaryDirectory() as cache:
        env = {"NUMBA_CACHE_DIR": cache, "PATH": "/usr/bin:/bin"}
        for label in ("empty cache (compiles)", "cached (loads)"):
            out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
            numba_import, scatter, erf = (float(v) for v in out.stdout.split())
            times[f"import numba, {label}"] = numba_import
            times[f"scatter_add first call (the first kernel: includes Numba's start-up), {label}"] = scatter
            times[f"erf first call, {label}"] = erf
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
    text += "\n\n" + markdown_table(
        ["Numba first call in a new process", "seconds"], [[k, f"{v:.3f}"] for k, v in compile_times.items()]
    )
    defaults = {name: table.choice(name) for name in table.names()}
    text += "\n\nDefault implementation per kernel: " + ", ".join(f"{k} → {v}" for k, v in defaults.items())
    return text, {"kernels": records, "numba_first_call_s": compile_times, "defaults": defaults, "at": time.time()}
