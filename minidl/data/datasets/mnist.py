"""MNIST and Fashion-MNIST: 28x28 grey images in 10 classes, 60000 for training and 10000 for testing.

Files: ``<root>/mnist/`` and ``<root>/fashion-mnist/`` hold the four standard IDX files, gzip-compressed
(``train-images-idx3-ubyte.gz``...) or raw (``train-images-idx3-ubyte``...); ``root`` defaults to
``$MINIDL_DATA``, else ``~/.cache/minidl``. A ``root`` that itself holds the split's files (a folder of the four
files, such as ``--data-dir`` in the examples) is used as it is. ``download=True`` fetches the missing ``.gz``
files of the split.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, ClassVar

import numpy as np

from minidl.data.datasets.download import download as _download
from minidl.data.datasets.idx import read_idx
from minidl.data.datasets.vision import ImageArrayDataset, mirror_list, missing_files_error, resolve_root


class MNIST(ImageArrayDataset):
    """The MNIST handwritten digits: ``data`` uint8 (N, 28, 28), ``targets`` int64 (N,), N = 60000 (train) or
    10000 (test); ``dataset[i]`` is (float32 (1, 28, 28) in [0, 1], label).

    ``transform`` applies to the float image (or to the batch (B, 1, 28, 28) in ``__getitems__``).
    Mirrors for ``download=True`` are tried in turn: ``$MINIDL_MNIST_MIRRORS`` (space-separated base URLs) when
    set, else the class attribute ``mirrors``; every file's SHA-256 is checked.
    """

    folder = "mnist"
    mirrors: tuple[str, ...] = (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    )
    mirrors_env = "MINIDL_MNIST_MIRRORS"
    sha256: ClassVar[dict[str, str]] = {
        "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    }
    classes = (
        "0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
        "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine",
    )  # fmt: skip
    mean, std = 0.1307, 0.3081  # of the training pixels scaled to [0, 1]: for transforms.Normalize(mean, std)
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
        names = self.split_names(train)
        images, labels = self._files(self.split_folder(self.root, names), names, download)
        data, targets = read_idx(images), read_idx(labels)
        if data.dtype != np.uint8 or data.ndim != 3 or data.shape[1:] != (28, 28):
            raise ValueError(f"{images}: expected uint8 images (N, 28, 28), found {data.dtype} {data.shape}")
        if targets.dtype != np.uint8 or targets.ndim != 1:
            raise ValueError(f"{labels}: expected uint8 labels (N,), found {targets.dtype} {targets.shape}")
        if len(targets) != len(data):
            raise ValueError(f"{labels} holds {len(targets)} labels but {images} holds {len(data)} images")
        if targets.size and targets.max() >= len(self.classes):
            raise ValueError(f"{labels}: label {targets.max()} out of range 0..{len(self.classes) - 1}")
        super().__init__(data, targets.astype(np.int64), transform)

    @classmethod
    def split_names(cls, train: bool) -> tuple[str, str]:
        """The IDX file names (without ``.gz``) of a split: images, then labels."""
        split = "train" if train else "t10k"
        return f"{split}-images-idx3-ubyte", f"{split}-labels-idx1-ubyte"

    @classmethod
    def split_folder(cls, root: Path, names: tuple[str, ...]) -> Path:
        """``root/<folder>``, or ``root`` itself when it holds every file of the split (and the former does not)."""
        nested = root / cls.folder
        return root if _holds(root, names) and not _holds(nested, names) else nested

    @classmethod
    def holds_files(cls, root: str | os.PathLike) -> bool:
        """Whether ``root`` (a data root holding ``<folder>/``, or the folder of the files itself) holds every file
        of both splits, raw or ``.gz``."""
        root = Path(root).expanduser()
        return all(_holds(cls.split_folder(root, names), names) for names in map(cls.split_names, (True, False)))

    def _files(self, folder: Path, names: tuple[str, ...], download: bool) -> list[Path]:
        """The path of each IDX file ``names`` (raw preferred, else ``.gz``), downloading missing ones if asked."""
        found = {n: next((folder / f for f in (n, n + ".gz") if (folder / f).is_file()), None) for n in names}
        missing = [n for n, p in found.items() if p is None]
        mirrors = mirror_list(self.mirrors_env, self.mirrors)
        if missing and not download:
            listed = [f"{n}(.gz)" for n in missing]
            raise missing_files_error(type(self).__name__, folder, listed, mirrors, self.mirrors_env, " (gzip or raw)")
        for n in missing:
            gz = n + ".gz"
            urls = [m.rstrip("/") + "/" + gz for m in mirrors]
            found[n] = _download(urls, folder / gz, "sha256:" + self.sha256[gz], progress=self.progress)
        return [found[n] for n in names]

    def _nchw(self) -> np.ndarray:
        return self.data[:, None]


def _holds(folder: Path, names: tuple[str, ...]) -> bool:
    """Whether ``folder`` holds each of the IDX files ``names``, raw or ``.gz``."""
    return all((folder / n).is_file() or (folder / (n + ".gz")).is_file() for n in names)


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: 28x28 grey images of 10 kinds of clothing, laid out exactly as MNIST (see there).
    Files in ``<root>/fashion-mnist/``; mirrors from ``$MINIDL_FASHION_MNIST_MIRRORS`` or ``mirrors``."""

    folder = "fashion-mnist"
    mirrors: tuple[str, ...] = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
    mirrors_env = "MINIDL_FASHION_MNIST_MIRRORS"
    sha256: ClassVar[dict[str, str]] = {
        "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    }
    classes = (
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    )  # fmt: skip
    mean, std = 0.2860, 0.3530
