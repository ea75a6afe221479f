"""Test-wide settings: the CUDA device the tests use, Hypothesis profiles, and a fixed seed for every test."""

import os
import sys

# The cuda tests run on Numba's CUDA simulator (NumPy arrays, one Python thread per CUDA thread, tiny sizes), which
# must be chosen before Numba is imported; MINIDL_CUDA_TESTS=gpu runs them on the real GPU instead, at full size
# (benchmarks/gpu_check.sh does).
CUDA_ON_GPU = os.environ.get("MINIDL_CUDA_TESTS") == "gpu"
if not CUDA_ON_GPU:
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"

import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

import minidl  # noqa: E402

# "default": what CI runs; "thorough": HYPOTHESIS_PROFILE=thorough pytest, for a deeper search before a release.
settings.register_profile(
    "default",
    max_examples=int(os.environ.get("HYPOTHESIS_MAX_EXAMPLES", "100")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "thorough",
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


if not CUDA_ON_GPU:
    # The simulator's block loop polls its threads while holding the GIL, so every cuda.syncthreads() waits for
    # Python's thread switch interval (5 ms by default): a shorter one made the shared-memory kernels' tests ~4x
    # faster. Only the simulated test run changes it.
    sys.setswitchinterval(2e-4)


@pytest.fixture(autouse=True)
def _seed() -> None:
    minidl.manual_seed(0)


@pytest.fixture(scope="module")
def one_torch_thread():
    """PyTorch at one thread for a test module: on small tensors its thread pool is pure overhead (tens of ms a
    call on a busy machine), and one thread is the project's reference configuration."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
