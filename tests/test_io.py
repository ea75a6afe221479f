"""minidl.save / minidl.load (.npz and .safetensors), from_torch / to_torch: exact round trips of state dicts and
checkpoints, files other tools can read, clear errors on corrupt files, atomic writes."""

from __future__ import annotations

import io
import json
import math
import os
import re
import struct
import subprocess
import sys
import tempfile
import zipfile
from collections import Counter, OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import minidl
import minidl.io as mio
from minidl import tempfiles
from minidl.optim import lr_scheduler
from tests.faults import stale_and_live_names, traced_peak
from tests.nn.models import small_cnn
from tests.support import as_layout

EXTS = (".npz", ".safetensors")
MINIDL_DTYPES = ("float64", "float32", "int64", "int32", "int16", "int8", "uint8", "bool")
SHAPES = ((), (0,), (2, 0, 3), (5,), (3, 4), (2, 3, 4))


@pytest.fixture(params=EXTS)
def ext(request) -> str:
    return request.param


def random_array(rng: np.random.Generator, shape: tuple, dtype: str) -> np.ndarray:
    if dtype == "bool":
        return np.asarray(rng.integers(0, 2, size=shape).astype(bool))
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        return np.asarray(rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True))
    return np.asarray(rng.standard_normal(size=shape) * 100, dtype=dtype)


def assert_same(saved, loaded) -> None:
    """``loaded`` is ``saved`` after a round trip: same containers, key order and types, values; arrays and
    tensors come back as Tensors (requires_grad False) with the same dtype, shape and values."""
    if isinstance(saved, (minidl.Tensor, np.ndarray)):
        expected = saved.detach().numpy() if isinstance(saved, minidl.Tensor) else saved
        assert type(loaded) is minidl.Tensor and not loaded.requires_grad
        got = loaded.numpy()
        assert got.dtype == expected.dtype.newbyteorder("=") and got.shape == expected.shape
        assert np.array_equal(got, expected, equal_nan=got.dtype.kind == "f")
        return
    assert type(loaded) is type(saved), (saved, loaded)
    if isinstance(saved, dict):
        assert [(type(k), k) for k in loaded] == [(type(k), k) for k in saved]
        for key in saved:
            assert_same(saved[key], loaded[key])
    elif isinstance(saved, (list, tuple)):
        assert len(loaded) == len(saved)
        for a, b in zip(saved, loaded):
            assert_same(a, b)
    elif isinstance(saved, (float, np.floating)) and math.isnan(saved):
        assert math.isnan(loaded)
    else:
        assert loaded == saved
        if isinstance(saved, float):
            assert math.copysign(1, loaded) == math.copysign(1, saved)  # -0.0 stays -0.0


def round_trip(obj, path: Path):
    minidl.save(obj, path)
    return minidl.load(path)


# ------------------------------------------------------------------------------------------- flat state dicts


@pytest.mark.parametrize("dtype", MINIDL_DTYPES)
def test_flat_dict_of_every_dtype_and_odd_shape(tmp_path, ext, dtype):
    rng = np.random.default_rng(0)
    state = OrderedDict()
    for i, shape in enumerate(SHAPES):
        state[f"t{i}"] = minidl.from_numpy(random_array(rng, shape, dtype))
        state[f"a{i}"] = random_array(rng, shape, dtype)
    base = random_array(rng, (4, 6), dtype)
    for layout in ("transposed", "strided", "reversed"):
        state[layout] = as_layout(base, layout)
        assert not state[layout].flags.c_contiguous
    state["big_endian"] = base.astype(base.dtype.newbyteorder(">"))
    state["tensor_view"] = minidl.from_numpy(base).T
    loaded = round_trip(state, tmp_path / f"w{ext}")
    assert type(loaded) is OrderedDict and list(loaded) == list(state)
    assert_same(dict(state), dict(loaded))
    for t in loaded.values():
        assert t.numpy().flags.c_contiguous and t.numpy().flags.writeable


@pytest.mark.parametrize(("dtype", "becomes"), [("float16", "float32"), ("uint16", "int64"), ("uint32", "int64")])
def test_dtypes_minidl_lacks_are_widened_exactly(tmp_path, ext, dtype, becomes):
    array = random_array(np.random.default_rng(1), (3, 5), dtype)
    loaded = round_trip({"x": array}, tmp_path / f"w{ext}")["x"]
    assert loaded.dtype == np.dtype(becomes)
    assert np.array_equal(loaded.numpy(), array.astype(becomes))


def test_parameters_load_as_plain_tensors(tmp_path, ext):
    layer = minidl.nn.Linear(3, 2)
    loaded = round_trip(layer.state_dict(keep_vars=True), tmp_path / f"w{ext}")
    assert all(type(t) is minidl.Tensor and not t.requires_grad for t in loaded.values())
    assert np.array_equal(loaded["weight"].numpy(), layer.weight.detach().numpy())


@pytest.mark.parametrize("key", ["__metadata__", "__minidl__"])
def test_a_reserved_key_still_round_trips(tmp_path, ext, key):
    state = {key: np.arange(3), "b": np.ones(2)}
    assert_same(state, dict(round_trip(state, tmp_path / f"w{ext}")))


