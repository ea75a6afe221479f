"""Tests of minidl.data, and what they share: where the real MNIST and Fashion-MNIST files are, a tiny synthetic
CIFAR-10 writer."""

import io
import os
import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest

# MNIST ships with the repository (data/mnist, the original files), so its tests always run. Fashion-MNIST lives
# beside the project, in ../shared/data (never copied into the tree); $MINIDL_SHARED_DATA points elsewhere. Its tests
# skip where it is absent, except under CI (.ci/run sets MINIDL_REQUIRE_DATA=1), where a missing folder must fail
# rather than hide the tests.
REPOSITORY_DATA = Path(__file__).resolve().parents[2] / "data"
MNIST_DIR = REPOSITORY_DATA / "mnist"
SHARED = Path(os.environ.get("MINIDL_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
FASHION_DIR = SHARED / "fashion-mnist"
if os.environ.get("MINIDL_REQUIRE_DATA") == "1" and not FASHION_DIR.is_dir():
    raise RuntimeError(f"MINIDL_REQUIRE_DATA=1 but the Fashion-MNIST folder is not in {SHARED}")
# Why this skips: the Fashion-MNIST files are absent on this machine (never under CI, which fails above instead).
needs_fashion = pytest.mark.skipif(not FASHION_DIR.is_dir(), reason=f"Fashion-MNIST is not in {FASHION_DIR}")


def cifar_batch(n: int, seed: int) -> dict:
    """A CIFAR-10 batch dict as the original files hold it: bytes keys, uint8 data (n, 3072), a list of labels."""
    rng = np.random.default_rng(seed)
    return {
        b"batch_label": b"synthetic batch",
        b"labels": [int(v) for v in rng.integers(0, 10, n)],
        b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        b"filenames": [b"img_%d.png" % i for i in range(n)],
    }


CIFAR_FILES = {f"data_batch_{i}": 4 + i for i in range(1, 6)} | {"test_batch": 7}


def write_cifar(folder: Path) -> dict:
    """Write the six batch files (5..9 train images each, 7 test) into ``folder``; return the batches by name."""
    folder.mkdir(parents=True, exist_ok=True)
    batches = {}
    for k, (name, n) in enumerate(CIFAR_FILES.items()):
        batches[name] = cifar_batch(n, seed=k)
        # Protocol 2, as the original (Python 2) files.
        (folder / name).write_bytes(pickle.dumps(batches[name], protocol=2))
    return batches


def cifar_archive(batches_folder: Path) -> bytes:
    """The bytes of a cifar-10-python.tar.gz holding ``batches_folder``'s files under cifar-10-batches-py/."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(batches_folder.iterdir()):
            tar.add(path, arcname=f"cifar-10-batches-py/{path.name}")
    return buffer.getvalue()
