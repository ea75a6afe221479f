"""Module and Parameter: registration, traversal order, modes, gradients, apply, hooks, devices and dtypes, repr.
Where PyTorch defines the answer (names, orders, repr text) the test builds the same model in torch.nn and
compares."""

import copy
import pickle

import numpy as np
import pytest
import torch

import minidl
import minidl.nn as nn
from tests.nn.models import net, small_cnn

# --------------------------------------------------------------------------------------------------- Parameter


def test_parameter_is_a_tensor_that_requires_grad():
    p = nn.Parameter(minidl.ones(2, 3))
    assert isinstance(p, minidl.Tensor)
    assert p.requires_grad and p.is_leaf and p.grad is None
    assert not nn.Parameter(minidl.ones(2), requires_grad=False).requires_grad
    assert nn.Parameter().shape == (0,)
    assert nn.Parameter([[1.0, 2.0]]).shape == (1, 2)


def test_parameter_shares_memory_with_its_tensor():
    t = minidl.zeros(3)
    p = nn.Parameter(t)
    t.add_(1)
    assert p.tolist() == [1.0, 1.0, 1.0]


def test_results_of_ops_on_a_parameter_are_plain_tensors():
    p = nn.Parameter(minidl.ones(2, 2))
    for result in (p * 2, p.T, p.sum(), p.detach(), p.reshape(4), p[0]):
        assert type(result) is minidl.Tensor
    (p * 3).sum().backward()
    assert type(p.grad) is minidl.Tensor


def test_parameter_repr_matches_torch():
    ours = repr(nn.Parameter(minidl.tensor([1.0, 2.0])))
    theirs = repr(torch.nn.Parameter(torch.tensor([1.0, 2.0])))
    assert ours == theirs == "Parameter containing:\ntensor([1., 2.], requires_grad=True)"


def test_integer_parameter_that_requires_grad_is_refused():
    with pytest.raises(TypeError, match="floating-point"):
        nn.Parameter(minidl.tensor([1, 2]))
    assert not nn.Parameter(minidl.tensor([1, 2]), requires_grad=False).requires_grad


def test_parameter_deepcopy_and_pickle():
    p = nn.Parameter(minidl.tensor([1.0, 2.0]))
    for q in (copy.deepcopy(p), pickle.loads(pickle.dumps(p))):
        assert isinstance(q, nn.Parameter) and q.requires_grad
        assert q.tolist() == [1.0, 2.0]
        assert q.data is not p.data
        assert q.backend is p.backend


# -------------------------------------------------------------------------------------------- registration


class Two(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3, 4)
        self.w = nn.Parameter(minidl.zeros(2))
        self.fc2 = nn.Linear(4, 2, bias=False)
        self.register_buffer("count", minidl.zeros(1))
        self.plain = minidl.zeros(5)  # a plain tensor attribute is not registered

    def forward(self, x):
        return self.fc2(self.fc1(x).relu())


def test_assignment_registers_parameters_buffers_and_children_in_order():
    m = Two()
    assert [name for name, _ in m.named_parameters()] == ["w", "fc1.weight", "fc1.bias", "fc2.weight"]
    assert [name for name, _ in m.named_parameters(recurse=False)] == ["w"]
    assert [name for name, _ in m.named_buffers()] == ["count"]
    assert [name for name, _ in m.named_children()] == ["fc1", "fc2"]
    assert [name for name, _ in m.named_modules()] == ["", "fc1", "fc2"]
    assert list(m.children()) == [m.fc1, m.fc2]
    assert len(list(m.modules())) == 3
    assert m.w is m._parameters["w"] and m.count is m._buffers["count"] and m.fc1 is m._modules["fc1"]
    assert "plain" not in m._buffers and "plain" in m.__dict__
    assert "fc1" in dir(m) and "count" in dir(m)


def test_traversal_names_and_orders_match_torch():
    ours, theirs = net(minidl), net(torch)
    for method in ("named_parameters", "named_buffers", "named_children", "named_modules"):
        assert [n for n, _ in getattr(ours, method)()] == [n for n, _ in getattr(theirs, method)()], method
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours, theirs = small_cnn(minidl), small_cnn(torch)
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert list(ours.state_dict()) == list(theirs.state_dict())


def test_shared_modules_and_parameters_are_listed_once():
    shared = nn.Linear(2, 2)
    m = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(m.parameters())) == 2
    assert [n for n, _ in m.named_modules()] == ["", "0", "1"]
    assert len(list(m.named_parameters(remove_duplicate=False))) == 4
    tied = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    tied[1].weight = tied[0].weight
    assert len(list(tied.parameters())) == 3


