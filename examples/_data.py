"""Where the examples find their data, and the one-line errors they stop with when it is not there.

Every example takes the same two flags. Without ``--data-dir`` the files are looked for, in this order, in
``$MINIDL_DATA`` (when set), the user cache (``~/.cache/minidl``) and the repository's ``data/`` folder, where the
four MNIST files ship, so the MNIST examples run offline; ``--download`` fetches them when no folder holds them
(never by default). minidl is imported inside the functions: the examples pin their thread pools first.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

REPOSITORY_DATA = Path(__file__).resolve().parents[1] / "data"


def add_data_flags(parser: argparse.ArgumentParser, dataset: str) -> None:
    """``--data-dir`` and ``--download``, with the same meaning and defaults in every example."""
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help=f"a folder holding {dataset}'s files (or a data root holding its subfolder); default: the first of "
        "$MINIDL_DATA, ~/.cache/minidl and the repository's data/ that holds them",
    )
    parser.add_argument(
        "--download",
        action="store_true",
        help="download the files when none of those folders holds them (into --data-dir, else $MINIDL_DATA, else "
        "~/.cache/minidl); default: off",
    )


def load_splits(dataset_class: Any, data_dir: Path | None, download: bool, **kwargs: Any) -> tuple[Any, Any]:
    """The training and test sets of ``dataset_class`` (``datasets.MNIST``...) from the first folder that holds its
    files, downloading them only with ``download``; exits with one line naming the flags when that fails."""
    from minidl.data import datasets

    name = dataset_class.__name__
    roots = [data_dir] if data_dir is not None else datasets.search_roots(REPOSITORY_DATA)
    root = next((r for r in roots if dataset_class.holds_files(r)), None)
    if root is None and not download:
        places = ", ".join(str(r) for r in roots)
        sys.exit(
            f"{name}: no copy of its files in {places}; run again with --download to fetch them into {roots[0]}, "
            "or point --data-dir at a folder that holds them"
        )
    root = roots[0] if root is None else root
    try:
        return tuple(dataset_class(root, train=train, download=download, **kwargs) for train in (True, False))
    except datasets.DownloadError as err:
        sys.exit(
            f"{name}: the download failed: {_first_line(err)}; put its files in {root / dataset_class.folder} by hand "
            "and run again, or point --data-dir at a folder that holds them"
        )
    except (OSError, ValueError) as err:
        sys.exit(f"{name}: {_first_line(err)} (--data-dir picks another folder, --download fetches fresh files)")


def _first_line(err: BaseException) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return " ".join(lines[:2]) if lines else type(err).__name__
