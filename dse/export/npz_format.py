"""`npz`: the IntegerNetwork as one numpy .npz file (integer codes, scales, multipliers, membrane parameters).

Keys (docs/export.md): global `format`, `format_version`, `timesteps`, `input_shape`, `input_step`,
`num_classes`, `family`, `tau`, `v_threshold`, `n_layers`, `input_kind`, `candidate` (JSON); per layer `layerI.<field>`
for every IntegerLayer field (codes in the smallest signed int dtype; -1 / NaN / "none" where a
readout has no membrane). The added forms (docs/integer-semantics.md: TTQ, TaWQ, Q-SNN, MFP) add per layer
`weight_form`, `neuron` and the fields they set (`scale_neg`, `multiplier_neg`, `codes_per_timestep`,
`scale_per_timestep`, `multiplier_per_timestep`, `threshold_int`, `leak_multiplier`, `level_thresholds`,
`membrane_alpha`, `threshold_per_timestep`, `state_bits`) and are written as format_version 2; a network in the
plain form is written as version 1, exactly as before. Both versions are read; keys a file lacks take the
defaults. read_npz() gives the same IntegerNetwork back or one-line UserError.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from dse.errors import UserError
from dse.files import atomic_file
from dse.export.integer_network import ENCODINGS, NEURONS, WEIGHT_FORMS, IntegerLayer, IntegerNetwork

FORMAT = "snn-dse-integer-network"
FORMAT_VERSION = 2  # 2: the added forms (TTQ, TaWQ, Q-SNN, MFP); a network in the plain form is written as 1
READ_VERSIONS = (1, 2)
# Added per-layer keys, written only where set (a version-1 file has none; missing ones read as the defaults).
_OPTIONAL_ARRAYS = ("scale_neg", "multiplier_neg", "codes_per_timestep", "scale_per_timestep",
                    "multiplier_per_timestep", "level_thresholds", "threshold_per_timestep")
_OPTIONAL_INTS = ("threshold_int", "leak_multiplier", "state_bits")
FILE_NAME = "network.npz"
_NONE_INT = -1


def _opt_int(value: int | None) -> np.ndarray:
    return np.array(_NONE_INT if value is None else int(value), dtype=np.int64)


def to_arrays(net: IntegerNetwork) -> dict[str, np.ndarray]:
    """The flat key -> array mapping written to the .npz."""
    arrays: dict[str, np.ndarray] = {
        "format": np.array(FORMAT), "format_version": np.array(FORMAT_VERSION if not net.standard_form else 1),
        "timesteps": np.array(net.timesteps), "input_shape": np.array(net.input_shape, dtype=np.int64),
        "input_step": np.array(net.input_step, dtype=np.float64), "num_classes": np.array(net.num_classes),
        "family": np.array(net.family), "tau": np.array(net.tau), "v_threshold": np.array(net.v_threshold),
        "n_layers": np.array(len(net.layers)), "candidate": np.array(json.dumps(net.candidate, sort_keys=True)),
        "input_kind": np.array(net.input_kind),
    }
    for layer in net.layers:
        p = layer.name + "."
        arrays.update({
            p + "kind": np.array(layer.kind), p + "codes": layer.codes,
            p + "weight_bits": np.array(layer.weight_bits), p + "weight_encoding": np.array(layer.weight_encoding),
            p + "scale": layer.scale.astype(np.float64), p + "in_step": np.array(layer.in_step, dtype=np.float64),
            p + "scale_bits": np.array(layer.scale_bits), p + "multiplier": layer.multiplier.astype(np.int64),
            p + "spiking": np.array(layer.spiking), p + "membrane_bits": _opt_int(layer.membrane_bits),
            p + "threshold_lsb": _opt_int(layer.threshold_lsb), p + "leak_shift": _opt_int(layer.leak_shift),
            p + "membrane_step": np.array(np.nan if layer.membrane_step is None else layer.membrane_step),
            p + "kernel_size": np.array(layer.kernel_size), p + "padding": np.array(layer.padding),
            p + "pool_after": np.array(layer.pool_after or "none"),
            p + "in_shape": np.array(layer.in_shape, dtype=np.int64), p + "out_shape": np.array(layer.out_shape, dtype=np.int64),
            p + "parallelism": np.array(layer.parallelism),
        })
        if layer.standard_form:
            continue
        arrays[p + "weight_form"] = np.array(layer.weight_form)
        arrays[p + "neuron"] = np.array(layer.neuron)
        for key in _OPTIONAL_ARRAYS:
            value = getattr(layer, key)
            if value is not None:
                arrays[p + key] = np.asarray(value, dtype=np.float64 if key.startswith("scale") else
                                             (value.dtype if key == "codes_per_timestep" else np.int64))
        for key in _OPTIONAL_INTS:
            if getattr(layer, key) is not None:
                arrays[p + key] = np.array(int(getattr(layer, key)), dtype=np.int64)
        if layer.membrane_alpha is not None:
            arrays[p + "membrane_alpha"] = np.array(layer.membrane_alpha, dtype=np.float64)
    return arrays


def write_npz(net: IntegerNetwork, path: str | Path) -> Path:
    """Write the network to `path` atomically (uncompressed .npz)."""
    with atomic_file(path, "wb") as handle:
        np.savez(handle, **to_arrays(net))
    return Path(path)


def write(ctx: Any, out_dir: Path) -> list[Path]:
    """Export-registry entry: OUT/network.npz."""
    return [write_npz(ctx.integer_net, out_dir / FILE_NAME)]


def read_npz(path: str | Path) -> IntegerNetwork:
    """Load an IntegerNetwork written by write_npz; UserError (one line) for a missing or corrupt file."""
    where = str(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except FileNotFoundError:
        raise UserError(f"cannot read {where}: no such file") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise UserError(f"{where} is not a readable .npz file ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'corrupt'})") from None
    try:
        return from_arrays(arrays)
    except (KeyError, ValueError, TypeError, IndexError) as exc:
        raise UserError(f"{where} is not an integer-network .npz of this tool ({type(exc).__name__}: {exc})") from None


def from_arrays(a: dict[str, np.ndarray]) -> IntegerNetwork:
    """Inverse of to_arrays; raises KeyError/ValueError on missing or inconsistent keys."""
    if str(a["format"]) != FORMAT:
        raise ValueError(f"format is {str(a['format'])!r}, expected {FORMAT!r}")
    if int(a["format_version"]) not in READ_VERSIONS:
        raise ValueError(f"format_version {int(a['format_version'])}; accepted: {', '.join(map(str, READ_VERSIONS))}")

    def opt(value: np.ndarray) -> int | None:
        v = int(value)
        return None if v == _NONE_INT else v

    layers = []
    for i in range(int(a["n_layers"])):
        p = f"layer{i}."
        codes = a[p + "codes"]
        if not np.issubdtype(codes.dtype, np.integer):
            raise ValueError(f"{p}codes must be integers, got {codes.dtype}")
        encoding = str(a[p + "weight_encoding"])
        if encoding not in ENCODINGS:
            raise ValueError(f"{p}weight_encoding {encoding!r}; accepted: {', '.join(ENCODINGS)}")
        scale, mult = a[p + "scale"].astype(np.float64), a[p + "multiplier"].astype(np.int64)
        if scale.shape != (codes.shape[0],) or mult.shape != (codes.shape[0],):
            raise ValueError(f"{p}scale and {p}multiplier need one entry per output channel ({codes.shape[0]})")
        step = float(a[p + "membrane_step"])
        pool = str(a[p + "pool_after"])
        extra: dict = {}
        if p + "weight_form" in a:
            extra["weight_form"] = str(a[p + "weight_form"])
            if extra["weight_form"] not in WEIGHT_FORMS:
                raise ValueError(f"{p}weight_form {extra['weight_form']!r}; accepted: {', '.join(WEIGHT_FORMS)}")
        if p + "neuron" in a:
            extra["neuron"] = str(a[p + "neuron"])
            if extra["neuron"] not in NEURONS:
                raise ValueError(f"{p}neuron {extra['neuron']!r}; accepted: {', '.join(NEURONS)}")
        for key in _OPTIONAL_ARRAYS:
            if p + key in a:
                value = a[p + key]
                extra[key] = value.astype(np.float64) if key.startswith("scale") else (
                    value if key == "codes_per_timestep" else value.astype(np.int64))
        for key in _OPTIONAL_INTS:
            if p + key in a:
                extra[key] = int(a[p + key])
        if p + "membrane_alpha" in a:
            extra["membrane_alpha"] = float(a[p + "membrane_alpha"])
        layers.append(IntegerLayer(
            name=f"layer{i}", kind=str(a[p + "kind"]), codes=codes, weight_bits=int(a[p + "weight_bits"]),
            weight_encoding=encoding, scale=scale, in_step=float(a[p + "in_step"]),
            scale_bits=int(a[p + "scale_bits"]), multiplier=mult, spiking=bool(a[p + "spiking"]),
            membrane_bits=opt(a[p + "membrane_bits"]), threshold_lsb=opt(a[p + "threshold_lsb"]),
            leak_shift=opt(a[p + "leak_shift"]), membrane_step=None if np.isnan(step) else step,
            kernel_size=int(a[p + "kernel_size"]), padding=int(a[p + "padding"]),
            pool_after=None if pool == "none" else pool,
            in_shape=tuple(int(s) for s in a[p + "in_shape"]), out_shape=tuple(int(s) for s in a[p + "out_shape"]),
            parallelism=int(a[p + "parallelism"]), **extra,
        ))
    return IntegerNetwork(
        layers=layers, timesteps=int(a["timesteps"]), input_shape=tuple(int(s) for s in a["input_shape"]),
        input_step=float(a["input_step"]), num_classes=int(a["num_classes"]), family=str(a["family"]),
        tau=float(a["tau"]), v_threshold=float(a["v_threshold"]), candidate=json.loads(str(a["candidate"])),
        input_kind=str(a["input_kind"]),
    )
