"""Finding a dataset's IDX files for ``load_data``: ``minidl.data.datasets``' search, read-only (no download)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

REPOSITORY_DATA = Path(__file__).resolve().parents[3] / "data"  # the repository's data/ (a source checkout)


def load_splits(dataset_class: Any, path: str | os.PathLike | None) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """((x_train, y_train), (x_test, y_test)) as uint8 arrays, from ``path`` (a folder holding the four files, or a
    data root holding the dataset's folder), else the first of ``$MINIDL_DATA``, the user cache
    (``~/.cache/minidl``) and the repository's ``data/`` that holds them."""
    from minidl.data import datasets

    roots = [Path(path).expanduser()] if path is not None else datasets.search_roots(REPOSITORY_DATA)
    root = next((r for r in roots if dataset_class.holds_files(r)), None)
    if root is None:
        folder = dataset_class.folder
        raise FileNotFoundError(
            f"{dataset_class.__name__}: its four IDX files (.gz or raw) are in none of {', '.join(map(str, roots))}; "
            f"put them in <one of these>/{folder}/, pass load_data(path=folder), or fetch them with "
            f"minidl.data.datasets.{dataset_class.__name__}(root, download=True)"
        )
    splits = []
    for train in (True, False):
        data = dataset_class(root, train=train)
        splits.append((np.asarray(data.data, dtype=np.uint8), np.asarray(data.targets, dtype=np.uint8)))
    return tuple(splits)
