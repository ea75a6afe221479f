"""Every numba.cuda kernel compiles to PTX for sm_90 (the H100/H200), for each argument type it is launched with.
The simulator runs kernels as Python and cannot catch typing errors; the compiler can, on a machine without a GPU
(numba-cuda's NVVM comes with the dev extra). It runs in a subprocess, where the simulator is off."""

import json
import os
import subprocess
import sys
from pathlib import Path

import minidl_kernels

MODULES = sorted(
    f"minidl_kernels.cuda.{path.stem}"
    for path in (Path(minidl_kernels.__file__).parent / "cuda").glob("*.py")
    if path.stem not in ("__init__", "runtime")
)

COMPILE = """
import importlib, json, sys
from numba import cuda
done = {}
for name in sys.argv[1:]:
    module = importlib.import_module(name)
    checks = module.PTX_CHECKS
    for fn, signature in checks:
        cuda.compile_ptx(fn, signature, cc=(9, 0))
    done[name] = len(checks)
print(json.dumps(done))
"""


def test_every_cuda_kernel_compiles_for_sm90():
    assert MODULES, "no cuda kernel modules found"
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    done = subprocess.run(
        [sys.executable, "-c", COMPILE, *MODULES], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-4000:]
    compiled = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(compiled) == set(MODULES)
    # Every module but blas (CuPy's matmul, no kernel of ours) has kernels to check.
    empty = [name for name, count in compiled.items() if count == 0 and name != "minidl_kernels.cuda.blas"]
    assert not empty, f"modules without PTX_CHECKS entries: {empty}"
