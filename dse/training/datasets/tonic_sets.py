"""N-MNIST and DVS Gesture from a local folder, read with tonic (optional extra `events`).

`nmnist:PATH`: PATH holds Train/<digit>/*.bin and Test/<digit>/*.bin (the extracted archives;
PATH may also be tonic's save_to folder holding NMNIST/). Each .bin is N-MNIST's 40-bit event
list, read by tonic.io.read_mnist_file; sensor 34x34, 10 classes.
`cifar10-dvs` (by name only): <class>/*.aedat4 files, read by dse.training.datasets.cifar10dvs.
`dvsgesture:PATH`: PATH holds ibmGestureTrain/userNN_<lighting>/<label>.npy and ibmGestureTest/
(tonic's preprocessed DVS Gesture; or tonic's save_to holding DVSGesture/). Each .npy is an
[events, 4] array of x, y, p, t in ms, converted exactly as tonic.datasets.DVSGesture does;
sensor 128x128 downsampled by 4 to 32x32 (tonic.transforms.Downsample), 11 classes.

Every sample becomes EVENT_FRAMES frames of 0/1, equal time bins from its first event to just
past its last (events_to_frames). A missing Test folder is cut from Train.
tonic's own Dataset classes are not used: they download unless a full archive is present.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np

from dse.training.datasets._base import DataSplits, split_off, stratified_splits, to_split
from dse.errors import UserError

EVENT_FRAMES = 24  # as digits-dvs: divisible by T = 1, 2, 3, 4, 6, 8, 12, 24
DVSGESTURE_SPATIAL_FACTOR = 0.25  # 128x128 -> 32x32
NMNIST_CLASSES = 10
DVSGESTURE_CLASSES = 11


def _tonic(where: str) -> Any:
    try:
        import tonic
        import tonic.transforms  # noqa: F401
    except ImportError:
        raise UserError(
            f"{where}: reading event data sets needs tonic, the optional extra 'events': pip install -e '.[events]'"
        ) from None
    return tonic


def _root(path: str, subfolder: str, train_folder: str, where: str) -> Path:
    """The folder holding train_folder: PATH itself or PATH/subfolder (tonic's save_to layout)."""
    p = Path(path)
    for root in (p, p / subfolder):
        if (root / train_folder).is_dir():
            return root
    raise UserError(f"{where}: no folder {train_folder}/ in {p} or {p / subfolder}")


def nmnist_files(root: Path, folder: str, where: str) -> list[tuple[Path, int]]:
    """(file, label) for folder/<digit>/*.bin, sorted as tonic sorts them."""
    out = []
    for class_dir in sorted(d for d in (root / folder).iterdir() if d.is_dir()):
        if not (class_dir.name.isdigit() and int(class_dir.name) < NMNIST_CLASSES):
            raise UserError(f"{where}: folder {class_dir} is not a digit class 0..9")
        out += [(f, int(class_dir.name)) for f in sorted(class_dir.glob("*.bin"))]
    if not out:
        raise UserError(f"{where}: no .bin files under {root / folder}/<digit>/")
    return out


def dvsgesture_files(root: Path, folder: str, where: str) -> list[tuple[Path, int]]:
    """(file, label) for folder/userNN_<lighting>/<label>.npy, sorted."""
    out = []
    for f in sorted((root / folder).glob("*/*.npy")):
        if not (f.stem.isdigit() and int(f.stem) < DVSGESTURE_CLASSES):
            raise UserError(f"{where}: {f} is not named <label>.npy with a label 0..{DVSGESTURE_CLASSES - 1}")
        out.append((f, int(f.stem)))
    if not out:
        raise UserError(f"{where}: no .npy files under {root / folder}/<user_lighting>/")
    return out


def read_nmnist_events(file: Path, where: str) -> np.ndarray:
    """One N-MNIST .bin as tonic's structured (x, y, t, p) events; a malformed file is a UserError."""
    tonic = _tonic(where)
    from tonic.datasets import NMNIST

    size = file.stat().st_size
    if size % 5:
        raise UserError(f"{where}: {file}: {size} bytes is not a whole number of 5-byte (40-bit) events")
    try:
        events = tonic.io.read_mnist_file(str(file), dtype=NMNIST.dtype)
    except (OSError, ValueError) as exc:
        raise UserError(f"{where}: {file}: not an N-MNIST .bin file ({type(exc).__name__}: {exc})") from None
    _check_range(events, NMNIST.sensor_size, file, where)
    return events


def read_dvsgesture_events(file: Path, where: str) -> np.ndarray:
    """One DVS Gesture .npy as tonic's structured (x, y, p, t in us) events, as tonic converts it."""
    _tonic(where)
    from numpy.lib import recfunctions
    from tonic.datasets import DVSGesture

    try:
        raw = np.load(file, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise UserError(f"{where}: {file}: not a readable .npy file ({type(exc).__name__}: {exc})") from None
    if raw.ndim != 2 or raw.shape[1] != 4 or raw.dtype.kind not in "biuf":
        raise UserError(f"{where}: {file}: holds {raw.dtype} {raw.shape}; accepted: numeric [events, 4] (x, y, p, t in ms)")
    if raw.dtype.kind == "f" and not np.isfinite(raw).all():
        raise UserError(f"{where}: {file}: holds NaN or infinite values")
    raw = raw.copy()
    raw[:, 3] *= 1000  # ms -> us, as tonic.datasets.DVSGesture.__getitem__
    events = recfunctions.unstructured_to_structured(raw, DVSGesture.dtype)
    _check_range(events, DVSGesture.sensor_size, file, where)
    return events


def _check_range(events: np.ndarray, sensor_size: tuple[int, int, int], file: Path, where: str) -> None:
    w, h, p = sensor_size
    if not len(events):
        return
    if events["x"].min() < 0 or events["x"].max() >= w or events["y"].min() < 0 or events["y"].max() >= h:
        raise UserError(f"{where}: {file}: events lie outside the {w}x{h} sensor")
    if events["p"].min() < 0 or events["p"].max() >= p:
        raise UserError(f"{where}: {file}: polarities outside 0..{p - 1}")


def events_to_frames(events: np.ndarray, sensor_size: tuple[int, int, int], frames: int = EVENT_FRAMES) -> np.ndarray:
    """[frames, P, H, W] uint8 0/1: event at time t falls in frame floor((t - t_first) x F / (t_last + 1 - t_first)).

    tonic's ToFrame(n_time_bins) is not used here: in tonic 1.7 it floors the bin width to whole
    microseconds and ends the last bin before the last event, so every sample lost its last events.
    """
    w, h, p = sensor_size
    out = np.zeros((frames, p, h, w), dtype=np.uint8)
    if len(events) == 0:
        return out
    t = events["t"].astype(np.int64)
    first = int(t.min())
    index = (t - first) * frames // (int(t.max()) + 1 - first)
    out[index, events["p"].astype(np.int64), events["y"].astype(np.int64), events["x"].astype(np.int64)] = 1
    return out


def _read_folder(
    files: list[tuple[Path, int]], read: Callable[[Path], np.ndarray], sensor_size: tuple[int, int, int],
    transform: Callable[[np.ndarray], np.ndarray] | None = None, where: str = "",
) -> tuple[np.ndarray, np.ndarray]:
    w, h, p = sensor_size
    x = np.zeros((len(files), EVENT_FRAMES, p, h, w), dtype=np.uint8)
    for i, (file, _) in enumerate(files):
        events = read(file)
        if transform is not None:
            events = transform(events)
        x[i] = events_to_frames(events, sensor_size)
    return x, np.array([label for _, label in files], dtype=np.int64)


def _check_total(where: str, samples: int, sensor_size: tuple[int, int, int]) -> None:
    """One line, before any frame is made, when all the set's frames (and a copy) would not fit in memory."""
    from dse.training.datasets.catalog import check_memory

    w, h, p = sensor_size
    check_memory(where, samples, (EVENT_FRAMES, p, h, w), 1)


def load_cifar10dvs(path: str, seed: int, val_fraction: float, test_fraction: float, where: str = "") -> DataSplits:
    """CIFAR10-DVS from a folder of <class>/*.aedat4 (dse.training.datasets.cifar10dvs): [N, 24, 2, 32, 32]."""
    from dse.training.datasets.cifar10dvs import (
        CIFAR10DVS_CLASSES, SENSOR, SPATIAL_FACTOR, cifar10dvs_files, downsample, read_aedat4_events,
    )

    where = where or f"cifar10-dvs:{path}"
    files = cifar10dvs_files(Path(path), where)
    w0, h0, p = SENSOR
    sensor = (int(w0 * SPATIAL_FACTOR), int(h0 * SPATIAL_FACTOR), p)
    _check_total(where, len(files), sensor)
    read = lambda f: read_aedat4_events(f, where)  # noqa: E731
    train = _read_folder(files, read, sensor, downsample, where=where)
    w, h, p = sensor
    return _splits(where, train, None, seed, val_fraction, test_fraction, (p, h, w), len(CIFAR10DVS_CLASSES))


def _splits(
    name: str, train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray] | None,
    seed: int, val_fraction: float, test_fraction: float, shape: tuple[int, int, int], num_classes: int,
) -> DataSplits:
    if test is None:
        tr, va, te = stratified_splits(*train, seed, val_fraction, test_fraction, name)
    else:
        (tr, va), te = split_off(*train, val_fraction, seed, name), to_split(*test)
    return DataSplits(
        name=name, train=tr, val=va, test=te, input_shape=shape, num_classes=num_classes,
        input_kind="events", frames=EVENT_FRAMES, in_step=1.0,
    )


def load_nmnist(path: str, seed: int, val_fraction: float, test_fraction: float, where: str = "") -> DataSplits:
    """N-MNIST from PATH (module docstring): [N, 24, 2, 34, 34] event frames."""
    where = where or f"nmnist:{path}"
    _tonic(where)
    from tonic.datasets import NMNIST

    root = _root(path, "NMNIST", "Train", where)
    sensor = tuple(NMNIST.sensor_size)
    read = lambda f: read_nmnist_events(f, where)  # noqa: E731
    train_files = nmnist_files(root, "Train", where)
    test_files = nmnist_files(root, "Test", where) if (root / "Test").is_dir() else []
    _check_total(where, len(train_files) + len(test_files), sensor)
    train = _read_folder(train_files, read, sensor, where=where)
    test = _read_folder(test_files, read, sensor, where=where) if test_files else None
    w, h, p = sensor
    return _splits(where, train, test, seed, val_fraction, test_fraction, (p, h, w), NMNIST_CLASSES)


def load_dvsgesture(path: str, seed: int, val_fraction: float, test_fraction: float, where: str = "") -> DataSplits:
    """DVS Gesture from PATH (module docstring): [N, 24, 2, 32, 32] event frames."""
    where = where or f"dvsgesture:{path}"
    _tonic(where)
    from tonic.datasets import DVSGesture
    from tonic.transforms import Downsample

    root = _root(path, "DVSGesture", "ibmGestureTrain", where)
    w0, h0, p = DVSGesture.sensor_size
    sensor = (int(w0 * DVSGESTURE_SPATIAL_FACTOR), int(h0 * DVSGESTURE_SPATIAL_FACTOR), p)
    down = Downsample(spatial_factor=DVSGESTURE_SPATIAL_FACTOR)
    read = lambda f: read_dvsgesture_events(f, where)  # noqa: E731
    train_files = dvsgesture_files(root, "ibmGestureTrain", where)
    test_files = dvsgesture_files(root, "ibmGestureTest", where) if (root / "ibmGestureTest").is_dir() else []
    _check_total(where, len(train_files) + len(test_files), sensor)
    train = _read_folder(train_files, read, sensor, down, where=where)
    test = _read_folder(test_files, read, sensor, down, where=where) if test_files else None
    w, h, p = sensor
    return _splits(where, train, test, seed, val_fraction, test_fraction, (p, h, w), DVSGESTURE_CLASSES)
