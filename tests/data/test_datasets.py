"""MNIST, Fashion-MNIST and CIFAR-10 readers: the real MNIST files from /work/shared/data (counts, label
histograms, dtypes, pixel range, gzip and raw), clear errors for missing, truncated and corrupt files, and CIFAR-10
on a tiny synthetic set of pickle batches (also extracted from a tar.gz, and refusing pickles that call code)."""

import gzip
import os
import pickle
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from minidl.data import DataLoader, Subset
from minidl.data.datasets import (
    CIFAR10,
    MNIST,
    DatasetNotFoundError,
    FashionMNIST,
    default_root,
    search_roots,
    user_cache_root,
)
from minidl.data.datasets.idx import read_idx
from tests.data import (
    CIFAR_FILES,
    MNIST_DIR,
    REPOSITORY_DATA,
    SHARED,
    cifar_archive,
    needs_fashion,
    write_cifar,
)
from tests.faults import traced_peak

TRAIN_HISTOGRAM = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_HISTOGRAM = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
NAMES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]


@pytest.fixture(scope="module")
def mnist_train():
    """The real training split (the repository's copy)."""
    return MNIST(REPOSITORY_DATA, train=True)


def test_mnist_train_split(mnist_train):
    ds = mnist_train
    assert len(ds) == 60000
    assert ds.data.shape == (60000, 28, 28) and ds.data.dtype == np.uint8
    assert ds.targets.shape == (60000,) and ds.targets.dtype == np.int64
    assert np.bincount(ds.targets).tolist() == TRAIN_HISTOGRAM
    assert ds.data.min() == 0 and ds.data.max() == 255
    assert len(ds.classes) == 10


def test_mnist_test_split_and_samples():
    ds = MNIST(REPOSITORY_DATA, train=False)
    assert len(ds) == 10000
    assert np.bincount(ds.targets).tolist() == TEST_HISTOGRAM
    image, label = ds[0]
    assert image.shape == (1, 28, 28) and image.dtype == np.float32
    assert isinstance(label, int) and label == ds.targets[0] == 7  # the first test digit is a 7
    assert 0.0 <= image.min() and image.max() <= 1.0
    np.testing.assert_array_equal(image[0], ds.data[0].astype(np.float32) / np.float32(255))


def test_mnist_batches_match_items(mnist_train):
    idx = np.array([59999, 0, 12345, 0])
    images, labels = mnist_train.__getitems__(idx)
    assert images.shape == (4, 1, 28, 28) and images.dtype == np.float32 and images.flags.c_contiguous
    assert labels.dtype == np.int64
    for k, i in enumerate(idx):
        np.testing.assert_array_equal(images[k], mnist_train[i][0])
        assert labels[k] == mnist_train[i][1]
    x, y = next(iter(DataLoader(Subset(mnist_train, idx), batch_size=4)))
    np.testing.assert_array_equal(x.numpy(), images)
    np.testing.assert_array_equal(y.numpy(), labels)


def test_root_defaults_to_minidl_data(monkeypatch):
    monkeypatch.setenv("MINIDL_DATA", str(REPOSITORY_DATA))
    assert default_root() == REPOSITORY_DATA
    assert len(MNIST(train=False)) == 10000
    monkeypatch.delenv("MINIDL_DATA")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert default_root() == Path("~/.cache/minidl").expanduser()
    monkeypatch.setenv("XDG_CACHE_HOME", "/somewhere/cache")
    assert default_root() == user_cache_root() == Path("/somewhere/cache/minidl")


