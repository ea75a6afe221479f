"""What ``fit`` does differently when it runs as one of several MPI ranks (``minidl.distributed`` initialised with
more than one rank): sums the epoch's metrics over the ranks, shows and writes on rank 0 only, and keeps each
rank's own random state in the checkpoint so that a resumed run (with as many ranks) continues every rank exactly.

In a single process every function here is a no-op or the identity, and mpi4py is never imported.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from minidl.distributed import world as _world


def active() -> bool:
    """Whether this process is one of several ranks of an initialised ``minidl.distributed`` job."""
    return _world.is_initialized() and _world.size() > 1


def is_root() -> bool:
    """Whether this process writes files and prints: rank 0, or the only process."""
    return not active() or _world.rank() == 0


def sum_over_ranks(values: list[float]) -> list[float]:
    """The element-wise sums of ``values`` over the ranks (float64; ``values`` itself in a single process)."""
    if not active():
        return values
    total = np.asarray(values, dtype=np.float64)
    _world.world().allreduce_(total, "sum")
    return total.tolist()


def warn_if_ranks_train_alone() -> None:
    """Warn when a launcher started several processes but minidl.distributed was never initialised: each process
    then trains a model of its own and writes the same files (``--distributed`` or ``dist.init()`` forgotten)."""
    from minidl.distributed.launch import launched_size

    started = launched_size()
    if started is not None and started > 1 and not _world.is_initialized():
        warnings.warn(
            f"fit: an MPI launcher started {started} processes, but minidl.distributed is not initialised: each "
            "process trains alone and writes the same files; call minidl.distributed.init() and use its "
            "DistributedSampler and DistributedOptimizer (examples: --distributed), or start one process",
            stacklevel=3,
        )


def warn_unless_distributed_optimizer(optimizer: Any) -> None:
    """Warn (on rank 0) when several ranks train with an optimizer that does not average their gradients: each
    rank would then train a model of its own."""
    from minidl.distributed.optimizer import DistributedOptimizer

    if active() and is_root() and not isinstance(optimizer, DistributedOptimizer):
        warnings.warn(
            f"fit runs on {_world.size()} ranks, but the optimizer ({type(optimizer).__name__}) is not a "
            "minidl.distributed.DistributedOptimizer: the ranks' gradients are not averaged and their models drift "
            "apart; wrap it with DistributedOptimizer(optimizer)",
            stacklevel=3,
        )


def gather_rank_states(rng: str, loader: Any) -> dict[str, Any] | None:
    """Every rank's generator state (JSON text) and training loader state, in rank order, for the checkpoint:
    ``{"size": ranks, "rng": [...], "loader": [...]}``; None in a single process. Every rank must call it."""
    if not active():
        return None
    states = _world.world().allgather_object((rng, loader))
    return {"size": len(states), "rng": [s[0] for s in states], "loader": [s[1] for s in states]}


def own_rank_state(checkpoint: dict[str, Any]) -> tuple[str, Any]:
    """This rank's (generator state, loader state) from a checkpoint, after checking that it was written by as
    many ranks as this run has (a run resumes with the number of ranks it started with: the data each rank sees
    depends on it)."""
    saved = checkpoint.get("ranks")
    written_by = 1 if saved is None else int(saved["size"])
    ranks = _world.size() if _world.is_initialized() else 1
    if written_by != ranks:
        raise ValueError(
            f"fit: the checkpoint was written by a run on {written_by} rank(s) and this run has {ranks}; resume with "
            f"the same number of ranks (mpiexec -n {written_by} ...)"
        )
    if saved is None:
        return checkpoint["rng"], checkpoint.get("loader")
    rank = _world.rank()
    return saved["rng"][rank], saved["loader"][rank]


def check_same_length(length: int | None, what: str) -> None:
    """Raise unless every rank's loader has ``length`` batches (ranks stepping different numbers of times would
    wait for each other forever in the gradient Allreduce)."""
    if not active():
        return
    lengths = _world.world().allgather_object(length)
    if len(set(lengths)) > 1:
        raise ValueError(
            f"fit: the ranks' {what}s have different numbers of batches ({', '.join(map(str, lengths))} on ranks 0 "
            f"to {len(lengths) - 1}); give each rank an equal share, e.g. DataLoader(dataset, batch_size, "
            "sampler=minidl.distributed.DistributedSampler(dataset))"
        )


def check_same_epoch(done: int, path: Any) -> None:
    """Raise unless every rank resumed from a checkpoint of the same epoch (ranks reading different folders)."""
    if not active():
        return
    found = _world.world().allgather_object((done, str(path)))
    if len({epoch for epoch, _ in found}) > 1:
        listed = ", ".join(f"rank {r}: epoch {epoch} ({where})" for r, (epoch, where) in enumerate(found))
        raise RuntimeError(
            f"fit: the ranks resumed from different checkpoints ({listed}); give every rank the same checkpoint "
            "folder, on a file system they all see"
        )
