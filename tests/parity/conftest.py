"""Settings for the PyTorch comparisons: one PyTorch thread (see tests/conftest.py)."""

import pytest


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread(one_torch_thread):
    """Every parity module runs PyTorch at one thread."""
