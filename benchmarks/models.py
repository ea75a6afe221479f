"""Inference speed of every model in ``minidl.models`` against the same network in PyTorch with the same weights.

Each model runs in eval mode without gradient recording at its smallest sensible input: 1×28×28 (MNIST-sized)
for LeNet-5 and for every family with a small-input stem (AlexNet, NiN, GoogLeNet, ResNets, DenseNets,
MobileNets, built with ``small_input=True``), and 3×32×32 for the VGGs, whose five 2×2 max-pools need 32×32.
The PyTorch twin is the plain ``torch.nn`` definition in ``tests/models/torch_zoo.py`` (the one the equivalence
tests use); its weights are copied into minidl with ``load_state_dict``, and the table shows how far apart the two
outputs are so that a timing is never of two different functions.

Per model and batch size: minidl and PyTorch medians (alternating rounds), their ratio, minidl's first call in
this process, and, for batch 1, minidl's first call in a fresh process (``import minidl``, build, call: what a
user sees when a script starts, Numba kernels loaded from the on-disk cache). A note adds the first call with an
empty Numba cache (every kernel compiled) for the first model of the run.
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np

from benchmarks.report import markdown_table
from benchmarks.timing import summary, time_alternating

# Batch 32 is timed only where it is cheap: when 32 × minidl's batch-1 median stays under this many seconds.
BATCH32_LIMIT_S = 4.0
# Each sample lasts at least this long (back-to-back calls averaged), so tiny models are not timer-bound.
MIN_SAMPLE_S = 2e-3
# Seconds of timed rounds per case for each unit of ``repeat`` (the default repeat of 20 gives ~5 s per case).
BUDGET_PER_REPEAT_S = 0.25
DEFAULT_REPEAT = 20

MNIST_SHAPE = (1, 28, 28)
CIFAR_SHAPE = (3, 32, 32)


@dataclass(frozen=True)
class ModelSpec:
    """How one ``minidl.models`` model is benchmarked: its input, its ``get_model`` arguments, its torch twin."""

    name: str
    input_shape: tuple[int, int, int]
    torch_builder: Callable[[], Any]
    kwargs: dict[str, Any] = field(default_factory=dict)

    def minidl_kwargs(self) -> dict[str, Any]:
        """The ``get_model`` keyword arguments: 10 classes, the input's channels, and the spec's own."""
        return {"num_classes": 10, "in_channels": self.input_shape[0], **self.kwargs}


def _vgg_twin(config: str, batch_norm: bool) -> Callable[[], Any]:
    def build() -> Any:
        from minidl.models.vgg import CONFIGS
        from tests.models import torch_zoo as tz

        # torch_zoo defines configurations A and D (those its tests use); B and E are taken from minidl's table,
        # which the VGG-11/16 equivalence tests show is read the same way by both definitions.
        for key, layers in CONFIGS.items():
            tz.VGG_CONFIGS.setdefault(key, layers)
        return tz.VGG(config, batch_norm, num_classes=10, in_channels=3)

    return build


def _twin(class_name: str, *args: Any, **kwargs: Any) -> Callable[[], Any]:
    """A builder of ``torch_zoo.<class_name>(*args, **kwargs)``; block classes are given by name too."""

    def build() -> Any:
        from tests.models import torch_zoo as tz

        resolved = [getattr(tz, a) if isinstance(a, str) and hasattr(tz, a) else a for a in args]
        return getattr(tz, class_name)(*resolved, **kwargs)

    return build


_SMALL = {"small_input": True}
SPECS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in [
        ModelSpec("lenet5", MNIST_SHAPE, _twin("LeNet5", 10, 1)),
        ModelSpec("alexnet", MNIST_SHAPE, _twin("AlexNet", 10, 1, small=True), _SMALL),
        *[
            ModelSpec(f"vgg{depth}{suffix}", CIFAR_SHAPE, _vgg_twin(config, suffix == "_bn"))
            for depth, config in ((11, "A"), (13, "B"), (16, "D"), (19, "E"))
            for suffix in ("", "_bn")
        ],
        ModelSpec("nin", MNIST_SHAPE, _twin("NiN", 10, 1, small=True), _SMALL),
        ModelSpec("googlenet", MNIST_SHAPE, _twin("GoogLeNet", 10, 1, small=True), _SMALL),
        ModelSpec("resnet18", MNIST_SHAPE, _twin("ResNet", "BasicBlock", [2, 2, 2, 2], 10, 1, small=True), _SMALL),
        ModelSpec("resnet34", MNIST_SHAPE, _twin("ResNet", "BasicBlock", [3, 4, 6, 3], 10, 1, small=True), _SMALL),
        ModelSpec("resnet50", MNIST_SHAPE, _twin("ResNet", "Bottleneck", [3, 4, 6, 3], 10, 1, small=True), _SMALL),
        ModelSpec("resnet101", MNIST_SHAPE, _twin("ResNet", "Bottleneck", [3, 4, 23, 3], 10, 1, small=True), _SMALL),
        ModelSpec("resnet152", MNIST_SHAPE, _twin("ResNet", "Bottleneck", [3, 8, 36, 3], 10, 1, small=True), _SMALL),
        ModelSpec("densenet121", MNIST_SHAPE, _twin("DenseNet", 32, (6, 12, 24, 16), 64, 10, 1, small=True), _SMALL),
        ModelSpec("densenet161", MNIST_SHAPE, _twin("DenseNet", 48, (6, 12, 36, 24), 96, 10, 1, small=True), _SMALL),
        ModelSpec("densenet169", MNIST_SHAPE, _twin("DenseNet", 32, (6, 12, 32, 32), 64, 10, 1, small=True), _SMALL),
        ModelSpec("densenet201", MNIST_SHAPE, _twin("DenseNet", 32, (6, 12, 48, 32), 64, 10, 1, small=True), _SMALL),
        ModelSpec("mobilenet_v1", MNIST_SHAPE, _twin("MobileNetV1", 10, 1, small=True), _SMALL),
        ModelSpec("mobilenet_v2", MNIST_SHAPE, _twin("MobileNetV2", 10, 1, small=True), _SMALL),
    ]
}


def select(names: str | list[str] | None) -> list[str]:
    """The models to run, in ``minidl.models.list_models()`` order: all of them, or those named (a list or a
    comma-separated string). Unknown names raise ``ValueError``."""
    from minidl.models import list_models

    available = list_models()
    if names is None:
        return available
    wanted = [n.strip() for n in names.split(",")] if isinstance(names, str) else list(names)
    wanted = [n for n in wanted if n]
    unknown = [n for n in wanted if n not in available]
    if unknown:
        raise ValueError(f"unknown model(s) {', '.join(unknown)}; choose among {', '.join(available)}")
    if not wanted:
        raise ValueError("no model named")
    return [n for n in available if n in wanted]


def _calibrate_running_stats(model: Any, input_shape: tuple[int, ...], rng: np.random.Generator) -> None:
    """Give every BN layer of the torch model the running statistics of its real input on random images (the
    state of a trained net), so that deep eval-mode nets neither blow up nor vanish into denormals."""
    import torch

    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    for m in bns:
        m.momentum = None  # a cumulative average over the calibration batch
    model.train()
    with torch.no_grad():
        model(torch.from_numpy(rng.standard_normal((4, *input_shape)).astype(np.float32)))
    for m in bns:
        m.momentum = 0.1


def build_pair(spec: ModelSpec) -> tuple[Any, Any, float]:
    """The torch twin (seeded random weights, calibrated BN statistics) and the minidl model holding the same
    weights (strict ``load_state_dict``), both in eval mode, and the seconds minidl took to build and load."""
    import torch

    from minidl.models import get_model

    torch.manual_seed(0)
    theirs = spec.torch_builder()
    _calibrate_running_stats(theirs, spec.input_shape, np.random.default_rng(0))
    theirs.eval()
    start = time.perf_counter()
    ours = get_model(spec.name, **spec.minidl_kwargs())
    ours.load_state_dict(theirs.state_dict(), strict=True)
    ours.eval()
    return ours, theirs, time.perf_counter() - start


def parameter_count(model: Any) -> int:
    """The number of parameters (elements) of a minidl model."""
    return sum(p.numel() for p in model.parameters())


_FRESH_PROCESS = textwrap.dedent(
    """
    import json, sys, time
    start = time.perf_counter()
    import numpy as np
    import minidl
    from minidl.models import get_model
    imported = time.perf_counter()
    name, kwargs, shape = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
    model = get_model(name, **kwargs).eval()
    built = time.perf_counter()
    x = minidl.from_numpy(np.random.default_rng(0).standard_normal(shape).astype(np.float32))
    times = []
    with minidl.no_grad():
        for _ in range(2):
            t = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t)
    print(json.dumps({"import_s": imported - start, "build_s": built - imported, "first_call_s": times[0],
                      "second_call_s": times[1]}))
    """
)


def fresh_process_first_call(spec: ModelSpec, batch: int = 1, numba_cache_dir: str | None = None) -> dict[str, float]:
    """In a new Python process (same thread settings): seconds to import minidl, build the model (random
    weights), and make its first and second forward calls. ``numba_cache_dir`` points Numba at another cache
    (an empty folder: every kernel compiles)."""
    env = dict(os.environ)
    if numba_cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = numba_cache_dir
    out = subprocess.run(
        [sys.executable, "-c", _FRESH_PROCESS, spec.name, json.dumps(spec.minidl_kwargs()),
         json.dumps([batch, *spec.input_shape])],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    if out.returncode:
        raise RuntimeError(f"fresh-process first call of {spec.name} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def make_batch(input_shape: tuple[int, ...], batch: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random float32 images (batch, *input_shape) and labels in 0..9."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((batch, *input_shape)).astype(np.float32), rng.integers(0, 10, batch)


def step_runners(ours: Any, theirs: Any, input_shape: tuple[int, ...], batch: int) -> dict[str, Any]:
    """One training step on each side, both in train mode on the same batch: forward, cross-entropy, backward,
    SGD (lr 0.01, momentum 0.9) step."""
    import torch

    import minidl
    from minidl import nn, optim

    x, y = make_batch(input_shape, batch)
    mx, my, tx, ty = minidl.tensor(x), minidl.tensor(y), torch.from_numpy(x), torch.from_numpy(y)
    ours.train()
    theirs.train()
    our_opt = optim.SGD(ours.parameters(), lr=0.01, momentum=0.9)
    their_opt = torch.optim.SGD(theirs.parameters(), lr=0.01, momentum=0.9)
    return {
        "minidl": _stepper(ours, our_opt, nn.CrossEntropyLoss(), mx, my),
        "torch": _stepper(theirs, their_opt, torch.nn.CrossEntropyLoss(), tx, ty),
    }


def _stepper(model: Any, optimizer: Any, loss_fn: Any, x: Any, y: Any) -> Callable[[], Any]:
    """One training step of ``model`` on (x, y), returning the loss: the same code for either library."""

    def step() -> Any:
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    return step


def conv_algorithms(model: Any, input_shape: tuple[int, ...], batch: int) -> list[dict[str, Any]]:
    """Every distinct convolution a forward pass of a batch of ``input_shape`` runs: its arguments, input shape,
    count, and the algorithm minidl's CPU backend picks for it (``Convolution.describe``: " wide" where the GEMM
    runs as one product over the batch)."""
    from collections import Counter

    import minidl
    from minidl import nn
    from minidl.backend import get_backend
    from minidl.ops.window import conv_padding

    seen: Counter = Counter()
    info: dict[tuple, dict[str, Any]] = {}

    def hook(module: Any, inputs: tuple, output: Any) -> None:
        key = (tuple(inputs[0].shape), module.out_channels, module.kernel_size, module.stride, module.padding,
               module.groups)  # fmt: skip
        seen[key] += 1
        if key not in info:
            pads = conv_padding(module.padding, module.kernel_size, module.stride, module.dilation, "bench")
            algorithm = get_backend("cpu").convolution.describe(
                inputs[0].shape[1], tuple(module.weight.shape), module.stride, pads, module.dilation, module.groups,
                tuple(output.shape[2:]),
            )  # fmt: skip
            info[key] = {"input": tuple(inputs[0].shape), "out_channels": module.out_channels,
                         "kernel": module.kernel_size, "stride": module.stride, "padding": module.padding,
                         "groups": module.groups, "output": tuple(output.shape), "algorithm": algorithm}  # fmt: skip

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    training = model.training
    model.eval()
    try:
        with minidl.no_grad():
            model(minidl.tensor(make_batch(input_shape, batch)[0]))
    finally:
        for h in handles:
            h.remove()
        model.train(training)
    return [{**info[key], "count": count} for key, count in seen.items()]


def algorithm_summary(layers: list[dict[str, Any]]) -> str:
    """How many convolution layers run each algorithm, e.g. "im2col 5 · winograd4 4 · pointwise wide 3"."""
    counts: dict[str, int] = {}
    for layer in layers:
        counts[layer["algorithm"]] = counts.get(layer["algorithm"], 0) + layer["count"]
    return " · ".join(f"{name} {count}" for name, count in sorted(counts.items(), key=lambda kv: -kv[1])) or "—"


def _forward(model: Any, x: Any, grad_mode: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        with grad_mode():
            return model(x)

    return run


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def _rounds(repeat: int, per_round_s: float) -> int:
    """Rounds to time: ``repeat`` at most, fewer when a round is slow (budget ``repeat`` × 0.25 s), 3 at least."""
    budget = repeat * BUDGET_PER_REPEAT_S
    return max(3, min(repeat, int(budget / max(per_round_s, 1e-9))))


def _time_runners(run_ours: Callable[[], Any], run_theirs: Callable[[], Any], repeat: int) -> dict[str, Any]:
    """Alternating rounds of the two runners (each already called once): medians, minima, ratio, round settings."""
    est_ours, est_theirs = _timed(run_ours)[1], _timed(run_theirs)[1]
    inner = max(1, min(100, math.ceil(MIN_SAMPLE_S / max(min(est_ours, est_theirs), 1e-9))))
    rounds = _rounds(repeat, inner * (est_ours + est_theirs))
    samples = time_alternating({"minidl": run_ours, "torch": run_theirs}, repeat=rounds, warmup=1, inner=inner)
    stats = {name: summary(s) for name, s in samples.items()}
    return {"minidl": stats["minidl"], "torch": stats["torch"],
            "ratio": stats["minidl"]["median_s"] / stats["torch"]["median_s"], "inner": inner}  # fmt: skip


def time_case(ours: Any, theirs: Any, input_shape: tuple[int, ...], batch: int, repeat: int) -> dict[str, Any]:
    """Time one model's inference at one batch size: minidl's first call, then alternating minidl/PyTorch rounds.
    Returns medians, minima, the first call, the largest output difference relative to PyTorch's largest output,
    and the round settings."""
    import torch

    import minidl

    ours.eval()
    theirs.eval()
    x = np.random.default_rng(batch).standard_normal((batch, *input_shape)).astype(np.float32)
    run_ours = _forward(ours, minidl.from_numpy(x), minidl.no_grad)
    run_theirs = _forward(theirs, torch.from_numpy(x), torch.no_grad)
    out_ours, first_s = _timed(run_ours)
    out_theirs, torch_first_s = _timed(run_theirs)
    expected = out_theirs.numpy()
    rel_diff = float(np.abs(out_ours.numpy() - expected).max() / max(np.abs(expected).max(), 1e-30))
    return {"batch": batch, **_time_runners(run_ours, run_theirs, repeat), "minidl_first_call_s": first_s,
            "torch_first_call_s": torch_first_s, "max_rel_diff": rel_diff}  # fmt: skip


def _gradient_rel_diff(ours: Any, theirs: Any) -> float:
    """The largest |minidl − PyTorch| / max |PyTorch| over the parameters' gradients, matched by name. A
    parameter's scale is floored at 1e-3 of the model's largest gradient: a bias followed by batch norm has a zero
    gradient in exact arithmetic, and its rounding noise is no measure of agreement."""
    theirs_by_name = dict(theirs.named_parameters())
    pairs = [(p.grad.numpy(), theirs_by_name[name].grad.numpy()) for name, p in ours.named_parameters()]
    floor = 1e-3 * max((float(np.abs(e).max()) for _, e in pairs), default=0.0)
    worst = 0.0
    for got, expected in pairs:
        scale = max(float(np.abs(expected).max()), floor, 1e-30)
        worst = max(worst, float(np.abs(got - expected).max()) / scale)
    return worst


def time_step_case(ours: Any, theirs: Any, input_shape: tuple[int, ...], batch: int, repeat: int) -> dict[str, Any]:
    """Time one model's training step (``step_runners``) at one batch size. The first step of each side, from the
    same weights, is checked first: its loss and every parameter gradient against PyTorch's."""
    runners = step_runners(ours, theirs, input_shape, batch)
    with _dropout_off(ours, theirs):  # the two libraries draw different masks
        loss_ours, first_s = _timed(runners["minidl"])
        loss_theirs, torch_first_s = _timed(runners["torch"])
    loss_diff = abs(loss_ours.item() - loss_theirs.item()) / max(abs(loss_theirs.item()), 1e-30)
    grad_diff = _gradient_rel_diff(ours, theirs)
    timing = _time_runners(runners["minidl"], runners["torch"], repeat)
    return {"batch": batch, **timing, "minidl_first_call_s": first_s, "torch_first_call_s": torch_first_s,
            "max_rel_diff": loss_diff, "gradient_rel_diff": grad_diff}  # fmt: skip


