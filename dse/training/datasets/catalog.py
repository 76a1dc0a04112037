"""The field's data sets by name: where each file comes from (URL, MD5 as published), what it
holds, and how it is fetched into the cache (dse.training.datasets.download) and unpacked.

mnist and fashion-mnist: the gzip'ed idx files (URLs and MD5s as torchvision publishes them).
nmnist, shd, dvsgesture, cifar10-dvs: tonic's sources (URL, MD5 and file name as tonic 1.7.0's
dataset classes hold them, copied here so `dse datasets` needs no tonic; a test compares them with
the installed tonic). tonic's own download code is not used: it neither resumes nor deletes a corrupt file.
"""

from __future__ import annotations

import os
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from dse.errors import UserError
from dse.training.datasets.download import (
    cache_dir, check_writable, download, md5_of, part_path, source_urls,
)

EVENT_FRAMES = 24  # every event set here: divisible by T = 1, 2, 3, 4, 6, 8, 12, 24


@dataclass(frozen=True)
class Remote:
    """One published file: its name in the cache, the URLs to try in order, its MD5 and size (bytes, None: unknown)."""

    filename: str
    urls: tuple[str, ...]
    md5: str
    size: int | None = None
    extract: bool = False  # a .zip / .tar.gz unpacked into the set's folder (nested .zip files too)


@dataclass(frozen=True)
class NamedSet:
    """A data set by name: its files, format, one sample's shape and how many samples the full set has."""

    name: str
    title: str
    files: tuple[Remote, ...]
    file_format: str
    sample_shape: tuple[int, ...]  # one sample as stored: [C, H, W] static, [T, C, H, W] events
    classes: int
    samples: int  # the full set (train + test): the memory estimate before a download
    input_kind: str
    families: tuple[str, ...] = ("mlp", "conv")
    needs: str = ""  # the optional extra, when one is needed

    @property
    def download_bytes(self) -> int | None:
        sizes = [f.size for f in self.files]
        return None if any(s is None for s in sizes) else sum(sizes)  # type: ignore[arg-type]


_MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
_MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
_MNIST_MD5 = ("f68b3c2dcbeaaa9fbdd348bbdeb94873", "d53e105ee54ea40749a09fcbcd1e9432", "9fb629c4189551a2d022fa330f9573f3", "ec29112dd5afa0611ce80d1b7f02629c")
_MNIST_SIZE = (9912422, 28881, 1648877, 4542)
_FASHION_MIRRORS = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
_FASHION_MD5 = ("8d4fb7e6c68d591d4c3dfef9ec88bf0d", "25c81989df183df01b3e8a0aad5dffbe", "bef4ecab320f06d8554ea6380940ec79", "bb300cfdad3c16e7a12a480ee83cd310")
_FASHION_SIZE = (26421880, 29515, 4422102, 5148)


def _idx_files(mirrors: tuple[str, ...], md5s: tuple[str, ...], sizes: tuple[int, ...]) -> tuple[Remote, ...]:
    return tuple(Remote(f, tuple(m + f for m in mirrors), md5, size) for f, md5, size in zip(_MNIST_FILES, md5s, sizes))


def _tonic_remote(filename: str, url: str, md5: str) -> Remote:
    """A file as tonic 1.7.0's dataset class publishes it (tests/test_dataset_downloads.py checks the values
    against the installed tonic's class attributes, so a release that moves a file is noticed)."""
    return Remote(filename, (url,), md5, None, extract=True)


