"""``python -m benchmarks distributed``: what data parallelism over MPI costs here, and what it would on a cluster.

1. Allreduce time against message size on 2 ranks (8 B to 128 MiB of float32), and the α (per message) and β (per
   byte) of the ring model fitted to it (``benchmarks.scaling``).
2. Training steps of LeNet-5 (batch 32 per rank, 1×28×28) and ResNet-18 (CIFAR form, batch 16 per rank, 3×32×32)
   with ``DistributedOptimizer``, split into compute, wait, allreduce and update, in three set-ups: 1 rank; 2
   ranks under mpiexec; two independent single-process runs side by side (on a 2-core machine the real ceiling:
   what the two cores give when nothing is shared).
3. The model's speed-up for 2 to 64 machines on 10 and 100 Gbit/s networks, from the measured compute time per
   step and the gradient size, with this machine's α and β plus the wire's time per byte, and once more with a
   network latency added to α (assumed, typical values: the benchmark cannot measure a network it does not have).

Every process runs with the benchmark's thread count (1 by default). Each set-up is its own process tree; the
three run in turn, three rounds, and the median round of each is reported (``benchmarks/distributed_worker.py``
runs inside them).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import scaling
from benchmarks.report import markdown_table
from benchmarks.timing import THREAD_VARIABLES

DEFAULT_REPEAT = 20  # timed Allreduce calls per message size
ROUNDS = 3  # each set-up's runs, taken in turn
RANKS = [2, 4, 8, 16, 32, 64]
NETWORKS_GBIT = [10, 100]
# Latency of one message over the network, added to the measured α in the second model table. Assumed, not
# measured: ~25 µs is typical of MPI over TCP on Ethernet, ~3 µs of RDMA (InfiniBand, RoCE).
ASSUMED_NETWORK_ALPHA = {10: 25e-6, 100: 3e-6}
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class StepSpec:
    """A model's step benchmark: images per rank and step, untimed and timed steps."""

    batch: int
    warmup: int
    steps: int


SPECS = {"lenet5": StepSpec(batch=32, warmup=5, steps=60), "resnet18": StepSpec(batch=16, warmup=2, steps=8)}


def mpiexec() -> str:
    """The mpiexec beside this Python (the mpich wheel's), else the one on PATH."""
    beside = Path(sys.executable).parent / "mpiexec"
    found = str(beside) if beside.is_file() else shutil.which("mpiexec")
    if found is None:
        raise RuntimeError("benchmarks distributed: no mpiexec found; pip install -e '.[mpi]'")
    return found


def _environment(threads: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "PMIX_", "OMPI_", "MV2_"))}
    env.update({name: str(threads) for name in THREAD_VARIABLES}, PYTHONPATH=str(ROOT))
    return env


def _worker(args: list[str], out: Path, threads: int, ranks: int | None) -> list[subprocess.Popen]:
    """Start ``benchmarks.distributed_worker args`` on ``ranks`` MPI ranks (None: one plain process)."""
    command = [sys.executable, "-m", "benchmarks.distributed_worker", *args, "--out", str(out)]
    if ranks is not None:
        command = [mpiexec(), "-n", str(ranks), sys.executable, "-m", "mpi4py", *command[1:]]
    return [subprocess.Popen(command, cwd=ROOT, env=_environment(threads))]


def _finish(processes: list[subprocess.Popen], outs: list[Path]) -> list[Any]:
    for process in processes:
        if process.wait(timeout=1800) != 0:
            raise RuntimeError(f"benchmarks distributed: {' '.join(map(str, process.args))} failed")
    return [json.loads(out.read_text()) for out in outs]


