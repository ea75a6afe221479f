"""Flat buckets: many tensors of one dtype and device packed end to end into one array, so that one MPI call moves
them all (one latency instead of one per tensor)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from minidl.tensor import Tensor


@dataclass
class Bucket:
    """Tensors of one dtype and device, laid end to end: tensor i occupies ``[offsets[i], offsets[i] + numel_i)``
    of a flat array of ``numel`` elements."""

    tensors: list[Tensor] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    numel: int = 0

    @property
    def dtype(self) -> Any:
        """The dtype of every tensor in the bucket."""
        return self.tensors[0].data.dtype

    @property
    def backend(self) -> Any:
        """The backend (device) of every tensor in the bucket."""
        return self.tensors[0].backend

    @property
    def nbytes(self) -> int:
        """The size of the flat array, in bytes."""
        return self.numel * self.dtype.itemsize

    def add(self, t: Tensor) -> None:
        """Append ``t`` (of the bucket's dtype and device) at the end of the flat layout."""
        self.tensors.append(t)
        self.offsets.append(self.numel)
        self.numel += int(math.prod(t.shape))

    def empty(self) -> Any:
        """A new flat array for this bucket, on its device: (numel,)."""
        return self.backend.xp.empty(self.numel, dtype=self.dtype)

    def pack(self, arrays: Sequence[Any | None], out: Any) -> Any:
        """Write ``arrays`` (one per tensor, in order, each of its tensor's shape; None for zeros) into the flat
        array ``out`` (numel,); returns ``out``."""
        for array, t, start in zip(arrays, self.tensors, self.offsets):
            part = out[start : start + t.data.size]
            if array is None:
                part.fill(0)
            else:
                part[...] = array.reshape(-1)
        return out

    def views(self, flat: Any) -> Iterator[tuple[Tensor, Any]]:
        """(tensor, the part of ``flat`` holding it, in the tensor's shape) for every tensor of the bucket."""
        for t, start in zip(self.tensors, self.offsets):
            yield t, flat[start : start + t.data.size].reshape(t.shape)


def plan_buckets(tensors: Iterable[Tensor], max_bytes: float = math.inf) -> list[Bucket]:
    """The tensors grouped by (dtype, device) in order of first appearance, each group cut into buckets of at most
    ``max_bytes`` (a tensor larger than that gets a bucket of its own). The plan depends only on the tensors'
    shapes, dtypes and order, so ranks holding alike tensors make alike plans."""
    groups: dict[tuple[str, str], list[Bucket]] = {}
    for t in tensors:
        key = (t.data.dtype.str, str(t.device))
        buckets = groups.setdefault(key, [Bucket()])
        size = t.data.size * t.data.dtype.itemsize
        if buckets[-1].tensors and buckets[-1].nbytes + size > max_bytes:
            buckets.append(Bucket())
        buckets[-1].add(t)
    return [bucket for buckets in groups.values() for bucket in buckets]
