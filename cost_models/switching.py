"""Energy from switching activity: read the SAIF that `dse simulate DIR --saif FILE` writes, group its
toggle counts by layer and signal group, and price each toggle from the target's energy table.

The dynamic energy per inference is (docs/cost-models.md#switching-activity)

    E_dyn = sum over layers L and groups g of  TC(L, g) / N  x  e(L, g)

TC(L, g): the transitions (SAIF TC) of every bit of the group's nets over the simulation; N: the
inferences simulated (the file's header); e(L, g): energy.toggle_energies_pj, the count model's per-op
energy of the group's operation over the bits it toggles on random operands (width x 1/2). The groups,
by net name in the template's Verilog (snn_layer.v, snn_conv.v, snn_top):

    weight_rom    w_rdata (the weight ROM's read register)        weight read pJ/bit / (1/2)
    accumulators  acc[u], accn[u]                                   E_add(acc) / (acc x 1/2)
    multipliers   p_full (weight x input code, dense layers)        E_mult(W x A) / ((W + A) x 1/2)
    neuron        m_next, spike, prod[u], spk, pacc[u]              E_add(acc) / (acc x 1/2)
    membrane_ram  m_rdata, m_wdata                                  membrane pJ/bit / (1/2)
    control       every other net of the layer instance             E_add(acc) / (acc x 1/2)
    top/control   the nets of snn_top itself                        E_add(8) / (8 x 1/2)

Nets inside the units' generate blocks and submodules (slices, renames, the adders' and comparators'
inner nodes), memory arrays and nets that repeat a priced one (racc_next, m_cur) are counted but not
priced: the table's per-op energies already cover the logic behind the registers that are. Torch-free: reads a text file and the cost model's own tables.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cost_models.activity import Activity
from cost_models.energy import PJ_TO_MJ, add_pj, toggle_energies_pj
from cost_models.network import INPUT_BITS, layer_specs
from cost_models.report import evaluate, layer_static
from cost_models.targets import Target
from search_spaces.candidate import Candidate

HEADER_PREFIX = "// dse-activity "  # the first line of a dse SAIF: this prefix, then one JSON object
FORMAT = "dse-activity"
FORMAT_VERSION = 1
REFERENCE_TOGGLE_RATE = 0.5  # bits a random operand flips per operation: the energy table's assumed switching
GROUPS = ("weight_rom", "accumulators", "multipliers", "neuron", "membrane_ram", "control")
TOP = "top"  # the nets of snn_top itself
DESIGN_SCOPE = ("tb", "dut")
_LAYER_NETS = {"w_rdata": "weight_rom", "acc": "accumulators", "accn": "accumulators",
               "m_rdata": "membrane_ram", "m_wdata": "membrane_ram", "m_next": "neuron", "spike": "neuron",
               "prod": "neuron", "spk": "neuron", "pacc": "neuron"}
# not priced at the layer or top level: memory arrays (Verilator dumps their words; the ports above carry
# their traffic), racc_next (the same sum as m_next), m_cur (read from m_rdata)
_UNPRICED = {"wrom", "srom", "sram", "mram", "trom", "inmem", "racc_next", "m_cur"}
_TOKEN = re.compile(r'\s+|//[^\n]*|/\*.*?\*/|(\()|(\))|("(?:[^"\\]|\\.)*")|((?:\\.|[^\s()"\\])+)', re.S)


class ActivityFileError(ValueError):
    """The activity file is not a SAIF, not written by dse simulate, or of another design (one line)."""


def candidate_digest(candidate: Candidate) -> str:
    """A short hash of the candidate (every field of to_dict()): names the design an activity file is of."""
    text = json.dumps(candidate.to_dict(), sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# ---------------------------------------------------------------- reading a SAIF


@dataclass(frozen=True)
class SaifNet:
    """One bit (or scalar net) of a SAIF file: its instance path below tb/dut, name and counts."""

    scope: tuple[str, ...]
    name: str  # unescaped, e.g. 'w_rdata[3]', 'acc[0][17]'
    t0: int
    t1: int
    tx: int
    tc: int


@dataclass(frozen=True)
class SaifFile:
    """What read_saif returns: the dse header (None when absent), timescale, duration and the nets of the design."""

    header: dict[str, Any] | None
    timescale: str
    duration: int
    nets: tuple[SaifNet, ...]


def _tokens(text: str, path: str) -> list[str]:
    out: list[str] = []
    pos = 0
    for m in _TOKEN.finditer(text):
        if m.start() != pos:
            break
        pos = m.end()
        token = m.group(1) or m.group(2) or m.group(3) or m.group(4)
        if token:
            out.append(token)
    if pos != len(text):
        raise ActivityFileError(f"{path}: not a SAIF file (unreadable text at character {pos})")
    return out


def _forms(tokens: list[str], path: str) -> list[Any]:
    """Nested lists of the parenthesised forms; atoms keep their backslash escapes."""
    stack: list[list[Any]] = [[]]
    for token in tokens:
        if token == "(":
            stack.append([])
        elif token == ")":
            if len(stack) == 1:
                raise ActivityFileError(f"{path}: not a SAIF file (unbalanced parentheses)")
            done = stack.pop()
            stack[-1].append(done)
        else:
            stack[-1].append(token)
    if len(stack) != 1:
        raise ActivityFileError(f"{path}: not a SAIF file (unbalanced parentheses)")
    return stack[0]


def _unescape(atom: str) -> str:
    return re.sub(r"\\(.)", r"\1", atom)


def _count(form: list[Any], key: str) -> int:
    for item in form[1:]:
        if isinstance(item, list) and item and item[0] == key and len(item) == 2:
            try:
                return int(item[1])
            except ValueError:
                break
    return 0


def read_saif(path: str | Path) -> SaifFile:
    """Parse a SAIF file: header comment, TIMESCALE, DURATION and every NET bit under tb/dut.
    ActivityFileError (one line) when the file is not a SAIF."""
    name = str(path)
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise ActivityFileError(f"{name}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ActivityFileError(f"{name}: not a SAIF file ({type(exc).__name__})") from None
    header = None
    first = text.lstrip().splitlines()[0] if text.strip() else ""
    if first.startswith(HEADER_PREFIX):
        try:
            header = json.loads(first[len(HEADER_PREFIX):])
        except ValueError:
            raise ActivityFileError(f"{name}: the dse-activity header line is not JSON") from None
        if not isinstance(header, dict):
            raise ActivityFileError(f"{name}: the dse-activity header line is not a JSON object")
    forms = _forms(_tokens(text, name), name)
    root = next((f for f in forms if isinstance(f, list)), None)
    if root is None or not root or root[0] != "SAIFILE":
        raise ActivityFileError(f"{name}: not a SAIF file (no (SAIFILE ...) form)")
    timescale, duration = "", None
    nets: list[SaifNet] = []

    def instance(form: list[Any], path_: tuple[str, ...]) -> None:
        names = [a for a in form[1:] if isinstance(a, str) and not a.startswith('"')]
        here = path_ + (_unescape(names[0]),) if names else path_
        scope = _below_design(here)
        for item in form[1:]:
            if not isinstance(item, list) or not item:
                continue
            if item[0] == "INSTANCE":
                instance(item, here)
            elif item[0] == "NET" and scope is not None:
                for net in item[1:]:
                    if isinstance(net, list) and net and isinstance(net[0], str):
                        nets.append(SaifNet(scope, _unescape(net[0]), _count(net, "T0"), _count(net, "T1"),
                                            _count(net, "TX"), _count(net, "TC")))

    for item in root[1:]:
        if not isinstance(item, list) or not item:
            continue
        if item[0] == "TIMESCALE":
            timescale = " ".join(a for a in item[1:] if isinstance(a, str))
        elif item[0] == "DURATION" and len(item) == 2:
            try:
                duration = int(float(item[1]))
            except ValueError:
                raise ActivityFileError(f"{name}: not a SAIF file (DURATION {item[1]!r})") from None
        elif item[0] == "INSTANCE":
            instance(item, ())
    if duration is None:
        raise ActivityFileError(f"{name}: not a SAIF file (no DURATION)")
    return SaifFile(header, timescale, duration, tuple(nets))


def _below_design(path: tuple[str, ...]) -> tuple[str, ...] | None:
    n = len(DESIGN_SCOPE)
    for i in range(len(path) - n + 1):
        if path[i:i + n] == DESIGN_SCOPE:
            return path[i + n:]
    return None


# ---------------------------------------------------------------- grouping


def net_group(scope: tuple[str, ...], name: str) -> tuple[str, str] | None:
    """(layer name or 'top', signal group) of a net of the template, or None when it is not priced."""
    base = name.split("[", 1)[0]
    if base in _UNPRICED or (not scope and base.endswith("_spikes")):  # the event lists between layers
        return None
    if not scope:
        return TOP, "control"
    if not scope[0].startswith("u_"):
        return None
    layer = scope[0][2:]
    if len(scope) == 1:
        return layer, _LAYER_NETS.get(base, "control")
    return (layer, "multipliers") if base == "p_full" else None


@dataclass(frozen=True)
class GroupToggles:
    """The toggles of one signal group over the whole simulation, and its bits."""

    layer: str
    group: str
    bits: int
    toggles: int


@dataclass(frozen=True)
class SwitchingActivity:
    """A dse activity file, summed per (layer, group)."""

    path: str
    header: dict[str, Any]
    inferences: int
    cycles: int  # clock cycles simulated: clk's transitions / 2
    groups: tuple[GroupToggles, ...]
    unpriced_bits: int
    unpriced_toggles: int
    instances: frozenset[str]  # the layer instances (u_...) the file names

    def spikes(self) -> Activity | None:
        """The spike counts of the same simulated samples (the reference's), recorded by dse simulate."""
        data = self.header.get("spikes")
        return Activity.from_dict(data) if isinstance(data, dict) else None


def read_switching_activity(path: str | Path) -> SwitchingActivity:
    """Read a SAIF written by `dse simulate --saif` into toggles per layer and group; ActivityFileError
    (one line) for a file that is not a SAIF or has no dse header."""
    saif = read_saif(path)
    name = str(path)
    header = saif.header
    if header is None or header.get("format") != FORMAT:
        raise ActivityFileError(f"{name}: a SAIF without the dse-activity header; write one with "
                                "`dse simulate DIR --saif FILE`")
    if int(header.get("format_version", 0)) > FORMAT_VERSION:
        raise ActivityFileError(f"{name}: dse-activity format version {header.get('format_version')}; "
                                f"this dse reads up to {FORMAT_VERSION}")
    inferences = header.get("inferences")
    if not isinstance(inferences, int) or inferences < 1:
        raise ActivityFileError(f"{name}: the header's inferences must be a positive integer, got {inferences!r}")
    totals: dict[tuple[str, str], list[int]] = {}
    unpriced = [0, 0]
    clk_toggles = 0
    for net in saif.nets:
        if not net.scope and net.name == "clk":
            clk_toggles = net.tc
        key = net_group(net.scope, net.name)
        if key is None:
            unpriced[0] += 1
            unpriced[1] += net.tc
            continue
        entry = totals.setdefault(key, [0, 0])
        entry[0] += 1
        entry[1] += net.tc
    if not totals:
        raise ActivityFileError(f"{name}: no net under {'/'.join(DESIGN_SCOPE)}")
    groups = tuple(GroupToggles(layer, group, bits, toggles) for (layer, group), (bits, toggles) in totals.items())
    instances = frozenset(net.scope[0] for net in saif.nets if net.scope and net.scope[0].startswith("u_"))
    return SwitchingActivity(name, header, inferences, clk_toggles // 2, groups, unpriced[0], unpriced[1], instances)


def check_design(activity: SwitchingActivity, candidate: Candidate) -> None:
    """ActivityFileError when the file is of another design: candidate digest or layers differ."""
    digest = candidate_digest(candidate)
    recorded = activity.header.get("candidate_digest")
    if recorded != digest:
        raise ActivityFileError(f"{activity.path}: switching activity of another design (candidate digest {recorded}, "
                                f"this candidate's is {digest}); simulate this candidate's export with --saif")
    names = [spec.name for spec in layer_specs(candidate)]
    missing = [n for n in names if f"u_{n}" not in activity.instances]
    if missing or list(activity.header.get("layers") or []) != names:
        raise ActivityFileError(f"{activity.path}: the file's layers {sorted(activity.instances)} are not this "
                                f"candidate's ({', '.join('u_' + n for n in names)})")


# ---------------------------------------------------------------- energy


@dataclass(frozen=True)
class GroupEnergy:
    """One signal group's switching energy per inference."""

    layer: str
    group: str
    bits: int
    toggles_per_inference: float
    pj_per_toggle: float
    energy_mj: float


@dataclass(frozen=True)
class SwitchingEstimate:
    """Dynamic energy per inference from measured toggles, beside the spike-count estimate of the same samples."""

    source: str
    simulator: str | None
    inferences: int
    cycles_per_inference: float
    groups: tuple[GroupEnergy, ...]
    dynamic_energy_mj: float  # from the toggles
    spike_count_dynamic_energy_mj: float | None  # compute + memory of evaluate() with the file's spikes
    static_energy_mj: float | None  # of that same report (static power x the model's latency)
    unpriced_toggles_per_inference: float
    reference_toggle_rate: float = REFERENCE_TOGGLE_RATE
    model: str = "docs/cost-models.md#switching-activity"

    @property
    def ratio(self) -> float | None:
        """Switching-activity dynamic energy over the spike-count one (None without the latter)."""
        base = self.spike_count_dynamic_energy_mj
        return self.dynamic_energy_mj / base if base else None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["groups"] = [asdict(g) for g in self.groups]
        d["ratio"] = self.ratio
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}


def switching_estimate(candidate: Candidate, target: Target, activity: SwitchingActivity) -> SwitchingEstimate:
    """Price the file's toggles per inference on the target (after check_design), and cost the same
    samples' spikes with the count model for comparison."""
    check_design(activity, candidate)
    per_toggle: dict[str, dict[str, float]] = {}
    for spec in layer_specs(candidate):
        hw = layer_static(spec, target).hardware
        per_toggle[spec.name] = toggle_energies_pj(spec, target, hw.weight_memory_kind, hw.membrane_memory_kind,
                                                   REFERENCE_TOGGLE_RATE)
    per_toggle[TOP] = {"control": add_pj(target, INPUT_BITS) / (INPUT_BITS * REFERENCE_TOGGLE_RATE)}
    n = activity.inferences
    unknown = sorted({g.layer for g in activity.groups} - set(per_toggle))
    if unknown:
        raise ActivityFileError(f"{activity.path}: layer instance u_{unknown[0]} is not in this candidate")
    order = {name: i for i, name in enumerate(per_toggle)}  # the network's layers, then top
    groups = []
    for g in sorted(activity.groups, key=lambda g: (order[g.layer], GROUPS.index(g.group))):
        pj = per_toggle[g.layer][g.group]
        groups.append(GroupEnergy(g.layer, g.group, g.bits, g.toggles / n, pj, g.toggles / n * pj * PJ_TO_MJ))
    spike_dynamic = static = None
    spikes = activity.spikes()
    if spikes is not None:
        try:
            report = evaluate(candidate, target, spikes)
            spike_dynamic, static = report.compute_energy_mj + report.memory_energy_mj, report.static_energy_mj
        except ValueError:  # spikes of other layer names: the candidate check above makes this unlikely
            pass
    return SwitchingEstimate(
        source=activity.path, simulator=activity.header.get("simulator"), inferences=n,
        cycles_per_inference=activity.cycles / n, groups=tuple(groups),
        dynamic_energy_mj=sum(g.energy_mj for g in groups), spike_count_dynamic_energy_mj=spike_dynamic,
        static_energy_mj=static, unpriced_toggles_per_inference=activity.unpriced_toggles / n,
    )


__all__ = [
    "ActivityFileError", "FORMAT", "FORMAT_VERSION", "GROUPS", "HEADER_PREFIX", "REFERENCE_TOGGLE_RATE",
    "SwitchingActivity", "SwitchingEstimate", "candidate_digest", "check_design", "net_group", "read_saif",
    "read_switching_activity", "switching_estimate",
]
