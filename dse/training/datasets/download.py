"""The cache folder and the downloader of the named data sets: MD5 as published, a progress bar,
resumable downloads (HTTP Range on a .part file), and every failure in one line (UserError).

Cache: $DSE_DATA_DIR, else ~/.cache/snn-dse/datasets; one folder per set (cache_dir(name)).
A file is downloaded to FILE.part; an interrupted download keeps the .part and the next run asks
the server for the rest (Range: bytes=N-). Only a file whose MD5 matches the published one is
renamed to FILE; a complete .part with another MD5 (corrupt or truncated) is deleted and reported.
$DSE_DATA_URL replaces every set's sources by $DSE_DATA_URL/<set>/<file> (a local mirror).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import urllib.error
import urllib.request
from pathlib import Path
from typing import Sequence

from dse.errors import UserError
from dse.files import creation_failure

ENV_DIR = "DSE_DATA_DIR"
ENV_URL = "DSE_DATA_URL"
DEFAULT_DIR = Path("~/.cache/snn-dse/datasets")
CHUNK = 1 << 20
TIMEOUT_S = 30.0
USER_AGENT = "snn-dse"


def cache_root() -> Path:
    """$DSE_DATA_DIR, else ~/.cache/snn-dse/datasets (not created here)."""
    env = os.environ.get(ENV_DIR)
    return Path(env).expanduser() if env else DEFAULT_DIR.expanduser()


def cache_dir(name: str) -> Path:
    """The folder of one named set: cache_root()/name."""
    return cache_root() / name


def check_writable(folder: Path) -> None:
    """Create `folder` if needed and prove a file can be written there; one line when not."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        failure = creation_failure(folder)
    except OSError as exc:
        failure = exc.strerror or type(exc).__name__
    if failure is not None:
        raise UserError(f"cache folder {folder} is not writable ({failure}); set {ENV_DIR} to a writable folder")


def md5_of(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def part_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def source_urls(set_name: str, filename: str, urls: Sequence[str]) -> tuple[str, ...]:
    """The URLs to try in order: $DSE_DATA_URL/<set>/<file> alone when that is set, else the published ones."""
    base = os.environ.get(ENV_URL)
    if base:
        return (f"{base.rstrip('/')}/{set_name}/{filename}",)
    return tuple(urls)


def download(
    urls: Sequence[str], dest: Path, md5: str, *, size: int | None = None, quiet: bool = False,
    timeout: float = TIMEOUT_S,
) -> Path:
    """Download `dest` from the first URL that answers, resuming a .part file; verify the MD5.

    Raises UserError (one line) when every URL fails (naming them and where to put the file by
    hand) or when the finished file's MD5 is not the published one (the file is deleted).
    """
    part = part_path(dest)
    errors = []
    for url in urls:
        try:
            _fetch(url, part, dest.name, size, quiet, timeout)
        except _Failed as exc:
            errors.append(f"{url} ({exc})")
            continue
        got = md5_of(part)
        if got != md5:
            n = part.stat().st_size
            part.unlink()
            raise UserError(
                f"{dest.name} from {url}: MD5 {got} of {n} bytes is not the published {md5} "
                f"(corrupt or truncated download); deleted it, run again to download it anew"
            )
        part.replace(dest)
        return dest
    kept = f" ({part.stat().st_size} bytes kept in {part.name}; the next run resumes)" if part.exists() else ""
    raise UserError(
        f"cannot download {dest.name}: {'; '.join(errors)}{kept}; with no network, place the file by hand "
        f"at {dest} (MD5 {md5})"
    )


class _Failed(Exception):
    """One URL failed; the message says why, in a few words."""


def _fetch(url: str, part: Path, label: str, size: int | None, quiet: bool, timeout: float) -> None:
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": USER_AGENT}
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # the .part is already whole: let the MD5 decide
            return
        raise _Failed(f"HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise _Failed(_reason(exc.reason)) from None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise _Failed(_reason(exc)) from None
    with response:
        resumed = have > 0 and response.status == 206 and _range_start(response) == have
        if not resumed:
            have = 0  # the server sent the whole file
        length = response.headers.get("Content-Length")
        total = have + int(length) if length and length.isdigit() else size
        try:
            with open(part, "ab" if resumed else "wb") as fh, _Progress(label, total, have, quiet) as bar:
                while True:
                    chunk = response.read(CHUNK)
                    if not chunk:
                        break
                    fh.write(chunk)
                    bar.advance(len(chunk))
        except PermissionError as exc:
            raise UserError(f"cannot write {part}: {exc.strerror}; set {ENV_DIR} to a writable folder") from None
        except (OSError, http.client.HTTPException) as exc:
            raise _Failed(f"interrupted: {_reason(exc)}") from None


def _range_start(response: http.client.HTTPResponse) -> int | None:
    value = response.headers.get("Content-Range", "")  # bytes START-END/TOTAL
    try:
        return int(value.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return None


def _reason(exc: object) -> str:
    if isinstance(exc, socket.timeout):
        return "timed out"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


class _Progress:
    """A rich progress bar on stderr (nothing when quiet)."""

    def __init__(self, label: str, total: int | None, done: int, quiet: bool) -> None:
        self.label, self.total, self.done, self.quiet = label, total, done, quiet
        self.progress = None

    def __enter__(self) -> "_Progress":
        if not self.quiet:
            from rich.console import Console
            from rich.progress import (
                BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn,
            )

            self.progress = Progress(
                TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                TimeRemainingColumn(), console=Console(stderr=True), transient=False,
            )
            self.progress.start()
            self.task = self.progress.add_task(f"downloading {self.label}", total=self.total, completed=self.done)
        return self

    def advance(self, n: int) -> None:
        if self.progress is not None:
            self.progress.advance(self.task, n)

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()


__all__ = [
    "DEFAULT_DIR", "ENV_DIR", "ENV_URL", "cache_dir", "cache_root", "check_writable", "download", "md5_of",
    "part_path", "source_urls",
]
