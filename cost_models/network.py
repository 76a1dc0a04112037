"""Stage 1 of the cost pipeline, layer specs: a Candidate turned into per-layer shapes and bit
widths (no torch). Every later stage (ops -> fpga -> energy -> report) reads these LayerSpecs.

The graph mirrors exactly what the torch model builds (see build_network's docstring), so the
counts made from it equal those of SpikingJelly's counters on the real model.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import lru_cache

import networkx as nx

from search_spaces.candidate import Candidate, storage_bits
from search_spaces.quantizer_types import get_profile

INPUT_BITS = 8  # layer 0 reads a static input as 8-bit fixed point (docs/cost-models.md); events are 1 bit
FP32_BITS = 32  # a width of None is full precision: float32, 32 bits stored and datapath width
POOL_KERNEL = 2  # pooling is 2x2, stride 2, floor mode (torch default)
AVG_POOL_SUM_BITS = 3  # the template's average pool hands on the sum of 4 spikes, 0..4 (not the mean)
PRODUCT_BITS = 18  # acc x M_i: M_i on a signed 18-bit port (cost_models/fpga.py SCALE_MULT_BITS)
# How a layer's weights enter its current and which neuron it has (docs/integer-semantics.md, Added forms;
# dse/export/integer_network.py uses the same names)
SCALED, SIGN_SCALES, PER_TIMESTEP = "scaled", "sign_scales", "per_timestep"
LIF, QSNN, MFP = "lif", "qsnn", "mfp"


@dataclass(frozen=True)
class LayerSpec:
    """One weight layer: shapes, sizes and the bit widths the cost models read."""

    name: str
    index: int
    kind: str  # "linear" | "conv"
    in_shape: tuple[int, ...]  # (features,) for linear, (C, H, W) for conv
    out_shape: tuple[int, ...]
    fan_in: int
    n_weights: int
    out_channels: int
    n_neurons: int
    weight_bits: int | None  # None = full precision (float32)
    membrane_bits: int | None  # spiking: membrane width; readout: accumulator width (+2 after an avg pool)
    spiking: bool
    input_is_spike: bool
    parallelism: int
    pool_after: str | None  # "max" | "avg" | None (conv blocks only)
    kernel_size: int  # 1 for linear layers
    padding: int  # 0 for linear layers
    timesteps: int
    has_membrane_state: bool  # the quantizer profile keeps a membrane between timesteps
    weight_sets: int  # T when the layer reads a different weight set per timestep (TaWQ's ternary layers), else 1
    weight_storage_bits: int  # bits stored per weight, all sets together
    weight_read_bits: int  # bits read per weight use (one set)
    input_bits: int | None  # static layer 0: INPUT_BITS (None if fp weights); spikes and events: 1
    # ---- the added integer forms (defaults: codes x one multiplier, LIF neuron) ----
    weight_form: str = SCALED  # SCALED | SIGN_SCALES (TTQ: M and Mn) | PER_TIMESTEP (TaWQ: T code and scale sets)
    neuron: str = LIF  # LIF | QSNN | MFP (spiking layers)
    leak_shift: int | None = None  # k with tau = 2^k (ceil for other tau)
    input_max_code: int = 1  # largest input value: 255 (static layer 0), 4 (after an avg pool), 1 (spikes, events)


def accumulator_bits(weight_bits: int | None, fan_in: int, timesteps: int) -> int:
    """Bits so that T x fan_in x max|weight code| never overflows; 32 for full precision."""
    if weight_bits is None:
        return 32
    return weight_bits + _clog2(fan_in) + _clog2(timesteps) + 1


def product_readout_bits(weight_bits: int, fan_in: int, input_bits: int, timesteps: int) -> int:
    """Accumulator of a readout that sums I(t) = acc x M (TTQ: acc+ M - acc- Mn; TaWQ: M per timestep) over T:
    the per-timestep accumulator (W + input bits + clog2 fan_in), the 18-bit multiplier, clog2 T."""
    return weight_bits + input_bits + _clog2(fan_in) + PRODUCT_BITS + _clog2(timesteps)


def _clog2(n: int) -> int:
    return max(0, math.ceil(math.log2(n))) if n > 1 else 0


def conv_out_hw(h: int, w: int, kernel: int, padding: int) -> tuple[int, int]:
    """Output height/width of a stride-1 convolution."""
    return h + 2 * padding - kernel + 1, w + 2 * padding - kernel + 1


def candidate_key(c: Candidate) -> tuple:
    """Hashable key of the fields that shape the network (Candidate holds a dict, so no hash)."""
    return (
        c.family,
        c.widths,
        c.weight_bits,
        c.membrane_bits,
        c.timesteps,
        c.quantizer,
        c.pooling,
        c.parallelism,
        c.input_shape,
        c.num_classes,
        c.kernel_size,
        c.input_kind,
        c.quantizer == "ternary" and c.quantizer_options.get("algorithm") == "ttq",
        float(c.tau),
    )


def layer_specs(candidate: Candidate) -> tuple[LayerSpec, ...]:
    """The weight layers of a candidate, in order; cached per network shape."""
    return layer_specs_from_key(candidate_key(candidate))


@lru_cache(maxsize=4096)
def layer_specs_from_key(key: tuple) -> tuple[LayerSpec, ...]:
    """The weight layers of the network a candidate_key() describes (the cache behind layer_specs)."""
    (family, widths, wbits, mbits, T, quantizer, pooling, par, in_shape, n_cls, k, input_kind, ttq, tau) = key
    events_in = input_kind == "events"  # layer 0 reads binary events: accumulate-only like spikes
    profile = get_profile(quantizer)
    neuron = {"qsnn": QSNN, "mfp": MFP}.get(quantizer, LIF)
    leak_shift = max(0, math.ceil(math.log2(tau))) if tau >= 1 else 0
    max_in = 1  # largest value layer i reads

    def weight_sets(bits: int | None) -> int:
        """Per layer (TaWQ's 8-bit edge layers read one set, its ternary layers T)."""
        return T if profile.reads_weights_per_timestep(bits) else 1

    def weight_form(bits: int | None) -> str:
        return PER_TIMESTEP if profile.reads_weights_per_timestep(bits) else SIGN_SCALES if ttq else SCALED

    def storage(bits: int | None) -> tuple[int, int]:
        sets = weight_sets(bits)
        if profile.storage_bits_per_weight is not None:
            total = int(profile.storage_bits_per_weight(bits, T))
        else:
            total = storage_bits(bits) * sets
        return total, math.ceil(total / sets)

    specs: list[LayerSpec] = []
    shape: tuple[int, ...] = tuple(in_shape)
    if family == "mlp":
        shape = (math.prod(shape),)
    for i, width in enumerate(widths):
        stored, read = storage(wbits[i])
        common = dict(
            name=f"layer{i}",
            index=i,
            weight_bits=wbits[i],
            membrane_bits=mbits[i],
            spiking=True,
            input_is_spike=i > 0 or events_in,
            parallelism=par[i],
            timesteps=T,
            has_membrane_state=profile.has_membrane_state,
            weight_sets=weight_sets(wbits[i]),
            weight_storage_bits=stored,
            weight_read_bits=read,
            input_bits=(INPUT_BITS if wbits[i] is not None else None) if i == 0 and not events_in else 1,
            weight_form=weight_form(wbits[i]),
            neuron=neuron,
            leak_shift=leak_shift,
            input_max_code=(2**INPUT_BITS - 1) if i == 0 and not events_in else max_in,
        )
        if family == "mlp":
            n_in = shape[0]
            specs.append(
                LayerSpec(
                    kind="linear", in_shape=shape, out_shape=(width,), fan_in=n_in,
                    n_weights=n_in * width, out_channels=width, n_neurons=width,
                    pool_after=None, kernel_size=1, padding=0, **common,
                )
            )
            shape = (width,)
        else:
            c_in, h, w = shape
            pad = k // 2
            ho, wo = conv_out_hw(h, w, k, pad)
            pool = pooling[i]
            specs.append(
                LayerSpec(
                    kind="conv", in_shape=shape, out_shape=(width, ho, wo), fan_in=c_in * k * k,
                    n_weights=width * c_in * k * k, out_channels=width, n_neurons=width * ho * wo,
                    pool_after=None if pool == "none" else pool, kernel_size=k, padding=pad,
                    **common,
                )
            )
            if pool != "none":
                ho, wo = ho // POOL_KERNEL, wo // POOL_KERNEL
            shape = (width, ho, wo)
            max_in = 4 if pool == "avg" else 1
    # readout: flatten -> Linear(flat, num_classes); accumulates over T, never fires
    i = len(widths)
    n_in = math.prod(shape)
    stored, read = storage(wbits[i])
    acc = accumulator_bits(wbits[i], n_in, T)
    avg_in = family != "mlp" and widths and pooling[len(widths) - 1] == "avg"
    if avg_in and wbits[i] is not None:
        acc += AVG_POOL_SUM_BITS - 1  # it reads pooled sums 0..4, not spikes: 2 bits more
    form = weight_form(wbits[i])
    if form != SCALED and wbits[i] is not None:  # the readout sums I(t) itself (multipliers per sign or timestep)
        acc = product_readout_bits(wbits[i], n_in, AVG_POOL_SUM_BITS if avg_in else 1, T)
    specs.append(
        LayerSpec(
            name=f"layer{i}", index=i, kind="linear", in_shape=(n_in,), out_shape=(n_cls,),
            fan_in=n_in, n_weights=n_in * n_cls, out_channels=n_cls, n_neurons=n_cls,
            weight_bits=wbits[i], membrane_bits=acc,
            spiking=False, input_is_spike=i > 0, parallelism=par[i], pool_after=None,
            kernel_size=1, padding=0, timesteps=T, has_membrane_state=profile.has_membrane_state,
            weight_sets=weight_sets(wbits[i]), weight_storage_bits=stored, weight_read_bits=read,
            input_bits=(INPUT_BITS if wbits[i] is not None else None) if i == 0 else 1,
            weight_form=form, input_max_code=max_in if i > 0 else 1,
        )
    )
    return tuple(specs)


def build_network(candidate: Candidate) -> nx.DiGraph:
    """The candidate as a DiGraph: one node per weight layer ('layer0'...), plus pooling nodes.

    Semantics (identical to the torch model):
    - mlp: flatten(input) -> Linear(in, widths[0]) -> LIF -> ... -> Linear(widths[-1], classes)
    - conv: per block Conv2d(k, padding k//2, stride 1) -> LIF -> pooling (2x2/2 on spikes),
      then flatten -> Linear(flat, classes).
    No layer has a bias. Layer 0 sees the static input (MACs) or, for input_kind "events", binary
    events (ACs, like the later layers, which see spikes).
    The readout accumulates over T and never fires; after an average-pooling conv block it reads
    the template's pooled sums 0..4, so its accumulator is AVG_POOL_SUM_BITS - 1 = 2 bits wider.
    Graph attributes: family, timesteps, quantizer. Weight-layer node attributes are the LayerSpec fields.
    """
    specs = layer_specs(candidate)
    g = nx.DiGraph(family=candidate.family, timesteps=candidate.timesteps, quantizer=candidate.quantizer)
    prev: str | None = None
    for spec in specs:
        g.add_node(spec.name, **asdict(spec))
        if prev is not None:
            g.add_edge(prev, spec.name)
        prev = spec.name
        if spec.pool_after is not None:
            c, h, w = spec.out_shape
            pool = f"pool{spec.index}"
            g.add_node(
                pool, kind="pool", mode=spec.pool_after, in_shape=spec.out_shape,
                out_shape=(c, h // POOL_KERNEL, w // POOL_KERNEL),
            )
            g.add_edge(prev, pool)
            prev = pool
    return g


WEIGHT_KINDS = ("linear", "conv")


def weight_layers(graph: nx.DiGraph) -> list[dict]:
    """Attribute dicts of the weight layers, in network order."""
    layers = [dict(attrs) for _, attrs in graph.nodes(data=True) if attrs.get("kind") in WEIGHT_KINDS]
    return sorted(layers, key=lambda a: a["index"])
