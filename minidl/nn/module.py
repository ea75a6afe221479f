"""``Module``: the base class of every layer and model.

A module owns three ordered tables, filled by plain attribute assignment in ``__init__``:

- ``_parameters``: the ``Parameter`` objects (``self.weight = Parameter(...)``);
- ``_buffers``: tensors that are state but not learned (``self.register_buffer("running_mean", ...)``);
- ``_modules``: the sub-modules (``self.conv1 = Conv2d(...)``).

Everything else follows from walking these tables in order: ``parameters()``, ``state_dict()`` (keys such as
``"features.0.weight"``, as PyTorch names them), ``train()``/``eval()``, ``to(device)``, the nested ``repr``.
"""

from __future__ import annotations

import copy
import itertools
import pickle
import weakref
from collections import OrderedDict
from typing import Any, Callable, Iterator, Mapping, NamedTuple

import numpy as np

from minidl import dtypes
from minidl.autograd import no_grad
from minidl.backend import get_backend
from minidl.nn.parameter import Parameter
from minidl.tensor import Tensor


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict`` returns: the keys the model expected but did not get, and those it got but has
    no place for (PyTorch's ``_IncompatibleKeys``)."""

    missing_keys: list[str]
    unexpected_keys: list[str]

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return f"IncompatibleKeys(missing_keys={self.missing_keys}, unexpected_keys={self.unexpected_keys})"

    __str__ = __repr__


class RemovableHandle:
    """Returned by ``register_forward_hook`` and friends: ``handle.remove()`` takes the hook off again."""

    _ids = itertools.count()

    def __init__(self, hooks: dict):
        self._hooks = weakref.ref(hooks)
        self.id = next(self._ids)

    def remove(self) -> None:
        hooks = self._hooks()
        if hooks is not None:
            hooks.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def _addindent(text: str, spaces: int) -> str:
    """Indent every line of ``text`` but the first."""
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


def _check_name(name: Any, kind: str) -> None:
    if not isinstance(name, str):
        raise TypeError(f"{kind} name should be a string, got {type(name).__name__}")
    if name == "":
        raise KeyError(f"{kind} name cannot be an empty string")
    if "." in name:
        raise KeyError(f'{kind} name cannot contain ".", got {name}')


class Module:
    """Base class of layers and models: subclass it, create parameters and sub-modules in ``__init__`` (after
    calling ``super().__init__()``), and write ``forward``. Calling the module runs ``forward`` (and any hooks).

    ::

        class TwoLayer(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = nn.Linear(4, 8)
                self.fc2 = nn.Linear(8, 2)

            def forward(self, x):
                return self.fc2(F.relu(self.fc1(x)))
    """

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers_set", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())

    # ------------------------------------------------------------------------------------------- forward
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation of this module; every subclass defines it."""
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not self._forward_pre_hooks and not self._forward_hooks:
            return self.forward(*args, **kwargs)
        for hook in list(self._forward_pre_hooks.values()):
            result = hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        output = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            result = hook(self, args, output)
            if result is not None:
                output = result
        return output

    def register_forward_pre_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(module, args)`` before each forward; a non-None result replaces the positional args."""
        handle = RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[handle.id] = hook
        return handle

    def register_forward_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(module, args, output)`` after each forward; a non-None result replaces the output."""
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        return handle

    # ---------------------------------------------------------------------------------------- registration
    def _require_init(self, what: str) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {what} before Module.__init__() call")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add ``param`` (a Parameter, or None for an optional one such as a missing bias) under ``name``."""
        self._require_init("parameter")
        _check_name(name, "parameter")
        if hasattr(self, name) and name not in self._parameters:
            raise KeyError(f"attribute '{name}' already exists")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign '{type(param).__name__}' object to parameter '{name}' (nn.Parameter or None "
                "required); wrap it: nn.Parameter(tensor)"
            )
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a tensor that is state but not a parameter (BatchNorm's running statistics). Buffers move with
        ``to()`` and, when ``persistent``, are saved in ``state_dict()``."""
        self._require_init("buffer")
        _check_name(name, "buffer")
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"attribute '{name}' already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' (Tensor or None required)"
            )
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Add ``module`` as a child under ``name`` (also done by ``self.name = module``)."""
        self._require_init("child module")
        _check_name(name, "module")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        self._modules[name] = module

    register_module = add_module

    def __setattr__(self, name: str, value: Any) -> None:
        params = self.__dict__.get("_parameters")
        if isinstance(value, Parameter):
            self._require_init("parameters")
            self._forget(name, keep="_parameters")
            self.register_parameter(name, value)
            return
        if params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as parameter '{name}' (nn.Parameter or None expected)"
                )
            params[name] = None
            return
        if isinstance(value, Module):
            self._require_init("child module")
            self._forget(name, keep="_modules")
            self._modules[name] = value
            return
        modules = self.__dict__.get("_modules")
        if modules is not None and name in modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign '{type(value).__name__}' as child module '{name}' (nn.Module or None expected)"
                )
            modules[name] = None
            return
        buffers = self.__dict__.get("_buffers")
        if buffers is not None and name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' (Tensor or None expected)")
            buffers[name] = value
            return
        object.__setattr__(self, name, value)

    def _forget(self, name: str, keep: str) -> None:
        """Remove ``name`` from the instance dict and from the tables other than ``keep`` (before it is registered
        in ``keep``, where it keeps its place if it was there)."""
        self.__dict__.pop(name, None)
        for table in ("_parameters", "_buffers", "_modules"):
            if table != keep:
                self.__dict__[table].pop(name, None)
        self._non_persistent_buffers_set.discard(name)

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: look in the three tables.
        state = self.__dict__
        for table in ("_parameters", "_buffers", "_modules"):
            entries = state.get(table)
            if entries is not None and name in entries:
                return entries[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for table in ("_parameters", "_buffers", "_modules"):
            entries = self.__dict__.get(table)
            if entries is not None and name in entries:
                del entries[name]
                self._non_persistent_buffers_set.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        names = set(super().__dir__())
        for table in ("_parameters", "_buffers", "_modules"):
            names.update(self.__dict__.get(table, {}))
        return sorted(names)

    def get_submodule(self, target: str) -> Module:
        """The sub-module at dotted path ``target`` ("features.0"); "" is the module itself."""
        module = self
        if target == "":
            return module
        for item in target.split("."):
            child = module._modules.get(item) if isinstance(module, Module) else None
            if child is None:
                raise AttributeError(f"{type(module).__name__} has no sub-module `{item}` (looking for {target!r})")
            module = child
        return module

    def set_submodule(self, target: str, module: Module) -> None:
        """Replace (or add) the sub-module at dotted path ``target`` ("classifier.6"); its parent must exist.
        A replaced child keeps its place in the order of children."""
        if not isinstance(module, Module):
            raise TypeError(f"set_submodule: {type(module).__name__} is not a Module subclass")
        if target == "":
            raise ValueError("set_submodule: target cannot be empty (it names a sub-module, not the module itself)")
        parent, _, name = target.rpartition(".")
        self.get_submodule(parent).add_module(name, module)

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at dotted path ``target`` ("features.0.weight")."""
        path, _, name = target.rpartition(".")
        module = self.get_submodule(path)
        if name not in module._parameters:
            raise AttributeError(f"{type(module).__name__} has no parameter `{name}` (looking for {target!r})")
        return module._parameters[name]

    # ------------------------------------------------------------------------------------------- traversal
    def _named_members(
        self, table: str, prefix: str, recurse: bool, remove_duplicate: bool
    ) -> Iterator[tuple[str, Any]]:
        seen: set[int] = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in module.__dict__[table].items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                if remove_duplicate:
                    seen.add(id(value))
                yield (module_prefix + "." if module_prefix else "") + name, value

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) pairs, this module's first, then each child's in order; a parameter shared
        by several modules comes once."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """The parameters (with those of every sub-module unless ``recurse=False``), each once."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        """(dotted name, buffer) pairs, in the order of ``named_parameters``."""
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """The buffers (with those of every sub-module unless ``recurse=False``)."""
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """(name, module) for the direct sub-modules, in registration order."""
        seen: set[int] = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self) -> Iterator[Module]:
        """The direct sub-modules, in registration order."""
        for _, module in self.named_children():
            yield module

    def named_modules(
        self, memo: set | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        """(dotted name, module) for this module ("") and every sub-module, depth first, each once."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            yield from module.named_modules(memo, prefix + "." + name if prefix else name, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        """This module and every sub-module, depth first, each once."""
        for _, module in self.named_modules():
            yield module

    # ------------------------------------------------------------------------------------------ modes
    def train(self, mode: bool = True) -> Module:
        """Set training mode (``mode=True``) or evaluation mode on this module and every sub-module; returns
        self. Dropout and BatchNorm behave differently in the two."""
        if not isinstance(mode, bool):
            raise ValueError(f"training mode is expected to be boolean, got {type(mode).__name__}")
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode: the same as ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Set ``requires_grad`` on every parameter (``False`` freezes the module, for fine-tuning); returns self."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradient of every parameter: drop it (``set_to_none=True``) or fill it with zeros."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.zero_()

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call ``fn`` on every sub-module (children first, depth first), then on self; returns self. The usual
        way to re-initialise a model: ``model.apply(init_weights)``."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------------------------ devices, dtypes
    def _apply_to_tensors(self, convert: Callable[[Tensor], Tensor]) -> Module:
        """Replace the data of every parameter, gradient and buffer by ``convert``'s result, keeping the
        Parameter objects themselves (an optimizer holding them keeps working)."""
        with no_grad():
            for module in self.modules():
                for p in module._parameters.values():
                    if p is None:
                        continue
                    _replace_data(p, convert(p.detach()))
                    if p.grad is not None:
                        _replace_data(p.grad, convert(p.grad))
                for name, b in module._buffers.items():
                    if b is not None:
                        new = convert(b)
                        if new is not b:
                            module._buffers[name] = new
        return self

    def to(self, *args: Any, device: Any = None, dtype: Any = None) -> Module:
        """Move parameters and buffers to ``device`` and/or cast the floating-point ones to ``dtype``, in place;
        returns self. ``model.to("cpu")``, ``model.to(minidl.float64)``, ``model.to(device="cuda")``. A device
        without a backend is a clear error."""
        for arg in args:
            if isinstance(arg, Tensor):
                device, dtype = arg.device, arg.dtype
            elif isinstance(arg, str) and not _is_dtype(arg):
                device = arg
            elif _is_dtype(arg):
                dtype = arg
            else:
                device = arg
        target = None if device is None else get_backend(device)
        if dtype is not None:
            dtype = dtypes.as_dtype(dtype)
            if not dtypes.is_floating(dtype):
                raise TypeError(f"nn.Module.to only accepts floating point dtypes, but got desired dtype={dtype.name}")

        def convert(t: Tensor) -> Tensor:
            out = t
            if target is not None and out._backend is not target:
                out = out.to(target.device)
            if dtype is not None and dtypes.is_floating(out.dtype) and out.dtype != dtype:
                out = out.to(dtype)
            return out

        return self._apply_to_tensors(convert)

    def cpu(self) -> Module:
        """Move parameters and buffers to the CPU."""
        return self.to("cpu")

    def cuda(self) -> Module:
        """Move parameters and buffers to the GPU (an error until minidl has a CUDA backend)."""
        return self.to("cuda")

    def float(self) -> Module:
        """Cast floating-point parameters and buffers to float32."""
        return self.to(dtypes.float32)

    def double(self) -> Module:
        """Cast floating-point parameters and buffers to float64 (for gradcheck)."""
        return self.to(dtypes.float64)

    # ---------------------------------------------------------------------------------------- state dict
    def _save_to_state_dict(self, destination: dict, prefix: str, keep_vars: bool) -> None:
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = b if keep_vars else b.detach()

    def state_dict(self, destination: dict | None = None, prefix: str = "", keep_vars: bool = False) -> OrderedDict:
        """Every parameter and persistent buffer under its dotted name, in order ("features.0.weight",
        "bn.running_mean", "bn.num_batches_tracked"...). Values are tensors detached from the graph that share
        memory with the module's (``keep_vars=True`` gives the parameters themselves); save copies if the
        model will keep training."""
        if destination is None:
            destination = OrderedDict()
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=destination, prefix=prefix + name + ".", keep_vars=keep_vars)
        return destination

    def _load_from_state_dict(
        self,
        state_dict: Mapping[str, Any],
        prefix: str,
        strict: bool,
        missing_keys: list[str],
        unexpected_keys: list[str],
        error_msgs: list[str],
    ) -> None:
        """Copy this module's own entries (not its children's) from ``state_dict``; record what is missing,
        unexpected or of the wrong shape. Subclasses override it to accept older key layouts."""
        persistent = {k: v for k, v in self._buffers.items() if k not in self._non_persistent_buffers_set}
        local = {k: v for k, v in itertools.chain(self._parameters.items(), persistent.items()) if v is not None}
        for name, target in local.items():
            key = prefix + name
            if key not in state_dict:
                if strict:
                    missing_keys.append(key)
                continue
            try:
                value = _as_array(state_dict[key], target)
            except (TypeError, ValueError) as err:
                error_msgs.append(f"while copying the parameter named {key!r}: {err}")
                continue
            if tuple(value.shape) != tuple(target.shape):
                error_msgs.append(
                    f"size mismatch for {key}: copying a param with shape {tuple(value.shape)} from checkpoint, "
                    f"the shape in current model is {tuple(target.shape)}."
                )
                continue
            with no_grad():
                target.copy_(Tensor._make(value, target._backend))
        if strict:
            for key in state_dict:
                if not key.startswith(prefix):
                    continue
                head, dot, _ = key[len(prefix) :].partition(".")
                if (dot and head not in self._modules) or (not dot and head not in local):
                    unexpected_keys.append(key)

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy ``state_dict``'s values (minidl or PyTorch tensors, NumPy arrays) into the parameters and buffers
        of the same names, in place, casting to their dtype.

        With ``strict=True`` missing and unexpected keys are an error; with ``strict=False`` they are only
        reported. A shape mismatch is always an error, naming the key and both shapes. Returns
        ``(missing_keys, unexpected_keys)``."""
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"expected a mapping (such as an OrderedDict) of names to tensors, got {type(state_dict)}")
        missing: list[str] = []
        unexpected: list[str] = []
        errors: list[str] = []

        def load(module: Module, local: Mapping[str, Any], prefix: str) -> None:
            module._load_from_state_dict(local, prefix, True, missing, unexpected, errors)
            for name, child in module._modules.items():
                if child is not None:
                    child_prefix = prefix + name + "."
                    load(child, {k: v for k, v in local.items() if k.startswith(child_prefix)}, child_prefix)

        load(self, state_dict, "")
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" + "\n\t".join(errors))
        return IncompatibleKeys(missing, unexpected)

    # -------------------------------------------------------------------------------------------- summary
    def macs(self, output: Tensor) -> int:
        """The multiply-accumulates of one call of this module per sample, given its output (batch first), as
        ``summary`` counts them: 0 unless the layer overrides it (``Conv2d``, ``Linear`` do)."""
        return 0

    def summary(self, input_shape: Any, batch_size: int = 1, dtype: Any = None, print_fn: Callable | None = print):
        """Print (through ``print_fn``; None to stay silent) and return a Keras-style table of the model: each
        layer, its output shape, its parameters (trainable and not) and its multiply-accumulates per sample, with
        totals. ``input_shape`` excludes the batch dimension: ``model.summary((3, 224, 224))``; several inputs
        are a list of shapes. See ``minidl.nn.summary``."""
        from minidl.nn.summary import summary

        return summary(self, input_shape, batch_size=batch_size, dtype=dtype, print_fn=print_fn)

    # ------------------------------------------------------------------------------------------- pickling
    def __reduce_ex__(self, protocol: int) -> Any:
        """Pickle as any object (the instance dict: tables, hooks, settings), after checking that the whole module
        tree can be pickled, so that a lambda hook or a lock is reported with its place in the model rather than
        as a bare error from deep inside pickle."""
        _check_picklable(self, protocol)
        return super().__reduce_ex__(protocol)

    def __deepcopy__(self, memo: dict) -> Module:
        """The default deep copy, without the pickling check: a copy may keep a lambda hook (functions are shared
        between the copies, not copied)."""
        copied = object.__new__(type(self))
        memo[id(self)] = copied
        copied.__dict__.update(copy.deepcopy(self.__dict__, memo))
        return copied

    # ----------------------------------------------------------------------------------------------- repr
    def extra_repr(self) -> str:
        """The text between the parentheses of this module's repr (its settings); subclasses override it."""
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): " + _addindent(repr(module), 2) for name, module in self._modules.items()]
        lines = extra_lines + child_lines
        text = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                text += extra_lines[0]
            else:
                text += "\n  " + "\n  ".join(lines) + "\n"
        return text + ")"


