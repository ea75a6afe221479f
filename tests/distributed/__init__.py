"""Tests of minidl.distributed, and how they start MPI jobs.

The in-process tests run everywhere (a plain process is a world of one rank). The MPI tests start
``mpiexec -n 2 python -m mpi4py <script>`` on the scripts in ``tests/distributed/jobs`` as subprocesses with a
timeout; each script runs several checks and rank 0 writes their results as JSON for the test to judge. They skip
where mpi4py or mpiexec is missing (``pip install -e ".[mpi]"``), except under CI (``CI=true`` or
``MINIDL_REQUIRE_DATA=1``, as .ci/run sets), where a missing MPI must fail rather than hide the tests.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
JOBS = Path(__file__).resolve().parent / "jobs"


def mpiexec() -> str | None:
    """The mpiexec beside this Python (the mpich wheel installs it there), else the one on PATH."""
    beside = Path(sys.executable).parent / "mpiexec"
    return str(beside) if beside.is_file() else shutil.which("mpiexec")


MPI_MISSING = [
    name for name, found in (("mpi4py", importlib.util.find_spec("mpi4py")), ("mpiexec", mpiexec())) if not found
]
REQUIRED = os.environ.get("MINIDL_REQUIRE_DATA") == "1" or os.environ.get("CI") == "true"
if REQUIRED and MPI_MISSING:
    raise RuntimeError(
        f"CI must run the MPI tests, but {' and '.join(MPI_MISSING)} is missing; pip install -e '.[dev]'"
    )
# Why this skips: no MPI on this machine (never under CI, which fails above instead).
needs_mpi = pytest.mark.skipif(
    bool(MPI_MISSING), reason=f"{' and '.join(MPI_MISSING)} not installed (pip install -e '.[mpi]')"
)


def without_mpi_variables(env: dict[str, str]) -> dict[str, str]:
    """``env`` without the variables by which an MPI launcher marks its processes (so a child is a plain one)."""
    from minidl.distributed.launch import LAUNCH_VARIABLES

    return {k: v for k, v in env.items() if k not in LAUNCH_VARIABLES and not k.startswith(("PMI_", "PMIX_", "OMPI_"))}


def launch(args: list[str], ranks: int = 2, timeout: float = 120) -> tuple[subprocess.CompletedProcess, float]:
    """Run ``mpiexec -n ranks python <args>`` from the repository root; returns the finished process (output
    captured as text) and its wall time in seconds. Threads are pinned to one per rank."""
    env = without_mpi_variables(dict(os.environ))
    env.update(PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    command = [mpiexec(), "-n", str(ranks), sys.executable, *args]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    return done, time.perf_counter() - start


def run_job(script: str, out_dir: Path, *args: str, ranks: int = 2, timeout: float = 120) -> tuple[dict[str, Any], str]:
    """Run ``tests/distributed/jobs/<script>`` on ``ranks`` ranks under ``python -m mpi4py``; it must succeed, and
    its rank 0 writes ``out_dir/results.json``. Returns those results and the job's standard output."""
    results = out_dir / "results.json"
    done, _ = launch(["-m", "mpi4py", str(JOBS / script), str(results), *args], ranks, timeout)
    assert done.returncode == 0, f"{script} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    return json.loads(results.read_text()), done.stdout
