"""`spikerplus`: the inputs Spiker+ (PyPI `spikerplus`) takes for a fully connected LIF network, and its VHDL.

Files: spikerplus_net_dict.json (net_dict: n_cycles, n_inputs, layer_i), spikerplus_state_dict.pt (the state
dict of Spiker+'s SNN: layers.fcN.weight and the snnTorch Leaky buffers of layers.lifN), spikerplus_optim_config.json
(weights_bw, neurons_bw, fp_dec: what VhdlGenerator takes) and spikerplus_export.json (the mapping per layer,
the notes on where Spiker+ differs, the VHDL files in analysis order). With spikerplus installed (the
`spikerplus` extra) also Spiker+'s VHDL (*.vhd, top entity `network`), built from its own Layer and Network
classes. Only MLPs on binary event input with the plain LIF neuron and a power-of-two leak have a Spiker+ form;
the rest is refused in one line. The mapping and its measured agreement: docs/export.md#spikerplus.
"""

from __future__ import annotations

import graphlib
import importlib
import json
import math
import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from dse.errors import UserError
from dse.export.integer_network import LIF, PER_TIMESTEP, SIGN_SCALES, IntegerLayer, IntegerNetwork
from dse.export.integer_sim import round_half_even_shift
from dse.files import atomic_file, write_text

NET_DICT_NAME = "spikerplus_net_dict.json"
STATE_DICT_NAME = "spikerplus_state_dict.pt"
OPTIM_CONFIG_NAME = "spikerplus_optim_config.json"
MANIFEST_NAME = "spikerplus_export.json"
VHDL_TOP = "network"
FLOAT32_EXACT_BITS = 24  # the state dict holds float32: integers up to 2^24 are exact
RESET_CODES = {"subtract": 0, "zero": 1, "none": 2}  # snnTorch Leaky's reset_mechanism_val
# The readout's per-channel multipliers M_i are folded into its weights as integer units floor(M_i c); this many
# more bits in the neuron width keep the largest unit >= 2^4, so the ratios M_i / M_j survive to about 1/16
# (without them the units are about 1 and unequal M_i collapse: docs/export.md#spikerplus, measured).
READOUT_RATIO_BITS = 4
INSTALL_HINT = "pip install 'snn-dse[spikerplus]'"


@dataclass
class SpikerLayer:
    """One Spiker+ layer (fcN + lifN) in integers: a value v stands for v / 2^fp_dec."""

    name: str  # Spiker+'s neuron layer name, lif1, lif2, ... (its linear layer is fc1, fc2, ...)
    weights: np.ndarray  # int64 [out, in]
    threshold: int  # the neuron fires when v > threshold
    shift: int  # leak: v - (v >> shift), beta = 1 - 2^-shift
    reset: str  # net_dict reset_mechanism: "zero" (hidden) or "none" (readout)
    clipped: int = 0  # weights saturated to the neuron width


@dataclass
class SpikerNetwork:
    """What Spiker+ takes: one neuron width, one weight width and one fixed-point position for every layer."""

    timesteps: int
    n_inputs: int
    layers: list[SpikerLayer]
    neurons_bw: int
    weights_bw: int
    fp_dec: int
    notes: list[str] = field(default_factory=list)

    def value(self, integer: int) -> float:
        return float(Fraction(int(integer), 2**self.fp_dec))

    def beta(self, layer: SpikerLayer) -> float:
        return 1.0 - 2.0 ** -layer.shift

    def net_dict(self) -> dict[str, Any]:
        """Spiker+'s net_dict (NetBuilder's keys; every layer a `lif`)."""
        doc: dict[str, Any] = {"n_cycles": self.timesteps, "n_inputs": self.n_inputs}
        for i, layer in enumerate(self.layers):
            doc[f"layer_{i}"] = {
                "neuron_model": "lif", "n_neurons": int(layer.weights.shape[0]), "beta": self.beta(layer),
                "learn_beta": False, "threshold": self.value(layer.threshold), "learn_threshold": False,
                "reset_mechanism": layer.reset,
            }
        return doc

    def optim_config(self) -> dict[str, int]:
        return {"weights_bw": self.weights_bw, "neurons_bw": self.neurons_bw, "fp_dec": self.fp_dec}

    def state_dict(self) -> dict[str, Any]:
        """The state dict of spikerplus.net_builder.SNN(net_dict): weights and snnTorch Leaky buffers, float32."""
        import torch

        state: dict[str, Any] = {}
        for i, layer in enumerate(self.layers, start=1):
            state[f"layers.fc{i}.weight"] = torch.tensor(layer.weights / 2.0**self.fp_dec, dtype=torch.float32)
            state[f"layers.lif{i}.threshold"] = torch.tensor(self.value(layer.threshold), dtype=torch.float32)
            state[f"layers.lif{i}.graded_spikes_factor"] = torch.tensor(1.0, dtype=torch.float32)
            state[f"layers.lif{i}.reset_mechanism_val"] = torch.tensor(RESET_CODES[layer.reset], dtype=torch.int64)
            state[f"layers.lif{i}.beta"] = torch.tensor(self.beta(layer), dtype=torch.float32)
        return state


