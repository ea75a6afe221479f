"""The convolution's hot path: our Numba GEMM against NumPy's BLAS (GFLOP/s and the ratio of paired runs) on square
products and on ResNet-18's convolution GEMMs, and im2col / col2im per implementation (reference / Numba / Cython)
on the course's convolution shapes, with Numba's first-call times.

Run through the benchmark CLI, which pins the thread pools first, or alone:
``python -m benchmarks.gemm [--threads 1] [--repeat N]``.
"""

from __future__ import annotations

import math
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from typing import Any

import numpy as np

from benchmarks.report import markdown_table
from benchmarks.timing import summary, time_alternating

# name, a's shape, b's shape, which operands are transposed in memory (each matrix F-contiguous, as the
# convolution's backward passes hand them over). Square products, then the GEMMs of ResNet-18's 3×3 convolutions
# (CIFAR form) at batch 32 as the CPU backend's im2col path issues them: weights @ each image's columns (forward),
# weightsᵀ @ each image's output gradient (input gradient), output gradient @ each image's columnsᵀ (weight
# gradient, summed over the batch afterwards).
GEMM_CASES: list[tuple[str, tuple[int, ...], tuple[int, ...], str]] = [
    ("256² @ 256²", (256, 256), (256, 256), ""),
    ("512² @ 512²", (512, 512), (512, 512), ""),
    ("1024² @ 1024²", (1024, 1024), (1024, 1024), ""),
    ("2048² @ 2048²", (2048, 2048), (2048, 2048), ""),
    ("ResNet 3×3, one image: 64×576 @ 576×1024", (64, 576), (576, 1024), ""),
    ("layer1 fwd: 64×576 @ 32 × 576×1024", (64, 576), (32, 576, 1024), ""),
    ("layer2 fwd: 128×1152 @ 32 × 1152×256", (128, 1152), (32, 1152, 256), ""),
    ("layer3 fwd: 256×2304 @ 32 × 2304×64", (256, 2304), (32, 2304, 64), ""),
    ("layer4 fwd: 512×4608 @ 32 × 4608×16", (512, 4608), (32, 4608, 16), ""),
    ("layer1 input grad: (64×576)ᵀ @ 32 × 64×1024", (576, 64), (32, 64, 1024), "a"),
    ("layer1 weight grad: 32 × 64×1024 @ (576×1024)ᵀ", (32, 64, 1024), (32, 1024, 576), "b"),
    ("layer4 weight grad: 32 × 512×16 @ (4608×16)ᵀ", (32, 512, 16), (32, 16, 4608), "b"),
]

