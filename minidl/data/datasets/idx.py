"""A reader for the IDX format of MNIST and Fashion-MNIST, raw or gzip-compressed.

IDX: two zero bytes, a type code, the number of dimensions ``d``, then ``d`` big-endian uint32 sizes, then the
values in row-major order (big-endian). Anything that does not fit that exactly is a ValueError naming the file.

A ``.gz`` file is decompressed as it is read: the header comes first, and the data it announces is read into an
array of that size, so a small file that inflates to gigabytes (a decompression bomb) costs no more memory than
the size its header announces, which must fit in what the file can hold.
"""

from __future__ import annotations

import contextlib
import gzip
import math
import os
import struct
import zlib
from pathlib import Path
from typing import BinaryIO, Iterator, NamedTuple

import numpy as np

from minidl.io import read_into

_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_CHUNK = 1 << 20  # bytes read at a time
# Deflate expands data at most about 1032-fold: a gzip file of n bytes cannot hold more than this times n.
_MAX_GZIP_RATIO = 1032
# Data found after the announced data is read on (and dropped) up to this many bytes, to tell a corrupt gzip file
# (its checksum fails at its end) from one that holds too much, and to say how much.
_EXCESS_READ = 64 << 20


class _Source(NamedTuple):
    """An open IDX file: ``stream`` yields its (decompressed) content, of ``size`` bytes when ``exact``, else of
    at most ``size`` bytes."""

    stream: BinaryIO
    size: int
    exact: bool


class _Header(NamedTuple):
    dtype: np.dtype
    shape: tuple[int, ...]
    length: int  # bytes, magic and sizes included


@contextlib.contextmanager
def _open(path: Path) -> Iterator[_Source]:
    """``path`` opened for reading, decompressed on the fly when its name ends in ``.gz``; errors of the gzip
    layer (bad or truncated compressed data, a wrong checksum) become ValueErrors naming the file."""
    with open(path, "rb") as raw:
        size = os.fstat(raw.fileno()).st_size
        if path.suffix != ".gz":
            yield _Source(raw, size, exact=True)
            return
        try:
            with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
                yield _Source(stream, size * _MAX_GZIP_RATIO, exact=False)
        except (OSError, EOFError, zlib.error) as err:
            raise ValueError(f"{path}: corrupt or truncated gzip file ({err}); delete it and fetch it again") from None


def _read_header(stream: BinaryIO, path: Path) -> _Header:
    """The type and sizes the IDX header announces (sizes as Python ints: their product never overflows)."""
    magic = stream.read(4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in _TYPES:
        raise ValueError(f"{path}: not an IDX file (magic bytes {magic.hex() or 'missing'})")
    ndim = magic[3]
    sizes = stream.read(4 * ndim)
    if len(sizes) < 4 * ndim:
        raise ValueError(f"{path}: truncated IDX header ({4 + len(sizes)} bytes, {ndim} dimensions announced)")
    return _Header(np.dtype(_TYPES[magic[2]]), struct.unpack(f">{ndim}I", sizes), 4 + 4 * ndim)


def _excess(stream: BinaryIO) -> int:
    """The bytes left in ``stream``, read and dropped a chunk at a time, counting up to ``_EXCESS_READ`` (a count
    above that means: at least that many)."""
    buffer, count = bytearray(_CHUNK), 0
    while count <= _EXCESS_READ:
        n = stream.readinto(buffer)
        if not n:
            break
        count += n
    return count


def _truncated(path: Path, header: _Header, expected: int, found: str) -> ValueError:
    return ValueError(
        f"{path}: truncated: the header announces shape {header.shape} ({expected} bytes of data) but the file "
        f"holds {found} bytes after the header"
    )


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """The array stored in the IDX file ``path`` (raw or ``.gz``), native byte order, e.g. uint8 (N, 28, 28)."""
    path = Path(path)
    with _open(path) as source:
        header = _read_header(source.stream, path)
        expected = math.prod(header.shape) * header.dtype.itemsize
        room = source.size - header.length
        if expected > room:  # refused before allocating: a header announcing more than the file can hold
            raise _truncated(path, header, expected, str(room) if source.exact else f"at most {room}")
        array = np.empty(header.shape, dtype=header.dtype)
        found = read_into(source.stream, memoryview(array.reshape(-1).view(np.uint8)))
        if found < expected:
            raise _truncated(path, header, expected, str(found))
        excess = room - expected if source.exact else _excess(source.stream)
        if excess:
            found_text = f"{expected + excess}" if excess <= _EXCESS_READ else f"more than {expected + _EXCESS_READ}"
            raise ValueError(
                f"{path}: too long: the header announces shape {header.shape} ({expected} bytes of data) but the "
                f"file holds {found_text} bytes after the header"
            )
    return array.astype(header.dtype.newbyteorder("="), copy=False)  # native byte order, writable
