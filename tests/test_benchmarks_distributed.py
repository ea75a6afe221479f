"""The distributed benchmark: the α-β model on numbers whose answer is known, and the suite end to end at tiny
sizes (one MPI launch per set-up; no timing is judged, only that each part runs and reports sensible records)."""

from __future__ import annotations

import pytest

from benchmarks import distributed, scaling
from tests.distributed import needs_mpi


def test_fit_recovers_alpha_and_beta_of_exact_ring_times():
    alpha, beta = 3e-6, 2.5e-10
    sizes = [8 * 8**k for k in range(9)]
    alpha_fit, beta_fit = scaling.fit_alpha_beta(sizes, [2 * alpha + n * beta for n in sizes])
    assert alpha_fit == pytest.approx(alpha, rel=1e-9) and beta_fit == pytest.approx(beta, rel=1e-9)
    with pytest.raises(ValueError, match="two or more"):
        scaling.fit_alpha_beta([8], [1e-6])


def test_ring_model_and_speedup():
    # 2 (p - 1) alpha per message, and 2 (p - 1) / p of the bytes each moved once
    assert scaling.allreduce_time(1000, 4, alpha=1e-6, beta=1e-9, messages=3) == pytest.approx(3 * 6e-6 + 1.5e-6)
    assert scaling.allreduce_time(1000, 1, 1.0, 1.0) == 0.0
    assert scaling.speedup(1, 0.01, 1e6, 1e-6, 1e-9) == 1.0
    assert scaling.speedup(8, 1.0, 0, 0.0, 0.0) == 8.0  # free communication: linear
    slow = scaling.speedup(64, 0.01, 47e6, 25e-6, scaling.link_beta(10, 0.0))
    fast = scaling.speedup(64, 0.01, 47e6, 25e-6, scaling.link_beta(100, 0.0))
    assert slow < fast < 64
    assert scaling.link_beta(10, 1e-10) == pytest.approx(8e-10 + 1e-10)


@needs_mpi
def test_suite_runs_its_three_set_ups_and_the_model(tmp_path):
    text, data = distributed.run(repeat=1, models="lenet5", steps=2, rounds=1, max_bytes=2**15)
    assert [p["bytes"] for p in data["allreduce"]] == [8, 64, 512, 4096, 32768]
    assert data["alpha_s"] >= 0 and data["beta_s_per_byte"] > 0
    setups = data["steps"]["lenet5"]
    assert setups["1 rank"]["ranks"] == 1 and setups["2 ranks"]["ranks"] == 2
    assert len(setups["2 processes side by side"]) == 2
    assert setups["1 rank"]["median_s"]["allreduce"] < setups["2 ranks"]["median_s"]["step"]
    assert setups["2 ranks"]["gradient_bytes"] == 61_706 * 4 and setups["2 ranks"]["buckets"] == 1
    for heading in ("Allreduce on 2 ranks", "Training steps", "Modelled speed-up", "network latency added"):
        assert heading in text
    assert "| lenet5 | 2 processes side by side | 32 |" in text and "| 64 |" in text
    with pytest.raises(ValueError, match="unknown model"):
        distributed.run(models="vgg99")
