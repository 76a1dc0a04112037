"""Atomic file writes: write a temporary file in the target's folder, then os.replace (nothing half-written).

The one mechanism for every file the tool writes (results, reports, exports, checkpoints). The
file gets the permissions of an ordinary new file (0666 less the umask), not mkstemp's 0600.
"""

from __future__ import annotations

import os
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
        with os.fdopen(fd, mode) as handle:
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
    """Refuse an output folder that sits under a file or a folder we cannot write; creates nothing.

    The nearest existing ancestor (or `out` itself) must be a writable folder.
    """
    from dse.errors import UserError

    probe = Path(out).absolute()
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if not probe.is_dir():
        raise UserError(f"--out {out}: {probe} is a file, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UserError(f"--out {out}: folder {probe} is not writable")
