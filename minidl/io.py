"""Saving and loading weights and checkpoints: ``minidl.save(obj, path)`` and ``minidl.load(path)``.

The file extension picks the format:

- ``.npz``: a zip archive of ``.npy`` arrays, one per tensor, readable by ``numpy.load``.
- ``.safetensors``: the safetensors format (an 8-byte little-endian header length, a JSON header giving each
  tensor's ``dtype``, ``shape`` and ``data_offsets``, then the raw little-endian bytes), readable by the
  ``safetensors`` library and the tools that read Hugging Face weights.

What can be saved:

- A flat state dict (str -> Tensor or NumPy array, such as ``model.state_dict()``) is stored plainly: one entry
  per key, under that key, in order. It loads back as an ``OrderedDict`` of Tensors in file order.
- A checkpoint: any nesting of dict / OrderedDict / Counter (keys: str, int, float, bool, None or tuples of them),
  list, tuple, Tensor, NumPy array, NumPy scalar, int, float, bool, None and str, for instance
  ``{"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "epoch": 3}``.
  Tensors are stored under generated names (their path in the structure: ``"optimizer/state/0/exp_avg"``) and the
  structure as JSON (npz: the extra entry ``__minidl__``, UTF-8 bytes; safetensors: ``__metadata__["__minidl__"]``).
  It loads back with the same containers, keys, key types and values (arrays as Tensors).

Anything else (a function, a Module, an arbitrary object) is a TypeError naming where it sits in ``obj``: nothing
is ever pickled, so loading an untrusted file cannot run code.

Loaded arrays are minidl Tensors on the CPU with ``requires_grad=False``, in the saved dtype, except for the dtypes
minidl has no tensors of: float16 and bfloat16 become float32 (exactly: every such value is a float32), uint16 and
uint32 become int64.

PyTorch ``.pth``/``.pt`` files are pickles: read them with ``from_torch`` (``torch.load(..., weights_only=True)``);
``to_torch`` turns a state dict into PyTorch tensors. PyTorch is imported only by these two functions.
"""

from __future__ import annotations

import json
import math
import os
import struct
import types
import zipfile
import zlib
from collections import Counter, OrderedDict
from pathlib import Path
from typing import Any, BinaryIO, Mapping, NamedTuple

import numpy as np

from minidl import dtypes, tempfiles
from minidl.backend import get_backend
from minidl.tensor import Tensor

__all__ = ["from_torch", "load", "save", "to_torch"]

PathLike = str | os.PathLike

FORMATS = (".npz", ".safetensors")
_STRUCTURE_KEY = "__minidl__"  # npz entry / safetensors metadata key holding a checkpoint's structure
_RESERVED = {_STRUCTURE_KEY, "__metadata__"}
_VERSION = 1
_CHUNK = 1 << 20  # bytes read at a time from a compressed .npz entry

