"""Reverse-mode automatic differentiation, define-by-run.

Every differentiable op is a ``Function``: ``forward`` computes the output from raw arrays and saves what
``backward`` will need; ``backward`` turns the gradient of the output into gradients of the inputs. Calling
``SomeFunction.apply(*tensors)`` runs forward and, when grad mode is on and an input requires grad, records the
function as the output's ``grad_fn``: the graph is the web of these records.

``tensor.backward()`` walks the graph from the output in reverse topological order (an explicit stack, so a
chain of any length works), sums the gradients that reach each node (a tensor used twice gets both), and adds
the result into ``.grad`` of the leaves (tensors made by the user, with ``requires_grad=True``). Two rules are
enforced here once, instead of in every op:

- a gradient that arrives in a broadcast shape is summed back to the input's shape (``sum_to_shape``);
- a gradient that arrives in another float dtype is cast to the input's dtype.

After backward the graph's saved arrays are freed unless ``retain_graph=True``. Grad mode (``no_grad``) is one
switch per thread, as in PyTorch: a ``no_grad`` block in a data-loading thread leaves the training thread
recording.
"""

from __future__ import annotations

import functools
import threading
import weakref
from typing import TYPE_CHECKING, Any, Callable, Sequence

if TYPE_CHECKING:
    from minidl.tensor import Tensor

# ---------------------------------------------------------------------------------------------------- grad mode


class _GradState(threading.local):
    """Per thread, as in PyTorch: a ``no_grad`` block in one thread (a data-loading thread, say) must not turn
    recording off in another."""

    enabled = True


_grad_state = _GradState()


def is_grad_enabled() -> bool:
    """Whether ops record the graph now (in this thread)."""
    return _grad_state.enabled


class set_grad_enabled:
    """Turn graph recording on or off in this thread: as a call, a context manager (restores on exit) or a
    decorator."""

    def __init__(self, mode: bool):
        self._previous = _grad_state.enabled
        self._mode = bool(mode)
        _grad_state.enabled = self._mode

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        _grad_state.enabled = self._previous

    def __call__(self, fn: Callable) -> Callable:
        # Used as a decorator: the constructor already switched the mode, so switch it back now.
        _grad_state.enabled = self._previous
        mode = self._mode

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper


class _GradMode:
    """Base of ``no_grad``/``enable_grad``: a context manager that is also a decorator."""

    mode = True

    def __enter__(self) -> None:
        self._previous = _grad_state.enabled
        _grad_state.enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        _grad_state.enabled = self._previous

    def __call__(self, fn: Callable) -> Callable:
        mode_cls = type(self)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with mode_cls():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """Stop recording the graph: ``with minidl.no_grad(): ...`` or ``@minidl.no_grad()``."""

    mode = False


class enable_grad(_GradMode):
    """Record the graph again inside a ``no_grad`` block."""

    mode = True


# ------------------------------------------------------------------------------------------------------ Function


class Function:
    """One differentiable op: a node of the graph.

    Subclasses are named after their op with an ``Op`` suffix (``Conv2dOp``, applied by ``conv2d``), so that they
    are never mistaken for the layers of ``minidl.nn`` (``nn.Conv2d``) in code or in a traceback. They define
    ``forward(self, *arrays, **params) -> array`` and ``backward(self, grad) -> tuple`` (one gradient or None per
    input, in any broadcast shape of that input). Inside both, ``self.xp`` is the array namespace of the inputs'
    device and ``self.backend`` its backend (for named kernels). Class flags:

    - ``save_inputs``: backward reads the inputs' values, so changing an input in place between forward and
      backward is an error (detected through version counters);
    - ``save_output``: likewise for the output;
    - ``is_view``: the output shares memory with the first input (reshape, transpose, indexing...), so it shares
      the input's version counter: writing into either is seen by both.
    """

    save_inputs = True
    save_output = False
    is_view = False

    inputs: tuple | None = None  # None once the graph was freed
    needs_input_grad: tuple = ()
    retained: weakref.ref | None = None  # set by Tensor.retain_grad()

    @classmethod
    def apply(cls, *inputs: Tensor, **params: Any) -> Tensor:
        """Run forward on the inputs' arrays; record the node when a gradient will be needed."""
        first = inputs[0]
        backend = first._backend
        for t in inputs:
            if t._backend is not backend:
                raise RuntimeError(
                    f"{cls.op_name().lower()}: expected all tensors on the same device, got {first.device} and "
                    f"{t.device}; move one with .to({str(first.device)!r}) or .to({str(t.device)!r})"
                )
        fn = cls.__new__(cls)
        fn.backend = backend
        fn.xp = backend.xp
        out = fn.forward(*[t.data for t in inputs], **params)
        backend = fn.backend  # a device transfer changes it
        if type(out) is not backend.array_type:
            out = backend.xp.asarray(out)
        result = first._make(out, backend)
        if cls.is_view:
            result._version = first._version
        if _grad_state.enabled:
            needs = tuple([t._requires_grad for t in inputs])
            if True in needs:
                fn.inputs = inputs
                fn.needs_input_grad = needs
                saved = [(t._version, t._version[0]) for t in inputs] if cls.save_inputs else []
                if cls.save_output:
                    saved.append((result._version, result._version[0]))
                fn.saved_versions = saved
                result._requires_grad = True
                result._node = fn
        return result

    def release(self) -> None:
        """Free the saved arrays and the links to the inputs (after a backward without retain_graph)."""
        self.__dict__.clear()

    def check_saved_versions(self) -> None:
        for box, version in self.saved_versions:
            if box[0] != version:
                raise RuntimeError(
                    f"a tensor that {self.name()} needs for its gradient was modified in place after it was "
                    f"used (its version went from {version} to {box[0]}); clone() it before the in-place op, or use "
                    "the out-of-place op"
                )

    @classmethod
    def op_name(cls) -> str:
        """The op's name: the class name without its ``Op`` suffix (``Conv2dOp`` -> ``Conv2d``)."""
        name = cls.__name__
        return name[:-2] if name.endswith("Op") else name

    @classmethod
    def name(cls) -> str:
        """The node's name in ``grad_fn`` reprs and errors: ``Conv2dBackward``."""
        return f"{cls.op_name()}Backward"

    def __repr__(self) -> str:
        return f"<{self.name()}>"


