"""`nir`: a NIR graph (nir 1.0) through SpikingJelly's exporter, plus a sidecar JSON with what NIR cannot say.

stack-notes.md: spikingjelly.activation_based.nir_exchange exports plain `layer.*` modules and LIFNode
with hard reset, not our quantized subclasses, and its importer fails on integer weights. So the
model's own quantized forward weights (float, on the k-bit grid) are copied into plain layer.Linear /
layer.Conv2d (no bias) and LIFNode(tau, decay_input, v_reset 0), exported, and the bit widths, T,
integer codes and scales go into each node's metadata, the graph's metadata and network.nir.json.
NIR's LIF is a float neuron: a fixed-point membrane's rounding is NOT in the graph (see docs/export.md).
NIR has no max pool: candidates with max pooling are refused.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from dse.errors import UserError
from dse.files import write_text

FILE_NAME = "network.nir"
SIDECAR_NAME = "network.nir.json"
NIR_DT = 1e-4  # SpikingJelly's default dt; tau is written as tau x dt and read back the same way


def _check_exportable(model: Any) -> None:
    from dse.training.neurons import FixedPointLIFNode

    c = model.candidate
    if c.family == "conv" and "max" in c.pooling:
        layer = c.pooling.index("max")
        raise UserError(
            f"format nir: layer{layer} is followed by max pooling, which NIR cannot express (it has AvgPool2d "
            f"and SumPool2d only); accepted: pooling avg or none"
        )
    for i, neuron in enumerate(model.neurons):
        if type(neuron) is not FixedPointLIFNode:
            raise UserError(
                f"format nir: layer{i} uses neuron {type(neuron).__name__}, which NIR's LIF does not describe; "
                f"accepted: quantizers with the fixed-point LIF neuron (uniform, ternary, sigmoid)"
            )


def _forward_weight(model: Any, index: int) -> "Any":
    """The weight the model uses in evaluation (on its quantization grid), detached float32."""
    import torch

    layer = model.weight_layers[index]
    was_training = layer.training
    layer.eval()
    try:
        with torch.no_grad():
            w = layer.quantized_weight().detach().cpu()
    finally:
        layer.train(was_training)
    if w.dim() != layer.weight.dim():
        raise UserError(
            f"format nir: layer{index} uses a different weight set at every timestep ({model.candidate.quantizer}); "
            "a NIR graph holds one weight per edge"
        )
    return w.float()


def plain_network(model: Any) -> tuple["Any", list[dict[str, Any]]]:
    """nn.Sequential of plain spikingjelly modules with the model's quantized weights, and a per-module record."""
    import torch
    from spikingjelly.activation_based import layer, neuron
    from torch import nn

    _check_exportable(model)
    c = model.candidate
    modules: list[nn.Module] = []
    records: list[dict[str, Any]] = []
    if c.family == "mlp":
        modules.append(layer.Flatten(start_dim=1, step_mode="m"))
        records.append({"role": "flatten"})
    for i, (qlayer, neu) in enumerate(zip(model.weight_layers, model.neurons)):
        w = _forward_weight(model, i)
        if qlayer.kind == "linear":
            plain = layer.Linear(w.shape[1], w.shape[0], bias=False, step_mode="m")
        else:
            plain = layer.Conv2d(w.shape[1], w.shape[0], w.shape[2], padding=qlayer.padding, bias=False, step_mode="m")
        with torch.no_grad():
            plain.weight.copy_(w)
        modules.append(plain)
        records.append({"role": "weights", "layer": f"layer{i}", "index": i})
        modules.append(neuron.LIFNode(
            tau=float(neu.tau), decay_input=True, v_threshold=float(neu.v_threshold), v_reset=0.0,
            detach_reset=True, step_mode="m",
        ))
        records.append({"role": "lif", "layer": f"layer{i}", "index": i})
        if c.family == "conv" and c.pooling[i] == "avg":
            modules.append(layer.AvgPool2d(2, 2, step_mode="m"))
            records.append({"role": "avgpool", "layer": f"layer{i}"})
    if c.family == "conv":
        modules.append(layer.Flatten(start_dim=1, step_mode="m"))
        records.append({"role": "flatten"})
    i = len(model.weight_layers) - 1
    w = _forward_weight(model, i)
    readout = layer.Linear(w.shape[1], w.shape[0], bias=False, step_mode="m")
    with torch.no_grad():
        readout.weight.copy_(w)
    modules.append(readout)
    records.append({"role": "readout", "layer": f"layer{i}", "index": i})
    return nn.Sequential(*modules), records