# safetensors dtype names and the little-endian NumPy dtype of their bytes (BF16 has no NumPy dtype: its bytes are
# read as uint16 and widened to float32).
_ST_DTYPES = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U32": np.dtype("<u4"),
    "U16": np.dtype("<u2"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
_ST_NAMES = {(dt.kind, dt.itemsize): name for name, dt in _ST_DTYPES.items() if name != "BF16"}
_SAVABLE = ", ".join(_ST_DTYPES[name].name for name in _ST_NAMES.values())

# Loaded dtypes minidl has no tensors of, and what they become (without loss).
_WIDEN = {np.dtype(np.float16): dtypes.float32, np.dtype(np.uint16): dtypes.int64, np.dtype(np.uint32): dtypes.int64}

_DICT_TAGS = {dict: "$dict", OrderedDict: "$odict", Counter: "$counter"}
_DICT_TYPES = {tag: kind for kind, tag in _DICT_TAGS.items()}


# ------------------------------------------------------------------------------------------------- public API


def save(obj: Any, path: PathLike) -> None:
    """Write ``obj`` (a state dict or a nested checkpoint, see the module docstring) to ``path``, in the format
    its extension names (``.npz`` or ``.safetensors``).

    The file is written to a temporary file in the same folder, then renamed over ``path``: an interrupted save
    never leaves a half-written file under that name. Raises TypeError, naming the place in ``obj``, for values
    that cannot be stored without pickle (functions, modules, arbitrary objects)."""
    fmt = _format_of(path, "save")
    tensors, structure = _plan(obj)
    writer = _write_npz if fmt == ".npz" else _write_safetensors
    tempfiles.write_atomically(Path(path), lambda f: writer(f, tensors, structure))


def load(path: PathLike, map_location: Any = None) -> Any:
    """Read a file written by ``save`` (or any ``.npz`` of plain arrays or ``.safetensors`` file).

    Returns an ``OrderedDict`` of Tensors in file order for a flat state dict, else the saved structure with its
    arrays as Tensors. Files hold host arrays (``save`` copies tensors of any device to the host), so tensors load
    on the CPU, or on ``map_location`` ("cuda", a ``minidl.device``) when given. A missing file is a
    FileNotFoundError; a corrupt or truncated one a ValueError saying what is wrong."""
    fmt = _format_of(path, "load")
    target = None if map_location is None else get_backend(map_location)
    arrays, structure = (_read_npz if fmt == ".npz" else _read_safetensors)(path)
    tensors = OrderedDict((name, _to_tensor(array, path, name)) for name, array in arrays.items())
    if target is not None and target is not get_backend("cpu"):
        tensors = OrderedDict((name, Tensor._make(target.from_numpy(t.data), target)) for name, t in tensors.items())
    if structure is None:
        return tensors
    return _Decoder(tensors, path).decode_document(structure)


def from_torch(source: Any) -> OrderedDict[str, Tensor]:
    """PyTorch weights as a minidl state dict (an ``OrderedDict`` of Tensors, same keys and order), ready for
    ``model.load_state_dict``.

    source: a path to a ``.pth``/``.pt`` file holding a state dict (read with ``torch.load(path,
    map_location="cpu", weights_only=True)``, which refuses arbitrary pickled objects), a PyTorch state dict, or a
    ``torch.nn.Module``. float16 and bfloat16 become float32. Needs PyTorch installed."""
    torch = _import_torch("from_torch")
    if isinstance(source, (str, os.PathLike)):
        state = torch.load(os.fspath(source), map_location="cpu", weights_only=True)
    elif isinstance(source, torch.nn.Module):
        state = source.state_dict()
    else:
        state = source
    if not isinstance(state, Mapping):
        raise TypeError(f"from_torch: expected a state dict (str -> torch.Tensor), got {type(state).__name__}")
    out: OrderedDict[str, Tensor] = OrderedDict()
    for key, value in state.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise TypeError(
                f"from_torch: expected a state dict (str -> torch.Tensor), but entry {key!r} is of type "
                f"{type(value).__name__}; for a checkpoint holding several things pass its state dict, e.g. "
                f"from_torch(torch.load(path, weights_only=True)[{key!r}])"
            )
        out[key] = _tensor_from_torch(torch, key, value)
    return out


def to_torch(state_dict: Mapping[str, Any]) -> OrderedDict[str, Any]:
    """A state dict (str -> minidl Tensor or NumPy array) as an ``OrderedDict`` of PyTorch CPU tensors (copies),
    for ``torch_model.load_state_dict``. Needs PyTorch installed."""
    torch = _import_torch("to_torch")
    out: OrderedDict[str, Any] = OrderedDict()
    for key, value in state_dict.items():
        if isinstance(value, Tensor):
            value = value.detach().numpy()
        if not isinstance(value, np.ndarray):
            raise TypeError(f"to_torch: entry {key!r} is a {type(value).__name__}, not a Tensor or NumPy array")
        out[key] = torch.from_numpy(np.array(value, dtype=value.dtype.newbyteorder("="), copy=True))
    return out


# ---------------------------------------------------------------------------------------------- shared steps


def _format_of(path: PathLike, action: str) -> str:
    """The format (``".npz"`` or ``".safetensors"``) that ``path``'s extension names, or a ValueError."""
    suffix = Path(path).suffix.lower()
    if suffix in FORMATS:
        return suffix
    raise ValueError(
        f"minidl.{action}: unsupported file extension {suffix or '(none)'!r} in {os.fspath(path)!r}; supported: "
        f"{', '.join(FORMATS)} (PyTorch .pth/.pt files are read with minidl.io.from_torch)"
    )


def _to_tensor(array: np.ndarray, path: PathLike, name: str) -> Tensor:
    """A loaded array as a CPU Tensor in native byte order, float16 and uint16/uint32 widened (see ``_WIDEN``)."""
    native = array.dtype.newbyteorder("=")
    target = _WIDEN.get(native, native)
    if target not in dtypes.SUPPORTED:
        raise ValueError(f"{os.fspath(path)}: array {name!r} has dtype {array.dtype}, which minidl cannot load")
    return Tensor._make(array.astype(target, order="C", copy=False), get_backend("cpu"))


# ----------------------------------------------------------------------------------------- saving: the plan


def _plan(obj: Any) -> tuple[OrderedDict[str, np.ndarray], str | None]:
    """The arrays to write (name -> little-endian C-contiguous array) and, unless ``obj`` is a flat state dict,
    the JSON text of its structure."""
    if _is_flat(obj):
        return OrderedDict((key, _savable_array(value, (key,))) for key, value in obj.items()), None
    encoder = _Encoder()
    root = encoder.encode(obj, ())
    document = {"format": "minidl", "version": _VERSION, "root": root}
    return encoder.tensors, json.dumps(document, separators=(",", ":"), allow_nan=False)


def _is_flat(obj: Any) -> bool:
    """Whether ``obj`` is a str -> array mapping that can be stored plainly (no reserved names)."""
    return isinstance(obj, dict) and all(
        type(key) is str and key not in _RESERVED and isinstance(value, (Tensor, np.ndarray))
        for key, value in obj.items()
    )


def _savable_array(value: Tensor | np.ndarray, path: tuple) -> np.ndarray:
    """``value``'s data as a little-endian C-contiguous NumPy array; TypeError for a dtype the formats lack."""
    array = value.detach().numpy() if isinstance(value, Tensor) else value
    if (array.dtype.kind, array.dtype.itemsize) not in _ST_NAMES:
        raise TypeError(
            f"minidl.save: cannot save {_where(path)}: dtype {array.dtype} is not supported (supported: {_SAVABLE})"
        )
    return array.astype(array.dtype.newbyteorder("<"), order="C", copy=False)


def _where(path: tuple) -> str:
    """A readable place in the saved object: ``obj['optimizer']['state'][0]``."""
    return "obj" + "".join(f"[{key!r}]" for key in path)


def _is_key(key: Any) -> bool:
    """Whether a dict key round-trips through JSON: a str, int, float, bool, None, or a tuple of those."""
    return key is None or type(key) in (str, int, float, bool) or (type(key) is tuple and all(map(_is_key, key)))


class _Encoder:
    """Turns a nested structure into JSON-ready values, collecting its arrays under generated names.

    Every JSON object in the result is a tag, so plain JSON values never need escaping: ``{"$tensor": name}``,
    ``{"$float": "nan"}`` (non-finite floats, which JSON lacks), ``{"$scalar": dtype, "value": v}`` (NumPy
    scalars), ``{"$tuple": [...]}`` and ``{"$dict" | "$odict" | "$counter": [[key, value], ...]}`` (dicts as
    pairs, so keys keep their type and order)."""

    def __init__(self) -> None:
        self.tensors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._active: set[int] = set()  # containers being encoded, to catch one that contains itself

    def encode(self, value: Any, path: tuple) -> Any:
        kind = type(value)
        if value is None or kind in (bool, int, str):
            return value
        if kind is float:
            return value if math.isfinite(value) else {"$float": repr(value)}
        if isinstance(value, (Tensor, np.ndarray)):
            return {"$tensor": self._add_tensor(value, path)}
        if isinstance(value, np.generic):
            _savable_array(np.asarray(value), path)  # checks the dtype
            return {"$scalar": value.dtype.name, "value": self.encode(value.item(), path)}
        if kind in (list, tuple) or kind in _DICT_TAGS:
            return self._encode_container(value, path)
        raise TypeError(_unsupported(value, path))

    def _encode_container(self, value: Any, path: tuple) -> Any:
        if id(value) in self._active:
            raise ValueError(f"minidl.save: {_where(path)} contains itself")
        self._active.add(id(value))
        try:
            if type(value) is list:
                return [self.encode(v, (*path, i)) for i, v in enumerate(value)]
            if type(value) is tuple:
                return {"$tuple": [self.encode(v, (*path, i)) for i, v in enumerate(value)]}
            pairs = [[self._encode_key(k, path), self.encode(v, (*path, k))] for k, v in value.items()]
            return {_DICT_TAGS[type(value)]: pairs}
        finally:
            self._active.discard(id(value))

    def _encode_key(self, key: Any, path: tuple) -> Any:
        if not _is_key(key):
            raise TypeError(
                f"minidl.save: {_where(path)} has a key of type {type(key).__name__} ({key!r}); dict keys must be "
                "str, int, float, bool, None or tuples of them"
            )
        return self.encode(key, path)

    def _add_tensor(self, value: Tensor | np.ndarray, path: tuple) -> str:
        """Store ``value`` under a readable unique name made of its path ("model/conv.weight")."""
        base = "/".join(str(part) for part in path) or "tensor"
        name, n = base, 0
        while name in self.tensors or name in _RESERVED:
            n += 1
            name = f"{base}~{n}"
        self.tensors[name] = _savable_array(value, path)
        return name


def _unsupported(value: Any, path: tuple) -> str:
    kind = type(value)
    if isinstance(value, (types.FunctionType, types.BuiltinFunctionType, types.MethodType, type)):
        hint = "functions and classes cannot be saved; leave them out of the checkpoint"
    elif hasattr(value, "state_dict"):
        hint = "save its .state_dict() instead"
    else:
        hint = (
            "only Tensors, NumPy arrays and scalars, dict, OrderedDict, Counter, list, tuple, int, float, bool, None "
            "and str are saved (never pickle)"
        )
    return f"minidl.save: cannot save {_where(path)}, a {kind.__module__}.{kind.__qualname__}: {hint}"


# ----------------------------------------------------------------------------------------------- the writers


def _write_npz(f: BinaryIO, tensors: Mapping[str, np.ndarray], structure: str | None) -> None:
    """A zip of ``name.npy`` members as ``numpy.savez`` writes it (uncompressed), plus the structure entry."""
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in tensors.items():
            _write_npy(archive, name, array)
        if structure is not None:
            _write_npy(archive, _STRUCTURE_KEY, np.frombuffer(structure.encode("utf-8"), dtype=np.uint8))


def _write_npy(archive: zipfile.ZipFile, name: str, array: np.ndarray) -> None:
    with archive.open(name + ".npy", "w", force_zip64=True) as member:
        np.lib.format.write_array(member, array, allow_pickle=False)


def _write_safetensors(f: BinaryIO, tensors: Mapping[str, np.ndarray], structure: str | None) -> None:
    """The header (entries in the order of ``tensors``), padded with spaces so the data starts 8-byte aligned,
    then the arrays' bytes with no gaps (readers refuse gaps), widest dtype first so that every array is aligned
    for its dtype (as the reference writer does)."""
    header: dict[str, Any] = {}
    if structure is not None:
        header["__metadata__"] = {_STRUCTURE_KEY: structure}
    header.update((name, {}) for name in tensors)
    layout = sorted(tensors, key=lambda name: -tensors[name].dtype.itemsize)  # stable: ties keep their order
    offset = 0
    for name in layout:
        array = tensors[name]
        dtype = _ST_NAMES[array.dtype.kind, array.dtype.itemsize]
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-(8 + len(text)) % 8)
    f.write(struct.pack("<Q", len(text)))
    f.write(text)
    for name in layout:
        _write_raw(f, tensors[name])


