"""Numba's compiled kernels are cached in a per-user folder, never inside the installed package (where files that
pip does not know would outlive an uninstall and leave a folder that shadows the next install)."""

import os
import subprocess
import sys
from pathlib import Path

import minidl_kernels
from minidl_kernels import numba_cache
from minidl_kernels.numba import special

PACKAGE = Path(minidl_kernels.__file__).resolve().parent


def test_the_package_kernels_get_the_minidl_locator_and_a_folder_outside_the_package(monkeypatch, tmp_path):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("MINIDL_CACHE_DIR", str(tmp_path))
    fn = special._erf_loop.py_func
    locator = numba_cache.KernelCacheLocator.from_function(fn, fn.__code__.co_filename)
    path = Path(locator.get_cache_path())
    assert path.is_relative_to(tmp_path / "numba") and not path.is_relative_to(PACKAGE)


def test_other_functions_and_an_explicit_numba_cache_dir_keep_numbas_rules(monkeypatch, tmp_path):
    def elsewhere():  # a user's function, defined outside the package
        return 1

    assert numba_cache.KernelCacheLocator.from_function(elsewhere, __file__) is None
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    fn = special._erf_loop.py_func
    assert numba_cache.KernelCacheLocator.from_function(fn, fn.__code__.co_filename) is None


def test_compiling_a_kernel_writes_its_cache_in_the_user_folder_only(tmp_path):
    before = {p for p in PACKAGE.rglob("*") if p.suffix in (".nbi", ".nbc")}
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"} | {"MINIDL_CACHE_DIR": str(tmp_path)}
    code = "import numpy as np; from minidl_kernels.numba.special import erf; erf(np.ones(3))"
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120)
    assert list((tmp_path / "numba").rglob("special._erf_loop-*.nbi"))
    assert {p for p in PACKAGE.rglob("*") if p.suffix in (".nbi", ".nbc")} == before
