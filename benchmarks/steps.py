"""CIFAR-shaped training steps and batch inference of ResNet-18 and MobileNet v2, minidl vs PyTorch from the same
weights, with the convolution algorithm minidl chose for each layer and what each layer costs.

- **training step**: batch 32 of 3×32×32 images, cross-entropy, SGD (lr 0.01, momentum 0.9), forward + backward +
  step, both libraries in train mode from the same weights (``benchmarks.models.build_pair``);
- **inference**: eval mode, no gradients, batch 32: the model as built, and after
  ``minidl.nn.utils.optimize_for_inference`` (batch norm folded, ReLU in place);
- **layers**: every distinct convolution of the network (shape, count), the algorithm ``auto`` picks, forward +
  backward time against PyTorch's, and the effective GFLOP/s (the direct algorithm's multiply-adds × 2 / time:
  above the GEMM ceiling only when the algorithm saves arithmetic, as Winograd does);
- **peak memory** of one training step, each library alone in a fresh process (resident-set high-water mark above
  the state after building the model and one warm-up step).

Medians of alternating rounds; ratios are minidl / PyTorch.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import numpy as np

from benchmarks.models import CIFAR_SHAPE, ModelSpec, _twin, build_pair, conv_algorithms, make_batch, step_runners
from benchmarks.report import markdown_table
from benchmarks.timing import summary, time_alternating

BATCH = 32
_SMALL = {"small_input": True}
_RESNET18 = _twin("ResNet", "BasicBlock", [2, 2, 2, 2], 10, 3, small=True)
STEP_SPECS = {
    "resnet18": ModelSpec("resnet18", CIFAR_SHAPE, _RESNET18, _SMALL),
    "mobilenet_v2": ModelSpec("mobilenet_v2", CIFAR_SHAPE, _twin("MobileNetV2", 10, 3, small=True), _SMALL),
}


def _batch(seed: int = 0, batch: int = BATCH) -> tuple[np.ndarray, np.ndarray]:
    return make_batch(CIFAR_SHAPE, batch, seed)


def _step_runners(ours: Any, theirs: Any, batch: int = BATCH) -> dict[str, Any]:
    return step_runners(ours, theirs, CIFAR_SHAPE, batch)


def _inference_runners(ours: Any, theirs: Any) -> tuple[dict[str, Any], float, int]:
    import torch

    import minidl
    from minidl.nn.utils import optimize_for_inference

    x, _ = _batch(1)
    mx, tx = minidl.tensor(x), torch.from_numpy(x)
    ours.eval()
    theirs.eval()
    fused = optimize_for_inference(ours, mx[:2])
    with minidl.no_grad():
        rel = float(np.abs(fused(mx).numpy() - ours(mx).numpy()).max() / np.abs(ours(mx).numpy()).max())

    def run(model: Any, data: Any, grad_mode: Any) -> Any:
        def call() -> None:
            with grad_mode():
                model(data)

        return call

    runners = {
        "minidl": run(ours, mx, minidl.no_grad),
        "minidl fused": run(fused, mx, minidl.no_grad),
        "torch": run(theirs, tx, torch.no_grad),
    }
    return runners, rel, fused.fused_modules


def conv_layers(model: Any, batch: int = BATCH) -> list[dict[str, Any]]:
    """Every distinct convolution a forward pass of a CIFAR batch runs, with the algorithm minidl picks for it
    (``benchmarks.models.conv_algorithms``)."""
    return conv_algorithms(model, CIFAR_SHAPE, batch)


def _layer_row(layer: dict[str, Any], repeat: int) -> dict[str, Any]:
    import torch

    import minidl
    import minidl.nn.functional as F

    rng = np.random.default_rng(2)
    n, c, h, w = layer["input"]
    cout, (kh, kw), groups = layer["out_channels"], layer["kernel"], layer["groups"]
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    weight = (rng.standard_normal((cout, c // groups, kh, kw)) / np.sqrt(c // groups * kh * kw)).astype(np.float32)
    g = rng.standard_normal(layer["output"]).astype(np.float32)
    args = {"stride": layer["stride"], "padding": layer["padding"], "groups": groups}
    ours = [minidl.tensor(x, requires_grad=True), minidl.tensor(weight, requires_grad=True)]
    theirs = [torch.tensor(x, requires_grad=True), torch.tensor(weight, requires_grad=True)]
    mg, tg = minidl.tensor(g), torch.tensor(g)

    def ours_run() -> None:
        F.conv2d(*ours, **args).backward(mg)

    def theirs_run() -> None:
        torch.nn.functional.conv2d(*theirs, **args).backward(tg)

    samples = time_alternating({"minidl": ours_run, "torch": theirs_run}, repeat=repeat, warmup=2)
    med = {k: summary(v)["median_s"] for k, v in samples.items()}
    macs = np.prod(layer["output"]) * (c // groups) * kh * kw
    flops = 3 * 2 * macs
    return {"minidl_ms": med["minidl"] * 1e3, "torch_ms": med["torch"] * 1e3,
            "minidl_gflops": flops / med["minidl"] / 1e9, "torch_gflops": flops / med["torch"] / 1e9}  # fmt: skip


_MEMORY_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[v] = "1"
    sys.path.insert(0, os.getcwd())
    from benchmarks.steps import STEP_SPECS, _step_runners
    from benchmarks.models import build_pair
    import torch
    torch.set_num_threads(1)
    library, name = sys.argv[1], sys.argv[2]
    ours, theirs, _ = build_pair(STEP_SPECS[name])
    step = _step_runners(ours, theirs)[library]
    ours = theirs = None  # the step keeps what it needs
    step()
    def status(field):
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))
    base = status("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    step()
    print(json.dumps({"peak_extra_mib": (status("VmHWM") - base) / 1024, "after_warmup_mib": base / 1024}))
    """
)


