"""MNISTDetection on the repository's MNIST: the same canvases from a seed (twice, on any machine: a recorded
checksum; canvas i whatever the count), boxes that are the digits' ink boxes, the overlap limit, labels from the
source digits, no test digit in a training canvas, the padded batch and the DataLoader, errors."""

import hashlib

import numpy as np
import pytest

import minidl
from minidl.data import DataLoader
from minidl.data.datasets import MNIST, MNISTDetection, targets_from_padded
from minidl.data.datasets.mnist_detection import ink_box
from minidl.vision.metrics import pairwise_iou
from tests.data import MNIST_DIR


@pytest.fixture(scope="module")
def mnist():
    return {train: MNIST(MNIST_DIR, train=train) for train in (True, False)}


def _digest(dataset: MNISTDetection, count: int) -> str:
    h = hashlib.sha256(dataset.images[:count].tobytes())
    for i in range(count):
        h.update(dataset.boxes[i].tobytes())
        h.update(dataset.labels[i].tobytes())
    return h.hexdigest()


# sha256 of the first four default training canvases (seed 0) with their boxes and labels. The canvases are built
# from the shipped MNIST files with NumPy's PCG64 streams and element-wise float64 arithmetic only, so every machine
# must compute this value; a change of it is a change of the dataset.
FIRST_FOUR = "f783784c194cfe65fb4fa28d1a9bbe7b32db6cc206c47e840d5be54248fe3ed7"


def test_a_seed_gives_the_same_canvases(mnist):
    a = MNISTDetection(num_canvases=12, mnist=mnist[True])
    b = MNISTDetection(num_canvases=30, mnist=mnist[True])  # canvas i does not depend on the count
    assert _digest(a, 12) == _digest(b, 12)
    assert _digest(a, 4) == FIRST_FOUR
    other = MNISTDetection(num_canvases=12, mnist=mnist[True], seed=1)
    assert not np.array_equal(other.images, a.images)


def test_boxes_are_the_ink_boxes_of_single_digits(mnist):
    data = MNISTDetection(train=False, num_canvases=20, canvas_size=56, digits_per_canvas=(1, 1), mnist=mnist[False],
                          seed=3)  # fmt: skip
    for i in range(len(data)):
        assert data.boxes[i].tolist() == [list(ink_box(data.images[i, 0], 64))]
        assert data.labels[i].tolist() == [int(mnist[False].targets[data.sources[i][0]])]


def test_counts_sizes_overlaps_and_labels(mnist):
    data = MNISTDetection(num_canvases=40, mnist=mnist[True], max_iou=0.1)
    counts = [len(lab) for lab in data.labels]
    assert min(counts) >= 1 and max(counts) <= 5 and len(set(counts)) > 2
    for boxes, labels, sources in zip(data.boxes, data.labels, data.sources):
        assert boxes.dtype == np.float32 and labels.dtype == np.int64
        assert np.all(boxes[:, :2] >= 0) and np.all(boxes[:, 2:] <= 96) and np.all(boxes[:, 2:] > boxes[:, :2])
        assert np.all(boxes[:, 3] - boxes[:, 1] <= 48)  # no digit taller than the largest frame
        iou = pairwise_iou(boxes.astype(np.float64), boxes.astype(np.float64))
        assert np.all(iou[~np.eye(len(boxes), dtype=bool)] <= 0.1)
        assert labels.tolist() == mnist[True].targets[sources].tolist()


def test_no_test_digit_appears_in_a_training_canvas(mnist):
    train = MNISTDetection(num_canvases=40, mnist=mnist[True])
    test = MNISTDetection(train=False, num_canvases=40, mnist=mnist[False])
    train_digits = {image.tobytes() for image in mnist[True].data}
    test_digits = {image.tobytes() for image in mnist[False].data}
    used_in_test = {mnist[False].data[s].tobytes() for s in np.concatenate(test.sources)}
    used_in_train = {mnist[True].data[s].tobytes() for s in np.concatenate(train.sources)}
    assert used_in_test <= test_digits and not used_in_test & train_digits
    assert used_in_train <= train_digits
    assert not np.array_equal(train.images[:10], test.images[:10])


def test_items_batches_and_the_loader(mnist):
    data = MNISTDetection(num_canvases=10, mnist=mnist[False], train=False)
    image, target = data[3]
    assert image.dtype == np.float32 and image.shape == (1, 96, 96) and 0 <= image.min() and image.max() <= 1
    np.testing.assert_array_equal(image, data.images[3] / np.float32(255))
    assert set(target) == {"boxes", "labels"}
    images, boxes, labels = data.__getitems__(np.array([3, 0, 7]))
    assert images.shape == (3, 1, 96, 96) and boxes.shape == (3, 5, 4) and labels.shape == (3, 5)
    back = targets_from_padded(boxes, labels)
    for row, i in enumerate([3, 0, 7]):
        np.testing.assert_array_equal(back[row]["boxes"], data.boxes[i])
        np.testing.assert_array_equal(back[row]["labels"], data.labels[i])
        assert np.all(labels[row, len(data.labels[i]) :] == -1)
    batches = list(DataLoader(data, batch_size=4))
    assert len(batches) == 3 and all(isinstance(t, minidl.Tensor) for t in batches[0])
    assert batches[-1][0].shape == (2, 1, 96, 96) and batches[0][2].dtype == np.int64
    assert "10 canvases 96x96" in repr(data)


def test_bad_arguments(mnist):
    with pytest.raises(ValueError, match="mnist= holds the training split but train=False"):
        MNISTDetection(train=False, num_canvases=1, mnist=mnist[True])
    with pytest.raises(ValueError, match="canvas_size must be an integer at least the largest digit_size 48"):
        MNISTDetection(canvas_size=40, num_canvases=1, mnist=mnist[True])
    with pytest.raises(ValueError, match="digits_per_canvas must be"):
        MNISTDetection(digits_per_canvas=(3, 2), num_canvases=1, mnist=mnist[True])
    with pytest.raises(ValueError, match="max_iou must lie in"):
        MNISTDetection(max_iou=1.5, num_canvases=1, mnist=mnist[True])
