"""A reader for the IDX format of MNIST and Fashion-MNIST, raw or gzip-compressed.

IDX: two zero bytes, a type code, the number of dimensions ``d``, then ``d`` big-endian uint32 sizes, then the
values in row-major order (big-endian). Anything that does not fit that exactly is a ValueError naming the file.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_bytes(path: str | os.PathLike) -> bytes:
    """The content of ``path``, decompressed when its name ends in ``.gz`` (ValueError on bad gzip data)."""
    path = Path(path)
    if path.suffix != ".gz":
        return path.read_bytes()
    with open(path, "rb") as raw:
        try:
            return gzip.GzipFile(fileobj=raw, mode="rb").read()
        except (OSError, EOFError, zlib.error) as err:
            raise ValueError(f"{path}: corrupt or truncated gzip file ({err}); delete it and fetch it again") from None


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """The array stored in the IDX file ``path`` (raw or ``.gz``), native byte order, e.g. uint8 (N, 28, 28)."""
    path = Path(path)
    content = read_bytes(path)
    if len(content) < 4 or content[0] != 0 or content[1] != 0 or content[2] not in _TYPES:
        raise ValueError(f"{path}: not an IDX file (magic bytes {content[:4].hex() or 'missing'})")
    ndim = content[3]
    start = 4 + 4 * ndim
    if len(content) < start:
        raise ValueError(f"{path}: truncated IDX header ({len(content)} bytes, {ndim} dimensions announced)")
    shape = struct.unpack(f">{ndim}I", content[4:start])
    dtype = np.dtype(_TYPES[content[2]])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(content) - start
    if found != expected:
        what = "truncated" if found < expected else "too long"
        raise ValueError(
            f"{path}: {what}: the header announces shape {shape} ({expected} bytes of data) but the file holds "
            f"{found} bytes after the header"
        )
    array = np.frombuffer(content, dtype=dtype, offset=start).reshape(shape)
    return array.astype(dtype.newbyteorder("="))  # a writable copy in native byte order