def test_reassignment_and_none():
    m = Two()
    m.fc1 = nn.Linear(3, 4)  # replace a child
    m.w = None  # an optional parameter
    assert m.w is None and "w" not in dict(m.named_parameters())
    m.w = nn.Parameter(minidl.ones(1))
    assert m.w.shape == (1,)
    m.count = minidl.ones(1)  # a buffer stays a buffer
    assert m._buffers["count"].tolist() == [1.0]
    m.fc2 = None
    assert [n for n, _ in m.named_children()] == ["fc1"]
    # A registered name moves to the new kind when assigned a Parameter or Module.
    m.plain = nn.Parameter(minidl.ones(1))
    assert "plain" not in m.__dict__ and "plain" in m._parameters


def test_wrong_assignments_are_clear_errors():
    m = Two()
    with pytest.raises(TypeError, match=r"cannot assign 'Tensor' as parameter 'w' \(nn.Parameter or None expected\)"):
        m.w = minidl.ones(2)
    with pytest.raises(TypeError, match="child module 'fc1'"):
        m.fc1 = 3
    with pytest.raises(TypeError, match="buffer 'count'"):
        m.count = [1.0]
    with pytest.raises(TypeError, match="nn.Parameter or None required"):
        m.register_parameter("v", minidl.ones(1))
    with pytest.raises(KeyError, match="cannot contain"):
        m.register_buffer("a.b", minidl.ones(1))
    with pytest.raises(KeyError, match="already exists"):
        m.register_buffer("fc1", minidl.ones(1))
    with pytest.raises(TypeError, match="is not a Module subclass"):
        m.add_module("x", minidl.ones(1))
    with pytest.raises(AttributeError, match="'Two' object has no attribute 'nope'"):
        m.nope


def test_assigning_before_init_is_a_clear_error():
    class Forgot(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match=r"before Module.__init__\(\) call"):
        Forgot()


def test_delattr_unregisters():
    m = Two()
    del m.fc1, m.w, m.count
    assert [n for n, _ in m.named_parameters()] == ["fc2.weight"]
    assert not list(m.buffers())
    del m.plain
    assert not hasattr(m, "plain")


def test_non_persistent_buffers_move_but_are_not_saved():
    m = net(minidl)
    assert "scratch" in dict(m.named_buffers())
    assert "scratch" not in m.state_dict() and "steps" in m.state_dict()


def test_get_submodule_and_parameter():
    m = small_cnn(minidl)
    assert m.get_submodule("features.0") is m.features[0]
    assert m.get_parameter("classifier.1.bias") is m.classifier[1].bias
    with pytest.raises(AttributeError, match="no sub-module `9`"):
        m.get_submodule("features.9")


def test_forward_is_required():
    with pytest.raises(NotImplementedError, match='missing the required "forward"'):
        nn.Module()(1)


def test_call_runs_forward_and_hooks():
    m = nn.Linear(3, 2)
    seen = []
    pre = m.register_forward_pre_hook(lambda mod, args: seen.append(("pre", args[0].shape)))
    post = m.register_forward_hook(lambda mod, args, out: out * 0)
    y = m(minidl.ones(4, 3))
    assert seen == [("pre", (4, 3))] and y.tolist() == [[0.0, 0.0]] * 4
    pre.remove()
    post.remove()
    assert m(minidl.ones(1, 3)).abs().sum().item() > 0 and len(seen) == 1


# ------------------------------------------------------------------------------------------------- modes


def test_train_and_eval_propagate_to_every_module():
    m = small_cnn(minidl)
    assert all(mod.training for mod in m.modules())
    assert m.eval() is m
    assert not any(mod.training for mod in m.modules())
    assert m.train() is m and all(mod.training for mod in m.modules())
    m.train(False)
    assert not m.classifier[0].training
    with pytest.raises(ValueError, match="boolean"):
        m.train("yes")


def test_dropout_follows_the_mode():
    m = nn.Sequential(nn.Dropout(0.5))
    x = minidl.ones(100, 100)
    assert (m(x) == 0).any().item()
    assert (m.eval()(x) == x).all().item()


def test_requires_grad_freezes_and_unfreezes():
    m = small_cnn(minidl)
    assert m.features.requires_grad_(False) is m.features
    assert not any(p.requires_grad for p in m.features.parameters())
    assert all(p.requires_grad for p in m.classifier.parameters())
    x = minidl.randn(2, 3, 8, 8)
    m(x).sum().backward()
    assert all(p.grad is None for p in m.features.parameters())
    assert all(p.grad is not None for p in m.classifier.parameters())
    m.requires_grad_()
    assert all(p.requires_grad for p in m.parameters())


def test_zero_grad():
    m = nn.Linear(3, 2)
    m(minidl.ones(4, 3)).sum().backward()
    assert m.weight.grad is not None
    m.zero_grad(set_to_none=False)
    assert m.weight.grad.abs().sum().item() == 0 and m.bias.grad.shape == (2,)
    m(minidl.ones(4, 3)).sum().backward()
    assert m.bias.grad.tolist() == [4.0, 4.0]  # accumulated into the zeroed gradient
    m.zero_grad()
    assert m.weight.grad is None and m.bias.grad is None


