"""Wall time of one training epoch of LeNet-5 on MNIST (60,000 images), minidl against PyTorch.

Both sides train the same network (LeNet-5, modern form: ReLU and max-pool, 61,706 parameters) from the same
initial weights with Adam (lr 1e-3) and cross-entropy, on the same batches in the same order:

- minidl: ``minidl.data.DataLoader(MNIST, batch_size, shuffle=True, seed=0)`` (its defaults otherwise, so a
  background thread prepares the next two batches) and the loop of ``minidl.train.fit`` without its progress bar,
  metrics and dtype checks: ``zero_grad``, forward, loss, ``backward``, ``step``, ``loss.item()``.
- PyTorch: ``tests/models/torch_zoo.LeNet5`` (its seeded initial weights are the ones minidl loads),
  ``torch.optim.Adam``, and the same loop. Its batches come from the same code as minidl's
  (``MNIST.__getitems__`` on the loader's order for that epoch: uint8 fancy indexing and a float32 division by
  255) wrapped by ``torch.from_numpy``, in the main thread.

Each library trains in its own worker process (started with the same thread settings), so that neither inherits
the other's allocator state: in one process, minidl's churn of large temporaries makes glibc hand PyTorch fresh
pages too (≈900 extra page faults per PyTorch step, ~1.7 ms, measured on the 2-vCPU machine). The parent
alternates them epoch by epoch (minidl, PyTorch, minidl, ...) so that drift hits both; each epoch is timed inside
its worker. The first epoch of each library is reported on its own (it includes loading the Numba kernels and
every one-off warm-up), the steady state is the median of the next ``repeat`` epochs. With ``epochs_fraction``
F < 1 each timed epoch is its first ⌈F × batches⌉ batches, and the epoch time is extrapolated from the images per
second (the first epoch's one-off extra cost is added once, not extrapolated).
"""

from __future__ import annotations

import cProfile
import io
import itertools
import json
import math
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator

try:
    import resource
except ImportError:  # not on Windows: the page-fault and system-time rows read "—"
    resource = None  # type: ignore[assignment]

from benchmarks.report import markdown_table
from benchmarks.timing import THREAD_VARIABLES, summary

DEFAULT_REPEAT = 2
PYTORCH_TARGET_RATIO = 1.5  # the target: minidl ≤ 1.5× PyTorch per epoch at 1 thread
PROFILE_STEPS = 50


def default_mnist_root() -> Path | None:
    """``../shared/data/mnist`` next to the repository, when it exists; else None (``$MINIDL_DATA`` or
    ``~/.cache/minidl``, as ``minidl.data.datasets.MNIST`` resolves it)."""
    folder = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
    return folder if folder.is_dir() else None


def load_mnist(root: str | Path | None = None) -> Any:
    """The MNIST training set (60,000 images) read with ``minidl.data.datasets.MNIST``."""
    from minidl.data.datasets import MNIST

    return MNIST(default_mnist_root() if root is None else root, train=True)


def build_pair(seed: int = 0) -> tuple[Any, Any]:
    """LeNet-5 in PyTorch (seeded weights) and in minidl holding the same weights, both in training mode."""
    import torch

    import minidl
    from tests.models import torch_zoo as tz

    torch.manual_seed(seed)
    theirs = tz.LeNet5(num_classes=10, in_channels=1)
    ours = minidl.models.lenet5()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    return ours.train(), theirs.train()


