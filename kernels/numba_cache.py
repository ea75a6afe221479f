"""Where Numba caches the compiled kernels of this package: a per-user folder, never inside the package.

Numba's default for ``@njit(cache=True)`` is a ``__pycache__`` folder next to the source file. For an installed
package that is ``site-packages/minidl_kernels/numba/__pycache__``: ``pip uninstall`` does not know those files
and leaves the folder behind, and an empty ``minidl_kernels`` folder left in site-packages is a namespace package
that shadows a later editable install (``import minidl_kernels`` finds the empty folder first).

``install()`` puts a cache locator in front of Numba's own ones. It takes the functions defined in files of this
package only (the user's own Numba functions keep Numba's defaults) and caches them under
``$MINIDL_CACHE_DIR/numba``, else ``$XDG_CACHE_HOME/minidl/numba``, else ``~/.cache/minidl/numba``, in a
subfolder per source folder (so two installs never share entries); the temporary folder serves when none of
those is writable. An explicit ``NUMBA_CACHE_DIR`` wins: Numba's own locator then puts everything there.
It must run before the first ``@njit(cache=True)`` of the package is decorated: ``minidl_kernels.numba`` (and every
other folder of Numba kernels) imports this module first.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from numba.core import caching

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))

# Recent Numba releases name the locator classes without a leading underscore, older ones with it.
_CacheImpl = getattr(caching, "CacheImpl", None) or caching._CacheImpl
_UserWideCacheLocator = getattr(caching, "UserWideCacheLocator", None) or caching._UserWideCacheLocator


def cache_root() -> Path:
    """The folder the package's compiled kernels are cached in (before the per-source-folder subfolder)."""
    base = os.environ.get("MINIDL_CACHE_DIR")
    if base:
        return Path(base).expanduser() / "numba"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "minidl" / "numba"


def _fallback_root() -> Path:
    return Path(tempfile.gettempdir()) / f"minidl-{os.getuid() if hasattr(os, 'getuid') else 'user'}" / "numba"


class KernelCacheLocator(_UserWideCacheLocator):
    """Numba's user-wide locator (source file's stamp, line-number disambiguator), with minidl's cache folder, for
    the files of this package only."""

    def __init__(self, py_func, py_file, root: Path | None = None):
        super().__init__(py_func, py_file)
        self._cache_path = os.path.join(root or cache_root(), self.get_suitable_cache_subpath(py_file))

    @classmethod
    def from_function(cls, py_func, py_file):
        if os.environ.get("NUMBA_CACHE_DIR"):
            return None  # the user chose a folder for every cache: Numba's own locator uses it
        path = os.path.abspath(py_file)
        if os.path.commonpath([path, _PACKAGE_DIR]) != _PACKAGE_DIR or not os.path.exists(path):
            return None
        for root in (cache_root(), _fallback_root()):
            locator = cls(py_func, path, root)
            try:
                locator.ensure_cache_path()
            except OSError:
                continue
            return locator
        return None


def install() -> None:
    """Put ``KernelCacheLocator`` first in Numba's list of cache locators (once)."""
    classes = _CacheImpl._locator_classes
    if KernelCacheLocator not in classes:
        classes.insert(0, KernelCacheLocator)


install()