names = st.text(alphabet="abcXYZ019._-/ é", min_size=1, max_size=12)


@st.composite
def flat_state_dicts(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    keys = draw(st.lists(names, max_size=6, unique=True))
    state = {}
    for key in keys:
        shape = draw(st.lists(st.integers(0, 4), max_size=3).map(tuple))
        array = random_array(rng, shape, draw(st.sampled_from(MINIDL_DTYPES)))
        if array.ndim:  # support.as_layout fails on 0-d arrays (np.ascontiguousarray makes them 1-d)
            array = as_layout(array, draw(st.sampled_from(("contiguous", "transposed", "strided", "reversed"))))
        state[key] = minidl.from_numpy(array) if draw(st.booleans()) else array
    return state


@settings(max_examples=40)
@given(state=flat_state_dicts(), ext=st.sampled_from(EXTS))
def test_flat_dicts_round_trip(state, ext):
    with tempfile.TemporaryDirectory() as folder:
        loaded = round_trip(state, Path(folder) / f"w{ext}")
        if ext == ".safetensors":
            assert list(parse_safetensors(Path(folder) / f"w{ext}")[0]) == list(state)
    assert type(loaded) is OrderedDict and list(loaded) == list(state)
    assert_same(state, dict(loaded))


# ----------------------------------------------------------------------------------- nested structures


keys = st.one_of(st.text(max_size=5), st.integers(-(2**70), 2**70))
leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from([np.float32(1.5), np.int64(-3), np.bool_(True), np.float16(0.25), np.uint8(7)]),
    st.builds(
        lambda n, d: random_array(np.random.default_rng(n), (n % 3, 2), d),
        st.integers(0, 9),
        st.sampled_from(MINIDL_DTYPES),
    ),
)
structures = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(keys, children, max_size=4),
        st.dictionaries(keys, children, max_size=4).map(OrderedDict),
    ),
    max_leaves=12,
)


@settings(max_examples=60)
@given(obj=structures, ext=st.sampled_from(EXTS))
def test_nested_structures_round_trip(obj, ext):
    with tempfile.TemporaryDirectory() as folder:
        loaded = round_trip({"root": obj, "epoch": 1}, Path(folder) / f"c{ext}")  # never a flat state dict
    assert_same({"root": obj, "epoch": 1}, loaded)


def test_odd_keys_and_values_round_trip(tmp_path, ext):
    obj = {
        0: "int key",
        "0": "str key",
        (1, "a"): [None, True, 1, 1.0, -0.0, math.inf, -math.inf, math.nan],
        None: (),
        2.5: Counter({3: 2, 7: 1}),
        "empty": {"d": {}, "od": OrderedDict(), "l": []},
        "scalar": np.float64(0.1),
        "bare tensor list": [minidl.ones(2, dtype=minidl.int8), np.zeros((0, 3))],
    }
    assert_same(obj, round_trip(obj, tmp_path / f"c{ext}"))
    assert_same(minidl.arange(4), round_trip(minidl.arange(4), tmp_path / f"t{ext}"))


# -------------------------------------------------------------------------- models, optimizers, schedulers


def trained_cnn():
    model = small_cnn(minidl)
    model.train()
    model(minidl.randn(4, 3, 8, 8))  # move the running statistics away from their start
    return model.eval()


def test_module_state_dict_loads_into_a_fresh_model(tmp_path, ext):
    model = trained_cnn()
    state = model.state_dict()
    loaded = round_trip(state, tmp_path / f"m{ext}")
    assert_same(dict(state), dict(loaded))
    assert loaded["features.1.num_batches_tracked"].dtype == minidl.int64
    minidl.manual_seed(1)
    fresh = small_cnn(minidl).eval()
    fresh.load_state_dict(loaded)
    x = minidl.randn(2, 3, 8, 8)
    with minidl.no_grad():
        assert np.array_equal(fresh(x).numpy(), model(x).numpy())


def train(model, optimizer, scheduler, steps: int) -> None:
    x = minidl.randn(4, 3, 8, 8)
    for _ in range(steps):
        optimizer.zero_grad()
        (model(x) ** 2).mean().backward()
        optimizer.step()
        scheduler.step(1.0) if isinstance(scheduler, lr_scheduler.ReduceLROnPlateau) else scheduler.step()


OPTIMIZERS = {
    "sgd_momentum": lambda params: minidl.optim.SGD(params, lr=0.1, momentum=0.9, nesterov=True),
    "adam": lambda params: minidl.optim.Adam(params, lr=1e-2, amsgrad=True),
}
SCHEDULERS = {
    "multistep": lambda opt: lr_scheduler.MultiStepLR(opt, milestones=[1, 3, 3]),
    "plateau": lambda opt: lr_scheduler.ReduceLROnPlateau(opt, patience=0),  # holds best = inf
    "lambda": lambda opt: lr_scheduler.LambdaLR(opt, lambda epoch: 0.5**epoch),
    "cosine": lambda opt: lr_scheduler.CosineAnnealingLR(opt, T_max=5),
}


