"""Standard image datasets, read from their original files: ``MNIST``, ``FashionMNIST``, ``CIFAR10``; and
``MNISTDetection``, canvases of MNIST digits with their boxes for object detection.

    train = MNIST(train=True, download=True)      # files in $MINIDL_DATA/mnist/ (default ~/.cache/minidl/mnist/)
    x, y = train[0]                                # float32 (1, 28, 28) in [0, 1], int
    root = next(r for r in search_roots("data") if MNIST.holds_files(r))  # the first of several places

Folders under the data root (``root=``, else ``$MINIDL_DATA``, else the user cache ``~/.cache/minidl``): ``mnist/``
and ``fashion-mnist/`` (the four IDX files, ``.gz`` or raw), ``cifar-10-batches-py/`` (the pickle batches; or
``cifar-10-python.tar.gz`` in the root, extracted on first use). Missing files are an error naming them, unless
``download=True``: then they are fetched from the class's ``mirrors`` (or ``$MINIDL_<NAME>_MIRRORS``), checksummed,
and written atomically.
"""

from minidl.data.datasets.cifar import CIFAR10
from minidl.data.datasets.download import DownloadError, download
from minidl.data.datasets.mnist import MNIST, FashionMNIST
from minidl.data.datasets.mnist_detection import MNISTDetection, targets_from_padded
from minidl.data.datasets.vision import (
    DatasetNotFoundError,
    ImageArrayDataset,
    default_root,
    search_roots,
    user_cache_root,
)

__all__ = [
    "CIFAR10",
    "MNIST",
    "DatasetNotFoundError",
    "DownloadError",
    "FashionMNIST",
    "ImageArrayDataset",
    "MNISTDetection",
    "default_root",
    "download",
    "search_roots",
    "targets_from_padded",
    "user_cache_root",
]
