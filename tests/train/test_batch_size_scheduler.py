"""BatchSizeScheduler with fit and minidl.data.DataLoader: the batch sizes each epoch trains with (the loader reads
its batch_size when an epoch starts, so the number of steps follows), a resumed run, the loader given back its
base batch size, errors."""

import numpy as np
import pytest

import minidl
from minidl import nn, optim
from minidl.data import DataLoader, TensorDataset
from minidl.train import BatchSizeScheduler, Callback, fit
from tests.train.helpers import blobs, mlp


class BatchSizes(Callback):
    """Records the size of every training batch, per epoch."""

    def __init__(self) -> None:
        self.sizes: list[list[int]] = []

    def on_epoch_begin(self, state) -> None:
        self.sizes.append([])

    def on_batch_end(self, state) -> None:
        self.sizes[-1].append(state.batch_logs["size"])


def _run(epochs: int, callbacks, loader, **kwargs):
    minidl.manual_seed(0)
    model = mlp()
    return fit(model, loader, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), epochs,
               callbacks=callbacks, progress=False, print_fn=None, **kwargs)  # fmt: skip


def test_the_loader_reads_its_batch_size_each_epoch():
    loader = DataLoader(TensorDataset(*blobs(10)), batch_size=4)
    assert [len(x) for x, _ in loader] == [4, 4, 2] and len(loader) == 3
    loader.batch_size = 5
    assert [len(x) for x, _ in loader] == [5, 5] and len(loader) == 2


def test_batch_sizes_follow_the_milestones():
    loader = DataLoader(TensorDataset(*blobs(40)), batch_size=4, shuffle=True, seed=0)
    seen, schedule = BatchSizes(), BatchSizeScheduler(milestones=[1, 3], factor=2)
    lines = []
    _run(5, [schedule, seen], loader)
    assert seen.sizes == [[4] * 10, [8] * 5, [8] * 5, [16, 16, 8], [16, 16, 8]]  # 40 samples each epoch
    assert [schedule.batch_size_at(e) for e in range(5)] == [4, 8, 8, 16, 16]
    assert loader.batch_size == 4  # given back at the end
    model = mlp()
    fit(model, loader, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), 2, progress=False,
        callbacks=[BatchSizeScheduler([1], factor=3)], print_fn=lines.append)  # fmt: skip
    assert "BatchSizeScheduler: batch size 4 -> 12" in lines


def test_a_resumed_run_keeps_the_schedule(tmp_path):
    data = TensorDataset(*blobs(24))
    seen = BatchSizes()
    _run(
        2, [BatchSizeScheduler([1, 2], factor=2), BatchSizes()], DataLoader(data, batch_size=3), checkpoint_dir=tmp_path
    )
    schedule = BatchSizeScheduler([1, 2], factor=2)
    _run(3, [schedule, seen], DataLoader(data, batch_size=3), checkpoint_dir=tmp_path, resume=True)
    assert seen.sizes == [[12, 12]]  # the third epoch: 3 * 2 * 2
    assert schedule.state_dict() == {"base_batch_size": 3}


def test_bad_arguments():
    with pytest.raises(ValueError, match="milestones must be epoch indices >= 1"):
        BatchSizeScheduler([0, 2])
    with pytest.raises(ValueError, match="milestones must increase strictly"):
        BatchSizeScheduler([3, 2])
    with pytest.raises(ValueError, match=r"factor must be an integer >= 2 \(batch sizes are whole\), got 2.5"):
        BatchSizeScheduler([1], factor=2.5)
    with pytest.raises(TypeError, match="the train loader needs an integer batch_size attribute"):
        _run(1, [BatchSizeScheduler([1])], [(np.zeros((2, 4), np.float32), np.zeros(2, np.int64))])