def test_apply_visits_children_first_like_torch():
    ours, theirs = small_cnn(minidl), small_cnn(torch)
    seen_ours, seen_theirs = [], []
    assert ours.apply(lambda mod: seen_ours.append(type(mod).__name__)) is ours
    theirs.apply(lambda mod: seen_theirs.append(type(mod).__name__))
    assert seen_ours == seen_theirs


def test_apply_reinitialises():
    m = small_cnn(minidl)

    def init(mod):
        if isinstance(mod, nn.Linear):
            nn.init.zeros_(mod.weight)

    m.apply(init)
    assert m.classifier[1].weight.abs().sum().item() == 0


# ---------------------------------------------------------------------------------------- device, dtype


def test_to_cpu_keeps_everything():
    m = small_cnn(minidl)
    weight = m.features[0].weight
    data = weight.data
    assert m.to("cpu") is m and m.cpu() is m and m.to(minidl.device("cpu")) is m
    assert m.features[0].weight is weight and weight.data is data


def test_to_an_unknown_device_is_the_backends_clear_error():
    m = nn.Linear(2, 2)
    with pytest.raises(RuntimeError, match="device 'tpu' is not available"):
        m.to("tpu")
    with pytest.raises(RuntimeError, match="device 'cuda:2' is not available"):
        m.to("cuda:2")


def test_to_dtype_casts_floating_parameters_buffers_and_grads_in_place():
    m = small_cnn(minidl)
    m(minidl.randn(2, 3, 8, 8)).sum().backward()
    weight = m.classifier[1].weight
    assert m.double() is m
    assert m.classifier[1].weight is weight and weight.dtype == minidl.float64 and weight.requires_grad
    assert weight.grad.dtype == minidl.float64
    bn = m.features[1]
    assert bn.running_mean.dtype == minidl.float64 and bn.num_batches_tracked.dtype == minidl.int64
    assert m(minidl.randn(2, 3, 8, 8, dtype=minidl.float64)).dtype == minidl.float64
    m.to(dtype="float32")
    assert weight.dtype == minidl.float32
    with pytest.raises(TypeError, match="floating point"):
        m.to(minidl.int64)


# --------------------------------------------------------------------------------------------------- repr


def test_repr_matches_torch():
    for build in (small_cnn, net):
        assert repr(build(minidl)) == repr(build(torch))


def test_repr_of_every_layer_matches_torch():
    def layers(lib):
        nn = lib.nn
        return nn.Sequential(
            nn.Linear(3, 4),
            nn.Linear(3, 4, bias=False),
            nn.Conv2d(3, 6, 3),
            nn.Conv2d(3, 6, (3, 5), stride=(2, 1), padding=(1, 2), dilation=2, groups=3, bias=False),
            nn.Conv2d(3, 6, 3, padding="same", padding_mode="reflect"),
            nn.Conv2d(3, 6, 3, padding="valid"),
            nn.MaxPool2d(2),
            nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
            nn.AvgPool2d(2),
            nn.AvgPool2d((2, 3), stride=1, padding=1),
            nn.AdaptiveAvgPool2d((4, 4)),
            nn.AdaptiveAvgPool2d(1),
            nn.BatchNorm1d(5),
            nn.BatchNorm2d(5, eps=1e-3, momentum=None, affine=False, track_running_stats=False),
            nn.Dropout(),
            nn.Dropout(0.2, inplace=True),
            nn.ReLU(),
            nn.ReLU(inplace=True),
            nn.LeakyReLU(0.2),
            nn.ELU(),
            nn.Sigmoid(),
            nn.Tanh(),
            nn.GELU(),
            nn.GELU(approximate="tanh"),
            nn.Softmax(dim=1),
            nn.LogSoftmax(dim=-1),
            nn.Flatten(),
            nn.Flatten(0, 2),
            nn.Identity(),
            nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0),
            nn.CrossEntropyLoss(),
            nn.NLLLoss(),
            nn.MSELoss(),
            nn.BCEWithLogitsLoss(),
            nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2), nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2)]),
            nn.ModuleList(),
            nn.ModuleDict({"a": nn.ReLU(), "b": nn.Sequential(nn.Tanh())}),
            nn.Sequential(),
        )

    ours, theirs = repr(layers(minidl)).splitlines(), repr(layers(torch)).splitlines()
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert a == b


def test_extra_repr_of_a_custom_module():
    class Scale(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = nn.Linear(1, 1)

        def extra_repr(self):
            return "factor=2"

    assert repr(Scale()) == "Scale(\n  factor=2\n  (inner): Linear(in_features=1, out_features=1, bias=True)\n)"


def test_minidl_nn_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, minidl, minidl.nn; minidl.nn.Linear(2, 2); assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_numpy_arrays_are_not_mistaken_for_parameters():
    m = nn.Module()
    m.table = np.zeros(3)
    assert not list(m.parameters()) and not list(m.buffers())
