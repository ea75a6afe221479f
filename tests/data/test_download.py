"""Downloads end to end against an HTTP server on 127.0.0.1 serving the real MNIST files: mirrors tried in
order past a closed port, a 404, a corrupted copy and a truncated response; checksums, atomic writes (no partial
file left), one error listing every mirror when all fail, mirrors from the environment or the class attribute,
the CIFAR-10 archive downloaded and extracted, and the progress bar switch. Nothing but loopback is contacted."""

import hashlib
import http.server
import socket
import threading

import numpy as np
import pytest

from minidl.data.datasets import CIFAR10, MNIST, DownloadError, FashionMNIST, download
from minidl.data.datasets.cifar import extract
from tests.data import FASHION_DIR, MNIST_DIR, cifar_archive, needs_fashion, write_cifar
from tests.faults import stale_and_live_names

TEST_FILES = ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch):
    """Refuse any connection that is not to 127.0.0.1, and keep the real mirrors out of reach."""
    connect = socket.create_connection

    def guarded(address, *args, **kwargs):
        assert address[0] == "127.0.0.1", f"test tried to reach {address}"
        return connect(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", guarded)
    for cls in (MNIST, FashionMNIST, CIFAR10):
        monkeypatch.setattr(cls, "mirrors", ())
        monkeypatch.delenv(cls.mirrors_env, raising=False)
    monkeypatch.setattr(MNIST, "progress", False)
    monkeypatch.setattr(CIFAR10, "progress", False)


class Server:
    """A threaded HTTP server on 127.0.0.1 (port 0) serving ``routes`` (path -> bytes) and recording requests.
    Paths under /truncated/ announce the full length but send half of it."""

    def __init__(self):
        self.routes = {}
        self.requests = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                owner.requests.append(self.path)
                body = owner.routes.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 2] if self.path.startswith("/truncated/") else body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


def closed_port_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"  # nothing listens there any more: connection refused


