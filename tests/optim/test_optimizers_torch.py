"""Each optimizer against PyTorch 2.13: 20 steps on the same MLP (same init, same batch) give the same parameters,
to 1e-5 in float32 and 1e-10 in float64; with two parameter groups too; and, for drawn hyper-parameters, the
update formulas alone (a synthetic gradient, no model) agree to 1e-10."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import minidl.optim
from tests.optim.problem import run_with_synthetic_grads, train_minidl, train_torch
from tests.support import assert_close

TOLERANCE = {np.float32: 1e-5, np.float64: 1e-10}
DTYPES = pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])

CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.5}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("SGD", {"lr": 0.1, "momentum": 0.8, "weight_decay": 0.05}),
    ("SGD", {"lr": 0.05, "weight_decay": 0.01, "maximize": True}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01, "maximize": True}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "amsgrad": True}),
    ("Adam", {"lr": 0.01, "weight_decay": 0.1}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.05, "amsgrad": True, "maximize": True}),
    ("Adam", {"lr": 0.01, "betas": (0.3, 0.9), "weight_decay": 0.1, "decoupled_weight_decay": True}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}),
    ("AdamW", {"lr": 0.02, "betas": (0.5, 0.95), "weight_decay": 0.3, "maximize": True}),
    ("RMSprop", {}),
    ("RMSprop", {"lr": 0.01, "centered": True}),
    ("RMSprop", {"lr": 0.005, "momentum": 0.9}),
    ("RMSprop", {"lr": 0.005, "alpha": 0.9, "centered": True, "momentum": 0.5, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.005, "weight_decay": 0.05, "maximize": True}),
]


def _id(case):
    name, options = case
    return name + "".join(f"-{k}={v}" for k, v in options.items())


@DTYPES
@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_twenty_steps_match_torch(case, dtype):
    name, options = case
    ours = train_minidl(name, options, dtype)
    theirs = train_torch(name, options, dtype)
    for a, b in zip(ours, theirs):
        assert a.dtype == dtype
        assert_close(a, b, rtol=TOLERANCE[dtype])


GROUP_CASES = [
    ("SGD", {"lr": 0.1, "momentum": 0.9}, [{"lr": 0.2}, {"lr": 0.05, "weight_decay": 0.1}]),
    ("Adam", {"lr": 0.01}, [{"weight_decay": 0.1}, {"lr": 0.003, "amsgrad": True}]),
    ("AdamW", {"lr": 0.01}, [{"weight_decay": 0.0}, {"lr": 0.03, "weight_decay": 0.2}]),
    ("RMSprop", {"lr": 0.01}, [{"centered": True}, {"lr": 0.002, "momentum": 0.9, "weight_decay": 0.1}]),
]


@DTYPES
@pytest.mark.parametrize("case", GROUP_CASES, ids=[c[0] for c in GROUP_CASES])
def test_two_parameter_groups_match_torch(case, dtype):
    name, options, groups = case
    ours = train_minidl(name, options, dtype, groups)
    theirs = train_torch(name, options, dtype, groups)
    for a, b in zip(ours, theirs):
        assert_close(a, b, rtol=TOLERANCE[dtype])
    # The groups really differ: one shared lr would give other parameters.
    if name != "AdamW":
        alone = train_minidl(name, options, dtype)
        assert not np.allclose(alone[3], ours[3])


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop"])
def test_defaults_match_torch(name):
    ours = getattr(minidl.optim, name)([minidl.zeros(1, requires_grad=True)])
    theirs = getattr(torch.optim, name)([torch.zeros(1, requires_grad=True)])
    assert ours.defaults == {k: theirs.defaults[k] for k in ours.defaults}


# ------------------------------------------------------------------------- drawn hyper-parameters, formulas only

FEW = settings(max_examples=max(10, settings.default.max_examples // 4))
theta0 = st.integers(0, 2**32 - 1).map(lambda seed: np.random.default_rng(seed).uniform(-2, 2, (3, 4)))
rates = st.floats(1e-4, 0.3)
decays = st.just(0.0) | st.floats(1e-4, 0.5)


def _compare(make, theta):
    ours, theirs = run_with_synthetic_grads(
        lambda p: make(minidl.optim, p), lambda p: make(torch.optim, p), theta, steps=10
    )
    assert_close(ours, theirs, rtol=1e-10)


@FEW
@given(
    theta=theta0,
    lr=rates,
    momentum=st.just(0.0) | st.floats(0.0, 0.99),
    dampening=st.just(0.0) | st.floats(0.0, 1.0),
    weight_decay=decays,
    nesterov=st.booleans(),
    maximize=st.booleans(),
)
def test_sgd_formulas_match_torch(theta, lr, momentum, dampening, weight_decay, nesterov, maximize):
    if nesterov and (momentum == 0 or dampening != 0):
        nesterov = False
    options = dict(
        lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov, maximize=maximize
    )
    _compare(lambda lib, p: lib.SGD(p, **options), theta)


@FEW
@given(
    theta=theta0,
    name=st.sampled_from(["Adam", "AdamW"]),
    lr=rates,
    beta1=st.floats(0.0, 0.99),
    beta2=st.floats(0.5, 0.9999),
    eps=st.sampled_from([1e-8, 1e-3]),
    weight_decay=decays,
    amsgrad=st.booleans(),
    maximize=st.booleans(),
)
def test_adam_formulas_match_torch(theta, name, lr, beta1, beta2, eps, weight_decay, amsgrad, maximize):
    options = dict(lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize)
    _compare(lambda lib, p: getattr(lib, name)(p, **options), theta)


@FEW
@given(
    theta=theta0,
    lr=rates,
    alpha=st.floats(0.5, 0.999),
    eps=st.sampled_from([1e-8, 1e-3]),
    weight_decay=decays,
    momentum=st.just(0.0) | st.floats(0.0, 0.95),
    centered=st.booleans(),
    maximize=st.booleans(),
)
def test_rmsprop_formulas_match_torch(theta, lr, alpha, eps, weight_decay, momentum, centered, maximize):
    options = dict(
        lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum, centered=centered, maximize=maximize
    )
    _compare(lambda lib, p: lib.RMSprop(p, **options), theta)
