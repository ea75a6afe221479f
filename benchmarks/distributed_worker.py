"""What each process of ``python -m benchmarks distributed`` runs (``benchmarks/distributed.py`` starts them):

    mpiexec -n 2 python -m mpi4py -m benchmarks.distributed_worker allreduce --repeat 20 --out allreduce.json
    mpiexec -n 2 python -m mpi4py -m benchmarks.distributed_worker steps --model lenet5 --out steps.json
    python -m benchmarks.distributed_worker steps --model lenet5 --out one.json     # one rank, no MPI

``allreduce``: the time of one in-place float32 Allreduce per message size, the median over ``repeat`` calls of
the slowest rank's time (each call starts after a barrier). ``steps``: training steps of a zoo model with
``DistributedOptimizer`` on a fixed random batch (no data loading), each split into compute (zero_grad, forward,
loss, backward), wait (a barrier: the time the faster rank waits for the slower), allreduce
(``synchronize``: the agreement on which gradients exist and the bucket Allreduces) and update (the wrapped
optimizer's step). Rank 0 (or the single process) writes the JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

# bytes per message: 8 B to 128 MiB, by factors of 8
MESSAGE_BYTES = [8 * 8**k for k in range(9)]
MODELS = {
    # name: (constructor keyword arguments, input shape per sample)
    "lenet5": ({"num_classes": 10, "in_channels": 1}, (1, 28, 28)),
    "resnet18": ({"num_classes": 10, "in_channels": 3, "small_input": True}, (3, 32, 32)),
}


def time_allreduce(repeat: int, max_bytes: int = MESSAGE_BYTES[-1]) -> list[dict[str, float]]:
    """[{"bytes", "median_s", "min_s"}] for every size of ``MESSAGE_BYTES`` up to ``max_bytes``: the slowest
    rank's time per call."""
    from mpi4py import MPI

    import minidl.distributed as dist

    comm = dist.world.world().comm
    results = []
    for nbytes in (n for n in MESSAGE_BYTES if n <= max_bytes):
        buffer = np.ones(nbytes // 4, dtype=np.float32)
        samples = np.empty(repeat)
        for i in range(3 + repeat):  # three warm-up calls
            comm.Barrier()
            start = time.perf_counter()
            comm.Allreduce(MPI.IN_PLACE, buffer, op=MPI.SUM)
            if i >= 3:
                samples[i - 3] = time.perf_counter() - start
        comm.Allreduce(MPI.IN_PLACE, samples, op=MPI.MAX)  # each call as long as its slowest rank
        results.append({"bytes": nbytes, "median_s": float(np.median(samples)), "min_s": float(samples.min())})
    return results


def time_steps(model_name: str, batch: int, warmup: int, steps: int) -> dict[str, Any]:
    """Medians of the parts of a training step (see the module docstring), the images per second of all ranks
    together, and what the gradients weigh."""
    import minidl
    import minidl.distributed as dist
    from minidl import models, nn, optim
    from minidl.distributed.buckets import plan_buckets

    kwargs, shape = MODELS[model_name]
    minidl.manual_seed(0)
    model = models.get_model(model_name, **kwargs)
    dist.broadcast_parameters(model)
    optimizer = dist.DistributedOptimizer(optim.SGD(model.parameters(), lr=0.01, momentum=0.9))
    rng = np.random.default_rng(dist.rank())
    x = minidl.tensor(rng.standard_normal((batch, *shape)).astype(np.float32))
    y = minidl.tensor(rng.integers(0, 10, batch))
    loss_fn = nn.CrossEntropyLoss()
    parts: dict[str, list[float]] = {"compute": [], "wait": [], "allreduce": [], "update": [], "step": []}
    for i in range(warmup + steps):
        if i == warmup:
            dist.barrier()
            first = time.perf_counter()
        t0 = time.perf_counter()
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        t1 = time.perf_counter()
        dist.barrier()
        t2 = time.perf_counter()
        optimizer.synchronize()
        t3 = time.perf_counter()
        optimizer.optimizer.step()
        t4 = time.perf_counter()
        if i >= warmup:
            for name, seconds in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0)):
                parts[name].append(seconds)
    wall = max(dist.allgather_object(time.perf_counter() - first))
    params = list(model.parameters())
    return {
        "model": model_name,
        "ranks": dist.size(),
        "batch_per_rank": batch,
        "steps": steps,
        "median_s": {name: statistics.median(values) for name, values in parts.items()},
        "images_per_s": dist.size() * batch * steps / wall,
        "gradient_bytes": int(sum(p.data.nbytes for p in params)),
        "buckets": len(plan_buckets(params, optimizer.bucket_mb * 2**20)),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.distributed_worker", description=__doc__)
    parser.add_argument("kind", choices=["allreduce", "steps"])
    parser.add_argument("--out", type=Path, required=True, help="the JSON file rank 0 writes")
    parser.add_argument("--repeat", type=int, default=20, help="allreduce: timed calls per message size")
    parser.add_argument("--max-bytes", type=int, default=MESSAGE_BYTES[-1], help="allreduce: the largest message")
    parser.add_argument("--model", choices=list(MODELS), default="lenet5", help="steps: the model")
    parser.add_argument("--batch", type=int, default=32, help="steps: images per rank and step")
    parser.add_argument("--warmup", type=int, default=3, help="steps: untimed first steps")
    parser.add_argument("--steps", type=int, default=20, help="steps: timed steps")
    args = parser.parse_args(argv)
    import minidl.distributed as dist

    dist.init()
    if args.kind == "allreduce":
        result: Any = time_allreduce(args.repeat, args.max_bytes)
    else:
        result = time_steps(args.model, args.batch, args.warmup, args.steps)
    if dist.rank() == 0:
        args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