def _event_files() -> dict[str, tuple[Remote, ...]]:
    nmnist_base = "https://data.mendeley.com/public-files/datasets/468j46mzdv/files/"
    return {
        "nmnist": (
            _tonic_remote("train.zip", nmnist_base + "39c25547-014b-4137-a934-9d29fa53c7a0/file_downloaded",
                          "20959b8e626244a1b502305a9e6e2031"),
            _tonic_remote("test.zip", nmnist_base + "05a4d654-7e03-4c15-bdfa-9bb2bcbea494/file_downloaded",
                          "69ca8762b2fe404d9b9bad1103e97832"),
        ),
        "shd": (
            _tonic_remote("shd_train.h5.zip", "https://zenkelab.org/datasets/shd_train.h5.zip",
                          "f3252aeb598ac776c1b526422d90eecb"),
            _tonic_remote("shd_test.h5.zip", "https://zenkelab.org/datasets/shd_test.h5.zip",
                          "1503a5064faa34311c398fb0a1ed0a6f"),
        ),
        "dvsgesture": (
            _tonic_remote("ibmGestureTrain.tar.gz", "https://figshare.com/ndownloader/files/38022171",
                          "3a8f0d4120a166bac7591f77409cb105"),
            _tonic_remote("ibmGestureTest.tar.gz", "https://figshare.com/ndownloader/files/38020584",
                          "56070e45dadaa85fff82e0fbfbc06de5"),
        ),
        "cifar10-dvs": (
            _tonic_remote("CIFAR10DVS.zip", "https://figshare.com/ndownloader/files/38023437",
                          "ce3a4a0682dc0943703bd8f749a7701c"),
        ),
    }


def _build() -> dict[str, NamedSet]:
    ev = _event_files()
    f = EVENT_FRAMES
    return {
        "mnist": NamedSet("mnist", "MNIST handwritten digits (idx)", _idx_files(_MNIST_MIRRORS, _MNIST_MD5, _MNIST_SIZE),
                          "gzip'ed idx3-ubyte images + idx1-ubyte labels", (1, 28, 28), 10, 70000, "static"),
        "fashion-mnist": NamedSet("fashion-mnist", "Fashion-MNIST clothing images (idx)",
                                  _idx_files(_FASHION_MIRRORS, _FASHION_MD5, _FASHION_SIZE),
                                  "gzip'ed idx3-ubyte images + idx1-ubyte labels", (1, 28, 28), 10, 70000, "static"),
        "nmnist": NamedSet("nmnist", "N-MNIST (ATIS saccades over MNIST)", ev["nmnist"],
                           "zip of Train|Test/<digit>/*.bin, 40-bit events", (f, 2, 34, 34), 10, 70000, "events", needs="events"),
        "shd": NamedSet("shd", "Spiking Heidelberg Digits (700-channel cochlea spikes)", ev["shd"],
                        "zip of HDF5: spikes/times, spikes/units, labels", (f, 700, 1, 1), 20, 10420, "events",
                        families=("mlp",), needs="events"),
        "dvsgesture": NamedSet("dvsgesture", "IBM DVS Gesture (tonic's preprocessed .npy)", ev["dvsgesture"],
                               "tar.gz of <user_lighting>/<label>.npy [x, y, p, t ms]", (f, 2, 32, 32), 11, 1341, "events",
                               needs="events"),
        "cifar10-dvs": NamedSet("cifar10-dvs", "CIFAR10-DVS (tonic's AEDAT4 release)", ev["cifar10-dvs"],
                                "zip of <class>.zip of *.aedat4 (AEDAT 4.0)", (f, 2, 32, 32), 10, 10000, "events",
                                needs="events"),
    }


NAMED: dict[str, NamedSet] = _build()


# ---- the cache ----------------------------------------------------------------------------------


def _stamp(folder: Path, remote: Remote) -> Path:
    """Written once `remote` is verified (and unpacked): a file there with its MD5 is not hashed again."""
    return folder / f".{remote.filename}.ok"


def _is_done(folder: Path, remote: Remote) -> bool:
    stamp = _stamp(folder, remote)
    try:
        return stamp.read_text().strip() == remote.md5 and (folder / remote.filename).is_file()
    except OSError:
        return False


def cache_state(name: str) -> str:
    """present (every file verified), partial (some file or .part there), absent (nothing)."""
    spec, folder = NAMED[name], cache_dir(name)
    if all(_is_done(folder, r) for r in spec.files):
        return "present"
    if any((folder / r.filename).exists() or part_path(folder / r.filename).exists() for r in spec.files):
        return "partial"
    return "absent"


