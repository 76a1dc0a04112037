"""MNIST and Fashion-MNIST from their published idx files (gzip'ed idx3-ubyte images, idx1-ubyte labels).

idx: a big-endian header (two zero bytes, a type byte 0x08 for unsigned bytes, the number of
dimensions), one big-endian uint32 per dimension, then the values. Images [N, 28, 28] uint8 0..255
become static inputs [N, 1, 28, 28] in [0, 4] on a grid of 4/255 (8-bit input codes kept, as
npz:PATH keeps integer images); the published test files are the test split, the validation split
is cut from the training files stratified by class with the seed.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from dse.errors import UserError
from dse.training.datasets._base import INPUT_GAIN, DataSplits, split_off, to_split

LEVELS = 255
IDX_UBYTE = 0x08


def read_idx(path: Path, where: str) -> np.ndarray:
    """One gzip'ed (or plain) idx file of unsigned bytes as an array; a malformed file is a UserError."""
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise UserError(f"{where}: {path}: not a readable gzip'ed idx file ({type(exc).__name__}: {exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != IDX_UBYTE or raw[3] == 0:
        raise UserError(f"{where}: {path}: no idx header of unsigned bytes (00 00 08 NDIM)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise UserError(f"{where}: {path}: idx header cut short")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    count = int(np.prod(shape))
    if len(raw) - header != count:
        raise UserError(f"{where}: {path}: holds {len(raw) - header} values, its header says {shape} = {count}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def read_idx_pair(folder: Path, prefix: str, where: str) -> tuple[np.ndarray, np.ndarray]:
    """(images [N, H, W], labels [N]) from PREFIX-images-idx3-ubyte.gz and PREFIX-labels-idx1-ubyte.gz."""
    images = read_idx(folder / f"{prefix}-images-idx3-ubyte.gz", where)
    labels = read_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", where)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise UserError(f"{where}: {prefix} images {images.shape} and labels {labels.shape} do not pair up ([N, H, W] and [N])")
    return images, labels.astype(np.int64)


def load_idx_folder(folder: Path, name: str, seed: int, val_fraction: float, num_classes: int = 10) -> DataSplits:
    """The splits of an MNIST-style folder (module docstring)."""
    where = f"dataset {name}"
    train_x, train_y = read_idx_pair(folder, "train", where)
    test_x, test_y = read_idx_pair(folder, "t10k", where)
    if train_x.shape[1:] != test_x.shape[1:]:
        raise UserError(f"{where}: train images {train_x.shape[1:]} and test images {test_x.shape[1:]} differ in size")
    for y in (train_y, test_y):
        if len(y) and int(y.max()) >= num_classes:
            raise UserError(f"{where}: labels up to {int(y.max())}; accepted: 0..{num_classes - 1}")

    def values(x: np.ndarray) -> np.ndarray:
        return (x.astype(np.float32) * np.float32(INPUT_GAIN / LEVELS))[:, None]

    train, val = split_off(values(train_x), train_y, val_fraction, seed, where)
    h, w = train_x.shape[1:]
    return DataSplits(
        name=name, train=train, val=val, test=to_split(values(test_x), test_y), input_shape=(1, h, w),
        num_classes=num_classes, input_kind="static", frames=None, in_step=INPUT_GAIN / LEVELS,
    )
