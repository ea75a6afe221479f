"""The base of every optimizer: parameter groups, per-parameter state, ``zero_grad``, ``step`` and the state dict.

An optimizer holds ``param_groups``: a list of dicts, each with ``"params"`` (a list of tensors) and that group's
options (``lr``, ``weight_decay``...; ``defaults`` fills what a group leaves out). ``state`` maps each parameter
to a dict of what the algorithm keeps between steps (a step count, moving averages). A subclass only says how
one parameter moves: ``_update(p, grad, state, group)``, working on raw arrays. The base does the rest:
the closure, ``no_grad``, skipping parameters without a gradient, and bumping each parameter's version counter
(so a graph that saved the old values refuses to backpropagate through them).

The layout of ``state_dict()`` is PyTorch's::

    {"state": {0: {"step": 3, "exp_avg": tensor(...), ...}, 1: {...}},
     "param_groups": [{"lr": 0.01, ..., "params": [0, 1]}, {"lr": 0.1, ..., "params": [2]}]}

where parameters are numbered in the order the groups list them.
"""

from __future__ import annotations

import numbers
from collections import defaultdict
from typing import Any, Callable, Iterable

import numpy as np

from minidl import dtypes
from minidl.autograd import enable_grad, no_grad
from minidl.tensor import Tensor

_NOT_A_SET = (
    "{name}: parameters must come in an ordered collection (a list), not a set: the order of a set changes "
    "between runs, and the state dict numbers parameters by their order"
)