class _Discard:
    """A file that forgets what is written to it."""

    def write(self, data: Any) -> int:
        return len(data)


class _PicklingProbe(pickle.Pickler):
    """Pickles into nothing, only to find out whether a value can be pickled. Modules, leaf tensors and numeric
    arrays are not followed: they pickle, or are checked on their own, and a hook that is a bound method of a
    module must not drag the whole model in."""

    def __init__(self, protocol: int):
        super().__init__(_Discard(), protocol)

    def persistent_id(self, obj: Any) -> str | None:
        if isinstance(obj, Module) or (isinstance(obj, Tensor) and obj.is_leaf):
            return "checked-separately"
        if isinstance(obj, np.ndarray) and obj.dtype != object:
            return "checked-separately"
        return None


_HOOK_KINDS = {"_forward_pre_hooks": "forward pre-hook", "_forward_hooks": "forward hook"}
_HOOK_HINT = (
    "; hooks are pickled with their module: use a function defined at module level, or remove the hook before "
    "pickling and register it again after"
)


def _own_state(module: Module) -> Iterator[tuple[str, Any, str]]:
    """(description, value, hint) for each thing pickling ``module`` saves besides its parameters and sub-modules."""
    for name, value in module.__dict__.items():
        if name in ("_parameters", "_modules"):
            continue
        if name in _HOOK_KINDS:
            for hook in value.values():
                yield f"the {_HOOK_KINDS[name]} {hook!r}", hook, _HOOK_HINT
        elif name == "_buffers":
            for buffer_name, buffer in value.items():
                yield f"the buffer {buffer_name!r}", buffer, ""
        else:
            yield f"the attribute {name!r} (a {type(value).__name__})", value, ""


