"""``python -m benchmarks {overhead,kernels} [--threads 1] [--repeat N] [--out DIR]``.

Threads are pinned before NumPy, Numba or PyTorch is imported (1 thread is the primary comparison: see
BENCHMARKING.md); each table is printed and written as Markdown and JSON.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks.timing import pin_threads

SUITES = {
    "overhead": "per-op overhead of small ops, minidl vs PyTorch",
    "kernels": "kernel implementations side by side, and Numba first-call times",
    "ops": "conv, pooling and batch norm on the course's shapes vs PyTorch, kernels side by side, memory",
    "gemm": "our Numba GEMM vs NumPy's BLAS, and im2col/col2im implementations",
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("suite", choices=list(SUITES), help="; ".join(f"{k}: {v}" for k, v in SUITES.items()))
    parser.add_argument("--threads", type=int, default=1, help="threads for every pool (default 1)")
    parser.add_argument("--repeat", type=int, default=200, help="timed rounds per case (default 200)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results", help="where to write results")
    args = parser.parse_args(argv)

    pin_threads(args.threads)
    from benchmarks import gemm, kernels, ops, overhead, report
    from benchmarks.timing import pin_torch_threads

    suites = {"overhead": overhead.run, "kernels": kernels.run, "ops": ops.run, "gemm": gemm.run}
    pin_torch_threads(args.threads)
    table, data = suites[args.suite](args.repeat)
    title = f"{args.suite} — {args.threads} thread{'s' if args.threads > 1 else ''}"
    print(f"## {title}\n\n{table}")
    data["threads"] = args.threads
    report.write(args.out, f"{args.suite}-{args.threads}t", title, table, data)
    print(f"\n(written to {args.out}/{args.suite}-{args.threads}t.md and .json)")


if __name__ == "__main__":
    main()
