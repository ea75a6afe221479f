"""``DataLoader``: batches of a dataset as Tensors, shuffled reproducibly, optionally prepared by a background thread.

    loader = DataLoader(train_set, batch_size=64, shuffle=True, seed=0)
    for epoch in range(10):
        for x, y in loader:          # x: float32 (64, 1, 28, 28), y: int64 (64,)
            ...

Each batch is built in one step when the dataset has ``__getitems__`` (NumPy fancy indexing on array-backed
datasets), else by stacking ``dataset[i]`` (see ``minidl.data.dataset.fetch``).
"""

from __future__ import annotations

import json
import math
import queue
import threading
from typing import Any, Callable, Iterator

import numpy as np

from minidl import random as _random
from minidl.data.dataset import fetch
from minidl.data.transforms import Compose, RandomTransform
from minidl.tensor import Tensor, from_numpy

_DONE = object()


class DataLoader:
    """Iterate over ``dataset`` in batches of ``batch_size`` samples, each a tuple of Tensors (or one Tensor
    when the dataset's samples are single arrays), e.g. images float32 (B, C, H, W) and labels int64 (B,).

    - ``len(loader)`` is ``ceil(len(dataset) / batch_size)``, or the floor with ``drop_last=True`` (which drops the
      last, smaller batch).
    - ``shuffle=True`` draws a new order every epoch. With ``seed`` the order of epoch ``e`` depends on
      ``(seed, e)`` only (``loader.epoch`` counts the ``iter()`` calls; ``set_epoch`` sets it, e.g. to resume);
      without ``seed`` it comes from minidl's global generator at ``iter()``, so ``minidl.manual_seed`` fixes it.
    - ``transform`` is applied to the first field of every batch (the images: a float32 NumPy array
      (B, C, H, W)) before it becomes a Tensor; it may return an array or a Tensor.
    - ``sampler`` (as PyTorch's): an object with ``__iter__`` (sample indices) and ``__len__`` that decides the
      order instead of ``shuffle``/``seed``, e.g. ``minidl.distributed.DistributedSampler`` (each rank's share of
      the data). ``len(loader)`` is then ``ceil(len(sampler) / batch_size)``; ``set_epoch`` is forwarded to the
      sampler when it has one (``fit`` calls it every epoch), while iterating does not change the sampler's epoch.
    - ``prefetch`` batches (0: none) are prepared ahead by a background thread while the caller works on the
      current one. The thread stops when the iteration ends or is abandoned (``break``), and an exception
      raised while building a batch is re-raised in the caller. Transforms run in that thread, one batch after
      the other: those with their own generator (the ``transforms`` classes) stay reproducible, but a transform
      drawing from minidl's global generator interleaves with the caller's draws (dropout...); use
      ``prefetch=0`` for such a transform when runs must repeat bit for bit.
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int | None = None,
        transform: Callable[[np.ndarray], Any] | None = None,
        prefetch: int = 2,
        sampler: Any = None,
    ):
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}")
        if isinstance(prefetch, bool) or not isinstance(prefetch, (int, np.integer)) or prefetch < 0:
            raise ValueError(f"DataLoader: prefetch must be a non-negative integer, got {prefetch!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"DataLoader: seed must be a non-negative integer or None, got {seed!r}")
        if transform is not None and not callable(transform):
            raise TypeError(f"DataLoader: transform must be callable, got {type(transform).__name__}")
        if sampler is not None:
            _check_sampler(sampler, shuffle, seed)
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.seed = seed
        self.transform = transform
        self.prefetch = int(prefetch)
        self.sampler = sampler
        self.epoch = 0

    def __len__(self) -> int:
        n = len(self.dataset) if self.sampler is None else len(self.sampler)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def state_dict(self) -> dict[str, Any]:
        """The state a resumed run needs beyond the epoch: the generators of the random transforms (the loader's
        ``transform`` and the dataset's), as JSON text (their 128-bit integers stay exact in any file format)."""
        states = [t.generator.bit_generator.state for t in self._random_transforms()]
        return {"epoch": self.epoch, "transform_generators": json.dumps(states)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what ``state_dict`` returned (from a loader built with the same transforms)."""
        states = json.loads(str(state["transform_generators"]))
        transforms = self._random_transforms()
        if len(states) != len(transforms):
            raise ValueError(
                f"DataLoader.load_state_dict: the state holds {len(states)} random-transform generators, this "
                f"loader has {len(transforms)} random transforms"
            )
        for transform, saved in zip(transforms, states):
            transform.generator.bit_generator.state = saved
        self.epoch = int(state["epoch"])

    def _random_transforms(self) -> list[RandomTransform]:
        """Every ``RandomTransform`` reachable from the loader's and the dataset's transforms (into Compose)."""
        found: list[RandomTransform] = []

        def walk(t: Any) -> None:
            if isinstance(t, RandomTransform):
                found.append(t)
            for inner in getattr(t, "transforms", ()) if isinstance(t, Compose) else ():
                walk(inner)

        walk(self.transform)
        walk(getattr(self.dataset, "transform", None))
        return found

    def set_epoch(self, epoch: int) -> None:
        """Make the next ``iter()`` produce epoch ``epoch`` (its shuffled order, with a ``seed``; with a sampler,
        ``sampler.set_epoch(epoch)`` when it has that method)."""
        self.epoch = int(epoch)
        if self.sampler is not None and callable(getattr(self.sampler, "set_epoch", None)):
            self.sampler.set_epoch(self.epoch)

    def order(self, epoch: int | None = None) -> np.ndarray:
        """The sample order of epoch ``epoch`` (int64 (N,)) with a ``seed``; without one, a fresh draw from the
        global generator; with a sampler, the sampler's current order (``epoch`` must then be None: set the
        sampler's epoch with ``set_epoch``). Does not advance ``loader.epoch``."""
        if self.sampler is not None:
            if epoch is not None:
                raise ValueError(
                    "DataLoader.order: with a sampler the order is the sampler's; call loader.set_epoch(epoch) "
                    "first and then order() without an epoch"
                )
            return np.fromiter(iter(self.sampler), dtype=np.int64, count=len(self.sampler))
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n, dtype=np.int64)
        if self.seed is None:
            return _random.generator().permutation(n)
        epoch = self.epoch if epoch is None else epoch
        return np.random.default_rng([self.seed, epoch]).permutation(n)

    def __iter__(self) -> Iterator[Any]:
        # The order is drawn here, in the caller's thread, so global-generator draws happen in program order.
        order = self.order()
        self.epoch += 1
        batches = self._batches(order)
        return _prefetched(batches, self.prefetch) if self.prefetch else batches

    def _batches(self, order: np.ndarray) -> Iterator[Any]:
        stop = len(self) * self.batch_size
        for start in range(0, min(stop, len(order)), self.batch_size):
            yield self._finish(fetch(self.dataset, order[start : start + self.batch_size]))

    def _finish(self, batch: Any) -> Any:
        """Apply ``transform`` to the images and wrap every field as a Tensor."""
        fields = tuple(batch) if isinstance(batch, (tuple, list)) else (batch,)
        if self.transform is not None:
            images = fields[0]
            out = self.transform(images.numpy() if isinstance(images, Tensor) else images)
            if not isinstance(out, Tensor):
                out = np.asarray(out)
                dtype = np.asarray(images).dtype
                if out.dtype != dtype and out.dtype.kind == "f" and dtype.kind == "f":
                    out = out.astype(dtype)  # a transform computing in float64 must not change the batch dtype
            fields = (out, *fields[1:])
        # Contiguous, as the compiled kernels expect (a no-op for fancy-indexed batches; a transform may return views).
        tensors = tuple(f if isinstance(f, Tensor) else from_numpy(np.ascontiguousarray(f)) for f in fields)
        return tensors if isinstance(batch, (tuple, list)) else tensors[0]


def _check_sampler(sampler: Any, shuffle: bool, seed: int | None) -> None:
    """A sampler decides the order alone: it needs ``__iter__`` and ``__len__``, and excludes shuffle and seed."""
    if not (callable(getattr(sampler, "__iter__", None)) and callable(getattr(sampler, "__len__", None))):
        raise TypeError(
            f"DataLoader: sampler must be iterable (sample indices) and have a length, got {type(sampler).__name__}"
        )
    if shuffle:
        raise ValueError(
            "DataLoader: sampler and shuffle=True exclude each other (the sampler decides the order; "
            "DistributedSampler shuffles with its own shuffle=True); drop shuffle="
        )
    if seed is not None:
        raise ValueError("DataLoader: seed= only seeds the loader's own shuffling; with a sampler, seed the sampler")


def _prefetched(batches: Iterator[Any], depth: int) -> Iterator[Any]:
    """Yield the items of ``batches``, produced up to ``depth`` ahead by a thread started at the first ``next``."""
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        # A bounded wait, so the thread notices ``stop`` while the consumer is gone.
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.05)
                return True
            except queue.Full:
                pass
        return False

    def work() -> None:
        try:
            for batch in batches:
                if not put((True, batch)):
                    return
            put((True, _DONE))
        except BaseException as err:  # re-raised in the consumer's thread
            put((False, err))
        finally:
            batches.close()

    thread = threading.Thread(target=work, name="minidl-DataLoader-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            ok, item = ready.get()
            if not ok:
                if hasattr(item, "add_note"):
                    item.add_note("(raised in the DataLoader's prefetch thread while building a batch)")
                raise item
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        thread.join()