def _write_raw(f: BinaryIO, array: np.ndarray) -> None:
    f.write(array.reshape(-1).view(np.uint8).data)


# ----------------------------------------------------------------------------------------------- the readers


def _read_npz(path: PathLike) -> tuple[OrderedDict[str, np.ndarray], str | None]:
    """The arrays of an ``.npz`` in archive order, and the structure JSON when the file holds a checkpoint."""
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as err:
        raise ValueError(
            f"{os.fspath(path)}: not a valid .npz file (not a zip archive, or a truncated one): {err}"
        ) from None
    arrays: OrderedDict[str, np.ndarray] = OrderedDict()
    with archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                raise ValueError(f"{os.fspath(path)}: entry {info.filename!r} is not a .npy array")
            name = info.filename[: -len(".npy")]
            try:
                with archive.open(info) as member:  # checks the CRC once the entry is read to its end
                    arrays[name] = _read_npy(member, info.file_size)
            except (ValueError, EOFError, OSError, zipfile.BadZipFile, zlib.error, NotImplementedError) as err:
                raise ValueError(f"{os.fspath(path)}: entry {name!r} is corrupt: {err}") from None
    structure = arrays.pop(_STRUCTURE_KEY, None)
    return arrays, None if structure is None else _structure_text(structure, path)