def make_run(optimizer: str, scheduler: str):
    model = small_cnn(minidl)
    opt = OPTIMIZERS[optimizer](model.parameters())
    return model, opt, SCHEDULERS[scheduler](opt)


@pytest.mark.parametrize("scheduler", SCHEDULERS)
@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_training_checkpoint_round_trips_and_resumes(tmp_path, ext, optimizer, scheduler):
    model, opt, sched = make_run(optimizer, scheduler)
    train(model, opt, sched, 2)
    checkpoint = {
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
        "epoch": 3,
    }
    loaded = round_trip(checkpoint, tmp_path / f"ckpt{ext}")
    assert_same(checkpoint, loaded)

    minidl.manual_seed(5)
    model2, opt2, sched2 = make_run(optimizer, scheduler)
    model2.load_state_dict(loaded["model"])
    opt2.load_state_dict(loaded["optimizer"])
    sched2.load_state_dict(loaded["scheduler"])
    for m, o, s in ((model, opt, sched), (model2, opt2, sched2)):
        minidl.manual_seed(7)
        train(m, o, s, 2)
    assert_same(dict(model.state_dict()), dict(model2.state_dict()))
    assert sched.get_last_lr() == sched2.get_last_lr()


# ------------------------------------------------------------------------------------------ refused values


class Warmup:
    """A callable lr_lambda whose ``__dict__`` (which LambdaLR's state dict saves) holds a function."""

    def __init__(self):
        self.steps = 3
        self.curve = lambda epoch: 1.0

    def __call__(self, epoch):
        return min(1.0, (epoch + 1) / self.steps)


def test_a_function_in_a_scheduler_state_is_a_clear_type_error(tmp_path, ext):
    model = minidl.nn.Linear(2, 2)
    sched = lr_scheduler.LambdaLR(minidl.optim.SGD(model.parameters(), lr=0.1), Warmup())
    target = tmp_path / f"ckpt{ext}"
    with pytest.raises(TypeError, match=r"obj\['scheduler'\]\['lr_lambdas'\]\[0\]\['curve'\].*function"):
        minidl.save({"scheduler": sched.state_dict()}, target)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (lambda: 0, r"obj\['x'\], a builtins.function: functions"),
        (minidl.nn.Linear(1, 1), r"Linear: save its .state_dict\(\) instead"),
        ({1, 2}, r"obj\['x'\], a builtins.set"),
        (object(), r"obj\['x'\], a builtins.object"),
        (b"bytes", r"builtins.bytes"),
        ({frozenset(): 1}, r"obj\['x'\] has a key of type frozenset"),
        (np.zeros(2, dtype=np.complex64), r"obj\['x'\]: dtype complex64 is not supported"),
        (np.array(["a"]), r"dtype <U1 is not supported"),
        (np.zeros(2, dtype=object), r"dtype object is not supported"),
    ],
)
def test_values_that_would_need_pickle_are_refused(tmp_path, ext, value, message):
    with pytest.raises(TypeError, match=message):
        minidl.save({"x": value}, tmp_path / f"c{ext}")
    assert list(tmp_path.iterdir()) == []


def test_a_structure_that_contains_itself_is_refused(tmp_path, ext):
    loop = []
    loop.append(loop)
    with pytest.raises(ValueError, match=r"obj\['x'\]\[0\] contains itself"):
        minidl.save({"x": loop}, tmp_path / f"c{ext}")


# ---------------------------------------------------------------------------------- what other tools read


def test_safetensors_file_parsed_by_hand(tmp_path):
    state = OrderedDict(
        w=np.arange(6, dtype=">f4").reshape(2, 3).T,  # big-endian and non-contiguous
        n=np.array([1, -2], dtype=np.int64),
        mask=np.array([[True, False]]),
        s=np.array(3.5),
    )
    path = tmp_path / "w.safetensors"
    minidl.save(state, path)
    header, data = parse_safetensors(path)
    assert "__metadata__" not in header and list(header) == list(state)
    expected = {"w": ("F32", [3, 2]), "n": ("I64", [2]), "mask": ("BOOL", [1, 2]), "s": ("F64", [])}
    for name, array in state.items():
        entry = header[name]
        assert (entry["dtype"], entry["shape"]) == expected[name]
        begin, stop = entry["data_offsets"]
        le = np.ascontiguousarray(array).astype(array.dtype.newbyteorder("<"))
        assert data[begin:stop] == le.tobytes()


def parse_safetensors(path: Path) -> tuple[dict, bytes]:
    """The header and data of a safetensors file, checked as strict readers check them: the data starts 8-byte
    aligned, the tensors tile it with no gap or overlap, each aligned for its dtype."""
    raw = path.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    assert (8 + length) % 8 == 0
    header = json.loads(raw[8 : 8 + length])
    data = raw[8 + length :]
    end = 0
    for begin, stop in sorted(entry["data_offsets"] for name, entry in header.items() if name != "__metadata__"):
        assert begin == end
        end = stop
    assert end == len(data)
    itemsize = {"F64": 8, "I64": 8, "F32": 4, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}
    for name, entry in header.items():
        if name != "__metadata__":
            assert entry["data_offsets"][0] % itemsize[entry["dtype"]] == 0, name
    return header, data


