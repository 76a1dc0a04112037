"""Loading a named data set (catalog.NAMED): check memory, fetch into the cache, read with the set's reader.

Order: the memory estimate from the full set's size (before anything is downloaded, so a set that
cannot fit is refused first), the download / verification / unpacking (catalog.fetch), then the
reader, which checks memory again with the sample count it finds on disk.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from dse.errors import UserError
from dse.training.datasets._base import DataSplits
from dse.training.datasets.catalog import NAMED, cache_state, check_memory, fetch


def load_named(name: str, seed: int, val_fraction: float, test_fraction: float, quiet: bool = False) -> DataSplits:
    spec = NAMED[name]
    where = f"dataset {name}"
    if spec.needs:
        _check_extra(name, where)
    itemsize = 4 if spec.input_kind == "static" else 1  # static: float32 values; events: uint8 0/1
    if cache_state(name) != "present":
        check_memory(where, spec.samples, spec.sample_shape, itemsize)
    folder = fetch(name, quiet=quiet)
    data = _read(name, folder, seed, val_fraction, test_fraction, where)
    return replace(data, name=name, families=spec.families)


def _check_extra(name: str, where: str) -> None:
    import importlib.util

    module = {"shd": "h5py", "cifar10-dvs": "aedat"}.get(name, "tonic")
    if importlib.util.find_spec(module) is None:
        raise UserError(f"{where}: needs {module}, the optional extra 'events': pip install -e '.[events]'")


def _read(name: str, folder: Path, seed: int, val_fraction: float, test_fraction: float, where: str) -> DataSplits:
    if name in ("mnist", "fashion-mnist"):
        from dse.training.datasets.idx import load_idx_folder

        return load_idx_folder(folder, name, seed, val_fraction)
    if name == "shd":
        from dse.training.datasets.shd import load_shd_folder

        return load_shd_folder(folder, name, seed, val_fraction)
    if name == "nmnist":
        from dse.training.datasets.tonic_sets import load_nmnist

        return load_nmnist(str(folder), seed, val_fraction, test_fraction, where=where)
    if name == "dvsgesture":
        from dse.training.datasets.tonic_sets import load_dvsgesture

        return load_dvsgesture(str(folder), seed, val_fraction, test_fraction, where=where)
    if name == "cifar10-dvs":
        from dse.training.datasets.tonic_sets import load_cifar10dvs

        return load_cifar10dvs(str(folder), seed, val_fraction, test_fraction, where=where)
    raise KeyError(name)  # pragma: no cover - NAMED and this list are kept together