# name, x shape, kernel_size, stride, padding (top, bottom, left, right), dilation, images per call
CONV_CASES = [
    ("ResNet 3×3: N=32, C=64, 32×32, pad 1", (32, 64, 32, 32), (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 32),
    ("ResNet 3×3, one image at a time (×32)", (32, 64, 32, 32), (3, 3), (1, 1), (1, 1, 1, 1), (1, 1), 1),
    ("LeNet conv1: N=64, C=1, 28×28, k5, pad 2", (64, 1, 28, 28), (5, 5), (1, 1), (2, 2, 2, 2), (1, 1), 64),
    ("LeNet conv2: N=64, C=6, 14×14, k5", (64, 6, 14, 14), (5, 5), (1, 1), (0, 0, 0, 0), (1, 1), 64),
]

IMPLS = ("reference", "numba", "cython")


def _rounds(repeat: int, seconds_per_round: float, least: int = 5) -> int:
    """Fewer rounds for slow cases: about repeat rounds of a 1 ms case, never under ``least``."""
    return max(least, min(repeat, int(repeat * 1e-3 / seconds_per_round)))


def _operand(rng: np.random.Generator, shape: tuple[int, ...], transposed: bool) -> np.ndarray:
    x = rng.standard_normal(shape).astype(np.float32)
    return np.ascontiguousarray(x.swapaxes(-1, -2)).swapaxes(-1, -2) if transposed else x


def _gemm_table(repeat: int) -> tuple[str, list[dict[str, Any]]]:
    """Our Numba matmul against NumPy's (OpenBLAS) on each case, alternating in one process: GFLOP/s from the
    medians, and the ratio ours / BLAS of each round's pair of calls, as its median and quartiles."""
    from minidl.backend import get_backend

    kernels = get_backend("cpu").kernels
    candidates = {"blas": kernels.resolve("matmul", "blas"), "numba": kernels.resolve("matmul", "numba")}
    rng = np.random.default_rng(0)
    rows, records = [], []
    for name, a_shape, b_shape, transposed in GEMM_CASES:
        a, b = _operand(rng, a_shape, "a" in transposed), _operand(rng, b_shape, "b" in transposed)
        (m, k), n = a.shape[-2:], b.shape[-1]
        flops = 2 * m * k * n * math.prod(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
        samples = time_alternating(
            {impl: (lambda fn=fn, a=a, b=b: fn(a, b)) for impl, fn in candidates.items()},
            repeat=_rounds(repeat, flops / 50e9, least=max(5, repeat // 10)),
            warmup=2,
        )
        stats = {impl: summary(s) for impl, s in samples.items()}
        gflops = {impl: flops / s["median_s"] / 1e9 for impl, s in stats.items()}
        ratios = [t_blas / t_ours for t_blas, t_ours in zip(samples["blas"], samples["numba"])]
        q1, median, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
        rows.append(
            [
                name,
                f"{gflops['blas']:.1f}",
                f"{gflops['numba']:.1f}",
                f"{100 * median:.0f}% ({100 * q1:.0f}–{100 * q3:.0f})",
            ]
        )
        records.append(
            {"case": name, "a": list(a.shape), "b": list(b.shape), "transposed": transposed, "gflop": flops / 1e9,
             "gflops_median": gflops, "ratio_median": median, "ratio_quartiles": [q1, q3], **stats}
        )  # fmt: skip
    headers = ["float32 product", "NumPy BLAS GFLOP/s", "Numba GFLOP/s", "Numba / BLAS: median (quartiles) of pairs"]
    return markdown_table(headers, rows), records


def _conv_table(repeat: int) -> tuple[str, list[dict[str, Any]], dict[str, str]]:
    from minidl_kernels.reference import im2col as reference_im2col

    from minidl.backend import get_backend

    table = get_backend("cpu").kernels
    rng = np.random.default_rng(0)
    rows, records = [], []
    logs = {kernel: dict.fromkeys(IMPLS, 0.0) for kernel in ("im2col", "col2im")}  # sums of log(median)
    for name, shape, *args, per_call in CONV_CASES:
        x = rng.standard_normal(shape).astype(np.float32)
        cols = reference_im2col(x, *args)
        chunks = [(x[i : i + per_call], cols[i : i + per_call]) for i in range(0, shape[0], per_call)]
        med = {}
        for kernel in ("im2col", "col2im"):
            impls = {impl: table.resolve(kernel, impl) for impl in IMPLS}

            def batch(fn, kernel=kernel, chunks=chunks, args=args):
                for xs, cs in chunks:
                    if kernel == "im2col":
                        fn(xs, *args)
                    else:
                        fn(cs, xs.shape, *args)

            start = time.perf_counter()
            batch(impls["reference"])
            rounds = _rounds(repeat, time.perf_counter() - start)
            samples = time_alternating({impl: (lambda fn=fn: batch(fn)) for impl, fn in impls.items()}, rounds, 2)
            stats = {impl: summary(s) for impl, s in samples.items()}
            med[kernel] = {impl: s["median_s"] for impl, s in stats.items()}
            for impl in IMPLS:
                logs[kernel][impl] += math.log(med[kernel][impl])
            records.append({"kernel": kernel, "case": name, "cols_bytes": cols.nbytes, **stats})
        rows.append([name] + [f"{med[k][i] * 1e3:.2f}" for k in ("im2col", "col2im") for i in IMPLS])
    names = ("reference", "Numba", "Cython")
    headers = ["float32 shape", *(f"{k} {i} ms" for k in ("im2col", "col2im") for i in names)]
    fastest = {kernel: min(t, key=t.get) for kernel, t in logs.items()}  # the lowest geometric mean
    return markdown_table(headers, rows), records, fastest


def _compile_times() -> dict[str, float]:
    """In a fresh process: the first call of each Numba kernel here, with an empty cache (compiles) and again
    (loads the cached machine code)."""
    script = textwrap.dedent(
        """
        import time, numpy as np
        t0 = time.perf_counter()
        import numba
        t1 = time.perf_counter()
        from minidl_kernels.numba.im2col import col2im, im2col
        x = np.ones((1, 1, 4, 4), np.float32)
        args = ((3, 3), (1, 1), (1, 1, 1, 1), (1, 1))
        cols = im2col(x, *args)
        t2 = time.perf_counter()
        col2im(cols, x.shape, *args)
        t3 = time.perf_counter()
        from minidl_kernels.numba.gemm import gemm
        gemm(np.ones((3, 5), np.float32), np.ones((5, 2), np.float32))
        t4 = time.perf_counter()
        gemm(np.ones((3, 5)), np.ones((5, 2)))
        t5 = time.perf_counter()
        print(t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)
        """
    )
    labels = ["import numba", "im2col float32", "col2im float32", "gemm float32", "gemm float64 (after float32)"]
    times = {}
    with tempfile.TemporaryDirectory() as cache:
        env = {"NUMBA_CACHE_DIR": cache, "PATH": "/usr/bin:/bin", "NUMBA_NUM_THREADS": "1"}
        for state in ("empty cache (compiles)", "cached (loads)"):
            out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
            for label, value in zip(labels, out.stdout.split()):
                times[f"{label}, {state}"] = float(value)
    return times


def run(repeat: int) -> tuple[str, dict[str, Any]]:
    gemm_text, gemm_records = _gemm_table(repeat)
    conv_text, conv_records, fastest = _conv_table(repeat)
    compile_times = _compile_times()
    text = "\n\n".join(
        [
            gemm_text,
            conv_text,
            markdown_table(
                ["Numba first call in a new process", "seconds"], [[k, f"{v:.3f}"] for k, v in compile_times.items()]
            ),
            "Fastest im2col / col2im over these shapes (geometric mean of the medians): "
            + ", ".join(f"{k} → {v}" for k, v in fastest.items()),
        ]
    )
    data = {
        "gemm": gemm_records,
        "conv_kernels": conv_records,
        "fastest": fastest,
        "numba_first_call_s": compile_times,
        "at": time.time(),
    }
    return text, data


if __name__ == "__main__":
    import argparse
    import os
    from pathlib import Path

    from benchmarks.timing import THREAD_VARIABLES, pin_threads

    parser = argparse.ArgumentParser(prog="python -m benchmarks.gemm", description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="threads for every pool (default 1)")
    parser.add_argument("--repeat", type=int, default=200, help="timed rounds of a 1 ms case (default 200)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results", help="where to write results")
    cli = parser.parse_args()
    if any(os.environ.get(v) != str(cli.threads) for v in THREAD_VARIABLES):
        # NumPy is imported already: pin the pools and start again, so that they read the pinned sizes.
        pin_threads(cli.threads)
        os.execv(sys.executable, [sys.executable, "-m", "benchmarks.gemm", *sys.argv[1:]])
    from benchmarks import report

    text, data = run(cli.repeat)
    data["threads"] = cli.threads
    print(text)
    report.write(cli.out, f"gemm-{cli.threads}t", "gemm and im2col", text, data)
