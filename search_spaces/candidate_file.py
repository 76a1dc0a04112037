"""The one reader of candidate files: a Candidate in its to_dict() format as YAML or JSON (a mapping
with a `candidate:` key, such as a pareto.json front member, works too).

Every command that reads a candidate (`dse estimate`, `dse train`) goes through
read_candidate_file, so all refuse the same files with the same one-line message naming the file
and the field. Field checks here are the file's (types, lengths, the quantizer's accepted bits and
options, conv sizes); Candidate.validate keeps the invariants of the dataclass itself.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml

from search_spaces.candidate import FAMILIES, FULL_PRECISION_BITS, INPUT_KINDS, POOLING_KINDS, Candidate
from search_spaces.quantizer_types import PROFILES

FULL_PRECISION_LABELS = ("fp", "fp32", "full")  # spellings of a full-precision width besides null
REQUIRED_FIELDS = ("family", "widths", "weight_bits", "membrane_bits", "timesteps")


class CandidateFileError(ValueError):
    """A file that is not a valid candidate: the message is one line naming the file and the field."""


def read_candidate_file(path: str | Path) -> Candidate:
    """Read and validate a candidate file; CandidateFileError with one line naming file and field."""
    path = Path(path)
    where = str(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise CandidateFileError(f"cannot read candidate file {where}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)  # YAML is a superset of JSON
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise CandidateFileError(f"candidate file {where} is not valid YAML{at}") from None
    if isinstance(data, dict) and isinstance(data.get("candidate"), dict):
        data = data["candidate"]  # a pareto.json front member / trial record
    if not isinstance(data, dict):
        raise CandidateFileError(f"{where}: must be a mapping of candidate fields (the Candidate.to_dict() format)")
    fields = _validate(data, where)
    try:
        return Candidate.from_dict(fields)
    except (TypeError, ValueError) as exc:
        raise CandidateFileError(f"{where}: {str(exc).splitlines()[0]}") from None


def _fail(where: str, field: str, problem: str) -> CandidateFileError:
    return CandidateFileError(f"{where}: field '{field}': {problem}")


def _int(value: Any, where: str, field: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(where, field, f"must be a whole number, got {value!r}")
    if value < minimum:
        raise _fail(where, field, f"must be >= {minimum}, got {value}")
    return value


def _number(value: Any, where: str, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise _fail(where, field, f"must be a positive number, got {value!r}")
    return float(value)


def _list(value: Any, where: str, field: str) -> list[Any]:
    if not isinstance(value, (list, tuple)):
        raise _fail(where, field, f"must be a list, got {value!r}")
    return list(value)


def _bits(value: Any, where: str, field: str) -> int | None:
    if value is None or (isinstance(value, str) and value.lower() in FULL_PRECISION_LABELS):
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= FULL_PRECISION_BITS:
        raise _fail(where, field, f"{value!r} is not a bit width; accepted: 1..{FULL_PRECISION_BITS}, or null / 'fp' for full precision")
    return value


def _validate(data: dict[str, Any], where: str) -> dict[str, Any]:
    """Field-by-field checks (types, ranges, lengths, the quantizer's accepted bits and options)."""
    known = tuple(Candidate.__dataclass_fields__)
    for key in data:
        if key not in known:
            raise _fail(where, str(key), f"unknown field; accepted: {', '.join(known)}")
    for key in REQUIRED_FIELDS:
        if key not in data:
            raise _fail(where, key, "missing field")
    out: dict[str, Any] = {}
    family = data["family"]
    if family not in FAMILIES:
        raise _fail(where, "family", f"unknown family {family!r}; accepted: {', '.join(FAMILIES)}")
    out["family"] = family
    widths = _list(data["widths"], where, "widths")
    if not widths:
        raise _fail(where, "widths", "needs at least one hidden layer width")
    out["widths"] = [_int(w, where, f"widths[{i}]") for i, w in enumerate(widths)]
    n_hidden, n_weight = len(widths), len(widths) + 1
    wbits = _list(data["weight_bits"], where, "weight_bits")
    if len(wbits) != n_weight:
        raise _fail(where, "weight_bits", f"needs {n_weight} entries (one per weight layer: hidden layers, then the readout), got {len(wbits)}")
    out["weight_bits"] = [_bits(b, where, f"weight_bits[{i}]") for i, b in enumerate(wbits)]
    mbits = _list(data["membrane_bits"], where, "membrane_bits")
    if len(mbits) != n_hidden:
        raise _fail(where, "membrane_bits", f"needs {n_hidden} entries (one per spiking layer), got {len(mbits)}")
    out["membrane_bits"] = [_bits(b, where, f"membrane_bits[{i}]") for i, b in enumerate(mbits)]
    out["timesteps"] = _int(data["timesteps"], where, "timesteps")

    quantizer = data.get("quantizer", "uniform")
    if quantizer not in PROFILES:
        raise _fail(where, "quantizer", f"unknown quantizer {quantizer!r}; accepted: {', '.join(PROFILES)}")
    out["quantizer"] = quantizer
    profile = PROFILES[quantizer]
    options = data.get("quantizer_options") or {}
    if not isinstance(options, dict):
        raise _fail(where, "quantizer_options", f"must be a mapping, got {options!r}")
    try:
        profile.check_options(options)
    except ValueError as exc:
        raise _fail(where, "quantizer_options", str(exc)) from None
    out["quantizer_options"] = dict(options)
    for i, b in enumerate(out["weight_bits"]):
        allowed = profile.layer_weight_bits(i, n_weight, options=profile.check_options(options))
        if b not in allowed:
            shown = ", ".join("fp" if a is None else str(a) for a in allowed)
            edge = profile.edge_bits_option is not None and i in (0, n_weight - 1)
            why = f" (quantizer_options.{profile.edge_bits_option} sets the first and readout layer's width)" if edge else ""
            raise _fail(where, f"weight_bits[{i}]", f"quantizer {quantizer!r} cannot take {'fp' if b is None else b} bits here; accepted: {shown}{why}")
    for i, b in enumerate(out["membrane_bits"]):
        if not profile.membrane_bits:
            if b is not None:
                raise _fail(where, f"membrane_bits[{i}]", f"quantizer {quantizer!r} keeps no membrane: give null")
            continue
        try:
            profile.check_membrane_bits(b)
        except ValueError as exc:
            raise _fail(where, f"membrane_bits[{i}]", str(exc)) from None

    if "input_shape" in data:
        shape = _list(data["input_shape"], where, "input_shape")
        if len(shape) != 3:
            raise _fail(where, "input_shape", f"must be [channels, height, width], got {shape}")
        out["input_shape"] = [_int(s, where, f"input_shape[{i}]") for i, s in enumerate(shape)]
    if "num_classes" in data:
        out["num_classes"] = _int(data["num_classes"], where, "num_classes")
    if "input_kind" in data:
        if data["input_kind"] not in INPUT_KINDS:
            raise _fail(where, "input_kind", f"unknown input kind {data['input_kind']!r}; accepted: {', '.join(INPUT_KINDS)}")
        out["input_kind"] = data["input_kind"]
    if "kernel_size" in data:
        out["kernel_size"] = _int(data["kernel_size"], where, "kernel_size")
    for key in ("tau", "v_threshold"):
        if key in data:
            out[key] = _number(data[key], where, key)
    if "parallelism" in data and data["parallelism"] is not None:
        par = _list(data["parallelism"], where, "parallelism")
        if len(par) != n_weight:
            raise _fail(where, "parallelism", f"needs {n_weight} entries (one per weight layer), got {len(par)}")
        out["parallelism"] = [_int(p, where, f"parallelism[{i}]") for i, p in enumerate(par)]
    pooling = data.get("pooling") or []
    pooling = _list(pooling, where, "pooling")
    if family == "conv":
        if len(pooling) != n_hidden:
            raise _fail(where, "pooling", f"needs {n_hidden} entries (one per conv block: {', '.join(POOLING_KINDS)}), got {len(pooling)}")
        for i, pool in enumerate(pooling):
            if pool not in POOLING_KINDS:
                raise _fail(where, f"pooling[{i}]", f"unknown pooling {pool!r}; accepted: {', '.join(POOLING_KINDS)}")
        _check_conv_sizes(out, pooling, where)
    elif pooling:
        raise _fail(where, "pooling", "applies to the conv family only")
    out["pooling"] = pooling
    return out


def _check_conv_sizes(fields: dict[str, Any], pooling: list[str], where: str) -> None:
    """Refuse a conv stack whose feature map vanishes (pooling past 1x1, kernel wider than the map)."""
    _, h, w = fields.get("input_shape", (1, 8, 8))
    k = fields.get("kernel_size", 3)
    for i, pool in enumerate(pooling):
        h, w = h + 2 * (k // 2) - k + 1, w + 2 * (k // 2) - k + 1
        if h < 1 or w < 1:
            raise _fail(where, "kernel_size", f"{k} leaves no output in conv block {i}")
        if pool != "none":
            h, w = h // 2, w // 2
            if h < 1 or w < 1:
                raise _fail(where, f"pooling[{i}]", "pools a 1-pixel feature map to nothing; use 'none'")