def _check_picklable(root: Module, protocol: int) -> None:
    """Raise a ``pickle.PicklingError`` naming the first hook, buffer or attribute in ``root``'s tree that cannot
    be pickled, and the sub-module that holds it."""
    probe = _PicklingProbe(protocol)
    for path, module in root.named_modules():
        for what, value, hint in _own_state(module):
            try:
                probe.dump(value)
            except Exception as err:
                where = f"of its sub-module {path!r} ({type(module).__name__})" if path else "of the module"
                raise pickle.PicklingError(
                    f"cannot pickle {type(root).__name__}: {what} {where} cannot be pickled "
                    f"({type(err).__name__}: {err}){hint}"
                ) from err


def _is_dtype(value: Any) -> bool:
    try:
        dtypes.as_dtype(value)
    except TypeError:
        return False
    return True


def _replace_data(t: Tensor, new: Tensor) -> None:
    """Make ``t`` hold ``new``'s array (and device) from now on."""
    if new is t:
        return
    t.data = new.data
    t._backend = new._backend


def _as_array(value: Any, target: Tensor) -> Any:
    """A state-dict value as a raw array on ``target``'s device, in ``target``'s dtype."""
    if isinstance(value, Tensor):
        if value._backend is not target._backend:
            value = value.detach().to(target.device)
        array = value.data
    elif isinstance(value, np.ndarray | int | float | bool | np.generic | list | tuple):
        array = target._backend.from_numpy(np.asarray(value))
    elif hasattr(value, "detach") and hasattr(value, "numpy"):  # a PyTorch tensor (minidl never imports torch)
        array = target._backend.from_numpy(np.asarray(value.detach().cpu().numpy()))
    else:
        raise TypeError(f"expected a Tensor or a NumPy array, got {type(value).__name__}")
    if array.dtype != target.dtype:
        array = array.astype(target.dtype)
    return array
