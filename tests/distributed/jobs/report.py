"""What the MPI job scripts share: the relative difference they report, and the JSON file rank 0 writes."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

import minidl.distributed as dist


def rel(actual: Any, expected: Any) -> float:
    """max |actual - expected| / max |expected| over arrays or lists of arrays (Tensors taken as their values)."""
    pairs = zip(actual, expected) if isinstance(actual, (list, tuple)) else [(actual, expected)]
    worst = 0.0
    for a, e in pairs:
        a = np.asarray(a.detach().numpy() if hasattr(a, "detach") else a, dtype=np.float64)
        e = np.asarray(e.detach().numpy() if hasattr(e, "detach") else e, dtype=np.float64)
        assert a.shape == e.shape, f"shape {a.shape} != {e.shape}"
        scale = float(np.max(np.abs(e))) if e.size else 0.0
        diff = float(np.max(np.abs(a - e))) if e.size else 0.0
        worst = max(worst, diff / scale if scale > 0 else diff)
    return worst


def write(results: dict[str, Any]) -> None:
    """Rank 0 writes ``results`` as JSON to the path in ``sys.argv[1]`` (after every rank has finished)."""
    dist.barrier()
    if dist.rank() == 0:
        Path(sys.argv[1]).write_text(json.dumps(results, indent=1))
