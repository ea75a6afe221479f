"""Writing benchmark results as a Markdown table (printed and saved) and as JSON."""

from __future__ import annotations

import json
import platform
from pathlib import Path
from typing import Any


def machine() -> dict[str, Any]:
    import numpy as np

    info = {"python": platform.python_version(), "numpy": np.__version__, "machine": platform.machine()}
    try:
        import torch

        info["torch"] = torch.__version__
    except ImportError:
        pass
    try:
        import numba

        info["numba"] = numba.__version__
    except ImportError:
        pass
    return info


def markdown_table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join("---" for _ in headers) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write(out_dir: Path, name: str, title: str, table: str, data: dict[str, Any]) -> None:
    """Save ``table`` as ``name``.md and ``data`` (plus machine info) as ``name``.json under ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{name}.md").write_text(f"# {title}\n\n{table}\n")
    (out_dir / f"{name}.json").write_text(json.dumps({"machine": machine(), **data}, indent=2) + "\n")


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.1f} µs"