# ---------------------------------------------------------------- what Spiker+ can represent


def check_representable(candidate: Any) -> None:
    """Refuse, in one line, what has no Spiker+ form: conv, static input, a leak that is not a shift."""
    if candidate.family != "mlp":
        raise UserError(f"format spikerplus: Spiker+ builds fully connected layers only; this is a {candidate.family} "
                        "network (accepted: family mlp)")
    if getattr(candidate, "input_kind", "static") != "events":
        raise UserError("format spikerplus: Spiker+ layers take binary spikes, and layer0 of this network reads static "
                        "8-bit input codes (accepted: input_kind events)")
    tau = float(candidate.tau)
    k = math.log2(tau) if tau >= 1 else None
    if k is None or k != int(k) or k < 1:
        why = (" (tau 1 is shift 0, which Spiker+ writes as another `shifter` entity of the same name as the "
               "readout's: one design cannot hold both)") if tau == 1 else ""
        raise UserError("format spikerplus: Spiker+'s leak is a shift, v - (v >> k), so tau must be 2^k with k >= 1; "
                        f"got tau {tau:g}{why}")


def _check_layer(layer: IntegerLayer, quantizer: str) -> None:
    if layer.kind != "linear":
        raise UserError(f"format spikerplus: {layer.name} is a {layer.kind} layer; Spiker+ builds fully connected "
                        "layers only")
    if layer.weight_form == PER_TIMESTEP:
        raise UserError(f"format spikerplus: {layer.name} ({quantizer}) uses another weight set at every timestep; a "
                        "Spiker+ layer has one weight ROM (accepted: uniform, ternary, sigmoid)")
    if layer.spiking and layer.neuron != LIF:
        raise UserError(f"format spikerplus: {layer.name} ({quantizer}) has the {layer.neuron} neuron, which Spiker+'s "
                        "LIF (leak shift, threshold, reset) does not describe (accepted: uniform, ternary, sigmoid)")


# ---------------------------------------------------------------- the mapping


def _signed_bits(values: np.ndarray) -> int:
    """Two's complement width holding every value."""
    hi = max(int(values.max(initial=0)), -int(values.min(initial=0)) - 1, 0)
    return hi.bit_length() + 1


def _multipliers_per_weight(layer: IntegerLayer) -> np.ndarray:
    """[out, in] Python-int multiplier of each weight: M_i, or for TTQ Mn_i where the code is negative."""
    codes = layer.codes.astype(np.int64).reshape(layer.codes.shape[0], -1)
    m = np.array([int(v) for v in layer.multiplier], dtype=object).reshape(-1, 1)
    if layer.weight_form == SIGN_SCALES:
        mn = np.array([int(v) for v in layer.multiplier_neg], dtype=object).reshape(-1, 1)
        return np.where(codes < 0, mn, m)
    return np.broadcast_to(m, codes.shape)


def _threshold(thr_lsb: int, extra_bits: int) -> int:
    """Spiker+ threshold (fires when v > it) for v = m 2^e: the project fires when round_half_even(v / 2^e) >= thr."""
    if extra_bits == 0:
        return thr_lsb - 1
    lowest = thr_lsb * 2**extra_bits - 2 ** (extra_bits - 1)  # the half-way point rounds to thr when thr is even
    return lowest - 1 + (thr_lsb % 2)


