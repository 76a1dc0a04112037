"""Data sets by name: the downloader (full, resumed, corrupt, unreachable) against a local HTTP
server, the cache, memory and writability checks, `dse datasets`, and every named set's reader on
small files written here in the set's real on-disk format (idx, N-MNIST .bin in a zip, SHD HDF5 in
a zip, DVS Gesture .npy in a tar.gz, CIFAR10-DVS AEDAT4 in nested zips). Nothing leaves 127.0.0.1."""

import gzip
import hashlib
import io
import json
import socket
import struct
import tarfile
import threading
import zipfile
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
import torch

from dse.cli import main
from dse.errors import UserError
from dse.training.data import load_dataset
from dse.training.datasets import catalog
from dse.training.datasets.catalog import NAMED, cache_state, fetch
from dse.training.datasets.download import download, part_path

SERVER_LIFETIME_S = 60  # the server shuts itself down after this even if a test forgets it


# ---- a local HTTP server that honours Range ----------------------------------------------------


class _Files(BaseHTTPRequestHandler):
    files: dict = {}
    log: list = []

    def do_GET(self):  # noqa: N802
        body = self.files.get(self.path)
        self.log.append((self.path, self.headers.get("Range")))
        if body is None:
            self.send_error(404)
            return
        rng = self.headers.get("Range")
        if rng and self.server.honour_range:
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            body = body[start:]
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    """(base URL, files dict path -> bytes, request log); serves from a daemon thread, bounded in time."""
    handler = type("Handler", (_Files,), {"files": {}, "log": []})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.honour_range = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    timer = threading.Timer(SERVER_LIFETIME_S, httpd.shutdown)
    timer.daemon = True
    timer.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", handler.files, handler.log, httpd
    finally:
        timer.cancel()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    return port


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv("DSE_DATA_DIR", str(root))
    monkeypatch.delenv("DSE_DATA_URL", raising=False)
    return root


# ---- the downloader ------------------------------------------------------------------------------


def test_full_download_matches_md5(server, tmp_path):
    base, files, log, _ = server
    data = bytes(range(256)) * 4000
    files["/f.bin"] = data
    dest = tmp_path / "f.bin"
    download([f"{base}/f.bin"], dest, md5(data), quiet=True)
    assert dest.read_bytes() == data and not part_path(dest).exists()
    assert log == [("/f.bin", None)]


def test_resumed_download_fetches_only_the_rest(server, tmp_path, capsys):
    base, files, log, _ = server
    data = np.random.default_rng(0).integers(0, 256, 300_000, dtype=np.uint8).tobytes()
    files["/f.bin"] = data
    dest = tmp_path / "f.bin"
    half = len(data) // 2
    part_path(dest).write_bytes(data[:half])  # an interrupted earlier run
    download([f"{base}/f.bin"], dest, md5(data), quiet=False)
    assert dest.read_bytes() == data
    assert log == [("/f.bin", f"bytes={half}-")]
    assert "downloading f.bin" in capsys.readouterr().err  # rich's progress bar on stderr


def test_server_without_range_restarts_the_file(server, tmp_path):
    base, files, _, httpd = server
    httpd.honour_range = False
    data = b"abcdefgh" * 1000
    files["/f.bin"] = data
    dest = tmp_path / "f.bin"
    part_path(dest).write_bytes(b"zzzz")  # not a prefix: must be overwritten, not appended to
    download([f"{base}/f.bin"], dest, md5(data), quiet=True)
    assert dest.read_bytes() == data


def test_corrupt_download_is_deleted_and_reported_in_one_line(server, tmp_path):
    base, files, _, _ = server
    files["/f.bin"] = b"not what was published" * 100
    dest = tmp_path / "f.bin"
    with pytest.raises(UserError) as err:
        download([f"{base}/f.bin"], dest, "0" * 32, quiet=True)
    message = str(err.value)
    assert "\n" not in message and "MD5" in message and "deleted" in message and f"{base}/f.bin" in message
    assert not dest.exists() and not part_path(dest).exists()