def disk_bytes(name: str) -> int:
    """Bytes the set's cache folder holds now (downloads, .part files and unpacked files)."""
    folder = cache_dir(name)
    if not folder.is_dir():
        return 0
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def fetch(name: str, quiet: bool = False) -> Path:
    """Make the set's files present in the cache (download, verify, unpack); returns its folder.

    A file already there is verified once against the published MD5 (a stamp remembers it); a file
    placed by hand with another MD5 is reported in one line and left as it is.
    """
    spec, folder = NAMED[name], cache_dir(name)
    for remote in spec.files:
        if _is_done(folder, remote):
            continue
        check_writable(folder)
        dest = folder / remote.filename
        if dest.is_file():
            got = md5_of(dest)
            if got != remote.md5:
                raise UserError(
                    f"dataset {name}: {dest} has MD5 {got}, not the published {remote.md5}; delete it (it is "
                    f"downloaded again) or place the right file there"
                )
        else:
            download(source_urls(name, remote.filename, remote.urls), dest, remote.md5, size=remote.size, quiet=quiet)
        if remote.extract:
            unpack(dest, folder, name)
        _stamp(folder, remote).write_text(remote.md5 + "\n")
    return folder


def unpack(archive: Path, folder: Path, name: str) -> None:
    """A .zip or .tar(.gz) into folder; .zip files it held are unpacked in turn (CIFAR10-DVS's per-class zips)."""
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as z:
                inner = [n for n in z.namelist() if n.lower().endswith(".zip")]
                _check_members(z.namelist(), archive, name)
                z.extractall(folder)
            for member in inner:
                unpack(folder / member, folder / Path(member).parent, name)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as t:
                _check_members(t.getnames(), archive, name)
                if hasattr(tarfile, "data_filter"):
                    t.extractall(folder, filter="data")
                else:  # pragma: no cover - Python < 3.11.4
                    t.extractall(folder)
        else:
            raise UserError(f"dataset {name}: {archive} is neither a zip nor a tar archive")
    except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError) as exc:
        raise UserError(f"dataset {name}: cannot unpack {archive} ({type(exc).__name__}: {exc})") from None


def _check_members(names: list[str], archive: Path, name: str) -> None:
    for member in names:
        if member.startswith("/") or ".." in Path(member).parts:
            raise UserError(f"dataset {name}: {archive} holds a member outside its folder ({member}); refused")


# ---- memory -------------------------------------------------------------------------------------


def available_memory() -> int | None:
    """Bytes of memory available now (psutil, else /proc/meminfo's MemAvailable, else free pages); None: unknown."""
    try:
        import psutil  # type: ignore[import-not-found]

        return int(psutil.virtual_memory().available)
    except Exception:
        pass
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(where: str, samples: int, sample_shape: tuple[int, ...], itemsize: int) -> None:
    """Refuse in one line a set whose array [N, *sample_shape] would not fit: the array and one copy
    (the stratified split copies it) must fit in the available memory."""
    per_sample = itemsize
    for s in sample_shape:
        per_sample *= int(s)
    array = samples * per_sample
    need = 2 * array
    have = available_memory()
    if have is not None and need > have:
        dims = " x ".join(str(d) for d in (samples, *sample_shape))
        raise UserError(
            f"{where}: needs about {_gb(need)} of memory (the array {dims} x {itemsize} B = {_gb(array)}, "
            f"and a copy while splitting); {_gb(have)} is available"
        )


def _gb(n: int) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB"


def human_bytes(n: int | None) -> str:
    if n is None:
        return "unknown"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} B"


__all__ = [
    "EVENT_FRAMES", "NAMED", "NamedSet", "Remote", "available_memory", "cache_state", "check_memory", "disk_bytes",
    "fetch", "human_bytes", "unpack",
]