@contextlib.contextmanager
def _dropout_off(*models: Any) -> Iterator[None]:
    """Dropout layers of ``models`` at p = 0 inside the block (their p restored after)."""
    layers = [m for model in models for m in model.modules() if type(m).__name__.startswith("Dropout")]
    saved = [m.p for m in layers]
    for m in layers:
        m.p = 0.0
    try:
        yield
    finally:
        for m, p in zip(layers, saved):
            m.p = p


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g}" if seconds < 0.1 else f"{seconds * 1e3:.0f}"


MODES = ("inference", "train")


def run(
    repeat: int = DEFAULT_REPEAT,
    models: str | list[str] | None = None,
    fresh: bool = True,
    batch_size: int | None = None,
    mode: str = "inference",
) -> tuple[str, dict]:
    """Benchmark ``models`` (all by default; see ``select``) and return the Markdown text and the JSON record.

    repeat: the most timed rounds per case (fewer for slow models, see ``_rounds``).
    fresh: also time each model's first call in a fresh process, and the first model's with an empty Numba cache
        (inference only).
    batch_size: time this batch size only; None: batch 1, and batch 32 where it is cheap (``BATCH32_LIMIT_S``).
    mode: "inference" (eval mode, no gradients) or "train" (a training step: forward, cross-entropy, backward,
        SGD momentum step; both sides start from the same weights, and the first step's loss and gradients are
        compared).
    """
    if mode not in MODES:
        raise ValueError(f"models: mode of {MODES} expected, got {mode!r}")
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"models: a batch size of at least 1 expected, got {batch_size}")
    train = mode == "train"
    fresh = fresh and not train
    names = select(models)
    rows, records = [], []
    compile_note = ""
    timer = time_step_case if train else time_case
    for index, name in enumerate(names):
        spec = SPECS[name]
        ours, theirs, build_s = build_pair(spec)
        params = parameter_count(ours)
        layers = conv_algorithms(ours, spec.input_shape, batch_size or 32)
        record: dict[str, Any] = {"model": name, "input": list(spec.input_shape), "parameters": params,
                                  "minidl_build_s": build_s, "mode": mode, "conv_layers": layers,
                                  "algorithms": algorithm_summary(layers), "cases": []}  # fmt: skip
        for batch in (batch_size,) if batch_size else (1, 32):
            if batch_size is None and batch > 1 and 32 * record["cases"][0]["minidl"]["median_s"] > BATCH32_LIMIT_S:
                record["skipped_batch_32"] = f"32 × the batch-1 median exceeds {BATCH32_LIMIT_S} s"
                continue
            record["cases"].append(timer(ours, theirs, spec.input_shape, batch, repeat))
        if fresh:
            record["fresh_process"] = fresh_process_first_call(spec)
            if index == 0:
                with tempfile.TemporaryDirectory() as cache:
                    record["fresh_process_empty_cache"] = fresh_process_first_call(spec, numba_cache_dir=cache)
                cold = record["fresh_process_empty_cache"]
                compile_note = (
                    f"With an empty Numba cache (every kernel compiles), {name}'s first call in a fresh process takes "
                    f"{cold['first_call_s']:.2f} s (import minidl {cold['import_s']:.2f} s before it); with the "
                    f"cache it takes {record['fresh_process']['first_call_s']:.2f} s."
                )
        for case in record["cases"]:
            fresh_ms = _ms(record["fresh_process"]["first_call_s"]) if fresh and case["batch"] == 1 else "—"
            row = [name, "×".join(map(str, spec.input_shape)), f"{params / 1e6:.2f} M", case["batch"],
                   _ms(case["minidl"]["median_s"]), _ms(case["torch"]["median_s"]), f"{case['ratio']:.2f}×",
                   _ms(case["minidl_first_call_s"])]  # fmt: skip
            if train:
                row += [f"{case['max_rel_diff']:.1e}", f"{case['gradient_rel_diff']:.1e}"]
            else:
                row += [fresh_ms, f"{case['max_rel_diff']:.1e}"]
            rows.append([*row, record["algorithms"]])
        records.append(record)
        del ours, theirs
        gc.collect()
    timed = "step ms" if train else "ms"
    headers = ["model", "input (C×H×W)", "params", "batch", f"minidl {timed}", f"PyTorch {timed}", "ratio"]
    if train:
        headers += ["minidl 1st step ms", "1st loss rel. diff", "gradient rel. diff"]
    else:
        headers += ["minidl 1st call ms (in-process)", "minidl 1st call ms (fresh process)", "output rel. diff"]
    headers.append("conv algorithms (layers)")
    batches = (
        f"batch {batch_size}"
        if batch_size
        else (f"batch 32 only where 32 × minidl's batch-1 median < {BATCH32_LIMIT_S:.0f} s")
    )
    inputs = ("Input 1×28×28 with `small_input=True` (3×3 stride-1 stem) for every family that has it; 3×32×32 for "
              f"the VGGs, which need 32×32; {batches}.")  # fmt: skip
    twin = ("PyTorch: the same network in plain torch.nn (tests/models/torch_zoo.py) with seeded random weights and BN "
            "running statistics calibrated on random images, copied into minidl with load_state_dict.")  # fmt: skip
    algorithms = ("Conv algorithms: what minidl's CPU backend picks for each convolution layer at this input "
                  "(`Convolution.describe`; 'wide': the GEMM runs as one product over the batch).")  # fmt: skip
    if train:
        notes = [
            "Training step: train mode, forward, cross-entropy, backward, SGD (lr 0.01, momentum 0.9) step, float32; "
            "medians of alternating minidl/PyTorch rounds. " + inputs,
            twin + " The first step of each side starts from the same weights: '1st loss rel. diff' compares the two "
            "losses, 'gradient rel. diff' is the largest max |minidl − PyTorch| / max |PyTorch| over the parameters' "
            "gradients (each parameter's scale floored at 1e-3 of the model's largest gradient: a bias before batch "
            "norm has a zero gradient up to rounding). Deep nets with batch norm amplify float32 rounding, PyTorch's "
            "as much as ours: at batch 32, PyTorch's float32 gradients differ from its float64 ones by 6.5e-2 "
            "(vgg11_bn) and 4.4e-2 (resnet18) of the scale, minidl's by 2.0e-2 and 7.8e-2, while the two libraries' "
            "float64 gradients agree within 1e-12 (measured by hand).",
            algorithms,
        ]
    else:
        notes = [
            "Eval mode, no gradient recording, float32; medians of alternating minidl/PyTorch rounds (each sample the "
            f"mean of back-to-back calls lasting ≥ {MIN_SAMPLE_S * 1e3:.0f} ms). " + inputs,
            twin + " 'output rel. diff' is max |minidl − PyTorch| / max |PyTorch| on the timed input.",
            "In-process first call: the model's first forward in this run (kernels already loaded by earlier models, "
            "except for the first one). Fresh process: a new Python process imports minidl, builds the model and "
            "calls it once (Numba kernels loaded from the on-disk cache; the import itself is not included).",
            algorithms,
        ]
    if compile_note:
        notes.append(compile_note)
    text = markdown_table(headers, rows) + "\n\n" + "\n\n".join(notes)
    return text, {"models": records, "repeat": repeat, "mode": mode, "batch_size": batch_size,
                  "batch32_limit_s": BATCH32_LIMIT_S}  # fmt: skip