def _read_npy(stream: BinaryIO, size: int) -> np.ndarray:
    """The array in a ``.npy`` stream (a zip entry) that announces ``size`` bytes in all, refusing object arrays
    (they need pickle).

    The header is read first and the data size it announces checked against ``size`` before anything is
    allocated; then at most that many bytes are read, in chunks of ``_CHUNK``. Memory stays within the announced
    size whatever the entry inflates to (``ZipFile.read`` would inflate all of it first, and
    ``np.lib.format.read_array`` would allocate whatever the header says)."""
    version = np.lib.format.read_magic(stream)
    if version not in ((1, 0), (2, 0)):
        raise ValueError(f"unsupported .npy format version {version}")
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, fortran_order, dtype = read_header(stream)
    if dtype.hasobject:
        raise ValueError("it holds Python objects, which only pickle could load")
    nbytes, available = math.prod(shape) * dtype.itemsize, size - stream.tell()
    if nbytes != available:
        raise ValueError(f"the header announces {nbytes} bytes of data, the entry holds {available}")
    data = np.empty(nbytes, dtype=np.uint8)
    found = read_into(stream, memoryview(data))
    if found != nbytes:
        raise ValueError(f"the entry ended after {found} of the {nbytes} bytes of data its header announces")
    if stream.read(1):
        raise ValueError(f"the entry holds more than the {nbytes} bytes of data its header announces")
    return data.view(dtype).reshape(shape, order="F" if fortran_order else "C")


