"""minidl.models.detection: smooth L1 and the multibox loss against plain NumPy and in float64 finite differences;
hard-negative mining and matching on hand-worked cases; post-processing (decode, per-class NMS, top-k) on made-up
outputs; ssd_lite on MobileNet v1 and v2 (taps, shapes, default boxes, state dict); a few training steps on real
canvases lower the loss."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minidl
from minidl import optim
from minidl.data.datasets import MNIST, MNISTDetection
from minidl.models import mobilenet_v1, mobilenet_v2
from minidl.models.detection import (
    SSDLite,
    hard_negatives,
    match_defaults,
    multibox_loss,
    postprocess,
    smooth_l1_loss,
    ssd_lite,
)
from minidl.vision import SSDBoxCoder
from tests.data import MNIST_DIR
from tests.support import check_gradients


def test_smooth_l1_by_hand():
    x, t = minidl.tensor([0.0, 0.5, 3.0, -2.0]), minidl.tensor([0.0, 0.0, 0.0, 0.0])
    assert smooth_l1_loss(x, t, reduction="none").tolist() == [0.0, 0.125, 2.5, 1.5]
    assert smooth_l1_loss(x, t, reduction="sum").item() == pytest.approx(4.125)
    assert smooth_l1_loss(x, t, beta=2.0, reduction="none").tolist() == [0.0, 0.0625, 2.0, 1.0]
    assert smooth_l1_loss(x, t).item() == pytest.approx(4.125 / 4)
    with pytest.raises(ValueError, match="smooth_l1_loss: input and target need one shape"):
        smooth_l1_loss(x, t[:2])


@settings(max_examples=10)
@given(seed=st.integers(0, 2**32 - 1), reduction=st.sampled_from(["none", "mean", "sum"]))
def test_smooth_l1_gradients(seed, reduction):
    rng = np.random.default_rng(seed)
    x, t = rng.uniform(-3, 3, (3, 4)), rng.uniform(-3, 3, (3, 4))
    away = np.abs(np.abs(x - t) - 1) < 0.05  # keep off the kink at |d| = beta
    x[away] += 0.2
    check_gradients(lambda a, b: smooth_l1_loss(a, b, reduction=reduction), x, t)


def test_hard_negatives_by_hand():
    losses = np.array([[0.1, 0.9, 0.5, 0.7, 0.3, 0.2], [0.4, 0.4, 0.4, 0.1, 0.9, 0.8]])
    classes = np.array([[1, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]])
    chosen = hard_negatives(losses, classes, 3.0)
    # Image 0: one positive, so the 3 hardest negatives 1 (0.9), 3 (0.7), 2 (0.5); image 1: no positive, none.
    assert chosen.tolist() == [[False, True, True, True, False, False], [False] * 6]
    tied = hard_negatives(np.array([[0.4, 0.4, 0.4, 0.1]]), np.array([[0, 0, 0, 2]]), 2.0)
    assert tied.tolist() == [[True, True, False, False]]  # equal losses: the lower index first


def test_match_defaults_by_hand():
    defaults = minidl.tensor([[0.0, 0.0, 0.5, 0.5], [0.5, 0.0, 1.0, 0.5], [0.0, 0.5, 0.5, 1.0], [0.4, 0.4, 0.6, 0.6]])
    coder = SSDBoxCoder()
    # Box A overlaps default 0 by 0.64 (a match) and is its best; thin box B overlaps no default by 0.5, so it
    # takes its best one (3) alone.
    boxes = [np.array([[0.0, 0.0, 0.4, 0.5], [0.45, 0.3, 0.55, 0.7]], dtype=np.float32), np.zeros((0, 4), np.float32)]
    classes, offsets = match_defaults(defaults, boxes, [np.array([7, 2]), np.array([], dtype=np.int64)], coder)
    assert classes.tolist() == [[8, 0, 0, 3], [0, 0, 0, 0]]
    assert np.all(offsets.numpy()[:, [1, 2]] == 0) and np.all(offsets.numpy()[1] == 0)
    expected = coder.encode(minidl.tensor(boxes[0][[0, 1]]), defaults[[0, 3]]).numpy()
    np.testing.assert_allclose(offsets.numpy()[0, [0, 3]], expected, rtol=1e-6)


def _plain_multibox(locations, scores, classes, offsets):
    """SSD's loss in NumPy, float64: smooth L1 of the positives and cross-entropy of the positives and the 3:1
    hardest negatives, both over the number of positives."""
    logp = scores - scores.max(axis=2, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(axis=2, keepdims=True))
    ce = -np.take_along_axis(logp, classes[..., None], axis=2)[..., 0]
    positive = classes > 0
    chosen = positive | hard_negatives(ce, classes, 3.0)
    d = np.abs(locations - offsets)
    l1 = np.where(d < 1, 0.5 * d * d, d - 0.5).sum(axis=2)
    count = max(positive.sum(), 1)
    return (l1 * positive).sum() / count, (ce * chosen).sum() / count


def _random_problem(seed, n=2, a=9, c=4):
    rng = np.random.default_rng(seed)
    classes = np.where(rng.uniform(size=(n, a)) < 0.25, rng.integers(1, c, (n, a)), 0)
    return rng.normal(0, 1, (n, a, 4)), rng.normal(0, 2, (n, a, c)), classes, rng.normal(0, 1, (n, a, 4))


def test_multibox_loss_matches_plain_numpy():
    for seed in range(5):
        locations, scores, classes, offsets = _random_problem(seed)
        got = multibox_loss(*(minidl.tensor(a) for a in (locations, scores, classes, offsets)))
        np.testing.assert_allclose([t.item() for t in got], _plain_multibox(locations, scores, classes, offsets))


@settings(max_examples=5)
@given(seed=st.integers(0, 2**32 - 1))
def test_multibox_loss_gradients(seed):
    locations, scores, classes, offsets = _random_problem(seed, n=2, a=5, c=3)
    # The mining is a choice of boxes (no gradient through it): finite differences small enough not to change it.
    check_gradients(lambda loc, s: sum(multibox_loss(loc, s, minidl.tensor(classes), minidl.tensor(offsets))),
                    locations, scores)  # fmt: skip


def test_postprocess_by_hand():
    coder = SSDBoxCoder()
    defaults = minidl.tensor([[0.0, 0.0, 0.5, 0.5], [0.05, 0.0, 0.55, 0.5], [0.5, 0.5, 1.0, 1.0]])
    locations = minidl.zeros(1, 3, 4)  # the boxes are the defaults themselves
    logits = np.full((1, 3, 4), -10.0, dtype=np.float32)
    logits[0, 0, 2], logits[0, 1, 2], logits[0, 2, 3], logits[0, 1, 3] = 5.0, 4.0, 3.0, 2.9
    found = postprocess(locations, minidl.tensor(logits), defaults, coder, (100, 200), iou_threshold=0.5)[0]
    # Class 1 (logit 2): default 1 overlaps default 0 by 0.82 and goes. Class 2: defaults 2 and 1 do not overlap.
    assert found["labels"].tolist() == [1, 2, 2]
    np.testing.assert_allclose(found["boxes"], [[0, 0, 100, 50], [100, 50, 200, 100], [10, 0, 110, 50]], atol=1e-4)
    assert np.all(np.diff(found["scores"]) <= 0) and found["scores"].dtype == np.float32
    top = postprocess(locations, minidl.tensor(logits), defaults, coder, (100, 200), top_k=1)[0]
    assert top["labels"].tolist() == [1]
    few = postprocess(locations, minidl.tensor(logits), defaults, coder, (100, 200), candidates_per_class=1)[0]
    assert sorted(few["labels"].tolist()) == [1, 2]  # the best candidate of each class only
    sure = postprocess(locations, minidl.tensor(logits), defaults, coder, (100, 200), score_threshold=0.9)[0]
    assert sure["labels"].tolist() == [1, 2] and sure["boxes"].shape == (2, 4)  # default 1 scores 0.75 and 0.25


@pytest.fixture(scope="module")
def small_detector():
    minidl.manual_seed(0)
    backbone = mobilenet_v1(num_classes=10, in_channels=1, alpha=0.25, small_input=True)
    return ssd_lite(backbone, num_classes=10, image_size=48, scales=[0.3, 0.5, 0.7], aspect_ratios=[[1, 0.5]] * 2)


def test_ssd_lite_on_mobilenet_v1(small_detector):
    model = small_detector
    assert isinstance(model, SSDLite) and model.taps == [11, 13]  # the last layers at strides 8 and 16
    assert len(model.default_boxes) == 6 * 6 * 3 + 3 * 3 * 3
    locations, scores = model(minidl.randn(2, 1, 48, 48))
    assert locations.shape == (2, 135, 4) and scores.shape == (2, 135, 11)
    assert "default_boxes" not in model.state_dict() and "backbone.13.1.0.weight" in model.state_dict()
    found = model.detect(minidl.randn(3, 1, 48, 48), top_k=5)
    assert len(found) == 3 and found[0]["boxes"].shape[1] == 4 and len(found[0]["labels"]) <= 5
    assert model.training  # detect restores the mode


def test_ssd_lite_on_mobilenet_v2_and_by_name():
    backbone = mobilenet_v2(num_classes=10, in_channels=1, width_mult=0.25, small_input=True)
    model = ssd_lite(backbone, num_classes=3, image_size=32, num_feature_maps=3)
    assert model.taps == [6, 13, 18]  # strides 4, 8 and 16 at 32 pixels
    assert model(minidl.randn(1, 1, 32, 32))[1].shape[2] == 4
    named = ssd_lite("mobilenet_v1", num_classes=2, image_size=32, alpha=0.25)
    assert named.taps == [11, 13]
    with pytest.raises(ValueError, match="fewer than num_feature_maps=9"):
        ssd_lite("mobilenet_v1", image_size=32, alpha=0.25, num_feature_maps=9)
    with pytest.raises(TypeError, match="needs a Sequential of feature layers"):
        ssd_lite(minidl.nn.Linear(2, 2))


def test_a_few_steps_lower_the_loss_on_real_canvases(small_detector):
    mnist = MNIST(MNIST_DIR, train=True)
    data = MNISTDetection(num_canvases=8, canvas_size=48, digit_size=(20, 28), digits_per_canvas=(1, 2), mnist=mnist)
    model = small_detector
    images = data.__getitems__(np.arange(8))[0]
    classes, offsets = match_defaults(model.default_boxes, [b / 48 for b in data.boxes], data.labels, model.coder)
    optimizer = optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(12):
        loss = sum(multibox_loss(*model(minidl.tensor(images)), classes, offsets))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0], losses


def test_the_losses_and_matching_on_cuda_give_the_cpu_values():
    locations, scores, classes, offsets = _random_problem(7, n=1, a=4, c=3)
    on_cpu = multibox_loss(*(minidl.tensor(a) for a in (locations, scores, classes, offsets)))
    on_gpu = multibox_loss(*(minidl.tensor(a).to("cuda") for a in (locations, scores, classes, offsets)))
    assert all(t.device == "cuda" for t in on_gpu)
    np.testing.assert_allclose([t.item() for t in on_gpu], [t.item() for t in on_cpu], rtol=1e-12)
    defaults = minidl.tensor([[0.0, 0.0, 0.5, 0.5], [0.5, 0.5, 1.0, 1.0]])
    box = [np.array([[0.1, 0.0, 0.5, 0.5]], dtype=np.float32)]
    cpu = match_defaults(defaults, box, [np.array([4])], SSDBoxCoder())
    gpu = match_defaults(defaults.to("cuda"), box, [np.array([4])], SSDBoxCoder())
    assert cpu[0].tolist() == gpu[0].tolist() == [[5, 0]]
    np.testing.assert_array_equal(cpu[1].numpy(), gpu[1].numpy())