def test_checkpoint_structure_sits_in_safetensors_metadata(tmp_path):
    path = tmp_path / "c.safetensors"
    minidl.save({"model": {"w": np.ones(2)}, "epoch": 3}, path)
    raw = path.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + length])
    assert list(header) == ["__metadata__", "model/w"] == list(parse_safetensors(path)[0])
    metadata = header["__metadata__"]
    assert all(isinstance(v, str) for v in metadata.values())
    assert json.loads(metadata["__minidl__"])["format"] == "minidl"


def test_npz_is_read_by_numpy(tmp_path):
    state = OrderedDict(a=np.arange(12, dtype=np.int16).reshape(3, 4)[:, ::2], b=minidl.randn(2, 3), c=np.array(True))
    path = tmp_path / "w.npz"
    minidl.save(state, path)
    with np.load(path, allow_pickle=False) as npz:
        assert npz.files == list(state)
        for key, value in state.items():
            assert np.array_equal(npz[key], np.asarray(value)) and npz[key].dtype == np.asarray(value).dtype
    checkpoint = tmp_path / "c.npz"
    minidl.save({"w": np.ones(2), "step": 1}, checkpoint)
    with np.load(checkpoint, allow_pickle=False) as npz:
        assert npz.files == ["w", "__minidl__"]


def test_npz_written_by_numpy_loads(tmp_path):
    path = tmp_path / "np.npz"
    arrays = {"x": np.arange(6.0).reshape(2, 3), "y": np.asfortranarray(np.ones((2, 3), np.float32))}
    np.savez_compressed(path, **arrays)
    loaded = minidl.load(path)
    assert list(loaded) == ["x", "y"]
    assert_same(arrays, dict(loaded))


def safetensors_bytes(header: dict, data: bytes, pad: int = 0) -> bytes:
    text = json.dumps(header).encode() + b" " * pad
    return struct.pack("<Q", len(text)) + text + data


def test_safetensors_from_another_writer_loads_in_header_order(tmp_path):
    values = np.array([1.0, -2.5, 3.140625], dtype=np.float32)  # exact in bfloat16
    bf16 = (values.view(np.uint32) >> 16).astype("<u2").tobytes()
    f16 = np.array([0.5, 65504.0], dtype="<f2").tobytes()
    header = {
        "b": {"dtype": "F16", "shape": [2], "data_offsets": [6, 10]},
        "__metadata__": {"format": "pt"},
        "a": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 6]},
    }
    path = tmp_path / "other.safetensors"
    path.write_bytes(safetensors_bytes(header, bf16 + f16, pad=5))
    loaded = minidl.load(path)
    assert list(loaded) == ["b", "a"]
    assert loaded["a"].dtype == minidl.float32 and np.array_equal(loaded["a"].numpy(), values)
    assert loaded["b"].dtype == minidl.float32 and np.array_equal(loaded["b"].numpy(), [0.5, 65504.0])


def test_the_safetensors_library_reads_and_writes_the_same_files(tmp_path):
    import safetensors.numpy as st_numpy  # a test dependency (the dev extra): a missing one must fail, not skip

    state = {"w": np.arange(6, dtype=np.float32).reshape(2, 3), "i": np.array([1, 2], np.int8), "z": np.zeros((0,))}
    ours = tmp_path / "ours.safetensors"
    minidl.save(state, ours)
    theirs = st_numpy.load_file(str(ours))
    assert_same(state, {k: minidl.from_numpy(theirs[k]) for k in state})  # the library sorts the names
    other = tmp_path / "theirs.safetensors"
    st_numpy.save_file(state, str(other), metadata={"format": "np"})
    loaded = minidl.load(other)
    assert_same(state, {k: loaded[k] for k in state})


# ---------------------------------------------------------------------------------------------- PyTorch


def torch_cnn():
    torch.manual_seed(0)
    model = small_cnn(torch)
    model.train()
    with torch.no_grad():
        model(torch.randn(4, 3, 8, 8))
    return model.eval()