def step_memory(name: str) -> dict[str, Any]:
    """Peak extra resident memory of one training step of ``name``, each library alone in a fresh process."""
    result = {}
    for library in ("minidl", "torch"):
        out = subprocess.run([sys.executable, "-c", _MEMORY_SCRIPT, library, name], capture_output=True, text=True,
                             check=True)  # fmt: skip
        result[library] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def run(repeat: int = 7, models: str | list[str] | None = None) -> tuple[str, dict[str, Any]]:
    """The tables for ``models`` (default: resnet18 and mobilenet_v2)."""
    names = list(STEP_SPECS) if not models else [m for m in (models.split(",") if isinstance(models, str) else models)]
    unknown = [n for n in names if n not in STEP_SPECS]
    if unknown:
        raise ValueError(f"steps: models of {sorted(STEP_SPECS)} expected, got {unknown}")
    rows, layer_rows, records = [], [], []
    for name in names:
        ours, theirs, _ = build_pair(STEP_SPECS[name])
        layers = conv_layers(ours)
        infer, rel, fused_count = _inference_runners(ours, theirs)
        inference = {k: summary(v)["median_s"] for k, v in time_alternating(infer, repeat, warmup=2).items()}
        step = {k: summary(v)["median_s"] for k, v in time_alternating(_step_runners(ours, theirs), repeat, 2).items()}
        memory = step_memory(name)
        mem_ratio = memory["minidl"]["peak_extra_mib"] / max(memory["torch"]["peak_extra_mib"], 1e-9)
        rows.append([
            name, f"{step['minidl'] * 1e3:.0f}", f"{step['torch'] * 1e3:.0f}", f"{step['minidl'] / step['torch']:.2f}×",
            f"{inference['minidl'] * 1e3:.0f}", f"{inference['minidl fused'] * 1e3:.0f}",
            f"{inference['torch'] * 1e3:.0f}", f"{inference['minidl'] / inference['torch']:.2f}×",
            f"{inference['minidl fused'] / inference['torch']:.2f}×",
            f"{memory['minidl']['peak_extra_mib']:.0f} / {memory['torch']['peak_extra_mib']:.0f} ({mem_ratio:.2f}×)",
        ])  # fmt: skip
        for layer in layers:
            timing = _layer_row(layer, max(3, repeat // 2))
            layer.update(timing)
            _, c, h, w = layer["input"]
            ratio = timing["minidl_ms"] / timing["torch_ms"]
            layer_rows.append([
                name, f"{c}→{layer['out_channels']} {h}×{w} k{layer['kernel'][0]} s{layer['stride'][0]}"
                + (f" g{layer['groups']}" if layer["groups"] > 1 else ""), layer["count"], layer["algorithm"],
                f"{timing['minidl_ms']:.2f}", f"{timing['torch_ms']:.2f}", f"{ratio:.2f}×",
                f"{timing['minidl_gflops']:.0f}", f"{timing['torch_gflops']:.0f}",
            ])  # fmt: skip
        records.append({"model": name, "step_s": step, "inference_s": inference, "fused_rel_diff": rel,
                        "fused_modules": fused_count, "memory": memory, "layers": layers})  # fmt: skip
    headers = ["model (3×32×32, batch 32)", "minidl step ms", "PyTorch step ms", "step ratio", "minidl infer ms",
               "minidl fused ms", "PyTorch infer ms", "infer ratio", "fused ratio",
               "step peak extra MiB minidl / PyTorch"]  # fmt: skip
    layer_headers = ["model", "conv (per image: C→C_out H×W kernel stride)", "layers", "algorithm", "minidl fwd+bwd ms",
                     "PyTorch fwd+bwd ms", "ratio", "minidl GFLOP/s", "PyTorch GFLOP/s"]  # fmt: skip
    note = ("Training step: SGD lr 0.01 momentum 0.9, cross-entropy, train mode. Inference: eval mode, no gradients; "
            "'fused' is after minidl.nn.utils.optimize_for_inference. Layers: batch 32, forward + backward of the "
            "convolution alone; GFLOP/s count the direct algorithm's 3 × 2 × multiply-adds (forward, input and "
            "weight gradients), so an algorithm that saves multiplications can pass the GEMM ceiling.")  # fmt: skip
    text = "\n\n".join([markdown_table(headers, rows), markdown_table(layer_headers, layer_rows), note])
    return text, {"models": records, "batch": BATCH, "repeat": repeat}