def test_search_roots_order_and_which_hold_the_files(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("MINIDL_DATA", str(tmp_path / "data"))
    roots = search_roots(REPOSITORY_DATA)
    assert roots == [tmp_path / "data", tmp_path / "cache" / "minidl", REPOSITORY_DATA]
    assert [MNIST.holds_files(r) for r in roots] == [False, False, True]
    assert MNIST.holds_files(MNIST_DIR)  # the folder of the four files itself
    copy_test_split(tmp_path / "data" / "mnist")  # one split only: not a copy of the dataset
    assert not MNIST.holds_files(tmp_path / "data")
    assert not FashionMNIST.holds_files(REPOSITORY_DATA)
    monkeypatch.delenv("MINIDL_DATA")
    assert search_roots(REPOSITORY_DATA) == [tmp_path / "cache" / "minidl", REPOSITORY_DATA]


@needs_fashion
def test_fashion_mnist():
    train, test = FashionMNIST(SHARED, train=True), FashionMNIST(SHARED, train=False)
    assert (len(train), len(test)) == (60000, 10000)
    assert np.bincount(train.targets).tolist() == [6000] * 10
    assert np.bincount(test.targets).tolist() == [1000] * 10
    assert train.classes[9] == "Ankle boot"
    assert not np.array_equal(test.data[:100], MNIST(REPOSITORY_DATA, train=False).data[:100])


def copy_test_split(folder, raw=False):
    """The MNIST test files in ``folder`` (decompressed when ``raw``)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in NAMES[2:]:
        if raw:
            (folder / name).write_bytes(gzip.decompress((MNIST_DIR / f"{name}.gz").read_bytes()))
        else:
            shutil.copy(MNIST_DIR / f"{name}.gz", folder / f"{name}.gz")


def test_raw_files_read_as_the_gzip_ones(tmp_path):
    copy_test_split(tmp_path / "mnist", raw=True)
    raw = MNIST(tmp_path, train=False)
    gz = MNIST(REPOSITORY_DATA, train=False)
    np.testing.assert_array_equal(raw.data, gz.data)
    np.testing.assert_array_equal(raw.targets, gz.targets)


def test_missing_files_give_one_error_naming_them(tmp_path, monkeypatch):
    monkeypatch.delenv("MINIDL_MNIST_MIRRORS", raising=False)
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / "train-labels-idx1-ubyte.gz").write_bytes(b"")
    with pytest.raises(DatasetNotFoundError) as info:
        MNIST(tmp_path, train=True)
    message = str(info.value)
    assert "train-images-idx3-ubyte(.gz)" in message
    assert "train-labels" not in message  # present (if empty): not missing
    assert str(tmp_path / "mnist") in message
    assert "download=True" in message and "ossci-datasets" in message
    assert isinstance(info.value, FileNotFoundError)
    with pytest.raises(DatasetNotFoundError, match=r"t10k-images-idx3-ubyte\(.gz\), t10k-labels-idx1-ubyte\(.gz\)"):
        FashionMNIST(tmp_path, train=False)
    with pytest.raises(DatasetNotFoundError, match=r"data_batch_1, .*data_batch_5 in .*cifar-10-batches-py"):
        CIFAR10(tmp_path)


def idx_bytes(array, magic_type=0x08):
    header = bytes([0, 0, magic_type, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(">u1" if magic_type == 0x08 else array.dtype).tobytes()


def test_idx_reader_formats(tmp_path):
    a = np.arange(24, dtype=">i4").reshape(2, 3, 4)
    (tmp_path / "a").write_bytes(idx_bytes(a, 0x0C))
    out = read_idx(tmp_path / "a")
    assert out.dtype == np.int32 and out.dtype.isnative
    np.testing.assert_array_equal(out, np.arange(24).reshape(2, 3, 4))
    (tmp_path / "b.gz").write_bytes(gzip.compress(idx_bytes(np.arange(5, dtype=np.uint8))))
    assert read_idx(tmp_path / "b.gz").tolist() == [0, 1, 2, 3, 4]
    assert read_idx(tmp_path / "b.gz").flags.writeable


BOMB = 100 << 20  # what the decompression bomb below inflates to


def idx_gzip_bomb(path, announced=8):
    """A .gz IDX file whose header announces ``announced`` uint8 values, followed by ``BOMB`` zero bytes (about
    100 KB compressed), written without holding them in memory."""
    with gzip.open(path, "wb") as out:
        out.write(bytes([0, 0, 0x08, 1]) + struct.pack(">I", announced))
        zeros = bytes(1 << 20)
        for _ in range(BOMB >> 20):
            out.write(zeros)


def test_an_idx_decompression_bomb_is_refused_within_little_memory(tmp_path):
    path = tmp_path / "bomb-idx1-ubyte.gz"
    idx_gzip_bomb(path)
    assert path.stat().st_size < BOMB // 500
    with traced_peak() as peak, pytest.raises(ValueError, match=r"bomb-idx1-ubyte.gz: too long: .* \(8 bytes of data"):
        read_idx(path)
    assert peak[0] < BOMB // 10, f"reading took {peak[0]} bytes"  # about 4 MB: chunks of 1 MB, copied twice


def test_an_idx_file_announcing_more_than_it_can_hold_is_refused_before_reading(tmp_path):
    path = tmp_path / "big-idx1-ubyte.gz"
    idx_gzip_bomb(path, announced=2**32 - 1)  # 4 GB: more than 1032 times the file's size
    with traced_peak() as peak, pytest.raises(ValueError, match=r"big-idx1-ubyte.gz: truncated: .* at most \d+ bytes"):
        read_idx(path)
    assert peak[0] < 1 << 20


@pytest.mark.parametrize("gz", [False, True])
def test_idx_sizes_whose_product_overflows_int64_are_a_clear_error(tmp_path, gz):
    header = bytes([0, 0, 0x08, 4]) + struct.pack(">4I", *[2**16] * 4)  # 2**64 values: 0 in int64 arithmetic
    path = tmp_path / ("huge-idx4-ubyte" + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(header) if gz else header)
    message = rf"{path.name}: truncated: the header announces shape \(65536, 65536, 65536, 65536\) \({2**64} bytes"
    with pytest.raises(ValueError, match=message):
        read_idx(path)


def test_a_gzip_idx_file_with_extra_data_says_how_much(tmp_path):
    path = tmp_path / "a-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.arange(5, dtype=np.uint8)) + b"extra"))
    with pytest.raises(
        ValueError, match=r"a-idx1-ubyte.gz: too long: .* \(5 bytes of data\) but the file holds 10 bytes"
    ):
        read_idx(path)


def write_split(folder, images, labels):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "t10k-images-idx3-ubyte").write_bytes(images)
    (folder / "t10k-labels-idx1-ubyte").write_bytes(labels)


GOOD_IMAGES = np.zeros((3, 28, 28), np.uint8)
GOOD_LABELS = np.array([1, 2, 3], np.uint8)


@pytest.mark.parametrize(
    "images, labels, match",
    [
        (idx_bytes(GOOD_IMAGES)[:-10], idx_bytes(GOOD_LABELS), r"t10k-images-idx3-ubyte: truncated.*\(3, 28, 28\)"),
        (idx_bytes(GOOD_IMAGES) + b"xx", idx_bytes(GOOD_LABELS), "t10k-images-idx3-ubyte: too long"),
        (b"\x1f\x8b\x08\x00junk" + bytes(40), idx_bytes(GOOD_LABELS), "t10k-images-idx3-ubyte: not an IDX file"),
        (idx_bytes(GOOD_IMAGES)[:9], idx_bytes(GOOD_LABELS), "t10k-images-idx3-ubyte: truncated IDX header"),
        (b"", idx_bytes(GOOD_LABELS), "t10k-images-idx3-ubyte: not an IDX file"),
        (idx_bytes(GOOD_IMAGES), idx_bytes(GOOD_LABELS[:2]), "holds 2 labels but .* holds 3 images"),
        (idx_bytes(GOOD_IMAGES), idx_bytes(GOOD_LABELS + 9), "label 12 out of range"),
        (idx_bytes(np.zeros((3, 28, 27), np.uint8)), idx_bytes(GOOD_LABELS), r"expected uint8 images \(N, 28, 28\)"),
        (idx_bytes(GOOD_IMAGES), idx_bytes(GOOD_IMAGES), r"labels-idx1-ubyte: expected uint8 labels"),
    ],
)
def test_corrupt_raw_files_raise_a_clear_error(tmp_path, images, labels, match):
    write_split(tmp_path / "mnist", images, labels)
    with pytest.raises(ValueError, match=match):
        MNIST(tmp_path, train=False)


def test_truncated_and_corrupt_gzip_files_raise_a_clear_error(tmp_path):
    copy_test_split(tmp_path / "mnist")
    path = tmp_path / "mnist" / "t10k-images-idx3-ubyte.gz"
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte.gz: corrupt or truncated gzip"):
        MNIST(tmp_path, train=False)
    corrupt = bytearray(good)
    corrupt[len(good) // 2] ^= 0xFF
    path.write_bytes(bytes(corrupt))
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte.gz: corrupt or truncated gzip"):
        MNIST(tmp_path, train=False)
    path.write_bytes(b"this is not gzip data at all")
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte.gz: corrupt or truncated gzip"):
        MNIST(tmp_path, train=False)
    # A well-formed gzip of a truncated IDX file: the header's size gives it away.
    path.write_bytes(gzip.compress(gzip.decompress(good)[:-784], compresslevel=1))
    with pytest.raises(ValueError, match=r"truncated: the header announces shape \(10000, 28, 28\)"):
        MNIST(tmp_path, train=False)


def test_cifar10_from_pickle_batches(tmp_path):
    assert not CIFAR10.holds_files(tmp_path)
    batches = write_cifar(tmp_path / "cifar-10-batches-py")
    assert CIFAR10.holds_files(tmp_path)
    train, test = CIFAR10(tmp_path, train=True), CIFAR10(tmp_path, train=False)
    n_train = sum(n for name, n in CIFAR_FILES.items() if name != "test_batch")
    assert (len(train), len(test)) == (n_train, 7)
    assert train.data.shape == (n_train, 32, 32, 3) and train.data.dtype == np.uint8
    assert train.targets.dtype == np.int64
    first = batches["data_batch_1"]
    chw = first[b"data"].reshape(-1, 3, 32, 32)
    np.testing.assert_array_equal(train.data[0], chw[0].transpose(1, 2, 0))
    np.testing.assert_array_equal(train.targets[:5], first[b"labels"])
    image, label = train[0]
    assert image.shape == (3, 32, 32) and image.dtype == np.float32 and label == first[b"labels"][0]
    np.testing.assert_array_equal(image, chw[0] / np.float32(255))
    images, labels = test.__getitems__(np.array([6, 0]))
    assert images.shape == (2, 3, 32, 32) and images.flags.c_contiguous
    np.testing.assert_array_equal(images[0], test[6][0])
    np.testing.assert_array_equal(labels, batches["test_batch"][b"labels"][6:7] + batches["test_batch"][b"labels"][:1])
    assert train.classes[0] == "airplane" and len(train.classes) == 10


def test_cifar10_extracts_the_archive(tmp_path):
    write_cifar(tmp_path / "made" / "cifar-10-batches-py")
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "cifar-10-python.tar.gz").write_bytes(cifar_archive(tmp_path / "made" / "cifar-10-batches-py"))
    assert CIFAR10.holds_files(tmp_path / "root")  # the archive will do
    test = CIFAR10(tmp_path / "root", train=False)
    assert len(test) == 7
    assert sorted(p.name for p in (tmp_path / "root" / "cifar-10-batches-py").iterdir()) == ["test_batch"]
    np.testing.assert_array_equal(CIFAR10(tmp_path / "made", train=True).data, CIFAR10(tmp_path / "root").data)


def test_cifar10_bad_archive_and_batches(tmp_path):
    (tmp_path / "cifar-10-python.tar.gz").write_bytes(b"\x1f\x8b broken")
    with pytest.raises(ValueError, match="cifar-10-python.tar.gz: corrupt or truncated archive"):
        CIFAR10(tmp_path, train=False)
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar(folder)

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    (folder / "test_batch").write_bytes(pickle.dumps({b"data": Evil()}, protocol=2))
    with pytest.raises(ValueError, match=r"test_batch: not a readable CIFAR-10 batch.*refusing to load"):
        CIFAR10(tmp_path, train=False)
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": np.zeros((3, 3072), np.uint8), b"labels": [1]}))
    with pytest.raises(ValueError, match="test_batch: expected 3 labels"):
        CIFAR10(tmp_path, train=False)
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": np.zeros((3, 100), np.uint8), b"labels": [1] * 3}))
    with pytest.raises(ValueError, match=r"expected 'data' as uint8 \(N, 3072\)"):
        CIFAR10(tmp_path, train=False)
    (folder / "test_batch").write_bytes(pickle.dumps({b"data": np.zeros((3, 3072), np.uint8)})[:-20])
    with pytest.raises(ValueError, match="test_batch: not a readable CIFAR-10 batch"):
        CIFAR10(tmp_path, train=False)


def test_dataset_transform_sees_images_and_batches(tmp_path):
    write_cifar(tmp_path / "cifar-10-batches-py")
    shapes = []

    def record(images):
        shapes.append(images.shape)
        return 1 - images

    ds = CIFAR10(tmp_path, train=False, transform=record)
    image, _ = ds[0]
    batch, _ = ds.__getitems__(np.arange(3))
    assert shapes == [(3, 32, 32), (3, 3, 32, 32)]
    np.testing.assert_array_equal(image, batch[0])
    np.testing.assert_array_equal(image, 1 - ds.data[0].transpose(2, 0, 1) / np.float32(255))


def test_root_may_be_the_folder_of_the_four_files():
    """``--data-dir`` in the examples names the folder holding the files themselves, not its parent."""
    direct, nested = MNIST(MNIST_DIR, train=False), MNIST(REPOSITORY_DATA, train=False)
    assert direct.root == MNIST_DIR
    np.testing.assert_array_equal(direct.data, nested.data)
