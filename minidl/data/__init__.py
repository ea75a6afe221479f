"""Data loading: datasets, batching and the standard image datasets.

    from minidl.data import DataLoader, datasets
    train = datasets.MNIST(train=True, download=True)
    loader = DataLoader(train, batch_size=64, shuffle=True, seed=0)
    for x, y in loader:                 # Tensors: float32 (64, 1, 28, 28), int64 (64,)
        ...

``Dataset`` / ``TensorDataset`` / ``Subset`` / ``random_split`` follow ``torch.utils.data``; array-backed datasets
add ``__getitems__(indices)`` so that a batch is one NumPy fancy index, not a Python loop over samples.
``transforms`` holds pre-processing and augmentation on (C, H, W) / (N, C, H, W) arrays; ``imread``/``imwrite``
read and write PNG and JPEG files.
"""

from minidl.data import datasets, transforms
from minidl.data.dataset import Dataset, Subset, TensorDataset, collate, random_split
from minidl.data.image import imread, imwrite
from minidl.data.loader import DataLoader

__all__ = [
    "DataLoader", "Dataset", "Subset", "TensorDataset", "collate", "datasets", "imread", "imwrite", "random_split",
    "transforms",
]  # fmt: skip