def _layer_metadata(model: Any, record: dict[str, Any]) -> dict[str, Any]:
    """What a NIR node cannot say: bit widths, integer codes and per-channel scales (where they exist)."""
    from dse.export.integer_network import weight_codes

    c = model.candidate
    i = record["index"]
    if record["role"] == "lif":
        bits = c.membrane_bits[i]
        meta: dict[str, Any] = {"layer": record["layer"], "membrane_bits": "fp" if bits is None else int(bits)}
        if bits is not None:
            meta["threshold_lsb"] = 2 ** (bits - 2)
            meta["membrane_step"] = float(c.v_threshold) / 2 ** (bits - 2)
        return meta
    bits = c.weight_bits[i]
    meta = {"layer": record["layer"], "weight_bits": "fp" if bits is None else int(bits), "readout": record["role"] == "readout"}
    if bits is not None:
        try:
            codes, scale, _, encoding = weight_codes(model, i)
        except UserError:
            return meta  # e.g. TTQ: float weights only
        meta.update(codes=codes, scale=scale, weight_encoding=encoding)
    return meta


def build_graph(model: Any, in_step: float | None = None) -> tuple["Any", dict[str, Any]]:
    """The NIR graph (with metadata) and the sidecar document."""
    import torch
    from spikingjelly.activation_based import functional
    from spikingjelly.activation_based.nir_exchange import export_to_nir

    c = model.candidate
    net, records = plain_network(model)
    example = torch.zeros(c.timesteps, 1, *c.input_shape)
    graph = export_to_nir(net, example, dt=NIR_DT)
    functional.reset_net(net)
    node_names = [name for name in graph.nodes if name not in ("input", "output") and not name.startswith("input")]
    node_names = sorted(node_names, key=lambda n: int(n.lstrip("_")))
    if len(node_names) != len(records):
        raise RuntimeError(f"NIR export made {len(node_names)} nodes for {len(records)} modules")
    sidecar_layers = []
    for name, record in zip(node_names, records):
        entry = {"node": name, "role": record["role"], "nir_type": type(graph.nodes[name]).__name__}
        if "index" in record:
            meta = _layer_metadata(model, record)
            graph.nodes[name].metadata.update(meta)
            entry.update({k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in meta.items()})
        sidecar_layers.append(entry)
    graph_meta = {
        "producer": "snn-dse", "timesteps": int(c.timesteps), "quantizer": c.quantizer,
        "input": ("event frames re-binned to T timesteps (dse/datasets/frames.py): [T, N, C, H, W]"
                  if getattr(c, "input_kind", "static") == "events" else "the image repeated over T timesteps: [T, N, C, H, W]"),
        "output": "readout per timestep [T, N, classes]; the prediction is the argmax of its mean over T",
        "candidate": json.dumps(c.to_dict(), sort_keys=True), "dt": NIR_DT,
    }
    if in_step is not None:
        graph_meta["input_step"] = float(in_step)
    graph.metadata.update(graph_meta)
    sidecar = {
        "nir_file": FILE_NAME, "timesteps": int(c.timesteps), "input_shape": list(c.input_shape),
        "input_step": in_step, "dt": NIR_DT, "weight_bits": ["fp" if b is None else b for b in c.weight_bits],
        "membrane_bits": ["fp" if b is None else b for b in c.membrane_bits],
        "membrane_note": "NIR's LIF is a float neuron; a fixed-point membrane rounds h to membrane_step and "
        "saturates to membrane_bits after every charge (docs/integer-semantics.md), which the graph does not carry",
        "input": graph_meta["input"], "output": graph_meta["output"], "nodes": sidecar_layers,
        "candidate": c.to_dict(),
    }
    return graph, sidecar


def write(ctx: Any, out_dir: Path) -> list[Path]:
    """Export-registry entry: OUT/network.nir and OUT/network.nir.json."""
    import nir

    graph, sidecar = build_graph(ctx.model, ctx.in_step)
    path = out_dir / FILE_NAME
    tmp = out_dir / f".{FILE_NAME}.writing"  # nir.write wants a path: write beside, then rename
    try:
        nir.write(str(tmp), graph)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return [path, write_text(out_dir / SIDECAR_NAME, json.dumps(sidecar, indent=2) + "\n")]
