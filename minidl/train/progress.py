"""What ``fit`` shows: a tqdm bar during each epoch (loss, accuracy, images/s so far) and one summary line
per epoch, printed whether or not the bar is on, so a log file keeps the run's story."""

from __future__ import annotations

import math
from typing import Mapping

from tqdm import tqdm


class EpochBar:
    """A progress bar over one epoch's batches; does nothing when ``enabled`` is False.

    It writes to stderr and disappears when the epoch ends (``leave=False``): the summary line replaces it.
    """

    def __init__(self, enabled: bool, total: int | None, epoch: int, epochs: int) -> None:
        width = len(str(epochs))
        self._bar = (
            tqdm(total=total, desc=f"Epoch {epoch:>{width}}/{epochs}", unit="batch", leave=False, dynamic_ncols=True)
            if enabled
            else None
        )

    def update(self, loss: float, acc: float, samples_per_s: float) -> None:
        """One batch more; the running mean loss and accuracy of the epoch and its throughput so far."""
        if self._bar is None:
            return
        postfix = {"loss": f"{loss:.4f}"}
        if not math.isnan(acc):
            postfix["acc"] = f"{acc:.4f}"
        postfix["img/s"] = f"{samples_per_s:.0f}"
        self._bar.set_postfix(postfix, refresh=False)
        self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> EpochBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:.0f}ms" if seconds < 1 else f"{seconds:.1f}s"


def epoch_line(epoch: int, epochs: int, logs: Mapping[str, float]) -> str:
    """``Epoch  3/10 - train loss 0.4123 acc 0.8750 - val loss 0.3012 acc 0.9100 - 1.2s - lr 1.00e-02``;
    metrics without a value (NaN) are left out. ``epoch`` counts from 1."""
    width = len(str(epochs))
    parts = [f"Epoch {epoch:>{width}}/{epochs}"]
    for prefix in ("train", "val"):
        loss, acc = logs.get(f"{prefix}_loss", math.nan), logs.get(f"{prefix}_acc", math.nan)
        if math.isnan(loss) and math.isnan(acc):
            continue
        text = prefix
        if not math.isnan(loss):
            text += f" loss {loss:.4f}"
        if not math.isnan(acc):
            text += f" acc {acc:.4f}"
        parts.append(text)
    parts.append(_duration(logs.get("epoch_time", math.nan)))
    parts.append(f"lr {logs.get('lr', math.nan):.2e}")
    return " - ".join(parts)
