"""Pickling: backends by device name, tensors (leaves only), modules (every zoo model), optimizers and schedulers
with their model, state dicts; across protocols 2..HIGHEST and across a real process boundary."""

from __future__ import annotations

import copy
import multiprocessing
import pickle
import threading

import numpy as np
import pytest

import minidl
import minidl.nn.functional as F
from minidl import models, nn, optim
from minidl.backend import CPUBackend, Device, KernelTable, get_backend, register_backend, unregister_backend
from minidl.optim import lr_scheduler

PROTOCOLS = list(range(2, pickle.HIGHEST_PROTOCOL + 1))


def _roundtrip(obj, protocol=pickle.DEFAULT_PROTOCOL):
    return pickle.loads(pickle.dumps(obj, protocol=protocol))


# ------------------------------------------------------------------------------------------------ backends


class HostCopyBackend(CPUBackend):
    """A device whose arrays must be copied to and from the host, as a GPU's are (NumPy arrays underneath)."""

    name = "hostcopy"

    def from_numpy(self, array):
        return np.array(array, copy=True)

    def to_numpy(self, array):
        return np.array(array, copy=True)


class PlainBackend:
    """A backend that is not a CPUBackend: any object with the attributes ``register_backend`` asks for."""

    xp = np
    array_type = np.ndarray

    def __init__(self, name):
        self.name = name
        self.kernels = get_backend("cpu").kernels

    def from_numpy(self, array):
        return array

    def to_numpy(self, array):
        return array


@pytest.fixture
def hostcopy():
    backend = HostCopyBackend()
    register_backend(backend)
    yield backend
    unregister_backend(backend.name)


def test_the_reproducer_no_longer_recurses():
    t = minidl.randn(3)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(t)).numpy(), t.numpy())


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_the_cpu_backend_unpickles_as_the_registered_object(protocol):
    cpu = get_backend("cpu")
    assert _roundtrip(cpu, protocol) is cpu
    assert copy.deepcopy(cpu) is cpu and copy.copy(cpu) is cpu
    assert _roundtrip(CPUBackend(), protocol) is cpu  # a CPU backend pickles by its device name


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_registered_backend_of_any_type_pickles_by_its_device_name(protocol):
    backend = PlainBackend("plain")
    register_backend(backend)
    try:
        assert _roundtrip(backend, protocol) is backend
        t = minidl.tensor([1.0, 2.0], device="plain")
        assert _roundtrip(t, protocol)._backend is backend
        stranger = PlainBackend("stranger")  # same type, not registered: pickles as an ordinary object
        copied = _roundtrip(stranger, protocol)
        assert type(copied) is PlainBackend and copied is not stranger and copied.name == "stranger"
    finally:
        unregister_backend("plain")


def test_a_tensor_of_an_unregistered_device_fails_clearly_when_unpickled(hostcopy):
    data = pickle.dumps(minidl.ones(2, device="hostcopy"))
    unregister_backend("hostcopy")
    with pytest.raises(RuntimeError, match="device 'hostcopy' is not available"):
        pickle.loads(data)
    register_backend(hostcopy)  # for the fixture's teardown


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_device_pickles_and_compares_equal(protocol):
    device = minidl.device("cpu")
    loaded = _roundtrip(device, protocol)
    assert isinstance(loaded, Device) and loaded == device and loaded == "cpu" and hash(loaded) == hash(device)


def test_an_uninitialised_kernel_table_raises_attribute_error_instead_of_recursing():
    table = KernelTable.__new__(KernelTable)
    with pytest.raises(AttributeError, match="not initialised"):
        table.erf
    assert not hasattr(table, "__setstate__")


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_kernel_table_pickles_as_its_implementations_and_choices(protocol):
    table = KernelTable(get_backend("cpu").kernels._implementations, {"erf": "reference"})
    table.erf  # a cached callable is not part of the pickle
    for loaded in (_roundtrip(table, protocol), copy.deepcopy(table), copy.copy(table)):
        assert loaded is not table
        assert loaded.names() == table.names()
        assert {n: loaded.choice(n) for n in loaded.names()} == {n: table.choice(n) for n in table.names()}
        assert loaded.erf is table.resolve("erf", "reference")
        loaded.select("numba", ("erf",))  # independent of the original
        assert table.choice("erf") == "reference"