class Trainer:
    """One library's side: a model, Adam, cross-entropy, and ``run_epoch(limit)``, which trains on the first
    ``limit`` batches of the next epoch and records the number of images, the mean loss, and the minor page
    faults and system (kernel) CPU seconds of the process during the epoch."""

    def __init__(self, library: str, model: Any, batches: Callable[[int], Iterator[tuple[Any, Any]]], lr: float):
        self.library = library
        self.model = model
        self.batches = batches
        self.epoch = 0
        self.images = 0
        self.losses: list[float] = []
        self.page_faults: list[int] = []
        self.system_s: list[float] = []
        if library == "minidl":
            import minidl

            self.optimizer = minidl.optim.Adam(model.parameters(), lr=lr)
            self.loss_fn = minidl.nn.CrossEntropyLoss()
        else:
            import torch

            self.optimizer = torch.optim.Adam(model.parameters(), lr=lr)
            self.loss_fn = torch.nn.CrossEntropyLoss()

    def step(self, x: Any, y: Any) -> float:
        """One training step on the batch (x, y); returns the loss."""
        self.optimizer.zero_grad()
        loss = self.loss_fn(self.model(x), y)
        loss.backward()
        self.optimizer.step()
        return loss.item()

    def run_epoch(self, limit: int) -> None:
        """Train on the first ``limit`` batches of the next epoch."""
        images, loss_sum = 0, 0.0
        before = resource.getrusage(resource.RUSAGE_SELF) if resource else None
        for x, y in itertools.islice(self.batches(self.epoch), limit):
            n = int(x.shape[0])
            loss_sum += self.step(x, y) * n
            images += n
        if resource and before:
            after = resource.getrusage(resource.RUSAGE_SELF)
            self.page_faults.append(after.ru_minflt - before.ru_minflt)
            self.system_s.append(after.ru_stime - before.ru_stime)
        self.epoch += 1
        self.images = images
        self.losses.append(loss_sum / max(images, 1))


def minidl_batches(dataset: Any, batch_size: int, seed: int) -> tuple[Any, Callable[[int], Iterator[Any]]]:
    """minidl's ``DataLoader`` (shuffled, seeded) and a function giving the batches of epoch ``e``."""
    from minidl.data import DataLoader

    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, seed=seed)

    def batches(epoch: int) -> Iterator[Any]:
        loader.set_epoch(epoch)
        return iter(loader)

    return loader, batches


def torch_batches(dataset: Any, loader: Any) -> Callable[[int], Iterator[Any]]:
    """The same batches as ``loader`` gives for epoch ``e`` (same order, built by the same ``__getitems__``),
    as torch tensors sharing the NumPy memory."""
    import torch

    def batches(epoch: int) -> Iterator[Any]:
        order = loader.order(epoch)
        for start in range(0, len(order), loader.batch_size):
            x, y = dataset.__getitems__(order[start : start + loader.batch_size])
            yield torch.from_numpy(x), torch.from_numpy(y)

    return batches


def feeding_time(batches: Callable[[int], Iterator[Any]], limit: int) -> float:
    """Seconds to produce the first ``limit`` batches of one epoch without training on them."""
    start = time.perf_counter()
    for _ in itertools.islice(batches(10_000), limit):
        pass
    return time.perf_counter() - start


def profile_steps(trainer: Trainer, steps: int = PROFILE_STEPS, top: int = 20) -> tuple[str, list[dict[str, Any]]]:
    """cProfile ``steps`` training steps of ``trainer`` (its next epoch's first batches, prepared beforehand so
    that only the steps are profiled); the ``top`` functions by own time as a Markdown table and records."""
    batches = list(itertools.islice(trainer.batches(trainer.epoch), steps))
    trainer.epoch += 1
    profiler = cProfile.Profile()
    profiler.enable()
    for x, y in batches:
        trainer.step(x, y)
    profiler.disable()
    stats = pstats.Stats(profiler, stream=io.StringIO())
    total = stats.total_tt  # type: ignore[attr-defined]
    entries = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:top]  # type: ignore[attr-defined]
    rows, records = [], []
    for (filename, line, func), (_, calls, tottime, cumtime, _) in entries:
        where = f"{Path(filename).name}:{line}({func})" if line else func
        per_step = f"{calls / steps:.3g}"
        rows.append([where, per_step, f"{tottime / steps * 1e3:.3f}", f"{100 * tottime / total:.1f}%",
                     f"{cumtime / steps * 1e3:.3f}"])  # fmt: skip
        records.append({"function": where, "calls": calls, "tottime_s": tottime, "cumtime_s": cumtime})
    headers = ["function (file:line)", "calls per step", "own ms per step", "share of own time",
               "cumulative ms per step"]  # fmt: skip
    text = (
        f"cProfile of {steps} minidl training steps (batch {int(batches[0][0].shape[0])}): "
        f"{total / steps * 1e3:.2f} ms per step under the profiler (which inflates Python-heavy code); "
        "top functions by own time:\n\n"
    )
    return text + markdown_table(headers, rows), records