def test_unreachable_url_names_the_url_and_the_cache_path(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}/f.bin"
    dest = tmp_path / "cache" / "f.bin"
    dest.parent.mkdir()
    with pytest.raises(UserError) as err:
        download([url], dest, "0" * 32, quiet=True, timeout=5)
    message = str(err.value)
    assert "\n" not in message and url in message and str(dest) in message and "by hand" in message


def test_http_error_is_one_line(server, tmp_path):
    base, _, _, _ = server
    with pytest.raises(UserError, match="HTTP 404") as err:
        download([f"{base}/missing.bin"], tmp_path / "m.bin", "0" * 32, quiet=True)
    assert "\n" not in str(err.value)


# ---- the cache -----------------------------------------------------------------------------------


def idx_bytes(array: np.ndarray) -> bytes:
    """An idx file of unsigned bytes, gzip'ed: 00 00 08 NDIM, big-endian uint32 dims, the values."""
    header = bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def mnist_files(n_train=50, n_test=10, size=28, seed=0):
    """idx files: image k of class c is c * 20 + k at pixel (c, c), zeros elsewhere."""
    rng = np.random.default_rng(seed)
    out, pixels = {}, {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        y = np.arange(n) % 10
        x = np.zeros((n, size, size), dtype=np.uint8)
        x[np.arange(n), y, y] = rng.integers(1, 256, n)
        pixels[prefix] = (x, y)
        out[f"{prefix}-images-idx3-ubyte.gz"] = idx_bytes(x)
        out[f"{prefix}-labels-idx1-ubyte.gz"] = idx_bytes(y)
    return out, pixels


def serve_set(monkeypatch, server, name, payloads: dict):
    """Point NAMED[name]'s files at the local server, with the MD5s of the payloads written here."""
    base, files, _, _ = server
    remotes = []
    for remote in NAMED[name].files:
        data = payloads[remote.filename]
        files[f"/{name}/{remote.filename}"] = data
        remotes.append(replace(remote, urls=(f"{base}/{name}/{remote.filename}",), md5=md5(data), size=len(data)))
    monkeypatch.setitem(NAMED, name, replace(NAMED[name], files=tuple(remotes)))


def test_mnist_by_name_downloads_once_and_reads_idx(server, cache, monkeypatch):
    payloads, pixels = mnist_files()
    serve_set(monkeypatch, server, "mnist", payloads)
    _, _, log, _ = server
    assert cache_state("mnist") == "absent"
    data = load_dataset("mnist", seed=0)
    assert cache_state("mnist") == "present" and len(log) == 4
    assert data.name == "mnist" and data.input_kind == "static" and data.input_shape == (1, 28, 28)
    assert data.num_classes == 10 and data.in_step == pytest.approx(4 / 255)
    assert (len(data.train), len(data.val), len(data.test)) == (40, 10, 10)
    x_test, y_test = pixels["t10k"]
    assert torch.equal(data.test.y, torch.from_numpy(y_test.astype(np.int64)))
    np.testing.assert_allclose(data.test.x.numpy()[:, 0] / data.in_step, x_test, atol=1e-3)  # codes kept
    for f in payloads:
        assert (cache / "mnist" / f).is_file()
    load_dataset("mnist", seed=1)  # cached: no request
    assert len(log) == 4


def test_fashion_mnist_files_placed_by_hand_are_verified(cache, monkeypatch):
    payloads, _ = mnist_files(seed=1)
    folder = cache / "fashion-mnist"
    folder.mkdir(parents=True)
    remotes = []
    for remote in NAMED["fashion-mnist"].files:
        (folder / remote.filename).write_bytes(payloads[remote.filename])
        remotes.append(replace(remote, urls=(f"http://127.0.0.1:{closed_port()}/x",), md5=md5(payloads[remote.filename])))
    monkeypatch.setitem(NAMED, "fashion-mnist", replace(NAMED["fashion-mnist"], files=tuple(remotes)))
    data = load_dataset("fashion-mnist", seed=0)  # no download: the files are there and match
    assert data.name == "fashion-mnist" and len(data.test) == 10
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(b"other bytes")
    (folder / ".t10k-labels-idx1-ubyte.gz.ok").unlink()
    with pytest.raises(UserError, match="not the published") as err:
        load_dataset("fashion-mnist", seed=0)
    assert "\n" not in str(err.value)


def test_mnist_without_network_fails_in_one_line_with_url_and_cache_path(cache, monkeypatch, capsys):
    url_base = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("DSE_DATA_URL", url_base)  # every set's files from there: nothing listens
    with pytest.raises(UserError) as err:
        load_dataset("mnist", seed=0)
    message = str(err.value)
    assert "\n" not in message
    assert f"{url_base}/mnist/train-images-idx3-ubyte.gz" in message
    assert str(cache / "mnist" / "train-images-idx3-ubyte.gz") in message
    assert cache_state("mnist") == "absent"


def test_dse_search_with_mnist_offline_exits_2_in_one_line(cache, monkeypatch, tmp_path, capsys):
    url_base = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("DSE_DATA_URL", url_base)
    code = main(["search", "--dataset", "mnist", "--trials", "1", "--verify", "0", "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("dse search: error:"), err
    assert url_base in err[0] and str(cache / "mnist") in err[0]


def test_unwritable_cache_is_one_line(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("DSE_DATA_DIR", str(blocker / "cache"))  # under a file: nothing can be made there
    with pytest.raises(UserError) as err:
        fetch("mnist", quiet=True)
    assert "\n" not in str(err.value) and "not writable" in str(err.value) and "DSE_DATA_DIR" in str(err.value)


def test_a_set_too_large_for_memory_says_what_it_needs(cache, monkeypatch):
    monkeypatch.setattr(catalog, "available_memory", lambda: 100_000_000)  # 100 MB
    with pytest.raises(UserError) as err:
        load_dataset("nmnist", seed=0)
    message = str(err.value)
    assert "\n" not in message and "70000 x 24 x 2 x 34 x 34" in message
    assert "7.77 GB" in message and "available" in message  # 2 x 3.88 GB
    assert cache_state("nmnist") == "absent"  # refused before any download


def test_partial_state_and_json_listing(cache, capsys):
    folder = cache / "shd"
    folder.mkdir(parents=True)
    part_path(folder / "shd_train.h5.zip").write_bytes(b"half")
    assert cache_state("shd") == "partial"
    assert main(["datasets", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    by_name = {d["name"]: d for d in doc["datasets"]}
    assert list(by_name) == ["digits", "digits-dvs", "digits-dvs34", "mnist", "fashion-mnist", "nmnist", "shd", "dvsgesture",
                             "cifar10-dvs"]
    assert by_name["shd"]["cache"] == "partial" and by_name["shd"]["disk_bytes"] == 4
    assert by_name["mnist"]["cache"] == "absent" and by_name["mnist"]["download_bytes"] == 9912422 + 28881 + 1648877 + 4542
    assert by_name["shd"]["input_shape"] == [24, 700, 1, 1] and by_name["shd"]["families"] == ["mlp"]
    assert by_name["nmnist"]["files"][0]["md5"] == "20959b8e626244a1b502305a9e6e2031"
    assert doc["cache"] == str(cache)


def test_dse_datasets_table_lists_every_set(cache, capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    for name in ("digits", "digits-dvs", "digits-dvs34", "mnist", "fashion-mnist", "nmnist", "shd", "dvsgesture", "cifar10-dvs"):
        assert name in out
    assert "absent" in out and "built in" in out and str(cache) in out.replace("\n", "")


def test_sources_match_the_installed_tonic():
    pytest.importorskip("tonic", reason="tonic (optional extra 'events') is not installed")
    pytest.importorskip("h5py", reason="h5py (optional extra 'events') is not installed")
    from tonic.datasets import CIFAR10DVS, DVSGesture, NMNIST, SHD

    def files(name):
        return [(r.filename, r.urls[0], r.md5) for r in NAMED[name].files]

    assert files("nmnist") == [(NMNIST.train_filename, NMNIST.train_url, NMNIST.train_md5),
                               (NMNIST.test_filename, NMNIST.test_url, NMNIST.test_md5)]
    assert files("shd") == [(SHD.train_zip, SHD.base_url + SHD.train_zip, SHD.train_md5),
                            (SHD.test_zip, SHD.base_url + SHD.test_zip, SHD.test_md5)]
    assert files("dvsgesture") == [(DVSGesture.train_filename, DVSGesture.train_url, DVSGesture.train_md5),
                                   (DVSGesture.test_filename, DVSGesture.test_url, DVSGesture.test_md5)]
    assert files("cifar10-dvs") == [(CIFAR10DVS.filename, CIFAR10DVS.url, CIFAR10DVS.file_md5)]


# ---- event sets in their real formats, downloaded from the local server -------------------------


def zip_bytes(members: dict) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


def test_nmnist_by_name_unpacks_zips_of_bin_files(server, cache, monkeypatch):
    pytest.importorskip("tonic", reason="tonic (optional extra 'events') is not installed")

    def event_bytes(events):  # N-MNIST's 40-bit events
        return b"".join(bytes([x, y, (p << 7) | ((t >> 16) & 0x7F), (t >> 8) & 0xFF, t & 0xFF]) for x, y, p, t in events)

    def split(folder, n):
        return {f"{folder}/{c}/{k:05d}.bin": event_bytes([(3 + c, 4 + k, 1, 0), (30, 31, 0, 2300 + k)])
                for c in (0, 1) for k in range(n)}

    serve_set(monkeypatch, server, "nmnist", {"train.zip": zip_bytes(split("Train", 5)), "test.zip": zip_bytes(split("Test", 2))})
    data = load_dataset("nmnist", seed=0)
    assert data.name == "nmnist" and data.input_shape == (2, 34, 34) and data.frames == 24
    assert (len(data.train), len(data.val), len(data.test)) == (8, 2, 4) and int(data.test.x.sum()) == 8
    assert cache_state("nmnist") == "present" and (cache / "nmnist" / "Train" / "1" / "00004.bin").is_file()


def shd_h5_bytes(tmp_path, samples):
    """An SHD file: spikes/times (vlen float, s), spikes/units (vlen uint16), labels (uint16), extra/keys."""
    import h5py

    path = tmp_path / "shd.h5"
    with h5py.File(path, "w") as f:
        times = f.create_dataset("spikes/times", (len(samples),), dtype=h5py.vlen_dtype(np.float32))
        units = f.create_dataset("spikes/units", (len(samples),), dtype=h5py.vlen_dtype(np.uint16))
        for i, (t, u, _) in enumerate(samples):
            times[i] = np.asarray(t, dtype=np.float32)
            units[i] = np.asarray(u, dtype=np.uint16)
        f.create_dataset("labels", data=np.array([label for _, _, label in samples], dtype=np.uint16))
        f.create_dataset("extra/keys", data=np.array([b"zero", b"one"]))
    data = path.read_bytes()
    path.unlink()
    return data


def test_shd_by_name_bins_hdf5_spikes(server, cache, monkeypatch, tmp_path):
    pytest.importorskip("h5py", reason="h5py (optional extra 'events') is not installed")
    # sample k of class c: unit 10 + c at t = 0, unit 699 at 0.75 s (frame 12), unit 5 at 1.5 s (past the window)
    def samples(n):
        return [([0.0, 0.75, 1.5], [10 + c, 699, 5], c) for c in (0, 1) for _ in range(n)]

    serve_set(monkeypatch, server, "shd", {
        "shd_train.h5.zip": zip_bytes({"shd_train.h5": shd_h5_bytes(tmp_path, samples(5))}),
        "shd_test.h5.zip": zip_bytes({"shd_test.h5": shd_h5_bytes(tmp_path, samples(2))}),
    })
    data = load_dataset("shd", seed=0)
    assert data.name == "shd" and data.input_kind == "events" and data.input_shape == (700, 1, 1)
    assert data.frames == 24 and data.num_classes == 20 and data.families == ("mlp",)
    assert (len(data.train), len(data.val), len(data.test)) == (8, 2, 4)
    x = data.test.x
    assert tuple(x.shape) == (4, 24, 700, 1, 1) and int(x.sum()) == 8  # the spike past 1.4 s is dropped
    for i, label in enumerate(data.test.y.tolist()):
        assert x[i, 0, 10 + label, 0, 0] == 1 and x[i, 12, 699, 0, 0] == 1
    with pytest.raises(UserError, match="family 'conv' does not suit") as err:
        data.check_family("conv")
    assert "\n" not in str(err.value)
    data.check_family("mlp")


def test_bad_shd_file_is_one_line(tmp_path):
    pytest.importorskip("h5py", reason="h5py (optional extra 'events') is not installed")
    import h5py

    from dse.training.datasets.shd import read_shd_file

    with h5py.File(tmp_path / "bad.h5", "w") as f:
        f.create_dataset("labels", data=np.zeros(3, np.uint16))
    with pytest.raises(UserError, match="no dataset 'spikes/times'"):
        read_shd_file(tmp_path / "bad.h5", "dataset shd")
    (tmp_path / "junk.h5").write_bytes(b"junk")
    with pytest.raises(UserError, match="not a readable HDF5 file") as err:
        read_shd_file(tmp_path / "junk.h5", "dataset shd")
    assert "\n" not in str(err.value)


def tar_gz_bytes(members: dict) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_dvsgesture_by_name_unpacks_tar_gz_of_npy(server, cache, monkeypatch):
    pytest.importorskip("tonic", reason="tonic (optional extra 'events') is not installed")

    def npy(label, k):  # [events, 4]: x, y, p, t in ms, as tonic's preprocessed files
        buf = io.BytesIO()
        np.save(buf, np.array([[127, 64, 1, 0], [4 * label, 8, 0, 10 + k], [0, 0, 1, 20 + k]], dtype=np.float64))
        return buf.getvalue()

    def split(folder, n):
        return {f"{folder}/user{k + 1:02d}_led/{label}.npy": npy(label, k) for k in range(n) for label in (3, 7)}

    serve_set(monkeypatch, server, "dvsgesture", {
        "ibmGestureTrain.tar.gz": tar_gz_bytes(split("ibmGestureTrain", 5)),
        "ibmGestureTest.tar.gz": tar_gz_bytes(split("ibmGestureTest", 1)),
    })
    data = load_dataset("dvsgesture", seed=0)
    assert data.input_shape == (2, 32, 32) and data.num_classes == 11
    assert (len(data.train), len(data.val), len(data.test)) == (8, 2, 2)
    for i, label in enumerate(data.test.y.tolist()):
        x = data.test.x[i]
        assert x[0, 1, 16, 31] == 1 and x[:, 0, 2, label].sum() == 1 and int(x.sum()) == 3


def aedat4_bytes(events, width=128, height=128) -> bytes:
    """An uncompressed AEDAT 4.0 file with one event stream (id 0) and one packet of `events` (t, x, y, on).

    Layout (aedat's decoder): "#!AER-DAT4.0\\r\\n", uint32 length, an IOHeader flatbuffer (compression
    None, file data position -1, the XML description), then uint32 stream id, uint32 length and a
    size-prefixed EventPacket flatbuffer with identifier EVTS: a vector of 16-byte Event structs.
    """
    xml = (
        '<dv version="2.0"><node name="outInfo" path="/mainloop/output_file/outInfo/">'
        '<node name="0" path="/mainloop/output_file/outInfo/0/">'
        '<attr key="compression" type="string">NONE</attr>'
        '<attr key="typeIdentifier" type="string">EVTS</attr>'
        '<node name="info" path="/mainloop/output_file/outInfo/0/info/">'
        f'<attr key="sizeX" type="int">{width}</attr><attr key="sizeY" type="int">{height}</attr>'
        '</node></node></node></dv>'
    ).encode()
    # IOHeader: root offset, "IOHE", vtable (10 bytes: vt size, table size, 3 field offsets), pad, table
    table_pos = 20
    header = struct.pack("<I", table_pos) + b"IOHE"
    header += struct.pack("<5H", 10, 24, 4, 12, 20) + b"\0\0"
    string_pos = table_pos + 24
    header += struct.pack("<iiIqI", table_pos - 8, 0, 0, -1, string_pos - (table_pos + 20))
    header += struct.pack("<I", len(xml)) + xml + b"\0"
    header += b"\0" * (-len(header) % 4)
    # EventPacket, size-prefixed: size, root offset, "EVTS", vtable (6 bytes), pad, table, vector
    body = struct.pack("<I", 16) + b"EVTS" + struct.pack("<3H", 6, 8, 4) + b"\0\0"  # from byte 4 of the buffer
    body += struct.pack("<iI", 20 - 12, 28 - 24)  # table at 20: soffset to the vtable at 12; vector at 28
    body += struct.pack("<I", len(events))
    for t, x, y, on in events:
        body += struct.pack("<qhh?3x", t, x, y, on)
    packet = struct.pack("<I", len(body)) + body
    return (b"#!AER-DAT4.0\r\n" + struct.pack("<I", len(header)) + header
            + struct.pack("<iI", 0, len(packet)) + packet)


def test_aedat4_file_written_here_reads_back_through_aedat(tmp_path):
    pytest.importorskip("aedat", reason="aedat (optional extra 'events') is not installed")
    from dse.training.datasets.cifar10dvs import read_aedat4_events

    path = tmp_path / "a.aedat4"
    path.write_bytes(aedat4_bytes([(5, 1, 2, True), (70, 127, 0, False), (900, 64, 127, True)]))
    ev = read_aedat4_events(path, "dataset cifar10-dvs")
    assert ev["t"].tolist() == [5, 70, 900] and ev["x"].tolist() == [1, 127, 64]
    assert ev["y"].tolist() == [2, 0, 127] and ev["p"].tolist() == [1, 0, 1]
    path.write_bytes(b"#!AER-DAT4.0\r\n" + b"\x05")
    with pytest.raises(UserError, match="not a readable AEDAT4 file") as err:
        read_aedat4_events(path, "dataset cifar10-dvs")
    assert "\n" not in str(err.value)


def test_cifar10_dvs_by_name_unpacks_nested_zips_of_aedat4(server, cache, monkeypatch):
    pytest.importorskip("aedat", reason="aedat (optional extra 'events') is not installed")
    classes = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
    inner = {}
    for c, cls in enumerate(classes[:2]):
        # sample k of class c: ON at (x, y) = (4 c, 8) at t = 0, OFF at (127, 127) at t = 1000 + k
        members = {f"{cls}/cifar10_{cls}_{k}.aedat4": aedat4_bytes([(0, 4 * c, 8, True), (1000 + k, 127, 127, False)])
                   for k in range(5)}
        inner[f"{cls}.zip"] = zip_bytes(members)
    serve_set(monkeypatch, server, "cifar10-dvs", {"CIFAR10DVS.zip": zip_bytes(inner)})
    data = load_dataset("cifar10-dvs", seed=0)
    assert data.name == "cifar10-dvs" and data.input_shape == (2, 32, 32) and data.num_classes == 10
    assert (len(data.train), len(data.val), len(data.test)) == (6, 2, 2)
    x = torch.cat([data.train.x, data.val.x, data.test.x])
    y = torch.cat([data.train.y, data.val.y, data.test.y])
    assert int(x.sum()) == 20
    for i, label in enumerate(y.tolist()):
        assert x[i, 0, 1, 2, label] == 1  # (4 c, 8) / 4, first frame, ON
        assert x[i, 23, 0, 31, 31] == 1  # (127, 127) / 4, last frame, OFF
