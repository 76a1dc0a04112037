"""Hardware targets: YAML files of device capacities, clock, static power and energy tables.

A target file holds data only; every constant is a mapping with a `source:` string, so every
number the tool prints can be traced (see docs/cost-models.md). The formulas that use these
tables live in energy.py and fpga.py. Files are read with yaml.safe_load only.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Collection
from typing import Any, NoReturn

import yaml

from cost_models.template_constants import DEFAULT_CONSTANTS, TemplateConstants

TARGETS_DIR = Path(__file__).with_name("targets")
TARGET_KINDS = ("asic", "fpga")
FPGA_CAPACITIES = ("lut", "ff", "bram18", "dsp")
# Memory kinds a target may declare, and the energy model each one takes.
MEMORY_KINDS = {
    "sram": "capacity",  # pJ per access of `access_bits`, log-log interpolated over capacity
    "bram18": "per_bit",  # pJ per bit read or written
    "lutram": "per_bit",
}
REQUIRED_MEMORIES = {"asic": ("sram",), "fpga": ("bram18", "lutram")}
ENERGY_OPS = {"int_add": "anchors", "int_mult": "anchors", "fp32_add": "value", "fp32_mult": "value"}
# Quantities a target kind cannot produce (an ASIC has no LUTs, FFs, BRAMs or DSPs).
FPGA_ONLY_QUANTITIES = frozenset({"lut", "ff", "bram", "dsp"})

_TOP_REQUIRED = ("name", "kind", "description", "clock_hz", "energy_pj", "memories")
_TOP_OPTIONAL = ("static_power_w", "capacities", "fpga_template", "calibration")


class TargetError(ValueError):
    """A target file is missing, unknown or invalid; the message is one line naming the field."""


@dataclass(frozen=True)
class MemorySpec:
    """Energy model of one memory kind: per bit, or per access over buffer capacity."""

    kind: str
    source: str
    pj_per_bit: float | None = None
    access_bits: int | None = None
    # (capacity_bytes, pJ per access of access_bits), sorted by capacity
    anchors: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True, eq=False)
class Target:
    """One hardware target: what the cost models need to turn counts into mJ, s and resources.

    Compared and hashed by identity (load_target caches one object per file), so per-layer
    coefficients can be cached per (layer, target).
    """

    name: str
    kind: str
    description: str
    clock_hz: float
    static_power_w: float  # 0.0 when the file gives none (dynamic-only ASIC table)
    capacities: dict[str, int]  # lut, ff, bram18, dsp for FPGA targets; {} for ASIC
    int_add_pj: tuple[tuple[int, float], ...]  # (bits, pJ) anchors
    int_mult_pj: tuple[tuple[int, float], ...]
    fp32_add_pj: float
    fp32_mult_pj: float
    memories: dict[str, MemorySpec]
    sources: dict[str, str] = field(default_factory=dict)  # dotted field -> source string
    path: str = ""
    # constants of the FPGA template's LUT/FF formulas (fitted ones from `dse calibrate`)
    template: TemplateConstants = DEFAULT_CONSTANTS
    calibration: dict[str, Any] = field(default_factory=dict)  # the fit record, as written

    def digest(self) -> str:
        """A short hash of every number and name that decides a cost (not the file's path or its source
        notes): a study costed on this target resumes only on the same content, even if the file was edited."""
        content = {k: v for k, v in dataclasses.asdict(self).items() if k not in ("path", "sources", "description")}
        text = json.dumps(content, sort_keys=True, default=repr)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def produces(self, quantity: str) -> bool:
        """Whether this target yields a value for the quantity (ASICs produce no LUT/FF/BRAM/DSP)."""
        if quantity in FPGA_ONLY_QUANTITIES:
            return self.kind == "fpga"
        return True


def list_targets() -> list[str]:
    """Names of the targets shipped in cost_models/targets/."""
    return sorted(p.stem for p in TARGETS_DIR.glob("*.yaml"))


def load_target(name_or_path: str | os.PathLike[str]) -> Target:
    """Load a shipped target by name (e.g. 'fpga-small') or any target YAML by path."""
    text = str(name_or_path)
    path = Path(text)
    looks_like_path = text.endswith((".yaml", ".yml")) or os.sep in text or "/" in text
    if not looks_like_path:
        path = TARGETS_DIR / f"{text}.yaml"
        if not path.is_file():
            raise TargetError(f"unknown target {text!r}; known targets: {', '.join(list_targets())}")
    elif not path.is_file():
        if (TARGETS_DIR / path.name).is_file() and path.name == text:
            path = TARGETS_DIR / path.name  # "fpga-small.yaml" names a shipped target
        else:
            raise TargetError(f"target file {text} does not exist")
    resolved = path.resolve()
    key = (str(resolved), resolved.stat().st_mtime_ns)
    cached = _CACHE.get(key)
    if cached is None:
        cached = _parse(resolved)
        _CACHE[key] = cached
    return cached


_CACHE: dict[tuple[str, int], Target] = {}


def _parse(path: Path) -> Target:
    where = path.name
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TargetError(f"{where}: not valid YAML ({first})") from None
    if not isinstance(data, dict):
        raise TargetError(f"{where}: top level must be a mapping of fields")
    p = _Parser(where)
    unknown = sorted(set(data) - set(_TOP_REQUIRED) - set(_TOP_OPTIONAL))
    if unknown:
        p.fail(unknown[0], f"unknown field; accepted: {', '.join(_TOP_REQUIRED + _TOP_OPTIONAL)}")
    for key in _TOP_REQUIRED:
        if key not in data:
            p.fail(key, "missing field")
    name = p.text(data["name"], "name")
    kind = p.text(data["kind"], "kind")
    if kind not in TARGET_KINDS:
        p.fail("kind", f"unknown target kind {kind!r}; accepted: {', '.join(TARGET_KINDS)}")
    description = p.text(data["description"], "description")
    clock_hz = p.constant(data["clock_hz"], "clock_hz")

    if "static_power_w" in data:
        static_power_w = p.constant(data["static_power_w"], "static_power_w")
    elif kind == "fpga":
        p.fail("static_power_w", "missing field (required for fpga targets)")
    else:
        static_power_w = 0.0

    capacities: dict[str, int] = {}
    if kind == "fpga":
        if "capacities" not in data:
            p.fail("capacities", "missing field (required for fpga targets)")
        caps = p.complete_mapping(data["capacities"], "capacities", FPGA_CAPACITIES, "capacity")
        for cap in FPGA_CAPACITIES:
            value = p.constant(caps[cap], f"capacities.{cap}")
            if value != int(value):
                p.fail(f"capacities.{cap}", f"must be a whole number, got {value}")
            capacities[cap] = int(value)
    elif "capacities" in data:
        p.fail("capacities", "applies to fpga targets only")

    energy = p.complete_mapping(data["energy_pj"], "energy_pj", ENERGY_OPS, "operation")
    int_add = p.anchors(energy["int_add"], "energy_pj.int_add")
    int_mult = p.anchors(energy["int_mult"], "energy_pj.int_mult")
    fp32_add = p.constant(energy["fp32_add"], "energy_pj.fp32_add")
    fp32_mult = p.constant(energy["fp32_mult"], "energy_pj.fp32_mult")

    template = DEFAULT_CONSTANTS
    if "fpga_template" in data:
        if kind != "fpga":
            p.fail("fpga_template", "applies to fpga targets only")
        template = p.template(data["fpga_template"], "fpga_template")
    calibration = p.mapping(data["calibration"], "calibration") if "calibration" in data else {}

    mems = p.mapping(data["memories"], "memories")
    memories: dict[str, MemorySpec] = {}
    for mem_kind, spec in mems.items():
        field_name = f"memories.{mem_kind}"
        if mem_kind not in MEMORY_KINDS:
            p.fail(field_name, f"unknown memory kind; accepted: {', '.join(MEMORY_KINDS)}")
        memories[mem_kind] = p.memory(spec, field_name, MEMORY_KINDS[mem_kind])
    for mem_kind in REQUIRED_MEMORIES[kind]:
        if mem_kind not in memories:
            p.fail(f"memories.{mem_kind}", f"missing field (required for {kind} targets)")

    return Target(
        name=name,
        kind=kind,
        description=description,
        clock_hz=clock_hz,
        static_power_w=static_power_w,
        capacities=capacities,
        int_add_pj=int_add,
        int_mult_pj=int_mult,
        fp32_add_pj=fp32_add,
        fp32_mult_pj=fp32_mult,
        memories=memories,
        sources=p.sources,
        path=str(path),
        template=template,
        calibration=dict(calibration),
    )


class _Parser:
    """Field checks that raise TargetError with one line: file, dotted field, problem."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.sources: dict[str, str] = {}

    def fail(self, field_name: str, problem: str) -> NoReturn:
        raise TargetError(f"{self.where}: field '{field_name}': {problem}")

    def text(self, value: Any, field_name: str) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(field_name, "must be a non-empty string")
        return value

    def mapping(self, value: Any, field_name: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(field_name, "must be a mapping")
        return value

    def complete_mapping(self, value: Any, field_name: str, keys: Collection[str], what: str) -> dict[str, Any]:
        """A mapping holding exactly `keys`: an unknown or a missing key fails naming it."""
        node = self.mapping(value, field_name)
        unknown = sorted(set(node) - set(keys))
        if unknown:
            self.fail(f"{field_name}.{unknown[0]}", f"unknown {what}; accepted: {', '.join(keys)}")
        for key in keys:
            if key not in node:
                self.fail(f"{field_name}.{key}", "missing field")
        return node

    def number(self, value: Any, field_name: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(field_name, f"must be a number, got {value!r}")
        if not math.isfinite(value) or value <= 0:
            self.fail(field_name, f"must be positive, got {value}")
        return float(value)

    def _source(self, node: dict[str, Any], field_name: str) -> None:
        if "source" not in node:
            self.fail(f"{field_name}.source", "missing field (every constant names its source)")
        self.sources[field_name] = self.text(node["source"], f"{field_name}.source")

    def _keys(self, node: dict[str, Any], field_name: str, allowed: tuple[str, ...]) -> None:
        unknown = sorted(set(node) - set(allowed))
        if unknown:
            self.fail(f"{field_name}.{unknown[0]}", f"unknown field; accepted: {', '.join(allowed)}")

    def constant(self, value: Any, field_name: str) -> float:
        """A {value, source} mapping with a positive value."""
        node = self.mapping(value, field_name)
        self._keys(node, field_name, ("value", "source"))
        if "value" not in node:
            self.fail(f"{field_name}.value", "missing field")
        self._source(node, field_name)
        return self.number(node["value"], f"{field_name}.value")

    def template(self, value: Any, field_name: str) -> TemplateConstants:
        """Template constants: any of TemplateConstants' fields as {value, source} (>= 0)."""
        node = self.mapping(value, field_name)
        names = TemplateConstants.names()
        unknown = sorted(set(node) - set(names))
        if unknown:
            self.fail(f"{field_name}.{unknown[0]}", f"unknown constant; accepted: {', '.join(names)}")
        values: dict[str, float] = {}
        for name in names:
            if name not in node:
                continue
            where = f"{field_name}.{name}"
            item = self.mapping(node[name], where)
            self._keys(item, where, ("value", "source"))
            self._source(item, where)
            number = item.get("value")
            if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number) or number < 0:
                self.fail(f"{where}.value", f"must be a number >= 0, got {number!r}")
            values[name] = int(number) if name == "lutram_max_depth" else float(number)
        return TemplateConstants(**{**DEFAULT_CONSTANTS.__dict__, **values})

    def anchors(self, value: Any, field_name: str) -> tuple[tuple[int, float], ...]:
        """An {anchors: {bits: pJ, ...}, source} mapping with at least two anchors."""
        node = self.mapping(value, field_name)
        self._keys(node, field_name, ("anchors", "source"))
        if "anchors" not in node:
            self.fail(f"{field_name}.anchors", "missing field")
        self._source(node, field_name)
        table = self.mapping(node["anchors"], f"{field_name}.anchors")
        if len(table) < 2:
            self.fail(f"{field_name}.anchors", "needs at least two (bits: pJ) anchors")
        out = []
        for bits, pj in table.items():
            b = self.number(bits, f"{field_name}.anchors.{bits}")
            out.append((int(b), self.number(pj, f"{field_name}.anchors.{bits}")))
        return tuple(sorted(out))

    def memory(self, value: Any, field_name: str, model: str) -> MemorySpec:
        node = self.mapping(value, field_name)
        kind = field_name.split(".", 1)[1]
        if model == "per_bit":
            self._keys(node, field_name, ("pj_per_bit", "source"))
            if "pj_per_bit" not in node:
                self.fail(f"{field_name}.pj_per_bit", "missing field")
            self._source(node, field_name)
            pj = self.number(node["pj_per_bit"], f"{field_name}.pj_per_bit")
            return MemorySpec(kind=kind, source=self.sources[field_name], pj_per_bit=pj)
        self._keys(node, field_name, ("access_bits", "pj_per_access_by_capacity_bytes", "source"))
        for key in ("access_bits", "pj_per_access_by_capacity_bytes"):
            if key not in node:
                self.fail(f"{field_name}.{key}", "missing field")
        self._source(node, field_name)
        access_bits = self.number(node["access_bits"], f"{field_name}.access_bits")
        table = self.mapping(
            node["pj_per_access_by_capacity_bytes"], f"{field_name}.pj_per_access_by_capacity_bytes"
        )
        if len(table) < 2:
            self.fail(f"{field_name}.pj_per_access_by_capacity_bytes", "needs at least two anchors")
        anchors = tuple(
            sorted(
                (
                    self.number(cap, f"{field_name}.pj_per_access_by_capacity_bytes.{cap}"),
                    self.number(pj, f"{field_name}.pj_per_access_by_capacity_bytes.{cap}"),
                )
                for cap, pj in table.items()
            )
        )
        return MemorySpec(
            kind=kind, source=self.sources[field_name], access_bits=int(access_bits), anchors=anchors
        )