def _hidden_layer(layer: IntegerLayer, index: int, neurons_bw: int) -> SpikerLayer:
    """Weights in Spiker+ LSBs: m = 2^-(N-b) project LSB, so w = q M 2^(N-b) / 2^(F+k), rounded half to even."""
    extra = neurons_bw - layer.membrane_bits
    codes = layer.codes.astype(np.int64).reshape(layer.codes.shape[0], -1).astype(object)
    exact = codes * _multipliers_per_weight(layer) * (2**extra)
    weights = round_half_even_shift(exact, layer.scale_bits + layer.leak_shift)
    lo, hi = -(2 ** (neurons_bw - 1)), 2 ** (neurons_bw - 1) - 1
    clipped = int(sum(1 for w in weights.reshape(-1) if not lo <= w <= hi))
    weights = np.minimum(np.maximum(weights, lo), hi).astype(np.int64)
    return SpikerLayer(f"lif{index + 1}", weights, _threshold(int(layer.threshold_lsb), extra),
                       int(layer.leak_shift), "zero", clipped)


def _check_entity_names(layers: list[SpikerLayer]) -> None:
    """Spiker+ names a layer's VHDL entity by its size only (layer_<n>_neurons_<m>_inputs): two layers of one
    size would share one entity, the last one's weights and reset, so such a network is refused."""
    seen: dict[tuple[int, int], str] = {}
    for layer in layers:
        size = tuple(int(v) for v in layer.weights.shape)
        if size in seen:
            raise UserError(f"format spikerplus: {seen[size]} and {layer.name} both have {size[0]} neurons of "
                            f"{size[1]} inputs; Spiker+ names a layer's VHDL entity by its size, so they would share "
                            "one entity and one weight ROM (accepted: layers of distinct sizes)")
        seen[size] = layer.name


def readout_bits(layer: IntegerLayer, timesteps: int) -> int:
    """Signed width of the readout membrane when the weights are the codes: T x max_i sum_j |q_ij| plus T of drift."""
    codes = np.abs(layer.codes.astype(np.int64).reshape(layer.codes.shape[0], -1))
    return int(timesteps * int(codes.sum(axis=1).max(initial=0)) + timesteps).bit_length() + 1


def _readout_layer(layer: IntegerLayer, index: int, neurons_bw: int, timesteps: int) -> tuple[SpikerLayer, int]:
    """Readout weights = code x an integer unit per channel, floor(M_i c), with c as large as T steps allow
    without saturating the neuron width (leaving T for the leak's drift); returns the layer and how many
    channels with M_i > 0 got a unit of 0."""
    codes = layer.codes.astype(np.int64).reshape(layer.codes.shape[0], -1)
    mult = _multipliers_per_weight(layer)
    per_channel = [sum(abs(int(q)) * int(m) for q, m in zip(row_q, row_m)) for row_q, row_m in zip(codes, mult)]
    budget = 2 ** (neurons_bw - 1) - 1 - timesteps
    scale = Fraction(budget, timesteps * max(max(per_channel), 1))
    units = np.array([[math.floor(int(m) * scale) for m in row] for row in mult], dtype=np.int64)
    weights = codes * units
    silent = sum(1 for i in range(codes.shape[0]) if int(layer.multiplier[i]) > 0 and not units[i].any())
    return SpikerLayer(f"lif{index + 1}", weights, 2 ** (neurons_bw - 1) - 1, neurons_bw - 1, "none"), silent


def readout_ratio_bits(layer: IntegerLayer) -> int:
    """READOUT_RATIO_BITS when the readout's multipliers differ (per-channel scales, TTQ's M and Mn), else 0:
    one multiplier for all channels keeps the argmax of the codes with a unit of 1."""
    return 0 if len({int(m) for m in layer.all_multipliers().tolist()}) <= 1 else READOUT_RATIO_BITS


