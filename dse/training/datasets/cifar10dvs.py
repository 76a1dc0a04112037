"""CIFAR10-DVS (Li et al. 2017) as tonic publishes it: one zip of ten per-class zips of AEDAT 4.0
files (<class>/*.aedat4), read with the `aedat` package as tonic.io.read_aedat4 reads them
(extra `events`).

AEDAT 4.0: the line "#!AER-DAT4.0\\r\\n", a little-endian uint32 length and an IOHeader flatbuffer
(compression, data table position, an XML description of the streams), then packets: uint32
stream id, uint32 length, a size-prefixed EventPacket flatbuffer ("EVTS": 16-byte events t int64
us, x int16, y int16, on bool), LZ4- or Zstd-compressed when the header says so. The first event
stream is read. Sensor 128x128, downsampled by 4 to 32x32 (tonic.transforms.Downsample), 24
frames per sample as every event set here (tonic_sets.events_to_frames). No test split is
published: train/val/test are cut 60/20/20 stratified by class with the seed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dse.errors import UserError

CIFAR10DVS_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
SENSOR = (128, 128, 2)
SPATIAL_FACTOR = 0.25
EVENT_DTYPE = np.dtype([("x", np.int64), ("y", np.int64), ("t", np.int64), ("p", np.int64)])


def cifar10dvs_files(root: Path, where: str) -> list[tuple[Path, int]]:
    """(file, label) for <class>/*.aedat4 anywhere under root, sorted; the class is the folder's name."""
    out = []
    for f in sorted(root.rglob("*.aedat4")):
        cls = f.parent.name
        if cls not in CIFAR10DVS_CLASSES:
            raise UserError(f"{where}: {f} is not in a class folder ({', '.join(CIFAR10DVS_CLASSES)})")
        out.append((f, CIFAR10DVS_CLASSES.index(cls)))
    if not out:
        raise UserError(f"{where}: no .aedat4 files under {root}/<class>/")
    return out


def read_aedat4_events(file: Path, where: str) -> np.ndarray:
    """One AEDAT4 file's first event stream as (x, y, t, p) events; a malformed file is a UserError."""
    try:
        import aedat
    except ImportError:
        raise UserError(f"{where}: reading AEDAT4 files needs the 'aedat' package, the optional extra 'events': "
                        "pip install -e '.[events]'") from None
    try:
        decoder = aedat.Decoder(str(file))
        streams = [sid for sid, s in decoder.id_to_stream().items() if s["type"] == "events"]
        if not streams:
            raise UserError(f"{where}: {file}: no event stream in the AEDAT4 file")
        target = min(streams)
        packets = [p["events"] for p in decoder if p["stream_id"] == target and "events" in p]
    except UserError:
        raise
    except Exception as exc:  # aedat raises plain exceptions with the decoder's message
        raise UserError(f"{where}: {file}: not a readable AEDAT4 file ({type(exc).__name__}: {exc})") from None
    raw = np.concatenate(packets) if packets else np.zeros(0, dtype=[("t", "<i8"), ("x", "<i2"), ("y", "<i2"), ("on", "?")])
    events = np.zeros(len(raw), dtype=EVENT_DTYPE)
    names = raw.dtype.names
    events["t"], events["x"], events["y"] = raw[names[0]], raw[names[1]], raw[names[2]]
    events["p"] = raw[names[3]].astype(np.int64)
    w, h, _ = SENSOR
    if len(events) and (events["x"].min() < 0 or events["x"].max() >= w or events["y"].min() < 0 or events["y"].max() >= h):
        raise UserError(f"{where}: {file}: events lie outside the {w}x{h} sensor")
    return events


def downsample(events: np.ndarray, factor: float = SPATIAL_FACTOR) -> np.ndarray:
    """x, y scaled by factor and floored (what tonic.transforms.Downsample does to x and y)."""
    out = events.copy()
    out["x"] = (events["x"] * factor).astype(np.int64)
    out["y"] = (events["y"] * factor).astype(np.int64)
    return out
