"""Settings for the PyTorch comparisons."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """On these tiny tensors PyTorch's thread pool is pure overhead (tens of ms a call on a busy machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