def read_into(stream: BinaryIO, buffer: memoryview) -> int:
    """Fill ``buffer`` from ``stream`` ``_CHUNK`` bytes at a time (so a decompressing stream never inflates more
    at once); returns the bytes read, fewer than ``len(buffer)`` only at the end of the stream. The one bounded
    reader of every compressed file minidl reads (``.npz`` entries here, MNIST's ``.gz`` files)."""
    done = 0
    while done < len(buffer):
        n = stream.readinto(buffer[done : done + _CHUNK])
        if not n:
            break
        done += n
    return done


def _structure_text(array: np.ndarray, path: PathLike) -> str:
    if array.dtype != np.uint8 or array.ndim != 1:
        raise ValueError(f"{os.fspath(path)}: entry {_STRUCTURE_KEY!r} should be UTF-8 bytes, got {array.dtype}")
    try:
        return array.tobytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{os.fspath(path)}: entry {_STRUCTURE_KEY!r} is not UTF-8: {err}") from None


class _Entry(NamedTuple):
    """A checked tensor entry of a safetensors header; ``begin``, ``end``: its bytes in the data section."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int


def _read_safetensors(path: PathLike) -> tuple[OrderedDict[str, np.ndarray], str | None]:
    """The arrays of a ``.safetensors`` file in the order of its header, and the structure JSON if any."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        header = _read_header(f, path, size)
        data_start = f.tell()
        metadata = _check_metadata(header.pop("__metadata__", None), path)
        entries = [_check_entry(path, name, entry, size - data_start) for name, entry in header.items()]
        _check_layout(path, entries, size - data_start)
        arrays: OrderedDict[str, np.ndarray] = OrderedDict()
        for entry in entries:
            f.seek(data_start + entry.begin)
            arrays[entry.name] = _read_raw(f, entry, path)
    return arrays, metadata.get(_STRUCTURE_KEY)


def _read_header(f: BinaryIO, path: PathLike, size: int) -> dict[str, Any]:
    if size < 8:
        raise ValueError(
            f"{os.fspath(path)}: not a safetensors file: {size} bytes, fewer than the 8 of the header length"
        )
    (length,) = struct.unpack("<Q", f.read(8))
    if length > size - 8:
        raise ValueError(
            f"{os.fspath(path)}: bad safetensors header length {length}: only {size - 8} bytes follow it (a truncated "
            "file, or not a safetensors file)"
        )
    try:
        header = json.loads(f.read(length).decode("utf-8"), object_pairs_hook=_without_duplicates)
    except ValueError as err:  # JSONDecodeError, UnicodeDecodeError and duplicate names are all ValueErrors
        raise ValueError(f"{os.fspath(path)}: invalid JSON in the safetensors header: {err}") from None
    except RecursionError:
        raise ValueError(
            f"{os.fspath(path)}: invalid safetensors header: its JSON is nested too deeply to read (a header holds "
            "tensor entries and string metadata, two levels deep)"
        ) from None
    if not isinstance(header, dict):
        raise ValueError(
            f"{os.fspath(path)}: the safetensors header should be a JSON object, got {type(header).__name__}"
        )
    return header


