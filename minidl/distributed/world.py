"""The process's place in the job: ``init``, ``rank``, ``size``, ``local_rank``, ``barrier``.

Under an MPI launcher (``mpiexec -n 4 python -m mpi4py train.py``, ``srun``) ``init()`` imports mpi4py and joins
the MPI world; under plain ``python`` it makes a world of one rank and never imports mpi4py (see
``minidl.distributed.launch``). ``rank()``, ``size()`` and the collectives call ``init()`` themselves, so a script
works unchanged both ways.
"""

from __future__ import annotations

import sys
import traceback
from typing import Any

from minidl.distributed.communicator import Communicator, MPICommunicator, SingleProcess
from minidl.distributed.launch import launch_reason

_world: Communicator | None = None


def init() -> None:
    """Join the job: the MPI world when this process was started by an MPI launcher, else a world of one rank.
    Calling it again does nothing.

    With several ranks, an exception that ends this process's script aborts the whole job (``MPI_Abort``)
    instead of leaving the other ranks waiting in a collective: ``python -m mpi4py`` does so itself, and when the
    script was started without it, ``init`` installs an exception hook that does (unless the script set its own).
    """
    global _world
    if _world is not None:
        return
    reason = launch_reason()
    if reason is None:
        _world = SingleProcess()
        return
    try:
        import mpi4py  # noqa: F401
    except ImportError as err:
        raise ImportError(
            f"minidl.distributed: this process was started as an MPI rank ({reason}) but mpi4py is not installed; "
            "pip install 'minidl[mpi]' (mpi4py and the mpich wheel), or build mpi4py against your site's MPI "
            "(see README.md, 'Many processes')"
        ) from err
    world = MPICommunicator()
    # python -m mpi4py (its module mpi4py.run) aborts by itself: a second abort would only repeat the traceback.
    if world.size > 1 and sys.excepthook is sys.__excepthook__ and "mpi4py.run" not in sys.modules:
        sys.excepthook = _abort_hook(world)
    _world = world


def _abort_hook(world: MPICommunicator) -> Any:
    def abort_job(kind: type, value: BaseException, tb: Any) -> None:
        traceback.print_exception(kind, value, tb)
        sys.stderr.write(f"minidl.distributed: rank {world.rank} raised; aborting the {world.size} ranks\n")
        sys.stderr.flush()
        world.abort(1)

    return abort_job


def is_initialized() -> bool:
    """Whether ``init()`` has run (directly, or through ``rank()``, ``size()``, a collective...)."""
    return _world is not None


def world() -> Communicator:
    """The communicator of the job (``init()`` first if needed)."""
    init()
    assert _world is not None
    return _world


def rank() -> int:
    """This process's rank, from 0 to ``size() - 1`` (0 for a plain ``python`` process)."""
    return world().rank


def size() -> int:
    """The number of ranks in the job (1 for a plain ``python`` process)."""
    return world().size


def local_rank() -> int:
    """This process's rank among the ranks on its machine (pick a GPU with it)."""
    return world().local_rank


def local_size() -> int:
    """The number of ranks on this process's machine."""
    return world().local_size


def barrier() -> None:
    """Wait until every rank has reached this point."""
    world().barrier()