def serve(server, folder, names, corrupt=("bad",), good=("good", "truncated")):
    for name in names:
        body = (folder / name).read_bytes()
        for prefix in good:
            server.routes[f"/{prefix}/{name}"] = body
        broken = bytearray(body)
        broken[len(body) // 2] ^= 0xFF
        for prefix in corrupt:
            server.routes[f"/{prefix}/{name}"] = bytes(broken)


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_mnist_download_tries_mirrors_in_turn(server, tmp_path, monkeypatch):
    serve(server, MNIST_DIR, TEST_FILES)
    mirrors = [closed_port_url()] + [f"{server.url}/{p}/" for p in ("missing", "bad", "truncated", "good")]
    monkeypatch.setenv("MINIDL_MNIST_MIRRORS", " ".join(mirrors))
    ds = MNIST(tmp_path, train=False, download=True)
    assert len(ds) == 10000
    np.testing.assert_array_equal(ds.targets, MNIST(MNIST_DIR.parent, train=False).targets)
    folder = tmp_path / "mnist"
    assert sorted(p.name for p in folder.iterdir()) == sorted(TEST_FILES)  # the test split only, no temp files
    for name in TEST_FILES:
        assert (folder / name).read_bytes() == (MNIST_DIR / name).read_bytes()
        assert [r for r in server.requests if r.endswith(name)] == [
            f"/{p}/{name}" for p in ("missing", "bad", "truncated", "good")
        ]
    server.requests.clear()
    MNIST(tmp_path, train=False, download=True)  # everything present: no request
    assert server.requests == []


def test_all_mirrors_failing_is_one_error_and_leaves_nothing(server, tmp_path, monkeypatch):
    serve(server, MNIST_DIR, TEST_FILES)
    dead = closed_port_url()
    monkeypatch.setattr(MNIST, "mirrors", (dead, f"{server.url}/missing/", f"{server.url}/bad/"))
    with pytest.raises(DownloadError) as info:
        MNIST(tmp_path, train=False, download=True)
    message = str(info.value)
    assert "could not download t10k-images-idx3-ubyte.gz" in message
    assert dead in message and "404" in message and "checksum mismatch" in message
    assert f"put it at {tmp_path / 'mnist' / 't10k-images-idx3-ubyte.gz'}, then run again" in message
    assert list((tmp_path / "mnist").iterdir()) == []


@needs_fashion
def test_fashion_mnist_download_from_the_class_mirrors(server, tmp_path, monkeypatch):
    serve(server, FASHION_DIR, TEST_FILES)
    serve(server, MNIST_DIR, TEST_FILES, corrupt=(), good=("mnist",))  # right names, wrong dataset
    monkeypatch.setattr(FashionMNIST, "mirrors", (f"{server.url}/mnist", f"{server.url}/good"))
    ds = FashionMNIST(tmp_path, train=False, download=True)
    assert np.bincount(ds.targets).tolist() == [1000] * 10
    assert leftovers(tmp_path / "fashion-mnist") == []


def test_cifar10_download_and_extract(server, tmp_path, monkeypatch):
    write_cifar(tmp_path / "made" / "cifar-10-batches-py")
    archive = cifar_archive(tmp_path / "made" / "cifar-10-batches-py")
    server.routes["/kriz/cifar-10-python.tar.gz"] = archive
    monkeypatch.setattr(CIFAR10, "archive_checksum", "md5:" + hashlib.md5(archive).hexdigest())
    monkeypatch.setenv("MINIDL_CIFAR10_MIRRORS", f"{closed_port_url()},{server.url}/kriz/")
    ds = CIFAR10(tmp_path / "root", train=True, download=True)
    np.testing.assert_array_equal(ds.data, CIFAR10(tmp_path / "made").data)
    assert (tmp_path / "root" / "cifar-10-python.tar.gz").read_bytes() == archive
    assert leftovers(tmp_path / "root") == [] and leftovers(tmp_path / "root" / "cifar-10-batches-py") == []


def test_download_function_and_progress_bar(server, tmp_path, capsys):
    serve(server, MNIST_DIR, TEST_FILES[1:])
    name = TEST_FILES[1]
    digest = hashlib.sha256((MNIST_DIR / name).read_bytes()).hexdigest()
    out = download([f"{server.url}/good/{name}"], tmp_path / "sub" / name, "sha256:" + digest, progress=True)
    assert out == tmp_path / "sub" / name and out.is_file()
    assert name in capsys.readouterr().err
    download([f"{server.url}/good/{name}"], tmp_path / "again" / name, "sha256:" + digest, progress=False)
    assert capsys.readouterr().err == ""
    with pytest.raises(ValueError, match="checksum must read"):
        download([f"{server.url}/good/{name}"], tmp_path / name, "crc32:1234")
    with pytest.raises(DownloadError, match="no mirrors given"):
        download([], tmp_path / name, "sha256:" + digest)


def test_a_download_removes_the_stale_partial_files_of_its_file(server, tmp_path):
    """Partial files of killed downloads go (the mkstemp names of older versions too); those a live process may
    still be writing (this one's, another host's), and other files' stay."""
    serve(server, MNIST_DIR, TEST_FILES[1:])
    name = TEST_FILES[1]
    digest = hashlib.sha256((MNIST_DIR / name).read_bytes()).hexdigest()
    names = stale_and_live_names(name, ".part", legacy_random="k3_x9abz")
    other = stale_and_live_names(TEST_FILES[0], ".part")
    for partial in [*names, *other]:
        (tmp_path / partial).write_bytes(b"half a download")
    download([f"{server.url}/good/{name}"], tmp_path / name, "sha256:" + digest, progress=False)
    expected = {name} | {n for n, gone in names.items() if not gone} | set(other)
    assert {p.name for p in tmp_path.iterdir()} == expected


def test_extracting_removes_the_stale_partial_files_of_the_extracted_files(tmp_path):
    write_cifar(tmp_path / "made")
    archive = tmp_path / "cifar-10-python.tar.gz"
    archive.write_bytes(cifar_archive(tmp_path / "made"))
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    names = stale_and_live_names("data_batch_1", ".part", legacy_random="ab_cd123")
    other = stale_and_live_names("data_batch_2", ".part")  # not extracted this time
    for partial in [*names, *other]:
        (folder / partial).write_bytes(b"half a batch")
    extract(archive, folder, ["data_batch_1", "test_batch"])
    expected = {"data_batch_1", "test_batch"} | {n for n, gone in names.items() if not gone} | set(other)
    assert {p.name for p in folder.iterdir()} == expected
