"""The detection losses against PyTorch 2.13 (CPU, float32): smooth_l1_loss against torch.nn.functional's (every
reduction, two betas), and the multibox loss against the same terms written with PyTorch's smooth_l1_loss and
cross_entropy (the mined boxes chosen from PyTorch's own losses), values and gradients."""

import numpy as np
import torch
import torch.nn.functional as TF
from hypothesis import given, settings
from hypothesis import strategies as st

import minidl
from minidl.models.detection import hard_negatives, multibox_loss, smooth_l1_loss
from tests.support import compare_with_torch


@settings(max_examples=15)
@given(
    seed=st.integers(0, 2**32 - 1), reduction=st.sampled_from(["none", "mean", "sum"]), beta=st.sampled_from([1.0, 0.5])
)
def test_smooth_l1_matches_torch(seed, reduction, beta):
    rng = np.random.default_rng(seed)
    x, t = rng.uniform(-3, 3, (4, 5)).astype(np.float32), rng.uniform(-3, 3, (4, 5)).astype(np.float32)
    compare_with_torch(
        lambda a, b: smooth_l1_loss(a, b, reduction=reduction, beta=beta),
        lambda a, b: TF.smooth_l1_loss(a, b, reduction=reduction, beta=beta),
        x,
        t,
    )


def _torch_multibox(locations, scores, classes, offsets):
    n, a, c = scores.shape
    per_box = TF.cross_entropy(scores.reshape(n * a, c), classes.reshape(n * a), reduction="none").reshape(n, a)
    positive = classes > 0
    mined = hard_negatives(per_box.detach().double().numpy(), classes.numpy(), 3.0)
    chosen = positive | torch.from_numpy(mined)
    count = max(int(positive.sum()), 1)
    loc = (TF.smooth_l1_loss(locations, offsets, reduction="none").sum(dim=2) * positive).sum() / count
    return loc + (per_box * chosen).sum() / count


@settings(max_examples=10)
@given(seed=st.integers(0, 2**32 - 1))
def test_multibox_loss_matches_torch(seed):
    rng = np.random.default_rng(seed)
    n, a, c = 3, 12, 5
    classes = np.where(rng.uniform(size=(n, a)) < 0.2, rng.integers(1, c, (n, a)), 0)
    offsets = rng.normal(0, 1, (n, a, 4)).astype(np.float32)
    locations = rng.normal(0, 1, (n, a, 4)).astype(np.float32)
    scores = rng.normal(0, 2, (n, a, c)).astype(np.float32)
    compare_with_torch(
        lambda loc, s: sum(multibox_loss(loc, s, minidl.tensor(classes), minidl.tensor(offsets))),
        lambda loc, s: _torch_multibox(loc, s, torch.from_numpy(classes), torch.from_numpy(offsets).to(loc.dtype)),
        locations,
        scores,
        rtol=1e-4,
    )