def measure_steps(
    model: str, threads: int, folder: Path, steps: int | None = None, rounds: int = ROUNDS
) -> dict[str, Any]:
    """The three set-ups of one model: {"1 rank": ..., "2 ranks": ..., "2 processes side by side": [..., ...]}.
    They run in turn, ``rounds`` times (so that drift in the machine's other load hits all three alike), and each
    keeps its round of median throughput. ``steps``: timed steps instead of the model's own number."""
    spec = SPECS[model]
    args = ["steps", "--model", model, "--batch", str(spec.batch), "--warmup", str(spec.warmup)]
    args += ["--steps", str(spec.steps if steps is None else steps)]
    runs: dict[str, list[Any]] = {"1 rank": [], "2 ranks": [], "2 processes side by side": []}
    for i in range(rounds):
        one, two = folder / f"{model}-{i}-1.json", folder / f"{model}-{i}-2.json"
        runs["1 rank"] += _finish(_worker(args, one, threads, None), [one])
        runs["2 ranks"] += _finish(_worker(args, two, threads, 2), [two])
        sides = [folder / f"{model}-{i}-side-{k}.json" for k in range(2)]
        runs["2 processes side by side"].append(
            _finish([p for out in sides for p in _worker(args, out, threads, None)], sides)
        )
    return {name: sorted(results, key=_throughput)[(len(results) - 1) // 2] for name, results in runs.items()}


def _throughput(result: dict[str, Any] | list[dict[str, Any]]) -> float:
    """Images per second of a set-up's run (summed over side-by-side processes)."""
    return sum(r["images_per_s"] for r in (result if isinstance(result, list) else [result]))


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f}"


def _size(nbytes: float) -> str:
    for unit, scale in (("MiB", 2**20), ("KiB", 2**10)):
        if nbytes >= scale:
            return f"{nbytes / scale:g} {unit}"
    return f"{nbytes:g} B"


def allreduce_table(points: list[dict[str, float]], alpha: float, beta: float) -> str:
    """Measured Allreduce times per message size beside the fitted model's."""
    rows = []
    for p in points:
        model = 2 * alpha + p["bytes"] * beta
        rows.append(
            [_size(p["bytes"]), f"{p['median_s'] * 1e6:,.1f}", f"{p['min_s'] * 1e6:,.1f}", f"{model * 1e6:,.1f}"]
        )
    return markdown_table(["message", "median µs", "min µs", "model 2α + nβ µs"], rows)


def steps_table(steps: dict[str, dict[str, Any]]) -> str:
    """Each model's set-ups: the median parts of a step, the images per second, and their ratio to 1 rank."""
    rows = []
    for model, setups in steps.items():
        base = setups["1 rank"]["images_per_s"]
        for name, result in setups.items():
            runs = result if isinstance(result, list) else [result]
            parts = runs[0]["median_s"]
            throughput = _throughput(result)
            rows.append(
                [model, name, runs[0]["batch_per_rank"], _ms(parts["compute"]), _ms(parts["wait"]),
                 _ms(parts["allreduce"]), _ms(parts["update"]), _ms(parts["step"]), f"{throughput:,.0f}",
                 f"{throughput / base:.2f}×"]
            )  # fmt: skip
    headers = ["model", "set-up", "batch/rank", "compute ms", "wait ms", "allreduce ms", "update ms", "step ms"]
    return markdown_table([*headers, "images/s", "vs 1 rank"], rows)


def model_table(steps: dict[str, dict[str, Any]], alpha: float, beta: float, network_alpha: dict[int, float]) -> str:
    """Speed-up over one machine for RANKS machines on each network, every model (weak scaling)."""
    headers = ["machines"] + [f"{m} {g} Gbit/s" for m in steps for g in NETWORKS_GBIT]
    rows = []
    for p in RANKS:
        row: list[Any] = [p]
        for result in steps.values():
            single = result["1 rank"]
            compute = single["median_s"]["compute"] + single["median_s"]["update"]
            messages = single["buckets"] + 1  # the buckets, and the agreement on which gradients exist
            for gbit in NETWORKS_GBIT:
                beta_link = scaling.link_beta(gbit, beta)
                s = scaling.speedup(
                    p, compute, single["gradient_bytes"], alpha + network_alpha[gbit], beta_link, messages
                )
                row.append(f"{s:.1f} ({s / p:.0%})")
        rows.append(row)
    return markdown_table(headers, rows)


def run(
    repeat: int = DEFAULT_REPEAT,
    threads: int = 1,
    models: str | None = None,
    steps: int | None = None,
    rounds: int = ROUNDS,
    max_bytes: int = 2**27,
) -> tuple[str, dict[str, Any]]:
    """Run the three parts (see the module docstring); returns the Markdown report and the data. ``models``: a
    comma-separated subset of ``SPECS``; ``steps``: timed steps per set-up instead of each model's own number;
    ``rounds``: how many times each set-up runs (the median run is reported); ``max_bytes``: the largest
    Allreduce message timed (128 MiB)."""
    chosen = list(SPECS) if models is None else [m.strip() for m in models.split(",")]
    unknown = [m for m in chosen if m not in SPECS]
    if unknown:
        raise ValueError(f"benchmarks distributed: unknown model(s) {unknown}; choose from {list(SPECS)}")
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "allreduce.json"
        allreduce = ["allreduce", "--repeat", str(repeat), "--max-bytes", str(max_bytes)]
        (points,) = _finish(_worker(allreduce, out, threads, 2), [out])
        results = {model: measure_steps(model, threads, Path(folder), steps, rounds) for model in chosen}
    alpha, beta = scaling.fit_alpha_beta([p["bytes"] for p in points], [p["median_s"] for p in points])
    measured_only = dict.fromkeys(NETWORKS_GBIT, 0.0)
    text = "\n\n".join(
        [
            f"### Allreduce on 2 ranks (float32, in place)\n\n{allreduce_table(points, alpha, beta)}\n\n"
            f"Ring model fitted: α = {alpha * 1e6:.2f} µs per message, β = {beta * 1e9:.3f} ns per byte "
            f"({1 / beta / 1e9 if beta else float('inf'):.2f} GB/s).",
            f"### Training steps (medians; images/s over all processes)\n\n{steps_table(results)}",
            "### Modelled speed-up over one machine (efficiency), α and β measured here + the wire's time per "
            f"byte\n\n{model_table(results, alpha, beta, measured_only)}",
            "### The same with a network latency added to α (assumed: "
            + ", ".join(f"{a * 1e6:g} µs at {g} Gbit/s" for g, a in ASSUMED_NETWORK_ALPHA.items())
            + f")\n\n{model_table(results, alpha, beta, ASSUMED_NETWORK_ALPHA)}",
        ]
    )
    data = {
        "allreduce": points,
        "alpha_s": alpha,
        "beta_s_per_byte": beta,
        "steps": results,
        "assumed_network_alpha_s": {str(k): v for k, v in ASSUMED_NETWORK_ALPHA.items()},
    }
    return text, data
