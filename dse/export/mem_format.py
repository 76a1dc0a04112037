"""`mem`: FPGA memory initialisation files per layer: $readmemh .mem and Xilinx .coe (radix 16).

Word layout = the cost model's weight memory (cost_models/fpga.py weight_memory) and the Verilog
template (dse/hardware/verilog/snn_layer.v): P units work on a group of P output channels; the
weight memory has depth ceil(out / P) x fan_in and width P x W; word g x fan_in + j holds the P
weights of input j for output channels g P .. g P + P - 1, channel g P + u in bits [u W, (u + 1) W)
(lane 0 in the least significant bits); lanes past the last channel are zero. The input index j
is the weight's position in its row: linear j = input feature; conv j = (c x k + ky) x k + kx.
A weight is stored as its code in W-bit two's complement, or for odd-level codes (1-bit sign,
sigmoid levels) as the unsigned index j of q = 2 j - (2^W - 1) (1 bit: bit 1 = +1, bit 0 = -1).
The scale memory (layerI_scales) has depth ceil(out / P) and width P x MB: the unsigned
multipliers M of one group per word, same lane order, MB = 17 bits at --scale-bits auto.
mem_manifest.json lists every file with width, depth, P, W and the encoding.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from dse.errors import UserError
from dse.files import write_text
from dse.export.integer_network import MULTIPLIER_BITS, ODD_LEVELS, SCALED, IntegerLayer, IntegerNetwork

MANIFEST_NAME = "mem_manifest.json"


def weight_rows(layer: IntegerLayer) -> np.ndarray:
    """Codes as [out, fan_in]: row = output channel, column = input index j (conv: (c, ky, kx) flattened)."""
    return layer.codes.astype(np.int64).reshape(layer.codes.shape[0], -1)


def stored_bits(codes: np.ndarray, bits: int, encoding: str) -> np.ndarray:
    """Unsigned W-bit patterns of the codes (two's complement, or the odd-level index j)."""
    codes = codes.astype(np.int64)
    if encoding == ODD_LEVELS:
        j = (codes + (2**bits - 1)) // 2
        if not np.array_equal(2 * j - (2**bits - 1), codes) or j.min(initial=0) < 0 or j.max(initial=0) >= 2**bits:
            raise ValueError(f"codes are not {bits}-bit odd levels")
        return j
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    if codes.min(initial=0) < lo or codes.max(initial=0) > hi:
        raise ValueError(f"codes {codes.min()}..{codes.max()} do not fit {bits}-bit two's complement")
    return codes & ((1 << bits) - 1)


def pack_lanes(lanes: list[int], lane_bits: int) -> int:
    """One word from unsigned lane values, lane 0 in the least significant bits."""
    word = 0
    for u, value in enumerate(lanes):
        word |= int(value) << (u * lane_bits)
    return word


def memory_words(layer: IntegerLayer) -> tuple[list[int], int, int]:
    """The weight memory of one layer: words (Python ints), width in bits, depth."""
    p, w = layer.parallelism, layer.weight_bits
    rows = stored_bits(weight_rows(layer), w, layer.weight_encoding)  # [out, fan_in] unsigned patterns
    out, fan_in = rows.shape
    groups = math.ceil(out / p)
    padded = np.zeros((groups * p, fan_in), dtype=np.int64)
    padded[:out] = rows
    words = [pack_lanes(padded[g * p : (g + 1) * p, j].tolist(), w) for g in range(groups) for j in range(fan_in)]
    return words, p * w, groups * fan_in


def scale_lane_bits(layer: IntegerLayer) -> int:
    """MB: bits per stored multiplier, at least MULTIPLIER_BITS - 1 (the unsigned M of a signed 18-bit port)."""
    return max(MULTIPLIER_BITS - 1, int(layer.multiplier.max(initial=0)).bit_length())


def scale_words(layer: IntegerLayer) -> tuple[list[int], int, int]:
    """The scale memory of one layer: one word of P unsigned multipliers per group."""
    p, mb = layer.parallelism, scale_lane_bits(layer)
    m = [int(v) for v in layer.multiplier.tolist()]
    if min(m, default=0) < 0:
        raise ValueError(f"{layer.name}: negative multiplier")
    groups = math.ceil(len(m) / p)
    m += [0] * (groups * p - len(m))
    return [pack_lanes(m[g * p : (g + 1) * p], mb) for g in range(groups)], p * mb, groups


def _hex(word: int, width: int) -> str:
    return format(word, "x").zfill(math.ceil(width / 4))


def mem_text(words: list[int], width: int) -> str:
    """$readmemh file: one hex word per line, most significant digit first."""
    return "".join(_hex(word, width) + "\n" for word in words)


def coe_text(words: list[int], width: int, comment: str) -> str:
    """Xilinx .coe (Block Memory Generator): radix 16, comma-separated vector ending in ';'."""
    lines = [f"; {comment}", "memory_initialization_radix=16;", "memory_initialization_vector="]
    body = [_hex(word, width) for word in words]
    lines += [value + ("," if i < len(body) - 1 else ";") for i, value in enumerate(body)]
    return "\n".join(lines) + "\n"


def write_memories(net: IntegerNetwork, out_dir: Path) -> list[Path]:
    """layerI_weights and layerI_scales as .mem and .coe for every layer, and the manifest."""
    for layer in net.layers:  # the layout holds one code set and one multiplier per channel
        if layer.weight_form != SCALED:
            raise UserError(f"mem lays out one code set and one multiplier per output channel; {layer.name} has the "
                            f"{layer.weight_form} form (two multipliers or one code set per timestep); use npz")
    written: list[Path] = []
    manifest: dict[str, Any] = {"layout": " ".join(__doc__.split("\n\n")[1].split()), "layers": []}
    for layer in net.layers:
        entry: dict[str, Any] = {"layer": layer.name, "kind": layer.kind, "parallelism": layer.parallelism,
                                 "codes_shape": list(layer.codes.shape), "fan_in": layer.fan_in}
        for what, (words, width, depth) in (("weights", memory_words(layer)), ("scales", scale_words(layer))):
            stem = f"{layer.name}_{what}"
            lanes = (f"P {layer.parallelism} x W {layer.weight_bits}, {layer.weight_encoding}" if what == "weights"
                     else f"P {layer.parallelism} x MB {scale_lane_bits(layer)}, unsigned M, F = {layer.scale_bits}")
            comment = f"{layer.name} {what}: width {width} bits ({lanes}), depth {depth}; layout in docs/export.md"
            written.append(write_text(out_dir / f"{stem}.mem", mem_text(words, width)))
            written.append(write_text(out_dir / f"{stem}.coe", coe_text(words, width, comment)))
            entry[what] = {"mem": f"{stem}.mem", "coe": f"{stem}.coe", "width_bits": width, "depth": depth}
        entry["weights"].update(weight_bits=layer.weight_bits, weight_encoding=layer.weight_encoding)
        entry["scales"].update(lane_bits=scale_lane_bits(layer), scale_bits=layer.scale_bits)
        manifest["layers"].append(entry)
    written.append(write_text(out_dir / MANIFEST_NAME, json.dumps(manifest, indent=2) + "\n"))
    return written


def write(ctx: Any, out_dir: Path) -> list[Path]:
    """Export-registry entry."""
    return write_memories(ctx.integer_net, out_dir)