# ------------------------------------------------------------------------------------------------------- engine


def sum_to_shape(xp: Any, grad: Any, shape: tuple) -> Any:
    """Sum ``grad`` over the dimensions that broadcasting added or stretched, so that it gets ``shape``.

    grad: (*batch, *shape') where shape' broadcasts to grad's trailing dims; returns an array of ``shape``.
    """
    lead = grad.ndim - len(shape)
    if lead < 0:
        raise RuntimeError(f"internal error: a gradient of shape {grad.shape} cannot be summed to shape {shape}")
    axes = tuple(range(lead)) + tuple(
        lead + i for i, size in enumerate(shape) if size == 1 and grad.shape[lead + i] != 1
    )
    if axes:
        grad = xp.sum(grad, axis=axes, keepdims=True)
    if lead:
        grad = xp.reshape(grad, shape)
    if grad.shape != shape:
        raise RuntimeError(f"internal error: a gradient of shape {grad.shape} does not fit an input of shape {shape}")
    return grad


def _fit(grad: Any, t: Tensor) -> Any:
    """The gradient for input ``t``: in t's shape and dtype."""
    data = t.data
    if grad.shape != data.shape:
        grad = sum_to_shape(t._backend.xp, grad, data.shape)
    if grad.dtype != data.dtype:
        grad = grad.astype(data.dtype)
    return grad


def _topological_order(roots: list[Function]) -> list[Function]:
    """The nodes reachable from ``roots``, each before all the nodes that produced its inputs."""
    order: list[Function] = []
    visited: set[int] = set()
    stack: list[tuple[Function, bool]] = [(node, False) for node in roots]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        if node.inputs is not None:
            for t in node.inputs:
                child = t._node
                if child is not None and id(child) not in visited:
                    stack.append((child, False))
    order.reverse()
    return order


_FREED = (
    "trying to backward through the graph a second time (its saved values were freed by the first backward); "
    "pass retain_graph=True to the first backward() to keep them"
)


def run_backward(
    roots: Sequence[Tensor],
    root_grads: Sequence[Any],
    retain_graph: bool = False,
    capture: dict[int, int] | None = None,
) -> list | None:
    """Backpropagate ``root_grads`` (arrays shaped like ``roots``) through the graph.

    Without ``capture`` the gradients are added into ``.grad`` of the leaves (and of non-leaves that called
    ``retain_grad``). With ``capture`` (id of a leaf tensor or of a node -> slot) nothing is accumulated: the
    gradients of the captured tensors are returned in a list instead (see ``minidl.autograd.grad``).
    """
    results: list | None = [None] * len(capture) if capture is not None else None
    pending: dict[int, Any] = {}
    starts: list[Function] = []
    for t, g in zip(roots, root_grads):
        node = t._node
        if node is None:
            _deliver_to_leaf(t, g, capture, results)
        else:
            if node.inputs is None:
                raise RuntimeError(_FREED)
            key = id(node)
            pending[key] = pending[key] + g if key in pending else g
            starts.append(node)

    for node in _topological_order(starts):
        g = pending.pop(id(node), None)
        if g is None:
            continue
        inputs = node.inputs
        if inputs is None:
            raise RuntimeError(_FREED)
        node.check_saved_versions()
        if capture is not None:
            slot = capture.get(id(node))
            if slot is not None:
                results[slot] = g if results[slot] is None else results[slot] + g
        elif node.retained is not None:
            owner = node.retained()
            if owner is not None:
                _accumulate_grad(owner, g)
        input_grads = node.backward(g)
        needs = node.needs_input_grad
        if not retain_graph:
            node.release()
        for t, ig, need in zip(inputs, input_grads, needs):
            if not need or ig is None:
                continue
            ig = _fit(ig, t)
            child = t._node
            if child is None:
                _deliver_to_leaf(t, ig, capture, results)
            else:
                key = id(child)
                pending[key] = pending[key] + ig if key in pending else ig
    return results