# ------------------------------------------------------------------------------------------------- tensors


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(
    "make",
    [
        lambda: minidl.randn(3, 4),
        lambda: minidl.randn(2, 3, dtype=minidl.float64),
        lambda: minidl.arange(6).reshape(2, 3),
        lambda: minidl.tensor([True, False]),
        lambda: minidl.tensor(2.5),
        lambda: minidl.zeros(0, 3),
        lambda: minidl.randn(3, 4).T,  # not contiguous: the values come back, the strides need not
        lambda: minidl.randn(4, 1).expand(4, 3),
    ],
    ids=["float32", "float64", "int64", "bool", "0-d", "empty", "transposed", "expanded"],
)
def test_tensor_values_dtype_and_shape_round_trip(make, protocol):
    t = make()
    loaded = _roundtrip(t, protocol)
    assert type(loaded) is minidl.Tensor and loaded.dtype == t.dtype and loaded.shape == t.shape
    np.testing.assert_array_equal(loaded.numpy(), t.numpy())
    assert loaded._backend is t._backend and loaded.device == t.device
    assert not loaded.requires_grad and loaded.grad is None and loaded.is_leaf
    assert loaded.numpy().flags.writeable and not np.shares_memory(loaded.numpy(), t.numpy())


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_leaf_keeps_requires_grad_and_its_grad(protocol):
    x = minidl.randn(3, requires_grad=True)
    (x * x).sum().backward()
    loaded = _roundtrip(x, protocol)
    assert loaded.requires_grad and loaded.is_leaf
    np.testing.assert_array_equal(loaded.grad.numpy(), x.grad.numpy())
    (loaded * 3).sum().backward()  # still a working leaf: gradients accumulate into the loaded grad
    np.testing.assert_allclose(loaded.grad.numpy(), x.grad.numpy() + 3)


def test_a_loaded_tensor_has_a_fresh_version_counter():
    t = minidl.zeros(3)
    t.add_(1)
    t.mul_(2)
    assert t._version[0] == 2
    loaded = _roundtrip(t)
    assert loaded._version == [0] and loaded._version is not t._version


def test_a_tensor_made_by_a_recorded_op_is_refused():
    x = minidl.randn(3, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match=r"autograd graphs do not cross processes; call \.detach\(\) first"):
        pickle.dumps(y)
    loaded = _roundtrip(y.detach())
    assert not loaded.requires_grad
    np.testing.assert_array_equal(loaded.numpy(), y.detach().numpy())
    with minidl.no_grad():
        assert _roundtrip(x * 2).is_leaf  # not recorded: an ordinary leaf


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_tensor_on_another_device_is_copied_to_the_host_and_rebuilt_there(hostcopy, protocol):
    t = minidl.tensor([[1.0, 2.0], [3.0, 4.0]], device="hostcopy", requires_grad=True)
    loaded = _roundtrip(t, protocol)
    assert loaded._backend is hostcopy and loaded.device == "hostcopy" and loaded.requires_grad
    assert loaded.tolist() == [[1.0, 2.0], [3.0, 4.0]]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_parameter_round_trips_as_a_parameter(protocol):
    p = nn.Parameter(minidl.randn(2, 3))
    p.grad = minidl.ones(2, 3)
    frozen = nn.Parameter(minidl.randn(2), requires_grad=False)
    loaded, loaded_frozen = _roundtrip((p, frozen), protocol)
    assert type(loaded) is nn.Parameter and loaded.requires_grad
    np.testing.assert_array_equal(loaded.detach().numpy(), p.detach().numpy())
    assert loaded.grad.tolist() == p.grad.tolist() and type(loaded.grad) is minidl.Tensor
    assert type(loaded_frozen) is nn.Parameter and not loaded_frozen.requires_grad


