"""Learning-rate schedulers against PyTorch 2.13: the lr sequence over 30 steps (both parameter groups) equals
PyTorch's to 1e-12 for fixed and drawn settings, chained schedulers and resumed ones; ReduceLROnPlateau fed the
same metrics; state-dict round trips; the call-order warning; errors."""

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import minidl
from minidl.optim import SGD, lr_scheduler

STEPS = 30
LRS = (0.1, 0.01)


def make_optimizers(lrs=LRS, **extra):
    """An SGD with one parameter group per lr, in minidl and in PyTorch (groups may carry ``extra`` keys)."""
    ours = SGD([{"params": [minidl.zeros(1, requires_grad=True)], "lr": lr, **extra} for lr in lrs])
    theirs = torch.optim.SGD([{"params": [torch.zeros(1, requires_grad=True)], "lr": lr, **extra} for lr in lrs])
    return ours, theirs


def run(optimizer, schedulers, steps=STEPS, metrics=None):
    """The lrs of every group, as the schedulers (stepped in order, after optimizer.step()) set them, and as the
    first scheduler's get_last_lr() reports them: steps + 1 rows."""
    first = schedulers[0]
    rows = [[g["lr"] for g in optimizer.param_groups]]
    for i in range(steps):
        optimizer.step()
        for s in schedulers:
            s.step(metrics[i]) if metrics is not None else s.step()
        lrs = [g["lr"] for g in optimizer.param_groups]
        assert first.get_last_lr() == lrs or len(schedulers) > 1
        rows.append(lrs)
    return np.array(rows)


def assert_same_lrs(ours, theirs):
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-300)


def compare(name, kwargs, steps=STEPS, metrics=None, lrs=LRS):
    opt, topt = make_optimizers(lrs)
    ours = getattr(lr_scheduler, name)(opt, **kwargs)
    theirs = getattr(torch.optim.lr_scheduler, name)(topt, **kwargs)
    assert_same_lrs(run(opt, [ours], steps, metrics), run(topt, [theirs], steps, metrics))


def _decay(epoch):
    return 0.95**epoch


def _warmup(epoch):
    return min(1.0, (epoch + 1) / 5)


CASES = [
    ("StepLR", {"step_size": 7, "gamma": 0.5}),
    ("StepLR", {"step_size": 1}),
    ("MultiStepLR", {"milestones": [3, 7, 7, 12], "gamma": 0.5}),
    ("MultiStepLR", {"milestones": [0, 5]}),
    ("ExponentialLR", {"gamma": 0.9}),
    ("CosineAnnealingLR", {"T_max": 10, "eta_min": 0.001}),
    ("CosineAnnealingLR", {"T_max": 30}),
    ("CosineAnnealingLR", {"T_max": 7, "eta_min": 0.05}),
    ("LambdaLR", {"lr_lambda": _decay}),
    ("LambdaLR", {"lr_lambda": [_decay, _warmup]}),
    ("LinearLR", {}),
    ("LinearLR", {"start_factor": 0.1, "total_iters": 10}),
    ("LinearLR", {"start_factor": 0.5, "end_factor": 0.2, "total_iters": 3}),
    ("LinearLR", {"start_factor": 0.25, "total_iters": 0}),
]


def _id(case):
    name, kwargs = case
    return name + "".join(f"-{k}={getattr(v, '__name__', v)}" for k, v in kwargs.items())


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_schedule_matches_torch(case):
    compare(*case)


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_resumed_schedule_matches_torch(case):
    """last_epoch >= 0 on groups that already hold initial_lr (as after loading an optimizer checkpoint)."""
    name, kwargs = case
    opt, topt = make_optimizers(lrs=(0.05, 0.02), initial_lr=0.1)
    ours = getattr(lr_scheduler, name)(opt, **kwargs, last_epoch=4)
    theirs = getattr(torch.optim.lr_scheduler, name)(topt, **kwargs, last_epoch=4)
    assert ours.base_lrs == theirs.base_lrs == [0.1, 0.1]
    assert_same_lrs(run(opt, [ours]), run(topt, [theirs]))


@pytest.mark.parametrize(
    "chain",
    [
        [("LinearLR", {"start_factor": 0.1, "total_iters": 5}), ("CosineAnnealingLR", {"T_max": 30})],
        [("ExponentialLR", {"gamma": 0.95}), ("MultiStepLR", {"milestones": [10, 20]})],
        [("StepLR", {"step_size": 4, "gamma": 0.7}), ("LambdaLR", {"lr_lambda": _decay})],
    ],
    ids=["warmup+cosine", "exponential+multistep", "step+lambda"],
)
def test_chained_schedulers_match_torch(chain):
    """Several schedulers on one optimizer compose through the recursive forms."""
    opt, topt = make_optimizers()
    ours = [getattr(lr_scheduler, name)(opt, **kw) for name, kw in chain]
    theirs = [getattr(torch.optim.lr_scheduler, name)(topt, **kw) for name, kw in chain]
    assert_same_lrs(run(opt, ours), run(topt, theirs))


