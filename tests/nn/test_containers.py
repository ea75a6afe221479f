"""Sequential, ModuleList and ModuleDict: construction, indexing, slicing, mutation, naming, forward."""

from collections import OrderedDict

import pytest
import torch

import minidl
import minidl.nn as nn


def names(module):
    return [n for n, _ in module.named_children()]


def test_sequential_runs_its_modules_in_order():
    seq = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    x = minidl.randn(5, 3)
    assert seq(x).tolist() == seq[2](seq[1](seq[0](x))).tolist()
    assert len(seq) == 3 and list(seq) == [seq[0], seq[1], seq[2]]
    assert nn.Sequential()(x) is x


def test_sequential_from_ordered_dict_keeps_the_names():
    seq = nn.Sequential(OrderedDict(conv=nn.Conv2d(1, 2, 3), act=nn.ReLU()))
    assert names(seq) == ["conv", "act"]
    assert seq.conv is seq[0] and list(seq.state_dict()) == ["conv.weight", "conv.bias"]


def test_sequential_indexing_and_slicing():
    layers = [nn.Linear(1, 1), nn.ReLU(), nn.Tanh(), nn.Sigmoid()]
    seq = nn.Sequential(*layers)
    assert seq[-1] is layers[3] and seq[0] is layers[0]
    part = seq[1:3]
    assert isinstance(part, nn.Sequential) and list(part) == layers[1:3]
    assert names(part) == ["1", "2"]  # slices keep the original names, as in PyTorch
    assert names(torch.nn.Sequential(*[torch.nn.ReLU() for _ in range(4)])[1:3]) == ["1", "2"]
    with pytest.raises(IndexError, match="out of range"):
        seq[4]
    with pytest.raises(TypeError):
        seq["0"]


def test_sequential_mutation_renumbers_like_torch():
    ours = nn.Sequential(nn.ReLU(), nn.Tanh(), nn.Sigmoid())
    theirs = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Tanh(), torch.nn.Sigmoid())
    for seq, lib in ((ours, nn), (theirs, torch.nn)):
        seq.append(lib.Identity())
        del seq[1]
        seq[0] = lib.GELU()
        seq.insert(1, lib.ELU())
        seq.extend([lib.Flatten()])
        popped = seq.pop(2)
        assert type(popped).__name__ == "Sigmoid"
    assert names(ours) == names(theirs) == ["0", "1", "2", "3"]
    assert [type(m).__name__ for m in ours] == [type(m).__name__ for m in theirs]
    with pytest.raises(TypeError, match="not a Module"):
        ours.append(3)
    with pytest.raises(TypeError, match="child module"):
        ours[0] = 3


def test_module_list_registers_its_modules():
    blocks = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(blocks) == 3 and len(list(blocks.parameters())) == 6
    assert list(blocks.state_dict())[:2] == ["0.weight", "0.bias"]
    blocks.append(nn.ReLU())
    blocks.extend([nn.Tanh()])
    blocks += [nn.Sigmoid()]
    blocks.insert(0, nn.Identity())
    assert [type(m).__name__ for m in blocks] == ["Identity", "Linear", "Linear", "Linear", "ReLU", "Tanh", "Sigmoid"]
    assert names(blocks) == [str(i) for i in range(7)]
    assert isinstance(blocks[1:3], nn.ModuleList) and len(blocks[1:3]) == 2
    assert blocks[-1] is blocks[6]
    del blocks[0]
    assert type(blocks[0]).__name__ == "Linear" and names(blocks) == [str(i) for i in range(6)]
    assert type(blocks.pop()).__name__ == "Sigmoid" and len(blocks) == 5
    blocks[0] = nn.GELU()
    assert isinstance(blocks[0], nn.GELU)
    assert len(blocks + nn.ModuleList([nn.ReLU()])) == 6
    with pytest.raises(TypeError, match="not a Module"):
        blocks.append("relu")
    with pytest.raises(NotImplementedError):
        blocks(minidl.ones(1))


def test_module_list_inside_a_model():
    class Stack(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(4, 4) for _ in range(2)])

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return x

    m = Stack()
    assert [n for n, _ in m.named_parameters()] == [
        "layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias",
    ]  # fmt: skip
    assert m(minidl.ones(3, 4)).shape == (3, 4)


def test_module_dict():
    heads = nn.ModuleDict({"cls": nn.Linear(4, 10), "box": nn.Linear(4, 4)})
    assert list(heads) == ["cls", "box"] and list(heads.keys()) == ["cls", "box"]
    assert "cls" in heads and len(heads) == 2
    assert heads["box"].out_features == 4
    heads["extra"] = nn.ReLU()
    heads.update([("box", nn.Identity())])
    assert [type(m).__name__ for m in heads.values()] == ["Linear", "Identity", "ReLU"]
    assert [k for k, _ in heads.items()] == ["cls", "box", "extra"]
    assert isinstance(heads.pop("extra"), nn.ReLU) and "extra" not in heads
    del heads["box"]
    assert list(heads.state_dict()) == ["cls.weight", "cls.bias"]
    heads.clear()
    assert len(heads) == 0
    with pytest.raises(TypeError, match="not a Module"):
        heads["x"] = 1
    with pytest.raises(ValueError, match="pair"):
        heads.update([nn.ReLU()])


def test_containers_propagate_modes_and_devices():
    model = nn.Sequential(nn.ModuleList([nn.Dropout()]), nn.ModuleDict({"bn": nn.BatchNorm1d(3)}))
    model.eval()
    assert not model[0][0].training and not model[1]["bn"].training
    model.double()
    assert model[1]["bn"].weight.dtype == minidl.float64
