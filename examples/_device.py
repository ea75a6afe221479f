"""The ``--device`` flag every training example takes, and its one-line error when the device cannot be used."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_device_flag(parser: argparse.ArgumentParser) -> None:
    """``--device cpu|cuda``, default cpu."""
    parser.add_argument(
        "--device",
        default="cpu",
        help="where to train: cpu (default) or cuda (an NVIDIA GPU with pip install '.[cuda]', or Numba's simulator "
        "with NUMBA_ENABLE_CUDASIM=1)",
    )


def chosen_device(name: str) -> Any:
    """The ``minidl.device`` of ``--device``; exits with one line saying why it cannot be used."""
    import minidl

    try:
        device = minidl.device(name)
        return minidl.backend.get_backend(device).device
    except (RuntimeError, ValueError) as err:
        sys.exit(f"--device {name}: {err}")
