"""Fetch a file from the first of several mirrors that serves it with the right checksum (urllib only).

The file is streamed into a temporary file in the destination folder (``.<name>.<host>-<pid>.<random>.part``, see
``minidl.tempfiles``) and moved into place with ``os.replace`` only once its checksum matches, so a half-written
or corrupt download is never seen under the final name. Temporary files of the same destination left by killed
downloads are removed before the next one starts.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from http.client import HTTPException
from pathlib import Path
from typing import Any, Sequence

from tqdm import tqdm

from minidl import tempfiles

CHUNK = 1 << 16
PART = ".part"  # the suffix of the temporary files of downloads


class DownloadError(RuntimeError):
    """No mirror delivered the file with the expected checksum."""


def _hasher(checksum: str) -> tuple[Any, str]:
    algorithm, _, digest = checksum.partition(":")
    if not digest or algorithm not in ("md5", "sha1", "sha256"):
        raise ValueError(f"checksum must read 'md5:<hex>', 'sha1:<hex>' or 'sha256:<hex>', got {checksum!r}")
    return hashlib.new(algorithm), digest.lower()


def _fetch(url: str, dest: Path, checksum: str, progress: bool | None, timeout: float) -> str | None:
    """Download ``url`` to ``dest``: None when done, else why it failed."""
    h, digest = _hasher(checksum)
    fd, tmp = tempfiles.create(dest, PART)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            disable = None if progress is None else not progress  # None: tqdm shows it on a terminal only
            with tqdm(
                total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=dest.name, disable=disable
            ) as bar:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    h.update(chunk)
                    bar.update(len(chunk))
        if h.hexdigest() != digest:
            return f"checksum mismatch ({checksum.partition(':')[0]} {h.hexdigest()}, expected {digest})"
        os.replace(tmp, dest)
        return None
    except (urllib.error.URLError, HTTPException, OSError, ValueError) as err:
        return f"{type(err).__name__}: {err}"
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def download(
    urls: Sequence[str],
    dest: str | os.PathLike,
    checksum: str,
    progress: bool | None = None,
    timeout: float = 60.0,
) -> Path:
    """Fetch ``dest`` from the first of ``urls`` that serves it with ``checksum`` (``"sha256:<hex>"`` or
    ``"md5:<hex>"``), trying them in order; make ``dest``'s folder if needed.

    ``progress``: show a tqdm bar (None: only when stderr is a terminal). Raises ``DownloadError`` listing
    every url and why it failed when none succeeds.
    """
    dest = Path(dest)
    _hasher(checksum)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tempfiles.remove_stale_for(dest, PART)
    failures = []
    for url in urls:
        reason = _fetch(url, dest, checksum, progress, timeout)
        if reason is None:
            return dest
        failures.append(f"  {url}: {reason}")
    tried = "\n".join(failures) or "  (no mirrors given)"
    raise DownloadError(
        f"could not download {dest.name} to {dest.parent}; tried:\n{tried}\n"
        f"Fetch it by hand from one of those addresses and put it at {dest}, then run again."
    )
