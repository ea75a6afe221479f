"""TensorDataset, Subset, random_split and collate: samples, batches by fancy indexing, shapes and errors;
random_split's lengths (counts or PyTorch's fraction rule), disjoint covering splits, reproducible permutations."""

import numpy as np
import pytest

import minidl
from minidl.data import Dataset, Subset, TensorDataset, collate, random_split
from minidl.data.dataset import fetch


def make(n=10):
    x = np.arange(n * 6, dtype=np.float32).reshape(n, 2, 3)
    y = np.arange(n, dtype=np.int64) % 3
    return x, y


def test_tensor_dataset_samples_and_batches():
    x, y = make()
    ds = TensorDataset(x, y)
    assert len(ds) == 10
    xi, yi = ds[4]
    np.testing.assert_array_equal(xi, x[4])
    assert yi == y[4]
    idx = np.array([7, 1, 1, 3])
    bx, by = ds.__getitems__(idx)
    np.testing.assert_array_equal(bx, x[idx])
    np.testing.assert_array_equal(by, y[idx])


def test_tensor_dataset_dtypes_follow_minidl_tensor():
    ds = TensorDataset(np.zeros((3, 2)), minidl.tensor([[1.0], [2.0], [3.0]], dtype="float64"), [1, 2, 3])
    assert [a.dtype for a in ds.arrays] == [np.float32, np.float64, np.int64]
    assert [t.dtype for t in ds.tensors] == [np.float32, np.float64, np.int64]


def test_tensor_dataset_shares_tensor_memory():
    t = minidl.zeros(4, 2)
    ds = TensorDataset(t)
    assert np.shares_memory(ds.arrays[0], t.numpy())


def test_tensor_dataset_errors():
    with pytest.raises(ValueError, match=r"first dimensions must agree.*\(5, 2\), \(4,\)"):
        TensorDataset(np.zeros((5, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()
    with pytest.raises(ValueError, match="0-d"):
        TensorDataset(np.float32(1.0))


def test_subset_maps_indices_and_forwards_getitems():
    x, y = make()
    ds = TensorDataset(x, y)
    sub = Subset(ds, [9, 2, -1, 5])
    assert len(sub) == 4
    np.testing.assert_array_equal(sub[2][0], x[9])
    bx, by = sub.__getitems__(np.array([3, 0]))
    np.testing.assert_array_equal(bx, x[[5, 9]])
    np.testing.assert_array_equal(by, y[[5, 9]])
    nested = Subset(sub, [3, 1])
    np.testing.assert_array_equal(fetch(nested, np.array([0, 1]))[0], x[[5, 2]])


def test_subset_of_a_dataset_without_getitems_stacks_samples():
    class Squares(Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return np.full((2,), i * i, dtype=np.float32), i

    bx, by = Subset(Squares(), [4, 1]).__getitems__(np.array([0, 1]))
    np.testing.assert_array_equal(bx, [[16, 16], [1, 1]])
    assert by.dtype == np.int64 and by.tolist() == [4, 1]


def test_subset_errors():
    ds = TensorDataset(np.zeros(3))
    with pytest.raises(IndexError, match=r"\[-3, 3\)"):
        Subset(ds, [0, 3])
    with pytest.raises(ValueError, match="integers"):
        Subset(ds, [0.5])
    assert len(Subset(ds, [])) == 0


def test_random_split_counts_cover_the_dataset_once():
    ds = TensorDataset(np.arange(100))
    parts = random_split(ds, [60, 30, 10], seed=1)
    assert [len(p) for p in parts] == [60, 30, 10]
    everything = np.concatenate([p.indices for p in parts])
    assert sorted(everything.tolist()) == list(range(100))
    assert not np.array_equal(everything, np.arange(100))


def test_random_split_fractions_follow_pytorch():
    ds = TensorDataset(np.arange(10))
    # floor(3.3) = 3 each, the remainder 1 goes to the first split.
    assert [len(p) for p in random_split(ds, [0.33, 0.33, 0.34], seed=0)] == [4, 3, 3]
    assert [len(p) for p in random_split(ds, [0.8, 0.2], seed=0)] == [8, 2]
    assert [len(p) for p in random_split(TensorDataset(np.arange(7)), [0.5, 0.5])] == [4, 3]


def test_random_split_is_reproducible():
    ds = TensorDataset(np.arange(50))
    a = [p.indices for p in random_split(ds, [25, 25], seed=3)]
    b = [p.indices for p in random_split(ds, [25, 25], seed=3)]
    np.testing.assert_array_equal(a[0], b[0])
    minidl.manual_seed(5)
    c = random_split(ds, [25, 25])[0].indices
    minidl.manual_seed(5)
    np.testing.assert_array_equal(c, random_split(ds, [25, 25])[0].indices)


def test_random_split_errors():
    ds = TensorDataset(np.arange(10))
    with pytest.raises(ValueError, match="sum to 9, but the dataset has 10"):
        random_split(ds, [5, 4])
    with pytest.raises(ValueError, match="fractions must sum to 1"):
        random_split(ds, [0.5, 0.4])
    with pytest.raises(ValueError, match="non-negative"):
        random_split(ds, [11, -1])


def test_collate_stacks_fields_with_minidl_dtypes():
    samples = [(np.ones((2, 2), np.float32), 3, 0.5, True), (np.zeros((2, 2), np.float32), 4, 1.5, False)]
    x, i, f, b = collate(samples)
    assert x.shape == (2, 2, 2) and x.dtype == np.float32
    assert i.dtype == np.int64 and f.dtype == np.float32 and b.dtype == np.bool_
    t = collate([minidl.ones(3), minidl.zeros(3)])
    assert t.shape == (2, 3) and t.dtype == np.float32
    with pytest.raises(ValueError, match="no samples"):
        collate([])