def _deliver_to_leaf(t: Tensor, g: Any, capture: dict[int, int] | None, results: list | None) -> None:
    if capture is None:
        _accumulate_grad(t, g)
        return
    slot = capture.get(id(t))
    if slot is not None:
        results[slot] = g if results[slot] is None else results[slot] + g


def _accumulate_grad(t: Tensor, g: Any) -> None:
    """Add ``g`` into ``t.grad`` (a fresh copy the first time: ``g`` may be shared with other gradients)."""
    xp = t._backend.xp
    if t.grad is None:
        t.grad = t._make(xp.array(g, dtype=t.data.dtype, copy=True), t._backend)
    else:
        grad = t.grad
        xp.add(grad.data, g, out=grad.data, casting="same_kind")
        grad._version[0] += 1


def backward(tensor: Tensor, gradient: Any = None, retain_graph: bool = False) -> None:
    """Compute the gradient of ``tensor`` with respect to the graph's leaves and add it into their ``.grad``.

    tensor: any shape; gradient: the gradient of some scalar with respect to ``tensor`` (same shape), optional
    when ``tensor`` has one element (then 1).
    """
    run_backward([tensor], [_root_grad(tensor, gradient, "backward()")], retain_graph)


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool = False,
    allow_unused: bool = False,
) -> tuple:
    """The gradients of ``outputs`` with respect to ``inputs``, returned instead of accumulated into ``.grad``.

    outputs: tensors (one-element ones need no ``grad_outputs``); inputs: tensors that require grad, leaves or
    not. Returns one Tensor per input (None for an input the outputs do not depend on, with ``allow_unused``).
    """
    outputs = [outputs] if not isinstance(outputs, (list, tuple)) else list(outputs)
    inputs = [inputs] if not isinstance(inputs, (list, tuple)) else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif not isinstance(grad_outputs, (list, tuple)):
        grad_outputs = [grad_outputs]
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: {len(outputs)} outputs but {len(grad_outputs)} grad_outputs")
    capture: dict[int, int] = {}
    for i, t in enumerate(inputs):
        if not t._requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad")
        capture[id(t._node) if t._node is not None else id(t)] = i
    root_grads = [_root_grad(o, g, "grad()") for o, g in zip(outputs, grad_outputs)]
    results = run_backward(outputs, root_grads, retain_graph, capture)
    out = []
    for i, (t, g) in enumerate(zip(inputs, results)):
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad: input {i} was not used to compute the outputs; pass allow_unused=True to get None"
                )
            out.append(None)
        else:
            out.append(t._make(_fit(t._backend.xp.asarray(g), t), t._backend))
    return tuple(out)


def _root_grad(tensor: Tensor, gradient: Any, where: str) -> Any:
    if not tensor._requires_grad:
        raise RuntimeError(
            f"{where}: this tensor does not require grad and has no grad_fn (no input of the ops that made it "
            "requires grad, or it was computed under no_grad())"
        )
    data = tensor.data
    xp = tensor._backend.xp
    if gradient is None:
        if data.size != 1:
            raise RuntimeError(
                f"{where}: a gradient can be created implicitly only for a one-element output, but this tensor has "
                f"shape {tuple(data.shape)}; pass gradient= a tensor of that shape"
            )
        return xp.ones(data.shape, dtype=data.dtype)
    g = gradient.data if hasattr(gradient, "_backend") else xp.asarray(gradient)
    if hasattr(gradient, "_backend") and gradient._backend is not tensor._backend:
        raise RuntimeError(
            f"{where}: the gradient is on {gradient._backend.name} but the tensor is on {tensor._backend.name}"
        )
    if tuple(g.shape) != tuple(data.shape):
        raise RuntimeError(
            f"{where}: the gradient has shape {tuple(g.shape)} but the tensor has shape {tuple(data.shape)}"
        )
    return g.astype(data.dtype, copy=False)
