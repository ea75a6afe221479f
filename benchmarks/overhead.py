"""Per-op overhead: small ops where Python and dispatch dominate, minidl vs PyTorch (forward and backward)."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from benchmarks.report import markdown_table, us
from benchmarks.timing import summary, time_alternating


def _cases(size: int) -> list[tuple[str, Callable[[], Any], Callable[[], Any]]]:
    import torch

    import minidl
    import minidl.nn.functional as F

    rng = np.random.default_rng(0)

    def pair(*shape, grad=True):
        array = rng.standard_normal(shape).astype(np.float32)
        return minidl.tensor(array, requires_grad=grad), torch.tensor(array, requires_grad=grad)

    (a, ta), (b, tb), (c, tc) = pair(size, size), pair(size, size), pair(size, size)
    (s1, ts1), (s2, ts2), (s3, ts3) = pair(1), pair(1), pair(1)
    (x, tx) = pair(32, 64, grad=False)
    (w1, tw1), (b1, tb1), (w2, tw2), (b2, tb2) = pair(64, 32), pair(32), pair(32, 10), pair(10)
    labels = rng.integers(0, 10, 32)
    ml, tl = minidl.tensor(labels), torch.tensor(labels)
    rows = minidl.arange(32)

    def mlp_minidl():
        logits = F.relu(x @ w1 + b1) @ w2 + b2
        loss = -F.log_softmax(logits, dim=1)[rows, ml].mean()
        loss.backward()

    def mlp_torch():
        logits = torch.relu(tx @ tw1 + tb1) @ tw2 + tb2
        loss = torch.nn.functional.nll_loss(torch.log_softmax(logits, dim=1), tl)
        loss.backward()

    def fwd_bwd(a, b, c):
        return lambda: (a * b + c).sum().backward()

    def no_grad(fn, module):
        def run():
            with module.no_grad():
                fn()

        return run

    return [
        (f"(a*b+c).sum().backward(), {size}×{size}", fwd_bwd(a, b, c), fwd_bwd(ta, tb, tc)),
        ("(a*b+c).sum().backward(), 1 element", fwd_bwd(s1, s2, s3), fwd_bwd(ts1, ts2, ts3)),
        (f"a + b forward, {size}×{size}", no_grad(lambda: a + b, minidl), no_grad(lambda: ta + tb, torch)),
        (f"a.exp() forward, {size}×{size}", no_grad(lambda: a.exp(), minidl), no_grad(lambda: ta.exp(), torch)),
        (
            f"(a @ b).sum().backward(), {size}×{size}",
            lambda: (a @ b).sum().backward(),
            lambda: (ta @ tb).sum().backward(),
        ),
        ("MLP 64-32-10 step (batch 32, fwd+bwd)", mlp_minidl, mlp_torch),
    ]


def run(repeat: int, size: int = 64) -> tuple[str, dict[str, Any]]:
    """Time every case for minidl and PyTorch; return the Markdown table and the JSON data."""
    rows, records = [], []
    for name, ours, theirs in _cases(size):
        samples = time_alternating({"minidl": ours, "torch": theirs}, repeat=repeat, warmup=50, inner=20)
        mine, torch_ = summary(samples["minidl"]), summary(samples["torch"])
        ratio = mine["median_s"] / torch_["median_s"]
        rows.append([name, us(mine["median_s"]), us(torch_["median_s"]), f"{ratio:.2f}×"])
        records.append({"case": name, "minidl": mine, "torch": torch_, "ratio": ratio})
    table = markdown_table(["case", "minidl (median)", "PyTorch (median)", "minidl / PyTorch"], rows)
    return table, {"cases": records}