def assert_same_outputs(torch_model, minidl_model) -> None:
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
    with torch.no_grad():
        expected = torch_model(torch.from_numpy(x)).numpy()
    with minidl.no_grad():
        got = minidl_model.eval()(minidl.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("source", ["state_dict", "module", "pth"])
def test_from_torch_loads_into_the_same_architecture(tmp_path, source):
    torch_model = torch_cnn()
    if source == "state_dict":
        arg = torch_model.state_dict()
    elif source == "module":
        arg = torch_model
    else:
        arg = tmp_path / "model.pth"
        torch.save(torch_model.state_dict(), arg)
    state = mio.from_torch(arg)
    assert type(state) is OrderedDict and list(state) == list(torch_model.state_dict())
    assert all(type(t) is minidl.Tensor and not t.requires_grad for t in state.values())
    model = small_cnn(minidl)
    model.load_state_dict(state)
    assert_same_outputs(torch_model, model)


def test_from_torch_copies_and_widens_half_precision():
    source = {"h": torch.tensor([0.5, 2.0], dtype=torch.float16), "b": torch.tensor([1.5], dtype=torch.bfloat16)}
    state = mio.from_torch(source)
    assert state["h"].dtype == minidl.float32 and state["b"].dtype == minidl.float32
    linear = torch.nn.Linear(2, 2)
    weights = mio.from_torch(linear)["weight"]
    with torch.no_grad():
        linear.weight.add_(1)
    assert not np.array_equal(weights.numpy(), linear.weight.detach().numpy())


def test_to_torch_loads_into_a_torch_model():
    model = trained_cnn()
    torch_model = small_cnn(torch)
    state = mio.to_torch(model.state_dict())
    assert all(isinstance(t, torch.Tensor) for t in state.values())
    torch_model.load_state_dict(state)
    assert_same_outputs(torch_model.eval(), model)


def test_from_torch_refuses_a_whole_checkpoint(tmp_path):
    path = tmp_path / "ckpt.pt"
    torch.save({"model": torch.nn.Linear(1, 1).state_dict(), "epoch": 3}, path)
    with pytest.raises(TypeError, match=r"entry 'model' is of type OrderedDict.*\['model'\]"):
        mio.from_torch(path)


def test_torch_is_imported_only_when_asked(tmp_path, monkeypatch):
    path = tmp_path / "w.safetensors"
    code = f"import sys, minidl; minidl.save({{'a': minidl.ones(1)}}, {str(path)!r}); minidl.load({str(path)!r}); "
    code += "assert 'torch' not in sys.modules, 'minidl imported torch'"
    subprocess.run([sys.executable, "-c", code], check=True)
    monkeypatch.setitem(sys.modules, "torch", None)  # what an environment without PyTorch looks like
    with pytest.raises(ImportError, match="pip install torch"):
        mio.from_torch({})
    with pytest.raises(ImportError, match="pip install torch"):
        mio.to_torch({})


# ------------------------------------------------------------------------------------------- clear errors


@pytest.mark.parametrize("name", ["model.pth", "model.pt", "weights.txt", "weights"])
def test_unsupported_extension(tmp_path, name):
    suffix = re.escape(Path(name).suffix or "(none)")
    for call in (lambda p: minidl.save({"a": np.ones(1)}, p), minidl.load):
        with pytest.raises(ValueError, match=rf"extension '{suffix}'.*\.npz, \.safetensors.*from_torch"):
            call(tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_missing_file(tmp_path, ext):
    path = tmp_path / f"nothing{ext}"
    with pytest.raises(FileNotFoundError, match="nothing"):
        minidl.load(path)


@pytest.mark.parametrize("checkpoint", [False, True])
def test_every_truncation_is_a_clear_error(tmp_path, ext, checkpoint):
    obj = {"w": np.arange(6, dtype=np.float32), "b": np.ones(2)}
    if checkpoint:
        obj = {"model": obj, "epoch": 1}
    path = tmp_path / f"w{ext}"
    minidl.save(obj, path)
    raw = path.read_bytes()
    for size in range(len(raw)):
        path.write_bytes(raw[:size])
        with pytest.raises(ValueError, match=str(path)):
            minidl.load(path)


def test_corrupt_npz_files(tmp_path):
    path = tmp_path / "bad.npz"
    path.write_bytes(b"this is not a zip archive at all")
    with pytest.raises(ValueError, match=r"bad\.npz: not a valid \.npz file \(not a zip archive"):
        minidl.load(path)

    minidl.save({"w": np.arange(100.0)}, path)
    raw = bytearray(path.read_bytes())
    raw[200] ^= 0xFF  # a flipped bit in the array data
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"entry 'w' is corrupt.*CRC"):
        minidl.load(path)

    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notes.txt", "hello")
    with pytest.raises(ValueError, match=r"entry 'notes.txt' is not a .npy array"):
        minidl.load(path)

    np.savez(path, x=np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match=r"entry 'x' is corrupt: it holds Python objects, which only pickle"):
        minidl.load(path)

    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x.npy", b"\x93NUMPY garbage")
    with pytest.raises(ValueError, match=r"entry 'x' is corrupt"):
        minidl.load(path)

    huge = io.BytesIO()  # a header announcing 8 PB, followed by 8 bytes: refused before any allocation
    np.lib.format.write_array_header_1_0(huge, {"descr": "<f8", "fortran_order": False, "shape": (10**15,)})
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x.npy", huge.getvalue() + bytes(8))
    with pytest.raises(ValueError, match=r"entry 'x' is corrupt: the header announces 8000000000000000 bytes"):
        minidl.load(path)


BOMB = 100 << 20  # what the decompression bombs below inflate to


def npz_bomb(path: Path, announced_shape: tuple, zip_lies: bool = False) -> None:
    """An .npz whose one deflated entry is a .npy header announcing ``announced_shape`` (float64) followed by
    ``BOMB`` zero bytes (about 100 KB compressed). ``zip_lies``: the zip records the entry size the header makes
    (not the true one)."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": announced_shape})
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("x.npy", "w") as member:
            member.write(header.getvalue())
            zeros = bytes(1 << 20)
            for _ in range(BOMB >> 20):
                member.write(zeros)
    if zip_lies:  # the sizes in the local header (offset 22) and the central directory (offset 24)
        entry_size = len(header.getvalue()) + 8 * math.prod(announced_shape)
        raw = bytearray(path.read_bytes())
        raw[22:26] = struct.pack("<I", entry_size)
        central = raw.rindex(b"PK\x01\x02")
        raw[central + 24 : central + 28] = struct.pack("<I", entry_size)
        path.write_bytes(bytes(raw))


@pytest.mark.parametrize(
    ("zip_lies", "message"),
    [
        (False, rf"entry 'x' is corrupt: the header announces 8 bytes of data, the entry holds {BOMB}"),
        (True, r"entry 'x' is corrupt: .*CRC"),  # only the announced size is inflated: its checksum fails
    ],
)
def test_a_decompression_bomb_in_an_npz_is_refused_within_little_memory(tmp_path, zip_lies, message):
    path = tmp_path / "bomb.npz"
    npz_bomb(path, (1,), zip_lies)
    assert path.stat().st_size < BOMB // 500
    with traced_peak() as peak, pytest.raises(ValueError, match=message) as info:
        minidl.load(path)
    assert str(path) in str(info.value)
    assert peak[0] < BOMB // 20, f"loading took {peak[0]} bytes"


def test_a_large_deflated_npz_entry_takes_about_its_size(tmp_path):
    path = tmp_path / "big.npz"
    npz_bomb(path, (BOMB // 8,))  # an honest one: the header announces what the entry holds
    with traced_peak() as peak:
        loaded = minidl.load(path)
    assert loaded["x"].shape == (BOMB // 8,) and not loaded["x"].numpy().any()
    assert peak[0] < BOMB * 1.2, f"loading took {peak[0]} bytes for {BOMB}"


ENTRY = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", r"0 bytes, fewer than the 8"),
        (struct.pack("<Q", 10**9) + b"{}", r"bad safetensors header length 1000000000"),
        (struct.pack("<Q", 9) + b"{not json", r"invalid JSON in the safetensors header"),
        (struct.pack("<Q", 2) + b"\xff\xfe", r"invalid JSON"),
        (safetensors_bytes([1, 2], b""), r"header should be a JSON object, got list"),
        (b'\x15\x00\x00\x00\x00\x00\x00\x00{"a":null,"a":null}  ', r"duplicate name 'a'"),
        (safetensors_bytes({"a": {**ENTRY, "dtype": "F8_E4M3"}}, bytes(8)), r"'a': unknown dtype 'F8_E4M3'"),
        (safetensors_bytes({"a": ENTRY}, bytes(4)), r"'a': data_offsets \[0, 8\] go past the end of the file"),
        (safetensors_bytes({"a": {**ENTRY, "shape": [3]}}, bytes(8)), r"hold 8 bytes; shape \[3\] of F32 needs 12"),
        (safetensors_bytes({"a": {**ENTRY, "shape": [-2]}}, bytes(8)), r"shape should be a list of non-negative"),
        (safetensors_bytes({"a": {**ENTRY, "data_offsets": [8, 0]}}, bytes(8)), r"not 0 <= begin <= end"),
        (safetensors_bytes({"a": {**ENTRY, "data_offsets": [0]}}, bytes(8)), r"data_offsets should be \[begin, end\]"),
        (safetensors_bytes({"a": {"dtype": "F32"}}, bytes(8)), r"needs 'dtype', 'shape' and 'data_offsets'"),
        (safetensors_bytes({"__metadata__": {"n": 1}}, b""), r"__metadata__ should map str to str"),
        (safetensors_bytes({"__metadata__": {"__minidl__": "{"}}, b""), r"checkpoint structure: not JSON"),
    ],
)
def test_corrupt_safetensors_files(tmp_path, content, message):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as info:
        minidl.load(path)
    assert str(path) in str(info.value)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    "template",
    [
        "{}",  # the header itself
        '{{"__metadata__": {}}}',
        '{{"__metadata__": {{"__minidl__": {}}}}}',
        '{{"a": {}}}',
        '{{"a": {{"dtype": "F32", "shape": {}, "data_offsets": [0, 0]}}}}',
    ],
)
def test_deeply_nested_safetensors_headers_are_a_clear_error(tmp_path, template):
    """Deep nesting is a ValueError naming the file, at every depth around where Python's JSON decoder gives up
    (it raises RecursionError there) and far beyond it."""
    path = tmp_path / "deep.safetensors"
    limit = sys.getrecursionlimit()
    for depth in [*range(limit - 50, limit + 5), 10**5]:
        text = template.format(nested(depth)).encode()
        path.write_bytes(struct.pack("<Q", len(text)) + text)
        with pytest.raises(ValueError) as info:
            minidl.load(path)
        assert str(path) in str(info.value)
    assert "nested too deeply" in str(info.value)


def entry(dtype: str, count: int, begin: int) -> dict:
    return {"dtype": dtype, "shape": [count], "data_offsets": [begin, begin + count * {"F32": 4, "U8": 1}[dtype]]}


@pytest.mark.parametrize(
    ("header", "data_size", "message"),
    [
        (
            {"a": entry("F32", 2, 0), "b": entry("F32", 2, 4)},
            12,
            r"tensors 'a' \(data_offsets \[0, 8\]\) and 'b' \(data_offsets \[4, 12\]\) overlap",
        ),
        ({"a": entry("U8", 4, 0), "b": entry("U8", 4, 0)}, 4, r"tensors 'a' .* and 'b' .* overlap"),
        ({"a": entry("U8", 4, 0), "e": entry("U8", 0, 2)}, 4, r"tensors 'a' .* and 'e' \(data_offsets \[2, 2\]\)"),
        (
            {"b": entry("U8", 4, 6), "a": entry("U8", 4, 0)},
            10,
            r"a gap of 2 bytes between the end of tensor 'a' \(offset 4\) and tensor 'b' \(data_offsets \[6, 10\]\)",
        ),
        (
            {"a": entry("U8", 4, 2)},
            6,
            r"a gap of 2 bytes between the start of the data section \(offset 0\) and tensor 'a'",
        ),
        (
            {"a": entry("U8", 4, 0)},
            7,
            r"3 bytes after the tensors' data: .* holds 7 bytes but the last tensor 'a' ends at 4",
        ),
        ({"__metadata__": {"k": "v"}}, 3, r"3 bytes after .* but the header lists no tensors"),
    ],
)
def test_safetensors_data_not_covered_exactly_once_is_refused_as_the_library_does(tmp_path, header, data_size, message):
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    path = tmp_path / "bad.safetensors"
    path.write_bytes(safetensors_bytes(header, bytes(range(data_size))))
    with pytest.raises(ValueError, match=message) as info:
        minidl.load(path)
    assert str(path) in str(info.value)
    with pytest.raises(SafetensorError, match="invalid offset|not fully covered"):
        load_file(str(path))


@pytest.mark.parametrize(
    "header",
    [
        {"b": entry("U8", 4, 4), "a": entry("U8", 4, 0)},  # any order in the header
        {"z": entry("F32", 0, 0), "a": entry("U8", 4, 0), "y": entry("U8", 0, 4)},  # empty ones at either end
        {"a": entry("U8", 2, 0), "z": entry("F32", 0, 2), "b": entry("U8", 2, 2)},  # ... and between two
        {"z": entry("U8", 0, 0), "y": entry("U8", 0, 0)},  # nothing but empty ones
        {},
    ],
)
def test_safetensors_layouts_both_readers_accept(tmp_path, header):
    from safetensors.numpy import load_file

    path = tmp_path / "ok.safetensors"
    size = max((e["data_offsets"][1] for e in header.values()), default=0)
    path.write_bytes(safetensors_bytes(header, bytes(range(size))))
    ours, theirs = minidl.load(path), load_file(str(path))
    assert list(ours) == list(header) and sorted(theirs) == sorted(header)
    for name, array in theirs.items():
        assert np.array_equal(ours[name].numpy(), array)


@pytest.mark.parametrize("checkpoint", [False, True])
def test_files_minidl_writes_are_read_by_both(tmp_path, checkpoint):
    from safetensors.numpy import load_file

    state = {"w": np.ones((2, 3), np.float32), "e": np.zeros((0, 4), np.float32), "i": np.arange(3, dtype=np.int8),
             "f": np.zeros((0,)), "d": np.arange(2.0), "n": np.zeros((3, 0), np.int8)}  # fmt: skip
    obj = {"model": state, "step": 7} if checkpoint else state
    path = tmp_path / "w.safetensors"
    minidl.save(obj, path)
    theirs = load_file(str(path))
    ours = minidl.load(path)
    assert_same(obj, ours if checkpoint else dict(ours))
    prefix = "model/" if checkpoint else ""
    for name, array in state.items():
        assert np.array_equal(theirs[prefix + name], array) and theirs[prefix + name].shape == array.shape


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"format": "minidl", "version": 99, "root": 1}, r"format version 99"),
        ({"root": 1}, r"'format': 'minidl'"),
        ({"format": "minidl", "version": 1, "root": {"$tensor": "gone"}}, r"refers to tensor 'gone'"),
        ({"format": "minidl", "version": 1, "root": {"$code": "rm -rf"}}, r"unexpected value"),
        ({"format": "minidl", "version": 1, "root": {"$dict": [[[1], 2]]}}, r"bad dict key"),
        ({"format": "minidl", "version": 1, "root": {"$dict": [1]}}, r"list of \[key, value\] pairs"),
        ({"format": "minidl", "version": 1, "root": {"$scalar": "object", "value": 1}}, r"bad NumPy scalar"),
        ({"format": "minidl", "version": 1, "root": {"$scalar": "int8", "value": 1000}}, r"bad NumPy scalar"),
        ({"format": "minidl", "version": 1, "root": {"$scalar": "float32"}}, r"bad NumPy scalar"),
        ('{"format": "minidl", "version": 1, "root": ' + "[" * 10**5, r"nested too deeply"),
        ({"format": "minidl", "version": 1, "root": {"$tuple": [{"$float": "1e999"}]}}, r"unexpected value"),
    ],
)
def test_corrupt_checkpoint_structure(tmp_path, ext, document, message):
    path = tmp_path / f"c{ext}"
    text = document if isinstance(document, str) else json.dumps(document)
    if ext == ".npz":
        with zipfile.ZipFile(path, "w") as archive, archive.open("__minidl__.npy", "w") as member:
            np.lib.format.write_array(member, np.frombuffer(text.encode(), np.uint8))
    else:
        path.write_bytes(safetensors_bytes({"__metadata__": {"__minidl__": text}}, b""))
    with pytest.raises(ValueError, match=message):
        minidl.load(path)


def test_wrong_shape_in_load_state_dict_names_key_and_shapes(tmp_path, ext):
    state = minidl.nn.Linear(3, 2).state_dict()
    state["weight"] = minidl.zeros(4, 3)
    minidl.save(state, tmp_path / f"w{ext}")
    with pytest.raises(RuntimeError, match=r"size mismatch for weight: .*shape \(4, 3\).*shape .*\(2, 3\)"):
        minidl.nn.Linear(3, 2).load_state_dict(minidl.load(tmp_path / f"w{ext}"))


# ------------------------------------------------------------------------------------------- atomic writes


def fail_on_second_call(monkeypatch, name: str, error: type[BaseException]):
    real = getattr(mio, name)
    calls = []

    def flaky(*args):
        calls.append(1)
        if len(calls) == 2:
            raise error("disk full")
        real(*args)

    monkeypatch.setattr(mio, name, flaky)


@pytest.mark.parametrize("error", [OSError, KeyboardInterrupt])
@pytest.mark.parametrize("existing", [True, False])
def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch, ext, error, existing):
    path = tmp_path / f"w{ext}"
    if existing:
        minidl.save({"old": np.ones(3)}, path)
    before = path.read_bytes() if existing else None
    fail_on_second_call(monkeypatch, "_write_npy" if ext == ".npz" else "_write_raw", error)
    with pytest.raises(error, match="disk full"):
        minidl.save({"a": np.zeros(1000), "b": np.zeros(1000), "c": np.zeros(3)}, path)
    assert [p.name for p in tmp_path.iterdir()] == ([path.name] if existing else [])
    if existing:
        assert path.read_bytes() == before
        assert list(minidl.load(path)) == ["old"]


def test_a_failed_rename_leaves_no_temporary(tmp_path, monkeypatch, ext):
    def refuse(src, dst):
        raise PermissionError("read-only target")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(PermissionError):
        minidl.save({"a": np.ones(1)}, tmp_path / f"w{ext}")
    assert list(tmp_path.iterdir()) == []


def test_saved_files_get_the_usual_permissions(tmp_path, ext):
    umask = os.umask(0o022)
    os.umask(umask)
    path = tmp_path / f"w{ext}"
    minidl.save({"a": np.ones(1)}, path)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    minidl.save({"a": np.zeros(1)}, str(path))  # overwriting in place, a str path
    assert np.array_equal(minidl.load(str(path))["a"].numpy(), [0.0])


# ---------------------------------------------------------------------------------- stale temporary files


def test_a_save_removes_stale_temporaries_of_its_file_only(tmp_path, ext):
    path = tmp_path / f"w{ext}"
    names = stale_and_live_names(path.name, ".tmp")
    other = stale_and_live_names(f"other{ext}", ".tmp")  # another file's: left for a save of that file
    for name in [*names, *other]:
        (tmp_path / name).write_bytes(b"half a file")
    minidl.save({"a": np.ones(2)}, path)
    expected = {path.name} | {n for n, gone in names.items() if not gone} | set(other)
    assert {p.name for p in tmp_path.iterdir()} == expected


KILLED_SAVE = """
import sys, time
import numpy as np
import minidl.io as mio

real = mio._write_npy

def write_then_hang(archive, name, array):
    real(archive, name, array)
    print("writing", flush=True)
    time.sleep(600)

mio._write_npy = write_then_hang
mio.save({"w": np.ones(1000)}, sys.argv[1])
"""


@pytest.mark.skipif(sys.platform == "win32", reason="kill -9 is POSIX")
def test_the_temporary_of_a_save_killed_with_sigkill_goes_at_the_next_save(tmp_path):
    path = tmp_path / "w.npz"
    with subprocess.Popen([sys.executable, "-c", KILLED_SAVE, str(path)], stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout.readline() == "writing\n"
        finally:
            proc.kill()  # SIGKILL: no handler, no cleanup
    (left,) = [p.name for p in tmp_path.iterdir()]
    assert tempfiles.parse(left, ".tmp")[::2] == ("w.npz", proc.pid)
    minidl.save({"w": np.zeros(3)}, path)
    assert [p.name for p in tmp_path.iterdir()] == ["w.npz"]
