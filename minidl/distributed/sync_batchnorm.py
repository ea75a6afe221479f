"""``SyncBatchNorm``: batch normalisation whose training statistics are those of every rank's batch together, so
that N ranks with batch B/N normalise as one process with batch B; ``convert_sync_batchnorm`` swaps it into a model.

It lives here rather than in ``minidl.nn``, because only ``minidl.distributed`` knows there are several processes;
``minidl.nn.SyncBatchNorm`` is the same class, imported on first use.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minidl import autograd
from minidl.autograd import Function
from minidl.distributed.communicator import Communicator
from minidl.distributed.world import world
from minidl.nn.layers.normalization import _BatchNorm
from minidl.nn.module import Module
from minidl.ops.checks import dtype_mismatch, expect_tensor
from minidl.tensor import Tensor
from minidl.text import plural


class SyncBatchNormOp(Function):
    """Batch norm with statistics over all ranks. x: (N_r, C, *) on rank r; the statistics cover the sum of N_r.

    Forward: each rank's count, mean and sum of squared deviations per channel (in float64) are gathered (one
    Allgather of 2C + 1 numbers) and combined exactly in rank order (Chan et al.'s pairwise formula), the same on
    every rank. Backward: the per-channel sums of g and g * x_hat over all ranks (one Allreduce of 2C numbers)
    give dx; dweight and dbias are this rank's own sums, which ``DistributedOptimizer`` averages like any gradient.
    ``stats`` (a dict) receives the batch's mean, biased variance and count for the running statistics.
    """

    def forward(self, x, weight, bias, eps: float, comm: Communicator, stats: dict):
        xp = self.xp
        n, c = x.shape[0], x.shape[1]
        x3 = xp.reshape(x, (n, c, -1))
        count = n * x3.shape[2]
        local_mean = x3.mean(axis=(0, 2), dtype=np.float64)
        deviation = x3 - xp.reshape(local_mean, (1, c, 1))
        local_m2 = (deviation * deviation).sum(axis=(0, 2))
        local = np.concatenate([[float(count)], self.backend.to_numpy(local_mean), self.backend.to_numpy(local_m2)])
        gathered = comm.allgather(local)  # (ranks, 2C + 1), host float64
        counts, means, m2s = gathered[:, :1], gathered[:, 1 : c + 1], gathered[:, c + 1 :]
        total = float(counts.sum())
        if total < 2:
            raise ValueError(
                f"SyncBatchNorm: training needs more than one value per channel over all ranks, got {total:g}"
            )
        mean = (counts * means).sum(axis=0) / total
        var = (m2s + counts * (means - mean) ** 2).sum(axis=0) / total  # biased
        invstd = 1.0 / np.sqrt(var + eps)
        stats.update(mean=mean, var=var, count=total)
        view = (1, c, 1)
        self.mean = xp.reshape(self.backend.from_numpy(mean.astype(x.dtype)), view)
        self.invstd = xp.reshape(self.backend.from_numpy(invstd.astype(x.dtype)), view)
        self.x3, self.weight, self.total, self.comm, self.shape = x3, weight, total, comm, x.shape
        out = (x3 - self.mean) * (self.invstd * xp.reshape(weight, view)) + xp.reshape(bias, view)
        return xp.reshape(out, x.shape)

    def backward(self, g):
        xp = self.xp
        c = self.x3.shape[1]
        g3 = xp.reshape(g, self.x3.shape)
        xhat = (self.x3 - self.mean) * self.invstd
        sum_g = g3.sum(axis=(0, 2), dtype=np.float64)
        sum_gx = (g3 * xhat).sum(axis=(0, 2), dtype=np.float64)
        both = np.concatenate([self.backend.to_numpy(sum_g), self.backend.to_numpy(sum_gx)])
        self.comm.allreduce_(both, "sum")
        dtype = g.dtype
        total_g = xp.reshape(self.backend.from_numpy(both[:c].astype(dtype)), (1, c, 1))
        total_gx = xp.reshape(self.backend.from_numpy(both[c:].astype(dtype)), (1, c, 1))
        scale = self.invstd * xp.reshape(self.weight, (1, c, 1)) / self.total
        dx = scale * (self.total * g3 - total_g - xhat * total_gx)
        need_x, need_w, need_b = self.needs_input_grad
        return (
            xp.reshape(dx, self.shape) if need_x else None,
            sum_gx.astype(dtype) if need_w else None,
            sum_g.astype(dtype) if need_b else None,
        )


def _channel_vector(t: Tensor | None, x: Tensor, fill: float, name: str) -> Tensor:
    c = x.shape[1]
    if t is None:
        return Tensor._make(x.backend.xp.full(c, fill, dtype=x.data.dtype), x.backend)
    if tuple(t.shape) != (c,):
        raise ValueError(
            f"sync_batch_norm: {name} must have shape ({c},) for {plural(c, 'channel')}, got {tuple(t.shape)}"
        )
    if t.data.dtype != x.data.dtype:
        raise dtype_mismatch("SyncBatchNorm", x.data.dtype, t.data.dtype, name)
    return t


def sync_batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None,
    bias: Tensor | None,
    momentum: float,
    eps: float,
    comm: Communicator,
) -> Tensor:
    """Training-mode batch norm of ``input`` (N, C, *) with the statistics of every rank's input together (see
    ``SyncBatchNormOp``); updates ``running_mean``/``running_var`` (C,) in place when given, with the unbiased
    variance of all ranks' values: running = (1 - momentum) * running + momentum * batch."""
    expect_tensor(input, "sync_batch_norm")
    if input.data.ndim < 2 or input.data.dtype.kind != "f":
        raise ValueError(
            f"sync_batch_norm: expected a floating-point (N, C, ...) input, got shape {tuple(input.shape)} "
            f"{input.data.dtype.name}"
        )
    weight = _channel_vector(weight, input, 1.0, "weight")
    bias = _channel_vector(bias, input, 0.0, "bias")
    stats: dict[str, Any] = {}
    out = SyncBatchNormOp.apply(input, weight, bias, eps=eps, comm=comm, stats=stats)
    backend = input.backend
    with autograd.no_grad():
        if running_mean is not None:
            mean = backend.from_numpy(stats["mean"].astype(running_mean.data.dtype))
            running_mean.mul_(1 - momentum).add_(mean * momentum)
        if running_var is not None:
            unbiased = stats["var"] * (stats["count"] / (stats["count"] - 1))
            running_var.mul_(1 - momentum).add_(backend.from_numpy(unbiased.astype(running_var.data.dtype)) * momentum)
    return out


