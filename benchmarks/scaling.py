"""The α-β model of data-parallel training: how long the gradient Allreduce takes on p machines, and the speed-up
that leaves.

Ring Allreduce of n bytes on p ranks (reduce-scatter, then all-gather, each p - 1 rounds of n/p bytes)::

    T_allreduce(n, p) = 2 (p - 1) α + 2 (p - 1) / p · n β

α is the cost of one message (latency), β the cost of one byte (1 / bandwidth, plus copying and adding it). One
step of ``DistributedOptimizer`` sends ``messages`` Allreduces (its flat buckets and the small one that agrees on
which gradients exist) and does not overlap them with the backward pass, so with every rank keeping its own batch
(weak scaling) a step takes ``compute + T_allreduce`` and p ranks process p batches in that time::

    speed-up(p) = p · compute / (compute + messages · 2 (p - 1) α + 2 (p - 1) / p · n β)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def fit_alpha_beta(nbytes: Sequence[float], seconds: Sequence[float]) -> tuple[float, float]:
    """α and β of the ring model from Allreduce times measured on 2 ranks, where the model reads
    t = 2 α + n β: a least-squares line through (n, t), each point weighted by 1/t so that the short messages,
    which fix α, count as much as the long ones, which fix β. Returns (α, β) in seconds and seconds per byte."""
    n = np.asarray(nbytes, dtype=np.float64)
    t = np.asarray(seconds, dtype=np.float64)
    if n.shape != t.shape or n.size < 2:
        raise ValueError(f"fit_alpha_beta: needs two or more (size, time) pairs, got {n.size} sizes, {t.size} times")
    design = np.stack([np.ones_like(n), n], axis=1) / t[:, None]
    (intercept, slope), *_ = np.linalg.lstsq(design, np.ones_like(t), rcond=None)
    return max(float(intercept), 0.0) / 2, max(float(slope), 0.0)


def allreduce_time(nbytes: float, ranks: int, alpha: float, beta: float, messages: int = 1) -> float:
    """Seconds for ``messages`` ring Allreduces holding ``nbytes`` in all, on ``ranks`` ranks (0 for one rank)."""
    if ranks < 1:
        raise ValueError(f"allreduce_time: ranks must be >= 1, got {ranks}")
    if ranks == 1:
        return 0.0
    return messages * 2 * (ranks - 1) * alpha + 2 * (ranks - 1) / ranks * nbytes * beta


def speedup(ranks: int, compute: float, nbytes: float, alpha: float, beta: float, messages: int = 1) -> float:
    """The throughput of ``ranks`` ranks over one rank's: each rank computes a step in ``compute`` seconds, then
    they average ``nbytes`` of gradients in ``messages`` Allreduces (see the module docstring)."""
    return ranks * compute / (compute + allreduce_time(nbytes, ranks, alpha, beta, messages))


def link_beta(gbit_per_s: float, local_beta: float) -> float:
    """β of a network link of ``gbit_per_s``: its time per byte on the wire plus ``local_beta``, what copying and
    adding a byte costs on the machines themselves (measured on one machine, where no wire is involved)."""
    return 8 / (gbit_per_s * 1e9) + local_beta
