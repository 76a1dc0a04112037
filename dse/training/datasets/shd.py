"""Spiking Heidelberg Digits (SHD): spikes of 700 cochlea channels, 20 classes (digits 0-9 in English
and German), read from the published HDF5 files with h5py (extra `events`).

HDF5 layout (Cramer et al. 2020; tonic.datasets.SHD reads the same keys): `spikes/times`
(variable-length float arrays, seconds), `spikes/units` (variable-length integer arrays, channel
0..699), `labels` (integers 0..19); `extra/` (speakers, keys) is not needed. shd_train.h5 and
shd_test.h5 are the train and test splits; the validation split is cut from train with the seed.

Binning: SHD_FRAMES equal bins over a fixed window of SHD_WINDOW_S seconds from the recording's
start (times are aligned to the word's onset in the published files); a bin holds a 1 at a channel
when the channel spiked in it. Spikes at or after the window's end are dropped, as in the SHD
tutorial code (Zenke's spytorch: max_time 1.4 s). One sample: [24, 700, 1, 1] uint8, i.e. [T, 700]
binned spikes with a 1x1 "image" per channel so the [N, T, C, H, W] event layout holds. MLP only:
the channels have no spatial neighbourhood for a convolution (DataSplits.families).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dse.errors import UserError
from dse.training.datasets._base import DataSplits, split_off, to_split

SHD_CHANNELS = 700
SHD_CLASSES = 20
SHD_FRAMES = 24
SHD_WINDOW_S = 1.4


def _h5py(where: str):  # noqa: ANN202
    try:
        import h5py
    except ImportError:
        raise UserError(f"{where}: reading SHD's HDF5 files needs h5py, the optional extra 'events': pip install -e '.[events]'") from None
    return h5py


def shd_count(path: Path, where: str) -> int:
    """Samples in one SHD file (its labels), for the memory check before the frames are made."""
    h5py = _h5py(where)
    try:
        with h5py.File(path, "r") as f:
            return int(f["labels"].shape[0])
    except (OSError, KeyError) as exc:
        raise UserError(f"{where}: {path}: not an SHD HDF5 file ({type(exc).__name__}: {exc})") from None


def read_shd_file(path: Path, where: str, frames: int = SHD_FRAMES, window_s: float = SHD_WINDOW_S) -> tuple[np.ndarray, np.ndarray]:
    """(frames [N, frames, 700, 1, 1] uint8 0/1, labels [N]) of one SHD HDF5 file."""
    h5py = _h5py(where)
    try:
        with h5py.File(path, "r") as f:
            for key in ("spikes/times", "spikes/units", "labels"):
                if key not in f:
                    raise UserError(f"{where}: {path}: no dataset '{key}'; SHD files hold spikes/times, spikes/units, labels")
            times, units, labels = f["spikes/times"][:], f["spikes/units"][:], np.asarray(f["labels"][:])
    except OSError as exc:
        raise UserError(f"{where}: {path}: not a readable HDF5 file ({type(exc).__name__}: {exc})") from None
    n = len(labels)
    if len(times) != n or len(units) != n:
        raise UserError(f"{where}: {path}: {len(times)} spike-time lists, {len(units)} unit lists, {n} labels; need one each per sample")
    if labels.dtype.kind not in "iu" or (n and (labels.min() < 0 or labels.max() >= SHD_CLASSES)):
        raise UserError(f"{where}: {path}: labels must be integers 0..{SHD_CLASSES - 1}")
    out = np.zeros((n, frames, SHD_CHANNELS, 1, 1), dtype=np.uint8)
    for i in range(n):
        t = np.asarray(times[i], dtype=np.float64)
        u = np.asarray(units[i]).astype(np.int64)
        if t.shape != u.shape:
            raise UserError(f"{where}: {path}: sample {i} has {t.size} spike times and {u.size} units")
        if u.size and (u.min() < 0 or u.max() >= SHD_CHANNELS):
            raise UserError(f"{where}: {path}: sample {i} has units outside 0..{SHD_CHANNELS - 1}")
        if not np.isfinite(t).all() or (t.size and t.min() < 0):
            raise UserError(f"{where}: {path}: sample {i} has negative or non-finite spike times")
        keep = t < window_s
        index = np.floor(t[keep] * frames / window_s).astype(np.int64)
        out[i, index, u[keep], 0, 0] = 1
    return out, labels.astype(np.int64)


def load_shd_folder(folder: Path, name: str, seed: int, val_fraction: float) -> DataSplits:
    """SHD from a folder holding shd_train.h5 and shd_test.h5 (the unpacked downloads)."""
    from dse.training.datasets.catalog import check_memory

    where = f"dataset {name}"
    files = [folder / "shd_train.h5", folder / "shd_test.h5"]
    for file in files:
        if not file.is_file():
            raise UserError(f"{where}: no file {file}")
    total = sum(shd_count(f, where) for f in files)
    check_memory(where, total, (SHD_FRAMES, SHD_CHANNELS, 1, 1), 1)
    train_x, train_y = read_shd_file(files[0], where)
    test = to_split(*read_shd_file(files[1], where))
    train, val = split_off(train_x, train_y, val_fraction, seed, where)
    return DataSplits(
        name=name, train=train, val=val, test=test, input_shape=(SHD_CHANNELS, 1, 1), num_classes=SHD_CLASSES,
        input_kind="events", frames=SHD_FRAMES, in_step=1.0, families=("mlp",),
    )
