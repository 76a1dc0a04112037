"""A user's own data as one .npz file: `npz:PATH`.

Keys: x and y (required); x_val/y_val and x_test/y_test (optional pairs: fixed splits; whatever
is absent is cut from x, y stratified by class with the seed).
- x static images: [N, H, W] or [N, C, H, W], any real dtype, finite. They are read as 8-bit
  fixed point, as the cost model prices layer 0: integer data with max |x| <= 255 keeps its
  codes; anything else is rounded to 255 levels (127 if negative values occur) of max |x|.
  Scaled so max |x| is INPUT_GAIN (4); in_step = 4 / levels.
- x event frames: [N, T, C, H, W], non-negative integers or bools (counts are clipped to 1:
  an event or none per pixel, channel and frame); in_step = 1.
- y: integer class labels [N], 0..K-1 (K = max label + 1 over all splits).
"""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np

from dse.training.datasets._base import INPUT_GAIN, DataSplits, split_off, stratified_splits, to_split
from dse.errors import UserError

MAX_CODE_UNSIGNED = 255  # 8-bit input codes (cost_models.network.INPUT_BITS)
MAX_CODE_SIGNED = 127
KEYS = ("x", "y", "x_val", "y_val", "x_test", "y_test")
ZIP_MAGIC = b"PK\x03\x04"  # an .npz is a zip archive of .npy members
NPY_MAGIC = b"\x93NUMPY"


def load_npz(path: str, seed: int, val_fraction: float, test_fraction: float) -> DataSplits:
    """The splits of an .npz file (module docstring: keys, shapes, how values are read)."""
    arrays = read_npz_arrays(path)
    where = f"npz:{path}"
    parts = {
        name: (arrays[f"x{sfx}"], arrays[f"y{sfx}"])
        for name, sfx in (("train", ""), ("val", "_val"), ("test", "_test"))
        if f"x{sfx}" in arrays
    }
    for name, (x, _) in parts.items():
        if x.dtype.kind not in "biuf":
            sfx = "" if name == "train" else f"_{name}"
            raise UserError(f"{where}: x{sfx} has dtype {x.dtype}; accepted: bool, integer or float")
    kind = _input_kind(parts["train"][0], where, "x")
    for name, (x, y) in parts.items():
        sfx = "" if name == "train" else f"_{name}"
        _check_pair(x, y, kind, where, sfx)
        if x.shape[1:] != parts["train"][0].shape[1:]:
            raise UserError(f"{where}: x{sfx} has sample shape {x.shape[1:]}, x has {parts['train'][0].shape[1:]}")
    num_classes = int(max(int(y.max()) for _, y in parts.values())) + 1
    if kind == "static":
        scale, levels = _static_scale(np.concatenate([x.reshape(len(x), -1) for x, _ in parts.values()]))
        convert = lambda x: _static_values(x, scale, levels)  # noqa: E731
        in_step = INPUT_GAIN / levels
    else:
        convert = lambda x: (x > 0).astype(np.uint8)  # noqa: E731
        in_step = 1.0
    x, y = convert(parts["train"][0]), parts["train"][1].astype(np.int64)
    given = {name: to_split(convert(x_), y_.astype(np.int64)) for name, (x_, y_) in parts.items() if name != "train"}
    if "val" in given and "test" in given:
        train, val, test = to_split(x, y), given["val"], given["test"]
    elif "test" in given:
        (train, val), test = split_off(x, y, val_fraction, seed, where), given["test"]
    elif "val" in given:
        (train, test), val = split_off(x, y, test_fraction, seed, where), given["val"]
    else:
        train, val, test = stratified_splits(x, y, seed, val_fraction, test_fraction, where)
    sample = parts["train"][0].shape[1:]
    if kind == "events":
        frames, shape = int(sample[0]), tuple(int(s) for s in sample[1:])
    else:
        frames, shape = None, (1, *map(int, sample)) if len(sample) == 2 else tuple(int(s) for s in sample)
    return DataSplits(
        name=f"npz:{path}", train=train, val=val, test=test, input_shape=shape, num_classes=num_classes,
        input_kind=kind, frames=frames, in_step=in_step,
    )


