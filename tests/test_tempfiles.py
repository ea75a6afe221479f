"""minidl.tempfiles: temporary names record their writer, and only those of gone writers are removed."""

from __future__ import annotations

import os
import socket

import pytest

from minidl import tempfiles
from tests.faults import dead_pid, owned_name, stale_and_live_names


def test_a_temporary_name_records_host_and_pid(tmp_path):
    name = tempfiles.temp_name("epoch_0003.npz", ".tmp")
    assert name.startswith(".epoch_0003.npz.") and name.endswith(".tmp")
    assert tempfiles.parse(name, ".tmp") == ("epoch_0003.npz", tempfiles._host(), os.getpid())
    assert tempfiles.temp_name("epoch_0003.npz", ".tmp") != name  # random part
    fd, path = tempfiles.create(tmp_path / "w.npz")
    os.close(fd)
    assert path.parent == tmp_path and tempfiles.parse(path.name, ".tmp").destination == "w.npz"


def test_a_host_name_with_dots_still_parses(monkeypatch):
    monkeypatch.setattr(socket, "gethostname", lambda: "node7.cluster.example.org")
    name = tempfiles.temp_name("t10k-images-idx3-ubyte.gz", ".part")
    assert tempfiles.parse(name, ".part") == ("t10k-images-idx3-ubyte.gz", "node7_cluster_example_org", os.getpid())


@pytest.mark.parametrize(
    ("name", "suffix", "parsed"),
    [
        (".w.npz.0123456789ab.tmp", ".tmp", ("w.npz", None, None)),  # older minidl.save
        (".data_batch_1.k3_x9abz.part", ".part", ("data_batch_1", None, None)),  # tempfile.mkstemp
        (".cifar-10-python.tar.gz.a1b2c3d4.part", ".part", ("cifar-10-python.tar.gz", None, None)),
        (".w.npz.my-host-42.0123456789ab.tmp", ".tmp", ("w.npz", "my-host", 42)),
        ("w.npz", ".tmp", None),
        (".tmp", ".tmp", None),
        (".w.npz.tmp", ".tmp", None),
        (".w.npz.0123456789ab.part", ".tmp", None),  # another suffix
        (".w.npz.01-23.tmp", ".tmp", None),
    ],
)
def test_parse(name, suffix, parsed):
    assert tempfiles.parse(name, suffix) == parsed


def test_only_temporaries_of_gone_writers_are_removed(tmp_path):
    expected = stale_and_live_names("w.npz", ".tmp")
    others = {
        "w.npz": False,  # the destination itself
        owned_name("other.npz", ".tmp", dead_pid()): False,  # another destination's
        owned_name("w.npz", ".part", dead_pid()): False,  # another suffix
        ".w.npz.swp": False,  # not a temporary name
    }
    for name in {**expected, **others}:
        (tmp_path / name).write_bytes(b"half a file")
    removed = tempfiles.remove_stale_for(tmp_path / "w.npz")
    assert sorted(p.name for p in removed) == sorted(name for name, gone in expected.items() if gone)
    kept = {name for name, gone in {**expected, **others}.items() if not gone}
    assert {p.name for p in tmp_path.iterdir()} == kept


def test_remove_stale_across_destinations(tmp_path):
    names = {owned_name(f"epoch_000{i}.npz", ".tmp", dead_pid()) for i in (1, 2)}
    kept = owned_name("notes.txt", ".tmp", dead_pid())
    for name in [*names, kept]:
        (tmp_path / name).touch()
    removed = tempfiles.remove_stale(tmp_path, ".tmp", lambda name: name.startswith("epoch_"))
    assert {p.name for p in removed} == names
    assert [p.name for p in tmp_path.iterdir()] == [kept]
    assert tempfiles.remove_stale(tmp_path / "missing", ".tmp", lambda name: True) == []


def test_a_long_destination_name_stays_within_name_max(tmp_path):
    destination = tmp_path / ("w" * 250 + ".npz")
    fd, path = tempfiles.create(destination)
    os.close(fd)
    assert len(path.name) <= 255
    stale = path.with_name(path.name.replace(f"-{os.getpid()}.", f"-{dead_pid()}."))
    path.rename(stale)
    assert tempfiles.remove_stale_for(destination) == [stale]
