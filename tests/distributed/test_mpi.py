"""minidl.distributed on 2 MPI ranks: each test starts one job (tests/distributed/jobs) that runs several checks
and judges what its rank 0 reports. Three launches in all, a few seconds each."""

from __future__ import annotations

import pytest

from tests.distributed import JOBS, launch, needs_mpi, run_job

pytestmark = needs_mpi


@pytest.fixture(scope="module")
def training(tmp_path_factory) -> dict:
    results, _ = run_job("training.py", tmp_path_factory.mktemp("training"))
    return results


def test_collectives_reduce_and_broadcast_tensors_in_place(training):
    assert training["all_reduce_sum"] == [3.0, -6.0, 9.0]  # rank r holds (r + 1) * [1, -2, 3]
    assert training["all_reduce_mean"] == [1.5, -3.0, 4.5]
    assert training["all_reduce_max"] == [2.0, -2.0, 6.0]
    assert training["all_reduce_int"] == [[1, 20]]
    assert training["broadcast_from_1"] == [[[6.0, 6.0], [6.0, 6.0]]] * 2  # rank 1 held 6s
    assert training["all_reduce_strided"] == [[3.0 * v for v in range(c, 12, 4)] for c in range(4)]


def test_sampler_shares_cover_every_sample_once_per_epoch(training):
    for key, epochs in training["sampler_shares"].items():
        n, drop_last = int(key.split("-")[0]), key.endswith("True")
        orders = []
        for shares in epochs:
            assert len(shares) == 2 and len(shares[0]) == len(shares[1])  # equal shares: ranks step in lockstep
            merged = [i for pair in zip(*shares) for i in pair]  # rank r holds order[r::2]
            if drop_last:
                assert len(merged) == n - n % 2 and len(set(merged)) == len(merged)
            else:
                assert sorted(set(merged)) == list(range(n)) and len(merged) == n + n % 2
            orders.append(merged)
        assert orders[0] != orders[1] != orders[2]  # each epoch its own order


@pytest.mark.parametrize(
    ("name", "tolerance"), [("sgd_float64", 1e-10), ("adam_float64", 1e-10), ("sgd_float32", 1e-6)]
)
def test_two_ranks_of_32_train_as_one_process_of_64(training, name, tolerance):
    result = training[name]
    assert result["started_apart"] > 0.1  # different seeds per rank, made equal by broadcast_parameters
    assert result["vs_one_process"] <= tolerance
    assert result["between_ranks"] == 0.0


def test_a_parameter_unused_on_one_rank_is_averaged_with_zeros(training):
    result = training["unused_parameter"]
    assert result["rank1_had_no_grad"]
    assert result["b_grad_is_half_of_rank0"] < 1e-15 and result["a_grad_is_mean"] < 1e-15


def test_broadcast_optimizer_state_gives_every_rank_rank_0s_state(training):
    assert training["optimizer_state"] == {"keys_and_steps_equal": True, "moments": 0.0}


@pytest.mark.parametrize(
    ("case", "tolerance"),
    [("sync_batchnorm_float64", 1e-12), ("sync_batchnorm_float64_2d", 1e-12), ("sync_batchnorm_float32", 1e-5)],
)
def test_sync_batchnorm_on_2x16_equals_batchnorm_on_32(training, case, tolerance):
    result = dict(training[case])
    assert result.pop("batches_tracked") == 2
    for what, error in result.items():
        assert error <= tolerance, f"{what}: {error:.3g}"


def test_a_converted_model_trains_on_2_ranks_as_on_one(training):
    result = training["converted_cnn"]
    assert result["is_sync"] == "SyncBatchNorm"
    assert result["weights"] < 1e-12 and result["running_var"] < 1e-12


def test_fit_under_mpi_resumes_exactly_and_reports_all_ranks(tmp_path):
    results, stdout = run_job("fit.py", tmp_path, str(tmp_path))
    assert results["resume"] == {"weights": 0.0, "history_equal": True, "epochs": 4}
    assert results["ranks_equal"] == 0.0
    reported, whole = results["val_loss"]
    assert reported == pytest.approx(whole, rel=1e-6)
    reported, whole = results["val_acc"]
    assert reported == whole and 0.5 < whole < 1.0
    assert results["lines_per_rank"] == [7, 0]  # 4 + 2 epoch lines and "Resuming from", on rank 0 only
    assert results["checkpoint_ranks"] == {"size": 2, "rng_differ": True, "loaders_differ": True}
    on_rank_0, on_rank_1 = results["plain_optimizer_warnings"]
    assert len(on_rank_0) == 1 and "is not a minidl.distributed.DistributedOptimizer" in on_rank_0[0]
    assert on_rank_1 == []
    for message in results["unequal_loaders"]:
        assert "train_loaders have different numbers of batches (20, 10 on ranks 0 to 1)" in message
    # The example prints on rank 0 only, and both ranks report the accuracy over the whole test set.
    assert stdout.count("Total params: 61,706") == 1 and stdout.count("Test accuracy") == 1
    assert "(2 ranks x 16)" in stdout
    first, second = results["lenet_accuracy"]
    assert first == second > 0.3  # 20 steps of 32 images: far above chance (0.1)


@pytest.mark.parametrize("runner", [["-m", "mpi4py"], []], ids=["python -m mpi4py", "plain python"])
def test_a_rank_that_raises_ends_the_job(runner):
    done, seconds = launch([*runner, str(JOBS / "raises.py")], timeout=60)
    assert done.returncode != 0
    assert "rank 1 fails on purpose" in done.stderr
    assert seconds < 10


def test_tensors_on_the_cuda_device_are_averaged_and_synchronised(training):
    """On Numba's CUDA simulator under the tests (tests/conftest.py), or on a GPU with MINIDL_CUDA_TESTS=gpu."""
    import minidl

    assert ("cuda" in training) == minidl.cuda.is_available()
    if "cuda" in training:
        result = training["cuda"]
        assert result["device"] == "cuda:0"
        assert result["all_reduce_mean"] < 1e-15 and result["broadcast"] == 0.0
        assert result["averaged_grad"] == [1.5, 1.5, 1.5]  # ranks held 1s and 2s
        assert result["sync_batchnorm"] < 1e-5
