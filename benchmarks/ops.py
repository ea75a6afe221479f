"""The course's building blocks on the shapes the issues name: minidl vs PyTorch, forward and forward+backward,
each kernel implementation side by side, the ResNet 3×3 convolution against the GEMM ceiling, and peak memory."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any, Callable

import numpy as np

from benchmarks.report import markdown_table
from benchmarks.timing import summary, time_alternating

# name, builder kind, arguments (float32, NCHW)
SHAPES: list[tuple[str, str, dict[str, Any]]] = [
    ("LeNet conv1: N=64, 1→6, 28×28, k5, pad 2", "conv", dict(n=64, c=1, h=28, w=28, cout=6, k=5, padding=2)),
    ("LeNet conv2: N=64, 6→16, 14×14, k5", "conv", dict(n=64, c=6, h=14, w=14, cout=16, k=5, padding=0)),
    ("ResNet 3×3: N=32, 64→64, 32×32, pad 1", "conv", dict(n=32, c=64, h=32, w=32, cout=64, k=3, padding=1)),
    ("1×1: N=32, 64→256, 16×16", "conv", dict(n=32, c=64, h=16, w=16, cout=256, k=1, padding=0)),
    ("depthwise 3×3: N=32, C=128, 32×32, pad 1", "depthwise", dict(n=32, c=128, h=32, w=32, k=3, padding=1)),
    ("max-pool 2×2: N=32, C=64, 32×32", "maxpool", dict(n=32, c=64, h=32, w=32)),
    ("batch norm (train): N=32, C=64, 32×32", "batchnorm", dict(n=32, c=64, h=32, w=32)),
]


def _inputs(kind: str, p: dict[str, Any], rng: np.random.Generator) -> list[np.ndarray]:
    x = rng.standard_normal((p["n"], p["c"], p["h"], p["w"])).astype(np.float32)
    if kind == "conv":
        fan_in = p["c"] * p["k"] ** 2
        weight = (rng.standard_normal((p["cout"], p["c"], p["k"], p["k"])) / np.sqrt(fan_in)).astype(np.float32)
        return [x, weight, rng.standard_normal(p["cout"]).astype(np.float32)]
    if kind == "depthwise":
        return [x, (rng.standard_normal((p["c"], 1, p["k"], p["k"])) / p["k"]).astype(np.float32)]
    if kind == "batchnorm":
        return [x, np.ones(p["c"], np.float32), np.zeros(p["c"], np.float32)]
    return [x]


def _op(kind: str, p: dict[str, Any], functional: Any) -> Callable:
    if kind == "conv":
        return lambda x, w, b: functional.conv2d(x, w, b, padding=p["padding"])
    if kind == "depthwise":
        return lambda x, w: functional.conv2d(x, w, padding=p["padding"], groups=p["c"])
    if kind == "maxpool":
        return lambda x: functional.max_pool2d(x, 2)
    return lambda x, w, b: functional.batch_norm(x, None, None, w, b, training=True)


def _runners(kind: str, p: dict[str, Any], arrays: list[np.ndarray]) -> dict[str, Callable[[], object]]:
    """Forward and forward+backward closures for minidl and PyTorch on the same inputs."""
    import torch
    import torch.nn.functional as TF

    import minidl
    import minidl.nn.functional as F

    ours = [minidl.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    op, torch_op = _op(kind, p, F), _op(kind, p, TF)
    probe = op(*ours)
    seed = np.random.default_rng(1).standard_normal(probe.shape).astype(np.float32)
    g_ours, g_theirs = minidl.tensor(seed), torch.tensor(seed)

    def forward(fn, tensors, grad_mode):
        def run():
            with grad_mode():
                fn(*tensors)

        return run

    def forward_backward(fn, tensors, grad):
        def run():
            for t in tensors:
                t.grad = None
            fn(*tensors).backward(grad)

        return run

    return {
        "minidl fwd": forward(op, ours, minidl.no_grad),
        "torch fwd": forward(torch_op, theirs, torch.no_grad),
        "minidl fwd+bwd": forward_backward(op, ours, g_ours),
        "torch fwd+bwd": forward_backward(torch_op, theirs, g_theirs),
    }


def _repeats(kind: str, p: dict[str, Any], repeat: int) -> int:
    work = p["n"] * p["c"] * p["h"] * p["w"] * (p.get("cout", 1) * p.get("k", 1) ** 2 if kind == "conv" else 1)
    return max(5, min(repeat, int(repeat * 2e6 / max(work, 1))))


def _algorithm(kind: str, p: dict[str, Any]) -> str:
    """The convolution algorithm minidl's CPU backend picks for a conv shape (``Convolution.describe``), else "—"."""
    if kind not in ("conv", "depthwise"):
        return "—"
    from minidl.backend import get_backend

    k, pad = p["k"], p["padding"]
    groups, cout = (p["c"], p["c"]) if kind == "depthwise" else (1, p["cout"])
    out_hw = (p["h"] + 2 * pad - k + 1, p["w"] + 2 * pad - k + 1)
    weight_shape = (cout, p["c"] // groups, k, k)
    return get_backend("cpu").convolution.describe(p["c"], weight_shape, (1, 1), (pad,) * 4, (1, 1), groups, out_hw)


def speed_table(repeat: int) -> tuple[str, list[dict[str, Any]]]:
    rows, records = [], []
    rng = np.random.default_rng(0)
    for name, kind, p in SHAPES:
        arrays = _inputs(kind, p, rng)
        runners = _runners(kind, p, arrays)
        samples = time_alternating(runners, repeat=_repeats(kind, p, repeat), warmup=2)
        stats = {k: summary(v) for k, v in samples.items()}
        med = {k: v["median_s"] * 1e3 for k, v in stats.items()}
        fwd_ratio = med["minidl fwd"] / med["torch fwd"]
        both_ratio = med["minidl fwd+bwd"] / med["torch fwd+bwd"]
        algorithm = _algorithm(kind, p)
        rows.append([
            name, algorithm, f"{med['minidl fwd']:.2f}", f"{med['torch fwd']:.2f}", f"{fwd_ratio:.2f}×",
            f"{med['minidl fwd+bwd']:.2f}", f"{med['torch fwd+bwd']:.2f}", f"{both_ratio:.2f}×",
        ])  # fmt: skip
        records.append({"shape": name, "algorithm": algorithm, "stats_ms": med, "forward_ratio": fwd_ratio,
                        "forward_backward_ratio": both_ratio})  # fmt: skip
    headers = ["shape (float32, NCHW)", "minidl algorithm", "minidl fwd ms", "PyTorch fwd ms", "fwd ratio",
               "minidl fwd+bwd ms", "PyTorch fwd+bwd ms", "fwd+bwd ratio"]  # fmt: skip
    return markdown_table(headers, rows), records


def _kernel_calls(kind: str, p: dict[str, Any], arrays: list[np.ndarray]) -> dict[str, tuple[Callable, tuple]]:
    """The kernels behind one op on these inputs: name -> (kernel name, arguments)."""
    x = arrays[0]
    if kind == "conv":
        k, pad = p["k"], p["padding"]
        args = ((k, k), (1, 1), (pad, pad, pad, pad), (1, 1))
        from minidl_kernels.reference import im2col

        cols = im2col(x, *args)
        return {"im2col": ("im2col", (x, *args)), "col2im": ("col2im", (cols, x.shape, *args))}
    if kind == "depthwise":
        w, pad = arrays[1], (1, 1, 1, 1)
        from minidl_kernels.reference import depthwise_conv2d_forward

        g = depthwise_conv2d_forward(x, w, (1, 1), pad, (1, 1))
        return {
            "depthwise forward": ("depthwise_conv2d_forward", (x, w, (1, 1), pad, (1, 1))),
            "depthwise backward input": ("depthwise_conv2d_backward_input", (g, w, x.shape, (1, 1), pad, (1, 1))),
            "depthwise backward weight": ("depthwise_conv2d_backward_weight", (g, x, w.shape, (1, 1), pad, (1, 1))),
        }
    if kind == "maxpool":
        from minidl_kernels.reference import max_pool2d_forward

        out, idx = max_pool2d_forward(x, (2, 2), (2, 2), (0, 0), (1, 1), (p["h"] // 2, p["w"] // 2))
        return {
            "max-pool forward": ("max_pool2d_forward", (x, (2, 2), (2, 2), (0, 0), (1, 1), out.shape[2:])),
            "max-pool backward": ("max_pool2d_backward", (out, idx, x.shape)),
        }
    x3 = x.reshape(p["n"], p["c"], -1)
    from minidl_kernels.reference import batch_norm_forward

    _, mean, invstd, _ = batch_norm_forward(x3, arrays[1], arrays[2], 1e-5)
    return {
        "batch-norm forward": ("batch_norm_forward", (x3, arrays[1], arrays[2], 1e-5)),
        "batch-norm backward": ("batch_norm_backward", (x3, x3, arrays[1], mean, invstd)),
    }


def kernel_table(repeat: int) -> tuple[str, list[dict[str, Any]]]:
    """Every implementation of the kernels behind each shape, timed on that shape (ms, medians)."""
    from minidl.backend import get_backend

    table = get_backend("cpu").kernels
    impl_names = ["reference", "numba", "cython"]
    rows, records = [], []
    rng = np.random.default_rng(0)
    for name, kind, p in SHAPES:
        arrays = _inputs(kind, p, rng)
        for label, (kernel, args) in _kernel_calls(kind, p, arrays).items():
            available = [i for i in impl_names if i in table.available(kernel)]
            calls = {}
            for impl in available:
                try:
                    fn = table.resolve(kernel, impl)
                except ImportError:
                    continue
                calls[impl] = lambda fn=fn, args=args: fn(*args)
            samples = time_alternating(calls, repeat=max(3, repeat // 10), warmup=1)
            med = {impl: summary(s)["median_s"] * 1e3 for impl, s in samples.items()}
            rows.append(
                [f"{label} ({name.split(':')[0]})"]
                + [f"{med[i]:.2f}" if i in med else "—" for i in impl_names]
                + [table.choice(kernel)]
            )
            records.append({"kernel": kernel, "shape": name, "median_ms": med, "default": table.choice(kernel)})
    return markdown_table(["kernel (shape)", "reference ms", "Numba ms", "Cython ms", "default"], rows), records


def gemm_ceiling(repeat: int) -> tuple[str, dict[str, Any]]:
    """The ResNet 3×3 forward in GFLOP/s against NumPy's BLAS GEMM on a matrix of the same work."""
    import minidl
    import minidl.nn.functional as F

    p = SHAPES[2][2]
    rng = np.random.default_rng(0)
    x, w, _ = _inputs("conv", p, rng)
    flops = 2 * p["n"] * p["h"] * p["w"] * p["cout"] * p["c"] * p["k"] ** 2
    mx, mw = minidl.tensor(x), minidl.tensor(w)
    a = rng.standard_normal((p["cout"], p["c"] * 9)).astype(np.float32)
    cols = rng.standard_normal((p["c"] * 9, p["h"] * p["w"] * 8)).astype(np.float32)

    def conv():
        with minidl.no_grad():
            F.conv2d(mx, mw, padding=1)

    samples = time_alternating({"conv": conv, "gemm": lambda: a @ cols}, repeat=max(5, repeat // 10), warmup=2)
    conv_gflops = flops / summary(samples["conv"])["median_s"] / 1e9
    gemm_gflops = 2 * a.shape[0] * a.shape[1] * cols.shape[1] / summary(samples["gemm"])["median_s"] / 1e9
    big = rng.standard_normal((1024, 1024)).astype(np.float32)
    big_gflops = (
        2 * 1024**3 / summary(time_alternating({"m": lambda: big @ big}, repeat=10, warmup=2)["m"])["median_s"] / 1e9
    )
    text = (
        f"ResNet 3×3 forward: {conv_gflops:.1f} GFLOP/s; NumPy BLAS on the same GEMM shape (64×576 @ 576×8192): "
        f"{gemm_gflops:.1f} GFLOP/s, at 1024×1024: {big_gflops:.1f} GFLOP/s → the forward runs at "
        f"{100 * conv_gflops / big_gflops:.0f}% of the 1024² GEMM ceiling"
    )
    return text, {"conv_gflops": conv_gflops, "gemm_same_shape_gflops": gemm_gflops, "gemm_1024_gflops": big_gflops}


_MEMORY_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[v] = "1"
    import numpy as np
    library, n, c, h, w, cout, k, pad = sys.argv[1], *map(int, sys.argv[2:])
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    weight = rng.standard_normal((cout, c, k, k)).astype(np.float32)
    if library == "torch":
        import torch
        torch.set_num_threads(1)
        tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(weight, requires_grad=True)
        run = lambda: torch.nn.functional.conv2d(tx, tw, padding=pad).sum().backward()
        small = torch.nn.functional.conv2d(tx[:1, :, :k, :k], tw)  # load the code paths first
    else:
        import minidl, minidl.nn.functional as F
        tx, tw = minidl.tensor(x, requires_grad=True), minidl.tensor(weight, requires_grad=True)
        run = lambda: F.conv2d(tx, tw, padding=pad).sum().backward()
        small = F.conv2d(minidl.tensor(x[:1, :, :k, :k]), minidl.tensor(weight))
    def status(field):
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))
    base = status("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak (VmHWM) to the current resident size
    run()
    print(json.dumps({"peak_extra_mib": (status("VmHWM") - base) / 1024}))
    """
)


def memory_table() -> tuple[str, list[dict[str, Any]]]:
    """Extra peak resident memory of one conv forward+backward, each library in a fresh process."""
    rows, records = [], []
    for name, _, p in SHAPES[:4]:
        args = [str(p[key]) for key in ("n", "c", "h", "w", "cout", "k", "padding")]
        result = {}
        for library in ("minidl", "torch"):
            out = subprocess.run(
                [sys.executable, "-c", _MEMORY_SCRIPT, library, *args], capture_output=True, text=True, check=True
            )
            result[library] = json.loads(out.stdout.strip().splitlines()[-1])["peak_extra_mib"]
        ratio = result["minidl"] / max(result["torch"], 1e-9)
        tensors_mib = 4 * (p["n"] * (p["c"] * p["h"] * p["w"] + p["cout"] * p["h"] * p["w"])) / 2**20
        rows.append([name, f"{result['minidl']:.1f}", f"{result['torch']:.1f}", f"{ratio:.2f}×", f"{tensors_mib:.1f}"])
        records.append({"shape": name, "peak_extra_mib": result, "ratio": ratio})
    headers = ["conv fwd+bwd (float32)", "minidl extra peak MiB", "PyTorch extra peak MiB", "ratio",
               "input + output MiB"]  # fmt: skip
    return markdown_table(headers, rows), records


def run(repeat: int) -> tuple[str, dict[str, Any]]:
    speed, speed_records = speed_table(repeat)
    kernels, kernel_records = kernel_table(repeat)
    ceiling, ceiling_data = gemm_ceiling(repeat)
    memory, memory_records = memory_table()
    layout, layout_records = layout_table(repeat)
    text = "\n\n".join([speed, kernels, ceiling, memory, layout])
    return text, {
        "layout": layout_records,
        "speed": speed_records,
        "kernels": kernel_records,
        "gemm_ceiling": ceiling_data,
        "memory": memory_records,
    }


def _layout_candidates(x: np.ndarray, w: np.ndarray, g: np.ndarray, pad: int) -> dict[str, Callable[[], None]]:
    """Forward + backward closures of one convolution, channels-first and channels-last, in both libraries."""
    import torch

    import minidl
    import minidl.nn.functional as F

    tx = torch.tensor(x, requires_grad=True)
    tx_last = torch.tensor(x).to(memory_format=torch.channels_last).requires_grad_(True)
    tw = torch.tensor(w, requires_grad=True)
    tw_last = torch.tensor(w).to(memory_format=torch.channels_last).requires_grad_(True)
    tg, tg_last = torch.tensor(g), torch.tensor(g).to(memory_format=torch.channels_last)
    mx, mw, mg = minidl.tensor(x, requires_grad=True), minidl.tensor(w, requires_grad=True), minidl.tensor(g)
    x_nhwc = minidl.tensor(np.ascontiguousarray(x.transpose(0, 2, 3, 1)), requires_grad=True)
    g_nhwc = minidl.tensor(np.ascontiguousarray(g.transpose(0, 2, 3, 1)))

    def torch_first() -> None:
        torch.nn.functional.conv2d(tx, tw, padding=pad).backward(tg)

    def torch_last() -> None:
        torch.nn.functional.conv2d(tx_last, tw_last, padding=pad).backward(tg_last)

    def ours_first() -> None:
        F.conv2d(mx, mw, padding=pad).backward(mg)

    def ours_last() -> None:
        F.conv2d(x_nhwc.permute(0, 3, 1, 2), mw, padding=pad).permute(0, 2, 3, 1).backward(g_nhwc)

    return {"torch NCHW": torch_first, "torch NHWC": torch_last, "minidl NCHW": ours_first,
            "minidl NHWC (permuted)": ours_last}  # fmt: skip


def layout_table(repeat: int) -> tuple[str, list[dict[str, Any]]]:
    """Channels-first (NCHW) against channels-last (NHWC) on the conv shapes, forward + backward: PyTorch with its
    ``channels_last`` memory format, and minidl, whose kernels are NCHW, on an NHWC tensor permuted in and out (what a
    channels-last model such as ``minidl.keras`` pays)."""
    rows, records = [], []
    rng = np.random.default_rng(0)
    for name, kind, p in SHAPES:
        if kind != "conv":
            continue
        x, w, _ = _inputs(kind, p, rng)
        ho = p["h"] + 2 * p["padding"] - p["k"] + 1
        g = rng.standard_normal((p["n"], p["cout"], ho, ho)).astype(np.float32)
        candidates = _layout_candidates(x, w, g, p["padding"])
        samples = time_alternating(candidates, repeat=_repeats(kind, p, repeat), warmup=2)
        med = {k: summary(v)["median_s"] * 1e3 for k, v in samples.items()}
        theirs, ours = med["torch NHWC"] / med["torch NCHW"], med["minidl NHWC (permuted)"] / med["minidl NCHW"]
        rows.append([name] + [f"{med[k]:.2f}" for k in candidates] + [f"{theirs:.2f}×", f"{ours:.2f}×"])
        records.append({"shape": name, "median_ms": med})
    headers = ["conv fwd+bwd (float32)", "PyTorch NCHW ms", "PyTorch NHWC ms", "minidl NCHW ms",
               "minidl NHWC (permuted) ms", "PyTorch NHWC / NCHW", "minidl NHWC / NCHW"]  # fmt: skip
    return markdown_table(headers, rows), records
