"""Whether this process was started as one rank of an MPI job, told from the environment alone (no mpi4py import).

Every MPI launcher leaves variables in the environment of the processes it starts: Hydra (MPICH's and Intel MPI's
``mpiexec``) and Slurm's ``srun --mpi=pmi2`` set ``PMI_RANK``/``PMI_SIZE``, PMIx launchers (Open MPI 5,
``srun --mpi=pmix``) ``PMIX_RANK``, Open MPI's ``mpirun`` ``OMPI_COMM_WORLD_SIZE``, MVAPICH2 ``MV2_COMM_WORLD_SIZE``.
A plain ``python script.py`` (or ``python -m mpi4py script.py`` without a launcher) has none of them, so it runs
as the only rank without MPI. A script that imported ``mpi4py.MPI`` itself has started MPI already: minidl then
joins that world (of one rank, without a launcher).
"""

from __future__ import annotations

import os
import sys

# variable -> the launcher that sets it, for messages
LAUNCH_VARIABLES = {
    "PMI_RANK": "a PMI launcher (MPICH's or Intel MPI's mpiexec, srun --mpi=pmi2)",
    "PMI_SIZE": "a PMI launcher (MPICH's or Intel MPI's mpiexec, srun --mpi=pmi2)",
    "PMIX_RANK": "a PMIx launcher (Open MPI 5's mpirun, srun --mpi=pmix)",
    "OMPI_COMM_WORLD_SIZE": "Open MPI's mpirun",
    "OMPI_COMM_WORLD_RANK": "Open MPI's mpirun",
    "MV2_COMM_WORLD_SIZE": "MVAPICH2's mpirun",
}


def launch_reason(environ: dict[str, str] | None = None) -> str | None:
    """Why this process counts as an MPI rank ("PMI_RANK is set (by ...)", "mpi4py's MPI module is imported"), or
    None for a plain single process."""
    env = os.environ if environ is None else environ
    for name, launcher in LAUNCH_VARIABLES.items():
        if name in env:
            return f"{name} is set (by {launcher})"
    if "mpi4py.MPI" in sys.modules:
        return "mpi4py's MPI module is imported (the script started MPI itself)"
    return None


SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")


def launched_size(environ: dict[str, str] | None = None) -> int | None:
    """The number of ranks the launcher started, from its variables (None where it does not say)."""
    env = os.environ if environ is None else environ
    for name in SIZE_VARIABLES:
        if env.get(name, "").isdigit():
            return int(env[name])
    return None