def _per_step(per_epoch: list[float], steps: int, scale: float, fmt: str = ",.0f") -> str:
    """The median over the steady epochs (all but the first) of a per-epoch count, per step, formatted."""
    if len(per_epoch) < 2:
        return "—"
    return format(statistics.median(per_epoch[1:]) / steps * scale, fmt)


# ------------------------------------------------------------------------------------------ worker processes
_REPLY = "@@benchmark-reply "


def worker_main(argv: list[str] | None = None) -> None:
    """The worker process of one library: set up from the JSON config in ``argv[0]`` (library, batch_size,
    limit, root, lr, threads), reply ``ready``, then answer one command per stdin line (``epoch``, ``feed``,
    ``profile``, ``quit``) with one JSON line on stdout prefixed by ``_REPLY``."""
    config = json.loads((sys.argv[1:] if argv is None else argv)[0])
    if config.get("malloc_tuned"):
        from minidl.backend.memory import keep_freed_memory

        keep_freed_memory()
    import torch

    torch.set_num_threads(config["threads"])
    start = time.perf_counter()
    dataset = load_mnist(config["root"])
    load_s = time.perf_counter() - start
    ours, theirs = build_pair()
    loader, ours_batches = minidl_batches(dataset, config["batch_size"], seed=0)
    if config["library"] == "minidl":
        trainer = Trainer("minidl", ours, ours_batches, config["lr"])
    else:
        trainer = Trainer("torch", theirs, torch_batches(dataset, loader), config["lr"])
    limit = config["limit"]

    def reply(message: dict[str, Any]) -> None:
        sys.stdout.write(_REPLY + json.dumps(message) + "\n")
        sys.stdout.flush()

    reply({"images": len(dataset), "batches_per_epoch": len(loader), "load_s": load_s,
           "parameters": sum(p.numel() for p in ours.parameters())})  # fmt: skip
    for line in sys.stdin:
        command = line.strip()
        if command == "epoch":
            start = time.perf_counter()
            trainer.run_epoch(limit)
            seconds = time.perf_counter() - start
            reply({"seconds": seconds, "images": trainer.images, "loss": trainer.losses[-1],
                   "page_faults": trainer.page_faults[-1] if trainer.page_faults else None,
                   "system_s": trainer.system_s[-1] if trainer.system_s else None})  # fmt: skip
        elif command == "feed":
            reply({"seconds": feeding_time(trainer.batches, limit)})
        elif command == "profile":
            text, records = profile_steps(trainer)
            reply({"text": text, "records": records})
        else:
            return


