"""The Optimizer base and what every optimizer shares: parameters and groups, zero_grad, step (skipping, version
counters, closure), the state dict (round trip, snapshot, PyTorch's layout, loading PyTorch's state), and errors."""

import numpy as np
import pytest
import torch

import minidl
import minidl.optim
from minidl.optim import SGD, Adam, AdamW, RMSprop

# One configuration per optimizer that uses every kind of state it has.
FULL_STATE = {
    "SGD": {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
    "Adam": {"lr": 0.05, "amsgrad": True, "weight_decay": 0.01},
    "AdamW": {"lr": 0.05, "amsgrad": True},
    "RMSprop": {"lr": 0.01, "momentum": 0.5, "centered": True},
}
ALL = pytest.mark.parametrize("name", list(FULL_STATE))


def make_params(dtype=np.float64):
    rng = np.random.default_rng(0)
    return [minidl.from_numpy(rng.normal(size=s).astype(dtype)).requires_grad_() for s in [(3, 2), (2,), (4,)]]


def quadratic_step(opt, params):
    """One step on loss = Σ (p − 1)² · (1 + index), a different gradient for each parameter."""
    opt.zero_grad()
    loss = sum(((p - 1.0) ** 2).sum() * (i + 1) for i, p in enumerate(params))
    loss.backward()
    opt.step()


def groups(params, options):
    return [{"params": params[:2]}, {"params": params[2:], "lr": options["lr"] / 2}]


# -------------------------------------------------------------------------------------------- params and groups


def test_params_may_be_a_generator_of_tensors_or_named_pairs_or_groups():
    params = make_params()
    assert len(SGD(p for p in params).param_groups[0]["params"]) == 3
    named = SGD([("w", params[0]), ("b", params[1])], lr=0.1)
    assert named.param_groups[0]["param_names"] == ["w", "b"]
    assert named.param_groups[0]["params"][1] is params[1]
    opt = SGD(groups(params, {"lr": 0.1}), lr=0.1, momentum=0.9)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.05]
    assert all(g["momentum"] == 0.9 for g in opt.param_groups)  # defaults fill what a group leaves out


def test_a_tensor_subclass_such_as_parameter_is_accepted():
    class Parameter(minidl.Tensor):
        pass

    p = Parameter(np.ones(3), requires_grad=True)
    opt = SGD([p], lr=0.5)
    (p * p).sum().backward()
    opt.step()
    assert p.tolist() == [0.0, 0.0, 0.0]


def test_add_param_group_adds_a_group_that_steps_with_its_own_options():
    a, b = make_params()[:2]
    opt = SGD([a], lr=0.1)
    opt.add_param_group({"params": b, "lr": 0.5})  # a single tensor is accepted
    assert opt.param_groups[1]["momentum"] == 0 and opt.param_groups[1]["params"] == [b]
    before = b.detach().numpy().copy()
    (b * b).sum().backward()
    opt.step()
    np.testing.assert_allclose(b.detach().numpy(), before - 0.5 * 2 * before)


def test_frozen_parameters_are_skipped_until_unfrozen():
    """As in PyTorch: an optimizer may hold parameters with requires_grad=False (a frozen backbone); they have no
    gradient, so steps leave them alone, and they train once unfrozen, with the same optimizer."""
    frozen, free = minidl.ones(2), minidl.ones(2, requires_grad=True)
    opt = SGD([frozen, free], lr=0.5, momentum=0.9)
    (free * 2).sum().backward()
    opt.step()
    np.testing.assert_array_equal(frozen.numpy(), [1.0, 1.0])
    assert not np.array_equal(free.detach().numpy(), [1.0, 1.0])
    frozen.requires_grad_(True)
    opt.zero_grad()
    (frozen * 2 + free).sum().backward()
    opt.step()
    np.testing.assert_allclose(frozen.detach().numpy(), [0.0, 0.0])