def _without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        names = [name for name, _ in pairs]
        raise ValueError(f"duplicate name {next(n for n in names if names.count(n) > 1)!r}")
    return out


def _check_metadata(metadata: Any, path: PathLike) -> dict[str, str]:
    if metadata is None:
        return {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ValueError(
            f"{os.fspath(path)}: the safetensors __metadata__ should map str to str, got {metadata!r:.200}"
        )
    return metadata


def _check_entry(path: PathLike, name: str, entry: Any, data_size: int) -> _Entry:
    """One header entry, checked against the format and the size of the data section."""
    where = f"{os.fspath(path)}: tensor {name!r}"
    if not isinstance(entry, dict) or not {"dtype", "shape", "data_offsets"} <= entry.keys():
        raise ValueError(f"{where}: a header entry needs 'dtype', 'shape' and 'data_offsets', got {entry!r:.200}")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if dtype not in _ST_DTYPES:
        raise ValueError(f"{where}: unknown dtype {dtype!r} (supported: {', '.join(_ST_DTYPES)})")
    if not isinstance(shape, list) or not all(type(s) is int and s >= 0 for s in shape):
        raise ValueError(f"{where}: shape should be a list of non-negative integers, got {shape!r:.200}")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(type(o) is int for o in offsets)):
        raise ValueError(f"{where}: data_offsets should be [begin, end], got {offsets!r:.200}")
    begin, end = offsets
    if not 0 <= begin <= end:
        raise ValueError(f"{where}: data_offsets [{begin}, {end}] are not 0 <= begin <= end")
    if end > data_size:
        raise ValueError(
            f"{where}: data_offsets [{begin}, {end}] go past the end of the file (the data section holds {data_size} "
            "bytes: a truncated file?)"
        )
    needed = math.prod(shape) * _ST_DTYPES[dtype].itemsize
    if end - begin != needed:
        raise ValueError(
            f"{where}: data_offsets [{begin}, {end}] hold {end - begin} bytes; shape {shape} of {dtype} needs {needed}"
        )
    return _Entry(name, dtype, tuple(shape), begin, end)


def _check_layout(path: PathLike, entries: list[_Entry], data_size: int) -> None:
    """Refuse a data section that the tensors do not cover exactly once, contiguously, from 0 to its end, as the
    reference reader (the ``safetensors`` library) does: overlapping tensors, gaps, and bytes after the last one.
    Header entries may come in any order; an empty tensor covers nothing, so it may sit where another begins or
    ends."""
    end, previous = 0, None
    for entry in sorted(entries, key=lambda e: (e.begin, e.end)):
        if entry.begin < end:
            raise ValueError(
                f"{os.fspath(path)}: tensors {previous.name!r} (data_offsets [{previous.begin}, {previous.end}]) and "
                f"{entry.name!r} (data_offsets [{entry.begin}, {entry.end}]) overlap; each byte of the data section "
                "must belong to one tensor"
            )
        if entry.begin > end:
            before = "the start of the data section" if previous is None else f"the end of tensor {previous.name!r}"
            raise ValueError(
                f"{os.fspath(path)}: a gap of {entry.begin - end} bytes between {before} (offset {end}) and tensor "
                f"{entry.name!r} (data_offsets [{entry.begin}, {entry.end}]); the tensors must cover the data "
                "section without gaps"
            )
        end, previous = entry.end, entry
    if end != data_size:
        last = "the header lists no tensors" if previous is None else f"the last tensor {previous.name!r} ends at {end}"
        raise ValueError(
            f"{os.fspath(path)}: {data_size - end} bytes after the tensors' data: the data section holds {data_size} "
            f"bytes but {last} (trailing bytes, or a header that lost entries)"
        )


