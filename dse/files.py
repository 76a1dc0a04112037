"""Atomic file writes: write a temporary file in the target's folder, then os.replace (nothing half-written).

The one mechanism for every file the tool writes (results, reports, exports, checkpoints). The
file gets the permissions of an ordinary new file (0666 less the umask), not mkstemp's 0600.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator


@contextmanager
def atomic_file(path: str | Path, mode: str = "w") -> Iterator[IO]:
    """Open a temporary sibling of `path` for writing; on success it replaces `path`, on error it is removed."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.close(fd)
        with open(tmp, mode) as handle:  # handle.name is the temporary path: a caller may check the file before the rename
            yield handle
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: str | Path, text: str) -> Path:
    """Write `text` to `path` atomically; returns the path."""
    with atomic_file(path, "w") as handle:
        handle.write(text)
    return Path(path)


def check_writable_folder(out: str | Path) -> None:
    """Refuse an output folder that sits under a file or in a folder nothing can be created in.

    The nearest existing ancestor (or `out` itself) must be a folder in which a folder can really be
    made (creation_failure). Leaves nothing behind.
    """
    from dse.errors import UserError

    probe = Path(out).absolute()
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if not probe.is_dir():
        raise UserError(f"--out {out}: {probe} is a file, not a folder")
    failure = creation_failure(probe)
    if failure is not None:
        raise UserError(f"--out {out}: cannot create anything in {probe} ({failure}); give a folder you can write")


def creation_failure(folder: Path) -> str | None:
    """Why nothing can be created in the existing `folder` (the OSError's reason), or None when a probe
    folder can be made there and removed at once. Permission bits say nothing for root, nor for /proc or
    a read-only mount, so the probe really creates."""
    try:
        Path(tempfile.mkdtemp(prefix=".dse-probe-", dir=folder)).rmdir()
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None


@contextmanager
def made_folder(path: str | Path) -> Iterator[Path]:
    """Create `path` (with its missing parents) for the duration of a step; when the step fails, remove
    the folders this call created, with what the step put in them, so a refused command leaves nothing.
    Folders that existed before are never removed."""
    from dse.errors import UserError

    path = Path(path)
    top = path.absolute()
    while not top.parent.exists() and top.parent != top:
        top = top.parent
    created = not path.exists()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"--out {path}: cannot create the folder ({exc.strerror or type(exc).__name__})") from None
    try:
        yield path
    except BaseException:
        if created:
            shutil.rmtree(top, ignore_errors=True)
        raise


def refuse_existing_files(out_dir: Path, names: list[str], force: bool) -> None:
    """UserError when out_dir is not a folder, or holds any of `names` (the files a command writes) and
    force is off; with force those files are replaced and every other file in out_dir is kept."""
    from dse.errors import UserError

    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"--out {str(out_dir)!r} is a file; give a folder")
    check_writable_folder(out_dir)
    existing = [n for n in names if (out_dir / n).exists()]
    if existing and not force:
        more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
        raise UserError(f"{out_dir / existing[0]} already exists{more}: use --force to overwrite or choose another --out")