class Optimizer:
    """Base class of the optimizers: ``Optimizer(params, defaults)``.

    params: an iterable of tensors (leaves with ``requires_grad=True``), of ``(name, tensor)`` pairs (as
    ``named_parameters()`` yields), or of dicts (parameter groups: ``{"params": [...], "lr": 0.1, ...}``).
    defaults: the options a group gets when it does not set them.
    """

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(
                f"{name}: params should be an iterable of tensors or of dicts (parameter groups), got a single "
                "Tensor; pass [tensor]"
            )
        if isinstance(params, dict):
            raise TypeError(f"{name}: params should be an iterable of tensors or dicts; pass [group] for one group")
        if isinstance(params, (set, frozenset)):
            raise TypeError(_NOT_A_SET.format(name=name))
        self.defaults: dict[str, Any] = dict(defaults)
        self._check_options(self.defaults)
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        self._step_count = 0  # completed steps; the lr schedulers read it to warn about a wrong call order
        groups = list(params)
        if not groups:
            raise ValueError(f"{name}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ------------------------------------------------------------------------------------------- subclasses
    def _check_options(self, options: dict[str, Any]) -> None:
        """Raise a clear error when one of a group's options is out of range (subclasses check theirs)."""

    def _update(self, p: Tensor, grad: Any, state: dict[str, Any], group: dict[str, Any]) -> None:
        """Move ``p.data`` in place by one step, given ``grad`` (a raw array shaped like ``p``, never written to),
        the parameter's ``state`` dict (empty at the first step) and its ``group``'s options."""
        raise NotImplementedError(f"{type(self).__name__} does not define _update")

    # ------------------------------------------------------------------------------------------------ groups
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own options (those it leaves out come from ``defaults``).

        Useful when fine-tuning: unfreeze layers and give them to the optimizer as training goes on.
        """
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}: a parameter group must be a dict, got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"{name}: a parameter group needs a 'params' entry, got keys {sorted(param_group)}")
        group = dict(param_group)
        params = group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(_NOT_A_SET.format(name=name))
        else:
            params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        if names:
            if len(names) != len(params):
                raise ValueError(f"{name}: give every parameter a name or none of them ({len(names)} of {len(params)})")
            params = [p[1] for p in params]
            group["param_names"] = names
        if not params:
            raise ValueError(f"{name}: a parameter group has no parameters")
        for i, p in enumerate(params):
            _check_param(name, i, p)
        group["params"] = params

        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self._check_options(group)

        ids = [id(p) for p in params]
        if len(set(ids)) != len(ids):
            raise ValueError(f"{name}: a parameter group lists the same parameter twice")
        for other in self.param_groups:
            if ("param_names" in other) != ("param_names" in group):
                raise ValueError(f"{name}: either every parameter group names its parameters or none does")
            if not set(ids).isdisjoint(id(p) for p in other["params"]):
                raise ValueError(f"{name}: some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    # ------------------------------------------------------------------------------------------------ stepping
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: set each ``.grad`` to None (the default), or fill it with zeros in place
        (``set_to_none=False``). A parameter whose ``.grad`` is None is skipped by ``step``; one with a zero
        gradient is not (momentum and weight decay still move it)."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if p.grad.requires_grad:
                        p.grad = p.grad.detach()
                    with no_grad():
                        p.grad.zero_()

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient, by one step of the algorithm.

        closure: optional; a function that clears the gradients, recomputes the loss, calls ``backward`` and
        returns the loss. It runs (with grad mode on) before the update; its loss is returned.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    grad = p.grad
                    if grad.shape != p.shape or grad.dtype != p.dtype or grad._backend is not p._backend:
                        raise RuntimeError(
                            f"{type(self).__name__}.step: a parameter of shape {tuple(p.shape)}, {p.dtype}, on "
                            f"{p.device} has a gradient of shape {tuple(grad.shape)}, {grad.dtype}, on {grad.device}"
                        )
                    self._update(p, grad.data, self.state[p], group)
                    p._version[0] += 1
        self._step_count += 1
        return loss

    # ---------------------------------------------------------------------------------------------- state dict
    def state_dict(self) -> dict[str, Any]:
        """A snapshot of the optimizer: ``{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}``.

        Parameters are numbered 0, 1, ... in the order the groups list them; the tensors themselves are not saved.
        Unlike PyTorch's, the dict is a copy: later steps do not change it (so it can be kept in memory as a
        checkpoint without ``copy.deepcopy``).
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: _copy_value(v) for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if self.state.get(p):
                    state[index[id(p)]] = {k: _copy_value(v) for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a snapshot from ``state_dict()``: the options of each group and the state of each parameter.

        The saved parameter groups must match this optimizer's in number and size (parameters are matched by
        position); arrays are copied (NumPy arrays are accepted too) to each parameter's device, floating-point
        ones cast to its dtype, and must have its shape.
        """
        name = type(self).__name__
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= state_dict.keys():
            got = sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict).__name__
            raise ValueError(f"{name}.load_state_dict: expected a dict with keys 'state' and 'param_groups', got {got}")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}.load_state_dict: the optimizer has {len(self.param_groups)} parameter groups, the loaded "
                f"state dict has {len(saved_groups)}"
            )
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(
                    f"{name}.load_state_dict: parameter group {i} has {len(group['params'])} parameters in the "
                    f"optimizer, {len(saved['params'])} in the loaded state dict"
                )
        by_index: dict[Any, Tensor] = {}
        for group, saved in zip(self.param_groups, saved_groups):
            by_index.update(zip(saved["params"], group["params"]))

        state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        for key, values in state_dict["state"].items():
            if key not in by_index:
                raise ValueError(
                    f"{name}.load_state_dict: the state has an entry for parameter {key!r}, which no parameter group "
                    f"of the loaded state dict lists (they list {sorted(by_index)})"
                )
            p = by_index[key]
            state[p] = {k: _load_value(name, key, k, v, p) for k, v in values.items()}

        groups = []
        for group, saved in zip(self.param_groups, saved_groups):
            new = {k: _copy_value(v) for k, v in saved.items() if k != "params"}
            for k, v in self.defaults.items():
                new.setdefault(k, v)
            if "param_names" in group and "param_names" not in saved:
                new["param_names"] = group["param_names"]
            new["params"] = group["params"]
            self._check_options(new)
            groups.append(new)
        self.state = state
        self.param_groups = groups

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k not in ("params", "param_names")]
        return "\n".join(lines) + "\n)"


# ---------------------------------------------------------------------------------------------------- helpers


def _check_param(optimizer: str, i: int, p: Any) -> None:
    if not isinstance(p, Tensor):
        raise TypeError(f"{optimizer}: can only optimize Tensors, but parameter {i} is a {type(p).__name__}")
    if not dtypes.is_floating(p.dtype):
        raise TypeError(f"{optimizer}: parameter {i} is {p.dtype.name}; only floating-point tensors can be optimized")
    if not p.is_leaf:
        raise ValueError(
            f"{optimizer}: parameter {i} was made by a recorded op (it is not a leaf), so it never gets a .grad; "
            "optimize the leaf tensors it was computed from"
        )


def _copy_value(value: Any) -> Any:
    """A copy of a state or option value that later steps cannot change (tensors and arrays copied)."""
    if isinstance(value, Tensor):
        return Tensor._make(value._backend.xp.array(value.data, copy=True), value._backend)
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, list):
        return [_copy_value(v) for v in value]
    if isinstance(value, dict):
        return {k: _copy_value(v) for k, v in value.items()}
    return value


def _load_value(optimizer: str, index: Any, key: str, value: Any, p: Tensor) -> Any:
    """A loaded state value for parameter ``p``: arrays become tensors on p's device (p's dtype when floating)."""
    if isinstance(value, Tensor):
        value = value._backend.to_numpy(value.data)
    if isinstance(value, np.ndarray):
        if value.shape != p.shape:
            raise ValueError(
                f"{optimizer}.load_state_dict: state {key!r} of parameter {index} has shape {value.shape}, but the "
                f"parameter has shape {tuple(p.shape)}"
            )
        if dtypes.is_floating(value.dtype):
            value = value.astype(p.dtype)
        return Tensor._make(p._backend.from_numpy(np.array(value, copy=True)), p._backend)
    return _copy_value(value)


def check_number(optimizer: str, name: str, value: Any, low: float = 0.0, high: float | None = None) -> None:
    """Raise a clear error unless ``value`` is a real number with low <= value (< high when given)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{optimizer}: {name} must be a number, got {value!r}")
    if high is None and not value >= low:
        raise ValueError(f"{optimizer}: invalid {name} {value!r}; it must be >= {low:g}")
    if high is not None and not low <= value < high:
        raise ValueError(f"{optimizer}: invalid {name} {value!r}; it must be in [{low:g}, {high:g})")


def lerp_(start: Any, end: Any, weight: float) -> None:
    """start += weight * (end - start), in place, with PyTorch's two formulas (the second is exact at weight 1)."""
    if abs(weight) < 0.5:
        start += weight * (end - start)
    else:
        start[...] = end - (end - start) * (1 - weight)
