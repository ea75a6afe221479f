"""A whole model trained in both libraries: the same small CNN (conv, batch norm, ReLU, max-pool, depthwise conv,
global pooling, linear), the same weights, data and optimizer; after 20 steps the parameters and the batch-norm
running statistics must agree (float32, 1e-4 relative: a whole model, as the project's rule says)."""

import numpy as np
import pytest
import torch

import minidl
from tests.nn.models import small_cnn
from tests.support import assert_close

OPTIMIZERS = {
    "sgd-momentum-nesterov": (lambda opt, p: opt.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4)),
    "adam": (lambda opt, p: opt.Adam(p, lr=1e-2)),
    "adamw-amsgrad": (lambda opt, p: opt.AdamW(p, lr=1e-2, amsgrad=True)),
    "rmsprop-centered": (lambda opt, p: opt.RMSprop(p, lr=1e-3, momentum=0.5, centered=True)),
}


def _models():
    torch.manual_seed(0)
    theirs = small_cnn(torch)
    ours = small_cnn(minidl)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    for model in (ours, theirs):
        model.classifier[0].p = 0.0  # dropout masks cannot match between two generators: switch it off
    return ours, theirs


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_twenty_steps_match_torch(name):
    ours, theirs = _models()
    make = OPTIMIZERS[name]
    opt_ours, opt_theirs = make(minidl.optim, ours.parameters()), make(torch.optim, theirs.parameters())
    sched_ours = minidl.optim.lr_scheduler.CosineAnnealingLR(opt_ours, T_max=20)
    sched_theirs = torch.optim.lr_scheduler.CosineAnnealingLR(opt_theirs, T_max=20)
    rng = np.random.default_rng(0)
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for _ in range(20):
            x = rng.standard_normal((6, 3, 8, 8)).astype(np.float32)
            y = rng.integers(0, 10, 6)
            for model, opt, sched, lib in (
                (ours, opt_ours, sched_ours, minidl),
                (theirs, opt_theirs, sched_theirs, torch),
            ):
                opt.zero_grad()
                loss = lib.nn.functional.cross_entropy(model(lib.tensor(x)), lib.tensor(y), label_smoothing=0.1)
                loss.backward()
                opt.step()
                sched.step()
    finally:
        torch.set_num_threads(previous)
    expected = theirs.state_dict()
    for key, value in ours.state_dict().items():
        assert_close(value, expected[key], rtol=1e-4)
