"""What the image datasets share: where their files live, the missing-files error, and the array-backed base class.

Files live under one root folder: ``root`` if given, else ``$MINIDL_DATA``, else the user cache
(``$XDG_CACHE_HOME/minidl``, by default ``~/.cache/minidl``); each dataset has its own subfolder there (``mnist/``,
``fashion-mnist/``, ``cifar-10-batches-py/``). ``search_roots`` lists the places a program may look in turn.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from minidl.data.dataset import Dataset


def user_cache_root() -> Path:
    """The user's data cache: ``$XDG_CACHE_HOME/minidl``, by default ``~/.cache/minidl``."""
    return Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser() / "minidl"


def default_root() -> Path:
    """The data root: ``$MINIDL_DATA`` when set, else ``user_cache_root()``."""
    data = os.environ.get("MINIDL_DATA")
    return Path(data).expanduser() if data else user_cache_root()


def search_roots(*extra: str | os.PathLike) -> list[Path]:
    """The data roots to look in, in order: ``$MINIDL_DATA`` (when set), the user cache, then ``extra`` (such as a
    copy shipped beside a program), without repeats."""
    roots = [default_root(), user_cache_root(), *(Path(p).expanduser() for p in extra)]
    return list(dict.fromkeys(roots))


def resolve_root(root: str | os.PathLike | None) -> Path:
    """``root`` as a Path (``~`` expanded), or ``default_root()`` when it is None."""
    return default_root() if root is None else Path(root).expanduser()


def mirror_list(env: str, default: Sequence[str]) -> tuple[str, ...]:
    """The base URLs to try in turn: ``$env`` (separated by spaces or commas) when set, else ``default``."""
    value = os.environ.get(env, "").replace(",", " ").split()
    return tuple(value) if value else tuple(default)


class DatasetNotFoundError(FileNotFoundError):
    """A dataset's files are not on disk and ``download`` was not asked for."""


def missing_files_error(
    name: str, folder: Path, missing: Sequence[str], mirrors: Sequence[str], env: str, note: str = ""
) -> DatasetNotFoundError:
    """One error naming every missing file, the folder to put them in, and how to download them."""
    return DatasetNotFoundError(
        f"{name}: missing file(s) {', '.join(missing)} in {folder}.\n"
        f"Put them there{note}, point root= or $MINIDL_DATA at the folder above it, or pass download=True to fetch "
        f"them from {', '.join(mirrors)} (other mirrors: ${env}, space-separated base URLs)."
    )


class ImageArrayDataset(Dataset):
    """An image dataset held in memory: ``data`` (uint8 images), ``targets`` (int64 (N,)), ``classes``.

    ``dataset[i]`` is ``(image, label)``: a float32 (C, H, W) array scaled to [0, 1] and an int;
    ``dataset.__getitems__(indices)`` is the batch ``(float32 (B, C, H, W), int64 (B,))`` built by fancy indexing.
    ``transform`` (optional) is applied to the float image, or to the whole batch in ``__getitems__``.
    Subclasses say how ``data`` maps to channels-first images in ``_nchw``.
    """

    classes: Sequence[str] = ()

    def __init__(self, data: np.ndarray, targets: np.ndarray, transform: Callable[[np.ndarray], Any] | None = None):
        self.data = data
        self.targets = targets
        self.transform = transform

    def _nchw(self) -> np.ndarray:
        """``data`` as uint8 (N, C, H, W), a view."""
        raise NotImplementedError(f"{type(self).__name__} must define _nchw")

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        image = _to_float(self._nchw()[index])
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self.targets[index])

    def __getitems__(self, indices: np.ndarray) -> tuple[Any, np.ndarray]:
        """Images float32 (B, C, H, W) in [0, 1] (after ``transform``) and labels int64 (B,) for ``indices`` (B,)."""
        indices = np.asarray(indices, dtype=np.int64)
        images = _to_float(self._nchw()[indices])
        if self.transform is not None:
            images = self.transform(images)
        return images, self.targets[indices]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} images {tuple(self._nchw().shape[1:])}, {len(self.classes)} classes)"


def _to_float(images: np.ndarray) -> np.ndarray:
    """uint8 images -> C-contiguous float32 scaled to [0, 1] (exactly ``x / 255`` in float32)."""
    out = np.empty(images.shape, dtype=np.float32)
    np.divide(images, np.float32(255), out=out)
    return out
