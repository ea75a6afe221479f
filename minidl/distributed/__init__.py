"""Data-parallel training over MPI: one process per rank, each training on its slice of every batch, gradients
averaged before each step (Horovod's and PyTorch DDP's scheme; names after theirs)::

    import minidl.distributed as dist

    dist.init()                                   # plain `python`: one rank, no MPI needed
    sampler = dist.DistributedSampler(train_set, shuffle=True, seed=0)
    loader = DataLoader(train_set, 64 // dist.size(), sampler=sampler)
    dist.broadcast_parameters(model)              # every rank starts from rank 0's weights
    optimizer = dist.DistributedOptimizer(optim.Adam(model.parameters(), lr=2e-3))
    fit(model, loader, loss_fn, optimizer, epochs)  # metrics over all ranks; prints, checkpoints on rank 0

launched as ``mpiexec -n 4 python -m mpi4py train.py`` (``python -m mpi4py`` makes a rank that raises abort the
whole job instead of leaving the others waiting).

Modules: ``world`` (init, rank, size, local_rank, barrier), ``collectives`` (all_reduce, broadcast on tensors;
broadcast_object, allgather_object), ``broadcast_state`` (broadcast_parameters, broadcast_optimizer_state),
``optimizer`` (DistributedOptimizer), ``sampler`` (DistributedSampler), ``sync_batchnorm`` (SyncBatchNorm,
convert_sync_batchnorm); underneath: ``launch`` (is this an MPI rank?), ``communicator`` (mpi4py or a single
process), ``staging`` (device arrays through host memory unless the MPI is CUDA-aware), ``buckets`` (flat packing).
"""

from minidl.distributed.broadcast_state import broadcast_optimizer_state, broadcast_parameters
from minidl.distributed.collectives import all_reduce, allgather_object, broadcast, broadcast_object
from minidl.distributed.optimizer import DistributedOptimizer
from minidl.distributed.sampler import DistributedSampler
from minidl.distributed.sync_batchnorm import SyncBatchNorm, convert_sync_batchnorm
from minidl.distributed.world import barrier, init, is_initialized, local_rank, local_size, rank, size

__all__ = [
    "DistributedOptimizer", "DistributedSampler", "SyncBatchNorm", "all_reduce", "allgather_object", "barrier",
    "broadcast", "broadcast_object", "broadcast_optimizer_state", "broadcast_parameters", "convert_sync_batchnorm",
    "init", "is_initialized", "local_rank", "local_size", "rank", "size",
]  # fmt: skip
