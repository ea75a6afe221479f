"""``python -m benchmarks {overhead,kernels,ops,gemm,models,training} [--threads 1] [--repeat N] [--out DIR]``.

Threads are pinned before NumPy, Numba or PyTorch is imported. 1 thread is the primary comparison: on the 2-vCPU
development machines two threads behave like one core's two hyper-threads, and 2-thread timings are erratic.
Each table is printed and written as Markdown and JSON.

Suite options: ``models --models a,b,c`` (a subset of ``minidl.models.list_models()``; ``--no-fresh`` skips the
fresh-process first calls; ``--mode train`` times training steps; ``--batch-size 32`` one batch size);
``training --epochs-fraction F --batch-size 64 [--profile] [--malloc-tuned]``;
``distributed --models lenet5,resnet18`` (needs mpi4py and mpiexec: ``pip install -e ".[mpi]"``).
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
    "models": "every minidl.models model vs the same network in PyTorch: inference and first calls, or (--mode train) "
    "a training step; the conv algorithm per layer",
    "training": "one LeNet-5 training epoch on MNIST (Adam, batch 64) vs PyTorch",
    "distributed": "MPI allreduce time vs message size; LeNet-5 and ResNet-18 steps on 1 rank, 2 ranks and two "
    "processes side by side; the alpha-beta model of larger runs",
    "keras_lab": "one epoch of the Keras lab's convnet (minidl.keras NHWC and NCHW, batch 128, Adam) vs PyTorch",
    "steps": "CIFAR-shaped ResNet-18 and MobileNet v2: training step, inference (plain and fused), per-layer "
    "algorithms, step memory, vs PyTorch",
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("suite", choices=list(SUITES), help="; ".join(f"{k}: {v}" for k, v in SUITES.items()))
    parser.add_argument("--threads", type=int, default=1, help="threads for every pool (default 1)")
    parser.add_argument(
        "--repeat", type=int, default=None,
        help="timed rounds per case (default 200; models: 20, fewer for slow models; training: steady epochs, 2)",
    )  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results", help="where to write results")
    parser.add_argument("--models", default=None, help="models suite: comma-separated model names (default: all)")
    parser.add_argument(
        "--no-fresh", dest="fresh", action="store_false", help="models suite: skip the fresh-process first calls"
    )
    parser.add_argument(
        "--epochs-fraction", type=float, default=1.0,
        help="training suite: time this share of each epoch's batches and extrapolate (default 1: full epochs)",
    )  # fmt: skip
    parser.add_argument(
        "--batch-size", type=int, default=None,
        help="training suite: batch size (default 64); models suite: time this batch size only (default: 1 and 32)",
    )  # fmt: skip
    parser.add_argument(
        "--mode", choices=("inference", "train"), default="inference",
        help="models suite: 'inference' (default) or 'train' (forward + backward + SGD momentum step)",
    )  # fmt: skip
    parser.add_argument(
        "--profile", action="store_true", help="training suite: append a cProfile table of minidl training steps"
    )
    parser.add_argument(
        "--malloc-tuned", action="store_true",
        help="training suite: glibc malloc keeps freed memory in both workers (written as training-<n>t-malloc-tuned)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    pin_threads(args.threads)
    from benchmarks import gemm, keras_lab, kernels, models, ops, overhead, report, steps, training

    # Timed rounds per case without --repeat: the suite's own default (training: steady epochs), else 200.
    default = {"models": models.DEFAULT_REPEAT, "training": training.DEFAULT_REPEAT, "steps": 7}.get(args.suite, 200)
    default = keras_lab.DEFAULT_REPEAT if args.suite == "keras_lab" else default
    repeat = args.repeat if args.repeat is not None else default
    from benchmarks.timing import pin_torch_threads

    suites = {
        "overhead": lambda: overhead.run(repeat),
        "kernels": lambda: kernels.run(repeat),
        "ops": lambda: ops.run(repeat),
        "gemm": lambda: gemm.run(repeat),
        "distributed": lambda: _distributed(args),
        "models": lambda: models.run(
            repeat, models=args.models, fresh=args.fresh, batch_size=args.batch_size, mode=args.mode
        ),
        "steps": lambda: steps.run(repeat, models=args.models),
        "training": lambda: training.run(
            repeat,
            epochs_fraction=args.epochs_fraction,
            batch_size=args.batch_size or 64,
            profile=args.profile,
            threads=args.threads,
            malloc_tuned=args.malloc_tuned,
        ),
        "keras_lab": lambda: keras_lab.run(repeat, epochs_fraction=args.epochs_fraction, threads=args.threads),
    }
    pin_torch_threads(args.threads)
    table, data = suites[args.suite]()
    title = f"{args.suite} — {args.threads} thread{'s' if args.threads > 1 else ''}"
    name = f"{args.suite}-{args.threads}t"
    if args.suite == "models" and (args.mode != "inference" or args.batch_size):
        suffix = "".join([f"-{args.mode}" if args.mode != "inference" else "",
                          f"-batch{args.batch_size}" if args.batch_size else ""])  # fmt: skip
        title, name = f"{title}, {args.mode}{f', batch {args.batch_size}' if args.batch_size else ''}", name + suffix
    if args.suite == "training" and args.malloc_tuned:
        title, name = f"{title}, glibc malloc tuned", f"{name}-malloc-tuned"
    print(f"## {title}\n\n{table}")
    data["threads"] = args.threads
    report.write(args.out, name, title, table, data)
    print(f"\n(written to {args.out}/{name}.md and .json)")


def _distributed(args: argparse.Namespace) -> tuple[str, dict]:
    """The distributed suite, imported only when chosen (its own default repeat: Allreduce calls per size)."""
    from benchmarks import distributed

    repeat = args.repeat if args.repeat is not None else distributed.DEFAULT_REPEAT
    return distributed.run(repeat, args.threads, args.models)


if __name__ == "__main__":
    main()
