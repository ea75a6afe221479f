"""Temporary files written next to their destination: naming, and removal of stale ones.

A file that must never be seen half-written (a checkpoint, a download) is written to a temporary file in its
destination's folder, then renamed over the destination. A process killed in between (``kill -9``, a lost node)
leaves the temporary file behind, so its name records who writes it::

    .<destination name>.<host>-<pid>.<random hex><suffix>      e.g. .epoch_0003.npz.node7-4242.3f9a0c1de2b4.tmp

and ``remove_stale`` removes the ones whose writer is gone: written on this host by a pid that no longer runs, or
named the way older versions named them (``.<destination name>.<random><suffix>``, no writer recorded). A file
whose writer may still be running (a live pid here, or any pid of another host sharing the folder, such as another
rank of a multi-process job downloading the same file) is left alone.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import socket
from pathlib import Path
from typing import BinaryIO, Callable, NamedTuple

__all__ = [
    "TempName", "create", "is_stale", "parse", "remove_stale", "remove_stale_for", "temp_name", "write_atomically",
]  # fmt: skip

_NAME_KEPT = 180  # the destination name is cut to this many characters, keeping temporary names within NAME_MAX
_LEGACY_NAME_KEPT = 200  # where older versions of minidl.save cut it
_HOST_KEPT = 32
_OWNER = re.compile(r"(?P<host>[A-Za-z0-9_-]*)-(?P<pid>\d+)")
# The random part: 12 hex digits (ours, and older minidl.save's) or 8 of tempfile.mkstemp's letters.
_RANDOM = re.compile(r"[A-Za-z0-9_]{8,}")


class TempName(NamedTuple):
    """What a temporary file's name says: the destination's (possibly cut) name and, unless it is of the older
    unowned form, the writer's host and pid."""

    destination: str
    host: str | None
    pid: int | None


def _host() -> str:
    """This machine's name as it appears in temporary names: letters, digits, ``_`` and ``-`` only (dots would
    make the name ambiguous)."""
    return re.sub(r"[^A-Za-z0-9-]", "_", socket.gethostname())[:_HOST_KEPT] or "host"


def temp_name(destination: str, suffix: str) -> str:
    """A fresh temporary name (no folder) for a file to be renamed to ``destination`` by this process."""
    return f".{destination[:_NAME_KEPT]}.{_host()}-{os.getpid()}.{secrets.token_hex(6)}{suffix}"


def create(destination: Path, suffix: str = ".tmp") -> tuple[int, Path]:
    """Create a new, empty temporary file next to ``destination``; returns its descriptor (open for binary
    writing) and path. Mode 0o666 lets the umask give it the usual permissions (``tempfile.mkstemp``: 0o600,
    which the renamed file would keep)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        path = destination.with_name(temp_name(destination.name, suffix))
        try:
            return os.open(path, flags, 0o666), path
        except FileExistsError:  # 48 random bits taken: try another name
            continue


def parse(name: str, suffix: str) -> TempName | None:
    """What the temporary name ``name`` (with ``suffix``) says, or None if it is not one."""
    if not (name.startswith(".") and name.endswith(suffix)) or len(name) <= 1 + len(suffix):
        return None
    rest, dot, random = name[1 : len(name) - len(suffix)].rpartition(".")
    if not dot or not rest or not _RANDOM.fullmatch(random):
        return None
    destination, dot, owner = rest.rpartition(".")
    match = _OWNER.fullmatch(owner) if dot and destination else None
    if match is None:
        return TempName(rest, None, None)  # the older form: no writer recorded
    return TempName(destination, match["host"], int(match["pid"]))


def _process_alive(pid: int) -> bool:
    if os.name == "nt":
        return True  # os.kill(pid, 0) would terminate it on Windows: assume it runs
    try:
        os.kill(pid, 0)  # signal 0: only checks that the process exists
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):  # PermissionError: it runs, as another user; OverflowError: not ours to judge
        return True
    return True


def is_stale(temp: TempName) -> bool:
    """Whether no running process can be writing the temporary file ``temp`` names."""
    if temp.pid is None:
        return True
    return temp.host == _host() and not _process_alive(temp.pid)


def remove_stale(folder: Path, suffix: str, destinations: Callable[[str], bool]) -> list[Path]:
    """Remove the stale temporary files (see the module docstring) with ``suffix`` in ``folder`` whose
    destination name ``destinations`` accepts; returns those removed. Best-effort: a folder that does not exist or
    cannot be listed, or a file that cannot be removed (gone already, another user's), is passed over."""
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    removed = []
    for name in names:
        temp = parse(name, suffix)
        if temp is None or not destinations(temp.destination) or not is_stale(temp):
            continue
        with contextlib.suppress(OSError):
            os.unlink(folder / name)
            removed.append(folder / name)
    return removed


def remove_stale_for(destination: Path, suffix: str = ".tmp") -> list[Path]:
    """Remove the stale temporary files of ``destination`` (those meant to be renamed to it)."""
    name = destination.name
    names = {name, name[:_NAME_KEPT], name[:_LEGACY_NAME_KEPT]}
    return remove_stale(destination.parent, suffix, names.__contains__)


def write_atomically(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write`` on a new temporary file next to ``path``, then rename it to ``path``, so that ``path`` is never
    seen half-written; on any failure (KeyboardInterrupt included) remove the temporary file and leave ``path`` as
    it was. Temporary files of ``path`` left by killed processes are removed first."""
    remove_stale_for(path)
    fd, tmp = create(path)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())  # the data reaches the disk before the rename makes it visible
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
