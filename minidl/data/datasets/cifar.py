"""CIFAR-10: 32x32 colour images in 10 classes, 50000 for training (five batches) and 10000 for testing.

Files: ``<root>/cifar-10-batches-py/`` holds the Python pickle batches ``data_batch_1`` .. ``data_batch_5`` and
``test_batch``, as extracted from ``cifar-10-python.tar.gz``. When they are missing, that archive is extracted
from ``<root>/`` if it is there, or downloaded first with ``download=True``. ``root`` defaults to
``$MINIDL_DATA``, else ``~/.cache/minidl``.
"""

from __future__ import annotations

import gzip
import importlib
import os
import pickle
import tarfile
import zlib
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from minidl import tempfiles
from minidl.data.datasets.download import PART
from minidl.data.datasets.download import download as _download
from minidl.data.datasets.vision import ImageArrayDataset, mirror_list, missing_files_error, resolve_root


def _numpy_global(module: str, name: str) -> Any:
    for prefix in ("numpy._core", "numpy.core"):  # NumPy 2 moved numpy.core to numpy._core
        try:
            return getattr(importlib.import_module(f"{prefix}.{module}"), name)
        except (ImportError, AttributeError):
            continue
    raise pickle.UnpicklingError(f"numpy has no {module}.{name}")


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles plain data and NumPy arrays only: a batch file cannot make pickle call anything else."""

    def find_class(self, module: str, name: str) -> Any:
        if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name in ("_reconstruct", "scalar"):
            return _numpy_global("multiarray", name)
        if module in ("numpy.core.numeric", "numpy._core.numeric") and name == "_frombuffer":
            return _numpy_global("numeric", name)
        if module == "numpy" and name in ("ndarray", "dtype"):
            return getattr(np, name)
        if module == "_codecs" and name == "encode":  # how protocol-2 pickles written by Python 3 store bytes
            import _codecs

            return _codecs.encode
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a dataset file")


def read_batch(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 (N, 3, 32, 32) and labels int64 (N,) of one CIFAR-10 pickle batch file."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            batch = _ArrayUnpickler(f, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as err:
        raise ValueError(f"{path}: not a readable CIFAR-10 batch ({type(err).__name__}: {err})") from None
    if not isinstance(batch, dict):
        raise ValueError(f"{path}: not a CIFAR-10 batch (a {type(batch).__name__}, expected a dict)")
    data, labels = batch.get(b"data", batch.get("data")), batch.get(b"labels", batch.get("labels"))
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        found = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise ValueError(f"{path}: expected 'data' as uint8 (N, 3072), found {found}")
    try:
        labels = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError):
        labels = np.zeros((0, 0))
    if labels.shape != (len(data),) or (labels.size and (labels.min() < 0 or labels.max() > 9)):
        raise ValueError(f"{path}: expected {len(data)} labels in 0..9 under 'labels'")
    return data.reshape(-1, 3, 32, 32), labels


class CIFAR10(ImageArrayDataset):
    """CIFAR-10: ``data`` uint8 (N, 32, 32, 3) (height, width, channel, as torchvision), ``targets`` int64 (N,),
    N = 50000 (train) or 10000 (test); ``dataset[i]`` is (float32 (3, 32, 32) in [0, 1], label).

    ``transform`` applies to the float image (or the batch (B, 3, 32, 32) in ``__getitems__``). Mirrors for
    ``download=True``: ``$MINIDL_CIFAR10_MIRRORS`` (space-separated base URLs) or the class attribute ``mirrors``;
    the archive's MD5 is checked.
    """

    folder = "cifar-10-batches-py"
    archive = "cifar-10-python.tar.gz"
    archive_checksum = "md5:c58f30108f718f92721af3b95e74349a"
    mirrors: tuple[str, ...] = ("https://www.cs.toronto.edu/~kriz/",)
    mirrors_env = "MINIDL_CIFAR10_MIRRORS"
    train_files = ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5")
    test_files = ("test_batch",)
    classes = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
    progress: bool | None = None  # download progress bar; None: only on a terminal

    def __init__(
        self,
        root: str | os.PathLike | None = None,
        train: bool = True,
        download: bool = False,
        transform: Callable[[np.ndarray], Any] | None = None,
    ):
        self.root = resolve_root(root)
        self.train = train
        names = self.train_files if train else self.test_files
        folder = self.root / self.folder
        missing = [n for n in names if not (folder / n).is_file()]
        if missing:
            archive = self.root / self.archive
            if not archive.is_file():
                mirrors = mirror_list(self.mirrors_env, self.mirrors)
                if not download:
                    note = f" (or put {self.archive} in {self.root})"
                    raise missing_files_error("CIFAR10", folder, missing, mirrors, self.mirrors_env, note)
                urls = [m.rstrip("/") + "/" + self.archive for m in mirrors]
                _download(urls, archive, self.archive_checksum, progress=self.progress)
            extract(archive, folder, missing, prefix=self.folder)
        parts = [read_batch(folder / n) for n in names]
        images = np.concatenate([p[0] for p in parts])
        super().__init__(images.transpose(0, 2, 3, 1), np.concatenate([p[1] for p in parts]), transform)

    @classmethod
    def holds_files(cls, root: str | os.PathLike) -> bool:
        """Whether ``root`` holds every batch file of both splits, or the archive they are extracted from."""
        root = Path(root).expanduser()
        batches = root / cls.folder
        return (root / cls.archive).is_file() or all((batches / n).is_file() for n in cls.train_files + cls.test_files)

    def _nchw(self) -> np.ndarray:
        return self.data.transpose(0, 3, 1, 2)


def extract(
    archive: str | os.PathLike, folder: str | os.PathLike, names: Sequence[str], prefix: str = "cifar-10-batches-py"
) -> None:
    """Extract the regular-file members ``<prefix>/<name>`` of ``archive`` (a .tar.gz) into ``folder``, each written
    to a temporary file (``minidl.tempfiles``; stale ones of the same names, left by killed extractions, are removed
    first) and moved into place; nothing else in the archive is touched."""
    archive, folder = Path(archive), Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tempfiles.remove_stale(folder, PART, set(names).__contains__)
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for name in names:
                try:
                    member = tar.getmember(f"{prefix}/{name}")
                except KeyError:
                    raise ValueError(f"{archive}: no member {prefix}/{name}; is it the CIFAR-10 archive?") from None
                source = tar.extractfile(member) if member.isfile() else None
                if source is None:
                    raise ValueError(f"{archive}: {member.name} is not a regular file")
                fd, tmp = tempfiles.create(folder / name, PART)
                try:
                    with os.fdopen(fd, "wb") as out:
                        while chunk := source.read(1 << 20):
                            out.write(chunk)
                    os.replace(tmp, folder / name)
                finally:
                    if os.path.exists(tmp):
                        os.unlink(tmp)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as err:
        raise ValueError(f"{archive}: corrupt or truncated archive ({type(err).__name__}: {err})") from None