class SyncBatchNorm(_BatchNorm):
    """``SyncBatchNorm(num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
    process_group=None, device=None, dtype=None)``: batch normalisation of (N, C, *) inputs whose training
    statistics (per channel C) are those of all ranks' batches together; PyTorch's name and arguments.

    In training, with several ranks, each forward gathers the ranks' per-channel statistics and each backward sums
    two per-channel gradient terms over the ranks: every rank must run the layer the same number of times, in the
    same order. In evaluation, or in a single process, it is ``BatchNorm`` exactly (running statistics, no
    messages). Running statistics are updated with the statistics of all ranks, so they stay equal everywhere.

    process_group: only None (every rank) exists in minidl.
    """

    _expected_dims = (2, 3, 4, 5)

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        process_group: None = None,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        if process_group is not None:
            raise ValueError("SyncBatchNorm: minidl.distributed has one group, every rank; pass process_group=None")
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)

    def forward(self, input: Tensor) -> Tensor:
        comm = world()
        if not self.training or comm.size == 1:
            return super().forward(input)
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked)
        track = self.track_running_stats
        return sync_batch_norm(
            input,
            self.running_mean if track else None,
            self.running_var if track else None,
            self.weight,
            self.bias,
            factor,
            self.eps,
            comm,
        )

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group: None = None) -> Module:
        """``module`` with every ``BatchNorm1d``/``BatchNorm2d`` replaced by a ``SyncBatchNorm`` holding the same
        parameters and buffers (see ``convert_sync_batchnorm``)."""
        if process_group is not None:
            raise ValueError("SyncBatchNorm: minidl.distributed has one group, every rank; pass process_group=None")
        return convert_sync_batchnorm(module)


def _as_sync(bn: _BatchNorm) -> SyncBatchNorm:
    sync = SyncBatchNorm(
        bn.num_features, bn.eps, bn.momentum, bn.affine, bn.track_running_stats, bias=bn.affine and bn.bias is not None
    )
    for name in ("weight", "bias"):
        if name in bn._parameters:
            sync._parameters[name] = bn._parameters[name]
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        sync._buffers[name] = bn._buffers[name]
    sync.train(bn.training)
    return sync


def convert_sync_batchnorm(module: Module) -> Module:
    """Replace every ``BatchNorm1d``/``BatchNorm2d`` in ``module`` (in place, at any depth) by a ``SyncBatchNorm``
    that holds the very same parameters and buffers (so an optimizer built before still updates them) and the same
    train/eval mode. Returns the module, or the new layer when ``module`` itself is a batch norm::

        model = minidl.distributed.convert_sync_batchnorm(models.resnet18())
    """
    if not isinstance(module, Module):
        raise TypeError(f"convert_sync_batchnorm: expected a minidl.nn.Module, got {type(module).__name__}")
    return _convert(module, {})


def _convert(module: Module, done: dict[int, Module]) -> Module:
    if id(module) in done:
        return done[id(module)]
    if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
        done[id(module)] = _as_sync(module)
        return done[id(module)]
    done[id(module)] = module
    for name, child in list(module._modules.items()):
        if child is not None:
            module._modules[name] = _convert(child, done)
    return module