def test_tensors_shared_in_one_pickle_stay_shared():
    t = minidl.randn(3)
    p = nn.Parameter(minidl.randn(2))
    a, b, c, d = _roundtrip([t, t, p, {"again": p}])
    assert a is b and c is d["again"] and type(c) is nn.Parameter


def test_deepcopy_of_tensors_still_works():
    x = minidl.randn(3, requires_grad=True)
    x.grad = minidl.ones(3)
    copied = copy.deepcopy(x)
    assert copied is not x and copied.requires_grad and copied.grad.tolist() == [1.0, 1.0, 1.0]
    assert not np.shares_memory(copied.detach().numpy(), x.detach().numpy())


# ------------------------------------------------------------------------------------------------- modules

# The smallest input each zoo model takes (models.vgg needs 32×32: five 2×2 pools).
_INPUT_SIZE = {"lenet5": 28, "alexnet": 16, "nin": 16}


def _small_vgg_linear(in_features, out_features, *args, **kwargs):
    """VGG's classifier with 16 hidden units instead of 4096: the same modules, ~1/1000 of the weights (the
    120M-weight classifier would make this test take a minute; pickling does not depend on widths)."""
    return nn.Linear(16 if in_features == 4096 else in_features, 16 if out_features == 4096 else out_features)


def _zoo_model(name, monkeypatch):
    if name.startswith("vgg"):
        monkeypatch.setattr(models.vgg, "Linear", _small_vgg_linear)
        return models.get_model(name, num_classes=10, in_channels=1), 32
    if name == "lenet5":
        return models.lenet5(), 28
    return models.get_model(name, num_classes=10, in_channels=1, small_input=True), _INPUT_SIZE.get(name, 8)


def _outputs(output):
    """The arrays of a model's output (GoogLeNet's training output is a named tuple)."""
    if isinstance(output, minidl.Tensor):
        return [output.numpy()]
    return [o.numpy() for o in output if o is not None]


def _forward(model, x, seed=1):
    minidl.manual_seed(seed)  # the same dropout masks for the original and the copy
    with minidl.no_grad():
        return _outputs(model(x))


def _assert_same_state(a, b):
    assert [type(m) for m in a.modules()] == [type(m) for m in b.modules()]
    assert [m.training for m in a.modules()] == [m.training for m in b.modules()]
    for (name_a, pa), (name_b, pb) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        assert name_a == name_b and type(pb) is nn.Parameter and pb.requires_grad == pa.requires_grad
        np.testing.assert_array_equal(pb.detach().numpy(), pa.detach().numpy())
    for (name_a, ba), (name_b, bb) in zip(a.named_buffers(), b.named_buffers(), strict=True):
        assert name_a == name_b and bb.dtype == ba.dtype
        np.testing.assert_array_equal(bb.numpy(), ba.numpy())


@pytest.mark.parametrize("name", models.list_models())
def test_every_zoo_model_round_trips_in_train_and_eval_mode(name, monkeypatch):
    model, size = _zoo_model(name, monkeypatch)
    x = minidl.randn(2, 1, size, size)
    model.eval()
    loaded = _roundtrip(model)
    assert type(loaded) is type(model) and loaded is not model
    assert not any(m.training for m in loaded.modules())
    _assert_same_state(model, loaded)
    for expected, got in zip(_forward(model, x), _forward(loaded, x), strict=True):
        np.testing.assert_array_equal(got, expected)
    model.train()
    loaded.train()
    for expected, got in zip(_forward(model, x), _forward(loaded, x), strict=True):
        np.testing.assert_array_equal(got, expected)
    _assert_same_state(model, loaded)  # BatchNorm's running statistics moved the same way


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_module_flags_buffers_and_plain_attributes_round_trip(protocol):
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Dropout(0.3), nn.Linear(4, 2))
    model.eval()
    model[1].train()  # mixed modes are kept module by module
    model[4].weight.requires_grad_(False)
    model[0].register_buffer("scratch", minidl.zeros(2), persistent=False)
    model.note = {"epochs": 3, "classes": ("a", "b")}
    loaded = _roundtrip(model, protocol)
    _assert_same_state(model, loaded)
    assert [m.training for m in loaded.modules()] == [False, False, True, False, False, False]
    assert "0.scratch" not in loaded.state_dict() and loaded[0].scratch.tolist() == [0.0, 0.0]
    assert loaded.note == model.note and loaded[3].p == 0.3
    assert list(loaded.state_dict()) == list(model.state_dict())