class _Worker:
    """A running ``worker_main`` process and the commands sent to it."""

    def __init__(self, config: dict[str, Any]):
        env = dict(os.environ)
        for name in THREAD_VARIABLES:
            env[name] = str(config["threads"])
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        if config["library"] == "torch" and not config["malloc_tuned"]:
            # The PyTorch worker imports minidl too (to build the twin models); keep PyTorch's process as a user
            # runs it, without minidl's allocator setting (minidl.backend.memory), unless --malloc-tuned.
            env["MINIDL_KEEP_FREED_MEMORY"] = "0"
        self.library = config["library"]
        self.stderr = tempfile.TemporaryFile(mode="w+")
        code = "from benchmarks.training import worker_main; worker_main()"
        self.process = subprocess.Popen(
            [sys.executable, "-c", code, json.dumps(config)], cwd=Path(__file__).resolve().parents[1], env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, text=True,
        )  # fmt: skip

    def receive(self) -> dict[str, Any]:
        """The next reply (other output lines are skipped); a worker that died raises with its stderr."""
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith(_REPLY):
                return json.loads(line[len(_REPLY) :])
        self.process.wait()
        self.stderr.seek(0)
        raise RuntimeError(
            f"the {self.library} training worker exited ({self.process.returncode}):\n{self.stderr.read()}"
        )

    def call(self, command: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self.receive()

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                assert self.process.stdin is not None
                self.process.stdin.write("quit\n")
                self.process.stdin.close()
                self.process.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()
        self.stderr.close()


def run(
    repeat: int = DEFAULT_REPEAT,
    epochs_fraction: float = 1.0,
    batch_size: int = 64,
    root: str | Path | None = None,
    profile: bool = False,
    lr: float = 1e-3,
    threads: int = 1,
    malloc_tuned: bool = False,
) -> tuple[str, dict[str, Any]]:
    """Time LeNet-5 training epochs on MNIST in minidl and PyTorch; the Markdown text and the JSON record.

    repeat: steady-state epochs per library after the first (at least 1).
    epochs_fraction: the share of each epoch's batches to time (0 < F ≤ 1); the epoch time is extrapolated.
    batch_size: images per batch (64 by default).
    root: the MNIST folder (default ``default_mnist_root()``).
    profile: append a cProfile table of ``PROFILE_STEPS`` minidl steps.
    threads: threads of every pool in the worker processes.
    malloc_tuned: the PyTorch worker keeps freed memory too, as minidl does by default (``minidl.backend.memory``),
        to separate allocator page faults from compute.
    """
    if not 0 < epochs_fraction <= 1:
        raise ValueError(f"epochs_fraction must be in (0, 1], got {epochs_fraction}")
    repeat = max(1, repeat)
    root = default_mnist_root() if root is None else root
    full = math.ceil(60_000 / batch_size)  # checked against the dataset below
    limit = full if epochs_fraction == 1 else max(1, math.ceil(epochs_fraction * full))
    config = {"batch_size": batch_size, "limit": limit, "root": None if root is None else str(root), "lr": lr,
              "threads": threads, "malloc_tuned": malloc_tuned}  # fmt: skip
    workers = {name: _Worker({**config, "library": name}) for name in ("minidl", "torch")}
    try:
        ready = {name: w.receive() for name, w in workers.items()}
        if ready["minidl"]["batches_per_epoch"] != full:
            raise RuntimeError(
                f"expected {full} batches per epoch, the dataset gives {ready['minidl']['batches_per_epoch']}"
            )
        epochs: dict[str, list[dict[str, Any]]] = {name: [] for name in workers}
        for _ in range(1 + repeat):  # A B A B ..., as timing.time_alternating
            for name, worker in workers.items():
                epochs[name].append(worker.call("epoch"))
        feed = {
            "minidl DataLoader (prefetch thread)": workers["minidl"].call("feed")["seconds"],
            "PyTorch side (main thread)": workers["torch"].call("feed")["seconds"],
        }
        profiled = workers["minidl"].call("profile") if profile else None
    finally:
        for worker in workers.values():
            worker.close()
    n_images = ready["minidl"]["images"]
    results: dict[str, dict[str, Any]] = {}
    for name, records in epochs.items():
        samples = [r["seconds"] for r in records]
        images = records[-1]["images"]
        steady = summary(samples[1:])
        per_image = steady["median_s"] / images
        epoch_s = per_image * n_images
        first_extra_s = samples[0] - steady["median_s"]
        results[name] = {
            "images_timed_per_epoch": images,
            "samples_s": samples,
            "steady": steady,
            "images_per_s": 1 / per_image,
            "epoch_s": epoch_s,
            "first_epoch_s": epoch_s + first_extra_s,
            "first_epoch_extra_s": first_extra_s,
            "mean_loss_per_epoch": [r["loss"] for r in records],
            "minor_page_faults_per_epoch": [r["page_faults"] for r in records],
            "system_s_per_epoch": [r["system_s"] for r in records],
        }
    ours, theirs = results["minidl"], results["torch"]
    ratio = ours["epoch_s"] / theirs["epoch_s"]
    first_ratio = ours["first_epoch_s"] / theirs["first_epoch_s"]

    def per_step(key: str, scale: float, fmt: str) -> list[str]:
        values = [r[key] for r in (ours, theirs)]
        return ["—" if None in v else _per_step(v, limit, scale, fmt) for v in values]

    rows = [
        ["images/s (steady)", f"{ours['images_per_s']:,.0f}", f"{theirs['images_per_s']:,.0f}", f"{1 / ratio:.2f}×"],
        ["s per epoch (steady, median)", f"{ours['epoch_s']:.2f}", f"{theirs['epoch_s']:.2f}", f"{ratio:.2f}×"],
        ["s per epoch (first)", f"{ours['first_epoch_s']:.2f}", f"{theirs['first_epoch_s']:.2f}",
         f"{first_ratio:.2f}×"],
        ["ms per step (steady)", f"{ours['steady']['median_s'] / limit * 1e3:.2f}",
         f"{theirs['steady']['median_s'] / limit * 1e3:.2f}", f"{ratio:.2f}×"],
        ["minor page faults per step (steady)", *per_step("minor_page_faults_per_epoch", 1, ",.0f"), "—"],
        ["system (kernel) CPU ms per step (steady)", *per_step("system_s_per_epoch", 1e3, ".2f"), "—"],
        ["mean loss, last timed epoch", f"{ours['mean_loss_per_epoch'][-1]:.4f}",
         f"{theirs['mean_loss_per_epoch'][-1]:.4f}", "—"],
    ]  # fmt: skip
    images = ours["images_timed_per_epoch"]
    measured = (
        f"each timed epoch is the full epoch ({full} batches)"
        if limit == full
        else f"each timed epoch is its first {limit} of {full} batches ({images:,} images); epoch times are "
        f"extrapolated ×{n_images / images:.2f} from the steady images/s, and the first epoch is that plus the "
        "one-off extra time of the first pass"
    )
    verdict = "meets" if ratio <= PYTORCH_TARGET_RATIO else "misses"
    notes = [
        f"LeNet-5 (modern: ReLU + max-pool, {ready['minidl']['parameters']:,} parameters), MNIST train "
        f"({n_images:,} images), batch {batch_size}, Adam lr {lr:g}, cross-entropy, {threads} thread"
        f"{'s' if threads > 1 else ''}. Each library in its own worker process; epochs alternate minidl/PyTorch; "
        f"steady = median of {repeat} epoch(s) after the first; {measured}.",
        "Both sides start from the same weights (PyTorch's, loaded into minidl) and see the same batches in the "
        "same order. minidl: DataLoader(shuffle=True, seed=0, prefetch=2) and zero_grad → forward → loss → backward "
        "→ step → loss.item() (fit's loop without progress bar, metrics and checks). PyTorch: the same loop; its "
        "batches are built by the same MNIST.__getitems__ on the loader's order (uint8 indexing, /255 to float32) "
        "and wrapped by torch.from_numpy in the main thread.",
        "Data feeding alone, same batches, no training: "
        + ", ".join(f"{k} {v:.3f} s" for k, v in feed.items())
        + f" (MNIST read in {ready['minidl']['load_s']:.2f} s, not timed above).",
        "Page faults and system CPU time: each worker process's (getrusage) during its epochs, data feeding "
        "included. Many minor faults per step mean large temporaries whose fresh pages the kernel maps on every "
        "allocation (glibc returns big freed blocks to the OS): time spent outside the computation.",
        (
            "**glibc malloc tuned in both workers** (blocks up to 32 MiB from the heap, freed memory kept: "
            "minidl's default, `minidl.backend.memory`), unlike PyTorch's default process."
            if malloc_tuned
            else "minidl keeps freed memory (its default, `minidl.backend.memory`); PyTorch runs with glibc's "
            "defaults, as a user runs it; `--malloc-tuned` gives PyTorch minidl's setting too."
        ),
        f"Target: minidl ≤ {PYTORCH_TARGET_RATIO}× PyTorch per epoch at 1 thread — this run {verdict} it "
        f"({ratio:.2f}×).",
    ]
    text = markdown_table(["LeNet-5 on MNIST", "minidl", "PyTorch", "minidl / PyTorch"], rows)
    text += "\n\n" + "\n\n".join(notes)
    data: dict[str, Any] = {
        "batch_size": batch_size,
        "epochs_fraction": epochs_fraction,
        "batches_timed_per_epoch": limit,
        "batches_per_epoch": full,
        "repeat": repeat,
        "lr": lr,
        "results": results,
        "ratio": ratio,
        "first_epoch_ratio": first_ratio,
        "feeding_s": feed,
        "mnist_load_s": ready["minidl"]["load_s"],
        "malloc_tuned": malloc_tuned,
    }
    if profiled is not None:
        text += "\n\n" + profiled["text"]
        data["profile"] = profiled["records"]
    return text, data