FEW = settings(max_examples=max(10, settings.default.max_examples // 2))


@st.composite
def schedules(draw):
    name = draw(st.sampled_from(["StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "LinearLR"]))
    gamma = draw(st.floats(0.05, 1.0))
    if name == "StepLR":
        return name, {"step_size": draw(st.integers(1, 10)), "gamma": gamma}
    if name == "MultiStepLR":
        return name, {"milestones": draw(st.lists(st.integers(0, STEPS), max_size=5)), "gamma": gamma}
    if name == "ExponentialLR":
        return name, {"gamma": gamma}
    if name == "CosineAnnealingLR":
        return name, {"T_max": draw(st.integers(1, 15)), "eta_min": draw(st.just(0.0) | st.floats(0, 0.05))}
    start = draw(st.floats(0.01, 1.0))
    return name, {
        "start_factor": start,
        "end_factor": draw(st.floats(0.0, 1.0)),
        "total_iters": draw(st.integers(0, 12)),
    }


@FEW
@given(schedule=schedules(), lrs=st.tuples(st.floats(1e-4, 1.0), st.floats(1e-4, 1.0)))
def test_drawn_schedules_match_torch(schedule, lrs):
    compare(*schedule, lrs=lrs)


# ------------------------------------------------------------------------------------------- ReduceLROnPlateau

LOSSES = [1.0, 0.9, 0.9, 0.91, 0.95, 0.9, 0.89999, 0.85, 0.86, 0.86, 0.87, 0.88, 0.8, 0.8, 0.8]
LOSSES = LOSSES + LOSSES[::-1]


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"patience": 2},
        {"patience": 1, "factor": 0.5, "cooldown": 2},
        {"patience": 0, "threshold": 0.05, "threshold_mode": "abs", "min_lr": [0.02, 0.001]},
        {"mode": "max", "patience": 1, "factor": 0.3},
        {"mode": "max", "patience": 2, "threshold_mode": "abs", "threshold": 0.01, "min_lr": 0.009, "eps": 1e-3},
    ],
    ids=str,
)
def test_reduce_on_plateau_matches_torch(kwargs):
    compare("ReduceLROnPlateau", kwargs, metrics=LOSSES)


@FEW
@given(
    mode=st.sampled_from(["min", "max"]),
    factor=st.floats(0.0, 0.99),
    patience=st.integers(0, 4),
    threshold=st.sampled_from([0.0, 1e-4, 0.05]),
    threshold_mode=st.sampled_from(["rel", "abs"]),
    cooldown=st.integers(0, 3),
    min_lr=st.sampled_from([0, 1e-3]) | st.tuples(st.floats(0, 0.05), st.floats(0, 0.05)).map(list),
    eps=st.sampled_from([1e-8, 1e-3]),
    metrics=st.lists(st.sampled_from([1.0, 0.99, 0.98, 0.9, 0.5, -0.5, 2.0]), min_size=STEPS, max_size=STEPS),
)
def test_drawn_plateaus_match_torch(mode, factor, patience, threshold, threshold_mode, cooldown, min_lr, eps, metrics):
    kwargs = dict(
        mode=mode,
        factor=factor,
        patience=patience,
        threshold=threshold,
        threshold_mode=threshold_mode,
        cooldown=cooldown,
        min_lr=min_lr,
        eps=eps,
    )
    compare("ReduceLROnPlateau", kwargs, metrics=metrics)


def test_reduce_on_plateau_reads_a_tensor_metric():
    opt, _ = make_optimizers()
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=0)
    sched.step(minidl.tensor(1.0))
    sched.step(minidl.tensor([2.0]))
    assert sched.get_last_lr() == pytest.approx([0.01, 0.001]) and sched.best == 1.0


# -------------------------------------------------------------------------------------------------- state dict


class Decay:
    """A callable lr_lambda with state (saved in the scheduler's state dict, unlike a function)."""

    def __init__(self, base):
        self.base = base

    def __call__(self, epoch):
        return self.base**epoch


ROUND_TRIP = [*CASES[::2], ("LambdaLR", {"lr_lambda": Decay(0.9)}), ("ReduceLROnPlateau", {"patience": 1})]


@pytest.mark.parametrize("case", ROUND_TRIP, ids=[_id(c) for c in ROUND_TRIP])
def test_state_dict_round_trip_continues_the_schedule(case):
    """Save optimizer and scheduler after 12 steps; a fresh pair loads both and goes on: the same sequence as 30
    straight steps."""
    name, kwargs = case
    metrics = LOSSES if name == "ReduceLROnPlateau" else None
    opt, _ = make_optimizers()
    straight = run(opt, [getattr(lr_scheduler, name)(opt, **kwargs)], metrics=metrics)

    opt, _ = make_optimizers()
    sched = getattr(lr_scheduler, name)(opt, **kwargs)
    first = run(opt, [sched], steps=12, metrics=metrics)
    saved_opt, saved_sched = opt.state_dict(), sched.state_dict()
    sched.step(LOSSES[0]) if metrics else sched.step()  # changes nothing already saved
    if isinstance(kwargs.get("lr_lambda"), Decay):
        kwargs = {"lr_lambda": Decay(0.5)}  # its state comes back from the state dict
        assert saved_sched["lr_lambdas"] == [{"base": 0.9}, {"base": 0.9}]

    opt, _ = make_optimizers(lrs=(1.0, 1.0))
    sched = getattr(lr_scheduler, name)(opt, **kwargs)  # make the scheduler first, then load: as in PyTorch
    opt.load_state_dict(saved_opt)
    sched.load_state_dict(saved_sched)
    rest = run(opt, [sched], steps=STEPS - 12, metrics=metrics[12:] if metrics else None)
    np.testing.assert_array_equal(np.concatenate([first, rest[1:]]), straight)


def test_state_dict_keys_match_torch():
    for name, kwargs in CASES[::3]:
        opt, topt = make_optimizers()
        ours = getattr(lr_scheduler, name)(opt, **kwargs).state_dict()
        theirs = getattr(torch.optim.lr_scheduler, name)(topt, **kwargs).state_dict()
        for key in ("base_lrs", "last_epoch", "_step_count", "_last_lr"):
            assert ours[key] == theirs[key], (name, key)


# ------------------------------------------------------------------------------------------------ use and misuse


def test_get_last_lr_is_a_copy():
    opt, _ = make_optimizers()
    sched = lr_scheduler.StepLR(opt, step_size=1)
    sched.get_last_lr()[0] = 123.0
    assert sched.get_last_lr() == [0.1, 0.01]


def test_stepping_the_scheduler_before_the_optimizer_warns():
    opt, _ = make_optimizers()
    sched = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    with pytest.warns(UserWarning, match=r"before optimizer.step\(\)"):
        sched.step()
    opt, _ = make_optimizers()
    sched = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.step()
        sched.step()
        sched.step()


def test_a_group_added_after_the_scheduler_is_a_clear_error():
    opt, _ = make_optimizers()
    sched = lr_scheduler.LambdaLR(opt, _decay)  # one lambda and one base lr per group it was made with
    opt.add_param_group({"params": [minidl.zeros(1, requires_grad=True)]})
    opt.step()
    with pytest.raises(RuntimeError, match="3 parameter groups, but the schedule gave 2"):
        sched.step()


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda o: lr_scheduler.StepLR("sgd", step_size=2), TypeError, "expected a minidl.optim.Optimizer, got str"),
        (lambda o: lr_scheduler.StepLR(o, step_size=0), ValueError, "step_size must be an integer >= 1, got 0"),
        (lambda o: lr_scheduler.MultiStepLR(o, [2, -1]), ValueError, "milestone must be an integer >= 0, got -1"),
        (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=0), ValueError, "T_max must be a number > 0, got 0"),
        (lambda o: lr_scheduler.LinearLR(o, start_factor=0), ValueError, r"start_factor must be in \(0, 1\], got 0"),
        (lambda o: lr_scheduler.LinearLR(o, end_factor=1.5), ValueError, r"end_factor must be in \[0, 1\], got 1.5"),
        (lambda o: lr_scheduler.LambdaLR(o, [_decay]), ValueError, "expected 2 lr_lambdas.*got 1"),
        (lambda o: lr_scheduler.LambdaLR(o, 0.5), TypeError, "lr_lambda must be callable, got float"),
        (lambda o: lr_scheduler.ExponentialLR(o, 0.5, last_epoch=3), KeyError, r"param_groups\[0\]\['initial_lr'\]"),
        (lambda o: lr_scheduler.ReduceLROnPlateau(o, factor=1.0), ValueError, "factor must be < 1, got 1.0"),
        (lambda o: lr_scheduler.ReduceLROnPlateau(o, mode="avg"), ValueError, "mode must be 'min' or 'max'"),
        (lambda o: lr_scheduler.ReduceLROnPlateau(o, threshold_mode="x"), ValueError, "threshold_mode must be"),
        (lambda o: lr_scheduler.ReduceLROnPlateau(o, min_lr=[0.1]), ValueError, "expected 2 min_lrs.*got 1"),
        (lambda o: lr_scheduler.ReduceLROnPlateau(o, patience=-1), ValueError, "patience must be an integer >= 0"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_arguments_are_refused_clearly(make, error, match):
    opt, _ = make_optimizers()
    with pytest.raises(error, match=match):
        make(opt)