def _read_raw(f: BinaryIO, entry: _Entry, path: PathLike) -> np.ndarray:
    array = np.empty(entry.shape, dtype=_ST_DTYPES[entry.dtype])
    buffer = array.reshape(-1).view(np.uint8)
    if f.readinto(buffer) != buffer.size:
        raise ValueError(f"{os.fspath(path)}: tensor {entry.name!r}: the file ended early (truncated while reading?)")
    if entry.dtype == "BF16":  # bfloat16 is the top half of a float32
        array = (array.astype(np.uint32) << 16).view(np.float32)
    return array


# ------------------------------------------------------------------------------------ loading: the structure


class _Decoder:
    """The inverse of ``_Encoder``: JSON values back to the saved structure, tensors taken from the file."""

    def __init__(self, tensors: Mapping[str, Tensor], path: PathLike) -> None:
        self.tensors = tensors
        self.path = path

    def fail(self, what: str) -> ValueError:
        return ValueError(f"{os.fspath(self.path)}: invalid minidl checkpoint structure: {what}")

    def decode_document(self, text: str) -> Any:
        try:
            document = json.loads(text)
        except ValueError as err:
            raise self.fail(f"not JSON ({err})") from None
        except RecursionError:
            raise self.fail("nested too deeply") from None
        if not isinstance(document, dict) or document.get("format") != "minidl" or "root" not in document:
            raise self.fail("expected an object with 'format': 'minidl' and 'root'")
        if document.get("version") != _VERSION:
            raise self.fail(f"format version {document.get('version')!r}; this minidl reads version {_VERSION}")
        try:
            return self.decode(document["root"])
        except RecursionError:
            raise self.fail("nested too deeply") from None

    def decode(self, node: Any) -> Any:
        if node is None or type(node) in (bool, int, float, str):
            return node
        if type(node) is list:
            return [self.decode(v) for v in node]
        if type(node) is not dict or not node:
            raise self.fail(f"unexpected value {node!r:.200}")
        tag = next(iter(node))
        body = node[tag]
        if tag == "$tensor":
            if body not in self.tensors:
                raise self.fail(f"refers to tensor {body!r}, which the file does not hold")
            return self.tensors[body]
        if tag == "$float" and body in ("nan", "inf", "-inf"):
            return float(body)
        if tag == "$scalar":
            return self._scalar(node)
        if tag == "$tuple" and type(body) is list:
            return tuple(self.decode(v) for v in body)
        if tag in _DICT_TYPES and type(body) is list:
            return self._dict(_DICT_TYPES[tag], body)
        raise self.fail(f"unexpected value {node!r:.200}")

    def _scalar(self, node: dict) -> np.generic:
        try:
            dtype = np.dtype(node["$scalar"])
            if (dtype.kind, dtype.itemsize) in _ST_NAMES:
                return dtype.type(self.decode(node["value"]))
        except (TypeError, KeyError, ValueError, OverflowError):
            pass
        raise self.fail(f"bad NumPy scalar {node!r:.200}")

    def _dict(self, kind: type, pairs: list) -> dict:
        if not all(type(pair) is list and len(pair) == 2 for pair in pairs):
            raise self.fail(f"a dict should be a list of [key, value] pairs, got {pairs!r:.200}")
        out = kind()
        for key, value in pairs:
            try:
                out[self.decode(key)] = self.decode(value)
            except TypeError as err:  # an unhashable key
                raise self.fail(f"bad dict key ({err})") from None
        return out


# ------------------------------------------------------------------------------------------------- PyTorch


def _import_torch(function: str) -> Any:
    try:
        import torch
    except ImportError:
        raise ImportError(f"minidl.io.{function} needs PyTorch, which is not installed: pip install torch") from None
    return torch


def _tensor_from_torch(torch: Any, key: str, value: Any) -> Tensor:
    value = value.detach().cpu()
    if value.dtype in (torch.float16, torch.bfloat16):
        value = value.float()
    try:
        array = np.array(value.numpy(), copy=True)  # a copy: the result never shares memory with PyTorch
    except (TypeError, RuntimeError) as err:
        raise TypeError(f"from_torch: entry {key!r} ({value.dtype}) cannot be converted: {err}") from None
    try:
        return _to_tensor(array, "from_torch", key)
    except ValueError as err:
        raise TypeError(str(err)) from None