def read_npz_arrays(path: str) -> dict[str, np.ndarray]:
    """Every known key of the file, loaded; a missing, corrupt or pickled file is a UserError."""
    p = Path(path)
    where = f"npz:{path}"
    if not p.is_file():
        raise UserError(f"{where}: no such file")
    with open(p, "rb") as f:
        magic = f.read(6)
    if magic.startswith(NPY_MAGIC):
        raise UserError(f"{where}: not an .npz archive (a single .npy array); save with numpy.savez(path, x=..., y=...)")
    if not magic.startswith(ZIP_MAGIC):
        raise UserError(f"{where}: not a readable .npz file (no zip archive header); save with numpy.savez(path, x=..., y=...)")
    try:
        with np.load(p, allow_pickle=False) as npz:
            names = set(npz.files)
            unknown = sorted(names - set(KEYS))
            if unknown:
                raise UserError(f"{where}: unknown key(s) {unknown}; accepted: {', '.join(KEYS)}")
            arrays = {k: npz[k] for k in KEYS if k in names}
    except UserError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError, zlib.error) as exc:
        raise UserError(f"{where}: not a readable .npz file ({type(exc).__name__}: {_first_line(exc)})") from None
    for x_key, y_key in (("x", "y"), ("x_val", "y_val"), ("x_test", "y_test")):
        if (x_key in arrays) != (y_key in arrays):
            have, lack = (x_key, y_key) if x_key in arrays else (y_key, x_key)
            raise UserError(f"{where}: has {have!r} but not {lack!r}; keys come in pairs: x/y, x_val/y_val, x_test/y_test")
    if "x" not in arrays:
        raise UserError(f"{where}: needs keys 'x' and 'y'; found {sorted(names) or 'none'}")
    return arrays


def _input_kind(x: np.ndarray, where: str, key: str) -> str:
    if x.ndim in (3, 4):
        return "static"
    if x.ndim == 5:
        return "events"
    raise UserError(
        f"{where}: {key} has shape {x.shape}; accepted: static images [N, H, W] or [N, C, H, W], "
        "event frames [N, T, C, H, W]"
    )


def _check_pair(x: np.ndarray, y: np.ndarray, kind: str, where: str, sfx: str) -> None:
    """Dtypes, shapes, finiteness, label range: one line naming the key and what is accepted."""
    if _input_kind(x, where, f"x{sfx}") != kind:
        raise UserError(f"{where}: x{sfx} has {x.ndim} dimensions, x has a different kind; all splits must match")
    if len(x) == 0:
        raise UserError(f"{where}: x{sfx} holds no samples")
    if any(s == 0 for s in x.shape[1:]):
        raise UserError(f"{where}: x{sfx} has an empty dimension in shape {x.shape}")
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        raise UserError(f"{where}: x{sfx} holds NaN or infinite values")
    if kind == "events":
        if (x < 0).any():
            raise UserError(f"{where}: x{sfx} event frames hold negative values; accepted: 0/1 or counts >= 0")
        if x.dtype.kind == "f" and (x != np.round(x)).any():
            raise UserError(f"{where}: x{sfx} event frames hold fractions; accepted: 0/1 or whole counts >= 0")
    if y.ndim != 1 or len(y) != len(x):
        raise UserError(f"{where}: y{sfx} has shape {y.shape}; needs [{len(x)}] (one label per sample of x{sfx})")
    if y.dtype.kind not in "iu":
        raise UserError(f"{where}: y{sfx} has dtype {y.dtype}; accepted: integer class labels 0..K-1")
    if y.min() < 0:
        raise UserError(f"{where}: y{sfx} holds negative labels ({int(y.min())}); accepted: 0..K-1")
    if sfx == "" and len(np.unique(y)) < 2:
        raise UserError(f"{where}: y holds a single class; a classifier needs two or more")


def _static_scale(flat: np.ndarray) -> tuple[float, int]:
    """(max |x|, levels): integer data within 8 bits keeps its codes, anything else gets 8-bit levels."""
    peak = float(np.abs(flat).max())
    signed = bool((flat < 0).any())
    is_int = flat.dtype.kind in "biu" or bool((flat == np.round(flat)).all())
    limit = MAX_CODE_SIGNED if signed else MAX_CODE_UNSIGNED
    if peak == 0:
        return 1.0, 1
    if is_int and peak <= limit:
        return peak, int(peak)
    return peak, limit


def _static_values(x: np.ndarray, scale: float, levels: int) -> np.ndarray:
    """[N, C, H, W] float32 on the grid INPUT_GAIN / levels: code = round(x / scale x levels)."""
    if x.ndim == 3:
        x = x[:, None]
    codes = np.round(x.astype(np.float64) / scale * levels)
    return (codes * (INPUT_GAIN / levels)).astype(np.float32)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "no detail"