def spikerplus_network(net: IntegerNetwork, quantizer: str = "", ratio_bits: int | None = None) -> SpikerNetwork:
    """The Spiker+ form of an integer MLP: one neuron width N (the widest membrane, or the readout's sum over T
    with `ratio_bits` more for its multipliers: readout_ratio_bits by default), fp_dec = N - 2 (a spiking layer's
    value 1.0 is its v_threshold), weights and thresholds on that one grid."""
    for layer in net.layers:
        _check_layer(layer, quantizer)
    spiking, readout = net.layers[:-1], net.layers[-1]
    widest_membrane = max(int(layer.membrane_bits) for layer in spiking)
    ratio_bits = readout_ratio_bits(readout) if ratio_bits is None else int(ratio_bits)
    readout_width = readout_bits(readout, net.timesteps) + ratio_bits
    neurons_bw = max(widest_membrane, readout_width)
    if neurons_bw > FLOAT32_EXACT_BITS:
        raise UserError(f"format spikerplus: one Spiker+ neuron width for all layers would be {neurons_bw} bits (the "
                        f"readout's sum over T needs {readout_width}); the float32 state dict holds at most "
                        f"{FLOAT32_EXACT_BITS}-bit values exactly")
    for layer in spiking:
        if layer.leak_shift >= neurons_bw:
            raise UserError(f"format spikerplus: {layer.name}: leak shift {layer.leak_shift} "
                            f"(tau 2^{layer.leak_shift}) is not below the {neurons_bw}-bit neuron width, which "
                            "Spiker+'s shifter needs")
    layers = [_hidden_layer(layer, i, neurons_bw) for i, layer in enumerate(spiking)]
    out_layer, silent = _readout_layer(readout, len(spiking), neurons_bw, net.timesteps)
    layers.append(out_layer)
    _check_entity_names(layers)
    weights_bw = max(2, min(neurons_bw, max(_signed_bits(layer.weights) for layer in layers)))
    spk = SpikerNetwork(net.timesteps, input_count(net), layers, neurons_bw, weights_bw, neurons_bw - 2)
    spk.notes = _notes(net, spk, readout_width, ratio_bits, silent)
    return spk


def input_count(net: IntegerNetwork) -> int:
    """n_inputs of the net_dict: layer 0's fan-in (C x H x W of the event frame)."""
    return int(np.prod(net.layers[0].codes.shape[1:]))


def _notes(net: IntegerNetwork, spk: SpikerNetwork, readout_width: int, ratio_bits: int, silent: int) -> list[str]:
    """Where this member's Spiker+ form differs from the project's integer network (spikerplus_export.json)."""
    n, d = spk.neurons_bw, spk.fp_dec
    membranes = ", ".join(f"{layer.name} {layer.membrane_bits}" for layer in net.layers[:-1])
    ratio = f", of which {ratio_bits} keep its multipliers apart" if ratio_bits else ""
    notes = [
        f"one width for all layers: neurons_bw {n} = the widest of the membranes ({membranes} bits) and the "
        f"readout's sum over T ({readout_width} bits{ratio}); a b-bit membrane keeps its range (-2 to 2 "
        f"thresholds) and gains {n} - b fractional bits",
        f"one fixed-point grid: a value is integer / 2^{d} (fp_dec {d}); in a spiking layer 1.0 is v_threshold; "
        "the per-neuron multipliers M and the input's 1/tau (the project's decay_input) are folded into the "
        f"weights, rounded half to even to that grid; weights_bw {spk.weights_bw} is the widest layer's",
        "threshold: Spiker+ fires when v > threshold, the project when its membrane, rounded half to even to its "
        "b-bit grid, is >= 2^(b-2) LSBs (v_threshold); the exported threshold is the last value that rounds below it",
        "rounding: the project rounds the membrane to its b-bit grid every timestep; Spiker+ keeps the extra bits "
        "and rounds only the leak (its Python model, QuantSNN, truncates beta x v toward zero; its VHDL computes "
        "v - (v >> shift), the leaked value rounded up), and its VHDL saturates after each added weight",
        "reset: to zero in both (net_dict reset_mechanism 'zero'); Spiker+ 2.0.3's VhdlGenerator cannot build it "
        "(one v_reset value, 2, not repeated per neuron), so the export builds the VHDL layers itself with v_reset 0",
        "readout: the project sums M x acc over T with no leak and no saturation; Spiker+ has no leak-free neuron, "
        f"so the readout is a LIF with reset 'none' and the smallest leak its shifter has, shift {n - 1} "
        f"(beta 1 - 2^-{n - 1}): the VHDL raises a negative membrane by 1 a step, QuantSNN moves every nonzero one "
        f"1 toward 0; its weights are code x floor(M_i c), c as large as T steps allow in {n} bits (the largest "
        f"unit >= 2^{ratio_bits}); the class is the argmax of the readout membrane after the last step (Spiker+'s "
        "Trainer and NetworkSimulator average it over time instead)",
        "input: one binary event frame per timestep, flattened (c, y, x) as the project's; Spiker+'s VHDL layers "
        "also hold a recurrent inhibitory ROM, all zeros here",
    ]
    clipped = sum(layer.clipped for layer in spk.layers)
    if clipped:
        notes.append(f"{clipped} weights exceed the {n}-bit range (more than 2 thresholds) and are saturated to it")
    if silent:
        notes.append(f"{silent} readout channels have a multiplier so much smaller than the largest that their unit "
                     "is 0: they never win the argmax")
    return notes


