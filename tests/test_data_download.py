"""Downloads against a local HTTP server on 127.0.0.1: good, corrupted, interrupted and offline."""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import socket
import threading
import time

import numpy as np
import pytest

import convprop.data.datasets as datasets_mod
import convprop.data.download as download_mod
from convprop.data import DatasetError, DownloadError, download_file, load_dataset, sha256_of
from convprop.data.synthetic import write_cifar10_dataset, write_idx_dataset


class _Server:
    """Serves ``files`` ({url path: bytes}); ``mode`` selects how each response misbehaves."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.mode = "ok"
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                if server.mode == "corrupt":
                    body = body[:-1] + bytes([body[-1] ^ 0xFF])
                self.send_response(200)
                if server.mode == "short-length":
                    self.send_header("Content-Length", str(len(body) // 2))
                elif server.mode != "no-length":
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.mode in ("interrupt", "no-length"):
                    # Close the connection in the middle of the body.
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = _Server()
    yield s
    s.close()


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


PAYLOAD = np.random.default_rng(0).integers(0, 256, size=300_000, dtype=np.uint8).tobytes()
DIGEST = hashlib.sha256(PAYLOAD).hexdigest()


def _leftovers(directory):
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_good_download(server, tmp_path):
    server.files["/f.bin"] = PAYLOAD
    dest = download_file(server.url + "/f.bin", tmp_path / "cache" / "f.bin", DIGEST, progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert sha256_of(dest) == DIGEST
    assert _leftovers(tmp_path / "cache") == ["f.bin"]


def test_progress_bar_and_alternative_digests(server, tmp_path, capsys):
    server.files["/f.bin"] = PAYLOAD
    download_file(server.url + "/f.bin", tmp_path / "f.bin", ["0" * 64, DIGEST.upper()], progress=True)
    assert "f.bin" in capsys.readouterr().err
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD


@pytest.mark.parametrize("mode", ["corrupt", "short-length"])
def test_checksum_mismatch_leaves_nothing(server, tmp_path, mode):
    server.files["/f.bin"] = PAYLOAD
    server.mode = mode
    with pytest.raises(DatasetError, match=f"checksum mismatch for {server.url}/f.bin: SHA-256 [0-9a-f]{{64}}, "):
        download_file(server.url + "/f.bin", tmp_path / "cache" / "f.bin", DIGEST, progress=False)
    assert _leftovers(tmp_path / "cache") == []


@pytest.mark.parametrize("mode", ["interrupt", "no-length"])
def test_interrupted_transfer_then_retry(server, tmp_path, mode):
    server.files["/f.bin"] = PAYLOAD
    server.mode = mode
    # With a Content-Length the short body is detected as such; without one, only the checksum can tell.
    match = "stopped after 150000 of 300000 bytes" if mode == "interrupt" else "checksum mismatch"
    with pytest.raises(DatasetError, match=match):
        download_file(server.url + "/f.bin", tmp_path / "cache" / "f.bin", DIGEST, progress=False)
    assert _leftovers(tmp_path / "cache") == []
    server.mode = "ok"
    download_file(server.url + "/f.bin", tmp_path / "cache" / "f.bin", DIGEST, progress=False)
    assert _leftovers(tmp_path / "cache") == ["f.bin"]


def test_ctrl_c_during_download_leaves_nothing(server, tmp_path, monkeypatch):
    class Interrupting:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def update(self, n):
            raise KeyboardInterrupt

    server.files["/f.bin"] = PAYLOAD
    monkeypatch.setattr(download_mod, "_progress_bar", lambda *args: Interrupting())
    with pytest.raises(KeyboardInterrupt):
        download_file(server.url + "/f.bin", tmp_path / "f.bin", DIGEST)
    assert _leftovers(tmp_path) == []


def test_http_error_and_offline(server, tmp_path):
    with pytest.raises(DownloadError, match=r"could not download .*/missing.bin: HTTP 404"):
        download_file(server.url + "/missing.bin", tmp_path / "m.bin", DIGEST, progress=False)
    with pytest.raises(DownloadError, match=r"could not download http://127\.0\.0\.1:[0-9]+/f\.bin: .*refused"):
        download_file(_closed_port_url() + "/f.bin", tmp_path / "f.bin", DIGEST, progress=False)
    assert _leftovers(tmp_path) == []


def _serve_synthetic(server, monkeypatch, name, source_dir, files):
    """Serve the synthetic files and make the registry accept their digests (the real ones are fixed)."""
    remote = {}
    for f in files:
        server.files["/" + f.name] = f.read_bytes()
        remote[f.name] = (sha256_of(f),)
    info = dataclasses.replace(datasets_mod.DATASETS[name], remote=remote)
    monkeypatch.setitem(datasets_mod.DATASETS, name, info)


def test_load_dataset_downloads_into_cache(server, isolated, monkeypatch):
    source = write_idx_dataset(isolated / "src", n_train=60, n_test=20, seed=3)
    _serve_synthetic(server, monkeypatch, "fashion-mnist", source, sorted(source.iterdir()))
    monkeypatch.setenv("CONVPROP_DATA_URL", server.url + "/")
    test = load_dataset("fashion-mnist", "test", progress=False)
    cache = isolated / "home" / ".cache" / "convprop" / "fashion-mnist"
    assert test.source == cache and len(test) == 20
    assert _leftovers(cache) == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    expected = load_dataset("fashion-mnist", "test", data_dir=source, download=False)
    np.testing.assert_array_equal(test.images, expected.images)
    # A second load finds the cached files: no new request.
    n = len(server.requests)
    load_dataset("fashion-mnist", "test", progress=False)
    assert len(server.requests) == n


def test_load_dataset_download_goes_to_data_dir_or_convprop_data(server, isolated, monkeypatch):
    source = write_idx_dataset(isolated / "src", n_train=30, n_test=10, seed=1)
    _serve_synthetic(server, monkeypatch, "mnist", source, sorted(source.iterdir()))
    monkeypatch.setenv("CONVPROP_DATA", str(isolated / "data"))
    ds = load_dataset("mnist", "train", base_url=server.url, progress=False)
    assert ds.source == isolated / "data" / "mnist" and ds.classes[3] == "3"
    ds = load_dataset("mnist", "test", data_dir=isolated / "mine", base_url=server.url, progress=False)
    assert ds.source == isolated / "mine"
    assert _leftovers(isolated / "mine") == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


def test_cifar10_download_reads_from_archive(server, isolated, monkeypatch):
    archive = write_cifar10_dataset(isolated / "src", n_train=50, n_test=10, archive=True)
    _serve_synthetic(server, monkeypatch, "cifar10", archive.parent, [archive])
    train = load_dataset("cifar10", "train", base_url=server.url, progress=False)
    assert train.images.shape == (50, 3, 32, 32) and train.classes[0] == "airplane"
    assert _leftovers(isolated / "home" / ".cache" / "convprop" / "cifar10") == ["cifar-10-binary.tar.gz"]


def test_load_dataset_corrupted_download_leaves_cache_empty(server, isolated, monkeypatch):
    source = write_idx_dataset(isolated / "src", n_train=30, n_test=10)
    _serve_synthetic(server, monkeypatch, "fashion-mnist", source, sorted(source.iterdir()))
    server.mode = "corrupt"
    with pytest.raises(DownloadError, match="checksum mismatch"):
        load_dataset("fashion-mnist", "train", base_url=server.url, progress=False)
    assert _leftovers(isolated / "home" / ".cache" / "convprop" / "fashion-mnist") == []


def test_mirrors_are_tried_in_order(server, isolated, monkeypatch):
    source = write_idx_dataset(isolated / "src", n_train=30, n_test=10)
    _serve_synthetic(server, monkeypatch, "mnist", source, sorted(source.iterdir()))
    info = dataclasses.replace(datasets_mod.DATASETS["mnist"], base_urls=(server.url + "/gone/", server.url + "/"))
    monkeypatch.setitem(datasets_mod.DATASETS, "mnist", info)
    assert len(load_dataset("mnist", "test", progress=False)) == 10
    assert server.requests[:2] == ["/gone/t10k-images-idx3-ubyte.gz", "/t10k-images-idx3-ubyte.gz"]


def test_offline_error_says_what_to_put_where(isolated, monkeypatch):
    monkeypatch.setenv("CONVPROP_DATA_URL", _closed_port_url())
    with pytest.raises(DownloadError) as info:
        load_dataset("fashion-mnist", "train", data_dir=isolated / "mine", progress=False)
    message = str(info.value)
    assert "refused" in message
    assert "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz" in message
    for d in (isolated / "mine", isolated / "home" / ".cache" / "convprop" / "fashion-mnist"):
        assert str(d) in message
    assert str(isolated / "system" / "fashion-mnist") in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert _leftovers(isolated / "mine") == []


def test_download_off_error(isolated):
    with pytest.raises(DatasetError, match=r"cifar10 \(test\): files not found and downloading is off") as info:
        load_dataset("cifar10", "test", download=False)
    message = str(info.value)
    assert "cifar-10-binary.tar.gz, or the folder cifar-10-batches-bin/ extracted from it (data_batch_1.bin" in message
    assert "test_batch.bin)" in message and "published at https://www.cs.toronto.edu/~kriz/" in message
    assert "\n" not in message  # one line, as every error the CLI prints


def test_offline_error_names_the_files_of_every_split(isolated):
    with pytest.raises(DatasetError) as info:
        load_dataset("fashion-mnist", "train", download=False)
    message = str(info.value)
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz"):
        assert name in message
    assert "t10k-labels-idx1-ubyte.gz" in message and "\n" not in message


def test_unwritable_destination(server, tmp_path):
    server.files["/f.bin"] = PAYLOAD
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(DownloadError, match=r"cannot write the download of .* into .*file/sub"):
        download_file(server.url + "/f.bin", tmp_path / "file" / "sub" / "f.bin", DIGEST, progress=False)


class _Trickle:
    """A server on 127.0.0.1 that sends a 1000-byte body one byte every ``interval`` seconds."""

    def __init__(self, interval: float):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Length", "1000")
                self.end_headers()
                try:
                    for _ in range(1000):
                        self.wfile.write(b"x")
                        self.wfile.flush()
                        time.sleep(interval)
                except OSError:  # the client gave up
                    pass

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/slow.bin"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.parametrize(
    "limits, message",
    [
        ({"deadline": 0.5, "min_rate": 0}, r"not finished after 0\.5 s \(\d+ bytes received\)"),
        ({"min_rate": 100, "rate_window": 0.3}, r"the server sent \d+ bytes/s over 0 s, below the minimum of 100"),
    ],
    ids=["deadline", "min-rate"],
)
def test_a_trickling_server_is_given_up_on(tmp_path, limits, message):
    """Each byte arrives well within the per-operation timeout, so only the overall guards stop it."""
    trickle = _Trickle(interval=0.05)
    try:
        started = time.monotonic()
        with pytest.raises(DownloadError, match=message):
            download_file(trickle.url, tmp_path / "slow.bin", "0" * 64, progress=False, timeout=5, **limits)
        assert time.monotonic() - started < 3
    finally:
        trickle.close()
    assert list(tmp_path.iterdir()) == []  # no partial file left
