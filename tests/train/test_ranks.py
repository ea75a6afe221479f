"""The MPI parts of fit in a single process: nothing changes (no "ranks" entry in checkpoints, sums as they are),
and a checkpoint written by another number of ranks is refused with the command to resume it. fit on 2 ranks is
tested in tests/distributed/test_mpi.py."""

from __future__ import annotations

import pytest

from minidl import nn, optim
from minidl.train import fit, load_checkpoint, ranks
from tests.train.helpers import ArrayLoader, blobs, mlp


def test_one_process_is_root_and_its_sums_are_its_own():
    assert not ranks.active() and ranks.is_root()
    assert ranks.sum_over_ranks([1.5, 2.0]) == [1.5, 2.0]
    assert ranks.gather_rank_states("{}", None) is None
    ranks.check_same_epoch(3, "anywhere")  # nothing to compare with


def test_a_single_process_checkpoint_has_no_ranks_entry_and_resumes(tmp_path):
    x, y = blobs(32)
    model = mlp()
    fit(model, ArrayLoader(x, y, 8), nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), 1,
        checkpoint_dir=tmp_path, progress=False, print_fn=None)  # fmt: skip
    checkpoint = load_checkpoint(tmp_path / "epoch_0001.npz")
    assert "ranks" not in checkpoint
    assert ranks.own_rank_state(checkpoint) == (checkpoint["rng"], checkpoint["loader"])


def test_a_checkpoint_of_two_ranks_is_refused_in_one_process():
    checkpoint = {"rng": "{}", "loader": None, "ranks": {"size": 2, "rng": ["{}", "{}"], "loader": [None, None]}}
    with pytest.raises(ValueError, match=r"written by a run on 2 rank\(s\) and this run has 1.*mpiexec -n 2"):
        ranks.own_rank_state(checkpoint)


def test_processes_started_by_a_launcher_without_minidl_distributed_are_warned(monkeypatch):
    monkeypatch.setattr(ranks._world, "is_initialized", lambda: False)
    monkeypatch.setenv("PMI_SIZE", "2")
    with pytest.warns(UserWarning, match="started 2 processes, but minidl.distributed is not initialised"):
        ranks.warn_if_ranks_train_alone()
    monkeypatch.setenv("PMI_SIZE", "1")  # mpiexec -n 1: one process, nothing to warn about
    ranks.warn_if_ranks_train_alone()