@pytest.mark.parametrize(
    "params, error, match",
    [
        (lambda ps: ps[0], TypeError, r"single Tensor; pass \[tensor\]"),
        (lambda ps: [], ValueError, "empty parameter list"),
        (lambda ps: [ps[0], 3.0], TypeError, "parameter 1 is a float"),
        (lambda ps: [minidl.tensor([1, 2])], TypeError, "int64; only floating-point"),
        (lambda ps: [ps[0] * 2], ValueError, "not a leaf"),
        (lambda ps: {ps[0], ps[1]}, TypeError, "not a set"),
        (lambda ps: [ps[0], ps[0]], ValueError, "same parameter twice"),
        (lambda ps: [{"params": [ps[0]]}, {"params": [ps[0], ps[1]]}], ValueError, "more than one parameter group"),
        (lambda ps: [{"lr": 0.1}], ValueError, "needs a 'params' entry"),
        (lambda ps: [{"params": []}], ValueError, "no parameters"),
        (lambda ps: [("w", ps[0]), ps[1]], ValueError, "name or none"),
        (lambda ps: [{"params": [ps[0]], "lr": -1.0}], ValueError, "invalid learning rate lr -1.0"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_parameters_are_refused_clearly(params, error, match):
    with pytest.raises(error, match=match):
        SGD(params(make_params()), lr=0.1)


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda p: SGD(p, lr=-0.1), ValueError, r"SGD: invalid learning rate lr -0.1; it must be >= 0"),
        (lambda p: SGD(p, lr="0.1"), TypeError, "lr must be a number"),
        (lambda p: SGD(p, momentum=-0.5), ValueError, "invalid momentum -0.5"),
        (lambda p: SGD(p, weight_decay=-1e-4), ValueError, "invalid weight_decay"),
        (lambda p: SGD(p, nesterov=True), ValueError, "Nesterov momentum needs momentum > 0"),
        (lambda p: SGD(p, momentum=0.9, dampening=0.1, nesterov=True), ValueError, "dampening = 0.*dampening=0.1"),
        (lambda p: Adam(p, lr=-1e-3), ValueError, "Adam: invalid learning rate"),
        (lambda p: Adam(p, betas=(1.0, 0.999)), ValueError, r"invalid betas\[0\] 1.0; it must be in \[0, 1\)"),
        (lambda p: Adam(p, betas=(0.9, -0.1)), ValueError, r"invalid betas\[1\] -0.1"),
        (lambda p: Adam(p, betas=0.9), TypeError, "betas must be a pair"),
        (lambda p: Adam(p, eps=-1e-8), ValueError, "invalid eps"),
        (lambda p: Adam(p, weight_decay=-0.1), ValueError, "invalid weight_decay"),
        (lambda p: AdamW(p, betas=(0.9, 1.5)), ValueError, r"AdamW: invalid betas\[1\]"),
        (lambda p: RMSprop(p, alpha=-0.1), ValueError, "RMSprop: invalid alpha"),
        (lambda p: RMSprop(p, momentum=-0.1), ValueError, "invalid momentum"),
        (lambda p: RMSprop(p, eps=-1.0), ValueError, "invalid eps"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_hyper_parameters_are_refused_like_torch(make, error, match):
    with pytest.raises(error, match=match):
        make(make_params())


# ------------------------------------------------------------------------------------------ zero_grad and step


def test_zero_grad_sets_to_none_by_default_and_zeroes_in_place_on_request():
    params = make_params()
    opt = SGD(params, lr=0.1)
    quadratic_step(opt, params)
    grad = params[0].grad
    opt.zero_grad(set_to_none=False)
    assert params[0].grad is grad and not grad.numpy().any()  # the same tensor, zeroed
    opt.zero_grad()
    assert all(p.grad is None for p in params)
    opt.zero_grad()  # nothing to do: no error


@ALL
def test_step_skips_parameters_without_a_gradient(name):
    params = make_params()
    opt = getattr(minidl.optim, name)(params, **FULL_STATE[name])
    before = [p.detach().numpy().copy() for p in params]
    (params[0] ** 2).sum().backward()
    opt.step()
    assert not np.array_equal(params[0].detach().numpy(), before[0])
    for p, b in zip(params[1:], before[1:]):
        assert np.array_equal(p.detach().numpy(), b) and p._version[0] == 0
        assert p not in opt.state
    assert len(opt.state) == 1


def test_a_zero_gradient_still_steps_with_momentum_like_torch():
    """zero_grad(set_to_none=False) leaves zeros: the step runs and momentum keeps moving the parameter."""
    ours = minidl.tensor([1.0, -2.0], dtype=minidl.float64, requires_grad=True)
    theirs = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
    opts = SGD([ours], lr=0.1, momentum=0.9), torch.optim.SGD([theirs], lr=0.1, momentum=0.9)
    for step in range(4):
        for opt in opts:
            opt.zero_grad(set_to_none=False)
        if step < 2:
            (ours**2).sum().backward()
            (theirs**2).sum().backward()
        for opt in opts:
            opt.step()
    np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=1e-14)


@ALL
def test_step_leaves_the_gradient_alone_and_bumps_the_version_counter(name):
    params = make_params()
    opt = getattr(minidl.optim, name)(params, **FULL_STATE[name], maximize=True)
    y = (params[0] * params[0]).sum()  # saves params[0] for its backward
    (params[0] ** 3).sum().backward()
    grad = params[0].grad.numpy().copy()
    opt.step()
    assert np.array_equal(params[0].grad.numpy(), grad)
    assert params[0]._version[0] == 1
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def test_step_inside_a_recorded_graph_needs_no_no_grad_block_and_records_nothing():
    w = minidl.tensor([1.0, 2.0], requires_grad=True)
    opt = SGD([w], lr=0.1)
    (w * w).sum().backward()
    assert minidl.is_grad_enabled()
    opt.step()  # in place on a leaf that requires grad: allowed because step runs under no_grad
    assert minidl.is_grad_enabled() and w.is_leaf and w.grad_fn is None


def test_step_runs_the_closure_with_grad_enabled_and_returns_its_loss():
    w = minidl.tensor([3.0], dtype=minidl.float64, requires_grad=True)
    opt = SGD([w], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with minidl.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 9.0 and w.item() == 1.5  # 3 - 0.25 * 6
    assert opt.step() is None


def test_a_gradient_of_the_wrong_shape_or_dtype_is_a_clear_error():
    w = minidl.zeros(3, requires_grad=True)
    opt = SGD([w], lr=0.1)
    w.grad = minidl.zeros(4)
    with pytest.raises(RuntimeError, match=r"shape \(3,\), float32.*gradient of shape \(4,\), float32"):
        opt.step()
    w.grad = minidl.zeros(3, dtype=minidl.float64)
    with pytest.raises(RuntimeError, match="gradient of shape \\(3,\\), float64"):
        opt.step()


@ALL
def test_float32_parameters_and_state_stay_float32(name):
    params = make_params(np.float32)
    opt = getattr(minidl.optim, name)(params, **FULL_STATE[name])
    for _ in range(2):
        quadratic_step(opt, params)
    assert all(p.dtype == np.float32 for p in params)
    for state in opt.state.values():
        for value in state.values():
            if isinstance(value, minidl.Tensor):
                assert value.dtype == np.float32


def test_lr_can_be_changed_between_steps_through_param_groups():
    w = minidl.tensor([1.0], dtype=minidl.float64, requires_grad=True)
    opt = SGD([w], lr=0.1)
    opt.param_groups[0]["lr"] = 0.5
    (w * w).sum().backward()
    opt.step()
    assert w.item() == 0.0


def test_repr_lists_each_group_options():
    params = make_params()
    text = repr(SGD(groups(params, {"lr": 0.2}), lr=0.2))
    assert text.startswith("SGD (\nParameter Group 0\n") and "Parameter Group 1" in text and "lr: 0.1\n" in text


# -------------------------------------------------------------------------------------------------- state dict


@ALL
def test_state_dict_round_trip_continues_exactly(name):
    """Save after 10 steps, load into a fresh optimizer (other options in its constructor), go on 10 steps: the
    same parameters, bit for bit, as 20 steps straight."""
    options = FULL_STATE[name]
    cls = getattr(minidl.optim, name)
    straight = make_params()
    opt = cls(groups(straight, options), **options)
    for _ in range(20):
        quadratic_step(opt, straight)

    first = make_params()
    opt = cls(groups(first, options), **options)
    for _ in range(10):
        quadratic_step(opt, first)
    saved = opt.state_dict()

    resumed = [minidl.from_numpy(p.detach().numpy().copy()).requires_grad_() for p in first]
    fresh = cls(groups(resumed, {"lr": 1.0}), lr=1.0)
    fresh.load_state_dict(saved)
    assert [g["lr"] for g in fresh.param_groups] == [options["lr"], options["lr"] / 2]
    for _ in range(10):
        quadratic_step(fresh, resumed)
    for a, b in zip(resumed, straight):
        assert np.array_equal(a.detach().numpy(), b.detach().numpy())


@ALL
def test_state_dict_is_a_snapshot_and_loading_copies(name):
    params = make_params()
    opt = getattr(minidl.optim, name)(params, **FULL_STATE[name])
    quadratic_step(opt, params)
    saved = opt.state_dict()
    frozen = {k: v.numpy().copy() for k, v in saved["state"][0].items() if isinstance(v, minidl.Tensor)}
    step = saved["state"][0].get("step")
    quadratic_step(opt, params)
    assert saved["state"][0].get("step") == step
    for k, v in frozen.items():
        assert np.array_equal(saved["state"][0][k].numpy(), v)
    opt.load_state_dict(saved)
    quadratic_step(opt, params)  # writes into the loaded buffers, not into `saved`
    for k, v in frozen.items():
        assert np.array_equal(saved["state"][0][k].numpy(), v)


@ALL
def test_state_dict_has_torch_layout(name):
    """Same keys per parameter, same group options (those both have), same parameter numbering."""
    options = FULL_STATE[name]
    ours = make_params()
    theirs = [torch.tensor(p.detach().numpy(), requires_grad=True) for p in ours]
    opt = getattr(minidl.optim, name)(groups(ours, options), **options)
    topt = getattr(torch.optim, name)(groups(theirs, options), **options)
    quadratic_step(opt, ours)
    quadratic_step(topt, theirs)
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert sd["state"].keys() == tsd["state"].keys()
    for i in sd["state"]:
        assert sd["state"][i].keys() == tsd["state"][i].keys()
    for g, tg in zip(sd["param_groups"], tsd["param_groups"]):
        assert g["params"] == tg["params"]
        assert g == {k: tg[k] for k in g}


@ALL
def test_loading_torch_state_continues_like_torch(name):
    """A PyTorch state dict, its tensors turned into NumPy arrays and numbers, loads and carries on."""
    options = FULL_STATE[name]
    theirs = [torch.tensor(p.detach().numpy(), requires_grad=True) for p in make_params()]
    topt = getattr(torch.optim, name)(groups(theirs, options), **options)
    for _ in range(5):
        quadratic_step(topt, theirs)
    tsd = topt.state_dict()
    state = {
        i: {k: (v.item() if v.ndim == 0 else v.numpy().copy()) for k, v in s.items()} for i, s in tsd["state"].items()
    }
    ours = [minidl.from_numpy(p.detach().numpy().copy()).requires_grad_() for p in theirs]
    opt = getattr(minidl.optim, name)(groups(ours, options), **options)
    opt.load_state_dict({"state": state, "param_groups": tsd["param_groups"]})
    for _ in range(5):
        quadratic_step(topt, theirs)
        quadratic_step(opt, ours)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12)


def test_loading_casts_state_to_the_parameter_dtype():
    params32 = make_params(np.float32)
    opt64 = Adam(make_params(), lr=0.1)
    quadratic_step(opt64, opt64.param_groups[0]["params"])
    opt32 = Adam(params32, lr=0.1)
    opt32.load_state_dict(opt64.state_dict())
    assert opt32.state[params32[0]]["exp_avg"].dtype == np.float32
    quadratic_step(opt32, params32)


def test_load_state_dict_errors_name_expected_and_given():
    params = make_params()
    opt = SGD(groups(params, {"lr": 0.1}), lr=0.1, momentum=0.9)
    quadratic_step(opt, params)
    saved = opt.state_dict()
    with pytest.raises(ValueError, match="optimizer has 1 parameter groups, the loaded state dict has 2"):
        SGD(params, lr=0.1, momentum=0.9).load_state_dict(saved)
    with pytest.raises(ValueError, match="parameter group 0 has 1 parameters in the optimizer, 2 in the loaded"):
        SGD([{"params": params[:1]}, {"params": params[1:]}], lr=0.1).load_state_dict(saved)
    with pytest.raises(ValueError, match=r"keys 'state' and 'param_groups', got \['state'\]"):
        opt.load_state_dict({"state": {}})
    bad = opt.state_dict()
    bad["state"][0]["momentum_buffer"] = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"'momentum_buffer' of parameter 0 has shape \(2, 3\).*shape \(3, 2\)"):
        opt.load_state_dict(bad)
    bad = opt.state_dict()
    bad["state"][7] = {}
    with pytest.raises(ValueError, match="parameter 7, which no parameter group"):
        opt.load_state_dict(bad)
    bad = opt.state_dict()
    bad["param_groups"][0]["lr"] = -1
    with pytest.raises(ValueError, match="invalid learning rate"):
        opt.load_state_dict(bad)


def test_adamw_stays_decoupled():
    params = make_params()
    opt = AdamW([{"params": params, "decoupled_weight_decay": False}])
    assert opt.param_groups[0]["decoupled_weight_decay"] is True
    assert isinstance(opt, Adam)
