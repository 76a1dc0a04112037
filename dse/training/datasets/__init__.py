"""Data sets by name, one loader per module behind `load_dataset(name, seed)`.

Built in (no download): `digits` (scikit-learn's 8x8 digits, static), `digits-dvs` (the same
digits moved in three saccades before a simulated 20x20 event camera) and `digits-dvs34` (the
digits upsampled to MNIST's 20x20 box, on N-MNIST's 34x34 sensor geometry; synthetic; the
default study's).
By name, downloaded once into the cache (catalog.py, download.py): `mnist`, `fashion-mnist`,
`nmnist`, `shd`, `dvsgesture`, `cifar10-dvs`. From files: `npz:PATH` (your own arrays),
`nmnist:PATH` and `dvsgesture:PATH` (local copies read with tonic, extra `events`).
docs/datasets.md describes each set's shape, input step and how T is handled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from dse.training.datasets._base import INPUT_GAIN, INPUT_KINDS, DataSplits, Split
from dse.errors import UserError

BUILTIN = ("digits", "digits-dvs", "digits-dvs34")
DOWNLOADED = ("mnist", "fashion-mnist", "nmnist", "shd", "dvsgesture", "cifar10-dvs")  # catalog.NAMED
FILE_FORMS = ("npz", "nmnist", "dvsgesture")  # name:PATH
ACCEPTED = ", ".join((*BUILTIN, *DOWNLOADED, *(f"{form}:PATH" for form in FILE_FORMS)))


def check_dataset_name(name: str) -> None:
    """Refuse, in one line, a name that is no accepted form or whose PATH does not exist."""
    if name in BUILTIN or name in DOWNLOADED:
        return
    form, sep, path = str(name).partition(":")
    if not sep or form not in FILE_FORMS:
        raise UserError(f"unknown dataset {name!r}; accepted: {ACCEPTED}")
    if not path:
        raise UserError(f"dataset {name!r} names no path; accepted: {ACCEPTED}")
    p = Path(path)
    if form == "npz" and not p.is_file():
        raise UserError(f"dataset {name!r}: no such file {path}")
    if form != "npz" and not p.is_dir():
        raise UserError(f"dataset {name!r}: no such folder {path}")


def load_dataset(name: str, seed: int = 0, val_fraction: float = 0.2, test_fraction: float = 0.2) -> DataSplits:
    """Load a data set by name (module docstring) and split it stratified by class with the seed."""
    check_dataset_name(name)
    return _loader(name)(seed, val_fraction, test_fraction)


def _loader(name: str) -> Callable[[int, float, float], DataSplits]:
    if name == "digits":
        from dse.training.datasets.digits import load_digits_static

        return load_digits_static
    if name == "digits-dvs":
        from dse.training.datasets.saccades import load_digits_dvs

        return load_digits_dvs
    if name == "digits-dvs34":
        from dse.training.datasets.digits_sensor import load_digits_sensor

        return load_digits_sensor
    if name in DOWNLOADED:
        from dse.training.datasets.named import load_named

        return lambda seed, val, test: load_named(name, seed, val, test)
    form, _, path = name.partition(":")
    if form == "npz":
        from dse.training.datasets.npz_files import load_npz as load
    elif form == "nmnist":
        from dse.training.datasets.tonic_sets import load_nmnist as load
    else:
        from dse.training.datasets.tonic_sets import load_dvsgesture as load
    return lambda seed, val, test: load(path, seed, val, test)


__all__ = [
    "ACCEPTED", "BUILTIN", "DOWNLOADED", "FILE_FORMS", "INPUT_GAIN", "INPUT_KINDS", "DataSplits", "Split",
    "check_dataset_name", "load_dataset",
]