def _double_output(module, args, output):
    return output * 2


def test_a_module_level_hook_survives_pickling():
    model = nn.Sequential(nn.Linear(3, 2))
    model[0].register_forward_hook(_double_output)
    x = minidl.randn(1, 3)
    loaded = _roundtrip(model)
    assert list(loaded[0]._forward_hooks.values()) == [_double_output]
    np.testing.assert_array_equal(_forward(loaded, x)[0], _forward(model, x)[0])


def test_an_unpicklable_hook_is_reported_with_its_place():
    model = nn.Sequential(nn.Linear(3, 4), nn.Sequential(nn.ReLU(), nn.Linear(4, 2)))
    model[1][1].register_forward_hook(lambda module, args, output: None)
    with pytest.raises(pickle.PicklingError, match=r"forward hook <function .*<lambda>.* sub-module '1\.1' \(Linear\)"):
        pickle.dumps(model)
    copy.deepcopy(model)  # a deep copy shares the hook instead of pickling it


def test_an_unpicklable_attribute_or_buffer_is_reported_with_its_place():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
    model[1].lock = threading.Lock()
    with pytest.raises(pickle.PicklingError, match=r"attribute 'lock' \(a lock\) of its sub-module '1' \(ReLU\)"):
        pickle.dumps(model)
    model = nn.Linear(3, 4)
    model.register_buffer("scaled", model.weight * 2)
    with pytest.raises(pickle.PicklingError, match=r"buffer 'scaled' of the module.*do not cross processes"):
        pickle.dumps(model)


def test_deepcopy_of_a_module_still_works():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    model[1].eval()
    copied = copy.deepcopy(model)
    _assert_same_state(model, copied)
    assert copied[0].weight is not model[0].weight and copied[1].running_var is not model[1].running_var


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_module_state_dict_pickles(protocol):
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    state = _roundtrip(model.state_dict(), protocol)
    assert list(state) == list(model.state_dict())
    fresh = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    fresh.load_state_dict(state)
    _assert_same_state(model, fresh)


# ---------------------------------------------------------------------------------------------- optimizers


def _small_model():
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.2), nn.Linear(8, 3))


