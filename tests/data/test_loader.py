"""DataLoader: len with and without drop_last (20000 images at batch 64 -> 313), every sample once per epoch,
shuffling reproducible from a seed or minidl.manual_seed and new each epoch, batches equal to the fancy-indexed
arrays (with or without __getitems__), prefetch on and off giving identical batches, the prefetch thread gone
after a break or an abandoned iterator, worker exceptions raised in the caller, transforms, and throughput."""

import threading
import time

import numpy as np
import pytest

import minidl
from minidl.data import DataLoader, Dataset, TensorDataset


def prefetch_threads():
    return [t for t in threading.enumerate() if t.name == "minidl-DataLoader-prefetch"]


@pytest.fixture(autouse=True)
def _no_leaked_threads():
    yield
    assert prefetch_threads() == []


def numbered(n, shape=(1, 2, 2)):
    """Images whose every pixel is the sample number, labels = number % 10."""
    x = np.broadcast_to(np.arange(n, dtype=np.float32).reshape(n, 1, 1, 1), (n, *shape)).copy()
    return TensorDataset(x, np.arange(n) % 10)


def ids(batches):
    """The sample numbers of a list of (x, y) batches, in order."""
    return np.concatenate([x.numpy()[:, 0, 0, 0].astype(np.int64) for x, _ in batches])


class Plain(Dataset):
    """No __getitems__: the loader must stack __getitem__ results."""

    def __init__(self, base):
        self.base = base

    def __len__(self):
        return len(self.base)

    def __getitem__(self, i):
        x, y = self.base[i]
        return x, int(y)


@pytest.mark.parametrize(
    "n, batch, drop_last, expected",
    [(20000, 64, False, 313), (20000, 64, True, 312), (128, 64, False, 2), (128, 64, True, 2), (5, 64, False, 1),
     (5, 64, True, 0), (0, 4, False, 0), (10, 1, False, 10)],
)  # fmt: skip
def test_len(n, batch, drop_last, expected):
    loader = DataLoader(TensorDataset(np.zeros(n)), batch_size=batch, drop_last=drop_last)
    assert len(loader) == expected
    batches = list(loader)
    assert len(batches) == expected
    assert sum(len(b[0]) for b in batches) == (expected * batch if drop_last else n)


@pytest.mark.parametrize("prefetch", [0, 2])
@pytest.mark.parametrize("shuffle", [False, True])
def test_every_sample_exactly_once_per_epoch(shuffle, prefetch):
    loader = DataLoader(numbered(103), batch_size=10, shuffle=shuffle, prefetch=prefetch)
    for _ in range(3):
        batches = list(loader)
        assert [len(x) for x, _ in batches] == [10] * 10 + [3]
        order = ids(batches)
        assert sorted(order.tolist()) == list(range(103))
        assert shuffle != np.array_equal(order, np.arange(103))


def test_drop_last_drops_only_the_short_batch():
    loader = DataLoader(numbered(103), batch_size=10, shuffle=True, drop_last=True, seed=0)
    order = ids(list(loader))
    assert len(order) == 100 and len(set(order.tolist())) == 100


def test_batches_are_tuples_of_tensors_with_the_arrays_dtypes():
    x, y = next(iter(DataLoader(numbered(10), batch_size=4)))
    assert isinstance(x, minidl.Tensor) and isinstance(y, minidl.Tensor)
    assert x.dtype == np.float32 and y.dtype == np.int64
    assert x.shape == (4, 1, 2, 2) and y.shape == (4,)
    single = next(iter(DataLoader(TensorDataset(np.arange(6)), batch_size=4)))
    assert isinstance(single, tuple) and len(single) == 1


def test_seeded_shuffle_depends_on_seed_and_epoch_only():
    def epochs(seed, count=3):
        loader = DataLoader(numbered(50), batch_size=8, shuffle=True, seed=seed)
        return [ids(list(loader)) for _ in range(count)]

    a = epochs(seed=7)
    minidl.manual_seed(123)  # the global generator does not matter with a seed
    b = epochs(seed=7)
    for ea, eb in zip(a, b):
        np.testing.assert_array_equal(ea, eb)
    assert not np.array_equal(a[0], a[1]) and not np.array_equal(a[1], a[2])
    assert not np.array_equal(a[0], epochs(seed=8)[0])
    resumed = DataLoader(numbered(50), batch_size=8, shuffle=True, seed=7)
    resumed.set_epoch(2)
    np.testing.assert_array_equal(ids(list(resumed)), a[2])
    np.testing.assert_array_equal(resumed.order(epoch=1), a[1])


@pytest.mark.parametrize("prefetch", [0, 2])
def test_unseeded_shuffle_follows_manual_seed(prefetch):
    def epochs():
        loader = DataLoader(numbered(50), batch_size=8, shuffle=True, prefetch=prefetch)
        return [ids(list(loader)) for _ in range(2)]

    minidl.manual_seed(11)
    a = epochs()
    minidl.manual_seed(11)
    b = epochs()
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], a[1])