# ---------------------------------------------------------------- VHDL


def vhdl_available() -> str | None:
    """None when spikerplus imports, else why not (one line)."""
    try:
        for module in ("spikerplus.vhdl.layer", "spikerplus.vhdl.network"):  # spikerplus imports snntorch, tabulate
            importlib.import_module(module)
    except ImportError as exc:
        return f"spikerplus is not installed or does not import ({exc}); {INSTALL_HINT}"
    return None


def write_vhdl(spk: SpikerNetwork, folder: Path) -> list[str]:
    """Write Spiker+'s VHDL of the network into `folder`; returns the files in analysis order (top last)."""
    from spikerplus.vhdl.layer import Layer
    from spikerplus.vhdl.network import Network

    vhdl_net = Network(n_cycles=spk.timesteps, debug_list=[])
    for layer in spk.layers:
        n = layer.weights.shape[0]
        vhdl_net.add(Layer(
            label=layer.name, w_exc=layer.weights / 2.0**spk.fp_dec, w_inh=np.zeros((n, n)),
            v_th=np.full(n, spk.value(layer.threshold)), v_reset=np.zeros(n), bitwidth=spk.neurons_bw,
            fp_decimals=spk.fp_dec, w_inh_bw=spk.weights_bw, w_exc_bw=spk.weights_bw, shift=layer.shift,
            reset="fixed" if layer.reset == "zero" else "none", functional=True, debug_list=[],
        ))
    vhdl_net.write_file_all(output_dir=str(folder))
    return analysis_order(sorted(folder.glob("*.vhd")))


_DEFINES = re.compile(r"^\s*(?:entity|package)\s+(\w+)\s+is\b", re.IGNORECASE | re.MULTILINE)
_USES = re.compile(r"^\s*component\s+(\w+)|\bwork\.(\w+)", re.IGNORECASE | re.MULTILINE)


def analysis_order(files: list[Path]) -> list[str]:
    """File names ordered so that every package and component a file uses is analyzed before it."""
    defined_in: dict[str, str] = {}
    texts = {path.name: path.read_text() for path in files}
    for name, text in texts.items():
        for unit in _DEFINES.findall(text):
            defined_in[unit.lower()] = name
    graph = graphlib.TopologicalSorter()
    for name in sorted(texts):
        used = {(a or b).lower() for a, b in _USES.findall(texts[name])}
        graph.add(name, *sorted({defined_in[u] for u in used if u in defined_in and defined_in[u] != name}))
    return list(graph.static_order())


# ---------------------------------------------------------------- export entry and the way back