OPTIMIZERS = {
    "sgd": lambda params: optim.SGD(params, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "adam": lambda params: optim.Adam(params, lr=0.01, amsgrad=True),
    "adamw": lambda params: optim.AdamW(params, lr=0.01, weight_decay=0.1),
    "rmsprop": lambda params: optim.RMSprop(params, lr=0.01, momentum=0.5, centered=True),
}


def _train_step(model, optimizer, scheduler, seed):
    minidl.manual_seed(seed)
    x, y = minidl.randn(6, 4), minidl.randint(0, 3, (6,))
    optimizer.zero_grad()
    F.cross_entropy(model(x), y).backward()
    optimizer.step()
    scheduler.step()


def _params_of(optimizer):
    return [p for group in optimizer.param_groups for p in group["params"]]


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_an_optimizer_pickled_with_its_model_continues_training_identically(name, protocol):
    model = _small_model()
    optimizer = OPTIMIZERS[name](
        [{"params": model[0].parameters()}, {"params": [*model[1].parameters(), *model[4].parameters()], "lr": 0.05}]
    )
    scheduler = lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    for seed in (1, 2, 3):
        _train_step(model, optimizer, scheduler, seed)

    model2, optimizer2, scheduler2 = _roundtrip((model, optimizer, scheduler), protocol)
    assert type(optimizer2) is type(optimizer) and scheduler2.optimizer is optimizer2
    assert all(a is b for a, b in zip(_params_of(optimizer2), model2.parameters(), strict=True))
    assert set(map(id, optimizer2.state)) <= set(map(id, model2.parameters())) and optimizer2.state
    assert optimizer2.state_dict().keys() == optimizer.state_dict().keys()
    for key, saved in optimizer.state_dict()["state"].items():
        for field, value in saved.items():
            got = optimizer2.state_dict()["state"][key][field]
            if isinstance(value, minidl.Tensor):
                np.testing.assert_array_equal(got.numpy(), value.numpy())
            else:
                assert got == value
    assert optimizer2.state_dict()["param_groups"] == optimizer.state_dict()["param_groups"]
    assert scheduler2.state_dict() == scheduler.state_dict()

    _train_step(model, optimizer, scheduler, seed=4)
    _train_step(model2, optimizer2, scheduler2, seed=4)
    _assert_same_state(model, model2)
    assert scheduler2.get_last_lr() == scheduler.get_last_lr()


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_an_optimizer_state_dict_pickles(name):
    model = _small_model()
    optimizer = OPTIMIZERS[name](model.parameters())
    _train_step(model, optimizer, lr_scheduler.ExponentialLR(optimizer, gamma=0.9), seed=1)
    state = _roundtrip(optimizer.state_dict())
    fresh = OPTIMIZERS[name](copy.deepcopy(model).parameters())
    fresh.load_state_dict(state)
    assert fresh.state_dict()["param_groups"] == optimizer.state_dict()["param_groups"]
    for key, saved in optimizer.state_dict()["state"].items():
        for field, value in saved.items():
            got = fresh.state_dict()["state"][key][field]
            assert np.array_equal(got.numpy(), value.numpy()) if isinstance(value, minidl.Tensor) else got == value


def _halve_every_epoch(epoch):
    return 0.5**epoch


def test_schedulers_pickle_with_their_optimizer():
    model = _small_model()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    schedulers = [
        lr_scheduler.LambdaLR(optimizer, _halve_every_epoch),
        lr_scheduler.MultiStepLR(optimizer, [1, 3]),
        lr_scheduler.CosineAnnealingLR(optimizer, T_max=5),
        lr_scheduler.LinearLR(optimizer, total_iters=3),
        lr_scheduler.ReduceLROnPlateau(optimizer, patience=0),
    ]
    optimizer2, schedulers2 = _roundtrip((optimizer, schedulers))
    for before, after in zip(schedulers, schedulers2, strict=True):
        assert type(after) is type(before) and after.optimizer is optimizer2
        assert after.state_dict() == before.state_dict()


def test_deepcopy_of_a_model_and_its_optimizer_still_works():
    model = _small_model()
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    _train_step(model, optimizer, lr_scheduler.ExponentialLR(optimizer, gamma=0.9), seed=1)
    model2, optimizer2 = copy.deepcopy((model, optimizer))
    assert all(a is b for a, b in zip(_params_of(optimizer2), model2.parameters(), strict=True))
    assert all(a is not b for a, b in zip(model2.parameters(), model.parameters()))


# -------------------------------------------------------------------------------------------- processes


def _forward_in_child(model, x):
    """Runs in a spawned process: the forward output, and whether the tensors came back on its own backend."""
    with minidl.no_grad():
        out = model(x)
    same_backend = x._backend is get_backend("cpu") and all(p._backend is x._backend for p in model.parameters())
    return out, same_backend


def test_a_tensor_and_a_model_cross_a_process_boundary():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
    model.eval()
    x = minidl.randn(2, 1, 8, 8)
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        out, same_backend = pool.apply(_forward_in_child, (model, x))
    assert same_backend and out._backend is get_backend("cpu")
    np.testing.assert_array_equal(out.numpy(), _forward(model, x)[0])
