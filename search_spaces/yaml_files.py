"""Reading a shipped-or-user YAML file by name or path, with one-line errors (spaces, studies)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def read_named_yaml(name_or_path: str, folder: Path, kind: str) -> tuple[Path, Any]:
    """Load `folder/NAME.yaml` or a .yaml/.yml path with yaml.safe_load.

    Raises ValueError naming the file (or the accepted names) when it is unknown, unreadable or
    not valid YAML; callers wrap it in their own error type.
    """
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = folder / f"{name_or_path}.yaml"
        if not path.is_file():
            known = ", ".join(sorted(p.stem for p in folder.glob("*.yaml")))
            raise ValueError(f"unknown {kind} {name_or_path!r}; accepted: {known} or a .yaml path")
    try:
        return path, yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ValueError(f"cannot read {kind} file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        raise ValueError(f"{kind} file {path} is not valid YAML{at}") from None