def write(ctx: Any, out_dir: Path) -> list[Path]:
    """Export-registry entry: the three Spiker+ inputs, the mapping and, with spikerplus installed, its VHDL."""
    check_representable(ctx.candidate)
    spk = spikerplus_network(ctx.integer_net, ctx.candidate.quantizer)
    folder = Path(out_dir)
    missing = vhdl_available()
    vhdl: list[str] = []
    if missing is None:
        try:
            vhdl = write_vhdl(spk, folder)
        except (ValueError, IndexError, KeyError, TypeError) as exc:
            raise UserError(f"format spikerplus: Spiker+ could not generate the VHDL: {exc}") from exc
    written = [folder / name for name in vhdl]
    written.append(write_text(folder / NET_DICT_NAME, json.dumps(spk.net_dict(), indent=2) + "\n"))
    written.append(write_text(folder / OPTIM_CONFIG_NAME, json.dumps(spk.optim_config(), indent=2) + "\n"))
    import torch

    with atomic_file(folder / STATE_DICT_NAME, "wb") as handle:
        torch.save(spk.state_dict(), handle)
    written.append(folder / STATE_DICT_NAME)
    manifest = {
        "spikerplus_version": _version(), "net_dict": NET_DICT_NAME, "state_dict": STATE_DICT_NAME,
        "optim_config": OPTIM_CONFIG_NAME,
        "vhdl": {"top": VHDL_TOP, "sources": vhdl, "check": "ghdl -a --std=08 <each source, in this order>; "
                 f"ghdl -e --std=08 {VHDL_TOP}"} if vhdl else {"sources": [], "reason": missing},
        "layers": [{"name": layer.name, "n_neurons": int(layer.weights.shape[0]), "threshold_int": layer.threshold,
                    "shift": layer.shift, "reset": layer.reset, "clipped_weights": layer.clipped,
                    "max_abs_weight_int": int(np.abs(layer.weights).max(initial=0))} for layer in spk.layers],
        "notes": spk.notes,
    }
    written.append(write_text(folder / MANIFEST_NAME, json.dumps(manifest, indent=2) + "\n"))
    return written


def _version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("spikerplus")
    except PackageNotFoundError:
        return None


def read_inputs(folder: str | Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, int]]:
    """net_dict, state dict and optim_config of an export folder (what Spiker+'s NetBuilder, SNN and
    VhdlGenerator take)."""
    import torch

    folder = Path(folder)
    net_dict = json.loads((folder / NET_DICT_NAME).read_text())
    state = torch.load(folder / STATE_DICT_NAME, weights_only=True)
    optim = json.loads((folder / OPTIM_CONFIG_NAME).read_text())
    return net_dict, state, optim


@dataclass
class SpikerRun:
    """Spikes of every hidden layer [T, B, n] (uint8) and the readout membrane [T, B, classes] (integers)."""

    spikes: list[np.ndarray]
    readout_membrane: np.ndarray

    @property
    def predictions(self) -> np.ndarray:
        """Argmax of the readout membrane after the last step (ties to the lowest class)."""
        return np.argmax(self.readout_membrane[-1], axis=1)


def run_quantized_model(net_dict: dict[str, Any], state: dict[str, Any], optim: dict[str, int],
                        frames: np.ndarray) -> SpikerRun:
    """Spiker+'s own fixed-point Python model (Optimizer.build_quant_snn -> QuantSNN) on event frames [T, B, n_in]."""
    import torch
    from spikerplus.net_builder import NetBuilder
    from spikerplus.optimizer import Optimizer

    net = NetBuilder(net_dict).build()
    net.load_state_dict(state)
    ranges = {key: {"min": int(value), "max": int(value)} for key, value in optim.items()}
    optimizer = Optimizer(net, net_dict, ranges)
    optimizer.build_quant_snn(optim["weights_bw"], optim["neurons_bw"], optim["fp_dec"])
    quant = optimizer.net.eval()
    x = torch.tensor(np.asarray(frames).reshape(frames.shape[0], frames.shape[1], -1), dtype=torch.float32)
    with torch.no_grad():
        quant(x.to(optimizer.device))
    names = [name for name in quant.layers if name.startswith("lif")]
    spikes = [quant.spk_rec[name].cpu().numpy().astype(np.uint8) for name in names[:-1]]
    membrane = quant.mem_rec[names[-1]].cpu().numpy().astype(np.int64)
    return SpikerRun(spikes, membrane)


__all__ = ["SpikerLayer", "SpikerNetwork", "SpikerRun", "analysis_order", "check_representable", "read_inputs",
           "run_quantized_model", "spikerplus_network", "vhdl_available", "write", "write_vhdl"]
