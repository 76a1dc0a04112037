"""`dse datasets`: every data set by name, with its download size, what is on disk, one sample's
shape, classes and cache state (present / absent / partial; built in for the generated ones)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from dse.cli._common import make_console


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register the `datasets` subcommand; returns its parser."""
    p = sub.add_parser(
        "datasets", help="list the data sets by name, their sizes and cache state",
        description="List every data set --dataset accepts by name: download size, size on disk in the cache, "
        "input shape, classes, kind and cache state. Cache: $DSE_DATA_DIR, else ~/.cache/snn-dse/datasets.",
    )
    p.add_argument("--json", action="store_true", help="print the list as JSON on stdout")
    return p


def rows() -> list[dict[str, Any]]:
    """One dict per named set, built in ones first."""
    from dse.training.datasets.catalog import NAMED, cache_state, disk_bytes
    from dse.training.datasets.download import cache_dir

    out: list[dict[str, Any]] = [
        {"name": "digits", "title": "scikit-learn's bundled 8x8 digits", "kind": "static", "input_shape": [1, 8, 8],
         "classes": 10, "samples": 1797, "download_bytes": 0, "disk_bytes": 0, "cache": "built in",
         "families": ["mlp", "conv"], "path": None, "files": []},
        {"name": "digits-dvs", "title": "the digits through a simulated event camera", "kind": "events",
         "input_shape": [24, 2, 20, 20], "classes": 10, "samples": 1797, "download_bytes": 0, "disk_bytes": 0,
         "cache": "built in", "families": ["mlp", "conv"], "path": None, "files": []},
        {"name": "digits-dvs34", "title": "the digits at N-MNIST's 34x34 sensor geometry (synthetic; default study)",
         "kind": "events", "input_shape": [16, 2, 34, 34], "classes": 10, "samples": 1797, "download_bytes": 0,
         "disk_bytes": 0, "cache": "built in", "families": ["mlp", "conv"], "path": None, "files": []},
    ]
    for name, spec in NAMED.items():
        out.append({
            "name": name, "title": spec.title, "kind": spec.input_kind, "input_shape": list(spec.sample_shape),
            "classes": spec.classes, "samples": spec.samples, "download_bytes": spec.download_bytes,
            "disk_bytes": disk_bytes(name), "cache": cache_state(name), "families": list(spec.families),
            "path": str(cache_dir(name)), "format": spec.file_format,
            "files": [{"filename": r.filename, "urls": list(r.urls), "md5": r.md5, "bytes": r.size} for r in spec.files],
        })
    return out


def run(args: argparse.Namespace) -> int:
    """Print the table (or JSON); returns 0."""
    from rich.table import Table

    from dse.training.datasets.catalog import human_bytes
    from dse.training.datasets.download import cache_root

    listing = rows()
    if args.json:
        print(json.dumps({"cache": str(cache_root()), "datasets": listing}, indent=2))
        return 0
    table = Table(title=f"Data sets (--dataset NAME); cache {cache_root()}")
    for column in ("name", "what", "download", "on disk", "input [T,] C, H, W", "classes", "kind", "cache"):
        table.add_column(column)
    for r in listing:
        download = "-" if r["cache"] == "built in" else human_bytes(r["download_bytes"])
        disk = "-" if r["cache"] == "built in" else human_bytes(r["disk_bytes"])
        kind = r["kind"] + (" (mlp only)" if r["families"] == ["mlp"] else "")
        table.add_row(r["name"], r["title"], download, disk, "x".join(str(s) for s in r["input_shape"]),
                      str(r["classes"]), kind, r["cache"])
    make_console().print(table)
    return 0
