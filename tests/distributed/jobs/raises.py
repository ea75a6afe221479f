"""MPI job (2 ranks): rank 1 raises while rank 0 waits in a collective for it. The job must end with a non-zero
status instead of hanging: under ``python -m mpi4py`` through mpi4py, under plain ``python`` through the exception
hook that ``minidl.distributed.init`` installs."""

import minidl
import minidl.distributed as dist

dist.init()
if dist.rank() == 1:
    raise RuntimeError("rank 1 fails on purpose")
dist.all_reduce(minidl.zeros(3))  # rank 0 waits here for a rank that never comes