def test_batches_equal_fancy_indexed_arrays_with_and_without_getitems():
    rng = np.random.default_rng(0)
    x = rng.random((37, 3, 4, 4), dtype=np.float32)
    y = rng.integers(0, 10, 37)
    fast = DataLoader(TensorDataset(x, y), batch_size=5, shuffle=True, seed=3)
    slow = DataLoader(Plain(TensorDataset(x, y)), batch_size=5, shuffle=True, seed=3)
    order = fast.order(epoch=0)
    for k, ((fx, fy), (sx, sy)) in enumerate(zip(fast, slow, strict=True)):
        idx = order[5 * k : 5 * k + 5]
        np.testing.assert_array_equal(fx.numpy(), x[idx])
        np.testing.assert_array_equal(fy.numpy(), y[idx])
        np.testing.assert_array_equal(sx.numpy(), x[idx])
        assert sy.dtype == np.int64
        np.testing.assert_array_equal(sy.numpy(), y[idx])


def test_getitems_is_used_when_present():
    class Counting(TensorDataset):
        def __getitem__(self, i):
            raise AssertionError("__getitem__ called although __getitems__ exists")

    assert len(list(DataLoader(Counting(np.zeros((20, 2))), batch_size=6, shuffle=True))) == 4


def test_prefetch_on_and_off_give_identical_batches():
    ds = numbered(200, shape=(3, 4, 4))
    runs = []
    for prefetch in (0, 1, 3):
        loader = DataLoader(ds, batch_size=16, shuffle=True, seed=5, prefetch=prefetch)
        runs.append([(x.numpy().copy(), y.numpy().copy()) for _ in range(2) for x, y in loader])
    for other in runs[1:]:
        assert len(other) == len(runs[0])
        for (ax, ay), (bx, by) in zip(runs[0], other):
            np.testing.assert_array_equal(ax, bx)
            np.testing.assert_array_equal(ay, by)


def test_break_stops_the_prefetch_thread():
    loader = DataLoader(numbered(1000), batch_size=10, prefetch=2)
    for k, _ in enumerate(loader):
        assert len(prefetch_threads()) == 1
        if k == 3:
            break
    assert prefetch_threads() == []


def test_abandoned_iterator_stops_the_prefetch_thread():
    loader = DataLoader(numbered(1000), batch_size=10, prefetch=2)
    it = iter(loader)
    assert prefetch_threads() == []  # started by the first next(), not by iter()
    next(it)
    assert len(prefetch_threads()) == 1
    it.close()
    assert prefetch_threads() == []
    next(iter(loader))  # dropped at once: CPython closes the generator, which joins the thread
    assert prefetch_threads() == []


class Failing(TensorDataset):
    def __getitems__(self, indices):
        if indices.max() >= 30:
            raise KeyError(f"broken sample {indices.max()}")
        return super().__getitems__(indices)


@pytest.mark.parametrize("prefetch", [0, 2])
def test_worker_exception_reaches_the_caller(prefetch):
    loader = DataLoader(Failing(np.zeros((50, 2))), batch_size=10, prefetch=prefetch)
    seen = 0
    with pytest.raises(KeyError, match="broken sample 39"):
        for _ in loader:
            seen += 1
    assert seen == 3
    assert len(list(DataLoader(Failing(np.zeros((30, 2))), batch_size=10, prefetch=prefetch))) == 3


def test_transform_applies_to_the_image_batch_only():
    calls = []

    def flip(images):
        calls.append((images.shape, images.dtype))
        return images[..., ::-1].astype(np.float64) * 2  # a float64 result: the loader keeps the batch float32

    x = np.arange(24, dtype=np.float32).reshape(2, 1, 3, 4)
    y = np.array([1, 2])
    bx, by = next(iter(DataLoader(TensorDataset(x, y), batch_size=2, transform=flip)))
    assert calls == [((2, 1, 3, 4), np.float32)]
    assert bx.dtype == np.float32
    np.testing.assert_array_equal(bx.numpy(), x[..., ::-1] * 2)
    np.testing.assert_array_equal(by.numpy(), y)
    vx, _ = next(iter(DataLoader(TensorDataset(x, y), batch_size=2, transform=lambda a: a[..., ::-1])))
    assert vx.numpy().flags.c_contiguous
    np.testing.assert_array_equal(vx.numpy(), x[..., ::-1])
    tx, _ = next(iter(DataLoader(TensorDataset(x, y), batch_size=2, transform=lambda a: minidl.tensor(a + 1))))
    np.testing.assert_array_equal(tx.numpy(), x + 1)


def test_argument_errors():
    ds = TensorDataset(np.zeros(4))
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="batch_size"):
            DataLoader(ds, batch_size=bad)
    with pytest.raises(ValueError, match="prefetch"):
        DataLoader(ds, prefetch=-1)
    with pytest.raises(ValueError, match="seed"):
        DataLoader(ds, seed=-3)
    with pytest.raises(TypeError, match="transform"):
        DataLoader(ds, transform=3)


@pytest.mark.parametrize("prefetch", [0, 2])
def test_an_mnist_sized_epoch_takes_well_under_a_second(prefetch):
    from minidl.data.datasets import ImageArrayDataset

    class Synthetic(ImageArrayDataset):
        def _nchw(self):
            return self.data[:, None]

    rng = np.random.default_rng(0)
    ds = Synthetic(rng.integers(0, 256, (60000, 28, 28), dtype=np.uint8), rng.integers(0, 10, 60000))
    loader = DataLoader(ds, batch_size=64, shuffle=True, seed=0, prefetch=prefetch)
    start = time.perf_counter()
    count = sum(len(y) for _, y in loader)
    elapsed = time.perf_counter() - start
    assert count == 60000
    assert elapsed < 1.0, f"one epoch of batch assembly took {elapsed:.2f} s"
